//! `pipeline.background_nice`: a running `pricing` lowers the threads beside its
//! pricing thread (here the output writer and fjall's worker) by the configured nice
//! steps, 10 by default, and leaves them alone with 0.

mod common;

use std::path::Path;

use common::process::Run;

/// The highest nice value: lowering stops there.
const NICEST: i64 = 19;

/// The nice value of each of `pid`'s threads, with its name.
fn thread_nices(pid: u32) -> Vec<(String, i64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
            // `TID (NAME) STATE ...`: the name may hold spaces, so fields count from the
            // last `)`; nice is field 19, the 17th after it.
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_owned();
            let nice = rest.split_whitespace().nth(16)?.parse().ok()?;
            Some((name, nice))
        })
        .collect()
}

/// Starts `pricing run -` (stdin left open, so it keeps running) with `config`, waits
/// for its output writer and fjall's worker, and returns the nice value of the process's
/// main thread and of those two.
fn nices_with(dir: &Path, config: &str) -> (i64, i64, i64) {
    let data = dir.join("data");
    let path = dir.join("pricing.toml");
    std::fs::write(&path, format!("data = {:?}\n{config}", data.display().to_string())).expect("config");
    let mut run = Run::spawn_fed(
        ["run", "-", "--admin-listen", "127.0.0.1:0", "--config"]
            .iter()
            .map(std::ffi::OsStr::new)
            .chain([path.as_os_str()]),
        &[],
        dir.join("pricing.log"),
    );
    let pid = run.child.id();
    let named = |name: &str| thread_nices(pid).into_iter().find(|(n, _)| n.starts_with(name)).map(|(_, nice)| nice);
    run.wait_until("the output and fjall threads", || named("output").is_some() && named("fjall").is_some());
    let main = thread_nices(pid).into_iter().find(|(n, _)| n == "pricing").map(|(_, nice)| nice).expect("main thread");
    let found = (main, named("output").expect("output thread"), named("fjall").expect("fjall thread"));
    drop(run.child.stdin.take()); // the end of the input: the run finishes
    run.finish();
    found
}

#[test]
fn background_threads_run_the_configured_nice_steps_below_the_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lowered = dir.path().join("default");
    std::fs::create_dir(&lowered).expect("dir");
    let (main, output, fjall) = nices_with(&lowered, "");
    let expected = (main + 10).min(NICEST);
    assert_eq!((output, fjall), (expected, expected), "10 steps below {main} by default");

    let off = dir.path().join("off");
    std::fs::create_dir(&off).expect("dir");
    let (main, output, fjall) = nices_with(&off, "[pipeline]\nbackground_nice = 0\n");
    assert_eq!((output, fjall), (main, main), "0 leaves them at the process's priority");

    let three = dir.path().join("three");
    std::fs::create_dir(&three).expect("dir");
    let (main, output, fjall) = nices_with(&three, "[pipeline]\nbackground_nice = 3\n");
    let expected = (main + 3).min(NICEST);
    assert_eq!((output, fjall), (expected, expected), "3 steps below {main}");
}
