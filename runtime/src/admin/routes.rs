//! The admin API's routes, its bearer-token check and its error answers.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{console, queries};
use crate::ops::{JobStatus, Operations, OpsError, ReadyPart, ShadowReport};
use crate::pipeline::KindCalls;
use crate::registry::{Registry, RegistryError, VersionInfo};

/// What every handler shares.
#[derive(Clone)]
pub(super) struct AppState {
    pub registry: Arc<Registry>,
    pub ops: Arc<Operations>,
    pub token: Option<String>,
    /// The admin config's upload limit, in bytes (the registry has its own too).
    pub max_upload: usize,
}

pub(super) type Shared = Arc<AppState>;

pub(super) fn router(state: AppState) -> Router {
    let max_upload = state.max_upload;
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/plugins", get(list).post(deploy))
        .route("/plugins/{kind}/activate/{hash}", post(activate))
        .route("/plugins/{kind}/rollback", post(rollback))
        .route("/plugins/{kind}/history", get(history))
        .route("/plugins/{kind}/shadow", get(shadow_report).post(shadow_start))
        .route("/plugins/{kind}/shadow/promote", post(shadow_promote))
        .route("/plugins/{kind}/shadow/drop", post(shadow_drop))
        .route("/plugins/{kind}/reprice", post(reprice))
        .route("/plugins/{kind}/price-rollback/{hash}", post(price_rollback))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}", get(job))
        .route("/", get(console::root))
        .route("/console", get(console::index))
        .route("/console/{file}", get(console::asset))
        .route("/api/rules", get(queries::rules))
        .route("/api/products", get(queries::products))
        .route("/api/products/{product}/calendar", get(queries::calendar))
        .route("/api/departures/{departure}/history", get(queries::history))
        .route("/api/live", get(queries::live))
        .route("/api/dead-letters", get(queries::dead_letters))
        // +1: a body of exactly the limit must reach the registry, which names the limit.
        .layer(DefaultBodyLimit::max(max_upload.saturating_add(1)))
        .with_state(Arc::new(state))
}

/// An answer `{"error": reason}` with a status.
pub(super) struct ApiError {
    status: StatusCode,
    reason: String,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        ApiError { status, reason: reason.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: String,
        }
        let mut response = (self.status, Json(Body { error: self.reason })).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        let status = match &e {
            RegistryError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RegistryError::CorruptWasm(_)
            | RegistryError::WrongWorld(_)
            | RegistryError::BadMetadata(_)
            | RegistryError::WrongKind { .. }
            | RegistryError::FailedValidation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            RegistryError::UnknownVersion(_) => StatusCode::NOT_FOUND,
            RegistryError::NothingToRollBack(_) => StatusCode::CONFLICT,
            RegistryError::StoredVersionBroken { .. } | RegistryError::Storage(_) | RegistryError::Corrupt { .. } => {
                tracing::error!(error = %e, "admin call failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<OpsError> for ApiError {
    fn from(e: OpsError) -> Self {
        match e {
            OpsError::Registry(e) => e.into(),
            OpsError::UnknownKind(_) | OpsError::NoShadow(_) | OpsError::UnknownJob(_) => {
                ApiError::new(StatusCode::NOT_FOUND, e.to_string())
            }
            OpsError::ShadowRunning { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(e: BytesRejection) -> Self {
        let status = e.status();
        let reason = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "plugin is over the upload limit".to_owned()
        } else {
            e.body_text()
        };
        ApiError::new(status, reason)
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, e.body_text())
    }
}

/// Proof the request carries the configured bearer token. An extractor from the
/// request's head, so an unauthorised upload is refused before its body is read.
pub(super) struct Authorized;

impl FromRequestParts<Shared> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Self::Rejection> {
        let Some(expected) = &state.token else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                format!("no admin token is configured (admin.token or {}): changes are disabled", super::TOKEN_ENV),
            ));
        };
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match presented {
            None => {
                Err(ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token: send Authorization: Bearer TOKEN"))
            }
            Some(t) if constant_time_eq(t.as_bytes(), expected.as_bytes()) => Ok(Authorized),
            Some(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong bearer token")),
        }
    }
}

/// Compares without stopping at the first difference, so the answer's timing does not
/// tell an attacker how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs a registry operation on the blocking pool: it compiles components and writes
/// storage with fsync, neither of which may stall the server's one async thread.
pub(super) async fn blocking<T: Send + 'static, E: Into<ApiError> + Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(Into::into),
        Err(e) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("admin task failed: {e}"))),
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    /// `kind@version+hash8` of the active plugin of each kind.
    active: BTreeMap<String, String>,
    /// Versions rolled back automatically since start.
    auto_rollbacks: u64,
    /// Per kind, the calls and failures in the automatic rollback's current window.
    failure_windows: BTreeMap<String, KindCalls>,
    /// Kinds with a shadow candidate running.
    shadows: Vec<String>,
}

