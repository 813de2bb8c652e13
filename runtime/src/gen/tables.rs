//! The resource keys the catalog uses, ranked by popularity, and each supplier quote's
//! current state (seq, values), so the change stream can random-walk prices and keep
//! `seq` growing per (kind, key, supplier).

use std::fmt::Write as _;

use pricing_sdk::Date;

use super::rng::{FastMap, Rng, mix};
use super::world::{CABINS, CITIES, DESTS, Lodging, PLANS, ProductDef, RULES, SHIPS, World, hotel_code};

/// A resource kind the generator produces quotes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Flight = 0,
    Hotel = 1,
    Insurance = 2,
    Cruise = 3,
    Discount = 4,
}

pub(super) const KINDS: [Kind; 5] = [Kind::Flight, Kind::Hotel, Kind::Insurance, Kind::Cruise, Kind::Discount];

impl Kind {
    pub(super) fn name(self) -> &'static str {
        ["flight", "hotel", "insurance", "cruise", "discount"][self as usize]
    }

    fn suppliers(self) -> &'static [&'static str] {
        match self {
            Kind::Flight => &["MU", "CA", "CZ", "HU", "MF", "3U", "ZH", "FM", "HO", "9C"],
            Kind::Hotel => &["S1", "S2", "S3", "S4"],
            Kind::Insurance => &["PICC", "PINGAN", "CPIC"],
            Kind::Cruise => &["C1", "C2", "C3"],
            Kind::Discount => &[],
        }
    }
}

/// A resource key packed into a `u64`: kind, two small fields and a date. Sorting packed
/// keys sorts by kind, then the fields, then the date.
pub(super) type Key = u64;

fn pack(kind: Kind, a: u32, b: u32, day: i32) -> Key {
    (kind as u64) << 60 | u64::from(a & 0xF_FFFF) << 40 | u64::from(b & 0xFF) << 32 | u64::from(day as u32)
}

/// The key of hotel `hotel`'s night of `day`.
pub(super) fn hotel_key(hotel: u32, day: i32) -> Key {
    pack(Kind::Hotel, hotel, 0, day)
}

fn kind_of(key: Key) -> usize {
    (key >> 60) as usize
}

fn fields(key: Key) -> (u32, u32, i32) {
    (((key >> 40) & 0xF_FFFF) as u32, ((key >> 32) & 0xFF) as u32, key as u32 as i32)
}

/// Place numbers of flight keys: cities are `0..20`, destinations `64 + index`.
const DEST_PLACE: u32 = 64;

fn place(p: u32) -> &'static str {
    if p >= DEST_PLACE { DESTS[(p - DEST_PLACE) as usize].code } else { CITIES[p as usize] }
}

/// Calls `f` with every resource key (with repeats) that each departure of `def` uses.
pub(super) fn for_each_dependency(def: &ProductDef, mut f: impl FnMut(Key)) {
    let dest = DEST_PLACE + def.dest;
    for (city, dates) in &def.departures {
        for &day in dates {
            f(pack(Kind::Flight, *city, dest, day));
            f(pack(Kind::Flight, dest, *city, day + def.nights as i32));
            match def.lodging {
                Lodging::Hotel(h) => (0..def.nights as i32).for_each(|i| f(pack(Kind::Hotel, h, 0, day + i))),
                Lodging::Cruise { ship, cabin } => f(pack(Kind::Cruise, ship, cabin, day)),
            }
            f(pack(Kind::Insurance, def.plan, 0, 0));
            for &r in &def.rules {
                f(pack(Kind::Discount, r, 0, 0));
            }
        }
    }
}

/// Appends the key's text form (`SHA/XMN/2026-12-01`, `H0042/2026-12-01`, ...).
pub(super) fn write_key(buf: &mut String, key: Key) {
    let (a, b, day) = fields(key);
    let _ = match KINDS[kind_of(key)] {
        Kind::Flight => write!(buf, "{}/{}/{}", place(a), place(b), Date::from_days(day)),
        Kind::Hotel => write!(buf, "{}/{}", hotel_code(a), Date::from_days(day)),
        Kind::Insurance => write!(buf, "{}", PLANS[a as usize]),
        Kind::Cruise => write!(buf, "{}/{}/{}", SHIPS[a as usize], Date::from_days(day), CABINS[b as usize]),
        Kind::Discount => write!(buf, "{}", RULES[a as usize].0),
    };
}

/// No date: the `from`/`to` of a discount without a window.
const NO_DAY: i32 = i32::MIN;

