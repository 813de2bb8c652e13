//! Applying one event to the batch's pending state and marking the departures it touches.

use std::collections::BTreeMap;
use std::sync::Arc;

use pricing_sdk::Departure;

use super::decode::{Decoded, QuoteCheck};
use super::{Cause, Input, Stats};
use crate::engine::PluginSet;
use crate::intake::{Event, Op, ProductDef, Rejection};
use crate::state::{BoundComponent, DepartureRecord, ProductRecord, QuoteRecord, Slot, StateError, Writer};

/// What became of an event.
pub(crate) enum Applied {
    Yes,
    Stale,
    Rejected(Rejection),
}

/// The departures a batch touched, each with the last event that touched it. Marks
/// are kept by slot ([`Writer::intern`]) in a dense table: a batch makes hundreds of
/// thousands of them, and an insurance plan or a discount rule alone can mark a large
/// part of the catalog.
#[derive(Default)]
pub(crate) struct Affected {
    pub causes: Vec<Cause>,
    /// By slot index: 1 + the index in `causes` of the last cause that marked it; 0 for
    /// not marked.
    cause_of: Vec<u32>,
    /// Each marked slot once, in the order first marked.
    marked: Vec<Slot>,
    /// The cause of the departures an operation marked ([`Affected::mark_all`]).
    pub op_cause: Option<u32>,
}

impl Affected {
    /// Starts marking for `event`; returns its cause index.
    fn cause(&mut self, event: &Event) -> u32 {
        self.causes.push(Cause { id: event.id.clone(), ts: event.ts.clone(), ts_ms: Some(event.ts_ms) });
        (self.causes.len() - 1) as u32
    }

    /// Marks `departures` for an operation's `cause`, leaving those an event already
    /// marked to the event; returns how many it marked.
    pub fn mark_all(&mut self, departures: &[Slot], cause: Cause) -> u64 {
        self.causes.push(cause);
        let index = (self.causes.len() - 1) as u32;
        self.op_cause = Some(index);
        let before = self.marked.len();
        for &d in departures {
            if self.cause_of(d).is_none() {
                self.mark(d, index);
            }
        }
        (self.marked.len() - before) as u64
    }

    /// The cause that last marked `departure`, if one did.
    fn cause_of(&self, departure: Slot) -> Option<u32> {
        self.cause_of.get(departure.index()).and_then(|c| c.checked_sub(1))
    }

    fn mark(&mut self, departure: Slot, cause: u32) {
        let i = departure.index();
        if i >= self.cause_of.len() {
            self.cause_of.resize(i + 1, 0);
        }
        if self.cause_of[i] == 0 {
            self.marked.push(departure);
        }
        self.cause_of[i] = cause + 1;
    }

    /// Each marked departure with the index of its cause, in the order first marked.
    pub fn marks(&self) -> impl Iterator<Item = (Slot, u32)> + '_ {
        self.marked.iter().map(|&d| (d, self.cause_of[d.index()] - 1))
    }

    /// [`Affected::marks`] in slot order. Slots are handed out as departures are first
    /// met, which for a catalog is mostly in key order: the marks come out nearly sorted
    /// by key, and reading each departure's id walks the table instead of jumping about it.
    pub fn marks_by_slot(&mut self) -> impl Iterator<Item = (Slot, u32)> + '_ {
        self.marked.sort_unstable();
        self.marks()
    }
}

/// Applies one decoded input to the batch's state and marks the departures it
/// touches; returns what became of it, and its kind.
pub(crate) fn apply(
    writer: &mut Writer<'_>,
    plugins: &PluginSet,
    input: &Input,
    decoded: Decoded,
    affected: &mut Affected,
    stats: &mut Stats,
) -> Result<(Applied, Option<String>), StateError> {
    let Decoded { event, quote } = decoded;
    let event = match event {
        Ok(e) => e,
        // Rare: the kind is read again from the raw record, for the counters only.
        Err(r) => return Ok((Applied::Rejected(r), sniff_kind(&input.text))),
    };
    let applied = if event.kind == "product" {
        product(writer, plugins, &event, affected, stats)?
    } else {
        resource(writer, plugins, &event, quote, affected, stats)?
    };
    Ok((applied, Some(event.kind)))
}

