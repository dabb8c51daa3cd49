//! Writing a file so that a crash never leaves it half written: temp →
//! fsync → rename → fsync dir. A file-system helper, not registry logic: the
//! artifact store uses it for published components, and the host for its
//! compiled-component cache and the CLI's downloads, so there is one
//! implementation of the dance to get right.

use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` atomically: readers see the old file or the
/// whole new one, and after a crash the final name never holds a partial
/// write. The error names the path.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().ok_or_else(|| format!("{} has no parent directory", path.display()))?;
    let tmp = dir.join(format!(".tmp-{}-{}", std::process::id(), unique()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is only durable once the directory entry is.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("{}: {e}", path.display()))
}

/// A temp-name suffix unique within this process (two threads may write
/// the same final path at once) and unlikely to repeat across restarts.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed) ^ (crate::now_ms() as u64).rotate_left(20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        write(&path, b"first").unwrap();
        write(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["f.bin"]);
        // A missing directory is an error that names the path, and no temp
        // file is left anywhere.
        let err = write(&dir.path().join("no/such/f.bin"), b"x").unwrap_err();
        assert!(err.contains("no/such/f.bin"), "{err}");
    }
}
