//! Event intake: decoding and validating input events against the contract
//! (`shared/DOMAIN.md`), before any state is touched. A rejected event becomes a
//! dead-letter record with one of the reasons of [`Rejection`].

mod event;
mod product;
mod time;

pub use event::{Event, Op, Origin, Rejection, Rules, decode};
pub use product::{ComponentBinding, DepartureSpec, ProductDef};
pub use time::{format_millis, now_millis, now_rfc3339, parse_rfc3339_millis, write_millis};
