//! Pricing the departures a batch touched: each once, with one plugin call per kind
//! (and per adjustment step; per `max_call_departures` departures of it) for the
//! components whose inputs changed, then composing and versioning the prices.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pricing_sdk::money::round_up_to_unit;
use pricing_sdk::wire::{BatchBuilder, DepartureContext};
use pricing_sdk::{PriceError, Role};

use super::apply::Affected;
use super::reuse::Reuse;
use super::{BatchOutput, Cause, PipelineConfig, PluginCall, ShadowDiff, ShadowSpec, Stats, empty_keeping};
use crate::engine::{BatchOutcome, Plugin, PluginError, PluginSet};
use crate::state::{
    Cheapest, ComponentAmount, Definition, Offer, PriceRef, ProductPrice, Quotes, ResourceSlot, Slot, StateError,
    Status, Writer, departure_parts, json_record,
};

/// One departure being priced: its definition, and where its components' results are
/// in [`Jobs::results`].
struct Job {
    id: Arc<str>,
    slot: Slot,
    cause: u32,
    record: Option<Arc<Definition>>,
    first: usize,
}

/// A component's result: none yet, an amount, or why there is none.
type Outcome = Option<Result<i64, String>>;

/// A batch's jobs and their components' results, one run per job in one table rather
/// than a table per job (hundreds of thousands of allocations a batch).
#[derive(Default)]
struct Jobs {
    list: Vec<Job>,
    results: Vec<Outcome>,
}

impl Jobs {
    fn push(&mut self, id: Arc<str>, slot: Slot, cause: u32, record: Option<Arc<Definition>>) {
        let first = self.results.len();
        let n = record.as_ref().map_or(0, |r| r.components.len());
        self.results.resize(first + n, None);
        self.list.push(Job { id, slot, cause, record, first });
    }

    /// The results of `job`, by component.
    fn results(&self, job: &Job) -> &[Outcome] {
        let n = job.record.as_ref().map_or(0, |r| r.components.len());
        &self.results[job.first..job.first + n]
    }

    fn set(&mut self, j: usize, c: usize, outcome: Result<i64, String>) {
        let at = self.list[j].first + c;
        self.results[at] = Some(outcome);
    }

    fn empty(&mut self) {
        empty_keeping(&mut self.list);
        empty_keeping(&mut self.results);
    }
}

fn failed(results: &[Outcome]) -> bool {
    results.iter().any(|r| matches!(r, Some(Err(_))))
}

fn subtotal(results: &[Outcome]) -> i64 {
    results.iter().flatten().flatten().sum()
}

/// What pricing a batch needs beyond its results, kept for the next batch: a batch
/// fills tables of hundreds of thousands of entries (tens of MB). Grown afresh each
/// time, they showed in a profile as copies while growing and pages zeroed by the kernel
/// (about 8 % of the pricing thread's samples), though keeping them was not measurably
/// faster end to end. Each keeps room for up to twice what the last batch used (as
/// `Lines` does), so a spike's memory is given back after it.
#[derive(Default)]
pub(crate) struct Scratch {
    marked: Vec<([u64; 3], Arc<str>, Slot, u32)>,
    jobs: Jobs,
    work: Work,
    /// The offer the last new version replaced, filled again by the next job.
    offer: Offer,
    /// Component amounts kept from each departure's last pricing.
    reuse: Reuse,
}

