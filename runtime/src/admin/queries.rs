//! The read-only JSON the operations console is built on: rules with their figures,
//! product search, price calendars, departure histories, the recent timeline and the
//! latest dead letters. No token: they change nothing, like `GET /plugins`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::routes::{ApiError, Shared, blocking};
use crate::metrics::{Timeline, VersionFigures};
use crate::ops::ShadowReport;
use crate::pipeline::DeadLetter;
use crate::registry::VersionInfo;
use crate::state::{Committer, DeparturePrice, ProductPrice, StateError};

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        tracing::error!(error = %e, "admin query failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

/// The committed state's read handles, or 503 while the engine is starting.
fn reader(state: &Shared) -> Result<Committer, ApiError> {
    state
        .ops
        .state_reader()
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the state is not open yet"))
}

/// One version of a kind, with its figures since start.
#[derive(Serialize)]
struct RuleVersion {
    #[serde(flatten)]
    info: VersionInfo,
    /// Whether it is the kind's active version.
    active: bool,
    /// Its pricing calls since the engine started (none yet: `null`).
    figures: Option<VersionFigures>,
}

/// A kind's versions and its shadow run, if one is running.
#[derive(Serialize)]
struct KindRules {
    kind: String,
    /// `kind@version+hash8` of the active version.
    active: Option<String>,
    versions: Vec<RuleVersion>,
    shadow: Option<ShadowReport>,
}

#[derive(Serialize)]
pub(super) struct Rules {
    kinds: Vec<KindRules>,
    /// Versions rolled back automatically since start.
    auto_rollbacks: u64,
}

pub(super) async fn rules(State(state): State<Shared>) -> Result<Json<Rules>, ApiError> {
    let registry = Arc::clone(&state.registry);
    let listed = blocking(move || registry.list()).await?;
    let figures = state.ops.metrics().versions();
    let shadows: BTreeMap<String, ShadowReport> =
        state.ops.shadows().iter().map(|s| (s.kind.clone(), s.report())).collect();
    let kinds = listed
        .into_iter()
        .map(|k| {
            let versions: Vec<RuleVersion> = k
                .versions
                .into_iter()
                .map(|info| RuleVersion {
                    active: k.active.as_deref() == Some(info.hash.as_str()),
                    figures: figures.get(&info.id).cloned(),
                    info,
                })
                .collect();
            KindRules {
                active: versions.iter().find(|v| v.active).map(|v| v.info.id.clone()),
                shadow: shadows.get(&k.kind).cloned(),
                kind: k.kind,
                versions,
            }
        })
        .collect();
    Ok(Json(Rules { kinds, auto_rollbacks: state.ops.auto_rollbacks() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchParams {
    /// Part of the product key (case-insensitive); empty lists the first products.
    #[serde(default)]
    q: String,
    /// At most this many (default 20, at most 200).
    limit: Option<usize>,
}

pub(super) async fn products(
    State(state): State<Shared>,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<Vec<ProductPrice>>, ApiError> {
    let Query(params) = params?;
    let reader = reader(&state)?;
    let limit = params.limit.unwrap_or(20).clamp(1, 200);
    Ok(Json(blocking(move || reader.find_products(&params.q, limit)).await?))
}

/// A product's calendar: its starting prices and every departure's current price.
#[derive(Serialize)]
pub(super) struct Calendar {
    product: String,
    from: Option<ProductPrice>,
    /// In key order: city, then date.
    departures: Vec<DeparturePrice>,
}

pub(super) async fn calendar(
    State(state): State<Shared>,
    Path(product): Path<String>,
) -> Result<Json<Calendar>, ApiError> {
    let reader = reader(&state)?;
    let calendar = blocking(move || {
        let departures = reader.product_departure_prices(&product)?;
        let from = reader.product_price(&product)?;
        Ok::<_, StateError>(Calendar { product, from, departures })
    })
    .await?;
    if calendar.departures.is_empty() && calendar.from.is_none() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no prices for product {:?}", calendar.product)));
    }
    Ok(Json(calendar))
}

pub(super) async fn history(
    State(state): State<Shared>,
    Path(departure): Path<String>,
) -> Result<Json<Vec<DeparturePrice>>, ApiError> {
    let reader = reader(&state)?;
    let key = departure.clone();
    let versions = blocking(move || reader.history(&key)).await?;
    if versions.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no price history for departure {departure:?} (key: PRODUCT:CITY:DATE)"),
        ));
    }
    Ok(Json(versions))
}

pub(super) async fn live(State(state): State<Shared>) -> Json<Timeline> {
    Json(state.ops.metrics().recent().timeline(crate::intake::now_millis()))
}

pub(super) async fn dead_letters(State(state): State<Shared>) -> Json<Vec<DeadLetter>> {
    Json(state.ops.metrics().recent().dead_letters())
}
