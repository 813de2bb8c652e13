//! The conformance kit: runs a plugin component, whatever language built it, against
//! a kind's cases file ([`pricing_sdk::conformance::CaseFile`]) and reports each case's
//! verdict, the plugin's metadata and its cost per departure. `pricing conform` prints
//! the report; operations run it before deploying a version.

use std::time::{Duration, Instant};

use pricing_sdk::PriceError;
use pricing_sdk::conformance::{CaseFile, DependencyCase, PriceCase};
use pricing_sdk::testing::{Case, Expect};
use pricing_sdk::wire::BatchBuilder;
use serde::Serialize;

use crate::engine::{Plugin, PluginError};

/// What was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// The plugin prices the file's kind.
    Kind,
    /// One pricing case, alone in its batch.
    Price,
    /// Every pricing case in one batch answers as it does alone.
    OneBatch,
    /// One dependency case.
    Dependencies,
}

/// The verdict on one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// What kind of check.
    pub check: Check,
    /// The case's name.
    pub name: String,
    /// Whether the plugin answered as expected.
    pub passed: bool,
    /// What was expected, readable.
    pub expected: String,
    /// What the plugin answered, readable.
    pub got: String,
}

/// What pricing costs through this plugin.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cost {
    /// Departures per timed batch.
    pub batch: usize,
    /// Timed batches.
    pub batches: usize,
    /// Median time per departure, nanoseconds.
    pub ns_per_departure: f64,
}

/// Runs every check of `cases` against `plugin`, in file order.
#[must_use]
pub fn check(plugin: &Plugin, cases: &CaseFile) -> Vec<Verdict> {
    let kind = &plugin.info().kind;
    let same_kind = *kind == cases.kind;
    let mut verdicts = vec![Verdict {
        check: Check::Kind,
        name: "the plugin prices the cases' kind".into(),
        passed: same_kind,
        expected: cases.kind.clone(),
        got: kind.clone(),
    }];
    if !same_kind {
        // Another kind's answers mean nothing against these cases.
        return verdicts;
    }
    let mut alone = Vec::with_capacity(cases.cases.len());
    for case in &cases.cases {
        let (verdict, outcome) = price_case(plugin, case);
        verdicts.push(verdict);
        alone.push(outcome);
    }
    verdicts.push(one_batch(plugin, &cases.cases, &alone));
    verdicts.extend(cases.dependencies.iter().map(|case| dependency_case(plugin, case)));
    verdicts
}

fn price_case(plugin: &Plugin, case: &PriceCase) -> (Verdict, Option<Result<i64, PriceError>>) {
    // A case that cannot run (its date is not a date) fails with the reason as its answer.
    let outcome = case
        .to_case()
        .map_err(|e| format!("bad case: {e}"))
        .and_then(|c| run(plugin, &c).map_err(|e| format!("plugin failure: {e}")));
    let (passed, got) = match &outcome {
        Ok(answer) => (case.expect.accepts(answer), describe(answer)),
        Err(failure) => (false, failure.clone()),
    };
    let verdict =
        Verdict { check: Check::Price, name: case.name.clone(), passed, expected: expectation(&case.expect), got };
    (verdict, outcome.ok())
}

/// One case through the component: its quotes decoded, one departure priced.
fn run(plugin: &Plugin, case: &Case) -> Result<Result<i64, PriceError>, PluginError> {
    case.try_run_with(
        |key, data| plugin.decode_quote(key, data),
        |batch| plugin.price_batch(batch, 1).map(crate::engine::BatchOutcome::into_batch_result),
    )
}

/// Prices every case whose quotes decode in one batch, resources shared in one table: a
/// plugin that mixes up departures or keeps state between them answers differently.
fn one_batch(plugin: &Plugin, cases: &[PriceCase], alone: &[Option<Result<i64, PriceError>>]) -> Verdict {
    let name = "every pricing case in one batch answers as it does alone".to_owned();
    let (mut batch, positions) = match build_batch(plugin, cases) {
        Ok(built) => built,
        Err(e) => return failed(Check::OneBatch, name, "the answers alone", format!("plugin failure: {e}")),
    };
    let n = positions.len();
    let together = match plugin.price_batch(batch.finish(), n) {
        Ok(outcome) => outcome.results,
        Err(e) => return failed(Check::OneBatch, name, "the answers alone", format!("plugin failure: {e}")),
    };
    let differing: Vec<String> = positions
        .iter()
        .zip(&together)
        .filter(|(i, answer)| alone[**i].as_ref().is_some_and(|a| !same_answer(a, answer)))
        .map(|(i, answer)| format!("{}: {} in the batch", cases[*i].name, describe(answer)))
        .collect();
    Verdict {
        check: Check::OneBatch,
        name,
        passed: differing.is_empty(),
        expected: format!("{n} departures as priced alone"),
        got: if differing.is_empty() { format!("{n} departures as priced alone") } else { differing.join("; ") },
    }
}

