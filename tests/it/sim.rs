//! A deterministic, seeded simulation of delivery: one seed draws a shard of records, a model of Lambda's event
//! source mapping (batches cut anywhere, partial batch responses, timeouts and deadlines in the middle of delivery
//! with bisection, `ParallelizationFactor` lanes run at the same time, warm and cold containers, the retry budget
//! and the failure destination, replays from an older position, the operator's `logmeter replay`) and faults (a
//! call refused before it wrote, an answer lost after the write committed, access denied, a call slower than the
//! client's timeout, a document's 429 or 400), and drives the real [`Handler`] through it over in-memory stores
//! that behave like the real ones: create-only objects with list-after-write, and, reached through logmeter's own
//! HTTP clients (`AwsHttp::in_process`), the search engine's bulk API, Prometheus's remote write receiver with its
//! TSDB rules, and the faithful billing platforms. Time is Tokio's paused clock.
//!
//! After every schedule the invariants are checked against the ground truth, a fault-free run of the same records
//! in one batch: each meter record exactly once across the ingest objects (its `uniqueId`, derived or logged,
//! included), each document once with the same content, the same quarantine objects, each billing event once or
//! kept as unsettled, Prometheus's samples the truth's, every key naming its body, and no failure reported by an
//! invocation that met no fault and came nowhere near its deadline. A failing seed prints its schedule, shrunk to
//! the faults it needs, and replays with `LOGMETER_SIM_SEED` (docs/simulation.md).
//!
//! Runs: `cargo test --test it sim` (the test suite's share, [`SCHEDULES`]); CI's 100,000 and longer runs:
//! `LOGMETER_SIM_SCHEDULES=100000 cargo test --profile sim --test it sim -- --nocapture`.

use crate::support::{gzip, record_with_data};
use logmeter::event::KinesisInput;
use logmeter::plan::Parcel;
use logmeter::sink::http::{Answer, AwsHttp, InProcessServer};
use logmeter::sink::{Delivery, ObjectSink, SinkError};
use logmeter::{Handler, PipelineConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Lambda's longest invocation.
const LAMBDA_LIMIT: std::time::Duration = std::time::Duration::from_secs(900);

/// Schedules per CI run.
const SCHEDULES: u64 = 2_000;

/// A small, fast, seeded generator (SplitMix64): the same seed gives the same schedule on every machine.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent` %.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A fault placed on one store call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Refused before anything was written (a 503).
    Refused,
    /// The write committed, then the answer was lost (a timeout after the store did it).
    AnswerLost,
    /// Access denied (a 403), before anything was written.
    Denied,
    /// Done, but answered [`SLOW`] later: past the client's timeout, and perhaps past the invocation's deadline.
    Slow,
}

/// How long a slow call takes: a second past the clients' timeout (10 s by default).
const SLOW: std::time::Duration = std::time::Duration::from_secs(11);

/// A call as faults are placed on it: what kind of call, on what, and how many times the same call was made
/// before. Faults go by what a call is, not by when it comes, so a schedule places the same faults however the
/// concurrent calls of its invocations interleave.
type CallId = (&'static str, String, u32);

/// Where the faults fall: drawn from the seed, or, when shrinking, exactly the ones listed.
#[derive(Debug, Clone)]
enum Faults {
    Drawn { seed: u64, percent: u64 },
    Listed(BTreeMap<CallId, Fault>),
}

impl Faults {
    fn of(&self, call: &CallId) -> Option<Fault> {
        match self {
            Self::Drawn { seed, percent } => {
                let h = fnv(call.0.bytes().chain([0]).chain(call.1.bytes()).chain(call.2.to_le_bytes()));
                let mut r = Rng(h ^ seed);
                r.chance(*percent).then(|| match r.below(6) {
                    0 | 1 => Fault::Refused,
                    2 | 3 => Fault::AnswerLost,
                    4 => Fault::Denied,
                    _ => Fault::Slow,
                })
            }
            Self::Listed(list) => list.get(call).copied(),
        }
    }
}

/// The stores' shared state: objects by key, documents by `(index, _id)`, Prometheus's samples, the fault plan and
/// what it placed.
#[derive(Debug)]
struct World {
    objects: BTreeMap<String, Vec<u8>>,
    documents: BTreeMap<(String, String), String>,
    /// The search engine's index templates, by path.
    templates: BTreeSet<String>,
    tsdb: Tsdb,
    faults: Faults,
    /// Store calls made so far.
    calls: u64,
    /// How many times each call was made.
    made: BTreeMap<(&'static str, String), u32>,
    /// Every fault placed.
    placed: BTreeMap<CallId, Fault>,
    /// When set, every later call fails: the invocation was stopped by its timeout.
    killed_after: Option<u64>,
    /// The clock the billing ledger reads (epoch ms): it passes the platforms' windows when the schedule says.
    clock: Arc<std::sync::atomic::AtomicI64>,
    /// Whether every call first yields once: a point where the interleaving explorer may switch invocations.
    yielding: bool,
    /// Whether calls take their [`latency`] (on the paused clock; the interleaving explorer runs without one).
    latency: bool,
}

/// Object store and search engine in one, over the [`World`].
#[derive(Debug, Clone)]
struct SimStore(Arc<Mutex<World>>);

impl World {
    fn new(faults: Faults) -> Self {
        Self {
            objects: BTreeMap::new(),
            documents: BTreeMap::new(),
            templates: BTreeSet::new(),
            tsdb: Tsdb::default(),
            faults,
            calls: 0,
            made: BTreeMap::new(),
            placed: BTreeMap::new(),
            killed_after: None,
            clock: Arc::new(std::sync::atomic::AtomicI64::new(NOW_MS)),
            yielding: false,
            latency: false,
        }
    }

    /// The fault of a `kind` call on `target`, if any; counts the call.
    fn fault(&mut self, kind: &'static str, target: &str) -> Result<Option<Fault>, SinkError> {
        self.calls += 1;
        if self.killed_after.is_some_and(|k| self.calls > k) {
            return Err(SinkError::Transient { target: target.into(), reason: "the invocation timed out".into() });
        }
        let made = self.made.entry((kind, target.to_owned())).or_insert(0);
        let call = (kind, target.to_owned(), *made);
        *made += 1;
        let fault = self.faults.of(&call);
        if let Some(f) = fault {
            self.placed.insert(call, f);
        }
        Ok(fault)
    }
}

impl SimStore {
    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fault of a `kind` call on `target`, if any; counts the call. Yields first when the world says so.
    async fn fault(&self, kind: &'static str, target: &str) -> Result<Option<Fault>, SinkError> {
        let (yielding, latency) = {
            let w = self.world();
            (w.yielding, w.latency)
        };
        if yielding {
            YieldOnce(false).await;
        }
        if latency {
            tokio::time::sleep(self::latency(kind, target)).await;
        }
        self.world().fault(kind, target)
    }

    fn refuse(target: &str, fault: Fault) -> SinkError {
        match fault {
            Fault::Denied => SinkError::AccessDenied {
                action: "s3:PutObject",
                target: target.into(),
                detail: "AccessDenied (simulated)".into(),
            },
            _ => SinkError::Transient { target: target.into(), reason: "503 (simulated)".into() },
        }
    }
}

impl ObjectSink for SimStore {
    async fn put(&self, object: &Parcel) -> Result<Delivery, SinkError> {
        let fault = self.fault("put", &object.key).await?;
        match fault {
            Some(f @ (Fault::Refused | Fault::Denied)) => return Err(Self::refuse(&object.key, f)),
            Some(Fault::Slow) => tokio::time::sleep(SLOW).await,
            _ => {}
        }
        let mut w = self.world();
        let delivery = match w.objects.get(&object.key) {
            Some(body) if *body == object.body => Delivery::AlreadyPresent,
            Some(_) => return Err(SinkError::Taken { target: object.key.clone() }),
            None => {
                w.objects.insert(object.key.clone(), object.body.clone());
                Delivery::Written
            }
        };
        match fault {
            Some(Fault::AnswerLost) => {
                Err(SinkError::Transient { target: object.key.clone(), reason: "answer lost".into() })
            }
            _ => Ok(delivery),
        }
    }

    async fn list(&self, prefix: &str, start_after: Option<&str>) -> Result<Vec<String>, SinkError> {
        match self.fault("list", &format!("{prefix} {start_after:?}")).await? {
            Some(Fault::Slow) => tokio::time::sleep(SLOW).await,
            Some(f) => return Err(Self::refuse(prefix, f)),
            None => {}
        }
        let w = self.world();
        let after = start_after.unwrap_or("");
        Ok(w.objects.keys().filter(|k| k.starts_with(prefix) && k.as_str() > after).cloned().collect())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, SinkError> {
        match self.fault("get", key).await? {
            Some(Fault::Slow) => tokio::time::sleep(SLOW).await,
            Some(f) => return Err(Self::refuse(key, f)),
            None => {}
        }
        self.world()
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| SinkError::Permanent { target: key.into(), reason: "no such key".into() })
    }
}

/// The search engine's HTTP API (`_bulk`, index templates) and Prometheus's remote write receiver, within the
/// process, over the [`World`]: the real clients (`SearchMirror`, `PrometheusHttp`) send to them as over the network.
/// A request draws its fault by its body; each document of a bulk request draws its own too (a 429 item, retried by
/// the client, or a 400 item, which logmeter quarantines).
impl InProcessServer for SimStore {
    fn answer(&self, request: http::Request<bytes::Bytes>) -> logmeter::sink::Boxed<'_, Option<Answer>> {
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            if path.starts_with("/_index_template/") {
                let mut w = self.world();
                if request.method() == http::Method::PUT {
                    w.templates.insert(path);
                    return Some(reply(200, "{\"acknowledged\":true}"));
                }
                return Some(reply(if w.templates.contains(&path) { 200 } else { 404 }, "{}"));
            }
            let kind = match path.as_str() {
                "/_bulk" => "bulk",
                "/api/v1/write" => "remote-write",
                _ => return Some(reply(404, "no such path")),
            };
            let fault = self.fault(kind, &digest(request.body())).await.ok()?;
            match fault {
                Some(Fault::Refused) => return Some(reply(503, "unavailable (simulated)")),
                Some(Fault::Denied) => return Some(reply(403, "forbidden (simulated)")),
                _ => {}
            }
            let answer = if kind == "bulk" { self.bulk(request.body())? } else { self.remote_write(request.body()) };
            match fault {
                Some(Fault::AnswerLost) => None,
                Some(Fault::Slow) => {
                    tokio::time::sleep(SLOW).await;
                    Some(answer)
                }
                _ => Some(answer),
            }
        })
    }
}

