//! Pricing a stream incrementally, in small batches, ends with exactly the prices a
//! single batch computes from the final state, where every departure is priced once.

mod common;

use common::workload::{consume, write};
use pricing_runtime::engine::PluginSet;
use pricing_runtime::r#gen::GenConfig;
use pricing_runtime::state::{DeparturePrice, State};

/// What a buyer sees of a departure: key, status, price, reason, component amounts.
type Offer = (String, String, Option<i64>, Option<String>, Vec<i64>);

fn offers(data: &std::path::Path) -> Vec<Offer> {
    let state = State::open(&data.join("state")).expect("state");
    state
        .all_prices()
        .map(|p| {
            let p: DeparturePrice = p.expect("price");
            let amounts = p.components.iter().map(|c| c.amount).collect();
            (p.key(), format!("{:?}", p.status), p.price, p.reason, amounts)
        })
        .collect()
}

/// What a buyer sees of a product's starting prices: key, from-price, its city and date,
/// the cheapest per city, and how many departures are available.
type Starting = (String, Option<i64>, Option<String>, Option<String>, Vec<(String, i64)>, u64);

fn starting(data: &std::path::Path) -> Vec<Starting> {
    let state = State::open(&data.join("state")).expect("state");
    let products = state.find_products("", usize::MAX).expect("product prices");
    products
        .into_iter()
        .map(|p| (p.product, p.from_price, p.city, p.date, p.per_city.into_iter().collect(), p.available))
        .collect()
}

#[test]
fn small_batches_end_where_one_batch_over_the_final_state_ends() {
    let host = common::host();
    let plugins = PluginSet::reference(&host).expect("plugins");
    let config = GenConfig { products: 10, dates_per_city: 12, events: 4_000, ..Default::default() };

    let incremental = tempfile::tempdir().expect("tempdir");
    let input = incremental.path().join("events.ndjson");
    let summary = write(&config, &input);
    let one_shot = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&input, one_shot.path().join("events.ndjson")).expect("copy");

    let stats = consume(&input, incremental.path(), &plugins, 50);
    let one = consume(&one_shot.path().join("events.ndjson"), one_shot.path(), &plugins, usize::MAX / 2);
    // The small batches re-price departures keeping the components nothing changed
    // (component_reuse.rs): the equality below covers that path too.
    assert!(stats.components_reused > stats.departures_priced / 4, "{stats:?}");
    assert_eq!(one.components_reused, 0);

    // Departures a product update dropped on the way keep their `retired` record in the
    // incremental run; the one-shot run never priced them. Everything else must agree.
    let (retired, a): (Vec<_>, Vec<_>) = offers(incremental.path()).into_iter().partition(|o| o.1 == "Retired");
    let b = offers(one_shot.path());
    assert!(b.iter().all(|o| o.1 != "Retired"));
    let live: std::collections::BTreeSet<&String> = b.iter().map(|o| &o.0).collect();
    assert!(retired.iter().all(|o| !live.contains(&o.0)), "a retired departure is live in the one-shot run");
    assert!(a.len() as u64 >= summary.departures / 2, "{} prices for {} departures", a.len(), summary.departures);
    assert!(a.iter().any(|o| o.1 == "Available") && a.iter().any(|o| o.1 != "Available"));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }

    // Starting prices, kept up to date batch by batch, end where one computation over the
    // final prices ends. A product deleted on the way keeps a record with nothing
    // available in the incremental run; the one-shot run never priced it.
    let b = starting(one_shot.path());
    let live: std::collections::BTreeSet<&String> = b.iter().map(|p| &p.0).collect();
    let (a, gone): (Vec<_>, Vec<_>) = starting(incremental.path()).into_iter().partition(|p| live.contains(&p.0));
    assert!(gone.iter().all(|p| p.1.is_none() && p.4.is_empty() && p.5 == 0), "{gone:?}");
    assert!(b.len() >= config.products as usize / 2, "{} products priced", b.len());
    assert!(b.iter().any(|p| p.4.len() > 1), "a product with several cities");
    assert_eq!(a, b);
}
