//! A valid component of another world (`other:calc`): loading it as a pricing plugin
//! must fail with a clear reason.

wit_bindgen::generate!({ world: "calc", path: "wit" });

struct Calc;

impl Guest for Calc {
    fn add(a: u32, b: u32) -> u32 {
        a.wrapping_add(b)
    }
}

export!(Calc);