/// Prices every marked departure with `plugins` (and again with each shadow candidate,
/// for comparison only), writes the new versions, and adds the products whose starting
/// prices may have moved to `touched`.
#[allow(clippy::too_many_arguments)] // one batch's whole context; split, it would only be regrouped
pub(crate) fn price_affected(
    config: &PipelineConfig,
    writer: &mut Writer<'_>,
    plugins: &PluginSet,
    out: &mut BatchOutput,
    mut affected: Affected,
    priced_at: &str,
    shadows: &[ShadowSpec<'_>],
    touched: &mut BTreeMap<String, Cause>,
    scratch: &mut Scratch,
) -> Result<(), StateError> {
    let Scratch { marked, jobs, work, offer, reuse } = scratch;
    // The last batch's tables, emptied here rather than at its end, so that an error
    // part-way needs no clean-up. Its marks were drained into as many jobs.
    let priced_last = jobs.list.len();
    jobs.empty();
    marked.shrink_to(priced_last.saturating_mul(2));
    marked.extend(affected.marks_by_slot().map(|(slot, cause)| {
        let id = writer.id(slot);
        (id_prefix(id), Arc::clone(id), slot, cause)
    }));
    let Affected { causes, op_cause, .. } = affected;
    // Output in key order, whatever order the events marked them in. In slot order the
    // marks are mostly sorted already: a stable sort merges the runs it finds, where an
    // unstable one would sort them all over again.
    marked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    jobs.list.reserve(marked.len());
    for (_, id, slot, cause) in marked.drain(..) {
        let record = writer.departure(slot)?;
        jobs.push(id, slot, cause, record);
    }
    reuse.begin(plugins, writer.changed_resources());
    let max_call = config.max_call_departures;
    compute(writer.quotes(), plugins, jobs, &mut out.stats, work, Some(reuse), max_call)?;
    for spec in shadows {
        shadow(writer, spec, jobs, out, max_call)?;
    }

    let mut rules = Vec::new();
    let mut rules_for = None;
    // The product of the versions being written and the cause of its last one. Versions
    // come in key order, so a product's are one run: it is noted in `touched` once, when
    // the run ends, with the cause of its last version, instead of a lookup (and, as a
    // flight's events each touch a few of a product's dates, a cause cloned) per version.
    let mut run = (String::new(), None::<u32>);
    for job in &jobs.list {
        out.stats.departures_priced += u64::from(job.record.is_some());
        outcome_into(job, jobs.results(job), offer);
        offer.version = match writer.offer(job.slot)? {
            Some(cur) if cur.same_offer(offer) => continue,
            Some(cur) => cur.version + 1,
            None if offer.status == Status::Retired => continue,
            None => 1,
        };
        let cause = &causes[job.cause as usize];
        // Neighbours in key order are mostly one product's departures, with the same
        // component kinds: the same rules, no lookups.
        if !rules_for.is_some_and(|prev: &Job| same_kinds(prev, job)) {
            rules_of(plugins, job, &mut rules);
            rules_for = Some(job);
        }
        let Some(price) = record(config, job, offer, &rules, cause, priced_at) else { continue };
        if run.0 != price.product {
            if let Some(last) = run.1 {
                note_touched(touched, &run.0, &causes[last as usize]);
            }
            run.0.clear();
            run.0.push_str(price.product);
        }
        run.1 = Some(job.cause);
        out.stats.reprice_records += u64::from(op_cause == Some(job.cause));
        let rule_set = writer.rule_set(price.rules)?;
        let stored = emit_price(out, &job.id, &price, rule_set, cause);
        writer.put_price_swap(job.slot, &job.id, offer, stored)?;
    }
    if let Some(last) = run.1 {
        note_touched(touched, &run.0, &causes[last as usize]);
    }
    Ok(())
}

/// Notes that `cause` is the last to have changed one of `product`'s departure prices.
pub(super) fn note_touched(touched: &mut BTreeMap<String, Cause>, product: &str, cause: &Cause) {
    match touched.get_mut(product) {
        Some(to) if to == cause => {}
        Some(to) => *to = cause.clone(),
        None => {
            touched.insert(product.to_owned(), cause.clone());
        }
    }
}

/// The first 24 bytes of `id` (zero-padded) as big-endian integers: ordered as the
/// bytes are, so sorting by it, then by the whole id for ties, is sorting by id. Ids of
/// a product's departures (`PRODUCT:CITY:DATE`) mostly differ within them, so most
/// comparisons of a batch's sort compare integers instead of following two pointers.
fn id_prefix(id: &str) -> [u64; 3] {
    let mut bytes = [0u8; 24];
    let n = id.len().min(24);
    bytes[..n].copy_from_slice(&id.as_bytes()[..n]);
    let word = |i: usize| u64::from_be_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or_default());
    [word(0), word(1), word(2)]
}

