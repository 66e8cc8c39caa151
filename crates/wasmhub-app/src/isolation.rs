//! Tenants and isolation: which components share a worker process, checked as a whole.

use std::collections::BTreeMap;

use crate::{App, AppComponent, Isolation};

/// An app whose isolation settings cannot work, with where and the fix.
#[derive(Debug, thiserror::Error)]
pub enum IsolationError {
    /// One tenant's components ask for different isolation.
    #[error(
        "{at}component \"{name}\" is in tenant \"{tenant}\" with isolation = \"{isolation}\", \
         but component \"{other}\" of the same tenant has isolation = \"{other_isolation}\"; \
         give every component of a tenant the same isolation, or give one its own tenant"
    )]
    MixedTenant {
        /// `wasmhub.toml:12: `, or empty.
        at: String,
        /// The component.
        name: String,
        /// Its tenant.
        tenant: String,
        /// Its isolation.
        isolation: Isolation,
        /// A component of the same tenant.
        other: String,
        /// That one's isolation.
        other_isolation: Isolation,
    },
    /// A link leaves the tenant of a component that runs in worker processes.
    #[error(
        "{at}component \"{name}\" (tenant \"{tenant}\") links \"{import}\" to component \
         \"{target}\" of tenant \"{target_tenant}\": with isolation = \"process\" a link \
         stays inside one worker; give both tenant = \"{tenant}\", or isolation = \"in-process\""
    )]
    LinkLeavesTenant {
        /// `wasmhub.toml:9: `.
        at: String,
        /// The linking component.
        name: String,
        /// Its tenant.
        tenant: String,
        /// The linked import.
        import: String,
        /// The component serving it.
        target: String,
        /// That one's tenant.
        target_tenant: String,
    },
    /// A grant that worker processes cannot honour yet.
    #[error(
        "{at}component \"{name}\" is granted {feature}, which isolation = \"process\" does not \
         support yet; run it with isolation = \"in-process\" (under [component.{name}], or \
         --isolation in-process), or change the grant"
    )]
    NotYet {
        /// `wasmhub.toml:12: `, or empty.
        at: String,
        /// The component.
        name: String,
        /// What it is granted and why a worker cannot have it.
        feature: &'static str,
    },
}

/// What a process-isolated component may not be granted yet, each with how it reads.
fn not_yet(c: &AppComponent) -> Option<&'static str> {
    let g = &c.grants;
    // Sockets to and at addresses are made by the server for the worker; a host name would
    // need a name lookup, which a worker has no way to make.
    g.needs_name_lookup().then_some(
        "sockets by host name (a rule like tcp://NAME:PORT needs name lookups, which a worker \
         cannot make: grant the host's addresses instead)",
    )
}

impl App {
    /// Whether any component runs in worker processes.
    pub fn has_process_isolation(&self) -> bool {
        self.components
            .iter()
            .any(|c| c.isolation == Isolation::Process)
    }

    /// Sets every component's isolation (the `--isolation` flag).
    pub fn set_isolation(&mut self, isolation: Isolation) {
        for c in &mut self.components {
            c.isolation = isolation;
        }
    }

    /// The components of `tenant`, by index.
    pub fn tenant_members(&self, tenant: &str) -> Vec<usize> {
        (0..self.components.len())
            .filter(|&i| self.components[i].tenant == tenant)
            .collect()
    }

    /// Fails when one tenant mixes isolation, or a process-isolated component links
    /// outside its tenant or is granted what workers cannot do yet.
    pub fn check_isolation(&self) -> Result<(), Box<IsolationError>> {
        let mut first: BTreeMap<&str, &AppComponent> = BTreeMap::new();
        for c in &self.components {
            let other = *first.entry(&c.tenant).or_insert(c);
            if other.isolation != c.isolation {
                return Err(Box::new(IsolationError::MixedTenant {
                    at: at(c.origin.as_deref()),
                    name: c.name.clone(),
                    tenant: c.tenant.clone(),
                    isolation: c.isolation,
                    other: other.name.clone(),
                    other_isolation: other.isolation,
                }));
            }
        }
        for c in self
            .components
            .iter()
            .filter(|c| c.isolation == Isolation::Process)
        {
            if let Some(feature) = not_yet(c) {
                return Err(Box::new(IsolationError::NotYet {
                    at: at(c.origin.as_deref()),
                    name: c.name.clone(),
                    feature,
                }));
            }
            for link in &c.links {
                let target = self.components.iter().find(|t| t.name == link.target);
                if let Some(t) = target.filter(|t| t.tenant != c.tenant) {
                    return Err(Box::new(IsolationError::LinkLeavesTenant {
                        at: at(Some(&link.at)),
                        name: c.name.clone(),
                        tenant: c.tenant.clone(),
                        import: link.import.to_string(),
                        target: t.name.clone(),
                        target_tenant: t.tenant.clone(),
                    }));
                }
            }
        }
        Ok(())
    }
}