/// One supplier's current quote for one key. The fields mean, per kind:
/// flight (fare, taxes, seats), hotel (room_night, -, rooms), insurance (base price,
/// -, number of bands), cruise (per_person, port_fees, cabins), discount (value_bp or
/// value, cap or min_subtotal (-1: none), percent?).
#[derive(Clone, Debug)]
pub(super) struct Quote {
    pub supplier: u8,
    pub live: bool,
    pub seq: u32,
    pub p1: i64,
    pub p2: i64,
    pub n: u32,
    pub from: i32,
    pub to: i32,
}

impl Quote {
    /// A plausible hotel quote, for malformed events when the catalog has no hotels.
    pub(super) fn placeholder() -> Self {
        quote(0, 50_000, 0, 5)
    }
}

/// The keys of one kind in popularity order, and their quotes.
pub(super) struct Table {
    pub kind: Kind,
    /// Rank 0 is the key the most departures use.
    pub keys: Vec<Key>,
    /// Quotes of `keys[i]` are `quotes[starts[i]..starts[i + 1]]`.
    pub starts: Vec<u32>,
    pub quotes: Vec<Quote>,
}

impl Table {
    pub(super) fn quote_range(&self, rank: usize) -> std::ops::Range<usize> {
        self.starts[rank] as usize..self.starts[rank + 1] as usize
    }
}

/// What building the tables learnt about the catalog.
pub(super) struct Catalog {
    pub tables: Vec<Table>,
    pub departures: u64,
}

const TAG_QUOTE: u64 = 2;
const TAG_ROUTE: u64 = 3;
const TAG_HOTEL: u64 = 4;
const TAG_ENTITY: u64 = 5;

/// Walks the whole catalog once, counting how many departures use each resource key,
/// and builds the ranked tables with every key's initial quotes.
pub(super) fn build(world: &World) -> Catalog {
    let mut uses: FastMap<u32> = FastMap::default();
    let mut departures = 0u64;
    for index in 0..world.products {
        let def = world.product(index);
        departures += def.departures.iter().map(|(_, d)| d.len() as u64).sum::<u64>();
        for_each_dependency(&def, |key| *uses.entry(key).or_insert(0) += 1);
    }
    // Every plan and rule is quotable: a product update may switch to any of them.
    for plan in 0..PLANS.len() as u32 {
        uses.entry(pack(Kind::Insurance, plan, 0, 0)).or_insert(0);
    }
    for rule in 0..RULES.len() as u32 {
        uses.entry(pack(Kind::Discount, rule, 0, 0)).or_insert(0);
    }
    let mut by_kind: Vec<Vec<(Key, u32)>> = vec![Vec::new(); KINDS.len()];
    for (key, count) in uses {
        by_kind[kind_of(key)].push((key, count));
    }
    let tables = KINDS
        .iter()
        .zip(by_kind)
        .map(|(&kind, mut keys)| {
            // Busy keys change most often; ties in a seeded but stable order.
            keys.sort_unstable_by_key(|&(key, count)| (std::cmp::Reverse(count), mix(key ^ world.seed), key));
            let mut table = Table { kind, keys: Vec::with_capacity(keys.len()), starts: vec![0], quotes: Vec::new() };
            for (key, _) in keys {
                initial_quotes(world, key, &mut table.quotes);
                table.keys.push(key);
                table.starts.push(table.quotes.len() as u32);
            }
            table
        })
        .collect();
    Catalog { tables, departures }
}

/// `n` distinct supplier numbers out of `of`.
fn pick_suppliers(rng: &mut Rng, n: usize, of: usize) -> Vec<u8> {
    let mut all: Vec<u8> = (0..of as u8).collect();
    for i in 0..n.min(of) {
        let j = i + rng.index(of - i);
        all.swap(i, j);
    }
    all.truncate(n.min(of));
    all.sort_unstable();
    all
}

fn weekday(day: i32) -> i32 {
    (day + 3).rem_euclid(7) // 0 = Monday; 1970-01-01 was a Thursday
}

/// Seats, rooms or cabins: usually plenty, sometimes almost sold out.
fn stock(rng: &mut Rng, low: i64, high: i64) -> u32 {
    if rng.chance(0.06) { rng.range(0, low) as u32 } else { rng.range(low + 1, high) as u32 }
}

fn quote(supplier: u8, p1: i64, p2: i64, n: u32) -> Quote {
    Quote { supplier, live: true, seq: 1, p1, p2, n, from: NO_DAY, to: NO_DAY }
}

