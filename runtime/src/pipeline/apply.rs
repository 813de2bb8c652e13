//! Applying one event to the batch's pending state and marking the departures it touches.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use pricing_sdk::Departure;

use super::{Cause, Input, PipelineConfig, Stats};
use crate::engine::PluginSet;
use crate::intake::{Event, Op, ProductDef, Rejection, Rules, decode};
use crate::state::{BoundComponent, DepartureRecord, ProductRecord, QuoteRecord, StateError, Writer};

/// What became of an event.
pub(crate) enum Applied {
    Yes,
    Stale,
    Rejected(Rejection),
}

/// The departures a batch touched, each with the last event that touched it. Ids are
/// the writer's shared copies ([`Writer::intern`]), so a mark hashes a pointer, not a
/// string: a batch makes hundreds of thousands of marks.
#[derive(Default)]
pub(crate) struct Affected {
    pub causes: Vec<Cause>,
    pub marks: HashMap<Shared, u32, foldhash::fast::RandomState>,
    /// The cause of the departures an operation marked ([`Affected::mark_all`]).
    pub op_cause: Option<u32>,
}

/// A departure id compared and hashed by pointer. Were an id ever not the shared copy,
/// the departure would be priced twice in the batch, and the second pricing, finding
/// the first's offer, would write nothing: more work, never a wrong record.
pub(crate) struct Shared(pub Arc<str>);

impl PartialEq for Shared {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Shared {}

impl std::hash::Hash for Shared {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.0).cast::<u8>(), state);
    }
}

impl Affected {
    /// Starts marking for `event`; returns its cause index.
    fn cause(&mut self, event: &Event) -> u32 {
        self.causes.push(Cause { id: event.id.clone(), ts: event.ts.clone(), ts_ms: Some(event.ts_ms) });
        (self.causes.len() - 1) as u32
    }

    /// Marks `departures` (shared copies) for an operation's `cause`, leaving those an
    /// event already marked to the event; returns how many it marked.
    pub fn mark_all(&mut self, departures: &[Arc<str>], cause: Cause) -> u64 {
        self.causes.push(cause);
        let index = (self.causes.len() - 1) as u32;
        self.op_cause = Some(index);
        let mut marked = 0;
        for d in departures {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.marks.entry(Shared(Arc::clone(d))) {
                slot.insert(index);
                marked += 1;
            }
        }
        marked
    }

    fn mark(&mut self, departure: &Arc<str>, cause: u32) {
        self.marks.insert(Shared(Arc::clone(departure)), cause);
    }
}

pub(crate) fn apply(
    config: &PipelineConfig,
    writer: &mut Writer<'_>,
    plugins: &PluginSet,
    input: &Input,
    affected: &mut Affected,
    stats: &mut Stats,
) -> Result<(Applied, Option<String>), StateError> {
    let known = |k: &str| plugins.has(k);
    let rules = Rules { known_kind: &known, supplier_required: &config.supplier_required, currency: &config.currency };
    let event = match decode(&input.text, &rules) {
        Ok(e) => e,
        // Rare: the kind is read again from the raw record, for the counters only.
        Err(r) => return Ok((Applied::Rejected(r), sniff_kind(&input.text))),
    };
    let applied = if event.kind == "product" {
        product(writer, plugins, &event, affected, stats)?
    } else {
        resource(writer, plugins, &event, affected, stats)?
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
    affected: &mut Affected,
    stats: &mut Stats,
) -> Result<Applied, StateError> {
    let Some(plugin) = plugins.get(&event.kind) else {
        return Ok(Applied::Rejected(Rejection::UnknownKind(event.kind.clone())));
    };
    if let Some(stored) = writer.resource(&event.kind, &event.key)?.seq(&event.supplier)
        && event.seq <= stored
    {
        return Ok(Applied::Stale);
    }
    let record = match event.op {
        Op::Upsert => match counted(stats, &event.kind, plugin.decode_quote(&event.key, &event.data.to_string())) {
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
    writer.put_quote(&event.kind, &event.key, &event.supplier, record)?;
    let dependents = writer.dependents(&event.kind, &event.key)?;
    if !dependents.is_empty() {
        let cause = affected.cause(event);
        for departure in dependents.iter() {
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
        Op::Upsert => match ProductDef::parse(id, &event.data, &|k| plugins.has(k)) {
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
            let dep = writer.intern(&old.departure_id(d));
            let next = records.get(&*dep);
            if let Some(rec) = writer.departure(&dep)? {
                for c in &rec.components {
                    for key in &c.keys {
                        if !next.is_some_and(|n| n.depends_on(&c.kind, key)) {
                            writer.set_dependency(&c.kind, key, &dep, false)?;
                        }
                    }
                }
            }
            if next.is_none() {
                writer.put_departure(&dep, None);
                affected.mark(&dep, cause);
            }
        }
    }
    for (dep, rec) in records {
        let dep = writer.intern(&dep);
        let before = writer.departure(&dep)?;
        for c in &rec.components {
            for key in &c.keys {
                if !before.as_ref().is_some_and(|b| b.depends_on(&c.kind, key)) {
                    writer.set_dependency(&c.kind, key, &dep, true)?;
                }
            }
        }
        writer.put_departure(&dep, Some(rec));
        affected.mark(&dep, cause);
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
