//! Allocates without bound on a poisoned departure: the host's memory limit must stop it.

include!("../../common.rs");

fn hog() {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        chunks.push(std::hint::black_box(vec![1u8; 1 << 20]));
    }
}

hostile_rule!(Memhog, "memhog", hog());
