//! The README's first command, `pricing demo`, prices the example events
//! (`examples/events.ndjson`) as worked out by hand here, prints them, leaves the state
//! the `calendar` and `history` queries read, and keeps the admin API up until stopped;
//! and the example events are what the README's `pricing gen` command writes.
//!
//! The amounts below are worked from the example events with DOMAIN.md's rules, each
//! resource's quotes listed as the stream leaves them (line numbers of
//! `examples/events.ndjson`). The demo's batches are 1,000 events: lines 1-1000, then
//! 1001-1053. All money is in fen; prices are per person.

mod common;

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use common::process::{REPO_ROOT, RUN_TIMEOUT, Run};
use pricing_runtime::state::{DeparturePrice, State, Status};

/// `pricing demo --exit --data DIR/data` to its end; returns what it printed.
fn demo_to_the_end(dir: &std::path::Path) -> String {
    let data = dir.join("data");
    let (status, log) = Run::demo(dir, &[OsStr::new("--exit"), OsStr::new("--data"), data.as_os_str()]).wait();
    let printed = std::fs::read_to_string(dir.join("demo.out")).expect("what the demo printed");
    assert!(status.success(), "the demo failed ({status}):\n{printed}\n{log}");
    printed
}

fn amounts(p: &DeparturePrice) -> Vec<(&str, i64)> {
    p.components.iter().map(|c| (&*c.kind, c.amount)).collect()
}

fn price(state: &State, departure: &str) -> DeparturePrice {
    state.price(departure).expect("reads").unwrap_or_else(|| panic!("{departure} was not priced"))
}

