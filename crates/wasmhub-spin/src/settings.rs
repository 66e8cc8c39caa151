//! wasmhub-only settings for a Spin app: a small `wasmhub.toml` that names the `spin.toml`
//! (`[app] spin = "spin.toml"`) and adds what a `spin.toml` cannot carry: budgets
//! (`[component.NAME.budget]`), `strict`, and store limits (`[keyvalue.LABEL]`), applied to
//! the Spin app's components and stores by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use wasmhub_app::{App, Budget, Granted, Origin, StoreLabel, StoreLimits, Texts};
use wasmhub_manifest::{BudgetSection, ManifestError, StoreSection};

use crate::Locator;

/// The `wasmhub.toml` beside a `spin.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    app: AppSettings,
    #[serde(default)]
    component: BTreeMap<Spanned<String>, ComponentSettings>,
    #[serde(default)]
    keyvalue: BTreeMap<Spanned<StoreLabel>, StoreSection>,
}

/// `[app]`: the Spin manifest, and `strict` for all its components.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AppSettings {
    spin: Spanned<String>,
    #[serde(default)]
    strict: Option<Spanned<bool>>,
}

/// `[component.NAME]`: only wasmhub's own keys; the rest is the `spin.toml`'s.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentSettings {
    #[serde(default)]
    budget: BudgetSection,
    #[serde(default)]
    strict: Option<Spanned<bool>>,
}

/// Whether `path` is a `wasmhub.toml` whose `[app]` names a Spin manifest (`spin = ...`).
pub fn names_spin_manifest(path: &Path) -> bool {
    names_spin_manifest_in(&mut Texts::from_disk(), path)
}

/// [`names_spin_manifest`], its text from `texts`.
pub fn names_spin_manifest_in(texts: &mut Texts, path: &Path) -> bool {
    let Ok(text) = texts.read(path) else {
        return false;
    };
    let Ok(doc) = text.parse::<toml::Table>() else {
        return false;
    };
    doc.get("app")
        .and_then(|a| a.as_table())
        .is_some_and(|a| a.contains_key("spin"))
}

/// Reads the `wasmhub.toml` at `path`, loads the `spin.toml` it names (relative to it),
/// and applies its settings to that app's components by name.
pub fn load_with_settings(path: &Path) -> Result<App, ManifestError> {
    load_with_settings_in(&mut Texts::from_disk(), path)
}

/// [`load_with_settings`], its texts (this file's and the spin.toml's) from `texts`.
pub fn load_with_settings_in(texts: &mut Texts, path: &Path) -> Result<App, ManifestError> {
    let text = texts.read(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    let at = Locator { path, text: &text };
    let s: Settings = toml::from_str(&text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let message = e.message().trim_end();
        if message.ends_with("expected `budget` or `strict`") {
            // A key of the spin.toml's own, written here.
            return at.invalid(
                offset,
                &format!(
                    "{message}: a component's source, route and grants come from the spin.toml \
                     [app] spin names; give them there"
                ),
            );
        }
        at.invalid(offset, message)
    })?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let spin_path: PathBuf = base.join(s.app.spin.get_ref());
    if !(texts.is_given() || spin_path.is_file()) {
        return Err(at.invalid(
            s.app.spin.span().start,
            &format!(
                "[app] spin names {}, which does not exist; give the path of the app's \
                 spin.toml, relative to this file",
                spin_path.display()
            ),
        ));
    }
    let mut app = crate::load_in(texts, &spin_path)?;
    apply(&s, &mut app, &at, &spin_path)?;
    Ok(app)
}

/// Applies `s` to `app` (loaded from `spin_path`).
fn apply(
    s: &Settings,
    app: &mut App,
    at: &Locator<'_>,
    spin_path: &Path,
) -> Result<(), ManifestError> {
    for (name, c) in &s.component {
        let Some(component) = app
            .components
            .iter_mut()
            .find(|x| x.name == *name.get_ref())
        else {
            let names: Vec<String> = app
                .components
                .iter()
                .map(|c| format!("\"{}\"", c.name))
                .collect();
            return Err(at.invalid(
                name.span().start,
                &format!(
                    "[component.{n}] sets wasmhub settings for component \"{n}\", which {} does \
                     not have; name one of its components ({})",
                    spin_path.display(),
                    names.join(", "),
                    n = name.get_ref(),
                ),
            ));
        };
        component.budget = Budget::from_section(&c.budget);
        if let Some(p) = &c.budget.profile {
            let budget = component.budget;
            budget.restrict(&mut component.grants, &at.location(p.span().start));
        }
    }
    for c in &mut app.components {
        let own = s
            .component
            .iter()
            .find(|(n, _)| *n.get_ref() == c.name)
            .and_then(|(_, x)| x.strict.as_ref());
        if let Some(strict) = own.or(s.app.strict.as_ref()) {
            c.grants.strict = strict_grant(strict, at);
        }
    }
    for (label, limits) in &s.keyvalue {
        let granted = app
            .components
            .iter_mut()
            .flat_map(|c| c.grants.keyvalue.iter_mut())
            .filter(|g| g.value.label == *label.get_ref())
            .map(|g| g.value.limits = StoreLimits::from_section(limits))
            .count();
        if granted == 0 {
            return Err(at.invalid(
                label.span().start,
                &format!(
                    "[keyvalue.{l}] sets the limits of store \"{l}\", which no component of {} \
                     is granted; list it in a component's key_value_stores there, or fix the label",
                    spin_path.display(),
                    l = label.get_ref(),
                ),
            ));
        }
    }
    Ok(())
}

fn strict_grant(strict: &Spanned<bool>, at: &Locator<'_>) -> Granted<bool> {
    Granted::new(
        *strict.get_ref(),
        Origin::Manifest(at.location(strict.span().start)),
    )
}
