//! The six component templates (Rust, JavaScript, Python; HTTP handler or library),
//! embedded in the binary: generating one needs no git and no network.

use std::path::{Path, PathBuf};

use crate::TemplateError;

/// A template's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Rust, built with cargo for wasm32-wasip2.
    Rust,
    /// JavaScript, built with componentize-js (from npm).
    Js,
    /// Python, built with componentize-py (from PyPI).
    Python,
}

/// What a template's component does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A wasi:http handler, served on a route.
    Http,
    /// A library exporting a small interface, invoked or linked to.
    Lib,
}

/// One file of a template: its path in the component's directory and its text.
struct File(&'static str, &'static str);

macro_rules! file {
    ($dir:literal, $path:literal) => {
        File(
            $path,
            include_str!(concat!("../templates/", $dir, "/", $path)),
        )
    };
}

const RUST_HTTP: &[File] = &[
    file!("rust-http", "Cargo.toml"),
    file!("rust-http", "src/lib.rs"),
];
const RUST_LIB: &[File] = &[
    file!("rust-lib", "Cargo.toml"),
    file!("rust-lib", "src/lib.rs"),
    file!("rust-lib", "wit/world.wit"),
];
const JS_HTTP: &[File] = &[
    file!("js-http", "package.json"),
    file!("js-http", "app.js"),
    file!("js-http", "wit/world.wit"),
];
const JS_LIB: &[File] = &[
    file!("js-lib", "package.json"),
    file!("js-lib", "app.js"),
    file!("js-lib", "wit/world.wit"),
];
const PYTHON_HTTP: &[File] = &[
    file!("python-http", "requirements.txt"),
    file!("python-http", "app.py"),
    file!("python-http", "wit/world.wit"),
];
const PYTHON_LIB: &[File] = &[
    file!("python-lib", "requirements.txt"),
    file!("python-lib", "app.py"),
    file!("python-lib", "wit/world.wit"),
];

/// The WASI 0.2.12 packages a JavaScript or Python HTTP handler's world uses.
const WASI: &[File] = &[
    file!("wasi", "cli.wit"),
    file!("wasi", "clocks.wit"),
    file!("wasi", "filesystem.wit"),
    file!("wasi", "http.wit"),
    file!("wasi", "io.wit"),
    file!("wasi", "random.wit"),
    file!("wasi", "sockets.wit"),
];

/// A component to generate: its name, language and kind.
#[derive(Debug, Clone, Copy)]
pub struct Template<'a> {
    /// The component's name (also its directory, crate, WIT package and world).
    pub name: &'a str,
    /// Its language.
    pub lang: Lang,
    /// What it does.
    pub kind: Kind,
}

