//! Prints what `wasmhub invoke greet.wasm 'greet("NAME")'` prints, natively: the process floor.

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "world".into());
    println!("{:?}", format!("Hello, {name}!"));
}
