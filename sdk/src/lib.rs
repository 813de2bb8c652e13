//! # pricing-sdk: write a pricing rule, get a WebAssembly pricing plugin
//!
//! A plugin prices one resource kind (`flight`, `hotel`, ..., or a new one such as
//! `visa`) for the travel pricing engine. You write one [`PricingRule`] impl over plain
//! Rust types and call [`export_plugin!`] once; the SDK generates the component exports
//! of the `travel:pricing/plugin` world, moves batches across the boundary as compact
//! bytes, and applies the binding's markup. Nothing else is needed in your crate.
//!
//! ## A complete plugin
//!
//! A `visa` fee that depends on the destination only:
//!
//! ```
//! use pricing_sdk::{export_plugin, Binding, Context, Departure, Metadata, PriceError, PricingRule, Role};
//! use serde::{Deserialize, Serialize};
//!
//! /// The compact form the host stores for each supplier's quote.
//! #[derive(Serialize, Deserialize)]
//! pub struct VisaQuote {
//!     fee: i64,
//! }
//!
//! pub struct Visa;
//!
//! impl PricingRule for Visa {
//!     type Quote = VisaQuote;
//!
//!     fn metadata() -> Metadata {
//!         Metadata { kind: "visa", version: "1.0.0", role: Role::Component, description: "visa fee per person" }
//!     }
//!
//!     // Once per event: validate the supplier's data and keep only what pricing needs.
//!     fn decode_quote(_key: &str, data: &serde_json::Value) -> Result<VisaQuote, PriceError> {
//!         let fee = data["fee"].as_i64().ok_or_else(|| PriceError::invalid("`fee` must be an integer"))?;
//!         if fee < 0 {
//!             return Err(PriceError::invalid("`fee` is negative"));
//!         }
//!         Ok(VisaQuote { fee })
//!     }
//!
//!     // Once per product: which resource keys this departure's price depends on.
//!     fn dependencies(_binding: &Binding, departure: &Departure) -> Result<Vec<String>, PriceError> {
//!         Ok(vec![departure.destination.clone()])
//!     }
//!
//!     // The hot path: resources arrive in dependency order, each with every supplier's quote.
//!     fn price(_ctx: &Context, resources: &[&[VisaQuote]]) -> Result<i64, PriceError> {
//!         let quotes = resources.first().copied().unwrap_or_default();
//!         quotes.iter().map(|q| q.fee).min().ok_or_else(|| PriceError::unavailable("no visa quote"))
//!     }
//! }
//!
//! export_plugin!(Visa);
//!
//! // The same rule, tested natively with plain `cargo test`:
//! use pricing_sdk::testing::{assert_cases, Case, Expect};
//! use serde_json::json;
//! assert_cases::<Visa>(&[
//!     Case::new("cheapest supplier", "2026-12-01", 3)
//!         .resource("XMN", vec![json!({"fee": 9000}), json!({"fee": 8000})])
//!         .expect(Expect::Price(8000)),
//!     Case::new("markup rounds up", "2026-12-01", 3)
//!         .markup_bp(333)
//!         .resource("XMN", vec![json!({"fee": 8001})])
//!         .expect(Expect::Price(8268)), // ceil(8001 * 10333 / 10000) = ceil(8267.43)
//!     Case::new("no quote", "2026-12-01", 3).resource("XMN", vec![]).expect(Expect::Unavailable),
//! ]);
//! ```
//!
//! The plugin's `Cargo.toml` needs `crate-type = ["cdylib", "rlib"]`, and dependencies on
//! `pricing-sdk`, `serde` and `serde_json`. Build the component with
//! `cargo build --release --target wasm32-wasip2`; the `.wasm` in
//! `target/wasm32-wasip2/release/` is what the engine loads.
//!
//! ## Rules of the contract
//! - Money is `i64` minor units of the deployment currency, per person.
//! - A departure that cannot be sold is `Err(PriceError::Unavailable(reason))`; bad data is
//!   `Err(PriceError::InvalidInput(reason))`. Never panic: a panic traps the instance, and
//!   the host counts it against the plugin (enough of them roll the version back).
//! - Plugins are pure: no clock, files, network or environment. The host grants none.
//! - For [`Role::Component`] the SDK applies the binding's `markup_bp` to what `price`
//!   returns (`ceil(amount * (10000 + markup_bp) / 10000)`); for [`Role::Adjustment`] the
//!   result is added to the subtotal as is, and [`Context::subtotal`] holds it.

#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod conformance;
pub mod date;
pub mod driver;
pub mod fields;
pub mod money;
pub mod testing;
mod types;
pub mod wire;

pub use date::Date;
pub use types::{Binding, Context, Departure, Metadata, PriceError, Role};

