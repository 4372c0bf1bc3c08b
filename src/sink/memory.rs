//! An in-memory sink for unit tests of the handler, with failure injection.

use super::{Delivery, ObjectSink, SinkError};
use crate::plan::Parcel;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Keeps objects by key and documents by `(index, id)`, create-only, like the real stores.
#[derive(Debug, Default)]
pub struct MemorySink {
    /// Objects written, by key.
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Documents indexed, by `(index, _id)`.
    pub documents: Mutex<BTreeMap<(String, String), String>>,
    /// Calls (puts, lists, gets and bulks) left before every call fails transiently; `usize::MAX` never fails.
    fail_after: AtomicUsize,
    /// How long each call takes, in milliseconds (a store across the network).
    latency_ms: AtomicU64,
    /// `list` calls answered.
    pub lists: AtomicUsize,
}

impl MemorySink {
    /// A sink that never fails.
    pub fn new() -> Self {
        Self { fail_after: AtomicUsize::new(usize::MAX), ..Self::default() }
    }

    /// Lets `calls` more calls succeed, then fails every call until [`MemorySink::recover`].
    pub fn fail_after(&self, calls: usize) {
        self.fail_after.store(calls, Ordering::SeqCst);
    }

    /// Makes every later call take `latency` (on the tokio timer).
    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms.store(u64::try_from(latency.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    pub(crate) async fn wait(&self) {
        let ms = self.latency_ms.load(Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }

    /// Stops failing.
    pub fn recover(&self) {
        self.fail_after.store(usize::MAX, Ordering::SeqCst);
    }

    pub(crate) fn admit(&self, target: &str) -> Result<(), SinkError> {
        let left = self.fail_after.load(Ordering::SeqCst);
        if left == 0 {
            return Err(SinkError::Transient { target: target.into(), reason: "injected outage".into() });
        }
        if left != usize::MAX {
            self.fail_after.store(left - 1, Ordering::SeqCst);
        }
        Ok(())
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ObjectSink for MemorySink {
    async fn put(&self, object: &Parcel) -> Result<Delivery, SinkError> {
        self.wait().await;
        self.admit(&object.key)?;
        let mut objects = lock(&self.objects);
        match objects.get(&object.key) {
            Some(body) if *body == object.body => return Ok(Delivery::AlreadyPresent),
            Some(_) => return Err(SinkError::Taken { target: object.key.clone() }),
            None => {}
        }
        objects.insert(object.key.clone(), object.body.clone());
        Ok(Delivery::Written)
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<String>, SinkError> {
        self.wait().await;
        self.admit(prefix)?;
        self.lists.fetch_add(1, Ordering::SeqCst);
        let objects = lock(&self.objects);
        let after = start_after.unwrap_or("");
        Ok(objects.keys().filter(|k| k.starts_with(prefix) && k.as_str() > after).cloned().collect())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, SinkError> {
        self.wait().await;
        self.admit(key)?;
        lock(&self.objects)
            .get(key)
            .cloned()
            .ok_or_else(|| SinkError::Permanent { target: key.into(), reason: "no such key".into() })
    }
}