/// An answer with a body.
fn reply(status: u16, body: &str) -> Answer {
    Answer { status, headers: http::HeaderMap::new(), body: bytes::Bytes::from(body.to_owned()) }
}

/// FNV-1a of `bytes`.
fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

/// A request known by its body.
fn digest(bytes: &[u8]) -> String {
    format!("{:016x}", fnv(bytes.iter().copied()))
}

/// How long a call takes when nothing goes wrong, by what it is: 5–124 ms, and one call in 16 0.5–3 s (a tail).
fn latency(kind: &str, target: &str) -> std::time::Duration {
    let h = fnv(kind.bytes().chain([0]).chain(target.bytes()));
    std::time::Duration::from_millis(if h.is_multiple_of(16) { 500 + (h >> 8) % 2_500 } else { 5 + (h >> 8) % 120 })
}

impl SimStore {
    /// A bulk request's answer, item by item as the engine gives it: `create` per `(index, _id)` (409 for a known
    /// one), or the item's fault; `None` when the invocation was stopped on the way.
    fn bulk(&self, body: &[u8]) -> Option<Answer> {
        let mut items = Vec::new();
        for (action, source) in logmeter::output::search::client::pairs(body) {
            let a: serde_json::Value = serde_json::from_slice(action).ok()?;
            let (index, id) = (a["create"]["_index"].as_str()?.to_owned(), a["create"]["_id"].as_str()?.to_owned());
            let mut w = self.world();
            let (status, error) = match w.fault("bulk-item", &format!("{index} {id}")).ok()? {
                Some(Fault::Refused) => (429, Some("es_rejected_execution_exception")),
                Some(Fault::Denied) => (400, Some("mapper_parsing_exception")),
                _ => match w.documents.entry((index.clone(), id.clone())) {
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(String::from_utf8_lossy(source).into_owned());
                        (201, None)
                    }
                    std::collections::btree_map::Entry::Occupied(_) => (409, Some("version_conflict_engine_exception")),
                },
            };
            let mut item = serde_json::json!({"_index": index, "_id": id, "status": status});
            if let Some(kind) = error {
                item["error"] = serde_json::json!({"type": kind, "reason": "simulated"});
            }
            items.push(serde_json::json!({ "create": item }));
        }
        let errors = items.iter().any(|i| i["create"]["status"] != 201);
        Some(reply(200, &serde_json::json!({"took": 1, "errors": errors, "items": items}).to_string()))
    }

    /// A remote write request's answer: its samples appended at once under the TSDB's rules, or none of them with
    /// the first refusal (400), as Prometheus 2.42's receiver does.
    fn remote_write(&self, body: &[u8]) -> Answer {
        let Ok(raw) = snap::raw::Decoder::new().decompress_vec(body) else {
            return reply(400, "snappy: corrupt input");
        };
        let mut w = self.world();
        let mut next = w.tsdb.clone();
        for (series, t, v) in write_request(&raw) {
            if let Err(why) = next.append(series, t, v) {
                return reply(400, why);
            }
        }
        w.tsdb = next;
        reply(204, "")
    }
}

/// Prometheus's TSDB head as remote write meets it (2.42): per series, samples in time order, an exact duplicate of
/// the last one ignored and another value at its time refused; older samples within the out-of-order window kept
/// (one at a time that is taken already is dropped), outside it refused; nothing older than an hour before the
/// newest sample without that window.
#[derive(Debug, Clone, Default)]
struct Tsdb {
    /// Samples by series (its labels, `__name__` first) and time.
    series: BTreeMap<String, BTreeMap<i64, f64>>,
    /// Per series, the time of its newest sample appended in order.
    last: BTreeMap<String, i64>,
    /// The newest sample's time.
    head_max: Option<i64>,
    /// `storage.tsdb.out_of_order_time_window`, ms (0: off).
    window_ms: i64,
}

