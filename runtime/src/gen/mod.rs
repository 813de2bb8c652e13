//! A seeded, realistic workload generator: NDJSON input events exactly as
//! `shared/DOMAIN.md` defines them.
//!
//! The output is, in order:
//!
//! 1. **the catalog**: one `product` upsert per product (`P000001`, ...): a destination,
//!    2 to 7 nights, mostly 2 travellers, a few departure cities (the big hubs more
//!    often) each with `dates_per_city` mostly consecutive dates, and components: a
//!    flight (sometimes with a markup), a hotel of the destination (popular hotels more
//!    often) or, for some products, a cruise cabin, an insurance plan and often 1 to 3
//!    discount rules;
//! 2. **the initial state**: every resource key a departure depends on, quoted by one
//!    to four suppliers, seq 1 (a few quotes have almost no seats, rooms or cabins left,
//!    so some departures are unavailable);
//! 3. **the change stream**: `events` lines: supplier quote updates (prices random-walk,
//!    stock sells down and is restocked, an occasional delete), busy keys changing far
//!    more often than quiet ones (Zipf), product re-publications and a few product
//!    deletes, interleaved with malformed events cycling through every
//!    [`MalformedClass`] and stale replays of recent events.
//!
//! All money is in fen (`CNY`). `seq` grows by one per (kind, key, supplier); `ts` grows
//! from `clock_start` (a stale replay keeps its original `ts`); ids are `e-<line>`.
//! The randomness is a hand-written SplitMix64 and the arithmetic avoids platform math
//! functions, so a config and seed give byte-identical output forever.
//! Memory is bounded by the key tables (the catalog is regenerated, never kept).

mod emit;
mod rng;
mod stream;
mod tables;
mod world;

#[cfg(test)]
mod tests;

use std::io::{self, Write};

use emit::Sink;
use rng::Rng;
use stream::{Shape, Stream, product_line, resource_line};
use tables::Kind;
use world::World;

