//! The valid meter records of a payload, as extraction yields them.

/// A valid meter record, encoded for the ingest object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterRecord<'a> {
    /// Minified JSON object: the application's fields untouched, `uniqueId` added when it was missing.
    pub json: &'a str,
    /// `meterTimeInMillis`, which decides the ingest date.
    pub time_millis: i64,
    /// Whether `uniqueId` was derived by logmeter.
    pub derived_unique_id: bool,
    /// The invocation and tenant its line names, if any.
    pub origin: Origin<'a>,
}

/// What a meter record's line says about the invocation that logged it: the request id (the text prefix of the
/// Node.js and Python runtimes, or the JSON log format's `requestId`) and the tenant id (the JSON log format's
/// `tenantId`, in tenant isolation mode). Metadata for joins with invocation reports; never written into the
/// record itself, which goes to the billing platform as the application logged it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Origin<'a> {
    /// Lambda request id.
    pub request_id: Option<&'a str>,
    /// Tenant id (tenant isolation mode).
    pub tenant_id: Option<&'a str>,
}

/// The valid meter records of a payload, in log order. Their JSON lies back to back in one buffer: a payload's
/// records cost one growing allocation, not one each, and are copied once more, into their object body.
#[derive(Debug, Default, Clone)]
pub struct MeterRecords {
    text: String,
    records: Vec<Placed>,
    /// The request and tenant ids of lines that name them, back to back, and where each line's lie.
    origin_text: String,
    origins: Vec<[(u32, u32); 2]>,
}

/// No origin recorded.
const NO_ORIGIN: u32 = u32::MAX;

/// Where a record lies in [`MeterRecords::text`], with what the plan needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Placed {
    start: usize,
    end: usize,
    time_millis: i64,
    derived_unique_id: bool,
    /// Index into `origins`, or [`NO_ORIGIN`].
    origin: u32,
}

impl MeterRecords {
    /// Records that the records from the `from`th on came from a line naming `origin` (nothing is kept when it
    /// names neither id).
    pub fn set_origin(&mut self, from: usize, origin: Origin<'_>) {
        if from >= self.records.len() || (origin.request_id.is_none() && origin.tenant_id.is_none()) {
            return;
        }
        let mut span = |s: Option<&str>| match s {
            Some(s) => {
                let start = self.origin_text.len();
                self.origin_text.push_str(s);
                (start as u32, self.origin_text.len() as u32)
            }
            None => (NO_ORIGIN, NO_ORIGIN),
        };
        let spans = [span(origin.request_id), span(origin.tenant_id)];
        let index = self.origins.len() as u32;
        self.origins.push(spans);
        self.records[from..].iter_mut().for_each(|p| p.origin = index);
    }

    /// Appends a record whose JSON `write` appends to the buffer it is given.
    pub fn push_with(&mut self, time_millis: i64, derived_unique_id: bool, write: impl FnOnce(&mut String)) {
        self.text.truncate(self.draft_start());
        let start = self.text.len();
        write(&mut self.text);
        self.records.push(Placed { start, end: self.text.len(), time_millis, derived_unique_id, origin: NO_ORIGIN });
    }

    /// Writes a draft record at the end of the buffer with `write`, which leaves the buffer as it was when it
    /// returns `None`. The draft becomes a record only with [`Self::keep_draft`]; otherwise it undoes itself: it
    /// is not counted in [`Self::text_len`] and the next draft or record is written over it, so a failure path
    /// has nothing to unwind.
    pub(super) fn draft_with<T>(&mut self, write: impl FnOnce(&mut String) -> Option<T>) -> Option<T> {
        self.text.truncate(self.draft_start());
        write(&mut self.text)
    }

    /// Makes the draft a record, after `finish` has appended to it (a derived `uniqueId`).
    pub(super) fn keep_draft(&mut self, time_millis: i64, derived_unique_id: bool, finish: impl FnOnce(&mut String)) {
        let start = self.draft_start();
        finish(&mut self.text);
        self.records.push(Placed { start, end: self.text.len(), time_millis, derived_unique_id, origin: NO_ORIGIN });
    }

    /// Forgets the draft and every record after the first `len`.
    pub(super) fn truncate(&mut self, len: usize) {
        self.records.truncate(len);
        self.text.truncate(self.draft_start());
    }

    fn draft_start(&self) -> usize {
        self.records.last().map_or(0, |p| p.end)
    }

    /// Appends a record whose JSON is already minified.
    pub fn push(&mut self, json: &str, time_millis: i64, derived_unique_id: bool) {
        self.push_with(time_millis, derived_unique_id, |text| text.push_str(json));
    }

    /// Makes room for `records` more records of about `bytes` in all.
    pub fn reserve(&mut self, records: usize, bytes: usize) {
        self.records.reserve(records);
        self.text.reserve(bytes);
    }

    /// Bytes of the records' JSON (a draft not kept does not count).
    pub fn text_len(&self) -> usize {
        self.draft_start()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The `i`th record.
    pub fn get(&self, i: usize) -> Option<MeterRecord<'_>> {
        self.records.get(i).map(|p| self.record(p))
    }

    /// The records, in log order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = MeterRecord<'_>> + '_ {
        self.records.iter().map(|p| self.record(p))
    }

    fn origin(&self, index: u32) -> Origin<'_> {
        let Some(spans) = self.origins.get(index as usize) else {
            return Origin::default();
        };
        let text = |(start, end): (u32, u32)| self.origin_text.get(start as usize..end as usize);
        Origin { request_id: text(spans[0]), tenant_id: text(spans[1]) }
    }

    fn record(&self, p: &Placed) -> MeterRecord<'_> {
        MeterRecord {
            json: self.text.get(p.start..p.end).unwrap_or_default(),
            time_millis: p.time_millis,
            derived_unique_id: p.derived_unique_id,
            origin: self.origin(p.origin),
        }
    }
}

/// The same records, with the same origins (a draft not kept is no record).
impl PartialEq for MeterRecords {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl Eq for MeterRecords {}

impl FromIterator<(String, i64, bool)> for MeterRecords {
    /// Records from `(json, time_millis, derived_unique_id)`, in order.
    fn from_iter<I: IntoIterator<Item = (String, i64, bool)>>(iter: I) -> Self {
        let mut records = Self::default();
        for (json, time, derived) in iter {
            records.push(&json, time, derived);
        }
        records
    }
}
