//! The fixed pools (cities, destinations, hotels, ships, plans, rules) and the product
//! catalog, every product derived from (seed, index) alone so it can be regenerated at
//! any time instead of being kept in memory.

use std::fmt::Write as _;
use std::io;

use pricing_sdk::Date;

use super::GenConfig;
use super::rng::{Rng, Zipf};

/// Departure cities, most popular first (the big hubs sell most packages).
pub(super) const CITIES: [&str; 20] = [
    "SHA", "PEK", "CAN", "SZX", "CTU", "HGH", "NKG", "WUH", "CKG", "XIY", "TSN", "CSX", "CGO", "TNA", "SHE", "FOC",
    "NNG", "HFE", "KHN", "TYN",
];

/// A destination: code, name, cruise port, international.
pub(super) struct Dest {
    pub code: &'static str,
    pub name: &'static str,
    pub port: bool,
    pub intl: bool,
}

const fn dest(code: &'static str, name: &'static str, port: bool, intl: bool) -> Dest {
    Dest { code, name, port, intl }
}

/// Destinations, most popular first.
pub(super) const DESTS: [Dest; 40] = [
    dest("SYX", "Sanya", true, false),
    dest("XMN", "Xiamen", true, false),
    dest("KMG", "Kunming", false, false),
    dest("LJG", "Lijiang", false, false),
    dest("BKK", "Bangkok", false, true),
    dest("KWL", "Guilin", false, false),
    dest("HAK", "Haikou", true, false),
    dest("TAO", "Qingdao", true, false),
    dest("NRT", "Tokyo", false, true),
    dest("DLC", "Dalian", true, false),
    dest("JHG", "Xishuangbanna", false, false),
    dest("HKT", "Phuket", false, true),
    dest("DYG", "Zhangjiajie", false, false),
    dest("SIN", "Singapore", true, true),
    dest("LXA", "Lhasa", false, false),
    dest("KIX", "Osaka", false, true),
    dest("URC", "Urumqi", false, false),
    dest("ICN", "Seoul", false, true),
    dest("HRB", "Harbin", false, false),
    dest("DPS", "Bali", false, true),
    dest("TXN", "Huangshan", false, false),
    dest("OKA", "Okinawa", true, true),
    dest("DLU", "Dali", false, false),
    dest("CJU", "Jeju", true, true),
    dest("BHY", "Beihai", true, false),
    dest("HKG", "Hong Kong", true, true),
    dest("JZH", "Jiuzhaigou", false, false),
    dest("KUL", "Kuala Lumpur", false, true),
    dest("DNH", "Dunhuang", false, false),
    dest("SGN", "Ho Chi Minh City", false, true),
    dest("ZUH", "Zhuhai", false, false),
    dest("DAD", "Da Nang", false, true),
    dest("MFM", "Macau", false, true),
    dest("CNX", "Chiang Mai", false, true),
    dest("TPE", "Taipei", false, true),
    dest("CEB", "Cebu", false, true),
    dest("MLE", "Maldives", false, true),
    dest("USM", "Koh Samui", false, true),
    dest("REP", "Siem Reap", false, true),
    dest("KTM", "Kathmandu", false, true),
];

/// Cruise ships, two per port in the order the ports appear in [`DESTS`].
pub(super) const SHIPS: [&str; 20] = [
    "ADORA",
    "SPECTRUM",
    "GLOBE",
    "BELLISSIMA",
    "GLORY",
    "MAGIC",
    "ENCHANT",
    "ICON",
    "QUANTUM",
    "OVATION",
    "SPLENDIDA",
    "VIRTUOSA",
    "DREAM",
    "GENTING",
    "SKYSEA",
    "MAJESTY",
    "SERENADE",
    "RADIANCE",
    "VOYAGER",
    "HORIZON",
];

/// Cabin grades (inside, ocean view, balcony, suite) and how often products sell each.
pub(super) const CABINS: [&str; 4] = ["IN", "OV", "BA", "ST"];
const CABIN_WEIGHTS: [u32; 4] = [30, 25, 35, 10];

/// Insurance plans and how often products use each.
pub(super) const PLANS: [&str; 5] = ["basic", "standard", "premium", "family", "senior"];
const PLAN_WEIGHTS: [u32; 5] = [40, 30, 15, 10, 5];