/// What to generate. Every field has a default (see [`GenConfig::default`]), so a config
/// file or a command line only names what it changes.
#[derive(Clone, Debug, serde::Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct GenConfig {
    /// Seed of every random choice: the same config gives byte-identical output.
    #[arg(long, default_value_t = GenConfig::default().seed)]
    pub seed: u64,
    /// Number of products in the catalog.
    #[arg(long, default_value_t = GenConfig::default().products)]
    pub products: u32,
    /// Mean number of departure cities per product (each product has one less to one
    /// more, out of a pool of 20).
    #[arg(long, default_value_t = GenConfig::default().cities)]
    pub cities: u32,
    /// Departure dates per departure city.
    #[arg(long, default_value_t = GenConfig::default().dates_per_city)]
    pub dates_per_city: u32,
    /// Lines in the change stream after the catalog and the initial state (malformed and
    /// stale lines included).
    #[arg(long, default_value_t = GenConfig::default().events)]
    pub events: u64,
    /// Share of change-stream lines that are malformed (cycling through every class).
    #[arg(long, default_value_t = GenConfig::default().malformed_rate)]
    pub malformed_rate: f64,
    /// Share of change-stream lines that are stale replays of a recent event.
    #[arg(long, default_value_t = GenConfig::default().stale_rate)]
    pub stale_rate: f64,
    /// Zipf exponent of resource, product and hotel popularity (0: uniform).
    #[arg(long, default_value_t = GenConfig::default().zipf)]
    pub zipf: f64,
    /// Relative weight of flight quote changes in the change stream.
    #[arg(long, default_value_t = GenConfig::default().mix_flight)]
    pub mix_flight: u32,
    /// Relative weight of hotel quote changes.
    #[arg(long, default_value_t = GenConfig::default().mix_hotel)]
    pub mix_hotel: u32,
    /// Relative weight of insurance quote changes.
    #[arg(long, default_value_t = GenConfig::default().mix_insurance)]
    pub mix_insurance: u32,
    /// Relative weight of cruise quote changes.
    #[arg(long, default_value_t = GenConfig::default().mix_cruise)]
    pub mix_cruise: u32,
    /// Relative weight of discount rule changes.
    #[arg(long, default_value_t = GenConfig::default().mix_discount)]
    pub mix_discount: u32,
    /// Relative weight of product re-publications and deletes.
    #[arg(long, default_value_t = GenConfig::default().mix_product)]
    pub mix_product: u32,
    /// Share of resource changes that delete the supplier's quote (or the rule).
    #[arg(long, default_value_t = GenConfig::default().delete_rate)]
    pub delete_rate: f64,
    /// Share of product changes that delete the product.
    #[arg(long, default_value_t = GenConfig::default().product_delete_rate)]
    pub product_delete_rate: f64,
    /// Share of products that are cruises (a cruise cabin instead of a hotel).
    #[arg(long, default_value_t = GenConfig::default().cruise_share)]
    pub cruise_share: f64,
    /// Share of products with discount rules.
    #[arg(long, default_value_t = GenConfig::default().discount_share)]
    pub discount_share: f64,
    /// Destinations in use, most popular first (0: about one per 20 products, 2 to 40).
    #[arg(long, default_value_t = GenConfig::default().destinations)]
    pub destinations: u32,
    /// Hotels per destination.
    #[arg(long, default_value_t = GenConfig::default().hotels_per_destination)]
    pub hotels_per_destination: u32,
    /// Days over which products' first departure dates are spread: small values make
    /// many products share each flight route-date (high fan-out), a year makes it
    /// about as sparse as a real catalog.
    #[arg(long, default_value_t = GenConfig::default().date_spread_days)]
    pub date_spread_days: u32,
    /// First departure date, `YYYY-MM-DD`.
    #[arg(long, default_value_t = GenConfig::default().first_date)]
    pub first_date: String,
    /// Timestamp of the first event, `YYYY-MM-DDTHH:MM:SSZ`.
    #[arg(long, default_value_t = GenConfig::default().clock_start)]
    pub clock_start: String,
    /// Mean milliseconds between consecutive events' `ts`.
    #[arg(long, default_value_t = GenConfig::default().ts_step_ms)]
    pub ts_step_ms: u64,
}

impl Default for GenConfig {
    /// A small workload: 50 products, ~3 cities x 30 dates (~4,500 departures), 10,000
    /// change events, 1% malformed, 1% stale, seed 42.
    fn default() -> Self {
        GenConfig {
            seed: 42,
            products: 50,
            cities: 3,
            dates_per_city: 30,
            events: 10_000,
            malformed_rate: 0.01,
            stale_rate: 0.01,
            zipf: 1.1,
            // Parts per 10,000. A plan or rule is shared by a large share of all
            // departures, so its changes are rare (as they are in real life), or they
            // would dominate the re-pricing work.
            mix_flight: 6_000,
            mix_hotel: 3_545,
            mix_insurance: 2,
            mix_cruise: 350,
            mix_discount: 3,
            mix_product: 100,
            delete_rate: 0.02,
            product_delete_rate: 0.05,
            cruise_share: 0.1,
            discount_share: 0.6,
            destinations: 0,
            hotels_per_destination: 25,
            date_spread_days: 4,
            first_date: "2026-12-01".into(),
            clock_start: "2026-11-01T00:00:00Z".into(),
            ts_step_ms: 10,
        }
    }
}

/// The classes of bad input the change stream cycles through, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MalformedClass {
    /// A truncated line: not JSON.
    NotJson,
    /// A resource event without `seq`.
    MissingField,
    /// A resource event whose `seq` is a string.
    WrongType,
    /// `"kind":"spaceship"`.
    UnknownKind,
    /// A flight quote with `"fare":-100`.
    NegativeAmount,
    /// A quote in `USD`.
    CurrencyMismatch,
    /// A hotel quote without `supplier`.
    MissingSupplier,
}

