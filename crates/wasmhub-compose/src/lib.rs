//! Static composition: one component made of a root and the components its imports are wired
//! to, each instantiated once inside it (the `wac-graph` crate encodes the result).

#![deny(missing_docs)]

use anyhow::{Context, Result, bail};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, NodeId, PackageId};

/// A component to compose: a name for messages and its bytes.
#[derive(Debug, Clone)]
pub struct Part {
    /// How messages name it (a manifest's component name, or a file name).
    pub name: String,
    /// The component's binary.
    pub bytes: Vec<u8>,
}

/// `parts[importer]`'s import `import` is served by `parts[target]`'s export `export`.
#[derive(Debug, Clone)]
pub struct Wire {
    /// Index of the importing part.
    pub importer: usize,
    /// The import's full name (`acme:pricing/calc@0.1.0`).
    pub import: String,
    /// Index of the part serving it.
    pub target: usize,
    /// The export's full name.
    pub export: String,
}

struct Composer {
    graph: CompositionGraph,
    names: Vec<String>,
    packages: Vec<PackageId>,
    instances: Vec<Option<NodeId>>,
}

impl Composer {
    fn new(parts: &[Part]) -> Result<Self> {
        let mut graph = CompositionGraph::new();
        let mut packages = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            // Package names only need to be unique inside the composition.
            let pkg = Package::from_bytes(
                &format!("part:p{i}"),
                None,
                p.bytes.clone(),
                graph.types_mut(),
            )
            .with_context(|| format!("{} is not a component that can be composed", p.name))?;
            packages.push(graph.register_package(pkg).map_err(anyhow::Error::from)?);
        }
        Ok(Self {
            graph,
            names: parts.iter().map(|p| p.name.clone()).collect(),
            instances: vec![None; parts.len()],
            packages,
        })
    }

    /// Import (`exports == false`) or export names of part `i`.
    fn items(&self, i: usize, exports: bool) -> Vec<String> {
        let world = &self.graph.types()[self.graph[self.packages[i]].ty()];
        let map = if exports {
            &world.exports
        } else {
            &world.imports
        };
        map.keys().cloned().collect()
    }

    /// The one instance of part `i`, with the wires from it connected (targets first).
    fn instance(&mut self, i: usize, wires: &[Wire], path: &mut Vec<usize>) -> Result<NodeId> {
        if let Some(node) = self.instances[i] {
            return Ok(node);
        }
        if path.contains(&i) {
            let mut cycle: Vec<&str> = path.iter().map(|p| self.names[*p].as_str()).collect();
            cycle.push(&self.names[i]);
            bail!("the wiring forms a cycle: {}", cycle.join(" -> "));
        }
        path.push(i);
        let node = self.graph.instantiate(self.packages[i]);
        self.graph.set_node_name(node, &self.names[i]);
        for w in wires.iter().filter(|w| w.importer == i) {
            let target = self.instance(w.target, wires, path)?;
            let alias = self
                .graph
                .alias_instance_export(target, &w.export)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("{} has no export {}", self.names[w.target], w.export))?;
            self.graph
                .set_instantiation_argument(node, &w.import, alias)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!(
                        "{}'s export {} cannot serve {}'s import {}",
                        self.names[w.target], w.export, self.names[i], w.import
                    )
                })?;
        }
        path.pop();
        self.instances[i] = Some(node);
        Ok(node)
    }

    /// Exports everything part `root` exports and encodes the composition.
    fn finish(mut self, root: usize, wires: &[Wire]) -> Result<Vec<u8>> {
        let node = self.instance(root, wires, &mut Vec::new())?;
        for name in self.items(root, true) {
            let alias = self
                .graph
                .alias_instance_export(node, &name)
                .map_err(anyhow::Error::from)?;
            self.graph
                .export(alias, &name)
                .map_err(anyhow::Error::from)?;
        }
        let bytes = self
            .graph
            .encode(EncodeOptions::default())
            .map_err(anyhow::Error::from)
            .context("the composition does not encode to a valid component")?;
        Ok(bytes)
    }
}

/// One component: `parts[root]` with its imports served as `wires` say, every part
/// instantiated once; imports nothing serves stay imports (shared ones merged).
pub fn compose(parts: &[Part], wires: &[Wire], root: usize) -> Result<Vec<u8>> {
    Composer::new(parts)?.finish(root, wires)
}

/// Like `wac plug`: each import of `parts[0]` (the socket) that a later part (a plug) exports
/// is served by it (an exact name first, then the same interface at another version). Every
/// plug must serve something.
pub fn plug(parts: &[Part]) -> Result<Vec<u8>> {
    let c = Composer::new(parts)?;
    // WASI imports are the host's to provide; a plug serves the others.
    let imports: Vec<String> = c
        .items(0, false)
        .into_iter()
        .filter(|i| !i.starts_with("wasi:"))
        .collect();
    let unversioned = |n: &str| n.split('@').next().unwrap_or(n).to_owned();
    let mut wires: Vec<Wire> = Vec::new();
    for (p, part) in parts.iter().enumerate().skip(1) {
        let exports = c.items(p, true);
        let before = wires.len();
        for import in &imports {
            if wires.iter().any(|w| &w.import == import) {
                continue;
            }
            let export = exports.iter().find(|e| *e == import).or_else(|| {
                exports
                    .iter()
                    .find(|e| unversioned(e) == unversioned(import))
            });
            if let Some(export) = export {
                wires.push(Wire {
                    importer: 0,
                    import: import.clone(),
                    target: p,
                    export: export.clone(),
                });
            }
        }
        if wires.len() == before {
            bail!(
                "plug {} serves none of {}'s imports: it exports {}; {} imports {}",
                part.name,
                parts[0].name,
                list(&exports),
                parts[0].name,
                list(&imports)
            );
        }
    }
    c.finish(0, &wires)
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "nothing".to_owned()
    } else {
        names.join(", ")
    }
}