/// Adds a new departure price version made by `cause` to the batch's output, under
/// `key` (the departure's id, `price.key()`), and returns its history value, which
/// names its rules by the id of `rule_set` ([`Writer::rule_set`]: its id and JSON), for
/// [`Writer::put_price_swap`]. Storing is left to the caller: `price` borrows the offer
/// that `put_price_swap` takes.
///
/// The output record is that history value itself ([`PriceLines`](super::PriceLines)): storing copies
/// it into its product's `log` entry, so no version needs a buffer of its own, and its
/// JSON is rendered by whoever reads it.
pub(super) fn emit_price<'o>(
    out: &'o mut BatchOutput,
    key: &str,
    price: &PriceRef<'_>,
    rule_set: (u32, &[u8]),
    cause: &Cause,
) -> &'o [u8] {
    if let Some(ms) = cause.ts_ms {
        out.caused_at_ms.push(ms);
    }
    out.stats.departure_records += 1;
    out.departures.push_with(key, rule_set, |stored| price.write_stored(rule_set.0, stored))
}

/// Recomputes the starting prices of the `touched` products and emits those that
/// changed, each naming the last cause that touched it.
pub(crate) fn emit_starting(
    config: &PipelineConfig,
    writer: &mut Writer<'_>,
    out: &mut BatchOutput,
    touched: BTreeMap<String, Cause>,
    priced_at: &str,
) -> Result<(), StateError> {
    for (product, cause) in touched {
        let prices = writer.product_prices(&product)?;
        let version = match prices.starting() {
            Some(c) if prices.cheapest().shown_by(c) => continue,
            Some(c) => c.version + 1,
            None => 1,
        };
        let next = ProductPrice { version, ..starting_prices(config, &product, prices.cheapest(), &cause, priced_at) };
        let json = json_record(&next);
        out.products.push(&product, &json);
        out.stats.product_records += 1;
        writer.put_product_price(next, json)?;
    }
    Ok(())
}

/// Fills every job's results: components first, each kept from the departure's last
/// pricing when nothing it depends on changed (with `reuse`), the others with one call
/// per kind (per `max_call` departures), the calls shared between this thread and a
/// helper; then adjustments in product order, one call per (step, kind) (per `max_call`
/// departures), each on the subtotal so far.
fn compute(
    quotes: Quotes<'_>,
    plugins: &PluginSet,
    jobs: &mut Jobs,
    stats: &mut Stats,
    work: &mut Work,
    reuse: Option<&mut Reuse>,
    max_call: usize,
) -> Result<(), StateError> {
    let mut kinds: Vec<(&str, Role, &Plugin)> = plugins.iter().map(|(k, p)| (k, p.info().role, &**p)).collect();
    kinds.sort_by_key(|(k, role, _)| (*role == Role::Adjustment, *k));
    let Work { groups, call, helper } = work;
    groups.fill(&jobs.list, &kinds, reuse.as_deref());
    stats.components_reused += groups.reused.len() as u64;
    for (j, c, amount) in groups.reused.drain(..) {
        jobs.set(j, c, Ok(amount));
    }
    call.reset(quotes.count());
    let mut components: Vec<Part<'_>> = kinds
        .iter()
        .zip(&groups.components)
        .filter(|((_, role, _), _)| *role == Role::Component)
        .flat_map(|((kind, _, plugin), placed)| {
            parts(placed.pairs.len(), max_call).map(move |range| Part { placed, range, kind, plugin })
        })
        .collect();
    // The heaviest first, so that the last to finish is a light one.
    components.sort_by_key(|p| (std::cmp::Reverse(p.weight()), p.kind, p.range.start));
    call_components(quotes, &components, jobs, stats, call, helper)?;
    if let Some(reuse) = reuse {
        // Only components have results yet: adjustments are called below.
        for job in &jobs.list {
            let results = jobs.results(job);
            reuse.keep(job.slot, job.record.as_ref(), |c| results[c].as_ref().and_then(|r| r.as_ref().ok()).copied());
        }
    }
    for step in &groups.adjustments[..groups.steps] {
        for (k, &(kind, role, plugin)) in kinds.iter().enumerate() {
            if role != Role::Adjustment {
                continue;
            }
            for range in parts(step[k].pairs.len(), max_call) {
                if let Some(called) = call_kind(quotes, plugin, &step[k], range, Some(jobs), call)? {
                    store(stats, jobs, kind, plugin, &call.called, called);
                }
            }
        }
    }
    Ok(())
}