/// Appends the initial quotes of `key`, all with seq 1.
fn initial_quotes(world: &World, key: Key, out: &mut Vec<Quote>) {
    let seed = world.seed;
    let mut rng = Rng::derive(seed, &[TAG_QUOTE, key]);
    let (a, b, day) = fields(key);
    let kind = KINDS[kind_of(key)];
    let n_sup = kind.suppliers().len();
    match kind {
        Kind::Flight => {
            // Airlines, base fare and taxes belong to the route, both directions alike.
            let mut route = Rng::derive(seed, &[TAG_ROUTE, u64::from(a.min(b)), u64::from(a.max(b))]);
            let n_airlines = 1 + route.weighted(&[30, 45, 25]);
            let airlines = pick_suppliers(&mut route, n_airlines, n_sup);
            let intl = DESTS[(a.max(b) - DEST_PLACE) as usize].intl;
            let base = if intl { route.range(150_000, 450_000) } else { route.range(40_000, 180_000) };
            let taxes = if intl { route.range(150, 400) * 100 } else { route.range(50, 150) * 100 };
            let peak = if weekday(day) >= 4 { 11_200 } else { 10_000 };
            let day_fare = base * peak / 10_000;
            let first = out.len();
            for (i, &airline) in airlines.iter().enumerate() {
                if rng.chance(0.15) && (out.len() > first || i + 1 < airlines.len()) {
                    continue; // this airline does not fly the route that day
                }
                out.push(quote(airline, rng.walk(day_fare, 1_500, 10_000, 100), taxes, stock(&mut rng, 2, 60)));
            }
        }
        Kind::Hotel => {
            let mut hotel = Rng::derive(seed, &[TAG_HOTEL, u64::from(a)]);
            let n_hotel = hotel.range(2, 4) as usize;
            let suppliers = pick_suppliers(&mut hotel, n_hotel, n_sup);
            let base = hotel.range(250, 1500) * 100;
            let night = if matches!(weekday(day), 4 | 5) { base * 125 / 100 } else { base };
            for s in suppliers {
                out.push(quote(s, rng.walk(night, 800, 5_000, 1), 0, stock(&mut rng, 1, 30)));
            }
        }
        Kind::Insurance => {
            let base = [1_500, 3_000, 6_000, 4_500, 5_000][a as usize];
            let n = 1 + rng.index(2);
            for s in pick_suppliers(&mut rng, n, n_sup) {
                let bands = if rng.chance(0.25) { 2 } else { BAND_DAYS.len() as u32 };
                out.push(quote(s, rng.walk(base, 1_500, 500, 100), 0, bands));
            }
        }
        Kind::Cruise => {
            let mut ship = Rng::derive(seed, &[TAG_ENTITY, u64::from(a)]);
            let scale = ship.range(8_000, 13_000);
            let port_fees = ship.range(400, 800) * 100;
            let cabin = [300_000, 400_000, 550_000, 1_000_000][b as usize] * scale / 10_000;
            let n = 1 + rng.index(2);
            for s in pick_suppliers(&mut rng, n, n_sup) {
                out.push(quote(s, rng.walk(cabin, 1_000, 100_000, 100), port_fees, stock(&mut rng, 0, 40)));
            }
        }
        Kind::Discount => {
            let (name, percent) = RULES[a as usize];
            let digits: i64 = name.trim_start_matches(|c: char| c.is_ascii_alphabetic()).parse().unwrap_or(5);
            let mut q = if percent {
                let value_bp = match name {
                    "EB30" => 500,
                    "EB60" => 800,
                    _ => digits * 100,
                };
                let cap = if rng.chance(0.8) { rng.range(2, 10) * 10_000 } else { -1 };
                quote(u8::MAX, value_bp, cap, 1)
            } else {
                quote(u8::MAX, digits * 100, digits * 1_000, 0)
            };
            let window = match name {
                "SUMMER10" => Some((0, 20)),
                "WINTER8" => Some((15, 60)),
                "FLASH15" => Some((5, 9)),
                _ => None,
            };
            if let Some((from, to)) = window {
                (q.from, q.to) = (world.first_day + from, world.first_day + to);
            }
            out.push(q);
        }
    }
}

/// `max_days` of insurance bands, and each band's price in thousandths of the base price.
const BAND_DAYS: [u32; 5] = [3, 5, 8, 15, 30];
const BAND_PERMILLE: [i64; 5] = [1_000, 1_500, 2_000, 3_000, 4_500];