/// A batch of every case whose quotes decode, with the case index of each departure.
fn build_batch(plugin: &Plugin, cases: &[PriceCase]) -> Result<(BatchBuilder, Vec<usize>), PluginError> {
    let mut batch = BatchBuilder::new();
    let mut positions = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let Ok(c) = case.to_case() else { continue };
        let Some(resources) = decode(plugin, &c)? else { continue };
        let refs: Vec<u32> = resources.iter().map(|qs| batch.add_resource(qs.iter().map(Vec::as_slice))).collect();
        batch.add_departure(&c.context, &refs);
        positions.push(i);
    }
    Ok((batch, positions))
}

/// Each resource's quotes of `case` in stored form; `None` when the plugin refuses one.
fn decode(plugin: &Plugin, case: &Case) -> Result<Option<Vec<Vec<Vec<u8>>>>, PluginError> {
    let mut resources = Vec::with_capacity(case.resources.len());
    for resource in &case.resources {
        let mut quotes = Vec::with_capacity(resource.quotes.len());
        for q in &resource.quotes {
            match plugin.decode_quote(&resource.key, &q.to_string())? {
                Ok(quote) => quotes.push(quote),
                Err(_) => return Ok(None),
            }
        }
        resources.push(quotes);
    }
    Ok(Some(resources))
}

fn dependency_case(plugin: &Plugin, case: &DependencyCase) -> Verdict {
    let expected = match &case.expect {
        pricing_sdk::conformance::ExpectKeys::Keys(keys) => format!("keys {keys:?}"),
        pricing_sdk::conformance::ExpectKeys::Invalid => "invalid input".to_owned(),
    };
    let departure = match case.departure.to_departure() {
        Ok(d) => d,
        Err(e) => return failed(Check::Dependencies, case.name.clone(), &expected, format!("bad case: {e}")),
    };
    let answer = plugin.dependencies(&case.binding.to_string(), std::slice::from_ref(&departure));
    let (passed, got) = match answer {
        Ok(keys) => {
            let keys = keys.map(|mut per_departure| per_departure.pop().unwrap_or_default());
            let got = match &keys {
                Ok(k) => format!("keys {k:?}"),
                Err(e) => describe_error(e),
            };
            (case.expect.accepts(&keys), got)
        }
        Err(e) => (false, format!("plugin failure: {e}")),
    };
    Verdict { check: Check::Dependencies, name: case.name.clone(), passed, expected, got }
}

fn failed(check: Check, name: String, expected: &str, got: String) -> Verdict {
    Verdict { check, name, passed: false, expected: expected.to_owned(), got }
}

/// Same price, or the same class of refusal (reasons may be worded differently).
fn same_answer(a: &Result<i64, PriceError>, b: &Result<i64, PriceError>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x == y,
        (Err(PriceError::Unavailable(_)), Err(PriceError::Unavailable(_)))
        | (Err(PriceError::InvalidInput(_)), Err(PriceError::InvalidInput(_))) => true,
        _ => false,
    }
}

fn expectation(expect: &Expect) -> String {
    match expect {
        Expect::Price(p) => format!("price {p}"),
        Expect::Unavailable => "unavailable".into(),
        Expect::Invalid => "invalid input".into(),
    }
}

fn describe(answer: &Result<i64, PriceError>) -> String {
    match answer {
        Ok(p) => format!("price {p}"),
        Err(e) => describe_error(e),
    }
}

fn describe_error(e: &PriceError) -> String {
    match e {
        PriceError::Unavailable(why) => format!("unavailable ({why})"),
        PriceError::InvalidInput(why) => format!("invalid input ({why})"),
    }
}

/// Times pricing batches of `batch` departures drawn in turn from the cases that price
/// (their quotes decode and they expect a price), for at least `min_time` and at least
/// 5 batches after one warm-up. `None` when no case prices.
///
/// # Errors
/// The plugin failing as a whole (a trap, a timeout) while timed.
pub fn cost(plugin: &Plugin, cases: &CaseFile, batch: usize, min_time: Duration) -> Result<Option<Cost>, PluginError> {
    let mut pricing = Vec::new();
    for case in &cases.cases {
        let Ok(c) = case.to_case() else { continue };
        if matches!(c.expect, Expect::Price(_))
            && let Some(resources) = decode(plugin, &c)?
        {
            pricing.push((c, resources));
        }
    }
    if pricing.is_empty() || batch == 0 {
        return Ok(None);
    }
    // The pricing cases' departures repeated up to the batch size over one shared
    // resource table, as in a real batch where many departures use the same resources.
    let mut full = BatchBuilder::new();
    let refs: Vec<Vec<u32>> = pricing
        .iter()
        .map(|(_, resources)| resources.iter().map(|qs| full.add_resource(qs.iter().map(Vec::as_slice))).collect())
        .collect();
    for i in 0..batch {
        let k = i % pricing.len();
        full.add_departure(&pricing[k].0.context, &refs[k]);
    }
    let bytes = full.finish().to_vec();
    plugin.price_batch(&bytes, batch)?;
    let mut samples = Vec::new();
    let started = Instant::now();
    while samples.len() < 5 || started.elapsed() < min_time {
        let t = Instant::now();
        plugin.price_batch(&bytes, batch)?;
        samples.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }
    samples.sort_by(f64::total_cmp);
    Ok(Some(Cost { batch, batches: samples.len(), ns_per_departure: samples[samples.len() / 2] }))
}
