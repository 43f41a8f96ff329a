#!/usr/bin/env bash
# Fuzzes every target briefly: what CI runs on every submission (`bash fuzz/ci.sh`).
#
#   FUZZ_SECONDS=60     time per target (default 60)
#   FUZZ_TARGETS="a b"  only these targets (default: all, from `plain list`)
#   FUZZ_ENGINE=auto    auto | libfuzzer | plain
#   FUZZ_TARGET_DIR     cargo target directory (default fuzz/target)
#
# Seeds are made at run time (never committed): the fixtures' and ../shared/corpus's captures,
# cut to 64 KiB, their frames, and the command lines, replies, paths and listings the analyzer
# finds in them (`plain seeds`), plus every input under fuzz/regressions/<target>/.
#
# Engine: cargo-fuzz (libFuzzer, coverage-guided, AddressSanitizer). It is installed with
# `cargo install cargo-fuzz --locked` when missing (about 30 s). cargo-fuzz wants nightly for
# its `-Z` flags; the stable toolchain accepts them with RUSTC_BOOTSTRAP=1, which is set for the
# fuzz build only. If cargo-fuzz cannot be installed or built, the plain runner (stable, no
# libFuzzer: seeds, then deterministic mutations for the same time) is used instead.
#
# Exit status 1 when any target crashed, hung (20 s for one input) or ran out of memory
# (2 GiB); the input is left in fuzz/artifacts/<target>/. Commit it under
# fuzz/regressions/<target>/ once fixed: tests/adversarial.rs replays that folder.
set -euo pipefail

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz_dir")
seconds=${FUZZ_SECONDS:-60}
engine=${FUZZ_ENGINE:-auto}
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$fuzz_dir/target}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log() { printf 'fuzz: %s\n' "$*"; }

# The plain runner: seeds now, and the fallback engine.
cargo build --quiet --release --no-default-features \
    --manifest-path "$fuzz_dir/Cargo.toml" --example plain
plain=$CARGO_TARGET_DIR/release/examples/plain
captures=()
for dir in "$root/tests/fixtures" "$root/../shared/corpus"; do
    [ -d "$dir" ] || continue
    while IFS= read -r f; do captures+=("$f"); done < <(
        find "$dir" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | sort)
done
"$plain" seeds "$work/seeds" "${captures[@]}"
read -r -a targets <<<"${FUZZ_TARGETS:-$("$plain" list | tr '\n' ' ')}"

if [ "$engine" = auto ] || [ "$engine" = libfuzzer ]; then
    if ! command -v cargo-fuzz >/dev/null; then
        start=$(date +%s)
        if cargo install cargo-fuzz --locked --quiet; then
            log "cargo-fuzz installed in $(($(date +%s) - start)) s"
        fi
    fi
    start=$(date +%s)
    if command -v cargo-fuzz >/dev/null &&
        (cd "$root" && RUSTC_BOOTSTRAP=1 cargo fuzz build --fuzz-dir "$fuzz_dir"); then
        log "libFuzzer targets built in $(($(date +%s) - start)) s"
        engine=libfuzzer
        bin_dir=$CARGO_TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release
    elif [ "$engine" = libfuzzer ]; then
        log "cargo-fuzz is not usable here"
        exit 1
    else
        log "cargo-fuzz is not usable here: plain runner instead"
        engine=plain
    fi
fi

clean=0
crashed=()
for t in "${targets[@]}"; do
    seeds=("$work/seeds/$t")
    mkdir -p "$work/seeds/$t" "$work/corpus/$t" "$fuzz_dir/artifacts/$t"
    [ -d "$fuzz_dir/regressions/$t" ] && seeds+=("$fuzz_dir/regressions/$t")
    out=$work/$t.log
    start=$(date +%s)
    status=0
    if [ "$engine" = libfuzzer ]; then
        # The binary `cargo fuzz build` made, run as `cargo fuzz run` would run it.
        "$bin_dir/$t" "$work/corpus/$t" "${seeds[@]}" \
            -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
            -artifact_prefix="$fuzz_dir/artifacts/$t/" -print_final_stats=1 >"$out" 2>&1 ||
            status=$?
    else
        "$plain" run "$t" "$seconds" "${seeds[@]}" >"$out" 2>&1 || status=$?
    fi
    took=$(($(date +%s) - start))
    if [ "$status" -eq 0 ]; then
        runs=$(grep -Eo 'Done [0-9]+ runs|[0-9]+ inputs' "$out" | grep -Eo '[0-9]+' | tail -1)
        log "$t: ${runs:-?} inputs in $took s, clean"
        grep -E '^stat::(average_exec_per_sec|new_units_added|peak_rss_mb)' "$out" |
            sed "s/^/  $t | /" || true
        clean=$((clean + 1))
    else
        log "$t: FAILED after $took s"
        tail -n 40 "$out" | sed "s/^/  $t | /"
        crashed+=("$t")
    fi
done

log "targets: ${clean} ran clean, ${#crashed[@]} crashed (${seconds} s each, engine ${engine})"
if [ "${#crashed[@]}" -gt 0 ]; then
    log "inputs that crashed are in $fuzz_dir/artifacts/<target>/: fix, then copy them to"
    log "fuzz/regressions/<target>/ (tests/adversarial.rs replays them)"
    exit 1
fi
