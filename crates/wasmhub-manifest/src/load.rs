//! Reading and validating a manifest file.

use std::collections::HashMap;
use std::path::Path;

use crate::error::line_of;
use crate::{ComponentName, Manifest, ManifestError, Route};

/// Whether a component's `source` file must already exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sources {
    /// Every local source must exist (to run or check the app).
    MustExist,
    /// A source with a `[component.NAME.build]` may be missing: the build writes it.
    MayBeBuilt,
}

/// Reads `path`, checks every key and value, and checks that named files exist.
pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
    load_with(path, Sources::MustExist)
}

/// Reads `path` and checks it as [`load`] does, with `sources` deciding about missing sources.
pub fn load_with(path: &Path, sources: Sources) -> Result<Manifest, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_with(&text, path, sources)
}

/// Checks `text`, the manifest read from `path`, as [`load`] does.
pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
    parse_with(text, path, Sources::MustExist)
}

/// Checks `text`, the manifest read from `path`, as [`load_with`] does.
pub fn parse_with(text: &str, path: &Path, sources: Sources) -> Result<Manifest, ManifestError> {
    let text = text.to_owned();
    let invalid = |offset: usize, message: String| ManifestError::Invalid {
        path: path.to_owned(),
        line: line_of(&text, offset),
        message,
    };
    let mut manifest: Manifest = toml::from_str(&text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        invalid(offset, e.message().trim_end().to_owned())
    })?;
    manifest.base_dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    manifest.path = path.to_owned();

    if manifest.component.is_empty() {
        return Err(invalid(
            text.len(),
            "the app has no components: add a [component.NAME] table with source = \"path/to.wasm\""
                .into(),
        ));
    }
    let mut routes: HashMap<&Route, &ComponentName> = HashMap::new();
    for (name, c) in manifest.in_file_order() {
        let source = c.source.get_ref();
        let will_be_built = sources == Sources::MayBeBuilt && c.build.is_some();
        if source.starts_with("oci://") {
            // A registry reference: checked and pulled when the app is resolved.
        } else if source.contains("://") {
            return Err(invalid(
                c.source.span().start,
                format!(
                    "component \"{name}\": source \"{source}\" is neither a file path nor an oci:// reference; give the path of a .wasm file (relative to the manifest) or oci://REGISTRY/REPOSITORY:TAG"
                ),
            ));
        } else if !(manifest.base_dir.join(source).is_file() || will_be_built) {
            let file = manifest.base_dir.join(source);
            let fix = if c.build.is_some() {
                format!("run `wasmhub build {name}` to build it")
            } else {
                "build it".to_owned()
            };
            return Err(invalid(
                c.source.span().start,
                format!(
                    "component \"{name}\": source file {} does not exist; {fix} or fix the path (relative to the manifest)",
                    file.display()
                ),
            ));
        }
        if let Some(build) = &c.build {
            check_build(&manifest, name, build).map_err(|(at, m)| invalid(at, m))?;
        }
        if let Some(route) = &c.route
            && let Some(other) = routes.insert(route.get_ref(), name)
        {
            {
                return Err(invalid(
                    route.span().start,
                    format!(
                        "component \"{name}\": route \"{}\" is already claimed by component \"{other}\"; give each component its own route",
                        route.get_ref()
                    ),
                ));
            }
        }
        for (import, target) in &c.link {
            if !manifest.component.contains_key(target.get_ref()) {
                let names: Vec<String> = manifest
                    .component
                    .keys()
                    .map(|n| format!("\"{n}\""))
                    .collect();
                return Err(invalid(
                    target.span().start,
                    format!(
                        "component \"{name}\": link \"{}\" names component \"{}\", which this app does not have; link to one of {}",
                        import.get_ref(),
                        target.get_ref(),
                        names.join(", ")
                    ),
                ));
            }
            if target.get_ref() == name {
                return Err(invalid(
                    target.span().start,
                    format!(
                        "component \"{name}\": link \"{}\" names the component itself; a component cannot serve its own import",
                        import.get_ref()
                    ),
                ));
            }
        }
        for f in &c.grant.files {
            let dir = manifest.base_dir.join(f.host.get_ref());
            if !dir.is_dir() {
                return Err(invalid(
                    f.host.span().start,
                    format!(
                        "component \"{name}\": granted directory {} does not exist; create it or fix `host` (relative to the manifest)",
                        dir.display()
                    ),
                ));
            }
        }
    }
    for label in manifest.keyvalue.keys() {
        let granted = manifest.component.values().any(|c| {
            c.grant
                .keyvalue
                .iter()
                .any(|l| l.get_ref() == label.get_ref())
        });
        if !granted {
            return Err(invalid(
                label.span().start,
                format!(
                    "[keyvalue.{label}] sets the limits of store \"{label}\", which no component \
                     is granted; grant it with keyvalue = [\"{label}\"] under \
                     [component.NAME.grant], or fix the label",
                    label = label.get_ref()
                ),
            ));
        }
    }
    manifest.text = text;
    Ok(manifest)
}

