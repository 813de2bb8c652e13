//! The `pricing` binary as a child process: started, watched, killed, finished.

use std::ffi::OsStr;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long any one run may take, including compiling the plugins at start. Generous:
/// the machine may be busy with other builds and tests.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// The signal a hard kill sends.
pub const SIGKILL: i32 = 9;

/// The repository's root, where the README's commands run.
pub const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A running `pricing`, killed if the test fails before it ends.
pub struct Run {
    /// The process.
    pub child: Child,
    log: PathBuf,
}

impl Run {
    /// Starts `pricing ARGS...` with stderr (its log and final counters) in `log`.
    pub fn spawn(args: impl IntoIterator<Item = impl AsRef<OsStr>>, log: PathBuf) -> Run {
        Run::spawn_with_env(args, &[], log)
    }

    /// Like [`Run::spawn`], with extra environment variables.
    pub fn spawn_with_env(
        args: impl IntoIterator<Item = impl AsRef<OsStr>>,
        env: &[(&str, &str)],
        log: PathBuf,
    ) -> Run {
        Run::start(args, env, Stdio::null(), log)
    }

    /// `pricing demo ARGS...` as the README's first command runs it: from the
    /// repository's root, so with its default `examples/events.ndjson`. What it prints
    /// goes to `dir/demo.out` ([`Run::printed`]), its log to `dir/demo.log`.
    pub fn demo(dir: &std::path::Path, args: &[&OsStr]) -> Run {
        let printed = std::fs::File::create(dir.join("demo.out")).expect("output file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_pricing"));
        command.current_dir(REPO_ROOT).arg("demo").args(args);
        Run::launch(command, Stdio::null(), printed.into(), dir.join("demo.log"))
    }

    /// What a [`Run::demo`] has printed so far.
    pub fn printed(&self) -> String {
        std::fs::read_to_string(self.log.with_extension("out")).unwrap_or_default()
    }

    /// Like [`Run::spawn_with_env`], with stdin a pipe the test writes events into
    /// (`child.stdin`); closing it ends the input.
    pub fn spawn_fed(args: impl IntoIterator<Item = impl AsRef<OsStr>>, env: &[(&str, &str)], log: PathBuf) -> Run {
        Run::start(args, env, Stdio::piped(), log)
    }

    fn start(
        args: impl IntoIterator<Item = impl AsRef<OsStr>>,
        env: &[(&str, &str)],
        stdin: Stdio,
        log: PathBuf,
    ) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pricing"));
        command.args(args).envs(env.iter().copied());
        Run::launch(command, stdin, Stdio::null(), log)
    }

    fn launch(mut command: Command, stdin: Stdio, stdout: Stdio, log: PathBuf) -> Run {
        let stderr = std::fs::File::create(&log).expect("log file");
        // Files, not pipes: nobody reads them while the run goes on.
        let child = command.stdin(stdin).stdout(stdout).stderr(stderr).spawn().expect("starts pricing");
        Run { child, log }
    }

    /// Whether the run has ended, and how.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("polls the child")
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its log contains `text`, failing if it ends first or takes too long.
    pub fn wait_for_log(&mut self, text: &str) {
        let log = self.log.clone();
        self.wait_until(&format!("logging {text:?}"), || {
            std::fs::read_to_string(&log).unwrap_or_default().contains(text)
        });
    }

    /// Waits until `ready` holds (`what`), failing if the run ends first or it takes
    /// longer than [`RUN_TIMEOUT`].
    pub fn wait_until(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + RUN_TIMEOUT;
        while !ready() {
            if let Some(status) = self.exited() {
                panic!("pricing ended ({status}) before {what}:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "pricing: no {what} in {RUN_TIMEOUT:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the admin API has started and returns its address (it listens on
    /// `127.0.0.1:0` in the tests: the log says which port it got).
    pub fn admin_addr(&mut self) -> std::net::SocketAddr {
        self.wait_for_log("admin API listening");
        let log = self.log();
        log.lines()
            .find(|l| l.contains("admin API listening"))
            .and_then(|line| line.split("addr=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no admin address in the log:\n{log}"))
    }

    /// `pricing run examples/events.ndjson --serve` on a free loopback port with its data
    /// in `dir/data` and its log in `dir/pricing.log`; returns once the inputs are
    /// consumed, with the admin API's address.
    pub fn serve_examples(dir: &std::path::Path, env: &[(&str, &str)]) -> (Run, std::net::SocketAddr) {
        let events = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/events.ndjson");
        let data = dir.join("data");
        let args: [&OsStr; 7] = [
            "run".as_ref(),
            events.as_os_str(),
            "--serve".as_ref(),
            "--admin-listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--data".as_ref(),
            data.as_os_str(),
        ];
        let mut run = Run::spawn_with_env(args, env, dir.join("pricing.log"));
        run.wait_for_log("serving the admin API on http://");
        let addr = run.admin_addr();
        (run, addr)
    }

    /// Waits for the run to end on its own and returns its status and log.
    pub fn wait(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + RUN_TIMEOUT;
        let status = loop {
            if let Some(status) = self.exited() {
                break status;
            }
            assert!(Instant::now() < deadline, "pricing did not finish in {RUN_TIMEOUT:?}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, self.log())
    }

    /// Waits for the run to end on its own, successfully, and returns its counters (the
    /// JSON it prints last on stderr).
    pub fn finish(self) -> serde_json::Value {
        let (status, log) = self.wait();
        assert!(status.success(), "pricing failed ({status}):\n{log}");
        let start = log.find("\n{").map(|i| i + 1).unwrap_or_else(|| panic!("no counters in:\n{log}"));
        serde_json::from_str(&log[start..]).unwrap_or_else(|e| panic!("counters: {e}:\n{log}"))
    }

    /// Kills it with SIGKILL and checks it was still running when hit.
    pub fn kill(&mut self) {
        self.child.kill().expect("sends SIGKILL");
        let status = self.child.wait().expect("reaps the child");
        // A child that had already exited would report its own status, not the signal:
        // this proves the kill hit a run that was still going.
        assert_eq!(status.signal(), Some(SIGKILL), "pricing was not running when killed: {status}\n{}", self.log());
    }
}

/// `pricing run EVENTS --no-admin --data DATA` to its end (the embedded file source,
/// the reference the Kafka runs are compared with); returns its counters.
pub fn run_files(events: &std::path::Path, data: &std::path::Path, log: PathBuf) -> serde_json::Value {
    let args = [OsStr::new("run"), events.as_os_str(), OsStr::new("--no-admin"), OsStr::new("--data")];
    Run::spawn(args.into_iter().chain([data.as_os_str()]), log).finish()
}

/// `pricing run --config CONFIG`, with `--until-caught-up` when asked (a Kafka run).
pub fn run_config(config: &std::path::Path, until_caught_up: bool, log: PathBuf) -> Run {
    let mut args = vec![OsStr::new("run"), OsStr::new("--config"), config.as_os_str()];
    if until_caught_up {
        args.push(OsStr::new("--until-caught-up"));
    }
    Run::spawn(args, log)
}

impl Run {
    /// Asks it to stop with SIGTERM and waits until it has, successfully.
    pub fn terminate(self) -> String {
        let status = Command::new("kill").args(["-TERM".to_owned(), self.child.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -TERM failed");
        let (status, log) = self.wait();
        assert!(status.success(), "pricing did not stop cleanly on SIGTERM ({status}):\n{log}");
        log
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
