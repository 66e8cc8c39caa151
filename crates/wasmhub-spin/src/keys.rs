//! Which `spin.toml` keys wasmhub reads, ignores or refuses: every key is checked before the
//! typed read, so nothing is silently dropped; a refusal names the key, the line and that it
//! is not supported yet.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A refused key: where, and the message.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// Byte offset of the key.
    pub offset: usize,
    /// What is refused and what to do.
    pub message: String,
}

/// What to do with a key at one level.
enum Rule {
    /// Read (and validated) by the resolver; `Some` descends into a table with these rules.
    Read(Option<fn(&str) -> Rule>),
    /// Metadata or build-time settings Spin's runtime does not use either.
    Ignore,
    /// Not supported yet, with why.
    Refuse(&'static str),
}

fn top(key: &str) -> Rule {
    match key {
        "spin_manifest_version" | "variables" => Rule::Read(None),
        "application" => Rule::Read(Some(application)),
        "trigger" => Rule::Read(Some(trigger)),
        "component" => Rule::Read(Some(|_| Rule::Read(Some(component)))),
        _ => Rule::Refuse("wasmhub does not know this top-level key"),
    }
}

fn application(key: &str) -> Rule {
    match key {
        "name" => Rule::Read(None),
        "version" | "description" | "authors" | "targets" | "tool" => Rule::Ignore,
        "trigger" => Rule::Refuse("application-wide trigger settings are not read"),
        _ => Rule::Refuse("wasmhub does not know this [application] key"),
    }
}

fn trigger(key: &str) -> Rule {
    match key {
        "http" => Rule::Read(Some(http_trigger)),
        _ => Rule::Refuse("wasmhub serves Spin's HTTP trigger only"),
    }
}

fn http_trigger(key: &str) -> Rule {
    match key {
        "route" | "component" | "executor" => Rule::Read(None),
        "id" => Rule::Ignore,
        _ => Rule::Refuse("wasmhub does not know this [[trigger.http]] key"),
    }
}

fn component(key: &str) -> Rule {
    match key {
        "source"
        | "variables"
        | "environment"
        | "files"
        | "allowed_outbound_hosts"
        | "key_value_stores"
        | "dependencies" => Rule::Read(None),
        "description" | "build" | "tool" | "targets" => Rule::Ignore,
        "sqlite_databases" => Rule::Refuse("SQLite databases are not served"),
        "ai_models" => Rule::Refuse("Serverless AI models are not served"),
        "exclude_files" => {
            Rule::Refuse("`files` are whole directories here; exclusions are not read")
        }
        "allowed_http_hosts" => Rule::Refuse("it is Spin 1's key: write allowed_outbound_hosts"),
        "dependencies_inherit_configuration" => {
            Rule::Refuse("dependencies get no configuration of their own component")
        }
        _ => Rule::Refuse("wasmhub does not know this [component] key"),
    }
}

/// Checks every key of the document against the rules; the first refusal, in file order.
pub(crate) fn check(doc: &Spanned<DeTable<'_>>) -> Result<(), Refusal> {
    let mut found = Vec::new();
    walk(doc.get_ref(), "", top, &mut found);
    found.sort_by_key(|r| r.offset);
    found.into_iter().next().map_or(Ok(()), Err)
}

fn walk(table: &DeTable<'_>, path: &str, rule: fn(&str) -> Rule, out: &mut Vec<Refusal>) {
    for (key, value) in table {
        let name = key.get_ref().as_ref();
        let full = if path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        match rule(name) {
            Rule::Ignore | Rule::Read(None) => {}
            Rule::Read(Some(inner)) => match value.get_ref() {
                DeValue::Table(t) => walk(t, &full, inner, out),
                DeValue::Array(items) => {
                    for item in items {
                        if let DeValue::Table(t) = item.get_ref() {
                            walk(t, &full, inner, out);
                        }
                    }
                }
                _ => {}
            },
            // An empty list or table asks for nothing: accepted.
            Rule::Refuse(_) if is_empty(value.get_ref()) => {}
            Rule::Refuse(why) => out.push(Refusal {
                offset: key.span().start,
                message: format!(
                    "`{full}` is not supported yet ({why}); remove it to run the app on \
                     wasmhub, or run it on Spin"
                ),
            }),
        }
    }
}

fn is_empty(v: &DeValue<'_>) -> bool {
    match v {
        DeValue::Array(a) => a.is_empty(),
        DeValue::Table(t) => t.is_empty(),
        _ => false,
    }
}