impl Tsdb {
    fn append(&mut self, series: String, t: i64, v: f64) -> Result<(), &'static str> {
        let min_valid = self.head_max.map_or(i64::MIN, |m| m - 3_600_000);
        let last = self.last.get(&series).copied();
        if t >= min_valid {
            match last {
                Some(l) if t == l => {
                    let same = self.series[&series][&t].to_bits() == v.to_bits();
                    return if same { Ok(()) } else { Err("duplicate sample for timestamp") };
                }
                Some(l) if t < l => {}
                _ => {
                    self.series.entry(series.clone()).or_default().insert(t, v);
                    self.last.insert(series, t);
                    self.head_max = Some(self.head_max.map_or(t, |m| m.max(t)));
                    return Ok(());
                }
            }
        }
        if self.window_ms > 0 && self.head_max.is_some_and(|m| t >= m - self.window_ms) {
            self.series.entry(series).or_default().entry(t).or_insert(v);
            return Ok(());
        }
        if self.window_ms > 0 {
            return Err("too old sample");
        }
        if t < min_valid {
            return Err("out of bounds");
        }
        Err("out of order sample")
    }
}

/// The samples of a `WriteRequest` (after snappy), read with the test's own protobuf reader: each series named by
/// its labels as sent.
fn write_request(mut bytes: &[u8]) -> Vec<(String, i64, f64)> {
    fn varint(bytes: &mut &[u8]) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        while let Some((b, rest)) = bytes.split_first() {
            *bytes = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        v
    }
    /// The next field: its number, and its bytes (length-delimited) or value (varint, fixed64 as bits).
    fn next<'a>(bytes: &mut &'a [u8]) -> (u64, &'a [u8], u64) {
        let key = varint(bytes);
        match key & 7 {
            0 => (key >> 3, &[], varint(bytes)),
            1 => {
                let (v, rest) = bytes.split_at(8);
                *bytes = rest;
                (key >> 3, &[], u64::from_le_bytes(v.try_into().unwrap()))
            }
            _ => {
                let len = varint(bytes) as usize;
                let (v, rest) = bytes.split_at(len);
                *bytes = rest;
                (key >> 3, v, 0)
            }
        }
    }
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (_, mut series, _) = next(&mut bytes);
        let (mut labels, mut samples) = (Vec::new(), Vec::new());
        while !series.is_empty() {
            let (n, mut inner, _) = next(&mut series);
            let (mut a, mut b) = (String::new(), (0i64, 0f64));
            while !inner.is_empty() {
                let (m, text, value) = next(&mut inner);
                match (n, m) {
                    (1, 1) => a = String::from_utf8_lossy(text).into_owned(),
                    (1, _) => a = format!("{a}={:?}", String::from_utf8_lossy(text)),
                    (_, 1) => b.1 = f64::from_bits(value),
                    _ => b.0 = value as i64,
                }
            }
            if n == 1 { labels.push(a) } else { samples.push(b) }
        }
        out.extend(samples.into_iter().map(|(t, v)| (labels.join(","), t, v)));
    }
    out
}

/// Pending once, then ready: the point where the interleaving explorer may switch to another invocation.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// A shard's records drawn from `rng`: a few log events each, among them meter lines with and without a
/// `uniqueId`, REPORT lines, lines that are not meter records and a broken tagged line (quarantined).
fn shard(rng: &mut Rng, records: usize) -> Vec<KinesisInput> {
    (0..records)
        .map(|i| {
            let lines: Vec<String> = (0..1 + rng.below(4))
                .map(|j| {
                    let customer = rng.below(3);
                    let value = rng.below(1000);
                    match rng.below(10) {
                        0..=3 => format!(
                            "meter_record_for_stream {{\"customerId\":\"c-{customer}\",\"meterApiName\":\"calls\",\"meterValue\":{value},\"meterTimeInMillis\":1795168800{i:03},\"uniqueId\":\"u-{i}-{j}\"}}"
                        ),
                        4..=5 => format!(
                            "meter_record_for_stream {{\"customerId\":\"c-{customer}\",\"meterApiName\":\"bytes\",\"meterValue\":{value},\"meterTimeInMillis\":1795168800{i:03}}}"
                        ),
                        6..=7 => format!(
                            "REPORT RequestId: 00000000-0000-4000-8000-{i:06}{j:06}\tDuration: {value}.25 ms\tBilled Duration: {} ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\t",
                            value + 1
                        ),
                        8 => "meter_record_for_stream {\"customerId\":".to_owned(),
                        _ => format!("an ordinary line {value}"),
                    }
                })
                .collect();
            let stream = format!("2026/11/20/[$LATEST]{:032x}", rng.below(2));
            let mut r = record(i, &stream, &lines);
            // The partition key picks the record's lane under ParallelizationFactor.
            r.kinesis.partition_key = format!("pk-{}", rng.below(4));
            r
        })
        .collect()
}

/// Record `i` of the shard (sequence number `49000 + i`): one payload of `stream` holding `lines`, each log event
/// with its own id, as CloudWatch Logs gives them (the documents' ids are made from it).
fn record(i: usize, stream: &str, lines: &[String]) -> KinesisInput {
    let events: Vec<_> = lines
        .iter()
        .enumerate()
        .map(|(j, m)| serde_json::json!({"id": format!("{}", 1_000_000 + i * 100 + j), "timestamp": 1_795_168_800_000_u64 + (i * 600_000 + j) as u64, "message": m}))
        .collect();
    let payload = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/sim",
        "logStream": stream, "subscriptionFilters": ["f"], "logEvents": events});
    record_with_data(&gzip(payload.to_string().as_bytes()), &(49_000 + i).to_string())
}

/// A cold container: it knows nothing yet, or its lookup of the function failed, or found it on one architecture or
/// the other. What it knows may change what a document says, never which document it is.
fn cold(handler: Handler, rng: &mut Rng) -> Handler {
    use logmeter::catalog::FunctionConfig;
    use logmeter::cost::Architecture;
    let found = |architecture, memory_mb| FunctionConfig {
        runtime: Some("python3.13".into()),
        memory_mb: Some(memory_mb),
        timeout_seconds: Some(30),
        handler: Some("app.handler".into()),
        architecture: Some(architecture),
    };
    match rng.below(4) {
        0 => {}
        1 => handler.catalog().insert("sim", None),
        2 => handler.catalog().insert("sim", Some(found(Architecture::Arm64, 256))),
        _ => handler.catalog().insert("sim", Some(found(Architecture::X86_64, 1024))),
    }
    handler
}

/// The well-formed meter lines the records hold (each names its customer and meter), read back from their data.
fn records_meter_lines(records: &[KinesisInput]) -> usize {
    use base64::Engine as _;
    records
        .iter()
        .map(|r| {
            let gz = base64::engine::general_purpose::STANDARD.decode(&r.kinesis.data).unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text).unwrap();
            let payload: serde_json::Value = serde_json::from_str(&text).unwrap();
            payload["logEvents"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["message"].as_str().is_some_and(|m| m.contains("\"meterApiName\"")))
                .count()
        })
        .sum()
}

/// What the users of the stores see, compared with the ground truth.
#[derive(Debug, PartialEq)]
struct Seen {
    /// Every meter record in the ingest objects (as canonical JSON, its `uniqueId` included), counted.
    meters: BTreeMap<String, usize>,
    documents: BTreeMap<(String, String), String>,
    quarantine: BTreeSet<String>,
    /// Per platform, the ids of events kept as unsettled.
    unsettled: BTreeMap<String, BTreeSet<String>>,
    /// Per platform, the ids its ledger recorded as accepted.
    recorded: BTreeMap<String, BTreeSet<String>>,
    /// Prometheus's samples, by series and time.
    samples: BTreeMap<String, BTreeMap<i64, f64>>,
    /// The samples of the Prometheus requests kept in the quarantine, refused or spooled (series and time).
    kept_samples: BTreeSet<(String, i64)>,
    /// Requests Prometheus refused for good.
    refused: usize,
}

