//! A local directory standing in for a bucket: objects at `DIR/<key>`, written create-only and atomically. The
//! outputs' own stand-ins build on it (the search mirror's bulk bodies, `crate::output::search`; Prometheus
//! requests, `crate::output::prometheus`).

use super::{Delivery, ObjectSink, SinkError};
use crate::plan::Parcel;
use foldhash::{HashMap, HashSet};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Directory sink. Writes are create-only and atomic: a file appears whole or not at all, and an existing file
/// with the same bytes counts as already delivered.
#[derive(Debug, Clone)]
pub struct LocalDir {
    pub(crate) root: PathBuf,
    /// Per folder, the ids of what was written to it, for outputs whose stand-in is create-only per id (the search
    /// mirror's bulk bodies): loaded on first use.
    pub(crate) indexed: Arc<Mutex<HashMap<String, HashSet<[u8; 16]>>>>,
}

impl LocalDir {
    /// A sink writing under `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), indexed: Arc::default() }
    }

    pub(crate) fn create_only(&self, rel: &str, body: &[u8]) -> Result<Delivery, SinkError> {
        if rel.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(SinkError::Permanent { target: rel.into(), reason: "key is not a safe relative path".into() });
        }
        let path = self.root.join(rel);
        let io = |e: std::io::Error| io_error(&path, &e);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = tmp_path(&path);
        std::fs::write(&tmp, body).map_err(io)?;
        // A hard link fails when the target exists, which makes the final name create-only.
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(Delivery::Written),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if std::fs::read(&path).map_err(io)? == body {
                    Ok(Delivery::AlreadyPresent)
                } else {
                    Err(SinkError::Taken { target: path.display().to_string() })
                }
            }
            Err(e) => Err(io(e)),
        }
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

impl ObjectSink for LocalDir {
    async fn put(&self, object: &Parcel) -> Result<Delivery, SinkError> {
        self.create_only(&object.key, &object.body)
    }

    /// Lists the files whose key begins with `prefix`, in the folder it names up to its last `/` and below it, as
    /// S3 lists keys.
    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<String>, SinkError> {
        let (folder, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let mut keys = Vec::new();
        let mut folders = vec![folder.to_owned()];
        while let Some(folder) = folders.pop() {
            let key = |name: &str| if folder.is_empty() { name.to_owned() } else { format!("{folder}/{name}") };
            for (name, _) in self.files(&folder)? {
                keys.push(key(&name));
            }
            let dir = self.root.join(&folder);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for entry in entries.flatten() {
                    let sub = entry.file_name().to_str().map(key);
                    if entry.file_type().is_ok_and(|t| t.is_dir())
                        && let Some(sub) = sub.filter(|s| s.starts_with(prefix) || prefix.starts_with(s.as_str()))
                    {
                        folders.push(sub);
                    }
                }
            }
        }
        keys.retain(|k| k.starts_with(prefix) && start_after.is_none_or(|a| k.as_str() > a));
        keys.sort_unstable();
        Ok(keys)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, SinkError> {
        let path = self.root.join(key);
        std::fs::read(&path).map_err(|e| io_error(&path, &e))
    }
}

impl LocalDir {
    /// The regular files directly in `folder` (relative to the root), by name and path, without the temporary
    /// files of writes under way; none when the folder does not exist.
    pub(crate) fn files(&self, folder: &str) -> Result<Vec<(String, PathBuf)>, SinkError> {
        let dir = self.root.join(folder);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&dir, &e)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&dir, &e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            if !name.contains(".tmp-") && entry.file_type().map_err(|e| io_error(&dir, &e))?.is_file() {
                files.push((name, entry.path()));
            }
        }
        Ok(files)
    }
}

/// A failed file operation on `path`: transient (the record is retried).
pub(crate) fn io_error(path: &Path, e: &std::io::Error) -> SinkError {
    SinkError::Transient { target: path.display().to_string(), reason: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, body: &[u8]) -> Parcel {
        Parcel { key: key.into(), body: body.to_vec(), items: 1 }
    }

    #[test]
    fn invalid_writes_are_refused_and_nothing_is_overwritten() {
        let root = std::env::temp_dir().join(format!("logmeter-local-{}", std::process::id()));
        let dir = LocalDir::new(&root);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let put = |key: &str, body: &[u8]| rt.block_on(dir.put(&object(key, body)));
        assert_eq!(put("a/b.json", b"[1]").unwrap(), Delivery::Written);
        assert_eq!(put("a/b.json", b"[1]").unwrap(), Delivery::AlreadyPresent, "the same bytes again");
        // A different object under the key: a permanent failure, and the first object stays.
        let err = put("a/b.json", b"[2]").unwrap_err();
        assert!(matches!(err, SinkError::Taken { .. }) && err.to_string().contains("a different object"), "{err}");
        assert_eq!(std::fs::read(root.join("a/b.json")).unwrap(), b"[1]");
        // Keys that would leave the directory or add empty levels.
        for key in ["../x.json", "a/../../x.json", "/abs.json", "a//b.json", "./a.json"] {
            let err = put(key, b"[]").unwrap_err();
            assert!(err.to_string().contains("not a safe relative path"), "{key}: {err}");
        }
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn valid_listing_and_reads_behave_like_the_bucket() {
        let root = std::env::temp_dir().join(format!("logmeter-local-list-{}", std::process::id()));
        let dir = LocalDir::new(&root);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for key in ["p/d/s/002-001-a.json", "p/d/s/004-003-b.json", "p/d/t/009-009-c.json", "p/d/s/001-001-z.json"] {
            rt.block_on(dir.put(&object(key, key.as_bytes()))).unwrap();
        }
        std::fs::write(root.join("p/d/s/005-005-d.json.tmp-1"), b"half written").unwrap();
        let list = |prefix: &str, after: Option<&str>| rt.block_on(dir.list(prefix, after)).unwrap();
        assert_eq!(list("p/d/s/", None), ["p/d/s/001-001-z.json", "p/d/s/002-001-a.json", "p/d/s/004-003-b.json"]);
        assert_eq!(list("p/d/s/", Some("p/d/s/002")), ["p/d/s/002-001-a.json", "p/d/s/004-003-b.json"]);
        assert_eq!(list("p/d/s/004", None), ["p/d/s/004-003-b.json"]);
        assert!(list("p/d/none/", None).is_empty(), "a missing folder lists nothing");
        assert_eq!(rt.block_on(dir.get("p/d/t/009-009-c.json")).unwrap(), b"p/d/t/009-009-c.json");
        let _ = std::fs::remove_dir_all(root);
    }
}
