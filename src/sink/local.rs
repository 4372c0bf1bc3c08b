//! A local directory standing in for the bucket and the search engine: objects at `DIR/<key>`, bulk bodies at
//! `DIR/search-bulk/<shard>/<sequence>-<part>.ndjson`, byte for byte what would be sent.

use super::{BulkDelivery, Delivery, ObjectSink, SearchSink, SinkError};
use crate::destination::Parcel;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Directory sink. Writes are create-only and atomic: a file appears whole or not at all, and an existing file
/// with the same bytes counts as already delivered.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

/// Folder under the root that holds bulk bodies.
pub const BULK_DIR: &str = "search-bulk";

impl LocalDir {
    /// A sink writing under `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn create_only(&self, rel: &str, body: &[u8]) -> Result<Delivery, SinkError> {
        if rel.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(SinkError::Permanent { target: rel.into(), reason: "key is not a safe relative path".into() });
        }
        let path = self.root.join(rel);
        let io = |e: std::io::Error| SinkError::Transient { target: path.display().to_string(), reason: e.to_string() };
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
                    Err(SinkError::Permanent {
                        target: path.display().to_string(),
                        reason: "a different file already exists under this key (was the configuration changed between runs?)"
                            .into(),
                    })
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
}

impl SearchSink for LocalDir {
    async fn bulk(&self, request: &Parcel) -> Result<BulkDelivery, SinkError> {
        let rel = format!("{BULK_DIR}/{}.ndjson", request.key);
        Ok(match self.create_only(&rel, &request.body)? {
            Delivery::Written => BulkDelivery { created: request.items, ..BulkDelivery::default() },
            Delivery::AlreadyPresent => BulkDelivery { already_present: request.items, ..BulkDelivery::default() },
        })
    }
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
        assert!(matches!(err, SinkError::Permanent { .. }) && err.to_string().contains("a different file"), "{err}");
        assert_eq!(std::fs::read(root.join("a/b.json")).unwrap(), b"[1]");
        // Keys that would leave the directory or add empty levels.
        for key in ["../x.json", "a/../../x.json", "/abs.json", "a//b.json", "./a.json"] {
            let err = put(key, b"[]").unwrap_err();
            assert!(err.to_string().contains("not a safe relative path"), "{key}: {err}");
        }
        let _ = std::fs::remove_dir_all(root);
    }
}
