//! The digests (and MIME type) of every transfer on a thread of its own and, when extracting,
//! the files written and placed on another: the [`Workers`] the [`super::TransferTracker`]
//! hands its bytes to, in batches; and the [`FileSink`] each transfer's bytes are written to.

use super::Done;
use super::aligned::AlignedFile;
use super::digest::{Digester, Digests, HashChoice};
use crate::output::extract::{ExtractDirs, Placement, place_or_flatten};
use crate::output::outdir::OutDir;
use ftpscope_core::TransferId;
use ftpscope_core::fasthash::FastState;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

/// A transfer's temporary file (in the private folder of partial files) while its bytes are
/// written, or why it could not be written.
pub(super) struct FileSink {
    name: String,
    /// Every transfer in flight has one, with a buffer of [`super::aligned::CHUNK`] bytes
    /// once it has bytes: it is what memory grows with.
    out: Option<AlignedFile>,
    error: Option<String>,
}

impl FileSink {
    pub(super) fn create(partial: &OutDir, id: TransferId) -> Self {
        let name = format!("transfer-{id}");
        let (out, error) = match partial.create_new(&name, true) {
            Ok(f) => (Some(AlignedFile::new(f)), None),
            Err(e) => (
                None,
                Some(format!(
                    "cannot write {}: {e}",
                    partial.path().join(&name).display()
                )),
            ),
        };
        FileSink { name, out, error }
    }

    pub(super) fn write(&mut self, bytes: &[u8]) {
        if let Some(out) = self.out.as_mut()
            && let Err(e) = out.write_all(bytes)
        {
            self.fail(e);
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.error = Some(format!("cannot write {}: {e}", self.name));
        self.out = None;
    }

    /// Closes and removes the file: it is not kept.
    pub(super) fn discard(self, partial: &OutDir) {
        drop(self.out);
        let _ = partial.remove_file(&self.name);
    }

    /// Flushes and closes the file: its name in `partial`, or why it could not be written (it
    /// is then removed).
    fn finish(mut self, partial: &OutDir) -> Result<String, String> {
        if let Some(out) = self.out.take()
            && let Err(e) = out.finish()
        {
            self.fail(e);
        }
        match self.error {
            Some(e) => {
                let _ = partial.remove_file(&self.name);
                Err(e)
            }
            None => Ok(self.name),
        }
    }
}

/// Closes a transfer's file and places it under the extraction folder: the final path, None
/// when there is nothing to keep, or why it could not be written or placed.
pub(super) fn finish_file(
    file: FileSink,
    dirs: &ExtractDirs,
    placement: Option<Placement>,
) -> Option<Result<PathBuf, String>> {
    let temp = match file.finish(&dirs.partial) {
        Ok(temp) => temp,
        Err(e) => return Some(Err(e)),
    };
    match placement {
        Some(Placement::At(dir, name)) => match place_or_flatten(dirs, &temp, &dir, &name) {
            Ok(path) => Some(Ok(path)),
            Err(e) => {
                let _ = dirs.partial.remove_file(&temp);
                Some(Err(format!(
                    "cannot place {name} in {}: {e}",
                    dirs.root.path().join(&dir).display()
                )))
            }
        },
        Some(Placement::Remove) | None => {
            let _ = dirs.partial.remove_file(&temp);
            None
        }
    }
}

/// Bytes batched before they go to the threads. Twice 256 KiB halves the hand-overs between
/// threads (each may wake one): `-x` on many files took about 5 % less time, for 3 MiB more
/// peak memory (BENCHMARKS.md).
const BATCH_BYTES: usize = 512 << 10;
/// Operations batched before they go, whatever their bytes (many tiny transfers).
const BATCH_OPS: usize = 4096;
/// Batches on their way to each thread; beyond them the sender waits for it.
const BATCHES_IN_FLIGHT: usize = 4;

#[derive(Debug, Clone, Copy)]
enum Op {
    Start(TransferId),
    /// The next `len` bytes of the batch belong to the transfer.
    Data(TransferId, usize),
    /// The transfer's file is not kept (over the disk budget): removed, later bytes only hashed.
    DropFile(TransferId),
    End(TransferId),
}

#[derive(Default)]
struct Batch {
    ops: Vec<Op>,
    data: Vec<u8>,
    /// The digests of the batch's `End`s, in order (filled in by the hashing thread).
    digests: VecDeque<Digests>,
    /// Extracting: where the file of each of the batch's `End`s goes, in order.
    placements: VecDeque<Placement>,
}

impl Batch {
    /// Each operation with its bytes. Consecutive `Data` of one transfer come as one: their
    /// bytes follow each other in the batch, so a run of a transfer's segments is one slice,
    /// which the writing thread can write with one call and no copy.
    fn each(&self, mut f: impl FnMut(Op, &[u8])) {
        let mut at = 0;
        let mut ops = self.ops.iter().copied().peekable();
        while let Some(mut op) = ops.next() {
            let mut bytes: &[u8] = &[];
            if let Op::Data(id, mut len) = op {
                while let Some(&Op::Data(next, more)) = ops.peek()
                    && next == id
                {
                    len += more;
                    ops.next();
                }
                bytes = self.data.get(at..at + len).unwrap_or_default();
                at += len;
                op = Op::Data(id, len);
            }
            f(op, bytes);
        }
    }

