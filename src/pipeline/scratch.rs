//! Buffers a worker reuses from record to record, and from batch to batch.

use super::lines::LineBuffers;
use std::sync::Mutex;

/// Buffers reused from record to record by one worker.
#[derive(Debug, Default)]
pub struct Scratch {
    pub(super) compressed: Vec<u8>,
    /// Kept initialised; `inflated_len` bytes of it are the current payload.
    pub(super) inflated: Vec<u8>,
    pub(super) inflated_len: usize,
    pub(super) lines: LineBuffers,
}

/// The workers' buffers, kept from batch to batch: a warm function reuses them instead of growing and
/// zero-filling new ones at every invocation. At most one per worker thread; a clone of the pipeline starts empty.
#[derive(Debug, Default)]
pub(super) struct ScratchPool(Mutex<Vec<Scratch>>);

impl Clone for ScratchPool {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl ScratchPool {
    pub(super) fn take(&self) -> Scratch {
        self.0.lock().ok().and_then(|mut pool| pool.pop()).unwrap_or_default()
    }

    pub(super) fn put(&self, scratch: Scratch) {
        if let Ok(mut pool) = self.0.lock() {
            pool.push(scratch);
        }
    }
}