/// The quarantine prefix (`QUARANTINE_PREFIX`'s default).
const QUARANTINE: &str = "logmeter-quarantine";

/// Quarantine folders that are not compared with the truth's: billing events kept as unsettled (counted against
/// what the platforms billed), what `logmeter replay` sends again (spooled bodies and requests, refused documents),
/// and Prometheus's refusals (their samples are counted against its own).
const NOT_COMPARED: [&str; 5] =
    ["billing-unsettled", "search-spool", "search-rejected", "prometheus-spool", "prometheus-rejected"];

fn seen(world: &World, ingest_prefix: &str) -> Seen {
    let mut meters = BTreeMap::new();
    for (key, body) in world.objects.range(ingest_prefix.to_owned()..).take_while(|(k, _)| k.starts_with(ingest_prefix))
    {
        for raw in logmeter::output::ingest::object_records(key, body).unwrap() {
            let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
            *meters.entry(v.to_string()).or_insert(0) += 1;
        }
    }
    let folder = |k: &str| k.strip_prefix(QUARANTINE).and_then(|k| k.split('/').nth(1)).map(str::to_owned);
    let quarantine = world
        .objects
        .keys()
        .filter(|k| folder(k).is_some_and(|f| !NOT_COMPARED.contains(&f.as_str())))
        .cloned()
        .collect();
    // The samples of Prometheus requests kept in the quarantine: refused, or spooled (and perhaps refused when
    // replayed).
    let (mut kept_samples, mut refused) = (BTreeSet::new(), 0);
    for (key, body) in world.objects.iter() {
        use base64::Engine as _;
        let body = match folder(key).as_deref() {
            Some("prometheus-rejected") => {
                refused += 1;
                let kept: serde_json::Value = serde_json::from_slice(body).unwrap();
                base64::engine::general_purpose::STANDARD.decode(kept["body_base64"].as_str().unwrap()).unwrap()
            }
            Some("prometheus-spool") => body.clone(),
            _ => continue,
        };
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap_or_else(|e| panic!("{key}: {e}"));
        kept_samples.extend(write_request(&raw).into_iter().map(|(series, t, _)| (series, t)));
    }
    const UNSETTLED: &str = "logmeter-quarantine/billing-unsettled/";
    let mut unsettled: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, body) in world.objects.range(UNSETTLED.to_owned()..).take_while(|(k, _)| k.starts_with(UNSETTLED)) {
        let platform = key[UNSETTLED.len()..].split('/').next().unwrap_or("").to_owned();
        let kept: Vec<serde_json::Value> = serde_json::from_slice(body).unwrap();
        unsettled.entry(platform).or_default().extend(kept.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
    }
    // What the lookup found (`aws.lambda.function`) is left out: containers know different things.
    let documents = world
        .documents
        .iter()
        .map(|(k, v)| {
            let mut doc: serde_json::Value = serde_json::from_str(v).unwrap();
            if let Some(lambda) = doc.pointer_mut("/aws/lambda").and_then(|l| l.as_object_mut()) {
                lambda.remove("function");
            }
            (k.clone(), doc.to_string())
        })
        .collect();
    // What each platform's ledger says it accepted (its entries, not its intents).
    let mut recorded: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, body) in
        world.objects.range("logmeter-ledger/".to_owned()..).take_while(|(k, _)| k.starts_with("logmeter-ledger/"))
    {
        let mut parts = key.split('/').skip(1);
        let (Some(platform), Some(folder)) = (parts.next(), parts.next()) else { continue };
        if folder != "intent" {
            let ids: Vec<String> = serde_json::from_slice(body).unwrap();
            recorded.entry(platform.to_owned()).or_default().extend(ids);
        }
    }
    Seen {
        meters,
        documents,
        quarantine,
        unsettled,
        recorded,
        samples: world.tsdb.series.clone(),
        kept_samples,
        refused,
    }
}

/// One schedule's shape, drawn from its seed.
#[derive(Debug, Clone)]
struct Shape {
    records: usize,
    config: PipelineConfig,
    search: logmeter::output::search::SearchConfig,
    prometheus: Option<logmeter::output::prometheus::PrometheusConfig>,
    /// Prometheus's out-of-order window, ms (0: off).
    ooo_window_ms: i64,
    /// The function's timeout: each invocation's deadline, or none (as `logmeter process` runs).
    deadline: Option<std::time::Duration>,
    billing: bool,
    max_batch: usize,
    max_retries: u32,
    bisect: bool,
    lanes: usize,
    fault_percent: u64,
    timeout_percent: u64,
    cold_percent: u64,
    window_percent: u64,
}

/// The billing platforms every billing schedule delivers to.
const PLATFORMS: [&str; 4] = ["stripe", "metronome", "openmeter", "amberflo"];

/// The simulated clock's "now" for the platforms' time rules (the records are of 2026-11-20).
const NOW_MS: i64 = 1_795_200_000_000;

fn shape(seed: u64) -> (Shape, Rng) {
    let mut rng = Rng(seed);
    let billing = rng.chance(30);
    let mut env: BTreeMap<String, String> = BTreeMap::from([("LOGMETER_THREADS".into(), "1".into())]);
    if billing {
        env.insert("BILLING_PLATFORMS".into(), PLATFORMS.join(","));
        for p in PLATFORMS {
            env.insert(format!("{}_API_URL", p.to_uppercase()), "http://in-process".into());
            env.insert(format!("{}_API_KEY", p.to_uppercase()), crate::billing_fake::KEY.into());
        }
    }
    let spool = |yes| if yes { "spool" } else { "retry" }.to_owned();
    env.insert("SEARCH_URL".into(), "http://search.in-process".into());
    env.insert("SEARCH_FAILURE_MODE".into(), spool(rng.chance(50)));
    if rng.chance(60) {
        env.insert("PROMETHEUS_REMOTE_WRITE_URL".into(), "http://prometheus.in-process/api/v1/write".into());
        env.insert("PROMETHEUS_FAILURE_MODE".into(), spool(rng.chance(70)));
    }
    let lookup = |k: &str| env.get(k).cloned();
    let mut config = PipelineConfig::from_lookup(lookup).unwrap();
    config.outputs.ingest.max_object_records = 1 + rng.below(4) as usize;
    config.outputs.ingest.layout = if rng.chance(70) {
        logmeter::output::ingest::IngestLayout::Batch
    } else {
        logmeter::output::ingest::IngestLayout::Record
    };
    config.outputs.search.bulk_max_actions = 1 + rng.below(6) as usize;
    let shape = Shape {
        records: 2 + rng.below(9) as usize,
        config,
        search: logmeter::output::search::SearchConfig::from_lookup(&lookup).unwrap().unwrap(),
        prometheus: logmeter::output::prometheus::PrometheusConfig::from_lookup(&lookup).unwrap(),
        ooo_window_ms: [30 * 24 * 3_600_000, 30 * 24 * 3_600_000, 3_600_000, 0][rng.below(4) as usize],
        deadline: [None, Some(3), Some(8), Some(15), Some(60), Some(900)][rng.below(6) as usize]
            .map(std::time::Duration::from_secs),
        billing,
        max_batch: 1 + rng.below(8) as usize,
        max_retries: rng.below(6) as u32,
        bisect: rng.chance(50),
        lanes: 1 + rng.below(3) as usize,
        fault_percent: rng.below(35),
        timeout_percent: rng.below(20),
        cold_percent: rng.below(60),
        window_percent: rng.below(30),
    };
    (shape, rng)
}

