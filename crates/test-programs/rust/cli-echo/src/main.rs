//! `cli-echo`: a `wasi:cli` command that prints its args, one env var and one granted file.
//!
//! Usage inside the guest: `cli-echo [--env NAME] [--file PATH] [--exit CODE] [--fail] [WORDS...]`.

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
            "--file" => {
                let path = args.next().expect("--file needs a path");
                match std::fs::read_to_string(&path) {
                    Ok(text) => println!("file {path}: {}", text.trim_end()),
                    Err(e) => {
                        eprintln!("cannot read {path}: {e}");
                        std::process::exit(1);
                    }
                }
            }
            "--write" => {
                let path = args.next().expect("--write needs a path");
                match std::fs::write(&path, "written by cli-echo\n") {
                    Ok(()) => println!("wrote {path}"),
                    Err(e) => {
                        eprintln!("cannot write {path}: {e}");
                        std::process::exit(1);
                    }
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
