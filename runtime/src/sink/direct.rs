//! Appending a batch's hundreds of megabytes to a file without copying them into the
//! page cache: whole blocks are written with `O_DIRECT`, straight from the process's
//! buffer to the device, and only the last partial block goes through the page cache.
//!
//! Why: the engine writes its departure prices once and never reads them back, but a
//! buffered write copies every byte into a newly allocated page-cache page. On the
//! machines this was measured on (virtual machines whose memory the host backs on first
//! touch, and takes back when the guest frees it) that copy ran at 0.4-0.5 GB/s, about
//! 2.4 s of kernel CPU per GB, the output thread's largest cost and a tenth of the
//! whole process's CPU in the pipeline benchmark. The same bytes written directly took
//! 0.1 s of CPU per GB (`dd oflag=direct`, 1.8 GB/s). The buffer is kept from batch to
//! batch, so its pages stay with the process.
//!
//! A file system that refuses `O_DIRECT` (at open, or with `EINVAL` on a write, which
//! then writes nothing) gets buffered writes instead, with a warning.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// The unit direct writes are aligned to, in memory, in the file and in length: the
/// largest logical block size of common devices.
pub(super) const BLOCK: usize = 4096;

/// An append-only file written in whole blocks with `O_DIRECT`.
///
/// Its last partial block is kept in memory as well: the next write starts at that
/// block, with those bytes first, so every direct write starts on a block boundary.
pub(super) struct DirectAppend {
    /// Through the page cache: the last partial block, or everything when direct I/O is
    /// not available.
    file: File,
    /// The same file opened with `O_DIRECT`, while direct writes work.
    direct: Option<File>,
    /// Where the next write starts: the file's length rounded down to a block.
    at: u64,
    /// `bytes[start..]` is what the next write writes: the file's last partial block,
    /// then whatever was appended since. Before `start`: nothing, room to align it.
    bytes: Vec<u8>,
    start: usize,
}

