//! `cart`: imports `acme:pricing/calc`, exports typed `shop` functions and an HTTP handler.
//!
//! HTTP: `GET .../checkout?apple=2&pear=1` answers the total in cents, `.../receipt?...` the
//! receipt line, `.../describe?sku=apple` the label; an unknown SKU answers 422.

wit_bindgen::generate!({ path: ["../../../../wit/pricing", "../../../../wit/cart"], world: "acme:cart/cart@0.1.0", generate_all });

use acme::pricing::calc::{self, Basket};
use exports::acme::cart::shop::{Guest, Line};
use guest_support::answer;
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct Cart;

/// A basket holding `lines`, or the first line `calc` refused.
fn fill(lines: &[Line]) -> Result<Basket, String> {
    let basket = Basket::new("EUR");
    for line in lines {
        basket.add(&line.sku, line.qty)?;
    }
    Ok(basket)
}

impl Guest for Cart {
    fn checkout(lines: Vec<Line>) -> Result<u64, String> {
        let basket = fill(&lines)?;
        // Borrow the same basket twice across the link: `larger` of a basket and itself.
        Ok(calc::larger(&basket, &basket))
    }

    fn receipt(lines: Vec<Line>) -> Result<String, String> {
        Ok(calc::close(fill(&lines)?))
    }

    fn relay(sku: String, times: u32) -> String {
        let mut last = String::new();
        for _ in 0..times {
            last = calc::describe(&sku);
        }
        last
    }
}

export!(Cart);

/// `apple=2&pear=1` as order lines.
fn parse_lines(query: &str) -> Vec<Line> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (sku, qty) = kv.split_once('=').unwrap_or((kv, "1"));
            Line {
                sku: sku.to_string(),
                qty: qty.parse().unwrap_or(1),
            }
        })
        .collect()
}

impl wasip2::exports::http::incoming_handler::Guest for Cart {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let target = request.path_with_query().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let lines = parse_lines(query);
        let result = match path.rsplit('/').next().unwrap_or_default() {
            "checkout" => Cart::checkout(lines).map(|t| t.to_string()),
            "receipt" => Cart::receipt(lines),
            "describe" => Ok(calc::describe(query.strip_prefix("sku=").unwrap_or(query))),
            other => {
                return answer(
                    out,
                    404,
                    &format!("no action {other:?}: try checkout, receipt or describe"),
                );
            }
        };
        match result {
            Ok(text) => answer(out, 200, &text),
            Err(e) => answer(out, 422, &e),
        }
    }
}

wasip2::http::proxy::export!(Cart);