#[test]
fn the_example_events_price_as_worked_by_hand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let printed = demo_to_the_end(dir.path());
    // 1,053 lines: 5 dead letters (listed below) and 3 stale replays, the rest applied.
    assert!(
        printed.starts_with("1053 events: 1045 applied, 3 stale, 5 dead-lettered;"),
        "the summary line:\n{printed}"
    );
    let state = State::open(&dir.path().join("data/state")).expect("the demo's state opens");

    // P000003 "Sanya Cruise 4D3N" (line 860): 3 nights, pax 1; flight +200 bp, cruise
    // SPECTRUM/BA, insurance "family", discount EB30. From CTU on 2026-12-05:
    //   outbound CTU/SYX/2026-12-05: CZ 78800+5500 = 84300 (l.153), HU 79200+5500 = 84700 -> 84300
    //   return SYX/CTU/2026-12-08: CZ 59500+5500 = 65000 (l.260), HU 63700+5500 = 69200 -> 65000
    //   flight ceil(149300 * 10200 / 10000) = 152286
    //   cruise SPECTRUM/2026-12-05/BA: C1 730400+78100 = 808500 (seq 2, l.1012), C3 642300+78100 = 720400 -> 720400
    //   insurance "family", 4 days: PICC band 5 days 7000, PINGAN band 5 days 6100 -> 6100
    //   subtotal 152286 + 720400 + 6100 = 878786; EB30 5 % floor(43939.3) = 43939 (cap 90000)
    //   834847, rounded up to a whole yuan: 834900
    let p = price(&state, "P000003:CTU:2026-12-05");
    assert_eq!((p.status, p.price), (Status::Available, Some(834_900)));
    assert_eq!(amounts(&p), [("flight", 152_286), ("cruise", 720_400), ("insurance", 6_100), ("discount", -43_939)]);

    // P000001 "Sanya 4D3N" (its last upsert, l.897): 3 nights, pax 2; flight +400 bp,
    // hotel H0000 +250 bp, insurance "basic", discounts FULL200 then VIP5. From SHA on
    // 2026-12-04:
    //   outbound SHA/SYX/2026-12-04: MU 154400+5300 = 159700, CA 157200+5300 = 162500 (seq 3, l.906) -> 159700
    //   return SYX/SHA/2026-12-07: MU 134200+5300 = 139500 (seq 2), CA 183700+5300 = 189000 (seq 3) -> 139500
    //   flight ceil(299200 * 10400 / 10000) = 311168
    //   hotel, a room for 2, per person half the cheapest room-night:
    //     12-04 min(103253, 102848, 101723) -> 50862; 12-05 min(108857, 102368, 113254) -> 51184;
    //     12-06 min(89506, 83712, 92355) -> 41856; 143902, +250 bp: ceil(147499.55) = 147500
    //   insurance "basic", 4 days: PICC 2400, CPIC 2100 -> 2100
    //   subtotal 311168 + 147500 + 2100 = 460768; FULL200 (>= 200000) takes 20000: 440768;
    //   VIP5 5 % floor(22038.4) = 22038, capped at 20000: 420768; adjustment -40000
    //   rounded up: 420800
    let p = price(&state, "P000001:SHA:2026-12-04");
    assert_eq!((p.status, p.price, p.cause.as_str()), (Status::Available, Some(420_800), "e-995"));
    assert_eq!(amounts(&p), [("flight", 311_168), ("hotel", 147_500), ("insurance", 2_100), ("discount", -40_000)]);

    // From SHA on 2026-12-08 the return SYX/SHA/2026-12-11 has one supplier, CA, whose
    // seats run out (seq 12, l.837), is deleted (seq 14) and comes back with none (seq
    // 15-18). Line 1023 replays its seq 8 (2 seats): stale, so skipped; had it been taken,
    // the departure would be sellable again.
    let p = price(&state, "P000001:SHA:2026-12-08");
    assert_eq!((p.status, p.price), (Status::Unavailable, None));
    assert_eq!(p.reason.as_deref(), Some("flight: no return fare with 2 seats"));

    // P000008 "Xiamen 4D3N" (l.779): 3 nights, pax 2; flight +800 bp, hotel H0040,
    // insurance "basic", discounts EB30 then SUMMER10 (2026-12-01 to 12-21). From PEK on
    // 2026-12-07, changed in both batches:
    //   outbound PEK/XMN/2026-12-07: MU 68600+11000 = 79600, HU 86000+11000 = 97000 -> 79600
    //   return XMN/PEK/2026-12-10: MU 85100+11000 = 96100, HU 68000+11000 = 79000 -> 79000
    //   flight ceil(158600 * 10800 / 10000) = 171288
    //   hotel 12-07 min(62727, 69990, 62362, 64267) -> 31181; 12-08 min(63522, 55960, 68469,
    //     69433) -> 27980; 12-09 min(65233, 64071, 67119, 65071) -> ceil(32035.5) = 32036
    //   version 1 (first batch, last touched by l.947): subtotal 171288 + 91197 + 2100 = 264585;
    //     EB30 floor(13229.25) = 13229: 251356; SUMMER10 floor(25135.6) = 25135: 226221 -> 226300
    //   version 2 (l.1037: S2 63207 for 12-09 -> 31604): subtotal 171288 + 90765 + 2100 = 264153;
    //     EB30 floor(13207.65) = 13207: 250946; SUMMER10 floor(25094.6) = 25094: 225852 -> 225900
    let history = state.history("P000008:PEK:2026-12-07").expect("history");
    let versions: Vec<(u64, Option<i64>, &str)> =
        history.iter().map(|p| (p.version, p.price, p.cause.as_str())).collect();
    assert_eq!(versions, [(1, Some(226_300), "e-947"), (2, Some(225_900), "e-1037")]);
    assert_eq!(
        amounts(&history[1]),
        [("flight", 171_288), ("hotel", 90_765), ("insurance", 2_100), ("discount", -38_301)]
    );
    assert_eq!(price(&state, "P000008:PEK:2026-12-07"), history[1]);

    // The product's starting price is its cheapest sellable departure, and the demo
    // prints it and the cheapest departures from the state.
    let from = state.product_price("P000008").expect("reads").expect("P000008 has a starting price");
    let departures = state.product_departure_prices("P000008").expect("reads");
    assert_eq!(from.from_price, departures.iter().filter_map(|p| p.price).min());
    assert_eq!(
        (from.from_price, from.city.as_deref(), from.date.as_deref()),
        (Some(225_900), Some("PEK"), Some("2026-12-07"))
    );
    assert!(printed.contains("P000008         2259.00 PEK   2026-12-07"), "the starting prices:\n{printed}");
    assert!(
        printed.contains(
            "P000008:PEK:2026-12-07      2259.00  v2  (flight 1712.88, hotel 907.65, insurance 21.00, discount -383.01)"
        ),
        "the cheapest departures:\n{printed}"
    );

    // Every bad line is a dead letter naming its reason and line.
    let dlq = common::json_lines(&dir.path().join("data/dlq.ndjson"));
    let reasons: Vec<(&str, u64)> = dlq
        .iter()
        .map(|d| (d["reason_class"].as_str().expect("a class"), d["origin"]["line"].as_u64().expect("a line")))
        .collect();
    assert_eq!(
        reasons,
        [
            ("not_json", 793),
            ("missing_field", 841),
            ("wrong_type", 917),
            ("unknown_kind", 996),
            ("negative_amount", 1028)
        ]
    );
}

