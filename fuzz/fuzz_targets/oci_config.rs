#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmhub_fuzz::oci_config(data));