/// The `kind` of a record that did not decode as an event, if it has a string one.
fn sniff_kind(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("kind")?.as_str().map(str::to_owned)
}

fn resource(
    writer: &mut Writer<'_>,
    plugins: &PluginSet,
    event: &Event,
    quote: Option<QuoteCheck>,
    affected: &mut Affected,
    stats: &mut Stats,
) -> Result<Applied, StateError> {
    let Some(plugin) = plugins.get(&event.kind) else {
        return Ok(Applied::Rejected(Rejection::UnknownKind(event.kind.clone())));
    };
    let quote = quote.map(|q| counted(stats, &event.kind, q));
    // Looked up once: the quotes, the write and the dependents all go by the slot.
    let slot = writer.resource_slot(&event.kind, &event.key);
    if let Some(stored) = writer.resource(slot)?.seq(&event.supplier)
        && event.seq <= stored
    {
        return Ok(Applied::Stale);
    }
    let record = match event.op {
        // Checked with the decoding, for every upsert of a kind with a plugin.
        Op::Upsert => match quote
            .unwrap_or_else(|| counted(stats, &event.kind, plugin.decode_quote(&event.key, event.data.get())))
        {
            Ok(Ok(compact)) => QuoteRecord { seq: event.seq, deleted: false, compact },
            Ok(Err(e)) => {
                return Ok(Applied::Rejected(Rejection::Plugin {
                    plugin: plugin.id().to_owned(),
                    reason: e.to_string(),
                }));
            }
            Err(e) => return Ok(Applied::Rejected(Rejection::PluginFailure(e.to_string()))),
        },
        Op::Delete => QuoteRecord { seq: event.seq, deleted: true, compact: Vec::new() },
    };
    writer.put_quote(slot, &event.supplier, record)?;
    let dependents = writer.dependents(slot)?;
    if !dependents.is_empty() {
        let cause = affected.cause(event);
        for &departure in dependents.iter() {
            affected.mark(departure, cause);
        }
    }
    Ok(Applied::Yes)
}

fn product(
    writer: &mut Writer<'_>,
    plugins: &PluginSet,
    event: &Event,
    affected: &mut Affected,
    stats: &mut Stats,
) -> Result<Applied, StateError> {
    let id = event.key.as_str();
    if id.contains(':') || id.contains('\0') {
        return Ok(Applied::Rejected(Rejection::Product(format!("product key {id:?} must not contain ':'"))));
    }
    let stored = writer.product(id)?;
    if let Some(s) = &stored
        && event.seq <= s.seq
    {
        return Ok(Applied::Stale);
    }
    let new_def = match event.op {
        Op::Upsert => match serde_json::from_str(event.data.get())
            .map_err(|e| Rejection::NotJson(e.to_string()))
            .and_then(|data| ProductDef::parse(id, &data, &|k| plugins.has(k)))
        {
            Ok(def) => Some(def),
            Err(r) => return Ok(Applied::Rejected(r)),
        },
        Op::Delete => None,
    };
    // Everything the plugins say is gathered before anything is written: a binding a
    // plugin refuses leaves the product as it was.
    let records = match &new_def {
        Some(def) => match departure_records(plugins, def, stats) {
            Ok(records) => records,
            Err(r) => return Ok(Applied::Rejected(r)),
        },
        None => BTreeMap::new(),
    };
    let cause = affected.cause(event);

    // Only the dependencies that change are written: a re-publication usually keeps
    // most of them, and a product has hundreds of departures times its components.
    if let Some(old) = stored.and_then(|s| s.def) {
        for d in &old.departures {
            let id = old.departure_id(d);
            let dep = writer.intern(&id);
            let next = records.get(&id);
            if let Some(rec) = writer.departure(dep)? {
                for c in &rec.components {
                    for key in &c.keys {
                        if !next.is_some_and(|n| n.depends_on(&c.kind, key)) {
                            writer.set_dependency(&c.kind, key, dep, false)?;
                        }
                    }
                }
            }
            if next.is_none() {
                writer.put_departure(dep, None);
                affected.mark(dep, cause);
            }
        }
    }
    for (dep, rec) in records {
        let dep = writer.intern(&dep);
        let before = writer.departure(dep)?;
        for c in &rec.components {
            for key in &c.keys {
                if !before.as_ref().is_some_and(|b| b.depends_on(&c.kind, key)) {
                    writer.set_dependency(&c.kind, key, dep, true)?;
                }
            }
        }
        writer.put_departure(dep, Some(rec));
        affected.mark(dep, cause);
    }
    writer.put_product(id, ProductRecord { seq: event.seq, def: new_def });
    Ok(Applied::Yes)
}

