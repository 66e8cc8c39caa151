//! The local content store: blobs by sha256, references to manifest digests.
//!
//! Layout under the root: `blobs/sha256/<hex>` (manifests, configs, components),
//! `refs/<registry>/<repository>/tag:<tag>` and `.../digest:<hex>` (each holds a manifest
//! digest), and `tmp/` for downloads in progress. Every file appears by rename, so a reader
//! never sees a partial one; a blob is checked against its name when read.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use crate::digest::{Digest, Hashing};
use crate::reference::Reference;

/// Temp files older than this are left-overs of a killed process; `gc` removes them.
const STALE_TMP: Duration = Duration::from_secs(3600);

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

/// What `gc` removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// Blobs no reference reaches.
    pub blobs: usize,
    /// Left-over temp files.
    pub temps: usize,
    /// Bytes freed.
    pub bytes: u64,
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

    /// Blob `digest`'s bytes, read once and checked.
    pub fn read(&self, digest: &Digest) -> Result<Option<Vec<u8>>> {
        let path = self.blob_path(digest);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
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

    /// Starts writing a blob that must hash to `expected`; nothing is visible until
    /// [`Incoming::commit`].
    pub fn incoming(&self, expected: &Digest) -> Result<Incoming> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{}-{}.", std::process::id(), expected.short()))
            .tempfile_in(self.root.join("tmp"))
            .context("cannot create a temp file in the content store")?;
        Ok(Incoming {
            writer: Hashing::new(tmp),
            expected: expected.clone(),
            dest: self.blob_path(expected),
        })
    }

    /// Stores `bytes` as a blob and returns its digest.
    pub fn put(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if self.verified(&digest)?.is_none() {
            let mut incoming = self.incoming(&digest)?;
            incoming.write_all(bytes)?;
            incoming
                .commit()
                .map_err(|e| anyhow::anyhow!(e.to_string()))?;
        }
        Ok(digest)
    }

    fn ref_path(&self, r: &Reference) -> PathBuf {
        let mut p = self.root.join("refs").join(&r.registry);
        for part in r.repository.split('/') {
            p.push(part);
        }
        match (&r.digest, &r.tag) {
            (Some(d), _) => p.join(format!("digest:{}", d.hex())),
            (None, Some(t)) => p.join(format!("tag:{t}")),
            (None, None) => p.join("tag:"),
        }
    }

    /// Records that `reference` resolves to manifest `digest` (and so does the reference
    /// by that digest).
    pub fn set_ref(&self, reference: &Reference, digest: &Digest) -> Result<()> {
        let mut targets = vec![reference.at(digest)];
        if reference.tag.is_some() {
            targets.push(Reference {
                digest: None,
                ..reference.clone()
            });
        }
        for r in targets {
            let path = self.ref_path(&r);
            let dir = path.parent().unwrap_or(&self.root);
            fs::create_dir_all(dir)?;
            let mut tmp = tempfile::Builder::new()
                .prefix(&format!("{}-ref.", std::process::id()))
                .tempfile_in(self.root.join("tmp"))?;
            tmp.write_all(digest.to_string().as_bytes())?;
            tmp.persist(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }

    /// The manifest digest `reference` resolved to when last pulled or pushed.
    pub fn get_ref(&self, reference: &Reference) -> Result<Option<Digest>> {
        let path = self.ref_path(reference);
        match fs::read_to_string(&path) {
            Ok(text) => Digest::parse(text.trim())
                .map(Some)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Every reference the store holds, sorted.
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
            let Ok(Some(manifest)) = self.get_ref_file(&file) else {
                continue;
            };
            let (tag, digest) = match last.split_once(':') {
                Some(("tag", t)) => (Some(t.to_owned()), Some(manifest.clone())),
                Some(("digest", _)) => (None, Some(manifest.clone())),
                _ => continue,
            };
            let component = self
                .read(&manifest)
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

    fn get_ref_file(&self, path: &Path) -> Result<Option<Digest>> {
        let text = fs::read_to_string(path)?;
        Ok(Digest::parse(text.trim()).ok())
    }

    /// Removes blobs no reference reaches and temp files left by killed processes.
    pub fn gc(&self) -> Result<Collected> {
        let mut live = std::collections::HashSet::new();
        for entry in self.list()? {
            live.insert(entry.manifest.clone());
            if let Some(bytes) = self.read(&entry.manifest)? {
                live.extend(crate::layout::referenced_blobs(&bytes));
            }
        }
        let mut collected = Collected::default();
        for file in walk(&self.root.join("blobs/sha256"))? {
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            let keep = Digest::parse(&format!("sha256:{name}")).is_ok_and(|d| live.contains(&d));
            if !keep {
                collected.bytes += fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
                fs::remove_file(&file)?;
                collected.blobs += 1;
            }
        }
        let (temps, bytes) = self.remove_dead_temps();
        collected.temps = temps;
        collected.bytes += bytes;
        Ok(collected)
    }

    /// Removes temp files of processes that are gone (a killed pull) or that are older than
    /// an hour; returns how many and their bytes.
    pub fn remove_dead_temps(&self) -> (usize, u64) {
        let now = SystemTime::now();
        let (mut count, mut bytes) = (0, 0);
        for file in walk(&self.root.join("tmp")).unwrap_or_default() {
            let name = file
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let owner_gone = name
                .split_once('-')
                .and_then(|(pid, _)| pid.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            let meta = fs::metadata(&file);
            let old = meta
                .as_ref()
                .ok()
                .and_then(|m| m.modified().ok())
                .is_some_and(|t| now.duration_since(t).unwrap_or_default() > STALE_TMP);
            if (owner_gone || old) && fs::remove_file(&file).is_ok() {
                count += 1;
                bytes += meta.map(|m| m.len()).unwrap_or(0);
            }
        }
        (count, bytes)
    }
}

/// A blob being written; it lands in the store only if its content matches the digest.
pub struct Incoming {
    writer: Hashing<tempfile::NamedTempFile>,
    expected: Digest,
    dest: PathBuf,
}

/// A blob whose bytes did not hash to the digest it was fetched under.
#[derive(Debug, thiserror::Error)]
#[error("blob {expected} arrived as {actual} ({len} bytes): the content does not match its digest")]
pub struct Mismatch {
    /// The digest it was fetched under.
    pub expected: Digest,
    /// The digest of what arrived.
    pub actual: Digest,
    /// How many bytes arrived.
    pub len: u64,
}

impl Incoming {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.writer.len()
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.writer.is_empty()
    }

    /// Checks the digest, syncs, and moves the blob into place; on a mismatch the temp
    /// file is removed and nothing is stored.
    pub fn commit(self) -> Result<PathBuf, anyhow::Error> {
        let len = self.writer.len();
        let (tmp, actual) = self.writer.finish();
        if actual != self.expected {
            drop(tmp);
            return Err(Mismatch {
                expected: self.expected,
                actual,
                len,
            }
            .into());
        }
        tmp.as_file().sync_all()?;
        tmp.persist(&self.dest)
            .with_context(|| format!("cannot store {}", self.dest.display()))?;
        Ok(self.dest)
    }
}

impl Write for Incoming {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
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
            let entry = entry?;
            if entry.file_type()?.is_dir() {
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
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path().join("store")).unwrap();
        (dir, s)
    }

    #[test]
    fn put_verify_and_tamper() {
        let (_d, s) = store();
        let d = s.put(b"component bytes").unwrap();
        assert_eq!(s.read(&d).unwrap().unwrap(), b"component bytes");
        fs::write(s.blob_path(&d), b"tampered").unwrap();
        assert!(s.read(&d).unwrap().is_none(), "a tampered blob is not used");
        assert!(!s.blob_path(&d).exists(), "and is removed");
        let d = s.put(b"component bytes").unwrap();
        assert_eq!(s.verified(&d).unwrap(), Some(s.blob_path(&d)));
        fs::write(s.blob_path(&d), b"tampered again").unwrap();
        assert!(s.verified(&d).unwrap().is_none(), "verified checks too");
        assert!(!s.blob_path(&d).exists(), "and removes it");
    }

    #[test]
    fn a_mismatched_download_leaves_nothing() {
        let (_d, s) = store();
        let expected = Digest::of(b"good");
        let mut inc = s.incoming(&expected).unwrap();
        inc.write_all(b"evil").unwrap();
        let e = inc.commit().unwrap_err().to_string();
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
        let config = s.put(b"{}").unwrap();
        let layer = s.put(b"component").unwrap();
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"c","digest":"{config}","size":2}},"layers":[{{"mediaType":"application/wasm","digest":"{layer}","size":9}}]}}"#
        );
        let m = s.put(manifest.as_bytes()).unwrap();
        s.set_ref(&Reference::parse("r.io/acme/cart:1.0.0").unwrap(), &m)
            .unwrap();
        let orphan = s.put(b"left over").unwrap();
        let stale = s.root.join("tmp/999999999-dead.partial");
        fs::write(&stale, b"half").unwrap();
        let c = s.gc().unwrap();
        assert_eq!((c.blobs, c.temps, c.bytes), (1, 1, 13));
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
    fn refs_resolve_by_tag_and_digest() {
        let (_d, s) = store();
        let r = Reference::parse("oci://127.0.0.1:5000/acme/cart:1.2.0").unwrap();
        let d = s.put(b"{}").unwrap();
        s.set_ref(&r, &d).unwrap();
        assert_eq!(s.get_ref(&r).unwrap(), Some(d.clone()));
        assert_eq!(s.get_ref(&r.at(&d)).unwrap(), Some(d.clone()));
        let other = Reference::parse("127.0.0.1:5000/acme/cart:2.0.0").unwrap();
        assert_eq!(s.get_ref(&other).unwrap(), None);
    }
}