impl DirectAppend {
    /// Opens `path` (which must exist) for appending after its current end.
    pub(super) fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        let at = len - len % BLOCK as u64;
        let mut bytes = vec![0; (len - at) as usize];
        file.read_exact_at(&mut bytes, at)?;
        let direct = match OpenOptions::new().write(true).custom_flags(libc::O_DIRECT).open(path) {
            Ok(direct) => Some(direct),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "direct writes unavailable: writing through the page cache");
                None
            }
        };
        Ok(DirectAppend { file, direct, at, bytes, start: 0 })
    }

    /// The buffer to append to; [`DirectAppend::write`] writes what was appended. What
    /// it holds already is not to be changed.
    pub(super) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Whether writes go to the device directly (`false` after a fallback).
    #[cfg(test)]
    pub(super) fn is_direct(&self) -> bool {
        self.direct.is_some()
    }

    /// Writes what was appended since the last write to the file, and returns once the
    /// direct part is on the device and the rest handed to the OS.
    pub(super) fn write(&mut self) -> std::io::Result<()> {
        self.align();
        let data = &self.bytes[self.start..];
        let full = data.len() / BLOCK * BLOCK;
        let direct_done = match &self.direct {
            Some(direct) if full > 0 => match direct.write_all_at(&data[..full], self.at) {
                Ok(()) => true,
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    tracing::warn!(error = %e, "a direct write was refused: writing through the page cache from now on");
                    self.direct = None;
                    false
                }
                Err(e) => return Err(e),
            },
            _ => false,
        };
        if direct_done {
            self.file.write_all_at(&data[full..], self.at + full as u64)?;
        } else {
            // Also rewrites the kept partial block, with the same bytes.
            self.file.write_all_at(data, self.at)?;
        }
        let written = data.len();
        self.at += full as u64;
        self.bytes.copy_within(self.start + full.., 0);
        self.bytes.truncate(written - full);
        self.start = 0;
        // Room for up to twice this batch, as `empty_keeping` keeps.
        self.bytes.shrink_to(written.saturating_mul(2));
        Ok(())
    }

    /// Moves the bytes to write so that they start on a block boundary in memory, as
    /// direct writes need: only after the buffer was reallocated by growing.
    fn align(&mut self) {
        let len = self.bytes.len() - self.start;
        // Room for the bytes after up to a block's shift, so that moving them does not
        // reallocate (which would move them again).
        self.bytes.reserve((BLOCK + len).saturating_sub(self.bytes.len()));
        let start = (BLOCK - self.bytes.as_ptr() as usize % BLOCK) % BLOCK;
        if start == self.start {
            return;
        }
        if start > self.start {
            self.bytes.resize(start + len, 0);
        }
        self.bytes.copy_within(self.start..self.start + len, start);
        self.bytes.truncate(start + len);
        self.start = start;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in a new folder holding `text`, opened for appending.
    fn opened(text: &[u8]) -> (tempfile::TempDir, std::path::PathBuf, DirectAppend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out");
        std::fs::write(&path, text).expect("write");
        let file = DirectAppend::open(&path).expect("opens");
        (dir, path, file)
    }

    fn append(file: &mut DirectAppend, text: &[u8]) {
        file.buffer().extend_from_slice(text);
        file.write().expect("writes");
    }

    /// Writes of every size, across block boundaries, in a fresh file and after what a
    /// file held already, read back as one appended text.
    #[test]
    fn appends_of_any_length_read_back_in_order() {
        let (_dir, path, mut file) = opened(b"before\n");
        assert!(file.is_direct(), "the temporary folder's file system takes O_DIRECT");
        let mut expected = b"before\n".to_vec();
        // Lengths around the block size, a large one, and nothing.
        for (i, n) in [1, BLOCK - 8, 1, BLOCK, 3 * BLOCK + 17, 0, 200_000, BLOCK - 1].into_iter().enumerate() {
            let text: Vec<u8> = (0..n).map(|k| b'a' + ((i + k) % 26) as u8).collect();
            append(&mut file, &text);
            expected.extend_from_slice(&text);
            assert_eq!(std::fs::read(&path).expect("read"), expected, "after {n} bytes");
        }
        drop(file);
        let mut again = DirectAppend::open(&path).expect("opens again");
        append(&mut again, b"after\n");
        expected.extend_from_slice(b"after\n");
        assert_eq!(std::fs::read(&path).expect("read"), expected);
    }

    /// However the buffer was reallocated, what is written starts on a block boundary in
    /// memory, and the bytes are unchanged.
    #[test]
    fn the_bytes_to_write_are_moved_to_a_block_boundary() {
        let (_dir, _, mut file) = opened(b"");
        for n in [10, 5000, 70_000, 3] {
            file.bytes = Vec::with_capacity(n + 1);
            file.start = 0;
            // Often not aligned: a small allocation is placed anywhere in a page.
            file.bytes.extend((0..n).map(|k| (k % 251) as u8));
            file.align();
            assert_eq!((file.bytes.as_ptr() as usize + file.start) % BLOCK, 0);
            let moved: Vec<u8> = (0..n).map(|k| (k % 251) as u8).collect();
            assert_eq!(&file.bytes[file.start..], &moved[..]);
        }
    }

    /// On a file system without `O_DIRECT`, or a device that refuses it, everything is
    /// written through the page cache, and the file is the same.
    #[test]
    fn without_direct_writes_the_file_is_written_through_the_page_cache() {
        let (_dir, path, mut file) = opened(b"x\n");
        file.direct = None;
        append(&mut file, &[b'y'; BLOCK + 5]);
        append(&mut file, b"z\n");
        assert!(!file.is_direct());
        let mut expected = b"x\n".to_vec();
        expected.extend_from_slice(&[b'y'; BLOCK + 5]);
        expected.extend_from_slice(b"z\n");
        assert_eq!(std::fs::read(&path).expect("read"), expected);
    }
}
