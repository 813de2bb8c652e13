//! A batch's output records of one kind in one buffer: product prices as NDJSON
//! ([`Lines`]), departure prices in their stored form, rendered as JSON when read
//! ([`PriceLines`]).
//!
//! A batch emits hundreds of thousands of departure prices. Held one allocation per
//! record, they cost an allocation, a copy out of the encoder's buffer and a free each,
//! and the file sink copied them once more into its writer. Here the encoder writes each
//! record straight into the buffer, the file sink writes it on its own thread, and the
//! pipeline hands the emptied buffer to its next batch ([`Pipeline::recycle`](super::Pipeline::recycle)),
//! so its pages stay mapped instead of being faulted in and zeroed again each batch.
//! Keys are copied into one buffer too: held as shared ids, each record cost a count
//! taken and given back on the id's cache line, a few percent of the pricing thread.

/// Records, each a key and its JSON; the JSON end to end, each followed by a newline.
#[derive(Clone, Debug, Default)]
pub struct Lines {
    ndjson: Vec<u8>,
    /// Every record's key, end to end.
    keys: String,
    /// By record: where its key ends in `keys` and where its line ends in `ndjson`
    /// (after its newline).
    index: Vec<(usize, usize)>,
}

impl Lines {
    /// Adds a record under `key` whose JSON `write` appends to the buffer it is given.
    /// `write` must append exactly one JSON value, without a newline.
    pub fn push_with(&mut self, key: &str, write: impl FnOnce(&mut Vec<u8>)) {
        write(&mut self.ndjson);
        self.ndjson.push(b'\n');
        self.keys.push_str(key);
        self.index.push((self.keys.len(), self.ndjson.len()));
    }

    /// Adds a record under `key` with JSON `json`.
    pub fn push(&mut self, key: &str, json: &[u8]) {
        self.push_with(key, |out| out.extend_from_slice(json));
    }

    /// How many records.
    #[must_use]
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Every record as (key, JSON), in the order added.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let (mut key_start, mut start) = (0, 0);
        self.index.iter().map(move |&(key_end, end)| {
            let key = &self.keys[key_start..key_end];
            let json = &self.ndjson[start..end - 1];
            (key_start, start) = (key_end, end);
            (key, json)
        })
    }

    /// Every record's JSON followed by a newline, end to end: the NDJSON to append to a file.
    #[must_use]
    pub fn ndjson(&self) -> &[u8] {
        &self.ndjson
    }

    /// Empties it for the next batch, keeping up to twice the capacity this one used: a
    /// batch is mostly like the last, and a spike's memory is given back after it.
    pub fn clear(&mut self) {
        self.empty_keeping(self.ndjson.len(), self.keys.len());
    }

    /// Takes every record out, keys too, and leaves `spare` (an earlier batch's, given
    /// back) emptied in its place, with up to twice the room this batch used.
    pub fn exchange_all(&mut self, spare: Lines) -> Lines {
        let taken = std::mem::replace(self, spare);
        self.empty_keeping(taken.ndjson.len(), taken.keys.len());
        taken
    }

    /// Empties it, keeping room for up to twice `bytes` of records, `keys` bytes of keys
    /// and the records it had.
    fn empty_keeping(&mut self, bytes: usize, keys: usize) {
        self.ndjson.clear();
        self.ndjson.shrink_to(bytes.saturating_mul(2));
        self.keys.clear();
        self.keys.shrink_to(keys.saturating_mul(2));
        super::empty_keeping(&mut self.index);
    }
}

/// A batch's departure price records, kept in their stored form
/// ([`PriceRef::write_stored`](crate::state::PriceRef::write_stored)) and rendered as
/// JSON when read.
///
/// The pricing thread bounds throughput, and rendering each record's JSON took about a
/// tenth of it. It writes each version's stored form anyway (for `log`), so the records
/// are that form, and the file sink renders them on its writer thread, beside the
/// pricing of the next batch. [`PriceLines::json`] renders in place (the Kafka sink).
#[derive(Clone, Debug, Default)]
pub struct PriceLines {
    /// Laid out as [`Lines`], each line a stored form instead of JSON (its newline unread).
    records: Lines,
    /// The JSON of each rule set the records name, by id: a batch names one or a few.
    rules: Vec<(u32, Vec<u8>)>,
}

