//! Panics on a poisoned departure: the trap must be contained.

include!("../../common.rs");

hostile_rule!(Panicker, "panicker", panic!("hostile plugin panicked on purpose"));
