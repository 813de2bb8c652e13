//! The operations console's files, built into the binary: the page, its script and
//! style (written here, in `runtime/console/`), and its chart library, uPlot (MIT),
//! which the build script installs from the npm registry against the committed lock
//! file. Served under `/console`, so no separate server or CDN is needed.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// (name, content type, bytes)
const FILES: &[(&str, &str, &[u8])] = &[
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../console/app.js")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../console/app.css")),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/console/uPlot.iife.min.js")),
    ),
    ("uPlot.min.css", "text/css; charset=utf-8", include_bytes!(concat!(env!("OUT_DIR"), "/console/uPlot.min.css"))),
    ("uPlot-LICENSE.txt", "text/plain; charset=utf-8", include_bytes!(concat!(env!("OUT_DIR"), "/console/LICENSE"))),
];

const INDEX: &[u8] = include_bytes!("../../console/index.html");

/// Scripts and styles only from the console itself: nothing injected into a record
/// (a product key, a dead letter's text) can run. uPlot sets inline styles.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                      frame-ancestors 'none'";

fn file(content_type: &'static str, bytes: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            // Small files from the binary: always revalidated, so an upgrade shows at once.
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response()
}

pub(super) async fn root() -> Redirect {
    Redirect::to("/console")
}

pub(super) async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX)
}

pub(super) async fn asset(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => file(content_type, bytes),
        None => (StatusCode::NOT_FOUND, format!("no console file {name:?}")).into_response(),
    }
}