/// Each departure's components with the resource keys their plugins depend on: one
/// `dependencies` call per component binding for all the product's departures.
fn departure_records(
    plugins: &PluginSet,
    def: &ProductDef,
    stats: &mut Stats,
) -> Result<BTreeMap<String, DepartureRecord>, Rejection> {
    let departures: Vec<Departure> = def
        .departures
        .iter()
        .map(|d| Departure {
            city: d.city.clone(),
            destination: def.destination.clone(),
            date: d.date,
            nights: def.nights,
            pax: def.pax,
        })
        .collect();
    let mut keys_per_component = Vec::with_capacity(def.components.len());
    // One copy of each kind name, shared by every departure's component and amount.
    let kinds: Vec<Arc<str>> = def.components.iter().map(|c| Arc::from(c.kind.as_str())).collect();
    for c in &def.components {
        let plugin = plugins.get(&c.kind).ok_or_else(|| Rejection::UnknownKind(c.kind.clone()))?;
        match counted(stats, &c.kind, plugin.dependencies(&c.binding, &departures)) {
            Ok(Ok(keys)) => keys_per_component.push(keys),
            Ok(Err(e)) => return Err(Rejection::Plugin { plugin: plugin.id().to_owned(), reason: e.to_string() }),
            Err(e) => return Err(Rejection::PluginFailure(e.to_string())),
        }
    }
    Ok(def
        .departures
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let components = def
                .components
                .iter()
                .zip(&keys_per_component)
                .zip(&kinds)
                .map(|((c, keys), kind)| BoundComponent {
                    kind: Arc::clone(kind),
                    markup_bp: c.markup_bp,
                    keys: keys.get(i).map(|k| k.iter().map(|k| Arc::from(k.as_str())).collect()).unwrap_or_default(),
                })
                .collect();
            let rec = DepartureRecord {
                product: def.id.clone(),
                city: d.city.clone(),
                date: d.date,
                nights: def.nights,
                pax: def.pax,
                components,
            };
            (def.departure_id(d), rec)
        })
        .collect())
}

/// Counts a plugin call's outcome for its kind and passes it on.
fn counted<T, E>(stats: &mut Stats, kind: &str, result: Result<T, E>) -> Result<T, E> {
    stats.count_call(kind, true, result.is_err());
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::State;

    fn cause(id: &str) -> Cause {
        Cause { id: id.into(), ts: String::new(), ts_ms: None }
    }

    #[test]
    fn a_departure_is_marked_once_by_its_last_event_and_an_operation_marks_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(dir.path()).expect("state");
        let mut writer = state.writer();
        let [a, b, c] = ["P:A:2026-12-01", "P:B:2026-12-01", "P:C:2026-12-01"].map(|id| writer.intern(id));
        assert_eq!(writer.intern("P:A:2026-12-01"), a, "one slot per id");
        assert_eq!(&**writer.id(b), "P:B:2026-12-01");

        let mut affected = Affected::default();
        affected.causes.push(cause("e1"));
        affected.mark(c, 0);
        affected.mark(a, 0);
        affected.causes.push(cause("e2"));
        affected.mark(a, 1);
        assert_eq!(affected.mark_all(&[a, b, c], cause("reprice:1")), 1, "only b had no event");
        assert_eq!(affected.op_cause, Some(2));
        assert_eq!(affected.marks().collect::<Vec<_>>(), vec![(c, 0), (a, 1), (b, 2)]);
    }
}
