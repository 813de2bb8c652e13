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
    for watched in
        ["sdk", "wit", "plugins", "tests/plugins", "Cargo.toml", "Cargo.lock", "runtime/console/package-lock.json"]
    {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    console_assets(&manifest.join("console"), &out);

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
    let dest = out.join("plugins.rs");
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

/// The third-party files the operations console embeds (uPlot, its charting library),
/// installed from the npm registry by `npm ci` against the committed lock file, which
/// checks each package's integrity hash. Installed once per lock file into a cache
/// outside the build folders (so a clean build does not fetch again; npm's own cache
/// makes a later install work offline), then copied into `OUT_DIR` for `include_bytes!`.
fn console_assets(console: &Path, out: &Path) {
    const FILES: &[&str] = &["uplot/dist/uPlot.iife.min.js", "uplot/dist/uPlot.min.css", "uplot/LICENSE"];
    let lock = std::fs::read(console.join("package-lock.json")).expect("runtime/console/package-lock.json is missing");
    // FNV-1a of the lock file: a new pin gets its own cache folder.
    let hash = lock.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    let cache_root = env::var_os("HOME").map_or_else(
        || out.join("console-npm"),
        |h| PathBuf::from(h).join(".cache").join("travel-pricing").join("console"),
    );
    let installed = cache_root.join(format!("{hash:016x}"));
    let modules = installed.join("node_modules");
    if !FILES.iter().all(|f| modules.join(f).exists()) {
        // Installed beside, then renamed: a build stopped half-way leaves no half folder.
        let staging = cache_root.join(format!("{hash:016x}.{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).expect("cannot create the console asset cache");
        for f in ["package.json", "package-lock.json"] {
            std::fs::copy(console.join(f), staging.join(f)).expect("cannot copy the console's package files");
        }
        let npm = env::var("NPM").unwrap_or_else(|_| "npm".into());
        let status = Command::new(&npm)
            .current_dir(&staging)
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"])
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!(
                "`npm ci` for the operations console's chart library failed ({s}) in {}: it needs the npm \
                 registry once per machine (or npm's cache)",
                staging.display()
            ),
            Err(e) => panic!(
                "cannot run `{npm}` ({e}): the operations console embeds its chart library (uPlot) from the npm \
                 registry; install Node.js and npm, or set NPM to npm's path"
            ),
        }
        let _ = std::fs::remove_dir_all(&installed);
        if std::fs::rename(&staging, &installed).is_err() {
            // Another build installed it first: theirs is as good as ours.
            let _ = std::fs::remove_dir_all(&staging);
        }
    }
    let dest = out.join("console");
    std::fs::create_dir_all(&dest).expect("cannot create OUT_DIR/console");
    for f in FILES {
        let name = Path::new(f).file_name().expect("a file name");
        std::fs::copy(modules.join(f), dest.join(name))
            .unwrap_or_else(|e| panic!("cannot copy {f} from {}: {e}", modules.display()));
    }
}

fn escape(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}