    fn clear(&mut self) {
        self.ops.clear();
        self.data.clear();
        self.digests.clear();
        self.placements.clear();
    }
}

/// Where the hashing thread sends a batch once hashed.
enum AfterHashing {
    /// Extracting: on to the writing thread.
    Write(SyncSender<Batch>),
    /// Not extracting: every transfer ended in it is done.
    Done(Sender<Done>, Sender<Batch>),
}

/// SHA-256 of every transfer on a thread of its own and, when extracting, the files on another.
/// Bytes and operations go over in batches, in order: the parsing thread copies each data
/// event's bytes into a batch once; the hashing thread hashes it, then hands it to the writing
/// thread, which writes the bytes into each transfer's temporary file (in whole 256 KiB chunks
/// aligned in the file, a long run of one transfer straight from the batch: `aligned.rs`) and,
/// when the transfer ends, places the file under its final name. Neither the copy into a file
/// buffer, nor the kernel's copy into the page cache, nor any file system call is on the
/// parsing thread. (Creating files on one thread and renaming them on another made both spin on
/// the temporary folder's lock: 115 s of system time instead of 32 s for 200 000 files.) At
/// most `BATCHES_IN_FLIGHT` batches of about `BATCH_BYTES` wait for each thread, so memory
/// stays bounded and a slow thread holds the parser back. What was done for each transfer comes
/// back in the order the transfers ended. Dropping it stops the threads.
pub struct Workers {
    batch: Batch,
    pub(super) last_flush: Instant,
    /// Transfers ended whose result was not taken yet.
    pending: usize,
    to_hash: Option<SyncSender<Batch>>,
    done: Receiver<Done>,
    spare: Receiver<Batch>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts the hashing thread and, when `extract` gives the extraction folder and its
    /// folder of partial files, the writing thread.
    pub(super) fn spawn(extract: Option<ExtractDirs>, hashes: HashChoice) -> io::Result<Self> {
        let (to_hash, hash_rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
        let (done_tx, done) = channel();
        let (spare_tx, spare) = channel();
        let mut threads = Vec::new();
        let after = match extract {
            Some(dirs) => {
                let (to_write, write_rx) = sync_channel::<Batch>(BATCHES_IN_FLIGHT);
                threads.push(
                    std::thread::Builder::new()
                        .name("ftpscope-write".into())
                        .spawn(move || write_files(&dirs, write_rx, done_tx, spare_tx))?,
                );
                AfterHashing::Write(to_write)
            }
            None => AfterHashing::Done(done_tx, spare_tx),
        };
        threads.push(
            std::thread::Builder::new()
                .name("ftpscope-sha256".into())
                .spawn(move || hash(hash_rx, after, hashes))?,
        );
        Ok(Workers {
            batch: Batch::default(),
            last_flush: Instant::now(),
            pending: 0,
            to_hash: Some(to_hash),
            done,
            spare,
            threads,
        })
    }

    pub fn started(&mut self, id: TransferId) {
        self.push(Op::Start(id));
    }

    pub fn data(&mut self, id: TransferId, bytes: &[u8]) {
        self.batch.data.extend_from_slice(bytes);
        self.push(Op::Data(id, bytes.len()));
    }

    /// The transfer's file is not kept: removed, its later bytes only hashed.
    pub(super) fn drop_file(&mut self, id: TransferId) {
        self.push(Op::DropFile(id));
    }

    /// The transfer ended: its result will come back after those of transfers ended before.
    /// When extracting, `placement` says where its file goes.
    pub(super) fn ended(&mut self, id: TransferId, placement: Option<Placement>) {
        self.pending += 1;
        self.batch.placements.extend(placement);
        self.push(Op::End(id));
    }

    fn push(&mut self, op: Op) {
        self.batch.ops.push(op);
        if self.batch.data.len() >= BATCH_BYTES || self.batch.ops.len() >= BATCH_OPS {
            self.flush();
        }
    }

    /// Sends what was batched (waits while the hashing thread is `BATCHES_IN_FLIGHT`
    /// behind).
    pub fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.batch.ops.is_empty() {
            return;
        }
        let next = self.spare.try_recv().unwrap_or_default();
        let batch = std::mem::replace(&mut self.batch, next);
        if let Some(tx) = &self.to_hash {
            let _ = tx.send(batch);
        }
    }