/// Discount rules: key and whether it is a percentage (else a fixed amount off).
pub(super) const RULES: [(&str, bool); 12] = [
    ("EB30", true),
    ("FULL200", false),
    ("SUMMER10", true),
    ("VIP5", true),
    ("FULL500", false),
    ("EB60", true),
    ("WKND100", false),
    ("FAMILY300", false),
    ("WINTER8", true),
    ("FLASH15", true),
    ("NEWUSER50", false),
    ("STUDENT5", true),
];

const NAME_SUFFIXES: [&str; 6] = ["", "", " Leisure", " Family", " Deluxe", " Explorer"];

/// Exponent of departure-city popularity: packages mostly leave from the big hubs.
const CITY_ZIPF: f64 = 1.6;
/// Exponent of destination popularity.
const DEST_ZIPF: f64 = 1.2;

/// Where a product's travellers sleep.
#[derive(Clone, Copy, Debug)]
pub(super) enum Lodging {
    /// Global hotel number (`H0042`).
    Hotel(u32),
    /// A cruise: ship index into [`SHIPS`], cabin index into [`CABINS`].
    Cruise { ship: u32, cabin: u32 },
}

/// One product as published.
#[derive(Clone, Debug)]
pub(super) struct ProductDef {
    pub dest: u32,
    pub nights: u32,
    pub pax: u32,
    pub suffix: usize,
    /// (city index, departure dates as days since epoch).
    pub departures: Vec<(u32, Vec<i32>)>,
    pub lodging: Lodging,
    pub flight_markup: Option<u32>,
    pub lodging_markup: Option<u32>,
    pub plan: u32,
    pub rules: Vec<u32>,
}

/// Everything derived from the config before any line is written.
pub(super) struct World {
    pub seed: u64,
    pub first_day: i32,
    pub clock_start_ms: i64,
    pub products: u32,
    pub cities: u32,
    pub dates_per_city: u32,
    /// Days over which products' first dates are spread.
    pub date_spread_days: u32,
    pub cruise_share: f64,
    pub discount_share: f64,
    pub hotels_per_dest: u32,
    dests: Zipf,
    ports: Vec<u32>,
    port_zipf: Option<Zipf>,
    /// Per destination in use: its gateway cities.
    gateways: Vec<Vec<u32>>,
    gateway_zipf: Zipf,
    hotel_zipf: Zipf,
    rule_zipf: Zipf,
}

