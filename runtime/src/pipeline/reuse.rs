//! Component amounts kept from each departure's last pricing, so that a batch calls a
//! kind's plugin only for the components whose inputs changed.
//!
//! A departure is priced again when any of its resources changes, but most of its
//! components did not: a flight fare leaves the hotel nights, the insurance plan and the
//! cruise cabin of its departures as they were. DOMAIN.md asks for every change to reach
//! its departures "without recomputing what did not change". A component's amount depends
//! only on its resources' quotes, on the departure's definition (date, nights, pax,
//! markup) and on its kind's plugin, so it is reused while none of these changed.
//! Adjustments (discounts) take the running subtotal and are always called.

use std::sync::Arc;

use crate::engine::PluginSet;
use crate::state::{Definition, ResourceSlot, Slot};

/// How many of a departure's first components are kept. The reference products have
/// three before their discounts (flight, hotel or cruise, insurance); a component past
/// these is called every time.
const KEPT: usize = 4;

/// The kept amounts, by departure slot, and what the batch being priced changed.
#[derive(Default)]
pub(crate) struct Reuse {
    /// The (kind, plugin id) pairs the kept amounts were priced with.
    rules: Vec<(String, String)>,
    /// By departure slot.
    kept: Vec<Kept>,
    /// By resource slot: whether the batch being priced wrote a quote of it.
    changed: Vec<bool>,
    /// The slots set in `changed`.
    marked: Vec<ResourceSlot>,
}

/// One departure's kept component amounts.
#[derive(Clone, Default)]
struct Kept {
    /// The definition they were priced for. Held, not only compared by address: a
    /// definition dropped and another allocated in its place must not match.
    definition: Option<Arc<Definition>>,
    amounts: [i64; KEPT],
    /// Bit `c`: `amounts[c]` is component `c`'s.
    valid: u8,
}

impl Reuse {
    /// Readies it for a batch priced with `plugins`, which wrote quotes of the `changed`
    /// resources. With another plugin for any kind than the last batch's (a release or a
    /// rollback, rare), nothing kept is reused.
    pub fn begin(&mut self, plugins: &PluginSet, changed: impl Iterator<Item = ResourceSlot>) {
        for slot in self.marked.drain(..) {
            self.changed[slot.index()] = false;
        }
        for slot in changed {
            let i = slot.index();
            if i >= self.changed.len() {
                self.changed.resize(i + 1, false);
            }
            if !self.changed[i] {
                self.changed[i] = true;
                self.marked.push(slot);
            }
        }
        let same =
            self.rules.iter().map(|(k, id)| (k.as_str(), id.as_str())).eq(plugins.iter().map(|(k, p)| (k, p.id())));
        if !same {
            self.kept.clear();
            self.rules = plugins.iter().map(|(k, p)| (k.to_owned(), p.id().to_owned())).collect();
        }
    }

    /// Component `c`'s amount as the departure in `slot` was last priced, if it was priced
    /// for `definition` and none of the component's resources changed since.
    pub fn amount(&self, slot: Slot, definition: &Arc<Definition>, c: usize) -> Option<i64> {
        let kept = self.kept.get(slot.index())?;
        let fresh = c < KEPT
            && kept.valid & (1 << c) != 0
            && kept.definition.as_ref().is_some_and(|d| Arc::ptr_eq(d, definition))
            && !definition.resources(c).iter().any(|r| self.changed.get(r.index()).copied().unwrap_or(false));
        fresh.then_some(kept.amounts[c])
    }

    /// Keeps what the departure in `slot` was just priced at: for each of its first
    /// components, `amount(c)` (`None`: not priced, or failed). Called before any
    /// adjustment's result is set, so only components' amounts are kept.
    pub fn keep(&mut self, slot: Slot, definition: Option<&Arc<Definition>>, amount: impl Fn(usize) -> Option<i64>) {
        let i = slot.index();
        if i >= self.kept.len() {
            self.kept.resize(i + 1, Kept::default());
        }
        let kept = &mut self.kept[i];
        let Some(definition) = definition else {
            *kept = Kept::default();
            return;
        };
        if !kept.definition.as_ref().is_some_and(|d| Arc::ptr_eq(d, definition)) {
            kept.definition = Some(Arc::clone(definition));
        }
        kept.valid = 0;
        for c in 0..definition.components.len().min(KEPT) {
            if let Some(a) = amount(c) {
                kept.amounts[c] = a;
                kept.valid |= 1 << c;
            }
        }
    }
}