/// The billing platforms (the faithful platforms of the billing tests, within the process), with faults placed on
/// requests by what they are, as the stores' are: 503, 429 asking for a second or for two minutes (longer than
/// logmeter waits), and an answer lost after the platform took the events.
#[derive(Debug)]
struct SimPlatforms {
    fake: crate::billing_fake::BillingFake,
    world: SimStore,
    /// A platform down for the whole invocation: every request answers 503.
    down: Mutex<Option<&'static str>>,
}

impl InProcessServer for SimPlatforms {
    fn answer(&self, request: http::Request<bytes::Bytes>) -> logmeter::sink::Boxed<'_, Option<Answer>> {
        use crate::billing_fake::Fault as Api;
        Box::pin(async move {
            let platform = crate::billing_fake::platform_of(request.uri().path()).unwrap_or("stripe");
            // A request is known by its platform and the digest of its body.
            let fault = self.world.fault("billing", &format!("{platform} {}", digest(request.body()))).await;
            if *self.down.lock().unwrap() == Some(platform) {
                self.fake.fault(platform, Api::Status(503));
                return self.fake.answer(request).await;
            }
            match fault {
                Err(_) => return None,
                Ok(Some(Fault::Refused)) => self.fake.fault(platform, Api::Status(503)),
                Ok(Some(Fault::AnswerLost)) => self.fake.fault(platform, Api::LostAnswer),
                Ok(Some(Fault::Denied)) => {
                    let seconds = if request.body().len().is_multiple_of(2) { 1 } else { 120 };
                    self.fake.fault(platform, Api::SlowDown(seconds))
                }
                Ok(Some(Fault::Slow)) => {
                    let answer = self.fake.answer(request).await;
                    tokio::time::sleep(SLOW).await;
                    return answer;
                }
                Ok(None) => {}
            }
            self.fake.answer(request).await
        })
    }
}

/// Every platform's de-duplication window passes (Metronome's, the longest, is 34 days).
fn pass_windows(store: &SimStore, platforms: &SimPlatforms) {
    store.world().clock.fetch_add(35 * 24 * 3600 * 1000, std::sync::atomic::Ordering::SeqCst);
    platforms.fake.forget();
}

/// A handler over `store` (ingest, quarantine, search, the billing ledger) and `platforms`.
fn handler(shape: &Shape, store: &SimStore, platforms: Option<&Arc<SimPlatforms>>) -> Handler {
    use logmeter::output::billing::Reach;
    let billing = logmeter::output::billing::Stores {
        reach: platforms.map_or(Reach::None, |p| Reach::InProcess(Arc::clone(p) as Arc<dyn InProcessServer>)),
        ledger: Some(Arc::new(store.clone())),
        clock: logmeter::output::billing::Clock::set_by(store.world().clock.clone()),
    };
    let stores = logmeter::output::Stores {
        ingest: store.clone(),
        quarantine: store.clone(),
        search: Some(mirror(shape, store)),
        spool: shape.search.failure_mode == logmeter::config::FailureMode::Spool,
        prometheus: shape.prometheus.as_ref().map(|p| (p.clone(), metrics(p, store))),
        billing,
    };
    Handler::assemble(shape.config.clone(), stores)
}

/// The search mirror, its client reaching the in-process engine over `store`.
fn mirror(shape: &Shape, store: &SimStore) -> logmeter::output::search::SearchMirror {
    use logmeter::output::search::client::SearchHttp;
    let http = AwsHttp::in_process(Arc::new(store.clone()), SearchHttp::timeout(&shape.search));
    logmeter::startup::search_mirror(&shape.config, &shape.search, SearchHttp::over(&shape.search, http, None))
}

/// The Prometheus client, reaching the in-process receiver over `store`.
fn metrics(
    config: &logmeter::output::prometheus::PrometheusConfig,
    store: &SimStore,
) -> logmeter::output::prometheus::PrometheusHttp {
    use logmeter::output::prometheus::PrometheusHttp;
    PrometheusHttp::over(config, AwsHttp::in_process(Arc::new(store.clone()), PrometheusHttp::timeout(config)))
}

/// What each platform billed, by event, counted.
fn billed(platforms: Option<&Arc<SimPlatforms>>) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut out = BTreeMap::new();
    for p in platforms.into_iter() {
        for name in PLATFORMS {
            let counted: &mut BTreeMap<String, usize> = out.entry(name.to_owned()).or_default();
            for b in p.fake.billed(name) {
                *counted.entry(format!("{} {} {} {}", b.customer, b.meter, b.value, b.id)).or_insert(0) += 1;
            }
        }
    }
    out
}

