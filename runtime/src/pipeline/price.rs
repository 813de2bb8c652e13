//! Pricing the departures a batch touched: each once, with one plugin call per kind
//! (and per adjustment step), then composing and versioning the prices.

use std::collections::{BTreeMap, HashMap};

use pricing_sdk::money::round_up_to_unit;
use pricing_sdk::wire::{BatchBuilder, DepartureContext};
use pricing_sdk::{PriceError, Role};

use super::{BatchOutput, Cause, PipelineConfig};
use crate::engine::PluginSet;
use crate::state::{ComponentAmount, DeparturePrice, DepartureRecord, ProductPrice, State, StateError, Status};

/// One departure being priced: its definition and its components' results so far.
struct Job<'a> {
    id: &'a str,
    cause: &'a Cause,
    record: Option<DepartureRecord>,
    results: Vec<Option<Result<i64, String>>>,
}

impl Job<'_> {
    fn failed(&self) -> bool {
        self.results.iter().any(|r| matches!(r, Some(Err(_))))
    }

    fn subtotal(&self) -> i64 {
        self.results.iter().flatten().flatten().sum()
    }
}

pub(crate) fn price_affected(
    config: &PipelineConfig,
    state: &State,
    plugins: &PluginSet,
    out: &mut BatchOutput,
    affected: &BTreeMap<String, Cause>,
    priced_at: &str,
) -> Result<(), StateError> {
    let mut jobs = Vec::with_capacity(affected.len());
    for (id, cause) in affected {
        let record = out.pending.departure(state, id)?;
        let results = record.as_ref().map(|r| vec![None; r.components.len()]).unwrap_or_default();
        jobs.push(Job { id, cause, record, results });
    }

    // Components first, one call per kind; then adjustments in product order, one call per
    // (step, kind), each on the subtotal so far.
    let mut kinds: Vec<(String, Role)> = plugins.iter().map(|(k, p)| (k.to_owned(), p.info().role)).collect();
    kinds.sort_by_key(|(k, role)| (*role == Role::Adjustment, k.clone()));
    for (kind, _) in kinds.iter().filter(|(_, r)| *r == Role::Component) {
        let slots = |job: &Job<'_>| -> Vec<usize> {
            job.record.as_ref().map_or_else(Vec::new, |r| {
                r.components.iter().enumerate().filter(|(_, c)| c.kind == *kind).map(|(i, _)| i).collect()
            })
        };
        run_kind(state, plugins, out, &mut jobs, kind, Role::Component, slots)?;
    }
    let max_steps = jobs
        .iter()
        .filter_map(|j| j.record.as_ref())
        .map(|r| r.components.iter().filter(|c| is_adjustment(plugins, &c.kind)).count())
        .max()
        .unwrap_or(0);
    for step in 0..max_steps {
        for (kind, _) in kinds.iter().filter(|(_, r)| *r == Role::Adjustment) {
            let slots = |job: &Job<'_>| -> Vec<usize> {
                if job.failed() {
                    return Vec::new();
                }
                job.record.as_ref().map_or_else(Vec::new, |r| {
                    r.components
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| is_adjustment(plugins, &c.kind))
                        .nth(step)
                        .filter(|(_, c)| c.kind == *kind)
                        .map(|(i, _)| vec![i])
                        .unwrap_or_default()
                })
            };
            run_kind(state, plugins, out, &mut jobs, kind, Role::Adjustment, slots)?;
        }
    }

    let mut touched_products: BTreeMap<String, &Cause> = BTreeMap::new();
    for job in &jobs {
        out.stats.departures_priced += u64::from(job.record.is_some());
        let Some(price) = compose(config, plugins, job, priced_at) else { continue };
        let current = out.pending.price(state, job.id)?;
        if let Some(cur) = &current
            && cur.same_offer(&price)
        {
            continue;
        }
        if current.is_none() && price.status == Status::Retired {
            continue;
        }
        let price = DeparturePrice { version: current.map_or(1, |c| c.version + 1), ..price };
        touched_products.insert(price.product.clone(), job.cause);
        out.pending.put_price(price.clone());
        out.departures.push(price);
    }
    out.stats.departure_records += out.departures.len() as u64;

    for (product, cause) in touched_products {
        let prices = out.pending.product_departure_prices(state, &product)?;
        let next = starting_prices(config, &product, &prices, cause, priced_at);
        let current = out.pending.product_price(state, &product)?;
        if current.as_ref().is_some_and(|c| c.same_offer(&next)) {
            continue;
        }
        let next = ProductPrice { version: current.map_or(1, |c| c.version + 1), ..next };
        out.pending.put_product_price(next.clone());
        out.products.push(next);
    }
    out.stats.product_records += out.products.len() as u64;
    Ok(())
}

fn is_adjustment(plugins: &PluginSet, kind: &str) -> bool {
    plugins.get(kind).is_some_and(|p| p.info().role == Role::Adjustment)
}