/// Moves a quote the way suppliers do: prices random-walk, stock sells down and is
/// restocked.
pub(super) fn mutate(kind: Kind, q: &mut Quote, rng: &mut Rng) {
    let restock = |rng: &mut Rng, n: u32, high: i64| {
        if rng.chance(0.2) { rng.range(0, high) as u32 } else { n.saturating_sub(rng.below(4) as u32) }
    };
    match kind {
        Kind::Flight => {
            if rng.chance(0.6) {
                q.p1 = rng.walk(q.p1, 800, 10_000, 100);
            } else {
                q.n = restock(rng, q.n, 60);
            }
            if rng.chance(0.05) {
                q.p2 = rng.walk(q.p2, 1_000, 1_000, 100);
            }
        }
        Kind::Hotel => {
            if rng.chance(0.6) {
                q.p1 = rng.walk(q.p1, 1_000, 5_000, 1);
            } else {
                q.n = restock(rng, q.n, 30);
            }
        }
        Kind::Insurance => {
            q.p1 = rng.walk(q.p1, 500, 500, 100);
            if rng.chance(0.1) {
                q.n = rng.range(2, BAND_DAYS.len() as i64) as u32;
            }
        }
        Kind::Cruise => {
            if rng.chance(0.5) {
                q.p1 = rng.walk(q.p1, 600, 100_000, 100);
            } else {
                q.n = restock(rng, q.n, 40);
            }
        }
        Kind::Discount => {
            let percent = q.n == 1;
            match rng.below(3) {
                0 if percent => q.p1 = (q.p1 + rng.range(-2, 2) * 50).clamp(100, 3_000),
                0 => q.p1 = (q.p1 + rng.range(-2, 2) * 1_000).clamp(1_000, 100_000),
                1 if percent => q.p2 = if rng.chance(0.2) { -1 } else { rng.range(2, 10) * 10_000 },
                1 => q.p2 = rng.range(0, 10) * 50_000,
                _ if q.from != NO_DAY => {
                    let shift = rng.range(-3, 3) as i32;
                    (q.from, q.to) = (q.from + shift, q.to + shift);
                }
                _ => q.p1 = if percent { (q.p1 + 50).min(3_000) } else { q.p1 + 1_000 },
            }
        }
    }
}

/// Appends a quote's `data` object. With `negative`, the main amount is -100; `currency`
/// is written as given.
pub(super) fn write_data(buf: &mut String, kind: Kind, q: &Quote, currency: &str, negative: bool) {
    let p1 = if negative { -100 } else { q.p1 };
    let _ = match kind {
        Kind::Flight => {
            write!(buf, r#"{{"fare":{p1},"taxes":{},"seats":{},"currency":"{currency}"}}"#, q.p2, q.n)
        }
        Kind::Hotel => write!(buf, r#"{{"room_night":{p1},"rooms":{},"currency":"{currency}"}}"#, q.n),
        Kind::Insurance => {
            buf.push_str(r#"{"bands":["#);
            for i in 0..q.n as usize {
                let price = if negative && i == 0 { -100 } else { q.p1 * BAND_PERMILLE[i] / 1_000 / 100 * 100 };
                let _ =
                    write!(buf, r#"{}{{"max_days":{},"price":{price}}}"#, if i > 0 { "," } else { "" }, BAND_DAYS[i]);
            }
            write!(buf, r#"],"currency":"{currency}"}}"#)
        }
        Kind::Cruise => {
            write!(buf, r#"{{"per_person":{p1},"port_fees":{},"cabins":{},"currency":"{currency}"}}"#, q.p2, q.n)
        }
        Kind::Discount => {
            if q.n == 1 {
                let _ = write!(buf, r#"{{"type":"percent","value_bp":{}"#, q.p1);
                if q.p2 >= 0 {
                    let _ = write!(buf, r#","cap":{}"#, q.p2);
                }
            } else {
                let _ = write!(buf, r#"{{"type":"fixed","value":{p1},"min_subtotal":{}"#, q.p2);
            }
            if q.from != NO_DAY {
                let _ = write!(buf, r#","from":"{}","to":"{}""#, Date::from_days(q.from), Date::from_days(q.to));
            }
            write!(buf, r#","currency":"{currency}"}}"#)
        }
    };
}

/// The supplier code of a quote, if its kind has suppliers.
pub(super) fn supplier(kind: Kind, q: &Quote) -> Option<&'static str> {
    kind.suppliers().get(usize::from(q.supplier)).copied()
}
