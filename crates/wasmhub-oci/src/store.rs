//! The local content store: blobs by sha256, references to manifest digests.
//!
//! Layout under the root: `blobs/sha256/<hex>` (manifests, configs, components),
//! `refs/<registry>/<repository>/tag:<tag>` and `.../digest:<hex>` (each holds a manifest
//! digest), `tmp/` for downloads in progress and `lock`, which writers hold shared and `gc`
//! exclusive ([`writer`] says why). Every file appears by rename, so a reader never sees a
//! partial one; a blob is checked against its name when read.

mod gc;
pub mod writer;

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::digest::{Digest, Hashing};
use crate::reference::Reference;

pub use gc::{Collected, Unreadable};
pub use writer::{Incoming, Mismatch, Writer};

/// The largest manifest the store reads (the OCI distribution spec's 4 MiB).
pub const MAX_MANIFEST: u64 = 4 << 20;

/// The largest config blob a pull accepts or the store reads.
pub const MAX_CONFIG: u64 = 4 << 20;

/// A content store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// One reference the store holds.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The reference, with its digest.
    pub reference: Reference,
    /// Its manifest's digest.
    pub manifest: Digest,
    /// The component's digest and size, when the manifest is readable.
    pub component: Option<(Digest, u64)>,
}

/// A blob larger than its reader accepts.
#[derive(Debug, thiserror::Error)]
#[error("content store blob {path} holds more than {limit} bytes, the most accepted here")]
pub struct TooLarge {
    /// The blob's file.
    pub path: PathBuf,
    /// The most accepted.
    pub limit: u64,
}

impl Store {
    /// The store at `root`, created if missing.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for dir in ["blobs/sha256", "refs", "tmp"] {
            fs::create_dir_all(root.join(dir)).with_context(|| {
                format!("cannot create the content store at {}", root.display())
            })?;
        }
        Ok(Self { root })
    }

    /// The default root: `$WASMHUB_STORE`, else `$XDG_DATA_HOME/wasmhub/store`, else
    /// `~/.local/share/wasmhub/store`.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os("WASMHUB_STORE") {
            return dir.into();
        }
        let data = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from(".wasmhub"));
        data.join("wasmhub/store")
    }

    /// Where the store lives.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// The path of blob `digest` if the store holds it intact; a blob whose content no
    /// longer matches its digest is removed (and reported as absent).
    pub fn verified(&self, digest: &Digest) -> Result<Option<PathBuf>> {
        let path = self.blob_path(digest);
        let mut file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut hashing = Hashing::new(io::sink());
        io::copy(&mut file, &mut hashing)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let (_, actual) = hashing.finish();
        Ok(self.intact(digest, &actual).then_some(path))
    }

    /// Blob `digest`'s bytes, read once and checked: the bytes returned are the bytes
    /// hashed. A blob of more than `limit` bytes is an error ([`TooLarge`]), read no further.
    pub fn read(&self, digest: &Digest, limit: u64) -> Result<Option<Vec<u8>>> {
        let path = self.blob_path(digest);
        let file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if bytes.len() as u64 > limit {
            return Err(TooLarge { path, limit }.into());
        }
        Ok(self.intact(digest, &Digest::of(&bytes)).then_some(bytes))
    }

    /// Whether blob `digest` hashed to `actual`; a blob that did not is removed.
    fn intact(&self, digest: &Digest, actual: &Digest) -> bool {
        if actual == digest {
            return true;
        }
        tracing::warn!(
            "content store blob {digest} holds {actual} instead; removed, it will be fetched again"
        );
        let _ = fs::remove_file(self.blob_path(digest));
        false
    }

    /// The file recording `r`; an error if a part of `r` would not be a plain file name
    /// under `refs/` (`..`, `.`, a separator).
    fn ref_path(&self, r: &Reference) -> Result<PathBuf> {
        let mut p = self.root.join("refs");
        for part in std::iter::once(r.registry.as_str()).chain(r.repository.split('/')) {
            let mut parts = Path::new(part).components();
            if !matches!(
                (parts.next(), parts.next()),
                (Some(Component::Normal(_)), None)
            ) {
                bail!(
                    "reference {r} has a registry or repository part {part:?} that is not a plain name; give REGISTRY/REPOSITORY:TAG with a host name as the registry"
                );
            }
            p.push(part);
        }
        Ok(match (&r.digest, &r.tag) {
            (Some(d), _) => p.join(format!("digest:{}", d.hex())),
            (None, Some(t)) => p.join(format!("tag:{t}")),
            (None, None) => p.join("tag:"),
        })
    }

    /// The manifest digest `reference` resolved to when last pulled or pushed.
    pub fn get_ref(&self, reference: &Reference) -> Result<Option<Digest>> {
        let path = self.ref_path(reference)?;
        match fs::metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            _ => self.ref_file(&path).map(Some),
        }
    }

    /// The manifest digest a reference file holds.
    fn ref_file(&self, path: &Path) -> Result<Digest> {
        let text =
            fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        Digest::parse(text.trim()).map_err(|e| {
            anyhow::anyhow!(
                "{} does not hold a manifest digest ({e}); pull the reference again",
                path.display()
            )
        })
    }

    /// Every reference the store holds, sorted (unreadable reference files are skipped).
    pub fn list(&self) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        let refs = self.root.join("refs");
        for file in walk(&refs)? {
            let rel = file.strip_prefix(&refs).unwrap_or(&file);
            let parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let [registry, repo @ .., last] = parts.as_slice() else {
                continue;
            };
            let Ok(manifest) = self.ref_file(&file) else {
                continue;
            };
            let (tag, digest) = match last.split_once(':') {
                Some(("tag", t)) => (Some(t.to_owned()), Some(manifest.clone())),
                Some(("digest", _)) => (None, Some(manifest.clone())),
                _ => continue,
            };
            let component = self
                .read(&manifest, MAX_MANIFEST)
                .ok()
                .flatten()
                .and_then(|bytes| crate::layout::component_layer(&bytes).ok());
            entries.push(Entry {
                reference: Reference {
                    registry: registry.clone(),
                    repository: repo.join("/"),
                    tag,
                    digest,
                },
                manifest,
                component,
            });
        }
        entries.sort_by_key(|e| e.reference.to_string());
        Ok(entries)
    }
}

