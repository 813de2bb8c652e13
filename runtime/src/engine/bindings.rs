//! Host bindings of the `travel:pricing/plugin` world.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
});
