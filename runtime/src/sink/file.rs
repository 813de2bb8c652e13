//! NDJSON output files in the data folder: `departure-prices.ndjson`,
//! `product-prices.ndjson` and `dlq.ndjson`, appended to.
//!
//! Departure prices are written by a thread of their own. A batch's are hundreds of
//! megabytes, and copying them into the page cache took about a tenth of the pricing
//! thread, the one that bounds throughput; on the writer thread the copy overlaps the
//! pricing of the next batch, and the batch's state commits once it is done (see
//! [`Durable`]). It writes them with direct I/O, past the page cache (see `direct.rs`).
//! The other two files are small and written in place.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use serde::Serialize;

use super::direct::DirectAppend;
use super::{Durable, Sink};
use crate::pipeline::{BatchOutput, PriceLines};

/// The embedded default's sink.
pub struct FileSink {
    departures: Departures,
    products: BufWriter<File>,
    dlq: BufWriter<File>,
}

/// One batch's departure prices for the writer thread, and where to say it is done.
type Job = (PriceLines, mpsc::SyncSender<std::io::Result<()>>);

/// The departure prices file, owned by its writer thread.
struct Departures {
    jobs: Option<mpsc::Sender<Job>>,
    /// Written batches' records, for the next batch to fill: their pages stay mapped.
    spare: mpsc::Receiver<PriceLines>,
    /// Jobs sent by [`Sink::write`], waited for by [`Sink::flush`].
    unflushed: Vec<mpsc::Receiver<std::io::Result<()>>>,
    thread: Option<JoinHandle<()>>,
}

impl Departures {
    fn start(mut file: DirectAppend) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        // One spare is enough: the next batch takes it before the one after is written.
        let (give_back, spare) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new().name("output".into()).spawn(move || {
            crate::priority::background();
            // After a failed write the file may end in part of a batch: a later batch
            // appended after it would leave a broken line inside the file, where the
            // next start (which cuts a partial last line) would not find it.
            let mut failed: Option<String> = None;
            for (records, done) in queue {
                let written = match &failed {
                    Some(why) => {
                        Err(std::io::Error::other(format!("not written after an earlier batch's write failed: {why}")))
                    }
                    // Rendered into the file's buffer, which it keeps from batch to batch.
                    None => records.write_ndjson(file.buffer()).and_then(|()| file.write()),
                };
                if let Err(e) = &written {
                    failed.get_or_insert_with(|| e.to_string());
                }
                // Whoever waited may be gone (a runner stopped by an error): nothing to tell.
                let _ = done.send(written);
                let _ = give_back.try_send(records);
            }
        })?;
        Ok(Departures { jobs: Some(jobs), spare, unflushed: Vec::new(), thread: Some(thread) })
    }

    /// Queues `records`; the receiver says when they are written and flushed.
    fn send(&mut self, records: PriceLines) -> std::io::Result<mpsc::Receiver<std::io::Result<()>>> {
        let (done, written) = mpsc::sync_channel(1);
        self.jobs.as_ref().and_then(|jobs| jobs.send((records, done)).ok()).ok_or_else(stopped)?;
        Ok(written)
    }
}

/// The writer thread is gone: it stops only when the sink drops it, or by a panic.
fn stopped() -> std::io::Error {
    std::io::Error::other("the departure prices writer thread stopped")
}

fn wait(written: &mpsc::Receiver<std::io::Result<()>>) -> std::io::Result<()> {
    written.recv().unwrap_or_else(|_| Err(stopped()))
}

impl Drop for Departures {
    fn drop(&mut self) {
        // Closing the queue lets the thread write what is queued, then end.
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the departure prices writer thread panicked");
        }
    }
}

fn append(folder: &Path, name: &str) -> std::io::Result<BufWriter<File>> {
    let (file, _) = open_cut(folder, name)?;
    // A batch writes megabytes: 1 MiB writes instead of 8 KiB ones save most syscalls.
    Ok(BufWriter::with_capacity(1 << 20, file))
}

