use std::collections::{HashMap, HashSet};

use pricing_sdk::Date;
use serde_json::Value;

use super::tables::KINDS;
use super::world::parse_instant;
use super::*;

fn run(config: &GenConfig) -> (String, GenSummary) {
    let mut out = Vec::new();
    let mut last = (0, 0);
    let summary = generate(config, &mut out, |done, total| last = (done, total)).expect("generates");
    assert_eq!(last, (summary.lines, summary.lines), "the final progress report says all lines are written");
    (String::from_utf8(out).expect("utf-8"), summary)
}

fn mid_size() -> GenConfig {
    GenConfig { products: 400, cities: 3, dates_per_city: 30, events: 5_000, seed: 7, ..GenConfig::default() }
}

/// What a line is, judged only from its text.
enum Line {
    Valid(Value),
    Malformed(MalformedClass),
}

fn has_negative(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.as_i64().is_some_and(|n| n < 0),
        Value::Array(items) => items.iter().any(has_negative),
        Value::Object(map) => map.values().any(has_negative),
        _ => false,
    }
}

fn classify(line: &str) -> Line {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return Line::Malformed(MalformedClass::NotJson);
    };
    let kind = v["kind"].as_str().expect("kind is a string");
    if !["product", "flight", "hotel", "insurance", "cruise", "discount"].contains(&kind) {
        return Line::Malformed(MalformedClass::UnknownKind);
    }
    match &v["seq"] {
        Value::Null => return Line::Malformed(MalformedClass::MissingField),
        Value::String(_) => return Line::Malformed(MalformedClass::WrongType),
        _ => {}
    }
    if kind == "hotel" && v.get("supplier").is_none() {
        return Line::Malformed(MalformedClass::MissingSupplier);
    }
    if v["data"].get("currency").is_some_and(|c| c != "CNY") {
        return Line::Malformed(MalformedClass::CurrencyMismatch);
    }
    if has_negative(&v["data"]) {
        return Line::Malformed(MalformedClass::NegativeAmount);
    }
    Line::Valid(v)
}

fn date(v: &Value) -> Date {
    Date::parse(v.as_str().expect("date is a string")).expect("a YYYY-MM-DD date")
}

fn is_code(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}

fn money(v: &Value, field: &str) -> i64 {
    v[field].as_i64().filter(|&n| n >= 0).unwrap_or_else(|| panic!("{field} is a non-negative integer in {v}"))
}

/// Checks the key format of every kind and the data of resource upserts.
fn check_shape(v: &Value) {
    let kind = v["kind"].as_str().expect("kind");
    let key = v["key"].as_str().expect("key");
    let parts: Vec<&str> = key.split('/').collect();
    let op = v["op"].as_str().expect("op");
    assert!(op == "upsert" || op == "delete", "{v}");
    assert!(v["seq"].as_u64().is_some_and(|s| s >= 1), "{v}");
    assert!(parse_instant(v["ts"].as_str().expect("ts")).is_some(), "{v}");
    let data = &v["data"];
    assert!(data.is_object(), "{v}");
    let upsert = op == "upsert";
    if upsert && kind != "product" {
        assert_eq!(data["currency"], "CNY", "{v}");
    }
    match kind {
        "product" => {
            assert!(key.len() == 7 && key.starts_with('P') && key[1..].bytes().all(|b| b.is_ascii_digit()), "{key}");
            assert!(v.get("supplier").is_none());
            if upsert {
                check_product(data);
            }
        }
        "flight" => {
            assert!(parts.len() == 3 && is_code(parts[0]) && is_code(parts[1]) && parts[0] != parts[1], "{key}");
            Date::parse(parts[2]).expect("flight date");
            assert!(v["supplier"].is_string());
            if upsert {
                assert!(money(data, "fare") > 0 && money(data, "taxes") > 0);
                money(data, "seats");
            }
        }
        "hotel" => {
            assert!(parts.len() == 2 && parts[0].len() == 5 && parts[0].starts_with('H'), "{key}");
            Date::parse(parts[1]).expect("hotel date");
            if upsert {
                assert!(money(data, "room_night") > 0);
                money(data, "rooms");
            }
        }
        "insurance" => {
            assert_eq!(parts.len(), 1);
            if upsert {
                let bands = data["bands"].as_array().expect("bands");
                assert!(!bands.is_empty());
                let days: Vec<i64> = bands.iter().map(|b| money(b, "max_days")).collect();
                assert!(days.windows(2).all(|w| w[0] < w[1]), "strictly ascending: {days:?}");
                bands.iter().for_each(|b| assert!(money(b, "price") > 0));
            }
        }
        "cruise" => {
            assert!(parts.len() == 3, "{key}");
            Date::parse(parts[1]).expect("cruise date");
            if upsert {
                assert!(money(data, "per_person") > 0);
                money(data, "port_fees");
                money(data, "cabins");
            }
        }
        "discount" => {
            assert_eq!(parts.len(), 1);
            assert!(v.get("supplier").is_none());
            if upsert {
                match data["type"].as_str() {
                    Some("percent") => assert!(money(data, "value_bp") <= 10_000),
                    Some("fixed") => assert!(money(data, "value") > 0 && money(data, "min_subtotal") >= 0),
                    other => panic!("discount type {other:?}"),
                }
                if data.get("from").is_some() {
                    assert!(date(&data["from"]) <= date(&data["to"]));
                }
            }
        }
        other => panic!("kind {other}"),
    }
}

