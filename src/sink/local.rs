//! A local directory standing in for the bucket and the search engine: objects at `DIR/<key>`, bulk bodies at
//! `DIR/search-bulk/<shard>/<last>-<first>-<digest>.ndjson`, byte for byte what would be sent. Like the engine's
//! `create`, an action whose `_id` a body in the shard's folder already holds is not written again: a body is
//! written with only its new actions (named with their digest), or not at all.

use super::{BulkDelivery, Delivery, ObjectSink, SearchSink, SinkError};
use crate::destination::Parcel;
use std::collections::HashSet;
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
    /// The `(index, _id)` of every action in the bodies under `DIR/search-bulk/<folder>/`.
    fn indexed(&self, folder: &str) -> Result<HashSet<(String, String)>, SinkError> {
        let mut ids = HashSet::new();
        for (name, path) in self.files(&format!("{BULK_DIR}/{folder}"))? {
            if name.ends_with(".ndjson") {
                let body = std::fs::read(&path).map_err(|e| io_error(&path, &e))?;
                ids.extend(actions(&body).filter_map(|(action, _)| action_id(action)));
            }
        }
        Ok(ids)
    }

    /// The regular files directly in `folder` (relative to the root), by name and path, without the temporary
    /// files of writes under way; none when the folder does not exist.
    fn files(&self, folder: &str) -> Result<Vec<(String, PathBuf)>, SinkError> {
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
fn io_error(path: &Path, e: &std::io::Error) -> SinkError {
    SinkError::Transient { target: path.display().to_string(), reason: e.to_string() }
}

/// The `(action, document)` line pairs of a bulk body, each with its newlines.
fn actions(body: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut rest = body;
    std::iter::from_fn(move || {
        let a = memchr::memchr(b'\n', rest)? + 1;
        let d = memchr::memchr(b'\n', &rest[a..]).map_or(rest.len(), |d| a + d + 1);
        let (action, doc) = (&rest[..a], &rest[a..d]);
        rest = &rest[d..];
        Some((action, doc))
    })
}

/// The `(index, _id)` an action line names, when it names an id.
fn action_id(action: &[u8]) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_slice(action).ok()?;
    let create = v.get("create")?;
    Some((create.get("_index")?.as_str()?.to_owned(), create.get("_id")?.as_str()?.to_owned()))
}

impl SearchSink for LocalDir {
    async fn bulk(&self, request: &Parcel) -> Result<BulkDelivery, SinkError> {
        let folder = request.key.rsplit_once('/').map_or("", |(folder, _)| folder);
        let known = self.indexed(folder)?;
        let mut fresh = Vec::with_capacity(request.body.len());
        let mut out = BulkDelivery::default();
        for (action, doc) in actions(&request.body) {
            if action_id(action).is_some_and(|id| known.contains(&id)) {
                out.already_present += 1;
            } else {
                fresh.extend_from_slice(action);
                fresh.extend_from_slice(doc);
                out.created += 1;
            }
        }
        if out.created == 0 {
            return Ok(out);
        }
        let rel = if fresh.len() == request.body.len() {
            format!("{BULK_DIR}/{}.ndjson", request.key)
        } else {
            format!("{BULK_DIR}/{}-{}.ndjson", request.key, crate::plan::digest16(&fresh))
        };
        match self.create_only(&rel, &fresh)? {
            Delivery::Written => Ok(out),
            Delivery::AlreadyPresent => Ok(BulkDelivery { already_present: request.items, ..BulkDelivery::default() }),
        }
    }
}

/// Where `--out` writes Prometheus requests: `prometheus-remote-write/<shard>/<last>-<first>-<digest>.snappy` and
/// `prometheus-pushgateway/job/<job>/…/<value>.prom`.
pub const PROMETHEUS_DIRS: [&str; 2] = ["prometheus-remote-write", "prometheus-pushgateway"];

impl super::MetricsSink for LocalDir {
    async fn send(&self, mode: crate::config::PrometheusMode, request: &Parcel) -> Result<Delivery, SinkError> {
        let rel = match mode {
            crate::config::PrometheusMode::RemoteWrite => format!("{}/{}.snappy", PROMETHEUS_DIRS[0], request.key),
            crate::config::PrometheusMode::Pushgateway => format!("{}/{}.prom", PROMETHEUS_DIRS[1], request.key),
        };
        self.create_only(&rel, &request.body)
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

    #[test]
    fn valid_bulk_bodies_write_only_ids_not_yet_held() {
        let root = std::env::temp_dir().join(format!("logmeter-local-bulk-{}", std::process::id()));
        let dir = LocalDir::new(&root);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let action = |id: &str| format!("{{\"create\":{{\"_index\":\"i\",\"_id\":\"{id}\"}}}}\n{{\"n\":\"{id}\"}}\n");
        let body = |ids: &[&str]| ids.iter().map(|id| action(id)).collect::<String>().into_bytes();
        let bulk = |name: &str, ids: &[&str]| {
            let d = rt.block_on(dir.bulk(&Parcel { key: name.into(), body: body(ids), items: ids.len() })).unwrap();
            (d.created, d.already_present)
        };
        assert_eq!(bulk("s/1-0-aa", &["a", "b"]), (2, 0));
        assert_eq!(bulk("s/1-0-aa", &["a", "b"]), (0, 2), "the same body again");
        // Other boundaries: b is held, c is new and is written alone.
        assert_eq!(bulk("s/2-1-bb", &["b", "c"]), (1, 1));
        let files: Vec<_> =
            std::fs::read_dir(root.join(BULK_DIR).join("s")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 2);
        let written = files.iter().find(|p| p.to_string_lossy().contains("2-1-bb")).unwrap();
        assert_eq!(std::fs::read(written).unwrap(), body(&["c"]));
        assert_eq!(bulk("s/2-1-bb", &["b", "c"]), (0, 2));
        let _ = std::fs::remove_dir_all(root);
    }
}