/// The rules of one resource kind. Implement it on a unit struct and pass that struct to
/// [`export_plugin!`].
pub trait PricingRule {
    /// The compact form of one supplier's quote, as the host stores it between events.
    /// Keep only what [`PricingRule::price`] needs: it is decoded once per batch.
    type Quote: serde::Serialize + serde::de::DeserializeOwned;

    /// Kind, version and role. Called at load time and once per batch; keep it cheap.
    fn metadata() -> Metadata;

    /// Validates one supplier's quote (`data` of the event) for resource `key`, and keeps
    /// what pricing needs. Errors here send the event to the dead-letter output.
    fn decode_quote(key: &str, data: &serde_json::Value) -> Result<Self::Quote, PriceError>;

    /// The resource keys a departure depends on for this product binding, in the order
    /// [`PricingRule::price`] receives them. The engine's fan-out index is built from it.
    fn dependencies(binding: &Binding, departure: &Departure) -> Result<Vec<String>, PriceError>;

    /// Prices one departure. `resources[i]` holds every supplier's quote for the i-th key
    /// that `dependencies` returned (empty when nothing is known for that key).
    fn price(ctx: &Context, resources: &[&[Self::Quote]]) -> Result<i64, PriceError>;
}

/// Generated component bindings. Not part of the API: use [`export_plugin!`].
#[doc(hidden)]
pub mod __bindings {
    wit_bindgen::generate!({
        world: "plugin",
        path: "../wit",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "pricing_sdk::__bindings",
    });
}

/// Glue between the generated bindings and [`driver`]. Not part of the API.
#[doc(hidden)]
pub mod __export {
    use crate::__bindings::travel::pricing::types as wit;
    use crate::{PriceError, PricingRule, Role, driver};

    fn error(e: PriceError) -> wit::PriceError {
        match e {
            PriceError::Unavailable(r) => wit::PriceError::Unavailable(r),
            PriceError::InvalidInput(r) => wit::PriceError::InvalidInput(r),
        }
    }

    pub fn metadata<R: PricingRule>() -> wit::Metadata {
        let m = R::metadata();
        wit::Metadata {
            kind: m.kind.to_owned(),
            version: m.version.to_owned(),
            role: match m.role {
                Role::Component => wit::Role::Component,
                Role::Adjustment => wit::Role::Adjustment,
            },
            description: m.description.to_owned(),
        }
    }

    pub fn decode_quote<R: PricingRule>(key: String, data: String) -> Result<Vec<u8>, wit::PriceError> {
        driver::decode_quote::<R>(&key, &data).map_err(error)
    }

    pub fn dependencies<R: PricingRule>(
        binding: String,
        departures: Vec<wit::Departure>,
    ) -> Result<Vec<Vec<String>>, wit::PriceError> {
        let departures = departures
            .into_iter()
            .map(|d| driver::departure(d.city, d.destination, &d.date, d.nights, d.pax))
            .collect::<Result<Vec<_>, _>>()
            .map_err(error)?;
        driver::dependencies::<R>(&binding, &departures).map_err(error)
    }

    pub fn price_batch<R: PricingRule>(batch: Vec<u8>) -> wit::BatchResult {
        let result = driver::price_batch::<R>(&batch);
        wit::BatchResult {
            amounts: result.amounts,
            errors: result
                .errors
                .into_iter()
                .map(|(index, e)| wit::DepartureError { index, error: error(e) })
                .collect(),
        }
    }
}

/// Exports a [`PricingRule`] impl as the plugin's component exports.
///
/// Call it once, at the crate root, with the type that implements [`PricingRule`]. On
/// non-wasm targets it expands to nothing, so the same crate links natively for tests.
#[macro_export]
macro_rules! export_plugin {
    ($rule:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __PricingPluginExport;

            impl $crate::__bindings::Guest for __PricingPluginExport {
                fn metadata() -> $crate::__bindings::travel::pricing::types::Metadata {
                    $crate::__export::metadata::<$rule>()
                }
                fn decode_quote(
                    key: ::std::string::String,
                    data: ::std::string::String,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::__bindings::travel::pricing::types::PriceError>
                {
                    $crate::__export::decode_quote::<$rule>(key, data)
                }
                fn dependencies(
                    binding: ::std::string::String,
                    departures: ::std::vec::Vec<$crate::__bindings::travel::pricing::types::Departure>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<::std::vec::Vec<::std::string::String>>,
                    $crate::__bindings::travel::pricing::types::PriceError,
                > {
                    $crate::__export::dependencies::<$rule>(binding, departures)
                }
                fn price_batch(batch: ::std::vec::Vec<u8>) -> $crate::__bindings::travel::pricing::types::BatchResult {
                    $crate::__export::price_batch::<$rule>(batch)
                }
            }

    $crate::__bindings::__export_plugin_world!(__PricingPluginExport with_types_in $crate::__bindings);
        };
    };
}
