//! Host bindings generated from the WIT in `wit/deps/`: both `wasi:keyvalue` drafts and the
//! three `wasi:config` versions, every import async and able to trap.

/// `wasi:keyvalue@0.2.0-draft2`: string cursors, signed increment, compare-and-swap.
pub mod draft2 {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/keyvalue-0.2.0-draft2",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": crate::host::Bucket,
            "wasi:keyvalue/atomics.cas": crate::host::Cas,
        },
        trappable_error_type: {
            "wasi:keyvalue/store.error" => crate::host::GuestError,
        },
    });
}

/// `wasi:keyvalue@0.2.0-draft`: numeric cursors, unsigned increment, no compare-and-swap.
pub mod draft {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/keyvalue-0.2.0-draft",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable },
        with: {
            "wasi:keyvalue/store.bucket": crate::host::Bucket,
        },
        trappable_error_type: {
            "wasi:keyvalue/store.error" => crate::host::GuestError,
        },
    });
}

/// `wasi:config@0.2.0-rc.1`.
pub mod config_rc1 {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/config-0.2.0-rc.1",
        world: "wasi:config/imports",
        imports: { default: async | trappable },
    });
}

/// `wasi:config@0.2.0-draft-2024-09-27`.
pub mod config_dated {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/config-0.2.0-draft-2024-09-27",
        world: "wasi:config/imports",
        imports: { default: async | trappable },
    });
}

/// `wasi:config@0.2.0-draft`.
pub mod config_draft {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/config-0.2.0-draft",
        world: "wasi:config/imports",
        imports: { default: async | trappable },
    });
}
