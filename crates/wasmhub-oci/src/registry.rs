//! Push and pull against a registry, through the content store.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::StreamExt;
use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{DigestError, OciDistributionError, OciErrorCode};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_wasm::WASM_MANIFEST_MEDIA_TYPE;

use crate::auth::{self, Credentials};
use crate::digest::{Digest, Hashing};
use crate::layout;
use crate::progress::Progress;
use crate::reference::Reference;
use crate::store::{MAX_CONFIG, MAX_MANIFEST, Store, Writer};

/// How to talk to registries.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Plain HTTP to a registry that is not on this machine.
    pub insecure: bool,
    /// Credentials given on the command line.
    pub credentials: Option<Credentials>,
    /// Draw progress bars (only when stderr is a terminal).
    pub progress: bool,
}

/// What a pull left in the store.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The manifest's digest.
    pub manifest: Digest,
    /// The component's digest.
    pub component: Digest,
    /// The component's path in the store.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes fetched from the registry (0 when the store already had everything).
    pub fetched: u64,
}

/// Makes ring the process's TLS provider; call once before any registry or HTTPS client.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub(crate) struct Session<'a> {
    pub(crate) client: Client,
    pub(crate) target: oci_client::Reference,
    pub(crate) auth: RegistryAuth,
    source: auth::Source,
    reference: &'a Reference,
    plain_http: bool,
}

