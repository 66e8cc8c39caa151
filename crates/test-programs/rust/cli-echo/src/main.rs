//! `cli-echo`: a `wasi:cli` command that prints its args and env vars, reads stdin, exits as told.
//!
//! Usage inside the guest: `cli-echo [--env NAME] [--stdin] [--exit CODE] [--fail] [WORDS...]`.

use std::io::Write;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut words = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--env" => {
                let name = args.next().expect("--env needs a name");
                match std::env::var(&name) {
                    Ok(v) => println!("env {name}={v}"),
                    Err(_) => println!("env {name} is not set"),
                }
            }
            "--stdin" => {
                let mut input = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut input).unwrap();
                println!("stdin: {}", input.trim_end());
            }
            "--exit" => {
                let code: u8 = args
                    .next()
                    .and_then(|c| c.parse().ok())
                    .expect("--exit needs 0-255");
                std::io::stdout().flush().unwrap();
                wasip2::cli::exit::exit_with_code(code);
            }
            "--fail" => {
                eprintln!("cli-echo: failing as asked");
                std::process::exit(1);
            }
            _ => words.push(arg),
        }
    }
    if !words.is_empty() {
        println!("{}", words.join(" "));
    }
}
