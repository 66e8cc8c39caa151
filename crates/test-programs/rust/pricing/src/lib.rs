//! `pricing`: exports `acme:pricing/calc` (functions and the `basket` resource), the link target.

use std::cell::RefCell;

use guest_support::catalog;

wit_bindgen::generate!({ path: "../../../../wit/pricing", world: "pricing" });

use exports::acme::pricing::calc::{Basket as BasketHandle, BasketBorrow, Guest, GuestBasket};

struct Pricing;

/// A basket's state: its currency and lines.
struct Basket {
    currency: String,
    lines: RefCell<Vec<(String, u32, u64)>>,
}

impl GuestBasket for Basket {
    fn new(currency: String) -> Self {
        Self {
            currency,
            lines: RefCell::new(Vec::new()),
        }
    }

    fn add(&self, sku: String, qty: u32) -> Result<(), String> {
        let unit = catalog::price(&sku).ok_or_else(|| format!("unknown sku: {sku}"))?;
        self.lines.borrow_mut().push((sku, qty, unit));
        Ok(())
    }

    fn total(&self) -> u64 {
        self.lines
            .borrow()
            .iter()
            .map(|(_, q, p)| u64::from(*q) * p)
            .sum()
    }

    fn count(&self) -> u32 {
        self.lines.borrow().iter().map(|(_, q, _)| q).sum()
    }
}

impl Guest for Pricing {
    type Basket = Basket;

    fn price(sku: String) -> Option<u64> {
        catalog::price(&sku)
    }

    fn describe(sku: String) -> String {
        catalog::describe(&sku)
    }

    fn larger(a: BasketBorrow<'_>, b: BasketBorrow<'_>) -> u64 {
        let a: &Basket = a.get();
        let b: &Basket = b.get();
        a.total().max(b.total())
    }

    fn close(b: BasketHandle) -> String {
        let b: Basket = b.into_inner();
        format!("{} items, {} {}", b.count(), b.total(), b.currency)
    }
}

export!(Pricing);