/// The departure prices file, written with direct I/O (see `direct.rs`).
fn append_direct(folder: &Path, name: &str) -> std::io::Result<DirectAppend> {
    let (file, path) = open_cut(folder, name)?;
    // Opened again without O_APPEND: with it, Linux ignores the offsets of positioned
    // writes, which direct writes need.
    drop(file);
    DirectAppend::open(&path).map_err(|e| named(&path, e))
}

/// Opens `name` in `folder` for appending, creating it, and cuts a partial last line.
fn open_cut(folder: &Path, name: &str) -> std::io::Result<(File, PathBuf)> {
    let path = folder.join(name);
    let file = OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(|e| named(&path, e))?;
    drop_partial_line(&file).map_err(|e| named(&path, e))?;
    Ok((file, path))
}

fn named(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display()))
}

/// A process killed mid-write can leave a last line without its newline. That line
/// belongs to a batch that was never committed and will be written again, so it is cut
/// off: appending after it would merge two records into one broken line.
fn drop_partial_line(file: &File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    let mut end = len;
    let mut reader = file;
    let mut chunk = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let n = (end - start) as usize;
        reader.seek(SeekFrom::Start(start))?;
        reader.read_exact(&mut chunk[..n])?;
        if let Some(i) = chunk[..n].iter().rposition(|b| *b == b'\n') {
            end = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    if end < len {
        tracing::warn!(bytes = len - end, "cutting a partial last line left by an interrupted run");
        file.set_len(end)?;
    }
    Ok(())
}

fn line(out: &mut BufWriter<File>, record: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}

impl FileSink {
    /// The output files' names: departure prices, product prices, dead letters.
    pub const FILES: [&str; 3] = ["departure-prices.ndjson", "product-prices.ndjson", "dlq.ndjson"];

    /// Opens (creating) the three output files in `folder`.
    pub fn open(folder: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(folder)?;
        let [departures, products, dlq] = Self::FILES;
        Ok(FileSink {
            departures: Departures::start(append_direct(folder, departures)?)?,
            products: append(folder, products)?,
            dlq: append(folder, dlq)?,
        })
    }
}

impl FileSink {
    fn write_small(&mut self, batch: &BatchOutput) -> std::io::Result<()> {
        self.products.write_all(batch.products.ndjson())?;
        for r in &batch.dead_letters {
            line(&mut self.dlq, r)?;
        }
        Ok(())
    }

    fn flush_small(&mut self) -> std::io::Result<()> {
        // Handing the bytes to the OS survives a killed process, which is what the
        // delivery guarantee is about; power loss would need sync_data per batch. The
        // writer thread flushes the departure prices the same way.
        self.products.flush()?;
        self.dlq.flush()
    }
}

impl Sink for FileSink {
    /// Copies the departure prices: [`Sink::write_batch`] takes them instead.
    fn write(&mut self, batch: &BatchOutput) -> std::io::Result<()> {
        let written = self.departures.send(batch.departures.clone())?;
        self.departures.unflushed.push(written);
        self.write_small(batch)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        for written in std::mem::take(&mut self.departures.unflushed) {
            wait(&written)?;
        }
        self.flush_small()
    }

    /// Takes the batch's departure prices for the writer thread, leaving it an emptied
    /// buffer an earlier batch's came in; writes the rest here. Durable once the
    /// writer thread has written and flushed them, and every batch's before them.
    fn write_batch(&mut self, batch: &mut BatchOutput) -> std::io::Result<Durable> {
        self.write_small(batch)?;
        self.flush_small()?;
        let spare = self.departures.spare.try_recv().unwrap_or_default();
        let written = self.departures.send(batch.departures.exchange(spare))?;
        Ok(Durable::after(move || wait(&written)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::state::{DeparturePrice, rules_json, sample_price};

    fn record(n: u32) -> DeparturePrice {
        sample_price(&format!("P{n}"), 1, i64::from(n))
    }

    /// Batch `n`: one departure price (stored, rendered by the sink) and one product price.
    fn batch(n: u32) -> BatchOutput {
        let mut out = BatchOutput::default();
        let (p, mut rules) = (record(n), Vec::new());
        let r = p.borrowed(&mut rules);
        out.departures.push_with(&r.key(), (1, &rules_json(r.rules)), |stored| r.write_stored(1, stored));
        out.products.push(&format!("P{n}"), b"{}");
        out
    }

    /// The departure prices file's lines of batches `ns`.
    fn lines(ns: std::ops::Range<u32>) -> String {
        ns.map(|n| serde_json::to_string(&record(n)).expect("json") + "\n").collect()
    }

    /// The writer thread takes each batch's departure prices and writes them in batch
    /// order; a batch's are in the file once its `Durable` is done. `write` copies them
    /// instead and `flush` waits for them; dropping the sink writes what is queued.
    #[test]
    fn departure_prices_are_written_in_batch_order_by_the_writer_thread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).expect("read");
        let mut sink = FileSink::open(dir.path()).expect("opens");
        let mut durables = Vec::new();
        for n in 0..3 {
            let mut out = batch(n);
            durables.push(sink.write_batch(&mut out).expect("writes"));
            assert!(out.departures.is_empty(), "taken by the sink");
            assert_eq!(out.products.len(), 1, "product prices are written in place");
        }
        for durable in durables {
            durable.wait().expect("durable");
        }
        assert_eq!(read("departure-prices.ndjson"), lines(0..3), "rendered by the writer thread");
        assert_eq!(read("product-prices.ndjson"), "{}\n{}\n{}\n");

        let out = batch(3);
        sink.write(&out).expect("writes");
        assert_eq!(out.departures.len(), 1, "write copies");
        sink.flush().expect("flushes");
        assert_eq!(read("departure-prices.ndjson"), lines(0..4));

        let durable = sink.write_batch(&mut batch(4)).expect("writes");
        drop(sink);
        assert_eq!(read("departure-prices.ndjson"), lines(0..5), "written before the drop ends");
        durable.wait().expect("told it was written");
    }

    /// A write that fails is reported for its batch, and no later batch is appended
    /// after what it may have left.
    #[test]
    fn after_a_failed_write_no_later_batch_is_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Every write to /dev/full fails with "no space left on device".
        std::os::unix::fs::symlink("/dev/full", dir.path().join("departure-prices.ndjson")).expect("symlink");
        let mut sink = FileSink::open(dir.path()).expect("opens");
        let first = sink.write_batch(&mut batch(0)).expect("queued").wait().expect_err("the device is full");
        assert_eq!(first.kind(), std::io::ErrorKind::StorageFull, "{first}");
        let next = sink.write_batch(&mut batch(1)).expect("queued").wait().expect_err("not written");
        assert!(next.to_string().starts_with("not written after an earlier batch's write failed"), "{next}");
    }

    #[test]
    fn a_partial_last_line_is_cut_before_appending() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dlq.ndjson");
        std::fs::write(&path, "{\"a\":1}\n{\"b\":").expect("write");
        let mut out = append(dir.path(), "dlq.ndjson").expect("opens");
        out.write_all(b"{\"c\":3}\n").expect("writes");
        out.flush().expect("flush");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{\"a\":1}\n{\"c\":3}\n");
    }

    #[test]
    fn a_file_without_any_newline_is_emptied_and_a_whole_one_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("x"), "{\"half").expect("write");
        drop(append(dir.path(), "x").expect("opens"));
        assert_eq!(std::fs::read_to_string(dir.path().join("x")).expect("read"), "");
        std::fs::write(dir.path().join("y"), "{}\n{}\n").expect("write");
        drop(append(dir.path(), "y").expect("opens"));
        assert_eq!(std::fs::read_to_string(dir.path().join("y")).expect("read"), "{}\n{}\n");
    }
}