/// Every file under `dir`, recursively (none if it does not exist).
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let rd = match fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot list {}", d.display())),
        };
        for entry in rd {
            let entry = entry.with_context(|| format!("cannot list {}", d.display()))?;
            let is_dir = entry
                .file_type()
                .with_context(|| format!("cannot list {}", d.display()))?
                .is_dir();
            if is_dir {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("store")).unwrap();
        (dir, s)
    }

    fn put(s: &Store, bytes: &[u8]) -> Digest {
        s.writer().unwrap().put(bytes).unwrap()
    }

    const LIMIT: u64 = 1 << 20;

    /// A manifest naming `config` and `layer`, stored; its digest.
    fn manifest(s: &Store, config: &Digest, layer: &Digest) -> Digest {
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"c","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/wasm","digest":"{layer}","size":9}}]}}"#
        );
        put(s, manifest.as_bytes())
    }

    #[test]
    fn put_verify_and_tamper() {
        let (_d, s) = store();
        let d = put(&s, b"component bytes");
        assert_eq!(s.read(&d, LIMIT).unwrap().unwrap(), b"component bytes");
        fs::write(s.blob_path(&d), b"tampered").unwrap();
        assert!(
            s.read(&d, LIMIT).unwrap().is_none(),
            "a tampered blob is not used"
        );
        assert!(!s.blob_path(&d).exists(), "and is removed");
        let d = put(&s, b"component bytes");
        assert_eq!(s.verified(&d).unwrap(), Some(s.blob_path(&d)));
        fs::write(s.blob_path(&d), b"tampered again").unwrap();
        assert!(s.verified(&d).unwrap().is_none(), "verified checks too");
        assert!(!s.blob_path(&d).exists(), "and removes it");
    }

    #[test]
    fn a_blob_past_the_limit_is_not_read_whole() {
        let (_d, s) = store();
        let d = put(&s, &[7; 100]);
        assert_eq!(s.read(&d, 100).unwrap().unwrap().len(), 100);
        let e = s.read(&d, 99).unwrap_err();
        assert!(e.downcast_ref::<TooLarge>().is_some(), "{e:#}");
        assert!(e.to_string().contains("more than 99 bytes"), "{e}");
    }

    #[test]
    fn a_mismatched_download_leaves_nothing() {
        let (_d, s) = store();
        let expected = Digest::of(b"good");
        let w = s.writer().unwrap();
        let mut inc = w.incoming(&expected).unwrap();
        inc.write_all(b"evil").unwrap();
        let e = inc.commit().unwrap_err();
        assert!(e.downcast_ref::<Mismatch>().is_some(), "{e:#}");
        let e = e.to_string();
        assert!(
            e.contains(&expected.to_string()) && e.contains(&Digest::of(b"evil").to_string()),
            "{e}"
        );
        assert!(s.verified(&expected).unwrap().is_none());
        assert_eq!(fs::read_dir(s.root.join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn gc_keeps_what_references_reach() {
        let (_d, s) = store();
        let config = put(&s, b"{}");
        let layer = put(&s, b"component");
        let m = manifest(&s, &config, &layer);
        s.writer()
            .unwrap()
            .set_ref(&Reference::parse("r.io/acme/cart:1.0.0").unwrap(), &m)
            .unwrap();
        let orphan = put(&s, b"left over");
        let stale = s.root.join("tmp/999999999-dead.partial");
        fs::write(&stale, b"half").unwrap();
        let c = s.gc(|| panic!("nothing holds the lock")).unwrap();
        assert_eq!((c.blobs, c.temps, c.bytes), (1, 1, 13));
        assert!(c.unreadable.is_empty());
        for d in [&config, &layer, &m] {
            assert!(s.verified(d).unwrap().is_some(), "{d} kept");
        }
        assert!(s.verified(&orphan).unwrap().is_none());
        assert!(!stale.exists());
        let listed = s.list().unwrap();
        assert_eq!(listed.len(), 2, "by tag and by digest");
        assert_eq!(listed[0].component, Some((layer, 9)));
    }

    #[test]
    fn gc_keeps_every_blob_while_a_reference_cannot_be_read() {
        let (_d, s) = store();
        let config = put(&s, b"{}");
        let layer = put(&s, b"component");
        let m = manifest(&s, &config, &layer);
        let r = Reference::parse("r.io/acme/cart:1.0.0").unwrap();
        s.writer().unwrap().set_ref(&r, &m).unwrap();
        // Both files of the reference are damaged: nothing says which blobs they reach.
        for file in walk(&s.root.join("refs")).unwrap() {
            fs::write(file, b"not a digest").unwrap();
        }
        let c = s.gc(|| {}).unwrap();
        assert_eq!((c.blobs, c.unreadable.len()), (0, 2), "{c:?}");
        let e = format!("{:#}", c.unreadable[0].error);
        assert!(e.contains("does not hold a manifest digest"), "{e}");
        for d in [&config, &layer, &m] {
            assert!(s.verified(d).unwrap().is_some(), "{d} kept");
        }
    }

    #[test]
    fn gc_waits_for_a_writer_between_its_blobs_and_its_reference() {
        let (_d, s) = store();
        let r = Reference::parse("r.io/acme/cart:1.0.0").unwrap();
        // A pull: blobs written, reference not yet.
        let w = s.writer().unwrap();
        let config = w.put(b"{}").unwrap();
        let layer = w.put(b"component").unwrap();
        let m = manifest(&s, &config, &layer);
        let (waiting_tx, waiting) = mpsc::channel();
        let gc = {
            let s = s.clone();
            std::thread::spawn(move || s.gc(move || waiting_tx.send(()).unwrap()))
        };
        // The gc found the lock held and waits: it cannot sweep before the reference is there.
        waiting
            .recv_timeout(Duration::from_secs(30))
            .expect("gc waits for the writer");
        for d in [&config, &layer, &m] {
            assert!(s.verified(d).unwrap().is_some(), "{d} still there");
        }
        w.set_ref(&r, &m).unwrap();
        drop(w);
        let c = gc.join().unwrap().unwrap();
        assert_eq!(c.blobs, 0, "{c:?}");
        for d in [&config, &layer, &m] {
            assert!(s.verified(d).unwrap().is_some(), "{d} kept");
        }
    }

    #[test]
    fn a_writer_keeps_the_temp_files_of_another_writer() {
        let (_d, s) = store();
        let first = s.writer().unwrap();
        let mut inc = first.incoming(&Digest::of(b"slow")).unwrap();
        inc.write_all(b"sl").unwrap();
        // The writer's process id means nothing here (another PID namespace, another host).
        let foreign = s.root.join("tmp/999999999-abc.partial");
        fs::write(&foreign, b"half").unwrap();
        // A second writer (another pull) starts meanwhile.
        drop(s.writer().unwrap());
        assert!(foreign.exists(), "a live writer's temp file was removed");
        inc.write_all(b"ow").unwrap();
        inc.commit().unwrap();
        drop(first);
        // With no writer left, the next one removes what a dead writer left.
        let dead = s.root.join("tmp/left-over");
        fs::write(&dead, b"half").unwrap();
        drop(s.writer().unwrap());
        assert!(!dead.exists());
    }

    #[test]
    fn refs_resolve_by_tag_and_digest() {
        let (_d, s) = store();
        let r = Reference::parse("oci://127.0.0.1:5000/acme/cart:1.2.0").unwrap();
        let d = put(&s, b"{}");
        s.writer().unwrap().set_ref(&r, &d).unwrap();
        assert_eq!(s.get_ref(&r).unwrap(), Some(d.clone()));
        assert_eq!(s.get_ref(&r.at(&d)).unwrap(), Some(d.clone()));
        let other = Reference::parse("127.0.0.1:5000/acme/cart:2.0.0").unwrap();
        assert_eq!(s.get_ref(&other).unwrap(), None);
    }

    #[test]
    fn a_reference_never_lands_outside_refs() {
        let (d, s) = store();
        let digest = put(&s, b"{}");
        for (registry, repository) in [("..", "acme/cart"), (".", "x"), ("r.io", "a/../../b")] {
            let r = Reference {
                registry: registry.to_owned(),
                repository: repository.to_owned(),
                tag: Some("1.0.0".to_owned()),
                digest: None,
            };
            let e = s.writer().unwrap().set_ref(&r, &digest).unwrap_err();
            assert!(e.to_string().contains("is not a plain name"), "{e}");
            assert!(s.get_ref(&r).is_err());
        }
        let outside: Vec<_> = walk(d.path())
            .unwrap()
            .into_iter()
            .filter(|p| !p.starts_with(&s.root))
            .collect();
        assert!(outside.is_empty(), "{outside:?}");
    }
}
