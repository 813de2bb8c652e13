//! Compiles the plugin crates to WebAssembly components, so that `cargo build` and
//! `cargo test` always run the current rules with no manual step (the pattern of
//! wasmtime's test-programs). The reference plugins are embedded in the binary; the
//! test plugins (hostile ones, rule variants) are only referenced by path.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// (kind, package, embedded in the binary)
const PLUGINS: &[(&str, &str, bool)] = &[
    ("flight", "plugin-flight", true),
    ("hotel", "plugin-hotel", true),
    ("insurance", "plugin-insurance", true),
    ("cruise", "plugin-cruise", true),
    ("discount", "plugin-discount", true),
    ("looper", "hostile-looper", false),
    ("memhog", "hostile-memhog", false),
    ("panicker", "hostile-panicker", false),
    ("wrong-world", "hostile-wrong-world", false),
    ("flight-same", "test-flight-same", false),
    ("flight-surcharge", "test-flight-surcharge", false),
    ("flight-trapper", "test-flight-trapper", false),
];

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("runtime/ sits in the workspace").to_path_buf();
    for watched in ["sdk", "wit", "plugins", "tests/plugins", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");

    // Its own target folder: the outer build holds the lock of the host's.
    let host_target = env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let wasm_target = host_target.join("wasm-plugins");

    ensure_wasm_target();
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&wasm_target)
        // Small, fast components: no debug info, whole-program optimisation (the plugin
        // crates are small, so LTO and one codegen unit cost seconds, not minutes).
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "debuginfo")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    // Flags meant for the host build must not leak into the wasm build.
    for var in
        ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET"]
    {
        cmd.env_remove(var);
    }
    for (_, package, _) in PLUGINS {
        cmd.args(["-p", package]);
    }
    let output = cmd.output().expect("cannot run cargo for the plugin build");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let hint = if stderr.contains("wasm32-wasip2") && stderr.contains("target may not be installed") {
            "\nhint: the plugin target is missing; `rustup target add wasm32-wasip2` (rust-toolchain.toml lists it)"
        } else {
            ""
        };
        panic!("building the pricing plugins for wasm32-wasip2 failed:\n{stderr}{hint}");
    }

    let out_dir = wasm_target.join("wasm32-wasip2").join("release");
    let mut code = String::from(
        "/// A plugin component compiled by the build script.\n\
         #[derive(Debug, Clone, Copy)]\n\
         pub struct Artifact {\n    /// The kind the plugin prices.\n    pub kind: &'static str,\n    \
         /// Where the build put the component.\n    pub path: &'static str,\n}\n\n",
    );
    let mut reference = String::new();
    for (kind, package, embedded) in PLUGINS {
        let file = out_dir.join(format!("{}.wasm", package.replace('-', "_")));
        assert!(file.exists(), "the plugin build did not produce {}", file.display());
        let path = escape(&file);
        let name = kind.replace('-', "_").to_uppercase();
        if *embedded {
            writeln!(reference, "    (Artifact {{ kind: {kind:?}, path: {path} }}, include_bytes!({path})),").ok();
        } else {
            writeln!(code, "/// The test plugin `{package}`.\npub const {name}: Artifact = Artifact {{ kind: {kind:?}, path: {path} }};").ok();
        }
    }
    writeln!(
        code,
        "/// The reference plugins with their component bytes, embedded in the binary.\n\
         pub const REFERENCE: &[(Artifact, &[u8])] = &[\n{reference}];"
    )
    .ok();
    let dest = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("plugins.rs");
    std::fs::write(&dest, code).expect("cannot write the generated plugin list");
}

/// Installs the plugin target when rustup is there and the target is not: the README's
/// first command must work on a fresh machine, where rustup may be told not to install
/// what `rust-toolchain.toml` lists by itself (`RUSTUP_AUTO_INSTALL=0`).
fn ensure_wasm_target() {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    let Ok(installed) = installed else { return }; // no rustup: the build below says what is missing
    if String::from_utf8_lossy(&installed.stdout).lines().any(|l| l.trim() == "wasm32-wasip2") {
        return;
    }
    println!("cargo:warning=installing the wasm32-wasip2 target for the pricing plugins (rustup target add)");
    let added = Command::new("rustup").args(["target", "add", "wasm32-wasip2"]).status();
    if !matches!(added, Ok(s) if s.success()) {
        println!("cargo:warning=`rustup target add wasm32-wasip2` failed; the plugin build will fail without it");
    }
}

fn escape(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}
