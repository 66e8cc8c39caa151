//! `pricing-spin`: exports `acme:pricing/calc` as `pricing` does, except that `describe(sku)`
//! never returns: it creates the file `/data/SKU` (when granted a `/data`) to say it has
//! started, then spins (a link target that holds on until its deadline); `price` answers at
//! once.

wit_bindgen::generate!({ path: "../../../../wit/pricing", world: "pricing" });

use exports::acme::pricing::calc::{Basket as Handle, BasketBorrow, Guest, GuestBasket};

struct Spin;

struct Basket;

impl GuestBasket for Basket {
    fn new(_currency: String) -> Self {
        Basket
    }

    fn add(&self, _sku: String, _qty: u32) -> Result<(), String> {
        Ok(())
    }

    fn total(&self) -> u64 {
        0
    }

    fn count(&self) -> u32 {
        0
    }
}

impl Guest for Spin {
    type Basket = Basket;

    fn price(sku: String) -> Option<u64> {
        Some(sku.len() as u64)
    }

    fn describe(sku: String) -> String {
        let _ = std::fs::write(format!("/data/{sku}"), b"spinning");
        let mut x = 1u64;
        loop {
            x = std::hint::black_box(x.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (x >> 29));
        }
    }

    fn larger(_a: BasketBorrow<'_>, _b: BasketBorrow<'_>) -> u64 {
        0
    }

    fn close(_b: Handle) -> String {
        String::new()
    }
}

export!(Spin);