const TAG_PRODUCT: u64 = 1;
const TAG_GATEWAYS: u64 = 6;

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl World {
    pub(super) fn new(config: &GenConfig) -> io::Result<Self> {
        let first_day = Date::parse(&config.first_date).map_err(|e| invalid(format!("gen: first_date: {e}")))?.days();
        let clock_start_ms = parse_instant(&config.clock_start)
            .ok_or_else(|| invalid(format!("gen: clock_start: not YYYY-MM-DDTHH:MM:SSZ: {:?}", config.clock_start)))?;
        if config.products == 0 {
            return Err(invalid("gen: products must be at least 1".into()));
        }
        if config.cities == 0 || config.dates_per_city == 0 || config.hotels_per_destination == 0 {
            return Err(invalid("gen: cities, dates_per_city and hotels_per_destination must be at least 1".into()));
        }
        let n_dest = match config.destinations {
            0 => (config.products as usize).div_ceil(20).clamp(2, DESTS.len()),
            n => (n as usize).min(DESTS.len()),
        };
        // Packages to a destination leave from a handful of gateway cities (charters and
        // block-booked seats from the hubs): a few more than a product's cities.
        let n_gateways = (config.cities as usize + 3).min(CITIES.len());
        let ports: Vec<u32> = (0..n_dest as u32).filter(|&d| DESTS[d as usize].port).collect();
        Ok(World {
            seed: config.seed,
            first_day,
            clock_start_ms,
            products: config.products,
            cities: config.cities.min(CITIES.len() as u32),
            dates_per_city: config.dates_per_city,
            date_spread_days: config.date_spread_days.max(1),
            cruise_share: config.cruise_share,
            discount_share: config.discount_share,
            hotels_per_dest: config.hotels_per_destination,
            dests: Zipf::new(n_dest, DEST_ZIPF),
            port_zipf: (!ports.is_empty()).then(|| Zipf::new(ports.len(), DEST_ZIPF)),
            ports,
            gateways: (0..n_dest).map(|d| Self::gateways(config.seed, d, n_gateways)).collect(),
            gateway_zipf: Zipf::new(n_gateways, CITY_ZIPF),
            hotel_zipf: Zipf::new(config.hotels_per_destination as usize, config.zipf),
            rule_zipf: Zipf::new(RULES.len(), 1.0),
        })
    }

    /// The departure cities packages to `dest` leave from (its gateways), hubs first.
    fn gateways(seed: u64, dest: usize, n: usize) -> Vec<u32> {
        let mut rng = Rng::derive(seed, &[TAG_GATEWAYS, dest as u64]);
        let mut picks = distinct(&mut rng, &Zipf::new(CITIES.len(), CITY_ZIPF), n);
        picks.sort_unstable();
        picks.into_iter().map(|c| c as u32).collect()
    }

    /// The ship index of the `k`-th (0 or 1) ship sailing from destination `dest`.
    fn ship(&self, dest: u32, k: u32) -> u32 {
        let port_ordinal = DESTS[..dest as usize].iter().filter(|d| d.port).count() as u32;
        (port_ordinal * 2 + k) % SHIPS.len() as u32
    }

    /// Product `index` as first published.
    pub(super) fn product(&self, index: u32) -> ProductDef {
        let mut rng = Rng::derive(self.seed, &[TAG_PRODUCT, u64::from(index)]);
        let cruise = rng.chance(self.cruise_share);
        let (dest, lodging_pick) = match (&self.port_zipf, cruise) {
            (Some(ports), true) => (self.ports[ports.sample(&mut rng)], true),
            _ => (self.dests.sample(&mut rng) as u32, false),
        };
        let nights = 2 + rng.weighted(&[15, 30, 25, 15, 8, 7]) as u32;
        let pax = [2, 1, 3, 4][rng.weighted(&[70, 10, 10, 10])];
        let gateways = &self.gateways[dest as usize];
        let n_cities = (self.cities as usize - 1 + rng.index(3)).clamp(1, gateways.len());
        let picks = distinct(&mut rng, &self.gateway_zipf, n_cities);
        let cities: Vec<u32> = picks.into_iter().map(|g| gateways[g]).collect();
        let start = self.first_day + rng.below(u64::from(self.date_spread_days)) as i32;
        let shared = self.dates(&mut rng, start);
        let departures = cities
            .into_iter()
            .map(|city| (city, if rng.chance(0.2) { self.dates(&mut rng, start) } else { shared.clone() }))
            .collect();
        let lodging = if lodging_pick {
            let cabin = rng.weighted(&CABIN_WEIGHTS) as u32;
            Lodging::Cruise { ship: self.ship(dest, rng.below(2) as u32), cabin }
        } else {
            Lodging::Hotel(dest * self.hotels_per_dest + self.hotel_zipf.sample(&mut rng) as u32)
        };
        let flight_markup = rng.chance(0.4).then(|| 100 * rng.range(1, 8) as u32);
        let lodging_markup = rng.chance(0.15).then(|| 50 * rng.range(1, 10) as u32);
        let plan = rng.weighted(&PLAN_WEIGHTS) as u32;
        let rules = if rng.chance(self.discount_share) { self.rules(&mut rng) } else { Vec::new() };
        ProductDef {
            dest,
            nights,
            pax,
            suffix: rng.index(NAME_SUFFIXES.len()),
            departures,
            lodging,
            flight_markup,
            lodging_markup,
            plan,
            rules,
        }
    }

    /// `dates_per_city` mostly consecutive dates from `start`, with a gap now and then.
    fn dates(&self, rng: &mut Rng, start: i32) -> Vec<i32> {
        let mut day = start;
        (0..self.dates_per_city)
            .map(|_| {
                let this = day;
                day += if rng.chance(0.1) { 2 } else { 1 };
                this
            })
            .collect()
    }

    /// 1 to 3 distinct discount rules, popular ones more often.
    fn rules(&self, rng: &mut Rng) -> Vec<u32> {
        let n = 1 + rng.weighted(&[55, 35, 10]);
        let mut rules = Vec::with_capacity(n);
        while rules.len() < n {
            let rule = self.rule_zipf.sample(rng) as u32;
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }
        rules
    }

    /// Product `index` as published under `variant` (0: as first published). A variant
    /// only drops dates or cities or changes key-neutral fields (markup, plan, rules, pax),
    /// so every resource key it depends on already has quotes.
    pub(super) fn variant(&self, index: u32, variant: u64) -> ProductDef {
        let mut def = self.product(index);
        if variant == 0 {
            return def;
        }
        let mut rng = Rng::derive(self.seed, &[TAG_PRODUCT, u64::from(index), variant]);
        for _ in 0..1 + rng.below(2) {
            match rng.below(6) {
                0 | 1 => {
                    for (_, dates) in &mut def.departures {
                        let keep: Vec<i32> = dates.iter().copied().filter(|_| !rng.chance(0.15)).collect();
                        if !keep.is_empty() {
                            *dates = keep;
                        }
                    }
                }
                2 if def.departures.len() > 1 => {
                    let drop = rng.index(def.departures.len());
                    def.departures.remove(drop);
                }
                2 | 3 => def.flight_markup = rng.chance(0.7).then(|| 100 * rng.range(1, 8) as u32),
                4 => def.rules = if rng.chance(0.8) { self.rules(&mut rng) } else { Vec::new() },
                _ => {
                    def.plan = rng.weighted(&PLAN_WEIGHTS) as u32;
                    def.pax = [2, 1, 3, 4][rng.weighted(&[70, 10, 10, 10])];
                }
            }
        }
        def
    }

    /// Appends the product's `data` object.
    pub(super) fn write_product(&self, buf: &mut String, def: &ProductDef) {
        let dest = &DESTS[def.dest as usize];
        let n = def.nights;
        let kind = if matches!(def.lodging, Lodging::Cruise { .. }) { " Cruise" } else { NAME_SUFFIXES[def.suffix] };
        let _ = write!(
            buf,
            r#"{{"name":"{}{kind} {}D{n}N","destination":"{}","currency":"CNY","nights":{n},"pax":{},"departures":["#,
            dest.name,
            n + 1,
            dest.code,
            def.pax
        );
        for (i, (city, dates)) in def.departures.iter().enumerate() {
            let _ = write!(buf, r#"{}{{"city":"{}","dates":["#, if i > 0 { "," } else { "" }, CITIES[*city as usize]);
            for (j, &day) in dates.iter().enumerate() {
                let _ = write!(buf, r#"{}"{}""#, if j > 0 { "," } else { "" }, Date::from_days(day));
            }
            buf.push_str("]}");
        }
        buf.push_str(r#"],"components":[{"kind":"flight""#);
        markup(buf, def.flight_markup);
        match def.lodging {
            Lodging::Hotel(h) => {
                let _ = write!(buf, r#"}},{{"kind":"hotel","hotel":"{}""#, hotel_code(h));
            }
            Lodging::Cruise { ship, cabin } => {
                let _ = write!(
                    buf,
                    r#"}},{{"kind":"cruise","ship":"{}","cabin":"{}""#,
                    SHIPS[ship as usize], CABINS[cabin as usize]
                );
            }
        }
        markup(buf, def.lodging_markup);
        let _ = write!(buf, r#"}},{{"kind":"insurance","plan":"{}"}}"#, PLANS[def.plan as usize]);
        if !def.rules.is_empty() {
            buf.push_str(r#",{"kind":"discount","rules":["#);
            for (i, &r) in def.rules.iter().enumerate() {
                let _ = write!(buf, r#"{}"{}""#, if i > 0 { "," } else { "" }, RULES[r as usize].0);
            }
            buf.push_str("]}");
        }
        buf.push_str("]}");
    }
}

/// `n` distinct ranks drawn from `zipf` (which has at least `n`).
fn distinct(rng: &mut Rng, zipf: &Zipf, n: usize) -> Vec<usize> {
    let mut picks: Vec<usize> = Vec::with_capacity(n);
    while picks.len() < n {
        let mut pick = zipf.sample(rng);
        while picks.contains(&pick) {
            pick = (pick + 1) % zipf.len();
        }
        picks.push(pick);
    }
    picks
}

fn markup(buf: &mut String, bp: Option<u32>) {
    if let Some(bp) = bp {
        let _ = write!(buf, r#","markup_bp":{bp}"#);
    }
}

/// `H0042`.
pub(super) fn hotel_code(h: u32) -> String {
    format!("H{h:04}")
}

/// `P000123`.
pub(super) fn product_key(index: u32) -> String {
    format!("P{:06}", index + 1)
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ` (optionally with a fraction).
pub(super) fn parse_instant(text: &str) -> Option<i64> {
    crate::intake::parse_rfc3339_millis(text)
}

/// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(super) fn write_instant(buf: &mut String, ms: i64) {
    crate::intake::write_millis(buf, ms);
}
