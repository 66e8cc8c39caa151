//! The fuzz targets' bodies: each takes arbitrary bytes, feeds them to one parser of outside
//! input and panics when a property fails (a panic inside the parser fails too). `fuzz/`
//! wraps them for libFuzzer; `tests/corpus.rs` replays the committed corpora on stable Rust.

#![deny(missing_docs)]

mod http;

pub use http::http_request;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use wasmhub_manifest::{OutboundRule, Route, SocketRule};
use wasmhub_oci::Reference;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus folder and libFuzzer binary.
pub const TARGETS: &[(&str, Target)] = &[
    ("manifest", manifest),
    ("route", route),
    ("outbound", outbound),
    ("socket", socket),
    ("oci_reference", oci_reference),
    ("oci_manifest", oci_manifest),
    ("oci_config", oci_config),
    ("wave_call", wave_call),
    ("http_request", http_request),
];

/// A manifest: accepted, or refused with an error that names the file and a line.
pub fn manifest(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent/wasmhub-fuzz/wasmhub.toml");
    if let Err(e) = wasmhub_manifest::parse(text, path) {
        let message = e.to_string();
        assert!(
            message.starts_with("/nonexistent/wasmhub-fuzz/wasmhub.toml:"),
            "the error does not name the file and line: {message}"
        );
    }
}

/// `data` parsed by `parse` when it is text and valid; a parsed value must print back to
/// itself (parse, print, parse gives the same value).
fn round_trip<T, E>(data: &[u8], parse: impl Fn(&str) -> Result<T, E>) -> Option<(&str, T)>
where
    T: std::fmt::Display + PartialEq + std::fmt::Debug,
    E: std::fmt::Debug,
{
    let text = std::str::from_utf8(data).ok()?;
    let value = parse(text).ok()?;
    let printed = value.to_string();
    match parse(&printed) {
        Ok(again) => assert_eq!(again, value, "{printed}"),
        Err(e) => panic!("{printed:?} (printed from {text:?}) does not parse: {e:?}"),
    }
    Some((text, value))
}

/// A route: a parsed route prints back to itself, and matches its own path.
pub fn route(data: &[u8]) {
    let Some((_, r)) = round_trip(data, |t| Route::try_from(t.to_owned())) else {
        return;
    };
    let printed = r.to_string();
    let own = printed.strip_suffix("/...").unwrap_or(&printed);
    assert!(
        r.matches(if own.is_empty() { "/" } else { own }),
        "{printed}"
    );
    let _ = r.specificity();
}

/// An outbound rule: a parsed rule prints back to itself; matching never panics.
pub fn outbound(data: &[u8]) {
    let Some((text, rule)) = round_trip(data, OutboundRule::from_str) else {
        return;
    };
    let port = data
        .iter()
        .fold(0u16, |a, b| a.wrapping_mul(31).wrapping_add(u16::from(*b)));
    let _ = rule.allows("http", text, port);
    let _ = rule.allows("https", "example.com", 443);
}

/// A socket grant: parsing never panics, and a parsed grant prints back to itself.
pub fn socket(data: &[u8]) {
    round_trip(data, SocketRule::from_str);
}

/// An OCI reference: a parsed reference prints back to itself.
pub fn oci_reference(data: &[u8]) {
    round_trip(data, Reference::parse);
}

/// An image manifest from a registry: checked (media types, one wasm layer) without panics.
pub fn oci_manifest(data: &[u8]) {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    let r = REFERENCE.get_or_init(|| {
        Reference::parse("127.0.0.1:5000/fuzz/component:1.0.0").expect("a valid reference")
    });
    if let Ok((_, layer)) = wasmhub_oci::layout::check(r, data) {
        assert_eq!(layer.media_type, "application/wasm");
        let text = std::str::from_utf8(data).expect("accepted a manifest that is not UTF-8");
        assert!(
            text.trim_start().starts_with('{'),
            "accepted a manifest that is not an object"
        );
    }
    let _ = wasmhub_oci::layout::component_layer(data);
    let _ = wasmhub_oci::layout::referenced_blobs(data);
}

/// A config blob from a registry: accepted only when it is a Wasm config that lists the
/// manifest's layer (or no layers); a refusal names the reference.
pub fn oci_config(data: &[u8]) {
    static REFERENCE: OnceLock<Reference> = OnceLock::new();
    let r = REFERENCE.get_or_init(|| {
        Reference::parse("127.0.0.1:5000/fuzz/component:1.0.0").expect("a valid reference")
    });
    let layer = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    match wasmhub_oci::layout::check_config(r, data, layer) {
        Ok(()) => {
            // JSON allows numbers past f64 in fields we skip; `Value` refuses them.
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
                return;
            };
            assert!(v.is_object(), "accepted a config that is not a JSON object");
            assert_eq!(v["architecture"], "wasm");
            let listed = v["layerDigests"].as_array();
            assert!(
                listed.is_none_or(|l| l.is_empty() || l.iter().any(|d| d == layer)),
                "accepted a config that does not list the layer"
            );
        }
        Err(e) => {
            let message = format!("{e:#}");
            assert!(message.starts_with(&r.to_string()), "{message}");
        }
    }
}

/// A WAVE call checked against the exports of the `cart` guest (records, lists, options,
/// results, resources): parsed or refused, never a panic.
pub fn wave_call(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (engine, component) = cart();
    let _ = wasmhub_host::parse_call(engine, component, text);
}

/// Where the guests are: `$WASMHUB_GUESTS`, else the workspace's `target/guests`.
pub fn guests_dir() -> PathBuf {
    std::env::var_os("WASMHUB_GUESTS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/guests"),
        PathBuf::from,
    )
}

fn cart() -> &'static (wasmtime::Engine, wasmtime::component::Component) {
    static CART: OnceLock<(wasmtime::Engine, wasmtime::component::Component)> = OnceLock::new();
    CART.get_or_init(|| {
        let engine = wasmhub_core::new_engine(wasmhub_core::EngineKind::OneShot(
            wasmhub_core::Metering::default(),
        ))
        .expect("an engine");
        let path = guests_dir().join("cart.wasm");
        let component =
            wasmtime::component::Component::from_file(&engine, &path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (build the guests: cargo xtask guests)",
                    path.display()
                )
            });
        (engine, component)
    })
}
