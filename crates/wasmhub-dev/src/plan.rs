//! Which components to build, in which order: providers before the components linking to them.

use std::collections::BTreeSet;
use std::path::PathBuf;

use wasmhub_manifest::{ComponentName, Manifest};

use crate::BuildError;

/// One component's build, with paths resolved against the manifest.
#[derive(Debug, Clone)]
pub struct Target {
    /// The component.
    pub name: String,
    /// The app's directory (the manifest's).
    pub app_dir: PathBuf,
    /// Where the commands run.
    pub workdir: PathBuf,
    /// The build command.
    pub command: String,
    /// The setup command and its inputs (relative to `workdir`), if any.
    pub setup: Option<(String, Vec<String>)>,
    /// Globs, relative to `workdir`, whose change calls for a rebuild.
    pub watch: Vec<String>,
    /// The `.wasm` the build writes (the component's source).
    pub output: PathBuf,
}

/// The builds of `selected` (all components with a build section if empty), providers first.
///
/// A component named in `selected` must exist and have a build section; when building all,
/// components without one are left out.
pub fn plan(manifest: &Manifest, selected: &[String]) -> Result<Vec<Target>, BuildError> {
    let mut wanted = BTreeSet::new();
    for name in selected {
        let Some((key, c)) = manifest.component.iter().find(|(k, _)| k.as_str() == name) else {
            let known: Vec<String> = manifest
                .component
                .keys()
                .map(|k| format!("\"{k}\""))
                .collect();
            return Err(BuildError::UnknownComponent {
                name: name.clone(),
                known: known.join(", "),
            });
        };
        if c.build.is_none() {
            return Err(BuildError::NoBuild { name: name.clone() });
        }
        wanted.insert(key.clone());
    }
    if selected.is_empty() {
        wanted = manifest
            .component
            .iter()
            .filter(|(_, c)| c.build.is_some())
            .map(|(k, _)| k.clone())
            .collect();
    }
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    for (name, _) in manifest.in_file_order() {
        visit(manifest, name, &mut seen, &mut order);
    }
    Ok(order
        .into_iter()
        .filter(|n| wanted.contains(n))
        .map(|n| target(manifest, &n))
        .collect())
}

/// Depth first: a component's link targets go into `order` before it (a cycle is cut where
/// it closes; `check` reports it).
fn visit(
    manifest: &Manifest,
    name: &ComponentName,
    seen: &mut BTreeSet<ComponentName>,
    order: &mut Vec<ComponentName>,
) {
    if !seen.insert(name.clone()) {
        return;
    }
    if let Some(c) = manifest.component.get(name) {
        for provider in c.link.values() {
            visit(manifest, provider.get_ref(), seen, order);
        }
    }
    order.push(name.clone());
}

fn target(manifest: &Manifest, name: &ComponentName) -> Target {
    let c = &manifest.component[name];
    let build = c.build.as_ref().expect("planned components have a build");
    // Absolute: commands run in the workdir and find the app's tools by WASMHUB_APP_DIR.
    let app_dir =
        std::path::absolute(&manifest.base_dir).unwrap_or_else(|_| manifest.base_dir.clone());
    let workdir = build
        .workdir
        .as_ref()
        .map_or_else(|| app_dir.clone(), |w| app_dir.join(w.get_ref()));
    Target {
        name: name.to_string(),
        workdir,
        command: build.command.get_ref().to_string(),
        setup: build.setup.as_ref().map(|s| {
            (
                s.command.get_ref().to_string(),
                s.inputs.iter().map(|i| i.get_ref().clone()).collect(),
            )
        }),
        watch: build
            .watch
            .iter()
            .map(|g| g.get_ref().to_string())
            .collect(),
        output: app_dir.join(c.source.get_ref()),
        app_dir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> (tempfile::TempDir, Manifest) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wasmhub.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::write(dir.path().join("prebuilt.wasm"), b"\0asm").unwrap();
        let m = wasmhub_manifest::load_with(&path, wasmhub_manifest::Sources::MayBeBuilt).unwrap();
        (dir, m)
    }

    const APP: &str = r#"
[app]
name = "shop"

[component.front]
source = "front.wasm"
build = { command = "make front" }
[component.front.link]
"acme:cart/api" = "cart"
"acme:pricing/calc" = "pricing"

[component.cart]
source = "cart.wasm"
build = { command = "make cart" }
[component.cart.link]
"acme:pricing/calc" = "pricing"

[component.pricing]
source = "pricing.wasm"
build = { command = "make pricing" }

[component.prebuilt]
source = "prebuilt.wasm"
"#;

    fn names(targets: &[Target]) -> Vec<&str> {
        targets.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn providers_come_first() {
        let (_dir, m) = manifest(APP);
        assert_eq!(names(&plan(&m, &[]).unwrap()), ["pricing", "cart", "front"]);
        let some = plan(&m, &["front".into(), "pricing".into()]).unwrap();
        assert_eq!(names(&some), ["pricing", "front"]);
    }

    #[test]
    fn selection_is_checked() {
        let (_dir, m) = manifest(APP);
        let e = plan(&m, &["nope".into()]).unwrap_err().to_string();
        assert!(
            e.starts_with("the app has no component \"nope\"; build one of"),
            "{e}"
        );
        let e = plan(&m, &["prebuilt".into()]).unwrap_err().to_string();
        assert!(e.contains("has no [component.prebuilt.build]"), "{e}");
    }
}
