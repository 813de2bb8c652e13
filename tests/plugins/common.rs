// Shared by the hostile plugins: an ordinary rule (100 per departure, quotes are any
// JSON object) that misbehaves only when a departure has POISON_NIGHTS nights, so a test
// can show the misbehaviour is contained and the next batch prices normally.

/// Nights value that makes the plugin misbehave.
pub const POISON_NIGHTS: u32 = 99;

macro_rules! hostile_rule {
    ($ty:ident, $kind:literal, $misbehave:expr) => {
        /// A hostile plugin for the host's containment tests.
        pub struct $ty;

        impl pricing_sdk::PricingRule for $ty {
            type Quote = ();

            fn metadata() -> pricing_sdk::Metadata {
                pricing_sdk::Metadata {
                    kind: $kind,
                    version: "0.1.0",
                    role: pricing_sdk::Role::Component,
                    description: "hostile test plugin",
                }
            }

            fn decode_quote(_key: &str, _data: &serde_json::Value) -> Result<(), pricing_sdk::PriceError> {
                Ok(())
            }

            fn dependencies(
                _binding: &pricing_sdk::Binding,
                _departure: &pricing_sdk::Departure,
            ) -> Result<Vec<String>, pricing_sdk::PriceError> {
                Ok(Vec::new())
            }

            fn price(ctx: &pricing_sdk::Context, _resources: &[&[()]]) -> Result<i64, pricing_sdk::PriceError> {
                if ctx.nights == POISON_NIGHTS {
                    $misbehave;
                }
                Ok(100)
            }
        }

        pricing_sdk::export_plugin!($ty);
    };
}
