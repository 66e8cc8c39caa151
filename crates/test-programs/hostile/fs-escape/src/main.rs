//! `fs-escape`: tries file operations named by its arguments and reports each one.
//!
//! Operations, any number in order: `read PATH`, `write PATH`, `list DIR`,
//! `hardlink FROM TO`. Each prints `ok OP PATH: ...` or
//! `denied OP PATH: ERROR`; the exit status is 1 when any was denied.

use std::fs;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut denied = false;
    let mut rest = args.iter().map(String::as_str);
    while let Some(op) = rest.next() {
        let path = rest.next().expect("every operation names a path");
        let result = match op {
            "read" => fs::read_to_string(path).map(|t| t.trim_end().to_owned()),
            "write" => fs::write(path, "written by fs-escape\n").map(|()| "written".into()),
            "list" => fs::read_dir(path).map(|d| {
                let mut names: Vec<String> = d
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names.join(",")
            }),
            "hardlink" => {
                let to = rest.next().expect("hardlink FROM TO");
                fs::hard_link(path, to).map(|()| format!("linked {to}"))
            }
            other => panic!("unknown operation {other}"),
        };
        match result {
            Ok(text) => println!("ok {op} {path}: {text}"),
            Err(e) => {
                denied = true;
                println!("denied {op} {path}: {e}");
            }
        }
    }
    std::process::exit(i32::from(denied));
}