impl Template<'_> {
    /// Checks that the name works as a component, crate, WIT package and world name.
    pub fn check_name(&self) -> Result<(), TemplateError> {
        let word = |w: &str| {
            w.starts_with(|c: char| c.is_ascii_lowercase())
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        };
        if self.name.split('-').all(word) {
            Ok(())
        } else {
            Err(TemplateError::BadName {
                name: self.name.to_owned(),
            })
        }
    }

    fn files(&self) -> &'static [File] {
        match (self.lang, self.kind) {
            (Lang::Rust, Kind::Http) => RUST_HTTP,
            (Lang::Rust, Kind::Lib) => RUST_LIB,
            (Lang::Js, Kind::Http) => JS_HTTP,
            (Lang::Js, Kind::Lib) => JS_LIB,
            (Lang::Python, Kind::Http) => PYTHON_HTTP,
            (Lang::Python, Kind::Lib) => PYTHON_LIB,
        }
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{{name_snake}}", &self.name.replace('-', "_"))
            .replace("{{name}}", self.name)
    }

    /// Writes the component's files into `dir`, which must not exist unless `force`
    /// (then the template's files are written over, other files are left alone).
    pub fn write(&self, dir: &Path, force: bool) -> Result<Vec<PathBuf>, TemplateError> {
        self.check_name()?;
        if dir.exists() && !force {
            return Err(TemplateError::Exists {
                path: dir.to_owned(),
            });
        }
        let mut written = Vec::new();
        let mut put = |rel: &str, text: String| -> Result<(), TemplateError> {
            let path = dir.join(rel);
            let parent = path.parent().expect("a file has a directory");
            std::fs::create_dir_all(parent)
                .and_then(|()| std::fs::write(&path, text))
                .map_err(|source| TemplateError::Write {
                    path: path.clone(),
                    source,
                })?;
            written.push(path);
            Ok(())
        };
        for File(rel, text) in self.files() {
            put(rel, self.fill(text))?;
        }
        if self.kind == Kind::Http && self.lang != Lang::Rust {
            for File(rel, text) in WASI {
                let package = rel.trim_end_matches(".wit");
                put(
                    &format!("wit/deps/{package}/package.wit"),
                    (*text).to_owned(),
                )?;
            }
        }
        Ok(written)
    }

    /// The `[component.NAME]` tables for the manifest, with its build and grants, each
    /// commented; `route` for an HTTP handler.
    pub fn manifest_section(&self, route: &str) -> String {
        let name = self.name;
        let (what, source, build) = match self.lang {
            Lang::Rust => (
                "Rust",
                format!(
                    "{name}/target/wasm32-wasip2/release/{}.wasm",
                    name.replace('-', "_")
                ),
                "command = \"cargo build --target wasm32-wasip2 --release\"\n\
                     watch = [\"src/**/*.rs\", \"Cargo.toml\", \"wit/*.wit\"]\n\
                     # Installs Rust's wasm32-wasip2 target (rustup), once.\n\
                     setup = { command = \"rustup target add wasm32-wasip2\" }\n"
                    .to_owned(),
            ),
            Lang::Js => (
                "JavaScript",
                format!("{name}/{name}.wasm"),
                format!(
                    "command = \"node_modules/.bin/componentize-js app.js --wit wit --world-name {name} \
                     --disable stdio random clocks http fetch-event --out {name}.wasm\"\n\
                     watch = [\"*.js\", \"wit/*.wit\"]\n\
                     # Installs componentize-js (pinned in package.json) into node_modules/ here;\n\
                     # reruns when package.json or the lockfile changes.\n\
                     setup = {{ command = \"npm install --no-audit --no-fund\", inputs = [\"package.json\", \"package-lock.json\"] }}\n"
                ),
            ),
            Lang::Python => (
                "Python",
                format!("{name}/{name}.wasm"),
                format!(
                    "command = \"\\\"$WASMHUB_APP_DIR/.wasmhub/venv/bin/componentize-py\\\" -d wit -w {name} \
                     componentize{} app -o {name}.wasm\"\n\
                     watch = [\"*.py\", \"wit/*.wit\"]\n\
                     # Installs componentize-py (pinned in requirements.txt) into the app's\n\
                     # .wasmhub/venv; reruns when requirements.txt changes.\n\
                     setup = {{ command = \"python3 -m venv \\\"$WASMHUB_APP_DIR/.wasmhub/venv\\\" && \
                     \\\"$WASMHUB_APP_DIR/.wasmhub/venv/bin/pip\\\" install --quiet -r requirements.txt\", \
                     inputs = [\"requirements.txt\"] }}\n",
                    if self.kind == Kind::Lib {
                        " --stub-wasi"
                    } else {
                        ""
                    }
                ),
            ),
        };
        let mut out = match self.kind {
            Kind::Http => format!(
                "# {name}: a wasi:http handler in {what}.\n[component.{name}]\nsource = \"{source}\"\nroute = \"{route}\"\n"
            ),
            Kind::Lib => format!(
                "# {name}: a library in {what}, exporting local:{name}/api; link to it with\n\
                 # \"local:{name}/api\" = \"{name}\" under [component.OTHER.link].\n\
                 [component.{name}]\nsource = \"{source}\"\n"
            ),
        };
        out.push_str(&format!(
            "\n# `wasmhub build` runs this in {name}/; `wasmhub dev` reruns it when a watched file changes.\n\
             [component.{name}.build]\nworkdir = \"{name}\"\n{build}"
        ));
        out.push_str(&format!("\n[component.{name}.grant]\n{}", self.grants()));
        out
    }

    /// The grant table's body: what this template's component needs, and why.
    fn grants(&self) -> &'static str {
        match (self.lang, self.kind) {
            (Lang::Python, Kind::Http) => {
                "# Nothing beyond stdio: the handler only answers requests. CPython's runtime\n\
                 # imports wasi:filesystem and wasi:sockets whatever the code does; they are not\n\
                 # granted, so such calls are denied. Grant files = [...] or outbound = [...] here\n\
                 # when the code needs them.\n\
                 stdio = true   # print() reaches wasmhub's output\n"
            }
            (Lang::Js, _) => {
                "# Nothing: the component is built with the engine's own WASI uses disabled, so it\n\
                 # imports only what its world does. Add outbound = [\"https://...\"] to call out.\n"
            }
            (_, Kind::Http) => {
                "# Nothing beyond stdio: the handler only answers requests. Add\n\
                 # outbound = [\"https://...\"] or files = [...] here when it needs them.\n\
                 stdio = true   # println!/print() reach wasmhub's output\n"
            }
            (Lang::Python, Kind::Lib) => {
                "# Nothing: built with --stub-wasi, it imports no WASI at all (a pure function\n\
                 # of its arguments).\n"
            }
            (_, Kind::Lib) => {
                "# Nothing beyond stdio: a pure function of its arguments.\n\
                 stdio = true   # println!/print() reach the caller's output\n"
            }
        }
    }
}