fn check_product(data: &Value) {
    assert!(data["name"].is_string() && is_code(data["destination"].as_str().expect("destination")));
    assert_eq!(data["currency"], "CNY");
    assert!((2..=7).contains(&data["nights"].as_u64().expect("nights")));
    assert!((1..=4).contains(&data["pax"].as_u64().expect("pax")));
    let departures = data["departures"].as_array().expect("departures");
    assert!(!departures.is_empty());
    for d in departures {
        assert!(is_code(d["city"].as_str().expect("city")));
        let dates: Vec<Date> = d["dates"].as_array().expect("dates").iter().map(date).collect();
        assert!(!dates.is_empty() && dates.windows(2).all(|w| w[0] < w[1]), "ascending dates");
    }
    let components = data["components"].as_array().expect("components");
    assert_eq!(components[0]["kind"], "flight");
    assert!(components.iter().any(|c| c["kind"] == "insurance"));
    assert!(components.iter().any(|c| c["kind"] == "hotel" || c["kind"] == "cruise"));
}

/// The resource keys of every departure of a product, per DOMAIN.md, with repeats.
fn dependencies(data: &Value) -> Vec<(String, String)> {
    let dest = data["destination"].as_str().expect("destination");
    let nights = data["nights"].as_i64().expect("nights") as i32;
    let mut keys = Vec::new();
    for d in data["departures"].as_array().expect("departures") {
        let city = d["city"].as_str().expect("city");
        for day in d["dates"].as_array().expect("dates").iter().map(date) {
            keys.push(("flight".into(), format!("{city}/{dest}/{day}")));
            keys.push(("flight".into(), format!("{dest}/{city}/{}", day.add_days(nights))));
            for c in data["components"].as_array().expect("components") {
                match c["kind"].as_str().expect("kind") {
                    "hotel" => {
                        let hotel = c["hotel"].as_str().expect("hotel");
                        (0..nights).for_each(|i| keys.push(("hotel".into(), format!("{hotel}/{}", day.add_days(i)))));
                    }
                    "cruise" => {
                        let (ship, cabin) = (c["ship"].as_str().expect("ship"), c["cabin"].as_str().expect("cabin"));
                        keys.push(("cruise".into(), format!("{ship}/{day}/{cabin}")));
                    }
                    "insurance" => keys.push(("insurance".into(), c["plan"].as_str().expect("plan").into())),
                    "discount" => {
                        for r in c["rules"].as_array().expect("rules") {
                            keys.push(("discount".into(), r.as_str().expect("rule").into()));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    keys
}

/// Everything the checks below learn from reading the output back.
#[derive(Default)]
struct Readback {
    malformed: MalformedCounts,
    stale: u64,
    initial_keys: HashSet<(String, String)>,
    departures: u64,
    flight_uses: u64,
    flight_keys: HashSet<String>,
    changes: KindCounts,
    deletes: KindCounts,
    product_updates: u64,
    product_deletes: u64,
}

fn read_back(text: &str, summary: &GenSummary) -> Readback {
    let mut r = Readback::default();
    let mut seqs: HashMap<(String, String, String), u64> = HashMap::new();
    let mut last_ts = i64::MIN;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, summary.lines);
    let catalog_end = summary.catalog_lines as usize;
    let initial_end = catalog_end + summary.initial_lines as usize;
    for (n, line) in lines.iter().enumerate() {
        let v = match classify(line) {
            Line::Malformed(class) => {
                assert!(n >= initial_end, "line {n}: only the change stream has bad input");
                *r.malformed.get_mut(class) += 1;
                continue;
            }
            Line::Valid(v) => v,
        };
        check_shape(&v);
        let kind = v["kind"].as_str().expect("kind").to_owned();
        let key = v["key"].as_str().expect("key").to_owned();
        let supplier = v["supplier"].as_str().unwrap_or("").to_owned();
        let seq = v["seq"].as_u64().expect("seq");
        let upsert = v["op"] == "upsert";
        let stored = seqs.entry((kind.clone(), key.clone(), supplier)).or_insert(0);
        if seq <= *stored {
            assert!(n >= initial_end, "line {n}: stale before the change stream");
            r.stale += 1;
            continue;
        }
        assert_eq!(seq, *stored + 1, "line {n}: seq grows by one per (kind, key, supplier)");
        *stored = seq;
        let ts = parse_instant(v["ts"].as_str().expect("ts")).expect("ts");
        assert!(ts > last_ts, "line {n}: ts grows");
        last_ts = ts;
        assert_eq!(v["id"], format!("e-{}", n + 1));
        if n < catalog_end {
            assert_eq!(kind, "product");
            for (k, key) in dependencies(&v["data"]) {
                if k == "flight" {
                    r.flight_uses += 1;
                    r.flight_keys.insert(key);
                }
            }
            r.departures += v["data"]["departures"]
                .as_array()
                .expect("departures")
                .iter()
                .map(|d| d["dates"].as_array().expect("dates").len() as u64)
                .sum::<u64>();
        } else if n < initial_end {
            assert!(upsert && kind != "product", "line {n}: the initial state is resource upserts");
            r.initial_keys.insert((kind.clone(), key));
        } else if kind == "product" {
            if upsert { r.product_updates += 1 } else { r.product_deletes += 1 }
        } else {
            let k = KINDS.iter().find(|k| k.name() == kind).expect("resource kind");
            r.changes.add(*k, 1);
            if !upsert {
                r.deletes.add(*k, 1);
            }
        }
        // Every product as published, first or later, depends only on quoted keys.
        if kind == "product" && upsert {
            for dep in dependencies(&v["data"]) {
                assert!(n < catalog_end || r.initial_keys.contains(&dep), "line {n}: {dep:?} has no initial quote");
            }
        }
    }
    r
}

#[test]
fn same_config_same_bytes() {
    let config = GenConfig { events: 3_000, ..GenConfig::default() };
    let (a, sa) = run(&config);
    let (b, sb) = run(&config);
    assert!(a == b, "byte-identical output");
    assert_eq!(format!("{sa:?}"), format!("{sb:?}"));
    let (c, _) = run(&GenConfig { seed: 43, ..config });
    assert_ne!(a, c, "another seed, another workload");
}

/// FNV-1a: a fingerprint of the default output, so any change to what a seed produces
/// is noticed. If a change to the generator is intended, update the constant.
#[test]
fn default_output_is_stable() {
    let (text, summary) = run(&GenConfig::default());
    let fnv = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    assert_eq!((summary.lines, fnv), (14_927, 0xfd84_232c_3421_76a0), "the default workload changed: {fnv:#x}");
}

#[test]
fn output_matches_the_summary_and_the_contract() {
    let config = GenConfig::default();
    let (text, summary) = run(&config);
    let r = read_back(&text, &summary);
    assert_eq!(r.malformed, summary.malformed, "malformed lines per class");
    for class in MalformedClass::ALL {
        assert!(r.malformed.get(class) > 0, "{class:?} occurs");
    }
    assert_eq!(r.stale, summary.stale);
    assert!(summary.stale > 0);
    assert_eq!(r.changes, summary.resource_changes);
    assert_eq!(r.deletes, summary.resource_deletes);
    assert!(summary.resource_deletes.total() > 0);
    assert_eq!((r.product_updates, r.product_deletes), (summary.product_updates, summary.product_deletes));
    assert!(summary.product_updates > 0 && summary.product_deletes > 0);
    assert_eq!(summary.catalog_lines, u64::from(config.products));
    assert_eq!(summary.change_lines, config.events);
    assert_eq!(summary.initial_lines, summary.initial_quotes.total());
    assert_eq!(
        summary.change_lines,
        summary.resource_changes.total()
            + summary.product_updates
            + summary.product_deletes
            + summary.malformed_total
            + summary.stale
    );
    assert_eq!(r.departures, summary.departures);
    assert_eq!(r.flight_uses, 2 * summary.departures);
    assert_eq!(r.flight_keys.len() as u64, summary.distinct_flight_route_dates);
    // Every flight route-date, hotel night, plan, sailing and rule used has a quote.
    let kinds: HashSet<&str> = r.initial_keys.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds.len(), 5, "every kind is quoted: {kinds:?}");
    assert!(summary.mean_flight_fanout >= 5.0, "default fan-out {}", summary.mean_flight_fanout);
}

#[test]
fn mid_size_fans_out_and_every_dependency_is_quoted() {
    let (text, summary) = run(&mid_size());
    let r = read_back(&text, &summary);
    assert_eq!(r.stale, summary.stale);
    assert_eq!(r.malformed, summary.malformed);
    let fanout = r.flight_uses as f64 / r.flight_keys.len() as f64;
    assert!((fanout - summary.mean_flight_fanout).abs() < 1e-9);
    assert!(fanout >= 5.0, "mean flight fan-out {fanout}");
    let unavailable_seats = text.lines().filter(|l| l.contains(r#""seats":0,"#)).count();
    assert!(unavailable_seats > 0, "some flights are sold out");
}

#[test]
fn dependencies_of_the_catalog_all_have_initial_quotes() {
    let config = GenConfig { events: 0, cruise_share: 0.5, ..GenConfig::default() };
    let (text, summary) = run(&config);
    let lines: Vec<&str> = text.lines().collect();
    let quoted: HashSet<(String, String)> = lines[summary.catalog_lines as usize..]
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json");
            (v["kind"].as_str().expect("kind").to_owned(), v["key"].as_str().expect("key").to_owned())
        })
        .collect();
    let mut used = HashSet::new();
    for line in &lines[..summary.catalog_lines as usize] {
        let v: Value = serde_json::from_str(line).expect("json");
        for dep in dependencies(&v["data"]) {
            assert!(quoted.contains(&dep), "{dep:?} has no initial quote");
            used.insert(dep);
        }
    }
    assert!(used.iter().any(|(k, _)| k == "cruise"), "cruises are generated");
    assert_eq!(summary.distinct_keys.flight, used.iter().filter(|(k, _)| k == "flight").count() as u64);
}

#[test]
fn no_malformed_or_stale_when_the_rates_are_zero() {
    let config = GenConfig { malformed_rate: 0.0, stale_rate: 0.0, events: 2_000, ..GenConfig::default() };
    let (text, summary) = run(&config);
    let r = read_back(&text, &summary);
    assert_eq!((summary.malformed_total, summary.stale, r.stale), (0, 0, 0));
}

#[test]
fn cruise_only_catalog_still_produces_every_malformed_class() {
    let config = GenConfig { cruise_share: 1.0, malformed_rate: 0.2, events: 500, ..GenConfig::default() };
    let (text, summary) = run(&config);
    assert_eq!(summary.distinct_keys.hotel, 0);
    let r = read_back(&text, &summary);
    assert_eq!(r.malformed, summary.malformed);
    assert!(summary.malformed.missing_supplier > 0);
}

#[test]
fn config_from_json_and_command_line() {
    let config: GenConfig = serde_json::from_str(r#"{"seed":7,"products":10}"#).expect("partial config");
    assert_eq!((config.seed, config.products, config.events), (7, 10, GenConfig::default().events));
    assert!(serde_json::from_str::<GenConfig>(r#"{"sead":7}"#).is_err(), "unknown fields are refused");

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        config: GenConfig,
    }
    use clap::{CommandFactory, Parser};
    Cli::command().debug_assert();
    let cli =
        Cli::try_parse_from(["gen", "--seed", "9", "--dates-per-city", "5", "--zipf", "0.8", "--stale-rate", "0"])
            .expect("parses");
    let d = GenConfig::default();
    assert_eq!((cli.config.seed, cli.config.dates_per_city, cli.config.zipf, cli.config.stale_rate), (9, 5, 0.8, 0.0));
    assert_eq!(
        (cli.config.products, cli.config.first_date, cli.config.malformed_rate),
        (d.products, d.first_date, d.malformed_rate)
    );
}

#[test]
fn bad_configs_are_refused() {
    for config in [
        GenConfig { malformed_rate: 1.5, ..GenConfig::default() },
        GenConfig { malformed_rate: 0.6, stale_rate: 0.6, ..GenConfig::default() },
        GenConfig { first_date: "2026-02-30".into(), ..GenConfig::default() },
        GenConfig { clock_start: "yesterday".into(), ..GenConfig::default() },
        GenConfig { products: 0, ..GenConfig::default() },
        GenConfig { zipf: f64::NAN, ..GenConfig::default() },
        GenConfig {
            mix_flight: 0,
            mix_hotel: 0,
            mix_insurance: 0,
            mix_cruise: 0,
            mix_discount: 0,
            mix_product: 0,
            ..GenConfig::default()
        },
    ] {
        let err = generate(&config, &mut Vec::new(), |_, _| {}).expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    }
}

#[test]
fn instants_round_trip() {
    let ms = parse_instant("2026-11-22T10:00:00Z").expect("instant");
    let mut s = String::new();
    world::write_instant(&mut s, ms + 4);
    assert_eq!(s, "2026-11-22T10:00:00.004Z");
    assert_eq!(parse_instant(&s), Some(ms + 4));
    assert_eq!(parse_instant("2026-11-22T24:00:00Z"), None);
}
