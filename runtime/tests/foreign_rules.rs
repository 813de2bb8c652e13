//! The rules of the plugins written in other languages, tested in their own language
//! before they become components: `plugins/ticket-py`'s unittest suite on the machine's
//! CPython and `plugins/insurance-js`'s `node --test` suite on Node. Run from here so
//! that `cargo test --workspace` covers them too.

use std::path::{Path, PathBuf};
use std::process::Command;

fn plugins() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins")
}

fn passes(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{what} does not start: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

#[test]
fn the_python_ticket_rules_pass_their_unit_tests() {
    let dir = plugins().join("ticket-py");
    // No bytecode files in the source folder.
    let text = passes(
        Command::new("python3").args(["-B", "-m", "unittest", "discover", "-v", "-s"]).arg(&dir).current_dir(&dir),
        "python3 -m unittest",
    );
    let ran: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("Ran ").and_then(|rest| rest.split_whitespace().next()?.parse().ok()))
        .unwrap_or_else(|| panic!("no test count in:\n{text}"));
    assert!(ran >= 10, "only {ran} Python tests ran:\n{text}");
}

#[test]
fn the_javascript_insurance_rules_pass_their_unit_tests() {
    let dir = plugins().join("insurance-js");
    let text = passes(Command::new("node").arg("--test").arg("test/").current_dir(&dir), "node --test");
    let count = |label: &str| -> usize {
        text.lines()
            .find_map(|l| l.trim_start_matches(['ℹ', '#', ' ']).strip_prefix(label)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{label}` count in:\n{text}"))
    };
    assert!(count("pass") >= 10, "too few JavaScript tests passed:\n{text}");
    assert_eq!(count("fail"), 0, "{text}");
}