/// Components without a `tenant` key that are joined by links share one tenant (the
/// first one's in file order), so a link never has to cross a process by default.
pub(crate) fn share_linked_tenants(components: &mut [AppComponent], defaulted: &[bool]) {
    let index = |name: &str| components.iter().position(|c| c.name == name);
    let mut group: Vec<usize> = (0..components.len()).collect();
    fn root(group: &mut [usize], mut i: usize) -> usize {
        while group[i] != i {
            group[i] = group[group[i]];
            i = group[i];
        }
        i
    }
    for (i, c) in components.iter().enumerate() {
        for link in &c.links {
            let Some(j) = index(&link.target) else {
                continue;
            };
            if defaulted.get(i) == Some(&true) && defaulted.get(j) == Some(&true) {
                let (a, b) = (root(&mut group, i), root(&mut group, j));
                group[a.max(b)] = a.min(b);
            }
        }
    }
    for i in 0..components.len() {
        let r = root(&mut group, i);
        if r != i {
            components[i].tenant = components[r].name.clone();
        }
    }
}

fn at(origin: Option<&str>) -> String {
    origin.map_or_else(String::new, |o| format!("{o}: "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Grants, Link};

    fn app(parts: &[(&str, &str, Isolation)]) -> App {
        let site = crate::GrantSite::Manifest {
            component: "a".into(),
            at: "wasmhub.toml:1".into(),
        };
        let mut app = App::single(std::path::Path::new("a.wasm"), Grants::none(site));
        let one = app.components.remove(0);
        for (name, tenant, isolation) in parts {
            let mut c = one.clone();
            c.name = (*name).into();
            c.tenant = (*tenant).into();
            c.isolation = *isolation;
            app.components.push(c);
        }
        app
    }

    #[test]
    fn a_tenant_has_one_isolation() {
        let ok = app(&[
            ("a", "t", Isolation::Process),
            ("b", "t", Isolation::Process),
        ]);
        ok.check_isolation().unwrap();
        let mixed = app(&[
            ("a", "t", Isolation::Process),
            ("b", "t", Isolation::InProcess),
        ]);
        let err = mixed.check_isolation().unwrap_err().to_string();
        assert!(err.contains("component \"b\" is in tenant \"t\""), "{err}");
    }

    #[test]
    fn process_links_stay_in_their_tenant() {
        let mut a = app(&[
            ("a", "a", Isolation::Process),
            ("b", "b", Isolation::Process),
        ]);
        a.components[0].links.push(Link {
            import: wasmhub_manifest::InterfaceName::try_from("acme:x/y".to_owned()).unwrap(),
            target: "b".into(),
            at: "wasmhub.toml:9".into(),
        });
        let err = a.check_isolation().unwrap_err().to_string();
        assert!(err.starts_with("wasmhub.toml:9: component \"a\""), "{err}");
        assert!(err.contains("give both tenant = \"a\""), "{err}");
        a.components[1].tenant = "a".into();
        a.check_isolation().unwrap();
        a.set_isolation(Isolation::InProcess);
        a.components[1].tenant = "b".into();
        a.check_isolation().unwrap();
    }

    #[test]
    fn linked_components_without_a_tenant_share_one() {
        let mut a = app(&[
            ("a", "a", Isolation::Process),
            ("b", "b", Isolation::Process),
            ("c", "c", Isolation::Process),
            ("d", "d", Isolation::Process),
        ]);
        let link = |target: &str| Link {
            import: wasmhub_manifest::InterfaceName::try_from("acme:x/y".to_owned()).unwrap(),
            target: target.into(),
            at: "wasmhub.toml:9".into(),
        };
        a.components[1].links.push(link("c"));
        a.components[2].links.push(link("a"));
        a.components[3].links.push(link("a"));
        share_linked_tenants(&mut a.components, &[true, true, true, false]);
        let tenants: Vec<&str> = a.components.iter().map(|c| c.tenant.as_str()).collect();
        assert_eq!(tenants, ["a", "a", "a", "d"]);
        // An explicit tenant linking out is still refused by name.
        assert!(a.check_isolation().is_err());
    }

    #[test]
    fn grants_workers_cannot_honour_are_refused_by_name() {
        let mut a = app(&[("a", "a", Isolation::Process)]);
        // Outbound HTTP is sent by the server for a worker: allowed.
        a.components[0].grants.outbound.push(crate::Granted::new(
            "https://example.com".parse().unwrap(),
            crate::Origin::Flag("--outbound".into()),
        ));
        a.check_isolation().unwrap();
        // Files are opened by the worker before it locks down: allowed.
        a.components[0].grants.dirs.push(crate::Granted::new(
            crate::DirGrant {
                host: "data".into(),
                guest: "/data".into(),
                mode: crate::DirMode::ReadWrite,
            },
            crate::Origin::Flag("--dir".into()),
        ));
        a.check_isolation().unwrap();
        // The server's own stdio is handed to its worker at start: allowed.
        a.components[0].grants.inherit_stdio = true;
        a.check_isolation().unwrap();
        // Sockets at addresses are made by the server for the worker: allowed.
        a.components[0].grants.connect.push(crate::Granted::new(
            "tcp://127.0.0.1:5432".parse().unwrap(),
            crate::Origin::Flag("--connect".into()),
        ));
        a.check_isolation().unwrap();
        // A host name needs a lookup the worker cannot make: refused.
        a.components[0].grants.bind.push(crate::Granted::new(
            "udp://db.internal:53".parse().unwrap(),
            crate::Origin::Flag("--bind".into()),
        ));
        let err = a.check_isolation().unwrap_err().to_string();
        assert!(
            err.contains(
                "component \"a\" is granted sockets by host name (a rule like tcp://NAME:PORT"
            ),
            "{err}"
        );
        a.set_isolation(Isolation::InProcess);
        a.check_isolation().unwrap();
    }
}