impl<'a> Session<'a> {
    pub(crate) fn new(reference: &'a Reference, opts: &Options) -> Result<Self> {
        install_crypto();
        let plain_http = reference.is_loopback() || opts.insecure;
        let protocol = if plain_http {
            ClientProtocol::HttpsExcept(vec![reference.registry.clone()])
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            ..Default::default()
        });
        let target = match &reference.digest {
            Some(d) => oci_client::Reference::with_digest(
                reference.registry.clone(),
                reference.repository.clone(),
                d.to_string(),
            ),
            None => oci_client::Reference::with_tag(
                reference.registry.clone(),
                reference.repository.clone(),
                reference.tag.clone().unwrap_or_default(),
            ),
        };
        let (auth, source) = auth::resolve(&reference.registry, opts.credentials.as_ref())?;
        Ok(Self {
            client,
            target,
            auth,
            source,
            reference,
            plain_http,
        })
    }

    /// `e` as a message naming the reference and the fix.
    pub(crate) fn explain(&self, e: OciDistributionError) -> anyhow::Error {
        let r = self.reference;
        let unauthorized = match &e {
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => true,
            OciDistributionError::ServerError { code, .. } => *code == 401 || *code == 403,
            OciDistributionError::RequestError(err) => err
                .status()
                .is_some_and(|s| s.as_u16() == 401 || s.as_u16() == 403),
            OciDistributionError::RegistryError { envelope, .. } => envelope
                .errors
                .iter()
                .any(|x| matches!(x.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)),
            _ => false,
        };
        let unknown = matches!(&e, OciDistributionError::RegistryError { envelope, .. }
        if envelope.errors.iter().any(|x| matches!(
            x.code,
            OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::NotFound
        )));
        if unknown {
            return anyhow!(
                "{r} was not found in the registry: check the repository and tag (`wasmhub push COMPONENT {r}` publishes it)"
            );
        }
        if unauthorized {
            return if self.source == auth::Source::Anonymous {
                anyhow!(
                    "{r}: the registry requires credentials: give --username and --password-stdin, set WASMHUB_REGISTRY_USERNAME and WASMHUB_REGISTRY_PASSWORD, or log in with `docker login {}`",
                    r.registry
                )
            } else {
                anyhow!(
                    "{r}: the registry refused the credentials from {}: check the user name and password",
                    self.source
                )
            };
        }
        match e {
            OciDistributionError::ImageManifestNotFoundError(_)
            | OciDistributionError::ServerError { code: 404, .. } => anyhow!(
                "{r} was not found in the registry: check the repository and tag (`wasmhub push COMPONENT {r}` publishes it)"
            ),
            OciDistributionError::DigestError(DigestError::VerificationError {
                expected,
                actual,
            }) => self.corrupt(&expected, &actual),
            OciDistributionError::RequestError(ref err) if err.status().is_some() => {
                let status = err.status().map(|s| s.to_string()).unwrap_or_default();
                anyhow::Error::new(e)
                    .context(format!("{r}: registry {} answered {status}", r.registry))
            }
            e @ OciDistributionError::RequestError(_) => {
                let hint = if self.plain_http {
                    ""
                } else {
                    " (wasmhub speaks HTTPS to registries off this machine; plain HTTP only with --insecure)"
                };
                anyhow::Error::new(e).context(format!("cannot reach registry {}{hint}", r.registry))
            }
            other => anyhow::Error::new(other).context(format!("{r}: the registry request failed")),
        }
    }

    /// A blob that does not hash to its digest.
    fn corrupt(&self, expected: &str, actual: &str) -> anyhow::Error {
        anyhow!(
            "{}: the registry sent content for {expected} that hashes to {actual}: the blob is corrupt or was tampered with; nothing was stored",
            self.reference
        )
    }

    /// The size `desc` declares; an error for a negative one.
    fn declared(&self, desc: &OciDescriptor) -> Result<u64> {
        u64::try_from(desc.size).map_err(|_| {
            anyhow!(
                "{}: the manifest declares blob {} with a negative size ({}); the artifact is malformed, nothing was stored",
                self.reference,
                desc.digest,
                desc.size
            )
        })
    }

    /// Streams blob `desc` into `sink`, refusing more bytes than the manifest declares (the
    /// stream is cut as soon as the next chunk would pass it); returns the bytes received.
    async fn download(
        &self,
        desc: &OciDescriptor,
        sink: &mut impl Write,
        mut bar: Option<&mut Progress>,
    ) -> Result<u64> {
        let declared = self.declared(desc)?;
        let mut stream = self
            .client
            .pull_blob_stream(&self.target, desc)
            .await
            .map_err(|e| self.explain(e))?
            .stream;
        let mut received: u64 = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|io| {
                match io.get_ref().and_then(|e| e.downcast_ref::<DigestError>()) {
                    Some(DigestError::VerificationError { expected, actual }) => {
                        self.corrupt(expected, actual)
                    }
                    _ => anyhow::Error::new(io).context(format!(
                        "{}: the download of {} broke off; nothing was stored",
                        self.reference, desc.digest
                    )),
                }
            })?;
            received += chunk.len() as u64;
            if received > declared {
                bail!(
                    "{}: the registry sent more than the {declared} bytes the manifest declares for blob {} ({received} bytes had arrived when the download was stopped); nothing was stored",
                    self.reference,
                    desc.digest
                );
            }
            sink.write_all(&chunk).with_context(|| {
                format!("{}: cannot store blob {}", self.reference, desc.digest)
            })?;
            if let Some(bar) = bar.as_deref_mut() {
                bar.add(chunk.len() as u64);
            }
        }
        if received != declared {
            bail!(
                "{}: the registry sent {received} bytes for blob {}, the manifest declares {declared}; nothing was stored",
                self.reference,
                desc.digest
            );
        }
        Ok(received)
    }

    /// The config blob `desc`, fetched into memory (at most [`MAX_CONFIG`] bytes) and checked
    /// against its digest.
    async fn fetch_config(&self, desc: &OciDescriptor, expected: &Digest) -> Result<Vec<u8>> {
        let declared = self.declared(desc)?;
        if declared > MAX_CONFIG {
            bail!(
                "{}: the manifest declares config {} of {declared} bytes, more than the {MAX_CONFIG} a Wasm config may have; nothing was fetched",
                self.reference,
                desc.digest
            );
        }
        let mut sink = Hashing::new(Vec::new());
        self.download(desc, &mut sink, None).await?;
        let (bytes, actual) = sink.finish();
        if &actual != expected {
            return Err(self.corrupt(&expected.to_string(), &actual.to_string()));
        }
        Ok(bytes)
    }

    /// Streams blob `desc` into the store; returns the bytes fetched and where it landed.
    async fn fetch(
        &self,
        writer: &Writer<'_>,
        desc: &OciDescriptor,
        expected: &Digest,
        label: &str,
        progress: bool,
    ) -> Result<(u64, PathBuf)> {
        let mut incoming = writer.incoming(expected)?;
        let mut bar = Progress::new(label, self.declared(desc)?, progress);
        let n = self.download(desc, &mut incoming, Some(&mut bar)).await?;
        bar.finish();
        let path = incoming
            .commit()
            .with_context(|| format!("{}: nothing was stored", self.reference))?;
        Ok((n, path))
    }
}

