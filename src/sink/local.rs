//! A local directory standing in for the bucket and the search engine: objects at `DIR/<key>`, bulk bodies at
//! `DIR/search-bulk/<shard>/<last>-<first>-<digest>.ndjson`, byte for byte what would be sent. Like the engine's
//! `create`, an action whose `_id` a body in the shard's folder already holds is not written again: a body is
//! written with only its new actions (named with their digest), or not at all.
//!
//! Which ids a folder holds is kept beside its bodies in an index, `DIR/search-bulk/<shard>/.ids` (per body: its
//! name, then the 16 bytes of a UUIDv5 of each `(index, _id)`), read once per process and appended to after each body,
//! so a bulk call costs the same however many bodies the folder holds. A body the index does not cover (written
//! by an older version, or a crash between the body and its index entry) is read and added the first time the
//! folder is used.

use super::{BulkDelivery, Delivery, ObjectSink, SearchSink, SinkError};
use crate::plan::Parcel;
use foldhash::{HashMap, HashSet};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Directory sink. Writes are create-only and atomic: a file appears whole or not at all, and an existing file
/// with the same bytes counts as already delivered.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
    /// Per bulk folder (`<shard>`), the ids its bodies hold: loaded from the index on first use.
    indexed: Arc<Mutex<HashMap<String, HashSet<[u8; 16]>>>>,
}

/// Folder under the root that holds bulk bodies.
pub const BULK_DIR: &str = "search-bulk";

/// The id index of a bulk folder, beside its bodies.
const ID_INDEX: &str = ".ids";

impl LocalDir {
    /// A sink writing under `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), indexed: Arc::default() }
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
    /// The ids of every action in the bodies under `DIR/search-bulk/<folder>/`, from its index ([`ID_INDEX`]); a
    /// body the index does not cover is read and added to it.
    fn load_index(&self, folder: &str) -> Result<HashSet<[u8; 16]>, SinkError> {
        let dir = format!("{BULK_DIR}/{folder}");
        let path = self.root.join(&dir).join(ID_INDEX);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_error(&path, &e)),
        };
        let (mut ids, covered) = read_index(&bytes);
        for (name, body_path) in self.files(&dir)? {
            if name.ends_with(".ndjson") && !covered.contains(&name) {
                let body = std::fs::read(&body_path).map_err(|e| io_error(&body_path, &e))?;
                let found: Vec<[u8; 16]> = actions(&body).filter_map(|(action, _)| action_key(action)).collect();
                self.append_index(folder, &name, &found)?;
                ids.extend(found);
            }
        }
        Ok(ids)
    }

    /// Records that the body `name` of `folder` holds `ids`.
    fn append_index(&self, folder: &str, name: &str, ids: &[[u8; 16]]) -> Result<(), SinkError> {
        let path = self.root.join(BULK_DIR).join(folder).join(ID_INDEX);
        let mut entry = Vec::with_capacity(name.len() + 6 + 16 * ids.len());
        entry.extend_from_slice(&u16::try_from(name.len()).unwrap_or(u16::MAX).to_le_bytes());
        entry.extend_from_slice(&name.as_bytes()[..name.len().min(usize::from(u16::MAX))]);
        entry.extend_from_slice(&u32::try_from(ids.len()).unwrap_or(u32::MAX).to_le_bytes());
        ids.iter().for_each(|id| entry.extend_from_slice(id));
        // One write per entry, appended: a crash leaves at most a torn last entry, which is ignored (and its body
        // read again).
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io_error(&path, &e))?;
        file.write_all(&entry).map_err(|e| io_error(&path, &e))
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

/// The `(index, _id)` an action line names, as the index keeps it (a UUIDv5 of both, 16 bytes), when it names an id.
fn action_key(action: &[u8]) -> Option<[u8; 16]> {
    static KEYS: std::sync::LazyLock<crate::ids::V5Prefix> =
        std::sync::LazyLock::new(|| crate::ids::V5Prefix::new(&["local bulk action"]));
    let (index, id) = super::search::action_target(action)?;
    Some(KEYS.uuid(&[index.as_bytes(), id.as_bytes()]).into_bytes())
}

/// The ids an index file holds, and the bodies it covers. A torn last entry is left out.
fn read_index(mut bytes: &[u8]) -> (HashSet<[u8; 16]>, HashSet<String>) {
    let (mut ids, mut covered) = (HashSet::default(), HashSet::default());
    while let Some((len, rest)) = bytes.split_first_chunk::<2>() {
        let len = usize::from(u16::from_le_bytes(*len));
        let Some((name, rest)) = rest.split_at_checked(len) else { break };
        let Some((count, rest)) = rest.split_first_chunk::<4>() else { break };
        let count = usize::try_from(u32::from_le_bytes(*count)).unwrap_or(usize::MAX);
        let Some((entries, rest)) = rest.split_at_checked(count.saturating_mul(16)) else { break };
        ids.extend(entries.chunks_exact(16).filter_map(|c| <[u8; 16]>::try_from(c).ok()));
        covered.insert(String::from_utf8_lossy(name).into_owned());
        bytes = rest;
    }
    (ids, covered)
}

