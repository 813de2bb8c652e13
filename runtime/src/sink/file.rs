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
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display())))?;
    Ok(BufWriter::new(file))
}

fn line(out: &mut BufWriter<File>, record: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}

impl FileSink {
    /// Opens (creating) the three output files in `folder`.
    pub fn open(folder: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(folder)?;
        Ok(FileSink {
            departures: append(folder, "departure-prices.ndjson")?,
            products: append(folder, "product-prices.ndjson")?,
            dlq: append(folder, "dlq.ndjson")?,
        })
    }
}

impl Sink for FileSink {
    fn write(&mut self, batch: &BatchOutput) -> std::io::Result<()> {
        for r in &batch.departures {
            line(&mut self.departures, r)?;
        }
        for r in &batch.products {
            line(&mut self.products, r)?;
        }
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
