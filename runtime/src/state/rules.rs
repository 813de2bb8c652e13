//! Rule sets: the `kind → kind@version+hash` maps that price departures. A departure
//! price names the rules of each of its components, and nearly every version the engine
//! stores carries one of a handful of maps: about 90 of a history value's bytes, the
//! largest part of it. So each map is stored once, in `meta` under `rules/<id>` (its
//! JSON), and a history value names it by id (see `records::Stored`).
//!
//! Ids are given in order of first use and never reused for another map. A batch writes
//! every map it names again, beside the versions that name it: whatever a reader finds
//! in history has its map committed with it, even when the writer gave an id in a batch
//! that never committed (its working set is then rebuilt from what fjall has).

use std::collections::BTreeMap;

use fjall::Keyspace;

use super::{Result, from_json};

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Where rule sets live in `meta`.
const PREFIX: &str = "rules/";

/// The `meta` key of rule set `id`.
pub(super) fn key(id: u32) -> String {
    format!("{PREFIX}{id}")
}

/// The writer's ids of the rule sets it has stored or named, by the set's JSON.
pub(super) struct RuleSetIds {
    ids: Map<Vec<u8>, u32>,
    next: u32,
}

impl RuleSetIds {
    /// Every rule set stored in `meta`.
    pub(super) fn load(meta: &Keyspace) -> Result<Self> {
        let mut ids = Map::default();
        let mut next = 0;
        for kv in meta.prefix(PREFIX.as_bytes()) {
            let (k, v) = kv.into_inner()?;
            // A key that does not parse is not one this module wrote: leave it be.
            let Some(id) = std::str::from_utf8(&k[PREFIX.len()..]).ok().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            next = next.max(id + 1);
            ids.insert(v.to_vec(), id);
        }
        Ok(RuleSetIds { ids, next })
    }

    /// The id of the rule set whose JSON is `json`, given one on first sight.
    pub(super) fn id(&mut self, json: &[u8]) -> u32 {
        if let Some(id) = self.ids.get(json) {
            return *id;
        }
        let id = self.next;
        self.next += 1;
        self.ids.insert(json.to_vec(), id);
        id
    }
}

/// A reader's rule sets, each read from `meta` once.
pub(super) struct RuleSets<'a> {
    meta: &'a Keyspace,
    read: Map<u32, BTreeMap<String, String>>,
}

impl<'a> RuleSets<'a> {
    pub(super) fn new(meta: &'a Keyspace) -> Self {
        RuleSets { meta, read: Map::default() }
    }

    /// Rule set `id`; an id that history names but `meta` lacks is corruption.
    pub(super) fn get(&mut self, id: u32) -> Result<&BTreeMap<String, String>> {
        if !self.read.contains_key(&id) {
            let bytes = self.meta.get(key(id))?.ok_or_else(|| super::StateError::Corrupt {
                what: "history",
                why: format!("rule set {id} is not stored"),
            })?;
            self.read.insert(id, from_json(&bytes, "rule set")?);
        }
        Ok(&self.read[&id])
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ComponentAmount, DeparturePrice, Offer, State, Status};

    fn price(version: u64, flight_rules: &str) -> DeparturePrice {
        DeparturePrice {
            product: "P1".into(),
            city: "SHA".into(),
            date: "2026-12-01".into(),
            status: Status::Available,
            price: Some(1_000 * version as i64),
            reason: None,
            currency: "CNY".into(),
            components: vec![ComponentAmount { kind: "flight".into(), amount: 1_000 * version as i64 }],
            rules: [("flight", flight_rules), ("hotel", "hotel@1.0.0+2")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            version,
            cause: format!("e-{version}"),
            event_ts: "2026-11-22T10:00:00Z".into(),
            priced_at: "2026-11-22T10:00:00.004Z".into(),
        }
    }

    /// Writes `p` as the next version of its departure, in a batch of its own, and
    /// returns the id its rules got.
    fn commit_version(state: &State, p: &DeparturePrice) -> u32 {
        let mut w = state.writer();
        let slot = w.intern(&p.key());
        let mut rules = Vec::new();
        let r = p.borrowed(&mut rules);
        let (id, json) = w.rule_set(r.rules).expect("names the rules");
        assert_eq!(json, super::super::records::rules_json(r.rules), "the set's JSON, for the record");
        let mut stored = Vec::new();
        r.write_stored(id, &mut stored);
        w.put_price(slot, Offer::of(p.clone()), &stored).expect("writes");
        w.finish().commit(state).expect("commits");
        id
    }

    /// History stores rules by id; every version reads back whole, with its own rules,
    /// also after a reopen, and a reopened writer keeps the ids given and gives new
    /// ones after them.
    #[test]
    fn history_names_rules_by_id_and_reads_back_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        let versions = [price(1, "flight@1.0.0+1"), price(2, "flight@1.0.0+1"), price(3, "flight@1.1.0+9")];
        {
            let state = State::open(dir.path()).expect("opens");
            let ids: Vec<u32> = versions.iter().map(|p| commit_version(&state, p)).collect();
            assert_eq!(ids, [0, 0, 1], "one id per distinct rule set");
            assert_eq!(state.history("P1:SHA:2026-12-01").expect("reads"), versions);
            assert_eq!(state.price("P1:SHA:2026-12-01").expect("reads").as_ref(), Some(&versions[2]));
        }
        let state = State::open(dir.path()).expect("reopens");
        assert_eq!(state.history("P1:SHA:2026-12-01").expect("reads"), versions);
        assert_eq!(state.all_prices().collect::<Result<Vec<_>, _>>().expect("reads"), [versions[2].clone()]);
        let mut w = state.writer();
        assert_eq!(w.rule_set(&[("flight", "flight@1.1.0+9"), ("hotel", "hotel@1.0.0+2")]).expect("names").0, 1);
        let (id, json) = w.rule_set(&[("flight", "flight@2.0.0+3")]).expect("names");
        assert_eq!((id, json), (2, &br#"{"flight":"flight@2.0.0+3"}"#[..]));
    }

    /// A history value naming a rule set that is not stored is reported as corrupt,
    /// not read with the wrong rules.
    #[test]
    fn a_missing_rule_set_is_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = State::open(dir.path()).expect("opens");
        commit_version(&state, &price(1, "flight@1.0.0+1"));
        state.meta.remove(super::key(0)).expect("removes");
        let err = state.history("P1:SHA:2026-12-01").expect_err("rule set 0 is gone");
        assert!(err.to_string().contains("rule set 0 is not stored"), "{err}");
    }
}