/// One plugin call of a component kind: the pairs `range` of its `placed`.
struct Part<'a> {
    placed: &'a Placed,
    range: Range<usize>,
    kind: &'a str,
    plugin: &'a Plugin,
}

impl Part<'_> {
    /// How much building and making the call costs, roughly: its departures and their
    /// resources.
    fn weight(&self) -> usize {
        let resources = self.placed.resources_before(self.range.end) - self.placed.resources_before(self.range.start);
        self.range.len() + resources
    }

    fn pairs(&self) -> &[(usize, usize)] {
        &self.placed.pairs[self.range.clone()]
    }
}

/// `0..n` cut into ranges of at most `max` (at least 1), in order; none for `n` = 0.
fn parts(n: usize, max: usize) -> impl Iterator<Item = Range<usize>> {
    let max = max.max(1);
    (0..n.div_ceil(max)).map(move |i| i * max..((i + 1) * max).min(n))
}

/// Makes the component kinds' plugin calls on this thread and a helper: each takes the
/// next call not taken until none is left. A component's call needs no other's result,
/// and a plugin keeps an instance for each caller, so the calls run side by side;
/// building a call's input (gathering each departure's resources) costs more than the
/// call itself. Only this thread writes the results.
fn call_components(
    quotes: Quotes<'_>,
    components: &[Part<'_>],
    jobs: &mut Jobs,
    stats: &mut Stats,
    call: &mut Call,
    helper: &mut Call,
) -> Result<(), StateError> {
    let next = AtomicUsize::new(0);
    let take = || components.get(next.fetch_add(1, Ordering::Relaxed));
    std::thread::scope(|scope| {
        let helped = (components.len() > 1).then(|| {
            scope.spawn(|| {
                // Readied here, on the helper, and only when there is one.
                helper.reset(quotes.count());
                let mut done = Vec::new();
                while let Some(part) = take() {
                    if let Some(called) = call_kind(quotes, part.plugin, part.placed, part.range.clone(), None, helper)?
                    {
                        done.push((part, called));
                    }
                }
                Ok::<_, StateError>(done)
            })
        });
        while let Some(part) = take() {
            if let Some(called) = call_kind(quotes, part.plugin, part.placed, part.range.clone(), None, call)? {
                store(stats, jobs, part.kind, part.plugin, part.pairs(), called);
            }
        }
        let Some(helped) = helped else { return Ok(()) };
        let done = helped.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        for (part, called) in done {
            store(stats, jobs, part.kind, part.plugin, part.pairs(), called);
        }
        Ok(())
    })
}

/// The tables [`compute`] fills, kept from call to call (see [`Scratch`]).
#[derive(Default)]
struct Work {
    groups: Groups,
    /// This thread's calls.
    call: Call,
    /// The helper's component calls ([`call_components`]).
    helper: Call,
}

/// What one plugin call prices: (job, component) pairs, each with its departure's
/// context and its resources' slots. Gathered in one pass over the jobs, where each
/// departure's definition is read once, rather than once per call: a batch holds
/// hundreds of thousands of components, and reading a definition is a cache miss.
#[derive(Clone, Default)]
struct Placed {
    /// (job, component) pairs.
    pairs: Vec<(usize, usize)>,
    /// By pair: the departure's context (an adjustment's subtotal is set at call time).
    contexts: Vec<DepartureContext>,
    /// By pair: the end of its resources in `resources` (each starts where the last ends).
    ends: Vec<u32>,
    /// Every pair's resources in turn.
    resources: Vec<ResourceSlot>,
}

impl Placed {
    fn empty(&mut self) {
        empty_keeping(&mut self.pairs);
        empty_keeping(&mut self.contexts);
        empty_keeping(&mut self.ends);
        empty_keeping(&mut self.resources);
    }

    fn push(&mut self, j: usize, c: usize, record: &Definition) {
        let comp = &record.components[c];
        self.pairs.push((j, c));
        self.contexts.push(DepartureContext {
            date: record.date,
            nights: record.nights,
            pax: record.pax,
            markup_bp: comp.markup_bp,
            subtotal: 0,
        });
        self.resources.extend_from_slice(record.resources(c));
        self.ends.push(self.resources.len() as u32);
    }

    /// How many resources the pairs before pair `i` have in `resources`: where pair `i`'s
    /// start.
    fn resources_before(&self, i: usize) -> usize {
        i.checked_sub(1).map_or(0, |last| self.ends[last] as usize)
    }
}

/// Every plugin call of a batch, found in one pass over the jobs.
#[derive(Default)]
struct Groups {
    /// By kind index: the components of a component kind.
    components: Vec<Placed>,
    /// By step, then kind index: each job's `step`-th adjustment, of that kind. Only the
    /// first `steps` are this batch's; the others are kept empty for a later one.
    adjustments: Vec<Vec<Placed>>,
    steps: usize,
    /// (job, component, amount) of the components kept from their departure's last
    /// pricing ([`Reuse`]): no call prices them.
    reused: Vec<(usize, usize, i64)>,
}

impl Groups {
    /// Empties the groups and fills them with `jobs`' calls, leaving out (into
    /// `reused`) the components that `reuse` kept.
    fn fill(&mut self, jobs: &[Job], kinds: &[(&str, Role, &Plugin)], reuse: Option<&Reuse>) {
        let g = self;
        for placed in g.components.iter_mut().chain(g.adjustments.iter_mut().flatten()) {
            placed.empty();
        }
        g.components.resize_with(kinds.len(), Placed::default);
        for step in &mut g.adjustments {
            step.resize_with(kinds.len(), Placed::default);
        }
        g.steps = 0;
        g.reused.clear();
        for (j, job) in jobs.iter().enumerate() {
            let Some(record) = &job.record else { continue };
            let mut step = 0;
            for (c, comp) in record.components.iter().enumerate() {
                // A kind without a plugin is left unpriced, as it was.
                let Some(k) = kinds.iter().position(|(name, _, _)| *name == &*comp.kind) else { continue };
                if kinds[k].1 == Role::Component {
                    match reuse.and_then(|r| r.amount(job.slot, record, c)) {
                        Some(amount) => g.reused.push((j, c, amount)),
                        None => g.components[k].push(j, c, record),
                    }
                    continue;
                }
                if g.adjustments.len() == step {
                    g.adjustments.push(vec![Placed::default(); kinds.len()]);
                }
                g.adjustments[step][k].push(j, c, record);
                step += 1;
                g.steps = g.steps.max(step);
            }
        }
    }
}

/// Prices again, with a shadow candidate's set, the jobs that use its kind, and records
/// both outcomes. Nothing of it is written: the candidate's calls are counted apart.
fn shadow(
    writer: &mut Writer<'_>,
    spec: &ShadowSpec<'_>,
    jobs: &Jobs,
    out: &mut BatchOutput,
    max_call: usize,
) -> Result<(), StateError> {
    let uses_kind = |j: &&Job| j.record.as_ref().is_some_and(|r| r.components.iter().any(|c| &*c.kind == spec.kind));
    let active: Vec<&Job> = jobs.list.iter().filter(uses_kind).collect();
    if active.is_empty() {
        return Ok(());
    }
    let mut twins = Jobs::default();
    for j in &active {
        twins.push(Arc::clone(&j.id), j.slot, j.cause, j.record.clone());
    }
    let mut calls = Stats::default();
    compute(writer.quotes(), spec.plugins, &mut twins, &mut calls, &mut Work::default(), None, max_call)?;
    out.shadow_failures += calls.plugin_failures;
    for (job, twin) in active.into_iter().zip(&twins.list) {
        let (a, s) = (outcome(job, jobs.results(job)), outcome(twin, twins.results(twin)));
        out.shadow.push(ShadowDiff {
            kind: spec.kind.to_owned(),
            departure: Arc::clone(&job.id),
            active: (a.status, a.price),
            shadow: (s.status, s.price),
        });
    }
    Ok(())
}

/// What the plugin calls of one batch share.
#[derive(Default)]
struct Call {
    /// The call being built.
    batch: BatchBuilder,
    /// By resource slot: 1 + the resource's index in the call being built, or 0 if it
    /// is not in it yet. Only the slots in `added` are ever non-zero between calls.
    placed: Vec<u32>,
    /// The slots set in `placed` by the call being built.
    added: Vec<ResourceSlot>,
    /// The (job, component) pairs of the call being built.
    called: Vec<(usize, usize)>,
}

impl Call {
    /// Readies the tables for a batch over `resources` resources: the last call left
    /// its resources marked, and a working set started over since may have fewer.
    fn reset(&mut self, resources: usize) {
        for slot in self.added.drain(..) {
            if let Some(at) = self.placed.get_mut(slot.index()) {
                *at = 0;
            }
        }
        self.placed.resize(resources, 0);
    }
}

/// A plugin call made, its results not yet stored.
struct Called {
    outcome: Result<BatchOutcome, PluginError>,
    elapsed: std::time::Duration,
}

/// Builds one batch over the `placed` (job, component) pairs in `range` in `call` and
/// calls `plugin` once; `None` if no pair was called. An adjustment kind's plugin is given each
/// departure's subtotal so far from `subtotals`, and a departure with a failed component
/// has none, so it is left out; without `subtotals` (a component kind) every pair is
/// called. The pairs called are left in `call.called`.
fn call_kind(
    quotes: Quotes<'_>,
    plugin: &Plugin,
    placed: &Placed,
    range: Range<usize>,
    subtotals: Option<&Jobs>,
    call: &mut Call,
) -> Result<Option<Called>, StateError> {
    let Call { batch, placed: at, added, called } = call;
    batch.clear();
    called.clear();
    for slot in added.drain(..) {
        at[slot.index()] = 0;
    }
    let mut refs = Vec::new();
    let mut start = placed.resources_before(range.start);
    for (i, &(j, c)) in placed.pairs.iter().enumerate().skip(range.start).take(range.len()) {
        let end = placed.ends[i] as usize;
        let resources = &placed.resources[start..end];
        start = end;
        let mut ctx = placed.contexts[i];
        if let Some(jobs) = subtotals {
            let results = jobs.results(&jobs.list[j]);
            if failed(results) {
                continue;
            }
            ctx.subtotal = subtotal(results);
        }
        refs.clear();
        for &slot in resources {
            if slot.index() >= at.len() {
                at.resize(quotes.count(), 0);
            }
            let index = match at[slot.index()] {
                0 => {
                    let i = batch.add_encoded_resource(quotes.at(slot)?.encoded());
                    at[slot.index()] = i + 1;
                    added.push(slot);
                    i
                }
                i => i - 1,
            };
            refs.push(index);
        }
        batch.add_departure(&ctx, &refs);
        called.push((j, c));
    }
    if called.is_empty() {
        return Ok(None);
    }
    let started = std::time::Instant::now();
    let outcome = plugin.price_batch(batch.finish(), called.len());
    Ok(Some(Called { outcome, elapsed: started.elapsed() }))
}

/// Counts a call to `kind`'s plugin over the (job, component) pairs `placed` and stores
/// each result.
fn store(stats: &mut Stats, jobs: &mut Jobs, kind: &str, plugin: &Plugin, placed: &[(usize, usize)], called: Called) {
    let Called { outcome, elapsed } = called;
    stats.count_call(kind, false, outcome.is_err());
    stats.call_log.0.push(PluginCall {
        kind: kind.to_owned(),
        departures: placed.len() as u32,
        departure_errors: outcome.as_ref().map_or(0, |o| o.results.iter().filter(|r| r.is_err()).count() as u32),
        failed: outcome.is_err(),
        trapped: matches!(outcome, Err(PluginError::Trap { .. })),
        elapsed,
    });
    match outcome {
        Ok(outcome) => {
            for (&(j, c), result) in placed.iter().zip(outcome.results) {
                jobs.set(
                    j,
                    c,
                    result.map_err(|e| match e {
                        PriceError::Unavailable(r) => format!("{kind}: {r}"),
                        PriceError::InvalidInput(r) => format!("{kind}: invalid input: {r}"),
                    }),
                );
            }
        }
        Err(e) => {
            // The departures cannot be priced by these rules now: they are not sellable,
            // and say why. The failure is counted; the stream goes on.
            tracing::warn!(plugin = plugin.id(), error = %e, departures = placed.len(), "plugin failed on a pricing batch");
            for &(j, c) in placed {
                jobs.set(j, c, Err(format!("{kind}: plugin failure: {e}")));
            }
        }
    }
}

/// What a buyer would see of a job.
fn outcome(job: &Job, results: &[Outcome]) -> Offer {
    let mut offer = Offer::default();
    outcome_into(job, results, &mut offer);
    offer
}

/// [`outcome`] written over `offer` (its version and `at` left as they are), compared
/// with the current offer before anything else of a record is built, since many
/// re-prices change nothing. `offer` is the one the last new version replaced (see
/// [`Writer::put_price_swap`]): its components' room is reused, and a kind already in
/// its place (the common case: a product's departures have the same components) is
/// kept, not cloned and dropped. Cloning and dropping each version's kinds (reference
/// counts, a shared atomic each) and its components' vector were about a tenth of
/// the pricing thread's samples.
fn outcome_into(job: &Job, results: &[Outcome], offer: &mut Offer) {
    offer.price = None;
    let mut reason: Option<&str> = None;
    let mut n = 0;
    for (comp, result) in job.record.iter().flat_map(|r| &r.components).zip(results) {
        match result {
            Some(Ok(amount)) => {
                match offer.components.get_mut(n) {
                    Some(c) => {
                        if !Arc::ptr_eq(&c.kind, &comp.kind) {
                            c.kind = Arc::clone(&comp.kind);
                        }
                        c.amount = *amount;
                    }
                    None => offer.components.push(ComponentAmount { kind: Arc::clone(&comp.kind), amount: *amount }),
                }
                n += 1;
            }
            Some(Err(why)) if reason.is_none() => reason = Some(why),
            _ => {}
        }
    }
    if job.record.is_none() {
        offer.status = Status::Retired;
        offer.reason = None;
        offer.components.clear();
    } else if let Some(why) = reason {
        offer.status = Status::Unavailable;
        match &mut offer.reason {
            Some(r) => {
                r.clear();
                r.push_str(why);
            }
            None => offer.reason = Some(why.to_owned()),
        }
        offer.components.clear();
    } else {
        offer.status = Status::Available;
        offer.reason = None;
        offer.components.truncate(n);
        offer.price = Some(round_up_to_unit(subtotal(results).max(0)));
    }
}

/// The (kind, rules) pairs of the plugins that price `job`, sorted by kind, each once.
fn rules_of<'p>(plugins: &'p PluginSet, job: &'p Job, rules: &mut Vec<(&'p str, &'p str)>) {
    rules.clear();
    for comp in job.record.iter().flat_map(|r| &r.components) {
        if let Some(p) = plugins.get(&comp.kind) {
            rules.push((&*comp.kind, p.id()));
        }
    }
    rules.sort_unstable();
    rules.dedup_by(|a, b| a.0 == b.0);
}

