//! The search mirror's stand-in under `--out DIR`: bulk bodies at
//! `DIR/search-bulk/<shard>/<last>-<first>-<digest>.ndjson`, byte for byte what would be sent. Like the engine's
//! `create`, an action whose `_id` a body in the shard's folder already holds is not written again: a body is
//! written with only its new actions (named with their digest), or not at all.
//!
//! Which ids a folder holds is kept beside its bodies in an index, `DIR/search-bulk/<shard>/.ids` (per body: its
//! name, then the 16 bytes of a UUIDv5 of each `(index, _id)`), read once per process and appended to after each body,
//! so a bulk call costs the same however many bodies the folder holds. A body the index does not cover (written
//! by an older version, or a crash between the body and its index entry) is read and added the first time the
//! folder is used.

use super::{BulkDelivery, SearchSink};
use crate::plan::Parcel;
use crate::sink::local::io_error;
use crate::sink::{Delivery, LocalDir, SinkError};
use foldhash::HashSet;
use std::io::{ErrorKind, Write as _};

/// Folder under the root that holds bulk bodies.
pub const BULK_DIR: &str = "search-bulk";

/// The id index of a bulk folder, beside its bodies.
const ID_INDEX: &str = ".ids";

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
    let (index, id) = super::client::action_target(action)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
