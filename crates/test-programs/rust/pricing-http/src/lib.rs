//! `pricing-http`: `calc.describe` over HTTP (`GET ...?sku=apple`), the remote side of the graph benchmark.

use guest_support::{answer, catalog};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct PricingHttp;

impl wasip2::exports::http::incoming_handler::Guest for PricingHttp {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let target = request.path_with_query().unwrap_or_default();
        let query = target.split_once('?').map_or("", |(_, q)| q);
        answer(
            out,
            200,
            &catalog::describe(query.strip_prefix("sku=").unwrap_or(query)),
        );
    }
}

wasip2::http::proxy::export!(PricingHttp);
