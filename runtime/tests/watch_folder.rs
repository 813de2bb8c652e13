//! The watched plugins folder: a new component dropped in is deployed and activated; a
//! broken one gets a `.rejected` file with the reason; a file of a version already in
//! the registry is left alone (an old file never undoes an operator's rollback).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pricing_runtime::ops::watch;
use pricing_runtime::plugins;
use pricing_runtime::registry::Registry;

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn drop_file(folder: &Path, name: &str, bytes: &[u8]) {
    // Written aside and renamed in, as an operator's `mv` would.
    let tmp = folder.join(format!(".{name}.part"));
    std::fs::write(&tmp, bytes).expect("write");
    std::fs::rename(&tmp, folder.join(name)).expect("rename");
}

#[test]
fn dropped_files_are_deployed_refused_or_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Arc::new(Registry::open(&dir.path().join("registry"), Arc::new(common::host())).expect("opens"));
    let live = registry.live().expect("live");
    let reference = registry.active("flight").expect("reads").expect("seeded");
    let folder = dir.path().join("drop");
    let _watching = watch(&folder, Duration::from_millis(20), Arc::clone(&registry)).expect("watches");
    assert!(folder.is_dir(), "the folder is created");

    // A new version: deployed and activated, into the live set.
    let surcharge = common::artifact(plugins::FLIGHT_SURCHARGE);
    drop_file(&folder, "flight-v2.wasm", &surcharge);
    let hash = pricing_runtime::engine::content_hash(&surcharge);
    wait_for("the dropped version to be active", || registry.active("flight").ok().flatten().as_deref() == Some(&hash));
    let last = registry.history("flight").expect("history").pop().expect("entry");
    assert_eq!(last.who, "watch:flight-v2.wasm");
    assert!(live.load().get("flight").is_some_and(|p| p.info().hash == hash));

    // A broken file: refused, with the reason beside it; nothing changes.
    drop_file(&folder, "broken.wasm", b"\0asm not really");
    let rejected = folder.join("broken.wasm.rejected");
    wait_for("the refusal", || rejected.exists());
    let reason = std::fs::read_to_string(&rejected).expect("reason");
    assert!(!reason.trim().is_empty(), "a reason is written");
    assert_eq!(registry.active("flight").expect("reads"), Some(hash.clone()));

    // The operator rolls back; the reference version dropped as a file (already stored)
    // and the release's file still lying there change nothing.
    registry.rollback("flight", "ops", "back").expect("rolls back");
    drop_file(&folder, "flight-v1.wasm", plugins::reference("flight").expect("reference"));
    std::fs::write(folder.join("flight-v2.wasm"), &surcharge).expect("touch the release again");
    drop_file(&folder, "zz-marker.wasm", b"marker");
    wait_for("the watcher to pass over the folder", || folder.join("zz-marker.wasm.rejected").exists());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(registry.active("flight").expect("reads"), Some(reference), "stored versions are left alone");
    assert!(!folder.join("flight-v1.wasm.rejected").exists());
}
