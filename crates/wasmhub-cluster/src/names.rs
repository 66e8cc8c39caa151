//! How app names, store labels and guest keys become NATS names.
//!
//! NATS bucket names allow only `[A-Za-z0-9_-]` and keys only `[-/_=.A-Za-z0-9]` (no empty
//! key, no leading or trailing `.`), while guest labels and keys are any string. So:
//!
//! - **bucket** of store `label` of app `app`: `wh_` + hex(app) + `_` + hex(label), lower-case
//!   hex of the UTF-8 bytes. Hex never contains `_`, so the `_` after the app's hex ends it:
//!   two distinct (app, label) pairs never share a bucket, and every pair (the empty label
//!   too) gives a valid name. The stream behind it is `KV_` + that name.
//! - **key**: `k` + hex(key). The `k` makes the empty key a valid NATS key; hex of UTF-8
//!   bytes compares like the bytes, so encoded keys sort as the guest keys do. Names not
//!   starting with `k` are the backend's own ([`USAGE_KEY`]), never a guest's.
//!
//! Hex doubles lengths: a 1 KiB guest key is a 2,049-byte NATS key, inside the server's
//! 4 KiB control line only with a short bucket name (app and label together under ~500 bytes).

/// Every bucket this backend makes starts with this.
const BUCKET_PREFIX: &str = "wh_";

/// The backend's entry holding a store's usage (not a guest key: those start with `k`).
pub const USAGE_KEY: &str = "usage";

/// The bucket holding store `label` of app `app`.
pub fn bucket(app: &str, label: &str) -> String {
    format!("{}{}", app_prefix(app), hex::encode(label))
}

/// The start every bucket name of `app` shares.
pub fn app_prefix(app: &str) -> String {
    format!("{BUCKET_PREFIX}{}_", hex::encode(app))
}

/// The label of a bucket of `app` named `bucket`, if it is one.
pub fn label_of(app: &str, bucket: &str) -> Option<String> {
    let hex = bucket.strip_prefix(&app_prefix(app))?;
    String::from_utf8(hex::decode(hex).ok()?).ok()
}

/// The NATS key for guest key `key`.
pub fn key(key: &str) -> String {
    format!("k{}", hex::encode(key))
}

/// The guest key a NATS key stands for, if it is one of [`key`]'s.
pub fn guest_key(nats_key: &str) -> Option<String> {
    let hex = nats_key.strip_prefix('k')?;
    String::from_utf8(hex::decode(hex).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_bucket(name: &str) -> bool {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    fn valid_key(k: &str) -> bool {
        !k.is_empty()
            && !k.starts_with('.')
            && !k.ends_with('.')
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b))
    }

    #[test]
    fn buckets_are_valid_and_never_collide() {
        let names = ["", "a", "a_", "_a", "ab", "a/b", "..", "\0", "ü", "6162"];
        let mut seen = std::collections::HashSet::new();
        for app in names {
            for label in names {
                let b = bucket(app, label);
                assert!(valid_bucket(&b), "{b:?}");
                assert!(seen.insert(b.clone()), "{app:?}/{label:?} collides as {b}");
                assert_eq!(label_of(app, &b).as_deref(), Some(label));
            }
        }
        assert_eq!(label_of("a", &bucket("ab", "")), None);
    }

    #[test]
    fn keys_round_trip_are_valid_and_keep_order() {
        let mut keys = vec!["", "a", "a\0", "a/b", "..", ".", "ünï", "z", "\u{10FFFF}"];
        keys.sort();
        let encoded: Vec<String> = keys.iter().map(|k| key(k)).collect();
        for (k, e) in keys.iter().zip(&encoded) {
            assert!(valid_key(e), "{e:?}");
            assert_eq!(guest_key(e).as_deref(), Some(*k));
        }
        assert!(encoded.windows(2).all(|w| w[0] < w[1]), "{encoded:?}");
        assert_eq!(guest_key(USAGE_KEY), None);
    }
}
