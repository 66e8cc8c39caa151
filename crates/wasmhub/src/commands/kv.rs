//! `wasmhub kv`: an app's key-value stores from the command line.
//!
//! `export` writes JSON lines, one pair each, in key order: `{"key":K,"value":V}` when the
//! value is valid UTF-8, else `{"key":K,"value_b64":B}` (standard base64). `import` reads
//! the same lines (either form), so data moves between backends and machines.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Value, json};
use wasmhub_state::{Kv, KvLimits, StoreId};

/// Read and write an app's key-value stores: the embedded store (stop `wasmhub serve` for
/// that app first), or with `--kv nats --cluster URL` the stores shared on a NATS cluster
/// (no need to stop anything).
///
/// `export` and `import` use JSON lines, one pair per line in key order:
/// {"key":K,"value":V} when the value is valid UTF-8, else {"key":K,"value_b64":B}
/// (standard base64). Import checks every size first, then writes in batches of 256.
#[derive(Parser)]
pub struct KvCommand {
    #[command(flatten)]
    target: Target,
    #[command(subcommand)]
    action: KvAction,
}

/// Which store of which app, and where the app's state lives.
#[derive(Args)]
struct Target {
    /// The app (`[app] name`).
    #[arg(long, global = true)]
    app: Option<String>,
    /// The store label as granted (`keyvalue = ["default"]`).
    #[arg(long, global = true, default_value = "default")]
    store: String,
    /// Where the state lives: the embedded store (--data-dir) or, with --kv nats
    /// --cluster URL, the stores `serve --kv nats` and `host` use.
    #[command(flatten)]
    state: crate::common::StateFlags,
}

#[derive(Subcommand)]
enum KvAction {
    /// Print a key's value, byte for byte (exit code 1 if the key has none).
    Get {
        /// The key.
        key: String,
    },
    /// Set a key to VALUE, or to standard input when VALUE is left out.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: Option<String>,
    },
    /// Remove a key (absent is fine).
    Delete {
        /// The key.
        key: String,
    },
    /// Print every key, one per line, in key order.
    List,
    /// Write every pair as JSON lines, in key order.
    Export,
    /// Read JSON lines (as `export` writes them) from FILE or standard input and set each pair.
    Import {
        /// The file; `-` or nothing for standard input.
        file: Option<PathBuf>,
    },
}

impl KvCommand {
    /// Runs the action; exit code 1 when `get` finds nothing.
    pub fn execute(self) -> Result<i32> {
        let Some(app) = self.target.app.clone() else {
            bail!("which app's state? pass --app NAME (the [app] name of its wasmhub.toml)");
        };
        // The one opener `serve` uses: the embedded file, or the NATS cluster.
        self.target.state.apply()?;
        let backend = wasmhub_state::backend_for(&app)?;
        let kv = Kv::new(backend, KvLimits::default());
        let store = StoreId::new(app, self.target.store);
        crate::common::block_on(run(&kv, &store, self.action))?
    }
}

async fn run(kv: &Kv, store: &StoreId, action: KvAction) -> Result<i32> {
    let mut out = std::io::stdout().lock();
    match action {
        KvAction::Get { key } => match kv.get(store, &key).await? {
            Some(value) => out.write_all(&value)?,
            None => {
                eprintln!("{store} has no key {key:?}");
                return Ok(1);
            }
        },
        KvAction::Set { key, value } => {
            let value = match value {
                Some(v) => v.into_bytes(),
                None => {
                    let mut v = Vec::new();
                    std::io::stdin()
                        .read_to_end(&mut v)
                        .context("cannot read the value from standard input")?;
                    v
                }
            };
            kv.set(store, &key, value).await?;
        }
        KvAction::Delete { key } => kv.delete(store, &key).await?,
        KvAction::List => {
            let mut cursor = None;
            loop {
                let (keys, next) = kv.list(store, cursor.as_deref()).await?;
                for key in keys {
                    writeln!(out, "{key}")?;
                }
                match next {
                    Some(n) => cursor = Some(n),
                    None => break,
                }
            }
        }
        KvAction::Export => {
            for (key, value) in kv.export(store).await? {
                writeln!(out, "{}", to_line(key, value))?;
            }
        }
        KvAction::Import { file } => {
            let pairs = read_lines(file)?;
            let n = kv.import(store, pairs).await?;
            eprintln!("imported {n} key(s) into {store}");
        }
    }
    out.flush()?;
    Ok(0)
}

/// One exported pair as a JSON line.
fn to_line(key: String, value: Vec<u8>) -> Value {
    match String::from_utf8(value) {
        Ok(text) => json!({ "key": key, "value": text }),
        Err(e) => json!({ "key": key, "value_b64": BASE64.encode(e.into_bytes()) }),
    }
}

/// The pairs of a JSON-lines file (blank lines skipped); errors name the line.
fn read_lines(file: Option<PathBuf>) -> Result<Vec<(String, Vec<u8>)>> {
    let (name, reader): (String, Box<dyn BufRead>) = match file {
        Some(path) if path.as_os_str() != "-" => {
            let f = std::fs::File::open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            (
                path.display().to_string(),
                Box::new(std::io::BufReader::new(f)),
            )
        }
        _ => ("standard input".into(), Box::new(std::io::stdin().lock())),
    };
    let mut pairs = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {name}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let pair = from_line(&line).with_context(|| format!("{name}, line {}", i + 1))?;
        pairs.push(pair);
    }
    Ok(pairs)
}

/// One pair from a JSON line: `key` and exactly one of `value` or `value_b64`.
fn from_line(line: &str) -> Result<(String, Vec<u8>)> {
    const SHAPE: &str =
        r#"expected {"key": "...", "value": "..."} or {"key": "...", "value_b64": "..."}"#;
    let object: Map<String, Value> = serde_json::from_str(line).context(SHAPE)?;
    let Some(Value::String(key)) = object.get("key") else {
        bail!("no string \"key\"; {SHAPE}");
    };
    let value = match (object.get("value"), object.get("value_b64")) {
        (Some(Value::String(text)), None) => text.clone().into_bytes(),
        (None, Some(Value::String(b64))) => BASE64
            .decode(b64)
            .context("\"value_b64\" is not standard base64")?,
        _ => bail!("need exactly one string \"value\" or \"value_b64\"; {SHAPE}"),
    };
    if let Some(extra) = object
        .keys()
        .find(|k| !["key", "value", "value_b64"].contains(&k.as_str()))
    {
        bail!("unknown field {extra:?}; {SHAPE}");
    }
    Ok((key.clone(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_text_and_bytes() {
        for (key, value) in [
            ("k", b"text".to_vec()),
            ("b\0in", vec![0xff, 0, 1]),
            ("", vec![]),
        ] {
            let line = to_line(key.into(), value.clone()).to_string();
            assert_eq!(
                from_line(&line).unwrap(),
                (key.to_string(), value),
                "{line}"
            );
        }
        assert_eq!(
            to_line("k".into(), vec![0xff]).to_string(),
            r#"{"key":"k","value_b64":"/w=="}"#
        );
    }

    #[test]
    fn bad_lines_say_what_is_expected() {
        for bad in [
            "nope",
            r#"{"value":"v"}"#,
            r#"{"key":"k"}"#,
            r#"{"key":"k","value":"v","value_b64":"dg=="}"#,
            r#"{"key":"k","value_b64":"!!"}"#,
            r#"{"key":"k","value":"v","extra":1}"#,
        ] {
            let err = format!("{:#}", from_line(bad).unwrap_err());
            assert!(
                err.contains("expected {\"key\"") || err.contains("base64"),
                "{bad}: {err}"
            );
        }
    }
}
