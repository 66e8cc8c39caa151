//! How much a store and a request may use: enforced exactly, named in every error.

/// Limits for one store and for the requests that use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvLimits {
    /// Longest key, in bytes.
    pub max_key_bytes: usize,
    /// Largest value, in bytes.
    pub max_value_bytes: usize,
    /// Most keys one store may hold.
    pub max_keys: u64,
    /// Most bytes (keys plus values) one store may hold.
    pub max_bytes: u64,
    /// Most key-value operations one request (one instance) may make.
    pub max_ops_per_request: u64,
}

impl Default for KvLimits {
    fn default() -> Self {
        Self {
            max_key_bytes: 1024,
            max_value_bytes: 1024 * 1024,
            max_keys: 100_000,
            max_bytes: 256 * 1024 * 1024,
            max_ops_per_request: 10_000,
        }
    }
}

impl KvLimits {
    /// The part a backend enforces with the write.
    pub fn quota(&self) -> crate::backend::StoreQuota {
        crate::backend::StoreQuota {
            max_keys: self.max_keys,
            max_bytes: self.max_bytes,
        }
    }
}