/// Runs the schedule of `seed` (its faults as drawn, or exactly `listed`); `Err` names the invariant broken.
fn run(
    seed: u64,
    listed: Option<&BTreeMap<CallId, Fault>>,
) -> (Result<(), String>, BTreeMap<CallId, Fault>, Vec<String>) {
    let (shape, mut rng) = shape(seed);
    let records = shard(&mut rng, shape.records);
    // A paused clock: the platforms' `Retry-After` and the backoff pass at once, the same way on every run.
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    let prefix = shape.config.outputs.ingest.prefix.clone();
    let platforms_over = |store: &SimStore| {
        shape.billing.then(|| {
            Arc::new(SimPlatforms {
                fake: crate::billing_fake::BillingFake::in_process(NOW_MS),
                world: store.clone(),
                down: Mutex::new(None),
            })
        })
    };

    // The ground truth: every record once, in one batch, no fault.
    // Backoff jitter drawn from the seed: the paused clock moves the same on every run.
    logmeter::sink::http::seed_jitter(Some(seed));
    let world = |faults| {
        let mut w = World::new(faults);
        w.tsdb.window_ms = shape.ooo_window_ms;
        w.latency = true;
        SimStore(Arc::new(Mutex::new(w)))
    };
    let truth_store = world(Faults::Listed(BTreeMap::new()));
    let truth_platforms = platforms_over(&truth_store);
    let out = rt.block_on(
        handler(&shape, &truth_store, truth_platforms.as_ref())
            .handle(&logmeter::KinesisBatch { records: records.clone() }, None),
    );
    assert!(out.response.batch_item_failures.is_empty(), "seed {seed}: the fault-free run failed");
    let truth = seen(&truth_store.world(), &prefix);
    // The truth itself against what the functions logged: every well-formed meter line, once.
    let logged = records_meter_lines(&records);
    assert_eq!(
        truth.meters.values().sum::<usize>(),
        logged,
        "seed {seed}: the fault-free run lost or doubled a record"
    );
    assert_eq!(truth.kept_samples.len(), 0, "seed {seed}: the fault-free run kept Prometheus requests");
    let truth_billed = billed(truth_platforms.as_ref());

    let faults = match listed {
        Some(l) => Faults::Listed(l.clone()),
        None => Faults::Drawn { seed, percent: shape.fault_percent },
    };
    let store = world(faults);
    let platforms = platforms_over(&store);
    // What the schedule did, step by step, for its report.
    let mut trace: Vec<String> = Vec::new();
    let mut containers: Vec<Handler> = Vec::new();
    // The lanes of ParallelizationFactor: a partition key's records stay in order within its lane.
    let lane_of = |r: &KinesisInput| {
        let pk = r.kinesis.partition_key.trim_start_matches("pk-").parse::<usize>().unwrap_or(0);
        pk % shape.lanes
    };
    let lanes: Vec<Vec<KinesisInput>> =
        (0..shape.lanes).map(|l| records.iter().filter(|r| lane_of(r) == l).cloned().collect()).collect();
    let mut pos = vec![0usize; shape.lanes];
    let mut attempts = vec![0u32; shape.lanes];
    let mut limit = vec![shape.max_batch; shape.lanes];
    let mut failure_destination: Vec<KinesisInput> = Vec::new();
    let mut result = Ok(());
    while (0..shape.lanes).any(|l| pos[l] < lanes[l].len()) && result.is_ok() {
        // One lane's batch, or two lanes' at the same time.
        let open: Vec<usize> = (0..shape.lanes).filter(|&l| pos[l] < lanes[l].len()).collect();
        let first = open[rng.below(open.len() as u64) as usize];
        let second = (open.len() > 1 && rng.chance(40)).then(|| *open.iter().find(|&&l| l != first).unwrap());
        let mut batches = Vec::new();
        for lane in [Some(first), second].into_iter().flatten() {
            let size = 1 + rng.below(limit[lane] as u64) as usize;
            let end = (pos[lane] + size).min(lanes[lane].len());
            let batch = logmeter::KinesisBatch { records: lanes[lane][pos[lane]..end].to_vec() };
            // A warm container (one that ran earlier batches) or a cold one.
            let warm = !containers.is_empty() && !rng.chance(shape.cold_percent);
            let container = if warm {
                rng.below(containers.len() as u64) as usize
            } else {
                containers.push(cold(handler(&shape, &store, platforms.as_ref()), &mut rng));
                containers.len() - 1
            };
            batches.push((lane, batch, container));
        }
        // The platforms' de-duplication window passes.
        if let Some(p) = platforms.as_ref().filter(|_| rng.chance(shape.window_percent)) {
            pass_windows(&store, p);
            trace.push("the platforms' de-duplication windows pass".into());
        }
        // A platform's outage for the whole invocation.
        let down = platforms.as_ref().filter(|_| rng.chance(10)).map(|p| {
            let name = PLATFORMS[rng.below(PLATFORMS.len() as u64) as usize];
            *p.down.lock().unwrap() = Some(name);
            trace.push(format!("{name} is down"));
            name
        });
        let killed = rng.chance(shape.timeout_percent).then(|| rng.below(6));
        let placed_before = {
            let mut w = store.world();
            w.killed_after = killed.map(|k| w.calls + k);
            w.placed.len()
        };
        // No invocation outlives Lambda's 15 minutes (of the paused clock): every retry loop has a cap.
        // Lambda stops an invocation at its deadline; without one, no invocation outlives Lambda's 15 minutes (of
        // the paused clock): every retry loop has a cap.
        let invocations = futures_util::future::join_all(batches.iter().map(|(_, batch, c)| {
            let container = &containers[*c];
            async move {
                match shape.deadline {
                    Some(d) => {
                        let deadline = tokio::time::Instant::now() + d;
                        let out = tokio::time::timeout(d, container.handle(batch, Some(deadline))).await.ok();
                        // Whether it stopped delivering for its deadline: no more than the margin left (a request
                        // is cut when exactly the margin is left).
                        let near = deadline - tokio::time::Instant::now() <= logmeter::handler::DEADLINE_MARGIN;
                        (out, near)
                    }
                    None => (Some(container.handle(batch, None).await), false),
                }
            }
        }));
        let outcomes = rt.block_on(async { tokio::time::timeout(LAMBDA_LIMIT + SLOW, invocations).await });
        if let (Some(p), Some(_)) = (&platforms, down) {
            *p.down.lock().unwrap() = None;
        }
        let Ok(outcomes) = outcomes else {
            result = Err("an invocation ran past Lambda's 15 minutes: a retry loop without a cap".into());
            break;
        };
        let (faulted, timed_out) = {
            let mut w = store.world();
            let timed_out = w.killed_after.is_some_and(|k| w.calls > k);
            w.killed_after = None;
            (w.placed.len() > placed_before || down.is_some(), timed_out)
        };
        for ((lane, batch, container), (out, near_deadline)) in batches.iter().zip(outcomes) {
            let lane = *lane;
            // Stopped after some calls, or at its deadline.
            let timed_out = timed_out || out.is_none();
            let failure =
                out.and_then(|o| o.response.batch_item_failures.first().and_then(|f| f.item_identifier.clone()));
            trace.push(format!(
                "lane {lane} records {}..{} container {container}{}: {}",
                pos[lane],
                pos[lane] + batch.records.len(),
                if timed_out { " (timed out)" } else { "" },
                failure.as_deref().map_or("delivered".to_owned(), |s| format!("retry from {s:?}"))
            ));
            // An invocation that met no fault, was not stopped and did not come near its deadline delivers everything.
            if !faulted && !timed_out && !near_deadline && failure.is_some() {
                result = Err(format!("an invocation that met no fault reported {failure:?}"));
            }
            let done = if timed_out {
                0
            } else {
                match &failure {
                    None => batch.records.len(),
                    Some(seq) => batch.records.iter().position(|r| r.kinesis.sequence_number == *seq).unwrap_or(0),
                }
            };
            if done == batch.records.len() {
                pos[lane] += done;
                attempts[lane] = 0;
                limit[lane] = shape.max_batch;
                continue;
            }
            pos[lane] += done;
            attempts[lane] += 1;
            if timed_out && shape.bisect {
                limit[lane] = (batch.records.len() / 2).max(1);
            }
            if attempts[lane] > shape.max_retries {
                // The retry budget is spent: the rest of the batch goes to the failure destination.
                let end = pos[lane] + (batch.records.len() - done);
                failure_destination.extend(lanes[lane][pos[lane]..end].iter().cloned());
                trace.push(format!("lane {lane} records {}..{end} to the failure destination", pos[lane]));
                pos[lane] = end;
                attempts[lane] = 0;
            }
        }
    }
    // The operator replays the failure destination (`logmeter replay`), and an older position is read again,
    // after the platforms' window.
    store.world().faults = Faults::Listed(BTreeMap::new());
    let fresh = handler(&shape, &store, platforms.as_ref());
    if !failure_destination.is_empty() {
        trace.push(format!("replay of the failure destination ({} records)", failure_destination.len()));
        let batch = logmeter::KinesisBatch { records: failure_destination };
        let out = rt.block_on(async { tokio::time::timeout(LAMBDA_LIMIT, fresh.handle(&batch, None)).await });
        let failed = out.map_or(true, |out| !out.response.batch_item_failures.is_empty());
        if result.is_ok() && failed {
            result = Err("the replay of the failure destination failed without a fault".into());
        }
    }
    if rng.chance(30) {
        let from = rng.below(records.len() as u64) as usize;
        if let Some(p) = &platforms {
            pass_windows(&store, p);
        }
        trace.push(format!("replay from record {from}, past the platforms' window"));
        let batch = logmeter::KinesisBatch { records: records[from..].to_vec() };
        let out = rt.block_on(async { tokio::time::timeout(LAMBDA_LIMIT, fresh.handle(&batch, None)).await });
        let failed = out.map_or(true, |out| !out.response.batch_item_failures.is_empty());
        if result.is_ok() && failed {
            result = Err("a replay from an older position failed without a fault".into());
        }
    }
    // Then `logmeter replay` of the quarantine: spooled bulk bodies, refused documents, spooled Prometheus requests.
    let search = mirror(&shape, &store);
    let prometheus = shape.prometheus.as_ref().map(|p| metrics(p, &store));
    let targets = logmeter::replay::Targets {
        handler: &fresh,
        search: Some(&search),
        metrics: prometheus.as_ref().map(|m| (m, logmeter::output::prometheus::PrometheusMode::RemoteWrite)),
    };
    let replayed = rt.block_on(logmeter::replay::replay(&store, QUARANTINE, targets));
    trace.push(format!(
        "logmeter replay: {:?}",
        replayed.as_ref().map(|r| (&r.skipped, r.replayed_search_bodies, r.replayed_prometheus_requests))
    ));
    if let (Ok(()), Err(e)) = (&result, &replayed) {
        result = Err(format!("logmeter replay failed without a fault: {e}"));
    }
    let world = store.world();
    let now = seen(&world, &prefix);
    let same = now.meters == truth.meters && now.documents == truth.documents && now.quarantine == truth.quarantine;
    if result.is_ok() && !same {
        let twice: Vec<_> = now
            .meters
            .iter()
            .filter(|(m, n)| truth.meters.get(*m) != Some(n))
            .map(|(m, n)| format!("{n}× {m}"))
            .collect();
        let lost: Vec<_> = truth.meters.keys().filter(|m| !now.meters.contains_key(*m)).collect();
        let docs: Vec<_> = now
            .documents
            .iter()
            .filter(|(k, v)| truth.documents.get(*k) != Some(v))
            .map(|(k, v)| format!("{k:?}: {v} (truth: {:?})", truth.documents.get(k)))
            .chain(truth.documents.keys().filter(|k| !now.documents.contains_key(*k)).map(|k| format!("{k:?} missing")))
            .collect();
        let quarantine: Vec<_> = now.quarantine.symmetric_difference(&truth.quarantine).collect();
        result = Err(format!(
            "the stores differ from the ground truth: meter records counted wrongly {twice:?}, lost {lost:?}, documents {docs:?}, quarantine objects {quarantine:?}"
        ));
    }
    // Each platform billed each event of the truth once, or it is kept as unsettled; never twice, never another.
    let now_billed = billed(platforms.as_ref());
    let mut wrong = Vec::new();
    for (platform, events) in &truth_billed {
        let got = now_billed.get(platform).cloned().unwrap_or_default();
        let unsettled = now.unsettled.get(platform).cloned().unwrap_or_default();
        for (event, n) in &got {
            if *n != 1 || !events.contains_key(event) {
                wrong.push(format!("{platform}: {n}× {event}"));
            }
        }
        // Kept as unsettled only when its answer was never recorded: what the ledger holds is known to be billed.
        let recorded = now.recorded.get(platform).cloned().unwrap_or_default();
        wrong.extend(
            unsettled.intersection(&recorded).map(|id| format!("{platform}: {id} recorded, yet kept as unsettled")),
        );
        for event in events.keys().filter(|e| !got.contains_key(*e)) {
            // OpenMeter's id is `<source>/<id>`.
            let id = event.rsplit(' ').next().unwrap_or("").rsplit('/').next().unwrap_or("");
            if !unsettled.contains(id) {
                wrong.push(format!("{platform}: {event} neither billed nor kept"));
            }
        }
    }
    if result.is_ok() && !wrong.is_empty() {
        result = Err(format!(
            "a billing platform billed other than once per record: {wrong:?} (kept as unsettled: {:?})",
            now.unsettled
        ));
    }
    if let (Ok(()), Some(_)) = (&result, &shape.prometheus) {
        result = prometheus_holds_the_truth(&now, &truth, shape.ooo_window_ms);
    }
    // Every key names its body (its digest), so a 412 on it proves the same bytes are there: the S3 sink counts it
    // as delivered without reading it back. A key that did not would need the read-back.
    if let Some(key) = world.objects.iter().find(|(k, b)| !logmeter::plan::names_content(k, b)).map(|(k, _)| k) {
        result = result.and(Err(format!("{key} does not name its body: a 412 on it would prove nothing")));
    }
    (result, world.placed.clone(), trace)
}