/// A build's workdir must be a directory; its setup's inputs stay inside it.
fn check_build(
    manifest: &Manifest,
    name: &ComponentName,
    build: &crate::BuildSection,
) -> Result<(), (usize, String)> {
    if let Some(workdir) = &build.workdir {
        let dir = manifest.base_dir.join(workdir.get_ref());
        if !dir.is_dir() {
            return Err((
                workdir.span().start,
                format!(
                    "component \"{name}\": build workdir {} does not exist; create it or fix \
                     `workdir` (relative to the manifest)",
                    dir.display()
                ),
            ));
        }
    }
    for input in build.setup.iter().flat_map(|s| &s.inputs) {
        let path = Path::new(input.get_ref());
        if input.get_ref().is_empty()
            || path.is_absolute()
            || path
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            return Err((
                input.span().start,
                format!(
                    "component \"{name}\": setup input \"{}\" is not a path inside the build's \
                     workdir; name a file relative to it, like \"package-lock.json\"",
                    input.get_ref()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wasm"), b"\0asm").unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        let path = dir.path().join("wasmhub.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn error(text: &str) -> String {
        let (dir, path) = manifest(text);
        let err = load(&path).unwrap_err().to_string();
        err.replace(&dir.path().display().to_string(), "$DIR")
    }

    #[test]
    fn a_good_manifest_loads() {
        let (_dir, path) = manifest(
            r#"
[app]
name = "shop"

[component.cart]
source = "a.wasm"
route = "/cart/..."

[component.cart.grant]
env = ["CURRENCY=EUR", "TZ"]
files = [{ host = "data", guest = "/data" }]
outbound = ["http://127.0.0.1:8081"]
sockets = { connect = ["tcp://127.0.0.1:5432"], bind = ["udp://127.0.0.1:*"] }
clocks = false
"#,
        );
        let m = load(&path).unwrap();
        let cart = &m.component[&ComponentName::try_from("cart".to_owned()).unwrap()];
        assert_eq!(
            cart.route.as_ref().unwrap().get_ref().to_string(),
            "/cart/..."
        );
        assert_eq!(cart.grant.env.len(), 2);
        assert_eq!(cart.grant.files[0].mode, crate::DirMode::ReadOnly);
        assert_eq!(cart.grant.sockets.connect.len(), 1);
        assert_eq!(cart.grant.sockets.bind.len(), 1);
        assert_eq!(
            cart.grant.clocks.as_ref().map(|c| *c.get_ref()),
            Some(false)
        );
        assert!(cart.grant.random.is_none());
    }

    #[test]
    fn errors_name_line_and_fix() {
        let head = "[app]\nname = \"shop\"\n\n[component.cart]\nsource = \"a.wasm\"\n";
        let e = error(&format!("{head}rout = \"/x\"\n"));
        assert!(
            e.starts_with("$DIR/wasmhub.toml:6: unknown field `rout`"),
            "{e}"
        );
        let e = error(&format!("{head}route = \"x\"\n"));
        assert!(
            e.starts_with("$DIR/wasmhub.toml:6: invalid route `x`"),
            "{e}"
        );
        let e = error("[app]\nname = \"shop\"\n\n[component.cart]\nsource = \"missing.wasm\"\n");
        assert!(e.starts_with("$DIR/wasmhub.toml:5: component \"cart\": source file $DIR/missing.wasm does not exist"), "{e}");
        let e = error(&format!(
            "{head}route = \"/x\"\n[component.shop]\nsource = \"a.wasm\"\nroute = \"/x\"\n"
        ));
        assert!(
            e.contains(
                ":9: component \"shop\": route \"/x\" is already claimed by component \"cart\""
            ),
            "{e}"
        );
        let e = error(&format!(
            "{head}[component.cart.grant]\nfiles = [{{ host = \"nope\", guest = \"/d\" }}]\n"
        ));
        assert!(
            e.contains(":7: component \"cart\": granted directory $DIR/nope does not exist"),
            "{e}"
        );
        let e = error(&format!(
            "{head}[component.cart.grant]\noutbound = [\"example.com\"]\n"
        ));
        assert!(e.contains(":7: invalid outbound rule `example.com`"), "{e}");
        let e = error(&format!(
            "{head}[component.cart.grant]\nsockets = {{ connect = [\"127.0.0.1:80\"] }}\n"
        ));
        assert!(e.contains(":7: invalid socket rule `127.0.0.1:80`"), "{e}");
        let e = error(&format!(
            "{head}[component.cart.grant]\nsockets = {{ listen = [] }}\n"
        ));
        assert!(
            e.contains(":7: unknown field `listen`, expected `connect` or `bind`"),
            "{e}"
        );
        let e = error(&format!("{head}[component.cart.grant]\nclocks = \"no\"\n"));
        assert!(
            e.contains(":7: invalid type: string \"no\", expected a boolean"),
            "{e}"
        );
        let e = error(&format!("{head}[component.cart.budget]\nmemory = \"64\"\n"));
        assert!(
            e.contains(":7: invalid size `64`: write a whole number and a unit"),
            "{e}"
        );
        let e = error(&format!(
            "{head}[component.cart.budget]\ndeadline = \"5 sec\"\n"
        ));
        assert!(e.contains(":7: invalid duration `5 sec`"), "{e}");
        let e = error(&format!(
            "{head}[component.cart.link]\n\"acme:pricing/calc\" = \"pricng\"\n"
        ));
        assert!(
            e.contains(":7: component \"cart\": link \"acme:pricing/calc\" names component \"pricng\", which this app does not have; link to one of \"cart\""),
            "{e}"
        );
        let e = error(&format!(
            "{head}[component.cart.link]\n\"acme:pricing/calc\" = \"cart\"\n"
        ));
        assert!(
            e.contains(
                ":7: component \"cart\": link \"acme:pricing/calc\" names the component itself"
            ),
            "{e}"
        );
        let e = error(&format!(
            "{head}[component.cart.link]\n\"pricing\" = \"cart\"\n"
        ));
        assert!(e.contains(":7: invalid link key `pricing`"), "{e}");
        let e = error(&format!(
            "{head}[component.cart.budget]\nprofile = \"lambda\"\n"
        ));
        assert!(e.contains(":7: unknown budget profile `lambda`"), "{e}");
        let e = error(&format!("{head}[component.cart.budget]\nfuel = \"lots\"\n"));
        assert!(
            e.contains(":7: invalid type: string \"lots\", expected u64"),
            "{e}"
        );
        let e = error("[app]\nname = \"shop\"\n");
        assert!(e.contains("the app has no components"), "{e}");
    }

    #[test]
    fn build_sections_name_line_and_fix() {
        let head = "[app]\nname = \"shop\"\n\n[component.cart]\nsource = \"out.wasm\"\n";
        let e = error(&format!(
            "{head}[component.cart.build]\ncommand = \"make\"\n"
        ));
        assert!(
            e.contains(":5: component \"cart\": source file $DIR/out.wasm does not exist; run `wasmhub build cart` to build it"),
            "{e}"
        );
        let (_dir, path) = manifest(&format!(
            "{head}[component.cart.build]\ncommand = \"make\"\nworkdir = \"data\"\nwatch = [\"src/**/*.rs\"]\nsetup = {{ command = \"npm ci\", inputs = [\"package-lock.json\"] }}\n"
        ));
        let m = load_with(&path, Sources::MayBeBuilt).unwrap();
        let build = m.component.values().next().unwrap().build.as_ref().unwrap();
        assert_eq!(build.command.get_ref().as_str(), "make");
        assert_eq!(build.watch[0].get_ref().as_str(), "src/**/*.rs");
        assert_eq!(build.setup.as_ref().unwrap().inputs.len(), 1);

        let built = |rest: &str| {
            let (dir, path) = manifest(&format!("{head}[component.cart.build]\n{rest}"));
            let e = load_with(&path, Sources::MayBeBuilt)
                .unwrap_err()
                .to_string();
            e.replace(&dir.path().display().to_string(), "$DIR")
        };
        let e = built("command = \"\"\n");
        assert!(e.contains(":7: empty build command"), "{e}");
        let e = built("workdir = \"x\"\n");
        assert!(e.contains(":6: missing field `command`"), "{e}");
        let e = built("command = \"make\"\nworkdir = \"nope\"\n");
        assert!(
            e.contains(":8: component \"cart\": build workdir $DIR/nope does not exist; create it or fix `workdir`"),
            "{e}"
        );
        let e = built("command = \"make\"\nwatch = [\"../*.rs\"]\n");
        assert!(
            e.contains(":8: invalid watch glob `../*.rs`: it leaves the workdir"),
            "{e}"
        );
        let e =
            built("command = \"make\"\nsetup = { command = \"x\", inputs = [\"/etc/passwd\"] }\n");
        assert!(
            e.contains(":8: component \"cart\": setup input \"/etc/passwd\" is not a path inside"),
            "{e}"
        );
        let e = built("command = \"make\"\nouput = \"x\"\n");
        assert!(
            e.contains(
                ":8: unknown field `ouput`, expected one of `command`, `workdir`, `watch`, `setup`"
            ),
            "{e}"
        );
    }
}