/// Whether `a` and `b` are priced by components of the same kinds, in the same order.
fn same_kinds(a: &Job, b: &Job) -> bool {
    fn kinds(j: &Job) -> &[crate::state::BoundComponent] {
        j.record.as_ref().map(|r| r.components.as_slice()).unwrap_or_default()
    }
    let (a, b) = (kinds(a), kinds(b));
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(&x.kind, &y.kind) || x.kind == y.kind)
}

/// The full record of a new version; `None` for a malformed departure key.
fn record<'a>(
    config: &'a PipelineConfig,
    job: &'a Job,
    offer: &'a Offer,
    rules: &'a [(&'a str, &'a str)],
    cause: &'a Cause,
    priced_at: &'a str,
) -> Option<PriceRef<'a>> {
    let (product, city, date) = departure_parts(&job.id)?;
    Some(PriceRef {
        product,
        city,
        date,
        status: offer.status,
        price: offer.price,
        reason: offer.reason.as_deref(),
        currency: &config.currency,
        components: &offer.components,
        rules,
        version: offer.version,
        cause: &cause.id,
        event_ts: &cause.ts,
        priced_at,
    })
}

/// A product's starting prices over its current departure prices' `cheapest`.
fn starting_prices(
    config: &PipelineConfig,
    product: &str,
    cheapest: &Cheapest,
    cause: &Cause,
    priced_at: &str,
) -> ProductPrice {
    let best = cheapest.best();
    ProductPrice {
        product: product.to_owned(),
        from_price: best.map(|b| b.0),
        city: best.map(|b| b.1.to_owned()),
        date: best.map(|b| b.2.to_owned()),
        per_city: cheapest.per_city().map(|(city, p)| (city.to_owned(), p)).collect(),
        available: cheapest.available(),
        currency: config.currency.clone(),
        version: 0,
        cause: cause.id.clone(),
        event_ts: cause.ts.clone(),
        priced_at: priced_at.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job for a departure priced by `kinds` (none: retired).
    fn job(kinds: &[&Arc<str>]) -> Job {
        let record = (!kinds.is_empty()).then(|| {
            let components = kinds
                .iter()
                .map(|k| crate::state::BoundComponent { kind: Arc::clone(k), markup_bp: 0, keys: Vec::new() })
                .collect();
            Arc::new(Definition::without_resources(crate::state::DepartureRecord {
                product: "P1".into(),
                city: "SHA".into(),
                date: pricing_sdk::date::Date::parse("2026-12-01").expect("date"),
                nights: 3,
                pax: 2,
                components,
            }))
        });
        Job { id: "P1:SHA:2026-12-01".into(), slot: Slot::at(0), cause: 0, record, first: 0 }
    }

    /// Whatever offer it fills again (the one the last version replaced), `outcome_into`
    /// gives the offer a fresh one would: available, unavailable (first reason), retired,
    /// components left unpriced (no plugin), other kinds, more and fewer components.
    #[test]
    fn an_outcome_written_over_a_used_offer_equals_a_fresh_one() {
        let (flight, hotel, discount): (Arc<str>, Arc<str>, Arc<str>) =
            ("flight".into(), "hotel".into(), "discount".into());
        let cases: Vec<(Job, Vec<Outcome>)> = vec![
            (job(&[&flight, &hotel]), vec![Some(Ok(120_000)), Some(Ok(30_050))]),
            (job(&[&flight, &hotel, &discount]), vec![Some(Ok(90_000)), Some(Ok(10_000)), Some(Ok(-5_000))]),
            (job(&[&flight, &hotel]), vec![Some(Err("flight: sold out".into())), Some(Err("hotel: closed".into()))]),
            (job(&[&hotel, &flight]), vec![Some(Ok(1)), Some(Err("flight: no fare".into()))]),
            (job(&[]), vec![]),
            (job(&[&hotel]), vec![Some(Ok(70_000))]),
            (job(&[&hotel, &discount]), vec![Some(Ok(100)), None]),
            (job(&[&discount, &flight, &hotel]), vec![Some(Ok(-900_000)), Some(Ok(5)), Some(Ok(6))]),
        ];
        // Every case after every other, as the pricing loop meets them.
        for (before, before_results) in &cases {
            for (job, results) in &cases {
                let mut used = outcome(before, before_results);
                used.version = 9;
                used.at = 4;
                outcome_into(job, results, &mut used);
                let fresh = outcome(job, results);
                assert!(used.same_offer(&fresh), "{used:?} after {before_results:?}, expected {fresh:?}");
                assert_eq!(used.components, fresh.components);
                assert_eq!((used.version, used.at), (9, 4), "left to the caller");
            }
        }
        let (available, unavailable, retired) =
            (outcome(&cases[1].0, &cases[1].1), outcome(&cases[2].0, &cases[2].1), outcome(&cases[4].0, &cases[4].1));
        assert_eq!((available.status, available.price), (Status::Available, Some(95_000)));
        assert_eq!(unavailable.reason.as_deref(), Some("flight: sold out"));
        assert!(unavailable.components.is_empty() && unavailable.price.is_none());
        assert_eq!((retired.status, retired.price, retired.reason), (Status::Retired, None, None));
    }

    #[test]
    fn sorting_by_id_prefix_then_id_is_sorting_by_id() {
        let mut ids = vec![
            "P10:SHA:2026-12-01",
            "P1:SHA:2026-12-02",
            "P1:SHA:2026-12-01",
            "P1:SH",
            "P1:SHA:2026-12-01:a-much-longer-tail-b",
            "P1:SHA:2026-12-01:a-much-longer-tail-a",
            "P1:SHA:2026-12-01:a-much-longer-tail",
            "P1:SHA:2026-12-01\u{0}",
            "P2:PEK:2026-01-31",
            "",
        ];
        let mut by_prefix = ids.clone();
        by_prefix.sort_by(|a, b| id_prefix(a).cmp(&id_prefix(b)).then_with(|| a.cmp(b)));
        ids.sort();
        assert_eq!(by_prefix, ids);
    }
}
