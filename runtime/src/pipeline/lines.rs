//! A batch's output records of one kind, as NDJSON in one buffer.
//!
//! A batch emits hundreds of thousands of departure prices. Held one allocation per
//! record, they cost an allocation, a copy out of the encoder's buffer and a free each,
//! and the file sink copied them once more into its writer. Here the encoder writes each
//! record straight into the buffer, the file sink writes the buffer in one call, and the
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
        self.empty_keeping(self.ndjson.len());
    }

    /// Takes the NDJSON out (for a sink that writes it on another thread) and empties
    /// it for the next batch, which fills `spare` instead: a buffer an earlier batch's
    /// NDJSON came in, whose pages are still mapped. As after [`Lines::clear`], up to
    /// twice the room this batch used is kept.
    pub fn exchange(&mut self, spare: Vec<u8>) -> Vec<u8> {
        let taken = std::mem::replace(&mut self.ndjson, spare);
        self.empty_keeping(taken.len());
        taken
    }

    /// Empties it, keeping room for up to twice `bytes` of JSON and twice the keys and
    /// records.
    fn empty_keeping(&mut self, bytes: usize) {
        let keys = self.keys.len();
        self.ndjson.clear();
        self.ndjson.shrink_to(bytes.saturating_mul(2));
        self.keys.clear();
        self.keys.shrink_to(keys.saturating_mul(2));
        super::empty_keeping(&mut self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn an_exchange_takes_the_ndjson_and_leaves_the_spare_bounded_by_this_batch() {
        let mut lines = Lines::default();
        lines.push("P1", b"{\"a\":1}");
        let spare = Vec::with_capacity(1 << 20);
        let taken = lines.exchange(spare);
        assert_eq!(taken, b"{\"a\":1}\n");
        assert!(lines.is_empty() && lines.ndjson().is_empty() && lines.iter().next().is_none());
        assert!((8..=16).contains(&lines.ndjson.capacity()), "{} bytes kept", lines.ndjson.capacity());
        lines.push("P2", b"{}");
        assert_eq!(lines.iter().collect::<Vec<_>>(), [("P2", &b"{}"[..])]);
        assert_eq!(lines.ndjson(), b"{}\n", "the next batch fills the spare");
        assert_eq!(lines.exchange(Vec::new()), b"{}\n");
        assert!(lines.ndjson().is_empty());
    }
}