    pub fn try_done(&mut self) -> Option<Done> {
        let done = self.done.try_recv().ok()?;
        self.pending -= 1;
        Some(done)
    }

    pub fn wait_done(&mut self) -> io::Result<Done> {
        if self.pending == 0 {
            return Err(io::Error::other("no transfer is pending"));
        }
        self.flush();
        let done = self
            .done
            .recv()
            .map_err(|_| io::Error::other("a worker thread stopped"))?;
        self.pending -= 1;
        Ok(done)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Closing the channel ends the hashing thread, whose end closes the writing thread's.
        drop(self.to_hash.take());
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// The hashing thread: the chosen digests of every transfer and the MIME type of its first
/// bytes, by batch.
fn hash(batches: Receiver<Batch>, after: AfterHashing, hashes: HashChoice) {
    let mut hashers: HashMap<TransferId, Digester, FastState> = HashMap::default();
    for mut batch in batches {
        let mut digests = std::mem::take(&mut batch.digests);
        batch.each(|op, bytes| match op {
            Op::Start(id) => {
                hashers.insert(id, Digester::new(hashes));
            }
            Op::Data(id, _) => {
                if let Some(h) = hashers.get_mut(&id) {
                    h.update(bytes);
                }
            }
            Op::End(id) => {
                let h = hashers.remove(&id);
                digests.push_back(h.unwrap_or_else(|| Digester::new(hashes)).finish());
            }
            Op::DropFile(_) => {}
        });
        batch.digests = digests;
        match &after {
            AfterHashing::Write(tx) => {
                if tx.send(batch).is_err() {
                    return;
                }
            }
            AfterHashing::Done(done, spare) => {
                for digests in batch.digests.drain(..) {
                    if done
                        .send(Done {
                            digests,
                            file: None,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
                batch.clear();
                let _ = spare.send(batch);
            }
        }
    }
}

/// The writing thread: each transfer's bytes into its temporary file in the partial folder,
/// then the file under its final name below the extraction folder, by batch.
fn write_files(
    dirs: &ExtractDirs,
    batches: Receiver<Batch>,
    done: Sender<Done>,
    spare: Sender<Batch>,
) {
    let mut files: HashMap<TransferId, FileSink, FastState> = HashMap::default();
    for mut batch in batches {
        let mut digests = std::mem::take(&mut batch.digests);
        let mut placements = std::mem::take(&mut batch.placements);
        let mut stopped = false;
        batch.each(|op, bytes| match op {
            Op::Start(id) => {
                files.insert(id, FileSink::create(&dirs.partial, id));
            }
            Op::Data(id, _) => {
                if let Some(f) = files.get_mut(&id) {
                    f.write(bytes);
                }
            }
            Op::DropFile(id) => {
                if let Some(f) = files.remove(&id) {
                    f.discard(&dirs.partial);
                }
            }
            Op::End(id) => {
                let placement = placements.pop_front();
                let file = files
                    .remove(&id)
                    .and_then(|f| finish_file(f, dirs, placement));
                let digests = digests.pop_front().unwrap_or_default();
                stopped |= done.send(Done { digests, file }).is_err();
            }
        });
        if stopped {
            return;
        }
        batch.digests = digests;
        batch.placements = placements;
        batch.clear();
        let _ = spare.send(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfers::testing::{sha, temp_dir};
    use std::fs;

    #[test]
    fn workers_give_inline_digests_and_files_in_the_order_transfers_ended() {
        let tmp = temp_dir("workers");
        let root = tmp.path();
        let temp = root.join(".partial");
        fs::create_dir_all(&temp).unwrap();
        let dirs = || {
            ExtractDirs::new(
                OutDir::open_or_create(root).unwrap(),
                OutDir::open_or_create(&temp).unwrap(),
            )
        };
        let place = |id: u64| Placement::At(PathBuf::from("out"), format!("f{id}"));
        for extract in [None, Some(dirs())] {
            let extracting = extract.is_some();
            let mut w = Workers::spawn(extract, HashChoice::default()).unwrap();
            // Big enough to cross batches, interleaved with another transfer at first (short
            // runs, through the file's buffer) then alone (runs long enough to be written
            // straight), plus one without a byte; they end in another order than they started.
            let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
            let mut small = Vec::new();
            w.started(1);
            w.started(2);
            w.started(3);
            w.started(5);
            for chunk in big.chunks(1460) {
                w.data(1, chunk);
                if small.len() < 1000 {
                    w.data(2, b"hello");
                    small.extend_from_slice(b"hello");
                }
            }
            for id in [2, 3, 1, 4, 5] {
                // 4 never started: the digest of nothing and no file, as inline; 5 has
                // nothing to keep.
                let placement = match id {
                    5 => Placement::Remove,
                    id => place(id),
                };
                w.ended(id, extracting.then_some(placement));
            }
            for (id, want) in [(2, &small[..]), (3, b""), (1, &big), (4, b""), (5, b"")] {
                let done = w.wait_done().unwrap();
                assert_eq!(done.digests.sha256.unwrap(), sha(want), "transfer {id}");
                match done.file {
                    None => assert!(!extracting || id == 4 || id == 5, "transfer {id}"),
                    Some(Ok(path)) => {
                        assert_eq!(path, root.join("out").join(format!("f{id}")));
                        assert_eq!(fs::read(&path).unwrap(), want, "transfer {id}");
                    }
                    Some(Err(e)) => panic!("transfer {id}: {e}"),
                }
            }
            assert!(w.wait_done().is_err(), "nothing pending");
            assert!(w.try_done().is_none());
        }
        assert_eq!(
            fs::read_dir(&temp).unwrap().count(),
            0,
            "no temporary file left"
        );
        // A file that cannot be created is an error in the result, not a failure: here the
        // partial folder is gone after it was opened.
        let gone = dirs();
        fs::remove_dir(&temp).unwrap();
        let mut w = Workers::spawn(Some(gone), HashChoice::default()).unwrap();
        w.started(1);
        w.data(1, b"x");
        w.ended(1, Some(place(1)));
        let done = w.wait_done().unwrap();
        assert_eq!(done.digests.sha256.unwrap(), sha(b"x"));
        assert!(matches!(done.file, Some(Err(e)) if e.starts_with("cannot write")));
    }
}