/// `pricing ARGS...`, run to its end: its status, stdout and stderr.
fn pricing(args: &[&OsStr]) -> (bool, Vec<u8>, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pricing")).args(args).output().expect("pricing runs");
    (out.status.success(), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// `pricing ARGS... --data DATA`: its status, stdout and stderr.
fn query(args: &[&str], data: &std::path::Path) -> (bool, String, String) {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).chain([OsStr::new("--data"), data.as_os_str()]).collect();
    let (ok, printed, log) = pricing(&args);
    (ok, String::from_utf8_lossy(&printed).into_owned(), log)
}

#[test]
fn the_calendar_and_history_queries_read_what_the_demo_priced() {
    let dir = tempfile::tempdir().expect("tempdir");
    demo_to_the_end(dir.path());
    let data = dir.path().join("data");

    let (ok, calendar, log) = query(&["calendar", "P000008"], &data);
    assert!(ok, "calendar failed:\n{log}");
    assert!(calendar.starts_with("P000008: from 2259.00 ("), "{calendar}");
    // The starting price is marked, and only it.
    assert!(calendar.contains("\nPEK (from 2259.00)\n"), "{calendar}");
    assert!(calendar.contains("  2026-12-07* 2259.00  (v2)\n"), "{calendar}");
    assert_eq!(calendar.matches('*').count(), 1, "{calendar}");
    assert!(calendar.contains("unavailable: flight: no return fare with 2 seats"), "{calendar}");

    let (ok, history, log) = query(&["history", "P000008:PEK:2026-12-07"], &data);
    assert!(ok, "history failed:\n{log}");
    let rows: Vec<Vec<&str>> = history.lines().skip(1).map(|l| l.split_whitespace().take(4).collect()).collect();
    assert_eq!(rows, [["1", "available", "2263.00", "e-947"], ["2", "available", "2259.00", "e-1037"]], "{history}");

    let (ok, _, log) = query(&["calendar", "P404"], &data);
    assert!(!ok && log.contains("no departures priced for product P404"), "{log}");
    let (ok, _, log) = query(&["history", "P000008:PEK:2027-01-01"], &data);
    assert!(!ok && log.contains("no price history for departure P000008:PEK:2027-01-01"), "{log}");
    let (ok, _, log) = query(&["calendar", "P000008"], &dir.path().join("nothing-here"));
    assert!(!ok && log.contains("no state in"), "{log}");
}

#[test]
fn the_demo_keeps_the_admin_api_up_until_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let args = [OsStr::new("--admin-listen"), OsStr::new("127.0.0.1:0"), OsStr::new("--data"), data.as_os_str()];
    let mut run = Run::demo(dir.path(), &args);
    let deadline = Instant::now() + RUN_TIMEOUT;
    let addr: std::net::SocketAddr = loop {
        let printed = run.printed();
        if let Some(addr) = printed.split("admin API: http://").nth(1).and_then(|rest| rest.split('/').next()) {
            break addr.parse().unwrap_or_else(|e| panic!("{e}: {printed}"));
        }
        if let Some(status) = run.exited() {
            panic!("the demo ended ({status}) before saying where its admin API is:\n{printed}\n{}", run.log());
        }
        assert!(Instant::now() < deadline, "no admin address in {RUN_TIMEOUT:?}:\n{printed}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(run.printed().starts_with("1053 events:"), "prices before the admin address:\n{}", run.printed());
    let plugins = common::http::get(addr, "/plugins");
    assert_eq!(plugins.status, 200, "{}", plugins.text);
    for kind in ["flight", "hotel", "insurance", "cruise", "discount"] {
        assert!(plugins.text.contains(&format!("\"{kind}\"")), "{kind} is not served:\n{}", plugins.text);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(run.exited().is_none(), "the demo stopped by itself:\n{}", run.log());
    run.kill();
}

#[test]
fn a_taken_admin_port_fails_the_demo_with_the_address_and_the_way_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = taken.local_addr().expect("an address").to_string();
    let data = dir.path().join("data");
    let args = [OsStr::new("--admin-listen"), OsStr::new(&addr), OsStr::new("--data"), data.as_os_str()];
    let (status, log) = Run::demo(dir.path(), &args).wait();
    assert!(!status.success(), "the demo ran on a taken port:\n{log}");
    let error = log.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line:\n{log}"));
    assert!(error.contains(&format!("--admin-listen): cannot listen on {addr}: ")), "{error}");
    // The cause once, not repeated by each layer that passes it on.
    assert_eq!(error.matches("os error").count(), 1, "{error}");
}

#[test]
fn the_demo_run_away_from_the_examples_says_where_to_run_it_and_leaves_no_data_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pricing"))
        .current_dir(dir.path())
        .args(["demo", "--exit"])
        .output()
        .expect("pricing runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the demo ran without its events:\n{log}");
    let error = log.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("no error line:\n{log}"));
    assert!(error.contains("cannot read the example events examples/events.ndjson"), "{error}");
    assert!(error.contains("from the repository's root, or name them with --events"), "{error}");
    assert!(error.ends_with("No such file or directory (os error 2)"), "{error}");
    // Stopped before it emptied or made its default data folder.
    assert!(!dir.path().join("data").exists(), "a data folder was made for nothing");
}

#[test]
fn the_example_events_are_what_the_readmes_gen_command_writes() {
    let root = std::path::Path::new(REPO_ROOT);
    let args = ["gen", "--products", "8", "--cities", "3", "--dates-per-city", "10", "--events", "400"];
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(readme.contains(&format!("`pricing {}`", args.join(" "))), "the README names another command");
    let (ok, written, log) = pricing(&args.map(OsStr::new));
    assert!(ok, "{log}");
    let example = std::fs::read(root.join("examples/events.ndjson")).expect("the example events");
    // Byte for byte: the generator is seeded, and the hand-worked prices above rely on
    // these events, so a change to either shows here first.
    assert!(written == example, "pricing gen no longer writes examples/events.ndjson");
    assert!(log.contains("\"stale\": 3,") && log.contains("generated 1053 lines"), "the summary:\n{log}");
}