async fn health(State(state): State<Shared>) -> Result<Json<Health>, ApiError> {
    let registry = Arc::clone(&state.registry);
    // Usually instant; builds the live set (compiling) only if nothing asked for it yet.
    let live = blocking(move || registry.live()).await?;
    let active = live.load().iter().map(|(k, p)| (k.to_owned(), p.id().to_owned())).collect();
    Ok(Json(Health {
        status: "ok",
        active,
        auto_rollbacks: state.ops.auto_rollbacks(),
        failure_windows: state.ops.failure_windows(),
        shadows: state.ops.shadows().iter().map(|s| s.kind.clone()).collect(),
    }))
}

/// What `/ready` checks.
#[derive(Serialize)]
struct Readiness {
    ready: bool,
    state: bool,
    plugins: bool,
    source: bool,
}

/// 200 once the state is open, the plugins are loaded and the source is connected;
/// 503 (with the same body, saying which part is missing) before.
async fn ready(State(state): State<Shared>) -> (StatusCode, Json<Readiness>) {
    let registry = Arc::clone(&state.registry);
    let plugins = blocking(move || registry.live()).await.is_ok();
    let (st, source) = (state.ops.is_ready(ReadyPart::State), state.ops.is_ready(ReadyPart::Source));
    let ready = st && plugins && source;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(Readiness { ready, state: st, plugins, source }))
}