/// Prometheus holds only the truth's samples, each with the truth's value, and each of the truth's: with an
/// out-of-order window wide enough for every re-delivery, exactly the truth's, so `sum_over_time` of every metric is
/// the truth's; with a narrow one (or none), a sample may instead be in a request kept in the quarantine (refused,
/// or spooled and refused when replayed), never lost.
fn prometheus_holds_the_truth(now: &Seen, truth: &Seen, window_ms: i64) -> Result<(), String> {
    let wide = window_ms >= 24 * 3_600_000;
    let mut wrong = Vec::new();
    for (series, held) in &now.samples {
        for (t, v) in held {
            let want = truth.samples.get(series).and_then(|s| s.get(t));
            if want != Some(v) {
                wrong.push(format!("{series} at {t}: {v} (truth: {want:?})"));
            }
        }
    }
    for (series, held) in &truth.samples {
        for t in held.keys() {
            let kept = now.samples.get(series).is_some_and(|s| s.contains_key(t));
            let in_quarantine = now.kept_samples.contains(&(series.clone(), *t));
            if !kept && (wide || !in_quarantine) {
                wrong.push(format!("{series} at {t}: lost"));
            }
        }
    }
    if wide && now.refused > 0 {
        wrong.push(format!("{} requests refused with a window wider than every re-delivery", now.refused));
    }
    // What users query: `sum_over_time` of each metric over all time.
    let sums = |seen: &Seen| {
        let mut out: BTreeMap<String, f64> = BTreeMap::new();
        for (series, held) in &seen.samples {
            let metric = series.split(',').next().unwrap_or("").to_owned();
            *out.entry(metric).or_default() += held.values().sum::<f64>();
        }
        out
    };
    if wide && sums(now) != sums(truth) {
        wrong.push(format!("sum_over_time {:?}, truth {:?}", sums(now), sums(truth)));
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(format!("Prometheus differs from the ground truth (out-of-order window {window_ms} ms): {wrong:?}"))
}

/// The faults of a failing schedule that it needs: each dropped in turn, kept only when the failure goes with it.
fn shrink(seed: u64, placed: BTreeMap<CallId, Fault>) -> BTreeMap<CallId, Fault> {
    let mut needed = placed;
    for call in needed.keys().cloned().collect::<Vec<_>>() {
        let mut fewer = needed.clone();
        fewer.remove(&call);
        if run(seed, Some(&fewer)).0.is_err() {
            needed = fewer;
        }
    }
    needed
}

/// Runs `seed`'s schedule; on a broken invariant, its report, shrunk.
fn failure(seed: u64) -> Option<String> {
    let (result, placed, _) = run(seed, None);
    let e = result.err()?;
    let needed = shrink(seed, placed.clone());
    let (again, _, trace) = run(seed, Some(&needed));
    Some(format!(
        "seed {seed}: {e}\nshape: {:?}\nfaults needed (of {} placed): {needed:?}\nstill failing with only those: {}\nschedule:\n  {}\nreplay: LOGMETER_SIM_SEED={seed} cargo test --test it sim",
        shape(seed).0,
        placed.len(),
        again.is_err(),
        trace.join("\n  ")
    ))
}

#[test]
fn simulated_schedules_keep_every_invariant() {
    if let Some(seed) = std::env::var("LOGMETER_SIM_SEED").ok().and_then(|s| s.parse().ok()) {
        if let Some(report) = failure(seed) {
            panic!("{report}");
        }
        return;
    }
    let schedules = std::env::var("LOGMETER_SIM_SCHEDULES").ok().and_then(|s| s.parse().ok()).unwrap_or(SCHEDULES);
    let started = std::time::Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let first_failure: Option<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || (0..schedules).filter(|i| i % threads == t).find_map(failure)))
            .collect();
        workers.into_iter().filter_map(|w| w.join().unwrap()).next()
    });
    if let Some(report) = first_failure {
        panic!("{report}");
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{schedules} schedules in {secs:.1} s on {threads} threads: {:.0} schedules/s", schedules as f64 / secs);
}

