//! `compute`: exports `polyglot:compute/calc` (see wit/calc.wit).

wit_bindgen::generate!({ path: "wit", world: "compute" });

use exports::polyglot::compute::calc::Guest;

struct Component;

impl Guest for Component {
    fn fib(n: u32) -> u64 {
        let (mut a, mut b) = (0u64, 1u64);
        for _ in 0..n {
            (a, b) = (b, a.wrapping_add(b));
        }
        a
    }
}

export!(Component);