/// The metrics in the Prometheus text format.
async fn metrics(State(state): State<Shared>) -> Result<Response, ApiError> {
    let registry = Arc::clone(&state.registry);
    let ops = Arc::clone(&state.ops);
    let text = blocking(move || {
        let live = registry.live()?;
        let set = live.load();
        Ok::<_, RegistryError>(ops.metrics().encode(&set))
    })
    .await?
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("encoding the metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}

#[derive(Serialize)]
struct Listing {
    kinds: Vec<crate::registry::KindVersions>,
}

async fn list(State(state): State<Shared>) -> Result<Json<Listing>, ApiError> {
    let registry = Arc::clone(&state.registry);
    Ok(Json(Listing { kinds: blocking(move || registry.list()).await? }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployParams {
    /// Make it active once stored (default false).
    #[serde(default)]
    activate: bool,
    /// The kind it is deployed for: refused if its metadata names another.
    kind: Option<String>,
    /// Who deploys it, for the record.
    who: Option<String>,
}

#[derive(Serialize)]
struct Deployed {
    #[serde(flatten)]
    version: VersionInfo,
    /// Whether it is now its kind's active version.
    active: bool,
}

async fn deploy(
    _auth: Authorized,
    State(state): State<Shared>,
    params: Result<Query<DeployParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Deployed>), ApiError> {
    let Query(params) = params?;
    let body = body?;
    if body.len() > state.max_upload {
        return Err(RegistryError::TooLarge { size: body.len(), limit: state.max_upload }.into());
    }
    if body.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "empty body: send the component's .wasm bytes"));
    }
    let registry = Arc::clone(&state.registry);
    let who = params.who.unwrap_or_else(|| "admin".into());
    let activate = params.activate;
    let deployed = blocking(move || {
        let version = registry.deploy(&body, params.kind.as_deref(), &who, activate)?;
        let active = registry.active(&version.kind)?.as_deref() == Some(version.hash.as_str());
        Ok::<_, RegistryError>(Deployed { version, active })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(deployed)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeParams {
    /// Who makes the change, for the record.
    who: Option<String>,
    /// Why, for the record.
    reason: Option<String>,
}

async fn activate(
    _auth: Authorized,
    State(state): State<Shared>,
    Path((kind, hash)): Path<(String, String)>,
    params: Result<Query<ChangeParams>, QueryRejection>,
) -> Result<Json<VersionInfo>, ApiError> {
    let Query(params) = params?;
    let registry = Arc::clone(&state.registry);
    let who = params.who.unwrap_or_else(|| "admin".into());
    let why = params.reason.unwrap_or_else(|| "activated through the admin API".into());
    Ok(Json(blocking(move || registry.activate(&kind, &hash, &who, &why)).await?))
}

async fn rollback(
    _auth: Authorized,
    State(state): State<Shared>,
    Path(kind): Path<String>,
    params: Result<Query<ChangeParams>, QueryRejection>,
) -> Result<Json<VersionInfo>, ApiError> {
    let Query(params) = params?;
    let registry = Arc::clone(&state.registry);
    let who = params.who.unwrap_or_else(|| "admin".into());
    let why = params.reason.unwrap_or_else(|| "rolled back through the admin API".into());
    Ok(Json(blocking(move || registry.rollback(&kind, &who, &why)).await?))
}

async fn history(
    State(state): State<Shared>,
    Path(kind): Path<String>,
) -> Result<Json<Vec<crate::registry::Activation>>, ApiError> {
    let registry = Arc::clone(&state.registry);
    Ok(Json(blocking(move || registry.history(&kind)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShadowParams {
    /// A stored version to shadow, instead of uploading one in the body.
    hash: Option<String>,
    /// Who starts it, for the record.
    who: Option<String>,
}

/// Starts a shadow of `kind`: the body is a new component (validated and stored, not
/// activated), or empty with `?hash=` naming a stored version.
async fn shadow_start(
    _auth: Authorized,
    State(state): State<Shared>,
    Path(kind): Path<String>,
    params: Result<Query<ShadowParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ShadowReport>), ApiError> {
    let Query(params) = params?;
    let body = body?;
    if body.len() > state.max_upload {
        return Err(RegistryError::TooLarge { size: body.len(), limit: state.max_upload }.into());
    }
    let who = params.who.unwrap_or_else(|| "admin".into());
    let ops = Arc::clone(&state.ops);
    let report = blocking(move || -> Result<ShadowReport, ApiError> {
        let hash = match (body.is_empty(), params.hash) {
            (false, None) => ops.registry().deploy(&body, Some(&kind), &who, false)?.hash,
            (true, Some(hash)) => hash,
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "send either a component in the body or ?hash= of a stored version, not both",
                ));
            }
        };
        Ok(ops.start_shadow(&kind, &hash, &who)?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(report)))
}

async fn shadow_report(State(state): State<Shared>, Path(kind): Path<String>) -> Result<Json<ShadowReport>, ApiError> {
    Ok(Json(state.ops.shadow_report(&kind)?))
}

#[derive(Serialize)]
struct Promoted {
    /// The shadow's final report.
    report: ShadowReport,
    /// The version now active.
    activated: VersionInfo,
}

async fn shadow_promote(
    _auth: Authorized,
    State(state): State<Shared>,
    Path(kind): Path<String>,
    params: Result<Query<WhoParams>, QueryRejection>,
) -> Result<Json<Promoted>, ApiError> {
    let who = params?.0.who.unwrap_or_else(|| "admin".into());
    let ops = Arc::clone(&state.ops);
    let (report, activated) = blocking(move || ops.promote_shadow(&kind, &who)).await?;
    Ok(Json(Promoted { report, activated }))
}

async fn shadow_drop(
    _auth: Authorized,
    State(state): State<Shared>,
    Path(kind): Path<String>,
    params: Result<Query<WhoParams>, QueryRejection>,
) -> Result<Json<ShadowReport>, ApiError> {
    let who = params?.0.who.unwrap_or_else(|| "admin".into());
    Ok(Json(state.ops.drop_shadow(&kind, &who)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WhoParams {
    /// Who asks, for the record.
    who: Option<String>,
}

async fn reprice(
    _auth: Authorized,
    State(state): State<Shared>,
    Path(kind): Path<String>,
    params: Result<Query<WhoParams>, QueryRejection>,
) -> Result<(StatusCode, Json<JobStatus>), ApiError> {
    let who = params?.0.who.unwrap_or_else(|| "admin".into());
    let ops = Arc::clone(&state.ops);
    let job = blocking(move || ops.reprice(&kind, &who)).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

async fn price_rollback(
    _auth: Authorized,
    State(state): State<Shared>,
    Path((kind, hash)): Path<(String, String)>,
    params: Result<Query<WhoParams>, QueryRejection>,
) -> Result<(StatusCode, Json<JobStatus>), ApiError> {
    let who = params?.0.who.unwrap_or_else(|| "admin".into());
    let ops = Arc::clone(&state.ops);
    let job = blocking(move || ops.price_rollback(&kind, &hash, &who)).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

async fn jobs(State(state): State<Shared>) -> Json<Vec<JobStatus>> {
    Json(state.ops.jobs())
}

async fn job(State(state): State<Shared>, Path(id): Path<u64>) -> Result<Json<JobStatus>, ApiError> {
    Ok(Json(state.ops.job(id)?))
}
