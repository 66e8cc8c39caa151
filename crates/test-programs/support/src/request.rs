//! Reading a request: its path, its query parameters (percent-decoded) and its whole body.

use wasip2::http::types::{IncomingBody, IncomingRequest};
use wasip2::io::streams::StreamError;

/// A request's path and decoded query parameters.
pub struct Target {
    /// The path without the query, e.g. `/count/incr`.
    pub path: String,
    params: Vec<(String, String)>,
}

impl Target {
    /// The path and query of `request`.
    pub fn of(request: &IncomingRequest) -> Self {
        Self::parse(&request.path_with_query().unwrap_or_default())
    }

    /// Splits `path?a=1&b=%00` into the path and its decoded parameters.
    pub fn parse(path_with_query: &str) -> Self {
        let (path, query) = path_with_query
            .split_once('?')
            .unwrap_or((path_with_query, ""));
        let params = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (decode(k), decode(v))
            })
            .collect();
        Self {
            path: path.to_owned(),
            params,
        }
    }

    /// The last segment of the path (`incr` for `/count/incr`): the route's action.
    pub fn action(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or("")
    }

    /// The decoded value of parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Parameter `name`, or `default` when it is absent.
    pub fn param_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.param(name).unwrap_or(default)
    }

    /// Parameter `name` parsed as a number, or `default` when absent or not a number.
    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.param(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}

/// Percent-decodes `s` (`+` stays a plus); invalid escapes are kept as they are. Bytes that
/// do not form UTF-8 are replaced.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads the whole body of `request`.
pub fn body(request: IncomingRequest) -> Vec<u8> {
    let incoming = request.consume().unwrap();
    let input = incoming.stream().unwrap();
    let mut all = Vec::new();
    loop {
        match input.blocking_read(64 * 1024) {
            Ok(chunk) => all.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                panic!("reading the body: {}", e.to_debug_string())
            }
        }
    }
    drop(input);
    IncomingBody::finish(incoming);
    all
}
