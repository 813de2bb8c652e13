//! NDJSON output files in the data folder: `departure-prices.ndjson`,
//! `product-prices.ndjson` and `dlq.ndjson`, appended to.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use super::Sink;
use crate::pipeline::BatchOutput;

/// The embedded default's sink.
pub struct FileSink {
    departures: BufWriter<File>,
    products: BufWriter<File>,
    dlq: BufWriter<File>,
}

fn append(folder: &Path, name: &str) -> std::io::Result<BufWriter<File>> {
    let path = folder.join(name);
    let named = |e: std::io::Error| std::io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display()));
    let file = OpenOptions::new().create(true).read(true).append(true).open(&path).map_err(named)?;
    drop_partial_line(&file).map_err(named)?;
    // A batch writes megabytes: 1 MiB writes instead of 8 KiB ones save most syscalls.
    Ok(BufWriter::with_capacity(1 << 20, file))
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
            departures: append(folder, departures)?,
            products: append(folder, products)?,
            dlq: append(folder, dlq)?,
        })
    }
}

impl Sink for FileSink {
    fn write(&mut self, batch: &BatchOutput) -> std::io::Result<()> {
        self.departures.write_all(batch.departures.ndjson())?;
        self.products.write_all(batch.products.ndjson())?;
        for r in &batch.dead_letters {
            line(&mut self.dlq, r)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // Handing the bytes to the OS survives a killed process, which is what the
        // delivery guarantee is about; power loss would need sync_data per batch.
        self.departures.flush()?;
        self.products.flush()?;
        self.dlq.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