/// Every interleaving of two concurrent batches of one shard (`ParallelizationFactor` 2: records 0 and 2 in one,
/// 1 and 3 in the other, so each reads the other's objects under the batch layout's retry rule), with a fault on
/// any one call of either (refused, or its answer lost after the write), then the failed batch retried from the
/// reported record, or bisected: each stop of every schedule checked against the ground truth. An explicit
/// model check of the retry rule over the real handler: the explorer picks which invocation runs at each store
/// call, depth first over every choice.
#[test]
fn every_interleaving_of_two_concurrent_batches_a_retry_and_a_bisect_delivers_once() {
    // One meter record each.
    let records: Vec<KinesisInput> = (0..4)
        .map(|i| {
            let line = format!(
                "meter_record_for_stream {{\"customerId\":\"c-{i}\",\"meterApiName\":\"calls\",\"meterValue\":{i},\"meterTimeInMillis\":1795168800000,\"uniqueId\":\"m-{i}\"}}"
            );
            record(i, "s", &[line])
        })
        .collect();
    // Objects of up to two records: a batch's records share one, which a bisection splits.
    let mut config = PipelineConfig { threads: 1, ..PipelineConfig::default() };
    config.outputs.ingest.max_object_records = 2;
    let handler = |store: &SimStore| {
        let stores = logmeter::output::Stores {
            ingest: store.clone(),
            quarantine: store.clone(),
            search: None::<logmeter::sink::LocalDir>,
            spool: false,
            prometheus: None::<(logmeter::output::prometheus::PrometheusConfig, logmeter::sink::LocalDir)>,
            billing: logmeter::output::billing::Stores::default(),
        };
        Handler::assemble(config.clone(), stores)
    };
    let batch = |idx: &[usize]| logmeter::KinesisBatch { records: idx.iter().map(|&i| records[i].clone()).collect() };
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let truth_store = SimStore(Arc::new(Mutex::new(World::new(Faults::Listed(BTreeMap::new())))));
    rt.block_on(handler(&truth_store).handle(&batch(&[0, 1, 2, 3]), None));
    let truth = seen(&truth_store.world(), "ingest/records").meters;
    assert_eq!(truth.len(), 4);
    let (a, b) = (batch(&[0, 2]), batch(&[1, 3]));

    // The calls a fault may strike: every call either batch makes, in either order.
    let mut calls: BTreeSet<CallId> = BTreeSet::new();
    for order in [[&a, &b], [&b, &a]] {
        let store = SimStore(Arc::new(Mutex::new(World::new(Faults::Listed(BTreeMap::new())))));
        for batch in order {
            rt.block_on(handler(&store).handle(batch, None));
        }
        let w = store.world();
        calls.extend(w.made.iter().flat_map(|((kind, target), n)| (0..*n).map(|i| (*kind, target.clone(), i))));
    }
    let mut faults: Vec<Option<(CallId, Fault)>> = vec![None];
    faults.extend(calls.iter().flat_map(|c| [Fault::Refused, Fault::AnswerLost].map(|f| Some((c.clone(), f)))));

    let waker = futures_util::task::noop_waker();
    let mut schedules = 0;
    for fault in &faults {
        let listed: BTreeMap<CallId, Fault> = fault.iter().cloned().collect();
        // Depth first over the choices: `prefix` fixes the first choices, the rest take the first option.
        let mut prefix: Vec<usize> = Vec::new();
        loop {
            let store = SimStore(Arc::new(Mutex::new(World::new(Faults::Listed(listed.clone())))));
            store.world().yielding = true;
            let (ha, hb) = (handler(&store), handler(&store));
            let mut running: Vec<
                Option<std::pin::Pin<Box<dyn std::future::Future<Output = logmeter::handler::Outcome> + '_>>>,
            > = vec![Some(Box::pin(ha.handle(&a, None))), Some(Box::pin(hb.handle(&b, None)))];
            let mut outcomes: Vec<Option<logmeter::handler::Outcome>> = vec![None, None];
            let (mut options, mut choices) = (Vec::new(), Vec::new());
            let mut cx = std::task::Context::from_waker(&waker);
            loop {
                let runnable: Vec<usize> = (0..2).filter(|&i| running[i].is_some()).collect();
                if runnable.is_empty() {
                    break;
                }
                let pick = prefix.get(choices.len()).copied().unwrap_or(0);
                options.push(runnable.len());
                choices.push(pick);
                let i = runnable[pick];
                if let std::task::Poll::Ready(out) = running[i].as_mut().unwrap().as_mut().poll(&mut cx) {
                    outcomes[i] = Some(out);
                    running[i] = None;
                }
            }
            drop(running);
            // Then Lambda: a batch that reported a record is retried from it, or, as after a function error,
            // bisected (its halves in order); both, each on a copy of the stores as they are now.
            let after = store.world().objects.clone();
            for bisect in [false, true] {
                let again = SimStore(Arc::new(Mutex::new(World::new(Faults::Listed(BTreeMap::new())))));
                again.world().objects = after.clone();
                for (out, whole) in outcomes.iter().zip([&a, &b]) {
                    let out = out.as_ref().unwrap();
                    let Some(seq) = out.response.batch_item_failures.first().and_then(|f| f.item_identifier.clone())
                    else {
                        continue;
                    };
                    let from = whole.records.iter().position(|r| r.kinesis.sequence_number == seq).unwrap_or(0);
                    let parts: Vec<Vec<KinesisInput>> = if bisect {
                        whole.records.chunks(1).map(<[KinesisInput]>::to_vec).collect()
                    } else {
                        vec![whole.records[from..].to_vec()]
                    };
                    for part in parts {
                        let out = rt.block_on(handler(&again).handle(&logmeter::KinesisBatch { records: part }, None));
                        assert!(out.response.batch_item_failures.is_empty(), "a retry without a fault failed");
                    }
                }
                let got = seen(&again.world(), "ingest/records").meters;
                assert_eq!(
                    got,
                    truth,
                    "fault {fault:?}, choices {choices:?}, then {}: each meter record once",
                    if bisect { "bisected" } else { "retried" }
                );
            }
            schedules += 1;
            // The next choice sequence: the last step with an option not tried yet.
            let Some(j) = (0..choices.len()).rev().find(|&j| choices[j] + 1 < options[j]) else { break };
            prefix = choices[..j].to_vec();
            prefix.push(choices[j] + 1);
        }
    }
    println!("{schedules} interleavings over {} fault placements, each retried and bisected", faults.len());
    assert!(schedules > faults.len(), "more than one interleaving per fault placement");
}