impl MalformedClass {
    /// Every class, in the order the stream cycles through them.
    pub const ALL: [MalformedClass; 7] = [
        MalformedClass::NotJson,
        MalformedClass::MissingField,
        MalformedClass::WrongType,
        MalformedClass::UnknownKind,
        MalformedClass::NegativeAmount,
        MalformedClass::CurrencyMismatch,
        MalformedClass::MissingSupplier,
    ];
}

/// Counts per resource kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindCounts {
    /// Flight route-dates (`FROM/TO/DATE`).
    pub flight: u64,
    /// Hotel nights (`HOTEL/DATE`).
    pub hotel: u64,
    /// Insurance plans.
    pub insurance: u64,
    /// Cruise sailings and cabins (`SHIP/DATE/CABIN`).
    pub cruise: u64,
    /// Discount rules.
    pub discount: u64,
}

impl KindCounts {
    fn add(&mut self, kind: Kind, n: u64) {
        *match kind {
            Kind::Flight => &mut self.flight,
            Kind::Hotel => &mut self.hotel,
            Kind::Insurance => &mut self.insurance,
            Kind::Cruise => &mut self.cruise,
            Kind::Discount => &mut self.discount,
        } += n;
    }

    /// The sum over kinds.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.flight + self.hotel + self.insurance + self.cruise + self.discount
    }
}

/// Counts per [`MalformedClass`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MalformedCounts {
    /// [`MalformedClass::NotJson`].
    pub not_json: u64,
    /// [`MalformedClass::MissingField`].
    pub missing_field: u64,
    /// [`MalformedClass::WrongType`].
    pub wrong_type: u64,
    /// [`MalformedClass::UnknownKind`].
    pub unknown_kind: u64,
    /// [`MalformedClass::NegativeAmount`].
    pub negative_amount: u64,
    /// [`MalformedClass::CurrencyMismatch`].
    pub currency_mismatch: u64,
    /// [`MalformedClass::MissingSupplier`].
    pub missing_supplier: u64,
}

impl MalformedCounts {
    /// The count of one class.
    #[must_use]
    pub fn get(&self, class: MalformedClass) -> u64 {
        let mut copy = self.clone();
        *copy.get_mut(class)
    }

    /// The count of one class, to update it.
    pub fn get_mut(&mut self, class: MalformedClass) -> &mut u64 {
        match class {
            MalformedClass::NotJson => &mut self.not_json,
            MalformedClass::MissingField => &mut self.missing_field,
            MalformedClass::WrongType => &mut self.wrong_type,
            MalformedClass::UnknownKind => &mut self.unknown_kind,
            MalformedClass::NegativeAmount => &mut self.negative_amount,
            MalformedClass::CurrencyMismatch => &mut self.currency_mismatch,
            MalformedClass::MissingSupplier => &mut self.missing_supplier,
        }
    }

    /// The sum over classes.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.not_json
            + self.missing_field
            + self.wrong_type
            + self.unknown_kind
            + self.negative_amount
            + self.currency_mismatch
            + self.missing_supplier
    }
}

/// What [`generate`] wrote.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct GenSummary {
    /// Products in the catalog.
    pub products: u64,
    /// Departures (product, city, date) in the catalog as first published.
    pub departures: u64,
    /// Lines written in all.
    pub lines: u64,
    /// Catalog lines (one per product).
    pub catalog_lines: u64,
    /// Initial-state lines (one per supplier quote).
    pub initial_lines: u64,
    /// Change-stream lines (valid, malformed and stale).
    pub change_lines: u64,
    /// Distinct resource keys the catalog uses (every plan and rule included), per kind;
    /// each has at least one initial quote.
    pub distinct_keys: KindCounts,
    /// Initial quotes per kind.
    pub initial_quotes: KindCounts,
    /// Valid resource events in the change stream per kind (upserts and deletes).
    pub resource_changes: KindCounts,
    /// Of those, deletes.
    pub resource_deletes: KindCounts,
    /// Product upserts in the change stream (re-publications).
    pub product_updates: u64,
    /// Product deletes in the change stream.
    pub product_deletes: u64,
    /// Malformed lines per class.
    pub malformed: MalformedCounts,
    /// Malformed lines in all.
    pub malformed_total: u64,
    /// Stale replays.
    pub stale: u64,
    /// Distinct flight route-dates the catalog uses.
    pub distinct_flight_route_dates: u64,
    /// Sum over departures of the flight route-dates each uses (2), divided by the
    /// distinct route-dates: how many departures a flight change re-prices on average.
    pub mean_flight_fanout: f64,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("gen: {msg}"))
}

