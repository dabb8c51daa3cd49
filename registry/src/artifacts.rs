//! The content-addressed artifact store: published components as files named
//! by their sha256, under `artifacts/<first two hex digits>/<sha256>.wasm`.
//!
//! A separate concern from the rows (see `backend.rs`): files are written
//! with [`crate::atomic_file::write`] *before* the row that names them is
//! committed, and at open [`Artifacts::sweep`] removes files no row names
//! (left by a crash between the two) and stray temp files. So a row never
//! lacks its file, and no file outlives an interrupted publish.

use crate::{Error, Result, sha256_hex};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

pub(crate) struct Artifacts {
    dir: PathBuf,
}

impl Artifacts {
    /// Opens (creating if needed) the store in `dir`.
    pub(crate) fn open(dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir).map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
        Ok(Self { dir })
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(format!("{sha256}.wasm"))
    }

    /// Stores bytes under their digest. Returns whether a new file was
    /// written (so a failed publish can remove exactly what it added).
    pub(crate) fn put(&self, sha256: &str, bytes: &[u8]) -> Result<bool> {
        let path = self.path(sha256);
        if path.exists() {
            return Ok(false);
        }
        let dir = path.parent().expect("artifact path has a parent");
        std::fs::create_dir_all(dir).map_err(|e| Error::Io(format!("{}: {e}", dir.display())))?;
        crate::atomic_file::write(&path, bytes).map_err(Error::Io)?;
        Ok(true)
    }

    pub(crate) fn remove(&self, sha256: &str) {
        let _ = std::fs::remove_file(self.path(sha256));
    }

    /// Reads an artifact by digest and checks it still hashes to it.
    pub(crate) fn read(&self, sha256: &str) -> Result<Vec<u8>> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidInput(format!("{sha256:?} is not a sha256 digest")));
        }
        let path = self.path(sha256);
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("no artifact with sha256 {sha256}")),
            _ => Error::Io(format!("{}: {e}", path.display())),
        })?;
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            return Err(Error::Corrupt(format!("artifact {sha256} hashes to {actual}")));
        }
        Ok(bytes)
    }

    /// Removes temp files and artifacts whose digest is not in `referenced`.
    pub(crate) fn sweep(&self, referenced: &HashSet<String>) {
        let Ok(shards) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for shard in shards.flatten() {
            let path = shard.path();
            if !path.is_dir() {
                // Only shard directories belong here; anything else is a
                // leftover temp file.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            for f in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                let name = f.file_name().to_string_lossy().to_string();
                let keep = name.strip_suffix(".wasm").is_some_and(|d| referenced.contains(d));
                if !keep {
                    log_without_tracing(&f.path());
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

fn log_without_tracing(removed: &Path) {
    // The registry stays free of a logging dependency; these lines are rare
    // (crash recovery only) and go to stderr.
    eprintln!("registry: removing unreferenced file {}", removed.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_read_verify_and_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let a = Artifacts::open(dir.path().join("artifacts")).unwrap();
        let (kept, orphan) = (sha256_hex(b"kept"), sha256_hex(b"orphan"));
        assert!(a.put(&kept, b"kept").unwrap());
        assert!(!a.put(&kept, b"kept").unwrap(), "a second put of the same digest writes nothing");
        a.put(&orphan, b"orphan").unwrap();
        assert_eq!(a.read(&kept).unwrap(), b"kept");
        assert!(matches!(a.read("abc"), Err(Error::InvalidInput(_))));
        // Bytes that no longer hash to their name are refused.
        std::fs::write(a.path(&orphan), b"tampered").unwrap();
        assert!(matches!(a.read(&orphan), Err(Error::Corrupt(_))));
        std::fs::write(a.dir().join(".tmp-1-2"), b"half").unwrap();
        a.sweep(&HashSet::from([kept.clone()]));
        assert!(a.read(&kept).is_ok());
        assert!(matches!(a.read(&orphan), Err(Error::NotFound(_))));
        assert!(!a.dir().join(".tmp-1-2").exists());
    }
}
