#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftpscope_fuzz::tls_targets::tls_record(data));
