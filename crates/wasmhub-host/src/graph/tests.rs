//! A session's 0.2 link target recovers from a call its caller cancelled.

use std::time::Duration;

use wasmhub_app::App;
use wasmhub_core::{EngineKind, Metering, new_engine};
use wasmtime::component::{ComponentExportIndex, Val};

use super::{Graph, LinkCtx};
use crate::Lane;

/// `cart` linked to `pricing-spin` (whose `describe` spins), with a long deadline.
fn spinning_graph(dir: &std::path::Path) -> (std::sync::Arc<Graph>, usize) {
    let path = dir.join("wasmhub.toml");
    let guest = |p: &str| format!("{:?}", test_programs_artifacts::guest(p));
    std::fs::write(
        &path,
        format!(
            "[app]\nname = \"spin\"\n\n[component.cart]\nsource = {}\n\n\
             [component.cart.link]\n\"acme:pricing/calc\" = \"pricing\"\n\n\
             [component.pricing]\nsource = {}\n\n[component.pricing.budget]\ndeadline = \"60s\"\n\n\
             [component.pricing.grant]\nfiles = [{{ host = {:?}, guest = \"/data\", mode = \"rw\" }}]\n",
            guest(test_programs_artifacts::CART),
            guest(test_programs_artifacts::PRICING_SPIN),
            dir.display().to_string(),
        ),
    )
    .unwrap();
    let app = App::from_manifest(&path).unwrap();
    let engine = new_engine(EngineKind::OneShot(Metering::for_budgets(
        app.components.iter().map(|c| &c.budget),
    )))
    .unwrap();
    let cart = app
        .components
        .iter()
        .position(|c| c.name == "cart")
        .unwrap();
    let pricing = app
        .components
        .iter()
        .position(|c| c.name == "pricing")
        .unwrap();
    let graph = Graph::build(
        &engine,
        &app,
        &[cart],
        &mut |c| crate::load_checked(&engine, None, c, &c.budget),
        &|c| c.budget,
    )
    .unwrap();
    (graph, pricing)
}

fn export(graph: &Graph, target: usize, name: &str) -> ComponentExportIndex {
    let component = graph.component(target).unwrap();
    let iface = component
        .get_export_index(None, "acme:pricing/calc@0.1.0")
        .unwrap();
    component.get_export_index(Some(&iface), name).unwrap()
}

#[tokio::test]
async fn a_cancelled_link_call_does_not_hang_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let (graph, pricing) = spinning_graph(dir.path());
    let ctx = LinkCtx::root(&graph, Lane::alone());
    let session = ctx.session().unwrap();
    let mut results = [Val::Bool(false)];
    // `describe` spins (yielding at each tick) until its caller gives up on it.
    let describe = export(&graph, pricing, "describe");
    let spun = tokio::time::timeout(
        Duration::from_millis(300),
        session.call(
            pricing,
            1,
            describe,
            &[Val::String("x".into())],
            &mut results,
        ),
    )
    .await;
    assert!(spun.is_err(), "describe never returns: {spun:?}");
    let price = export(&graph, pricing, "price");
    let priced = tokio::time::timeout(
        Duration::from_secs(60),
        session.call(
            pricing,
            2,
            price,
            &[Val::String("fig".into())],
            &mut results,
        ),
    )
    .await
    .expect("the call after a cancelled one does not hang");
    priced.unwrap();
    assert_eq!(results[0], Val::Option(Some(Box::new(Val::U64(3)))));
}
