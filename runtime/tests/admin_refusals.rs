//! A version that fails validation is refused with a reason naming the problem, and the
//! active set stays as it was: corrupt wasm, the wrong world, the wrong kind, too large,
//! an unknown version. Checked over HTTP (status and `{"error": ...}`) and directly on
//! the registry.

mod common;

use std::sync::Arc;

use common::http::{TOKEN, active_hash, get, post, serve};
use pricing_runtime::plugins::{self, WRONG_WORLD};
use pricing_runtime::registry::{Registry, RegistryError};

#[test]
fn invalid_uploads_are_refused_over_http_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (registry, server) = serve(dir.path(), 1);
    let addr = server.local_addr();
    let before = get(addr, "/plugins").json;
    let flight = plugins::reference("flight").expect("flight");

    let corrupt = post(addr, "/plugins?activate=true", Some(TOKEN), b"\0asm this is not a component");
    assert_eq!(corrupt.status, 422, "{}", corrupt.text);
    assert!(corrupt.error().starts_with("corrupt wasm"), "{}", corrupt.error());

    let truncated = post(addr, "/plugins?activate=true", Some(TOKEN), &flight[..flight.len() / 2]);
    assert_eq!(truncated.status, 422, "{}", truncated.text);
    assert!(truncated.error().starts_with("corrupt wasm"), "{}", truncated.error());

    let wrong_world = post(addr, "/plugins?activate=true", Some(TOKEN), &common::artifact(WRONG_WORLD));
    assert_eq!(wrong_world.status, 422, "{}", wrong_world.text);
    assert!(wrong_world.error().starts_with("wrong world"), "{}", wrong_world.error());

    let wrong_kind = post(addr, "/plugins?activate=true&kind=hotel", Some(TOKEN), flight);
    assert_eq!(wrong_kind.status, 422, "{}", wrong_kind.text);
    assert_eq!(wrong_kind.error(), "wrong kind: the plugin prices `flight`, not `hotel`");

    // One byte over the 1 MiB limit.
    let too_large = post(addr, "/plugins?activate=true", Some(TOKEN), &vec![0u8; (1 << 20) + 1]);
    assert_eq!(too_large.status, 413, "{}", too_large.text);
    assert_eq!(too_large.error(), "plugin is 1048577 bytes, over the upload limit of 1048576 bytes");

    let empty = post(addr, "/plugins", Some(TOKEN), b"");
    assert_eq!(empty.status, 400, "{}", empty.text);
    assert!(empty.error().contains("empty body"), "{}", empty.error());

    let bad_query = post(addr, "/plugins?activate=maybe", Some(TOKEN), flight);
    assert_eq!(bad_query.status, 400, "{}", bad_query.text);

    let unknown = post(addr, &format!("/plugins/flight/activate/{}", "0".repeat(64)), Some(TOKEN), b"");
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    assert!(unknown.error().starts_with("unknown version"), "{}", unknown.error());

    // A stored flight version activated as the hotel: wrong kind.
    let flight_hash = active_hash(&before, "flight");
    let cross = post(addr, &format!("/plugins/hotel/activate/{flight_hash}"), Some(TOKEN), b"");
    assert_eq!(cross.status, 422, "{}", cross.text);
    assert!(cross.error().starts_with("wrong kind"), "{}", cross.error());

    let nothing = post(addr, "/plugins/flight/rollback", Some(TOKEN), b"");
    assert_eq!(nothing.status, 409, "{}", nothing.text);
    assert!(nothing.error().starts_with("nothing to roll back"), "{}", nothing.error());

    // Nothing was stored or activated; the live set is the seeded one.
    assert_eq!(get(addr, "/plugins").json, before);
    let live = registry.live().expect("live");
    assert_eq!(live.load().get("hotel").expect("hotel").info().hash, active_hash(&before, "hotel"));
}

#[test]
fn the_registry_refuses_invalid_versions_with_typed_reasons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::open(dir.path(), Arc::new(common::host())).expect("opens").with_max_upload_bytes(4096);
    let flight = plugins::reference("flight").expect("flight");

    let err = registry.deploy(b"garbage", None, "t", true).expect_err("corrupt");
    assert!(matches!(err, RegistryError::CorruptWasm(_)), "{err}");
    let err = registry.deploy(flight, None, "t", true).expect_err("too large");
    assert!(matches!(err, RegistryError::TooLarge { limit: 4096, .. }), "{err}");
    assert!(err.is_refusal());

    let registry = Registry::open(&dir.path().join("other"), Arc::new(common::host())).expect("opens");
    let err = registry.deploy(&common::artifact(WRONG_WORLD), None, "t", true).expect_err("wrong world");
    assert!(matches!(err, RegistryError::WrongWorld(_)), "{err}");
    let err = registry.deploy(flight, Some("hotel"), "t", true).expect_err("wrong kind");
    assert!(matches!(&err, RegistryError::WrongKind { expected, actual } if expected == "hotel" && actual == "flight"));
    let err = registry.activate("flight", "feedface", "t", "").expect_err("unknown");
    assert!(matches!(err, RegistryError::UnknownVersion(_)), "{err}");
    // A hostile plugin that prices normal departures passes: validation refuses failures,
    // it cannot prove a plugin never misbehaves (containment handles that at run time).
    let looper = registry.deploy(&common::artifact(plugins::LOOPER), None, "t", false).expect("looper passes");
    assert_eq!(looper.kind, "looper");
}
