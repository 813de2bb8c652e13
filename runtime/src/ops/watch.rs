//! The watched plugins folder: for operators who prefer dropping a file to calling the
//! API. Polled (a folder of a few plugin files needs no file-system events): a `.wasm`
//! file is deployed with `activate` once it has stopped changing (same size and
//! modification time on two looks in a row, so a file still being copied is not read
//! half-written). A file whose version (content hash) is already in the registry is left
//! alone, so a restart, or an operator's rollback, is never undone by an old file still
//! lying there. A refused file gets `NAME.wasm.rejected` beside it, with the reason.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::engine::content_hash;
use crate::registry::Registry;

/// The watcher's thread; dropping the handle stops it.
pub struct WatchHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // The thread only logs; a panic in it has been reported already.
            let _ = t.join();
        }
    }
}

/// Starts watching `folder` (created if missing) every `interval`.
pub fn watch(folder: &Path, interval: Duration, registry: Arc<Registry>) -> std::io::Result<WatchHandle> {
    std::fs::create_dir_all(folder)?;
    let stop = Arc::new(AtomicBool::new(false));
    let folder = folder.to_path_buf();
    let stopping = Arc::clone(&stop);
    let thread = std::thread::Builder::new().name("plugin-watch".into()).spawn(move || {
        tracing::info!(folder = %folder.display(), "watching for plugin files");
        let mut watcher = Watcher { folder, registry, seen: HashMap::new() };
        while !stopping.load(Ordering::Relaxed) {
            watcher.look();
            // Short sleeps, so a stop is noticed quickly.
            let mut slept = Duration::ZERO;
            while slept < interval && !stopping.load(Ordering::Relaxed) {
                let step = (interval - slept).min(Duration::from_millis(50));
                std::thread::sleep(step);
                slept += step;
            }
        }
    })?;
    Ok(WatchHandle { stop, thread: Some(thread) })
}

/// What the watcher last saw of a file.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Seen {
    len: u64,
    modified: Option<SystemTime>,
    /// Whether it was handled (deployed, refused, or found already stored).
    handled: bool,
}

struct Watcher {
    folder: PathBuf,
    registry: Arc<Registry>,
    seen: HashMap<PathBuf, Seen>,
}

impl Watcher {
    fn look(&mut self) {
        let entries = match std::fs::read_dir(&self.folder) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(folder = %self.folder.display(), error = %e, "cannot read the watched plugins folder");
                return;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "wasm") {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let now = Seen { len: meta.len(), modified: meta.modified().ok(), handled: false };
            match self.seen.get(&path) {
                // Unchanged since it was handled: nothing to do.
                Some(s) if s.handled && s.len == now.len && s.modified == now.modified => {}
                // Unchanged since the last look: complete; deploy it.
                Some(s) if s.len == now.len && s.modified == now.modified => {
                    self.handle(&path);
                    self.seen.insert(path, Seen { handled: true, ..now });
                }
                // New or still changing: look again next time.
                _ => {
                    self.seen.insert(path, now);
                }
            }
        }
    }

    fn handle(&self, path: &Path) {
        let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let rejected = path.with_file_name(format!("{name}.rejected"));
        let wasm = match std::fs::read(path) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read a dropped plugin file");
                return;
            }
        };
        let hash = content_hash(&wasm);
        match self.registry.version(&hash) {
            Ok(Some(stored)) => {
                tracing::info!(file = %path.display(), version = %stored.id, "dropped plugin file is a stored version: left alone");
                return;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "cannot read the registry");
                return;
            }
        }
        match self.registry.deploy(&wasm, None, &format!("watch:{name}"), true) {
            Ok(info) => {
                tracing::info!(file = %path.display(), version = %info.id, "dropped plugin file deployed and activated");
                // A fixed file replaces a refused one: its old reason no longer holds.
                let _ = std::fs::remove_file(&rejected);
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "dropped plugin file refused");
                if let Err(write) = std::fs::write(&rejected, format!("{e}\n")) {
                    tracing::warn!(file = %rejected.display(), error = %write, "cannot write the refusal next to the file");
                }
            }
        }
    }
}