/// Fetches `reference`'s manifest (one request) and whatever blobs the store lacks, checks
/// every digest and size, and records the reference. Blobs are written under the store's
/// lock (see [`crate::store::writer`]) so a concurrent `gc` cannot remove them before the
/// reference exists; a pull that fails stores nothing.
pub async fn pull(store: &Store, reference: &Reference, opts: &Options) -> Result<Pulled> {
    let s = Session::new(reference, opts)?;
    let accepted = [
        WASM_MANIFEST_MEDIA_TYPE,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.index.v1+json",
    ];
    let (bytes, digest) = s
        .client
        .pull_manifest_raw(&s.target, &s.auth, &accepted)
        .await
        .map_err(|e| s.explain(e))?;
    let manifest_digest = Digest::of(&bytes);
    if digest != manifest_digest.to_string() {
        bail!(
            "{reference}: the manifest hashes to {manifest_digest} but the registry calls it {digest}; nothing was stored"
        );
    }
    if let Some(want) = &reference.digest
        && want != &manifest_digest
    {
        bail!(
            "{reference}: the registry sent manifest {manifest_digest} instead of {want}; nothing was stored"
        );
    }
    let (manifest, layer) = layout::check(reference, &bytes)?;
    let writer = store.writer()?;
    let mut fetched = 0;
    let config = Digest::parse(&manifest.config.digest).map_err(anyhow::Error::msg)?;
    let config_bytes = match store.read(&config, MAX_CONFIG)? {
        Some(bytes) => bytes,
        None => {
            let bytes = s.fetch_config(&manifest.config, &config).await?;
            fetched += bytes.len() as u64;
            bytes
        }
    };
    layout::check_config(reference, &config_bytes, &layer.digest)?;
    let component = Digest::parse(&layer.digest).map_err(anyhow::Error::msg)?;
    let path = match store.verified(&component)? {
        Some(path) => path,
        None => {
            let label = format!("pulling {}", reference.repository);
            let (n, path) = s
                .fetch(&writer, &layer, &component, &label, opts.progress)
                .await?;
            fetched += n;
            path
        }
    };
    writer.put(&config_bytes)?;
    writer.put(&bytes)?;
    writer.set_ref(reference, &manifest_digest)?;
    Ok(Pulled {
        manifest: manifest_digest,
        component,
        path,
        size: u64::try_from(layer.size).unwrap_or(0),
        fetched,
    })
}

/// The stored component for `reference` if the store holds it whole (no network).
pub fn stored(store: &Store, reference: &Reference) -> Result<Option<PathBuf>> {
    let Some(manifest) = store.get_ref(reference)? else {
        return Ok(None);
    };
    let Some(bytes) = store.read(&manifest, MAX_MANIFEST)? else {
        return Ok(None);
    };
    let Ok((component, _)) = layout::component_layer(&bytes) else {
        return Ok(None);
    };
    store.verified(&component)
}

/// The component for `reference`: from the store when it holds it, else pulled.
pub async fn resolve(store: &Store, reference: &Reference, opts: &Options) -> Result<PathBuf> {
    if let Some(path) = stored(store, reference)? {
        return Ok(path);
    }
    Ok(pull(store, reference, opts).await?.path)
}
