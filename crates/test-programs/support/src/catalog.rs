//! The toy shop's price list, shared by the `pricing` guests.

const PRICES: &[(&str, u64)] = &[("apple", 30), ("pear", 45), ("melon", 250), ("fig", 80)];

/// Unit price of `sku` in cents.
pub fn price(sku: &str) -> Option<u64> {
    PRICES.iter().find(|(s, _)| *s == sku).map(|(_, p)| *p)
}

/// `apple: 30 cents`, or `pear: unknown`.
pub fn describe(sku: &str) -> String {
    match price(sku) {
        Some(p) => format!("{sku}: {p} cents"),
        None => format!("{sku}: unknown"),
    }
}
