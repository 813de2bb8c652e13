//! The plugin registry survives a restart: the versions uploaded, the active version of
//! each kind and the history of activations are all there after reopening, and the
//! active set built from it prices with the version last activated.

mod common;

use std::sync::Arc;

use pricing_runtime::plugins;
use pricing_runtime::registry::{Action, Registry, RegistryError, SEED_WHO};

const KINDS: [&str; 5] = ["cruise", "discount", "flight", "hotel", "insurance"];

fn flight_id(registry: &Registry) -> String {
    registry.active_set().expect("active set").get("flight").expect("flight").id().to_owned()
}

#[test]
fn first_open_seeds_the_reference_plugins_as_active() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::open(dir.path(), Arc::new(common::host())).expect("opens");
    let list = registry.list().expect("list");
    assert_eq!(list.iter().map(|k| k.kind.as_str()).collect::<Vec<_>>(), KINDS);
    for k in &list {
        assert_eq!(k.versions.len(), 1, "{}", k.kind);
        assert_eq!(k.active.as_deref(), Some(k.versions[0].hash.as_str()));
        assert_eq!(k.versions[0].uploader, SEED_WHO);
        let history = registry.history(&k.kind).expect("history");
        assert_eq!(history.len(), 1);
        assert_eq!((history[0].action, history[0].from.as_deref()), (Action::Seed, None));
    }
    let set = registry.active_set().expect("active set");
    assert_eq!(set.iter().map(|(k, _)| k).collect::<Vec<_>>(), KINDS);
}

#[test]
fn versions_active_set_and_history_survive_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = Arc::new(common::host());
    let reference = plugins::reference("flight").expect("flight");
    let variant = common::wasm_variant(reference, "v2");

    let (ref_id, variant_hash, variant_id) = {
        let registry = Registry::open(dir.path(), Arc::clone(&host)).expect("opens");
        let ref_id = flight_id(&registry);
        let v = registry.deploy(&variant, Some("flight"), "alice", false).expect("deploys");
        assert_eq!((v.kind.as_str(), v.uploader.as_str()), ("flight", "alice"));
        assert_eq!(flight_id(&registry), ref_id, "deployed without activate: not active");
        registry.activate("flight", &v.hash, "bob", "try v2").expect("activates");
        assert_eq!(flight_id(&registry), v.id);
        (ref_id, v.hash, v.id)
    };

    // Reopen: nothing is seeded again, the variant is still active.
    let registry = Registry::open(dir.path(), Arc::clone(&host)).expect("reopens");
    assert_eq!(flight_id(&registry), variant_id);
    let flight = registry.list().expect("list").into_iter().find(|k| k.kind == "flight").expect("flight");
    assert_eq!(flight.versions.len(), 2);
    assert_eq!(flight.active.as_deref(), Some(variant_hash.as_str()));
    let history = registry.history("flight").expect("history");
    assert_eq!(history.iter().map(|a| a.action).collect::<Vec<_>>(), [Action::Seed, Action::Activate]);
    assert_eq!((history[1].who.as_str(), history[1].why.as_str()), ("bob", "try v2"));
    assert_eq!(history[1].to, variant_hash);
    assert_eq!(
        history[1].from.as_deref(),
        flight.versions.iter().map(|v| v.hash.as_str()).find(|h| *h != variant_hash)
    );
    assert_eq!(registry.wasm(&variant_hash).expect("read"), Some(variant.clone()));

    // A rollback after the restart returns to the reference, and that survives too.
    registry.rollback("flight", "carol", "v2 is wrong").expect("rolls back");
    drop(registry);
    let registry = Registry::open(dir.path(), Arc::clone(&host)).expect("reopens");
    assert_eq!(flight_id(&registry), ref_id);
    let history = registry.history("flight").expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!((history[2].action, history[2].seq, history[2].who.as_str()), (Action::Rollback, 3, "carol"));
}

#[test]
fn rollbacks_walk_back_through_activations_and_the_live_set_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::open(dir.path(), Arc::new(common::host())).expect("opens");
    let live = registry.live().expect("live set");
    let a = flight_id(&registry);
    let reference = plugins::reference("flight").expect("flight");
    let b = registry.deploy(&common::wasm_variant(reference, "b"), None, "ops", true).expect("deploys b");
    let c = registry.deploy(&common::wasm_variant(reference, "c"), None, "ops", true).expect("deploys c");
    let live_flight = || live.load().get("flight").expect("flight").id().to_owned();
    assert_eq!(live_flight(), c.id, "deploy with activate swaps the live set");

    assert_eq!(registry.rollback("flight", "ops", "").expect("to b").hash, b.hash);
    assert_eq!(live_flight(), b.id);
    registry.rollback("flight", "ops", "").expect("to a");
    assert_eq!(live_flight(), a);
    let err = registry.rollback("flight", "ops", "").expect_err("nothing before the seed");
    assert!(matches!(err, RegistryError::NothingToRollBack(ref k) if k == "flight"), "{err}");
    assert_eq!(live_flight(), a, "a refused rollback changes nothing");
    // Other kinds were never touched: the same plugin objects are shared across swaps.
    assert!(Arc::ptr_eq(
        live.load().get("hotel").expect("hotel"),
        registry.active_set().expect("set").get("hotel").expect("hotel")
    ));
}
