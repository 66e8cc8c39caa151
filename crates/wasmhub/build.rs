//! Link-time settings for the `wasmhub` binary.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    // Relative relocations packed (DT_RELR, glibc 2.36+, binutils 2.38+): the loader
    // reads a few KiB instead of ~2.7 MiB of RELA entries before `main`, which is most of
    // what a position-independent binary of this size pays at start.
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
