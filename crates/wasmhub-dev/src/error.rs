//! What can stop a build; every message names the component and the fix.

use std::path::PathBuf;

/// A build that could not run or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A component named on the command line is not in the manifest.
    #[error("the app has no component \"{name}\"; build one of {known}")]
    UnknownComponent {
        /// The name asked for.
        name: String,
        /// The app's components, quoted.
        known: String,
    },
    /// A component named on the command line has no build section.
    #[error(
        "component \"{name}\" has no [component.{name}.build]; add one with command = \"...\" \
         (the shell command that writes its source), or build it yourself"
    )]
    NoBuild {
        /// The component.
        name: String,
    },
    /// The shell could not be started.
    #[error("component \"{name}\": cannot start `{command}` in {}", dir.display())]
    Spawn {
        /// The component.
        name: String,
        /// The command.
        command: String,
        /// Where it was to run.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The command ran and failed.
    #[error(
        "component \"{name}\": {step} command `{command}` failed ({status}); fix the error \
         printed above and build again"
    )]
    Failed {
        /// The component.
        name: String,
        /// `build` or `setup`.
        step: &'static str,
        /// The command.
        command: String,
        /// How it ended (`exit status: 1`).
        status: String,
    },
    /// A newer change asked for another build before this one finished.
    #[error("component \"{name}\": build cancelled by a newer change")]
    Cancelled {
        /// The component.
        name: String,
    },
    /// The build succeeded without writing the component's source.
    #[error(
        "component \"{name}\": the build command succeeded but did not write {}; make it \
         write that file or fix `source`",
        source_path.display()
    )]
    NoOutput {
        /// The component.
        name: String,
        /// The source file it should have written.
        source_path: PathBuf,
    },
    /// The setup step's stamp could not be read or written.
    #[error("component \"{name}\": cannot use the setup stamp {}", path.display())]
    Stamp {
        /// The component.
        name: String,
        /// The stamp file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A template that could not be generated, or a manifest it could not be added to.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The name cannot name a component, crate and WIT package at once.
    #[error(
        "invalid component name `{name}`: use lowercase words of letters and digits joined by \
         `-`, each starting with a letter (like `cart` or `price-v2`)"
    )]
    BadName {
        /// The name given.
        name: String,
    },
    /// The file or directory is there already.
    #[error("{} already exists; pass --force to write the template over it", path.display())]
    Exists {
        /// What exists.
        path: PathBuf,
    },
    /// The manifest has the component already.
    #[error(
        "{} already has [component.{name}]; pick another name, or pass --force to replace it",
        path.display()
    )]
    InManifest {
        /// The component.
        name: String,
        /// The manifest.
        path: PathBuf,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The manifest could not be read.
    #[error("cannot read manifest {}", path.display())]
    Read {
        /// The manifest.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is not valid TOML.
    #[error("{} is not valid TOML; fix it before adding a component", path.display())]
    Toml {
        /// The manifest.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: Box<toml_edit::TomlError>,
    },
}
