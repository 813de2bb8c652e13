//! Loops forever on a poisoned departure: the host must stop it at the time budget.

include!("../../common.rs");

fn spin() -> u64 {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

hostile_rule!(Looper, "looper", {
    spin();
});
