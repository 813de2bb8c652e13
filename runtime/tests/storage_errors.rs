//! A data folder the engine cannot use stops `pricing run` with one readable line:
//! the operating system's message or what to check, each said once, not fjall's
//! debug form repeated down the error chain.

use std::path::Path;
use std::process::{Command, Stdio};

use pricing_runtime::state::State;

/// Runs `pricing run` on `data` with no input and returns its error line.
fn run_fails(data: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pricing"))
        .args(["run", "--admin-listen", "127.0.0.1:0", "-", "--data"])
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .expect("runs pricing");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected a failure: {stderr}");
    let line = stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_else(|| panic!("no error line in {stderr}"));
    assert!(!line.contains("FjallError") && !line.contains("Os {"), "debug form in: {line}");
    line.to_owned()
}

#[test]
fn a_state_folder_that_is_a_file_says_so_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("state"), b"not a folder").expect("writes");
    let line = run_fails(dir.path());
    let expected =
        format!("error: opening state in {}: state storage: Not a directory (os error 20)", dir.path().display());
    assert_eq!(line, expected);
}

#[test]
fn a_state_another_process_holds_names_the_lock_and_what_to_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _held = State::open(&dir.path().join("state")).expect("opens the state");
    let line = run_fails(dir.path());
    assert!(line.starts_with(&format!("error: opening state in {}: state storage: ", dir.path().display())), "{line}");
    assert_eq!(line.matches("locked").count(), 1, "{line}");
    assert!(line.contains("is another `pricing` running on it?"), "{line}");
}