impl PriceLines {
    /// Adds departure `key`'s version, whose stored form `write` appends to the buffer
    /// it is given, naming rule set `rule_set` whose JSON is `rules_json`. Returns the
    /// stored form.
    pub fn push_with(
        &mut self,
        key: &str,
        (rule_set, rules_json): (u32, &[u8]),
        write: impl FnOnce(&mut Vec<u8>),
    ) -> &[u8] {
        if !self.rules.iter().any(|(id, _)| *id == rule_set) {
            self.rules.push((rule_set, rules_json.to_vec()));
        }
        let start = self.records.ndjson.len();
        self.records.push_with(key, write);
        let end = self.records.ndjson.len() - 1;
        &self.records.ndjson[start..end]
    }

    /// How many records.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record's key, in the order added.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.records.iter().map(|(key, _)| key)
    }

    /// Every record as (key, JSON), in the order added, each rendered into one buffer
    /// in turn; stops at the first error, of `f` or of a record that cannot be read.
    pub fn json(&self, mut f: impl FnMut(&str, &[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        let mut json = Vec::new();
        for (key, stored) in self.records.iter() {
            json.clear();
            self.render(key, stored, &mut json)?;
            f(key, &json)?;
        }
        Ok(())
    }

    /// Appends every record's JSON, each followed by a newline: the NDJSON to append to a
    /// file.
    pub fn write_ndjson(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        for (key, stored) in self.records.iter() {
            self.render(key, stored, out)?;
            out.push(b'\n');
        }
        Ok(())
    }

    fn render(&self, key: &str, stored: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        let rules = |id: u32| self.rules.iter().find(|(r, _)| *r == id).map(|(_, json)| json.as_slice());
        crate::state::write_stored_json(key, stored, rules, out)
    }

    /// Empties it for the next batch, keeping room as [`Lines::clear`] does.
    pub fn clear(&mut self) {
        self.records.clear();
        self.rules.clear();
    }

    /// Takes every record out (for a sink that renders them on another thread) and
    /// leaves `spare`, an earlier batch's given back, emptied in its place.
    pub fn exchange(&mut self, spare: PriceLines) -> PriceLines {
        let records = self.records.exchange_all(spare.records);
        PriceLines { records, rules: std::mem::take(&mut self.rules) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ComponentAmount, DeparturePrice, rules_json, sample_price};

    #[test]
    fn records_read_back_one_by_one_and_as_ndjson() {
        let mut lines = Lines::default();
        assert!(lines.is_empty());
        lines.push("P1", b"{\"a\":1}");
        lines.push_with("P2", |out| out.extend_from_slice(b"{}"));
        let records: Vec<(&str, &[u8])> = lines.iter().collect();
        assert_eq!(records, [("P1", &b"{\"a\":1}"[..]), ("P2", &b"{}"[..])]);
        assert_eq!(lines.ndjson(), b"{\"a\":1}\n{}\n");
        assert_eq!(lines.len(), 2);
        lines.clear();
        assert!(lines.is_empty() && lines.ndjson().is_empty());
        assert!(lines.ndjson.capacity() >= 11, "keeps room for a batch like the last");
        lines.clear();
        assert_eq!(lines.ndjson.capacity(), 0, "gives back what an empty batch did not use");
    }

    #[test]
    fn an_exchange_takes_every_record_and_leaves_the_spare_bounded_by_this_batch() {
        let mut lines = Lines::default();
        lines.push("P1", b"{\"a\":1}");
        let spare = Lines { ndjson: Vec::with_capacity(1 << 20), ..Lines::default() };
        let taken = lines.exchange_all(spare);
        assert_eq!(taken.iter().collect::<Vec<_>>(), [("P1", &b"{\"a\":1}"[..])]);
        assert!(lines.is_empty() && lines.ndjson().is_empty() && lines.iter().next().is_none());
        assert!((8..=16).contains(&lines.ndjson.capacity()), "{} bytes kept", lines.ndjson.capacity());
        lines.push("P2", b"{}");
        assert_eq!(lines.iter().collect::<Vec<_>>(), [("P2", &b"{}"[..])]);
        assert_eq!(lines.exchange_all(Lines::default()).ndjson(), b"{}\n");
        assert!(lines.ndjson().is_empty());
    }

    /// A version with two components, one of whose kinds needs escaping in JSON.
    fn version(product: &str, amount: i64) -> DeparturePrice {
        let mut p = sample_price(product, 3, amount);
        p.components[0].amount = amount - 100;
        p.components.push(ComponentAmount { kind: "hotel\"x".into(), amount: 100 });
        p
    }

    /// Pushes `p` stored, naming rule set `id`, and returns the JSON it should render as.
    fn push(lines: &mut PriceLines, p: &DeparturePrice, id: u32) -> Vec<u8> {
        let mut rules = Vec::new();
        let r = p.borrowed(&mut rules);
        let json = rules_json(r.rules);
        let stored = lines.push_with(&r.key(), (id, &json), |out| r.write_stored(id, out)).to_vec();
        let mut expected = Vec::new();
        r.write_stored(id, &mut expected);
        assert_eq!(stored, expected, "push returns the stored form");
        let mut expected = Vec::new();
        r.write_json(&json, &mut expected);
        expected
    }

    #[test]
    fn price_records_render_as_the_json_of_the_versions_they_store() {
        let mut lines = PriceLines::default();
        let mut other_rules = version("P2", 900);
        other_rules.rules.insert("hotel".into(), "hotel@2.0.0+00ff00ff".into());
        let expected = [push(&mut lines, &version("P1", 1_000), 1), push(&mut lines, &other_rules, 7)];
        assert_eq!(lines.len(), 2);
        assert_eq!(lines.keys().collect::<Vec<_>>(), ["P1:SHA:2026-12-01", "P2:SHA:2026-12-01"]);
        let mut rendered = Vec::new();
        lines
            .json(|key, json| {
                rendered.push((key.to_owned(), json.to_vec()));
                Ok(())
            })
            .expect("renders");
        assert_eq!(rendered[0], ("P1:SHA:2026-12-01".to_owned(), expected[0].clone()));
        assert_eq!(rendered[1].1, expected[1]);
        let parsed: DeparturePrice = serde_json::from_slice(&rendered[1].1).expect("json");
        assert_eq!(parsed, other_rules, "the JSON is the owned record's");
        let mut ndjson = Vec::new();
        lines.write_ndjson(&mut ndjson).expect("renders");
        assert_eq!(ndjson, [&expected[0][..], b"\n", &expected[1][..], b"\n"].concat());

        let taken = lines.exchange(PriceLines::default());
        assert!(lines.is_empty() && lines.rules.is_empty());
        assert_eq!(taken.len(), 2, "the rule sets go with the records");
        taken.write_ndjson(&mut Vec::new()).expect("renders where it was taken");
    }

    #[test]
    fn a_record_that_cannot_be_rendered_is_an_error_naming_it() {
        let mut lines = PriceLines::default();
        lines.push_with("P1:SHA:2026-12-01", (1, b"{}"), |out| out.extend_from_slice(&[0, 9, 9]));
        let error = lines.write_ndjson(&mut Vec::new()).expect_err("cut");
        assert!(error.to_string().contains("record of P1:SHA:2026-12-01"), "{error}");

        let mut lines = PriceLines::default();
        let mut rules = Vec::new();
        let p = version("P1", 1_000);
        let r = p.borrowed(&mut rules);
        lines.push_with("P1", (1, b"{}"), |out| r.write_stored(1, out));
        let error = lines.json(|_, _| Ok(())).expect_err("no city or date");
        assert!(error.to_string().contains("not a departure key"), "{error}");
    }
}