/// Builds one batch for `kind` over the jobs' `slots`, calls the plugin once, and
/// stores each slot's result.
fn run_kind<'a>(
    state: &State,
    plugins: &PluginSet,
    out: &mut BatchOutput,
    jobs: &mut [Job<'a>],
    kind: &str,
    role: Role,
    slots: impl Fn(&Job<'a>) -> Vec<usize>,
) -> Result<(), StateError> {
    let Some(plugin) = plugins.get(kind) else { return Ok(()) };
    let mut batch = BatchBuilder::new();
    let mut resources: HashMap<&str, u32> = HashMap::new();
    let mut placed: Vec<(usize, usize)> = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        let Some(record) = &job.record else { continue };
        for c in slots(job) {
            let comp = &record.components[c];
            let mut refs = Vec::with_capacity(comp.keys.len());
            for key in &comp.keys {
                let index = match resources.get(key.as_str()) {
                    Some(i) => *i,
                    None => {
                        let quotes = out.pending.resource_quotes(state, kind, key)?;
                        let i = batch.add_resource(quotes.iter().map(Vec::as_slice));
                        resources.insert(key.as_str(), i);
                        i
                    }
                };
                refs.push(index);
            }
            let ctx = DepartureContext {
                date: record.date,
                nights: record.nights,
                pax: record.pax,
                markup_bp: comp.markup_bp,
                subtotal: if role == Role::Adjustment { job.subtotal() } else { 0 },
            };
            batch.add_departure(&ctx, &refs);
            placed.push((j, c));
        }
    }
    if placed.is_empty() {
        return Ok(());
    }
    let outcome = plugin.price_batch(batch.finish(), placed.len());
    match outcome {
        Ok(outcome) => {
            for ((j, c), result) in placed.into_iter().zip(outcome.results) {
                jobs[j].results[c] = Some(result.map_err(|e| match e {
                    PriceError::Unavailable(r) => format!("{kind}: {r}"),
                    PriceError::InvalidInput(r) => format!("{kind}: invalid input: {r}"),
                }));
            }
        }
        Err(e) => {
            // The departures cannot be priced by these rules now: they are not sellable,
            // and say why. The failure is counted; the stream goes on.
            out.stats.plugin_failures += 1;
            tracing::warn!(plugin = plugin.id(), error = %e, departures = placed.len(), "plugin failed on a pricing batch");
            for (j, c) in placed {
                jobs[j].results[c] = Some(Err(format!("{kind}: plugin failure: {e}")));
            }
        }
    }
    Ok(())
}

/// The departure's price from its component results; `None` when there is nothing to
/// say (an unknown departure that was never priced).
fn compose(config: &PipelineConfig, plugins: &PluginSet, job: &Job<'_>, priced_at: &str) -> Option<DeparturePrice> {
    let mut parts = job.id.splitn(3, ':');
    let (product, city, date) = (parts.next()?, parts.next()?, parts.next()?);
    let mut price = DeparturePrice {
        product: product.to_owned(),
        city: city.to_owned(),
        date: date.to_owned(),
        status: Status::Retired,
        price: None,
        reason: None,
        currency: config.currency.clone(),
        components: Vec::new(),
        rules: BTreeMap::new(),
        version: 0,
        cause: job.cause.id.clone(),
        event_ts: job.cause.ts.clone(),
        priced_at: priced_at.to_owned(),
    };
    let Some(record) = &job.record else { return Some(price) };
    for (comp, result) in record.components.iter().zip(&job.results) {
        if let Some(p) = plugins.get(&comp.kind) {
            price.rules.insert(comp.kind.clone(), p.id().to_owned());
        }
        match result {
            Some(Ok(amount)) => price.components.push(ComponentAmount { kind: comp.kind.clone(), amount: *amount }),
            Some(Err(reason)) if price.reason.is_none() => price.reason = Some(reason.clone()),
            _ => {}
        }
    }
    if price.reason.is_some() {
        price.status = Status::Unavailable;
        price.components.clear();
    } else {
        price.status = Status::Available;
        price.price = Some(round_up_to_unit(job.subtotal().max(0)));
    }
    Some(price)
}

/// A product's starting prices over its current departure prices.
fn starting_prices(
    config: &PipelineConfig,
    product: &str,
    prices: &[DeparturePrice],
    cause: &Cause,
    priced_at: &str,
) -> ProductPrice {
    let mut next = ProductPrice {
        product: product.to_owned(),
        from_price: None,
        city: None,
        date: None,
        per_city: BTreeMap::new(),
        available: 0,
        currency: config.currency.clone(),
        version: 0,
        cause: cause.id.clone(),
        event_ts: cause.ts.clone(),
        priced_at: priced_at.to_owned(),
    };
    // The cheapest; ties go to the earliest date, then the city first in order.
    let mut best: Option<(i64, &str, &str)> = None;
    for p in prices.iter().filter(|p| p.status == Status::Available) {
        let Some(amount) = p.price else { continue };
        next.available += 1;
        let city_min = next.per_city.entry(p.city.clone()).or_insert(amount);
        *city_min = (*city_min).min(amount);
        let candidate = (amount, p.date.as_str(), p.city.as_str());
        if best.is_none_or(|b| candidate < b) {
            best = Some(candidate);
        }
    }
    if let Some((amount, date, city)) = best {
        next.from_price = Some(amount);
        next.city = Some(city.to_owned());
        next.date = Some(date.to_owned());
    }
    next
}