impl SearchSink for LocalDir {
    async fn bulk(&self, request: &Parcel) -> Result<BulkDelivery, SinkError> {
        let folder = request.key.rsplit_once('/').map_or("", |(folder, _)| folder);
        // Held for the whole call: two bodies of one folder never both write an id.
        let mut folders = self.indexed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let known = match folders.entry(folder.to_owned()) {
            std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::hash_map::Entry::Vacant(new) => new.insert(self.load_index(folder)?),
        };
        // In the body's order, so that the index, like the bodies, is the same bytes on every run.
        let (mut fresh_ids, mut seen) =
            (Vec::new(), HashSet::with_capacity_and_hasher(request.items, Default::default()));
        let mut out = BulkDelivery::default();
        known.reserve(request.items);
        // Which actions are new; the body is copied only when some are not.
        let pairs: Vec<(&[u8], &[u8], bool)> = actions(&request.body)
            .map(|(action, doc)| {
                let key = action_key(action);
                let new = !key.is_some_and(|k| known.contains(&k) || seen.contains(&k));
                if let Some(k) = key.filter(|_| new) {
                    seen.insert(k);
                    fresh_ids.push(k);
                }
                (action, doc, new)
            })
            .collect();
        out.created = pairs.iter().filter(|(_, _, new)| *new).count();
        out.already_present = pairs.len() - out.created;
        if out.created == 0 {
            return Ok(out);
        }
        let partial;
        let (fresh, name): (&[u8], String) = if out.already_present == 0 {
            (&request.body, format!("{}.ndjson", request.key))
        } else {
            let mut body = Vec::with_capacity(request.body.len());
            pairs.iter().filter(|(_, _, new)| *new).for_each(|(a, d, _)| {
                body.extend_from_slice(a);
                body.extend_from_slice(d);
            });
            partial = body;
            (&partial, format!("{}-{}.ndjson", request.key, crate::plan::digest16(&partial)))
        };
        let delivery = self.create_only(&format!("{BULK_DIR}/{name}"), fresh)?;
        let file = name.rsplit('/').next().unwrap_or(&name);
        if delivery == Delivery::Written {
            self.append_index(folder, file, &fresh_ids)?;
        }
        known.extend(fresh_ids);
        match delivery {
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
    fn valid_action_keys_are_the_same_read_plainly_or_parsed() {
        let plain = action_key(b"{\"create\":{\"_index\":\"i-2026.12.06\",\"_id\":\"a-1\"}}\n");
        let parsed = action_key(b"{\"create\":{\"_id\":\"a-1\",\"_index\":\"i-2026.12.06\"}}");
        let escaped = action_key(b"{\"create\":{\"_index\":\"i-2026.12.06\",\"_id\":\"a\\u002d1\"}}");
        assert!(plain.is_some() && plain == parsed && plain == escaped);
        assert_ne!(plain, action_key(b"{\"create\":{\"_index\":\"i-2026.12.06\",\"_id\":\"a-2\"}}"));
        assert_eq!(action_key(b"{\"create\":{\"_index\":\"i\"}}"), None, "no id, no key");
        assert_eq!(action_key(b"not json"), None);
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
        let files: Vec<_> = std::fs::read_dir(root.join(BULK_DIR).join("s"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
            .collect();
        assert_eq!(files.len(), 2);
        let written = files.iter().find(|p| p.to_string_lossy().contains("2-1-bb")).unwrap();
        assert_eq!(std::fs::read(written).unwrap(), body(&["c"]));
        assert_eq!(bulk("s/2-1-bb", &["b", "c"]), (0, 2));
        // An id twice in one body is created once, as `create` does.
        assert_eq!(bulk("s/3-3-cc", &["d", "d"]), (1, 1));
        // Another process (a new sink) knows the folder from its index; without the index, or with a torn last
        // entry, from the bodies themselves.
        let index = root.join(BULK_DIR).join("s").join(ID_INDEX);
        let fresh = |name: &str, ids: &[&str]| {
            let dir = LocalDir::new(&root);
            let d = rt.block_on(dir.bulk(&Parcel { key: name.into(), body: body(ids), items: ids.len() })).unwrap();
            (d.created, d.already_present)
        };
        assert_eq!(fresh("s/9-9-zz", &["a", "c", "d"]), (0, 3), "from the index");
        let whole = std::fs::read(&index).unwrap();
        std::fs::write(&index, &whole[..whole.len() - 3]).unwrap();
        assert_eq!(fresh("s/9-9-zz", &["a", "c", "d"]), (0, 3), "a torn entry: its body is read again");
        std::fs::remove_file(&index).unwrap();
        assert_eq!(fresh("s/9-9-zz", &["a", "b", "c", "d", "e"]), (1, 4), "no index: every body is read");
        assert_eq!(fresh("s/9-9-yy", &["e"]), (0, 1), "the index was rebuilt");
        let _ = std::fs::remove_dir_all(root);
    }
}
