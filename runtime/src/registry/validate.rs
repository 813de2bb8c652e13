//! Checks a new version must pass before it is stored: it fits the size limit, compiles,
//! implements the world with sane metadata (all three in [`PluginHost::load`]), prices
//! the kind it is deployed for, and prices a set of sample departures without failing.
//! Runs on the caller's thread, never on the pricing path.

use pricing_sdk::Date;
use pricing_sdk::wire::{BatchBuilder, DepartureContext};

use super::RegistryError;
use crate::engine::{Plugin, PluginHost};

/// Compiles and checks `wasm`; `kind`, when given, is the kind it must price.
pub(crate) fn validate(
    host: &PluginHost,
    wasm: &[u8],
    kind: Option<&str>,
    max_bytes: usize,
) -> Result<Plugin, RegistryError> {
    if wasm.len() > max_bytes {
        return Err(RegistryError::TooLarge { size: wasm.len(), limit: max_bytes });
    }
    let plugin = host.load(wasm).map_err(RegistryError::from_load)?;
    check_kind(&plugin, kind)?;
    price_samples(&plugin)?;
    Ok(plugin)
}

/// Refuses a plugin whose metadata names another kind than `kind`.
pub(crate) fn check_kind(plugin: &Plugin, kind: Option<&str>) -> Result<(), RegistryError> {
    match kind {
        Some(expected) if expected != plugin.info().kind => {
            Err(RegistryError::WrongKind { expected: expected.to_owned(), actual: plugin.info().kind.clone() })
        }
        _ => Ok(()),
    }
}

/// Prices a spread of departures with no resources. Each departure may come back as a
/// per-departure error (it has no quotes, after all); what refuses the version is the
/// plugin failing as a whole: a trap, a timeout, a memory blow-up or a broken contract.
fn price_samples(plugin: &Plugin) -> Result<(), RegistryError> {
    let batch = sample_batch();
    plugin.price_batch(&batch.0, batch.1).map(|_| ()).map_err(RegistryError::FailedValidation)
}

/// The sample batch and its number of departures: short and long stays, small and large
/// parties, with and without markup, a zero and a real subtotal for adjustments, over a
/// year of dates (leap day included).
pub fn sample_batch() -> (Vec<u8>, usize) {
    let mut b = BatchBuilder::new();
    // 2028-01-01: the second sample date is the leap day 2028-02-29, which exercises
    // plugins' date arithmetic.
    let base = Date::from_days(21_184);
    let mut n = 0;
    for (i, nights) in [0u32, 1, 3, 7, 14, 30].into_iter().enumerate() {
        for pax in [1u32, 2, 3, 6] {
            let ctx = DepartureContext {
                date: base.add_days((i as i32) * 59),
                nights,
                pax,
                markup_bp: if pax % 2 == 0 { 300 } else { 0 },
                subtotal: if nights == 0 { 0 } else { 256_000 },
            };
            b.add_departure(&ctx, &[]);
            n += 1;
        }
    }
    (b.finish().to_vec(), n)
}
