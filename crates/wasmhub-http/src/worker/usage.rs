//! A guest's usage, from its worker to the server's access line: a response header the
//! worker adds when its guest finished before the head, and the server removes.

use hyper::Response;
use hyper::header::HeaderValue;
use wasmhub_core::Usage;

/// The header: `WALL_US;FUEL;PEAK_MEMORY` (fuel empty when not metered).
const USAGE_HEADER: &str = "x-wasmhub-worker-usage";

/// Adds `usage` (if the guest has finished) to the worker's response; a header of that
/// name the guest set itself never reaches the server.
pub(crate) fn send<B>(resp: &mut Response<B>, usage: Option<Usage>) {
    resp.headers_mut().remove(USAGE_HEADER);
    let Some(u) = usage else { return };
    let fuel = u.fuel.map(|f| f.to_string()).unwrap_or_default();
    let text = format!("{};{fuel};{}", u.wall.as_micros(), u.peak_memory);
    if let Ok(v) = HeaderValue::from_str(&text) {
        resp.headers_mut().insert(USAGE_HEADER, v);
    }
}

/// Removes the usage header from a worker's response, and reads it.
pub(crate) fn take<B>(resp: &mut Response<B>) -> Option<Usage> {
    let v = resp.headers_mut().remove(USAGE_HEADER)?;
    let mut parts = v.to_str().ok()?.split(';');
    let wall = parts.next()?.parse::<u64>().ok()?;
    let fuel = parts.next()?;
    let peak_memory = parts.next()?.parse().ok()?;
    Some(Usage {
        wall: std::time::Duration::from_micros(wall),
        fuel: if fuel.is_empty() {
            None
        } else {
            Some(fuel.parse().ok()?)
        },
        peak_memory,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_crosses_and_the_header_is_removed() {
        let usage = Usage {
            wall: std::time::Duration::from_micros(1234),
            fuel: Some(99),
            peak_memory: 65536,
        };
        let mut resp = Response::new(());
        send(&mut resp, Some(usage));
        let back = take(&mut resp).unwrap();
        assert_eq!(
            (back.wall, back.fuel, back.peak_memory),
            (usage.wall, usage.fuel, usage.peak_memory)
        );
        assert!(resp.headers().get(USAGE_HEADER).is_none());
        send(&mut resp, None);
        assert!(take(&mut resp).is_none());
        // A guest's own header of that name is not taken for its usage.
        resp.headers_mut()
            .insert(USAGE_HEADER, HeaderValue::from_static("1;;1"));
        send(&mut resp, None);
        assert!(take(&mut resp).is_none());
    }
}
