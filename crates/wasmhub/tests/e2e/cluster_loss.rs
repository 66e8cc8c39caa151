
#[test]
fn a_killed_host_leaves_cluster_status_within_seconds() {
    let cluster = nats();
    let url = cluster.url();
    let hub = Hub::new();
    let (mut hosts, _proxy) = fleet(&hub, &url);
    wait_status(&hub, &url, Duration::from_secs(30), "3 hosts", |hs| hs.len() == 3);
    let _ = hosts[2].child.kill();
    let _ = hosts[2].child.wait();
    let killed = Instant::now();
    // Reports live 5 s; the bound is generous for a loaded machine.
    wait_status(&hub, &url, Duration::from_secs(30), "h2 leaves", |hs| {
        hs.len() == 2 && hs.iter().all(|h| h["id"] != "h2")
    });
    eprintln!("a killed host left cluster status after {:?}", killed.elapsed());
    hosts.remove(2);
}
