//! The plugins written in other languages (`plugins/ticket-py`, Python, and
//! `plugins/insurance-js`, JavaScript), built from source by `plugins/build-foreign`
//! the first time a test of this process needs them. The script installs its pinned
//! tools on first use and rebuilds a component only when its sources changed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Paths of the built components.
pub struct Foreign {
    /// `ticket.wasm`: the `ticket` kind, in Python.
    pub ticket: PathBuf,
    /// `insurance-js.wasm`: the `insurance` rules, in JavaScript.
    pub insurance_js: PathBuf,
}

/// Builds (or finds up to date) both components; panics with the script's output when
/// the build fails.
pub fn build() -> &'static Foreign {
    static BUILT: OnceLock<Foreign> = OnceLock::new();
    BUILT.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| repo.join("target"));
        let out = target.join("foreign-plugins");
        let run =
            Command::new(repo.join("plugins/build-foreign")).arg(&out).output().expect("plugins/build-foreign runs");
        assert!(
            run.status.success(),
            "plugins/build-foreign failed:\n{}\n{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        Foreign { ticket: out.join("ticket.wasm"), insurance_js: out.join("insurance-js.wasm") }
    })
}
