//! `pricing-mismatch`: exports `acme:pricing/calc` as `pricing` does, except that `describe`
//! takes a `u32`: a link from `cart` (which passes a string) must be refused naming it.

wit_bindgen::generate!({
    inline: "
        package acme:pricing@0.1.0;
        interface calc {
            resource basket {
                constructor(currency: string);
                add: func(sku: string, qty: u32) -> result<_, string>;
            }
            describe: func(sku: u32) -> string;
            larger: func(a: borrow<basket>, b: borrow<basket>) -> u64;
            close: func(b: basket) -> string;
        }
        world pricing-mismatch {
            export calc;
        }
    ",
});

use exports::acme::pricing::calc::{Basket as Handle, BasketBorrow, Guest, GuestBasket};

struct Mismatch;

struct Basket;

impl GuestBasket for Basket {
    fn new(_currency: String) -> Self {
        Basket
    }

    fn add(&self, _sku: String, _qty: u32) -> Result<(), String> {
        Ok(())
    }
}

impl Guest for Mismatch {
    type Basket = Basket;

    fn describe(sku: u32) -> String {
        format!("sku #{sku}")
    }

    fn larger(_a: BasketBorrow<'_>, _b: BasketBorrow<'_>) -> u64 {
        0
    }

    fn close(_b: Handle) -> String {
        String::new()
    }
}

export!(Mismatch);
