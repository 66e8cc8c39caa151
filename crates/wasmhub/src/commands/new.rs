//! `wasmhub new` and `wasmhub add`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, ValueEnum};
use wasmhub_dev::{Kind, Lang, Template};

/// A template's language.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum LangFlag {
    /// Rust (cargo, wasm32-wasip2).
    Rust,
    /// JavaScript (componentize-js from npm).
    Js,
    /// Python (componentize-py from PyPI).
    Python,
}

/// What the component does.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum KindFlag {
    /// A wasi:http handler, served on a route.
    Http,
    /// A library exporting a small WIT interface, invoked or linked to.
    Lib,
}

/// The flags `new` and `add` share.
#[derive(Args)]
struct TemplateFlags {
    /// The component's name: lowercase words joined by `-`.
    name: String,
    /// Its language.
    #[arg(long)]
    lang: LangFlag,
    /// What it does.
    #[arg(long, default_value = "http")]
    kind: KindFlag,
    /// Write over an existing directory (and, for `add`, replace the component's tables).
    #[arg(long)]
    force: bool,
}

impl TemplateFlags {
    fn template(&self) -> Template<'_> {
        Template {
            name: &self.name,
            lang: match self.lang {
                LangFlag::Rust => Lang::Rust,
                LangFlag::Js => Lang::Js,
                LangFlag::Python => Lang::Python,
            },
            kind: match self.kind {
                KindFlag::Http => Kind::Http,
                KindFlag::Lib => Kind::Lib,
            },
        }
    }
}

/// Create an app in directory NAME with one component from a template (embedded: no network).
///
/// The component goes in NAME/NAME/ with the WIT it needs; NAME/wasmhub.toml names its
/// source, its build (`wasmhub build` installs the tools on first use, in the app's
/// directory) and its grants. Nothing is overwritten without --force.
#[derive(Parser)]
pub struct NewCommand {
    #[command(flatten)]
    template: TemplateFlags,
}

impl NewCommand {
    /// Writes the app and says what to run next.
    pub fn execute(self) -> Result<i32> {
        let t = self.template.template();
        let dir = PathBuf::from(t.name);
        let manifest = wasmhub_dev::new_app(&dir, t, self.template.force)
            .with_context(|| format!("cannot create app \"{}\"", t.name))?;
        println!("created app \"{}\" in {}/", t.name, dir.display());
        println!(
            "next: cd {} && wasmhub build && wasmhub dev   (or wasmhub serve {})",
            dir.display(),
            manifest
                .file_name()
                .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
        );
        Ok(0)
    }
}

/// Add a component from a template to an existing app, keeping the manifest's comments.
#[derive(Parser)]
pub struct AddCommand {
    #[command(flatten)]
    template: TemplateFlags,
    /// The app's manifest.
    #[arg(long, default_value = "wasmhub.toml")]
    manifest: PathBuf,
}

impl AddCommand {
    /// Writes the component's directory and appends its tables to the manifest.
    pub fn execute(self) -> Result<i32> {
        let t = self.template.template();
        wasmhub_dev::add_component(&self.manifest, t, self.template.force).with_context(|| {
            format!(
                "cannot add component \"{}\" to {}",
                t.name,
                self.manifest.display()
            )
        })?;
        println!(
            "added component \"{}\" to {}; build it with `wasmhub build {}`",
            t.name,
            self.manifest.display(),
            t.name
        );
        Ok(0)
    }
}
