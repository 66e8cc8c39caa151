//! `wasmhub new` (an app with one component) and `wasmhub add` (a component into an
//! existing manifest, its comments and formatting kept).

use std::path::{Path, PathBuf};

use toml_edit::DocumentMut;

use crate::{Kind, Template, TemplateError};

/// Files a new app keeps out of version control: build outputs and tools.
const GITIGNORE: &str = "# Build outputs and the tools `wasmhub build` installs.\n\
                         target/\nnode_modules/\n.wasmhub/\n*.wasm\n";

/// Creates the app directory `dir` (named after the component) with a `wasmhub.toml` and
/// the component in `dir/NAME/`; returns the manifest's path.
pub fn new_app(dir: &Path, template: Template<'_>, force: bool) -> Result<PathBuf, TemplateError> {
    template.check_name()?;
    let manifest = dir.join("wasmhub.toml");
    if dir.exists() && !force {
        return Err(TemplateError::Exists {
            path: dir.to_owned(),
        });
    }
    template.write(&dir.join(template.name), force)?;
    let name = template.name;
    let text = format!(
        "# The app \"{name}\", made by `wasmhub new`.\n\
         #   wasmhub build   builds its components (installing their tools on first use)\n\
         #   wasmhub dev     builds, serves, and rebuilds and reloads on each edit\n\
         #   wasmhub add     adds another component\n\
         [app]\nname = \"{name}\"\n\n{}",
        template.manifest_section("/...")
    );
    write(&manifest, &text)?;
    write(&dir.join(".gitignore"), GITIGNORE)?;
    Ok(manifest)
}

/// Adds the component to the app of `manifest`: its directory beside the manifest and its
/// tables at the end of the file. Without `force`, neither may exist; with it, the old
/// tables are replaced (everything else in the file is kept as written).
pub fn add_component(
    manifest: &Path,
    template: Template<'_>,
    force: bool,
) -> Result<(), TemplateError> {
    template.check_name()?;
    let text = std::fs::read_to_string(manifest).map_err(|source| TemplateError::Read {
        path: manifest.to_owned(),
        source,
    })?;
    let mut doc: DocumentMut = text.parse().map_err(|source| TemplateError::Toml {
        path: manifest.to_owned(),
        source: Box::new(source),
    })?;
    let name = template.name;
    let present = doc.get("component").and_then(|c| c.get(name)).is_some();
    if present && !force {
        return Err(TemplateError::InManifest {
            name: name.to_owned(),
            path: manifest.to_owned(),
        });
    }
    let app_dir = manifest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    template.write(&app_dir.join(name), force)?;
    let mut kept = if present {
        if let Some(table) = doc.get_mut("component").and_then(|c| c.as_table_like_mut()) {
            table.remove(name);
        }
        doc.to_string()
    } else {
        text
    };
    if !kept.is_empty() && !kept.ends_with('\n') {
        kept.push('\n');
    }
    if !kept.is_empty() && !kept.ends_with("\n\n") {
        kept.push('\n');
    }
    let route = format!("/{name}/...");
    kept.push_str(&template.manifest_section(match template.kind {
        Kind::Http => &route,
        Kind::Lib => "",
    }));
    write(manifest, &kept)
}

fn write(path: &Path, text: &str) -> Result<(), TemplateError> {
    std::fs::write(path, text).map_err(|source| TemplateError::Write {
        path: path.to_owned(),
        source,
    })
}