fn validate(config: &GenConfig) -> io::Result<()> {
    let share = |name: &str, v: f64| {
        if (0.0..=1.0).contains(&v) { Ok(()) } else { Err(invalid(&format!("{name} must be in [0, 1], got {v}"))) }
    };
    share("malformed_rate", config.malformed_rate)?;
    share("stale_rate", config.stale_rate)?;
    share("malformed_rate + stale_rate", config.malformed_rate + config.stale_rate)?;
    share("delete_rate", config.delete_rate)?;
    share("product_delete_rate", config.product_delete_rate)?;
    share("cruise_share", config.cruise_share)?;
    share("discount_share", config.discount_share)?;
    if !(0.0..=10.0).contains(&config.zipf) {
        return Err(invalid(&format!("zipf must be in [0, 10], got {}", config.zipf)));
    }
    Ok(())
}

/// Writes the catalog, then the initial state, then the change stream to `out`, one
/// event per line, and says what it wrote. `progress(lines_written, lines_expected)` is
/// called every few thousand lines and once at the end.
///
/// Streams: memory holds the resource key tables and per-product state only. Fails with
/// `InvalidInput` on a bad config, or with the writer's error.
pub fn generate(config: &GenConfig, out: &mut impl Write, progress: impl FnMut(u64, u64)) -> io::Result<GenSummary> {
    validate(config)?;
    let world = World::new(config)?;
    let catalog = tables::build(&world);
    let mut summary =
        GenSummary { products: u64::from(config.products), departures: catalog.departures, ..GenSummary::default() };
    for table in &catalog.tables {
        summary.distinct_keys.add(table.kind, table.keys.len() as u64);
        summary.initial_quotes.add(table.kind, table.quotes.len() as u64);
    }
    summary.distinct_flight_route_dates = summary.distinct_keys.flight;
    summary.mean_flight_fanout = 2.0 * catalog.departures as f64 / summary.distinct_flight_route_dates.max(1) as f64;

    let total = u64::from(config.products) + summary.initial_quotes.total() + config.events;
    let clock_rng = Rng::derive(config.seed, &[TAG_CLOCK]);
    let mut sink = Sink::new(out, clock_rng, world.clock_start_ms, config.ts_step_ms, total, progress);

    for index in 0..config.products {
        product_line(&mut sink, &world, index, 1, Some(0))?;
    }
    summary.catalog_lines = sink.lines;

    for table in &catalog.tables {
        let mut order: Vec<u32> = (0..table.keys.len() as u32).collect();
        order.sort_unstable_by_key(|&rank| table.keys[rank as usize]);
        for rank in order {
            let key = table.keys[rank as usize];
            for q in &table.quotes[table.quote_range(rank as usize)] {
                resource_line(&mut sink, table.kind, key, q, Shape::VALID);
                sink.end(true)?;
            }
        }
    }
    summary.initial_lines = sink.lines - summary.catalog_lines;

    let mut stream = Stream::new(config, &world, catalog.tables)?;
    for _ in 0..config.events {
        stream.next(&mut sink, &mut summary)?;
    }
    summary.change_lines = sink.lines - summary.catalog_lines - summary.initial_lines;
    summary.lines = sink.lines;
    summary.malformed_total = summary.malformed.total();
    sink.finish()?;
    Ok(summary)
}

const TAG_CLOCK: u64 = 10;
