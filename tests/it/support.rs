//! Helpers shared by the integration tests.

use base64::Engine as _;
use flate2::{Compression, write::GzEncoder};
use logmeter::event::{KinesisData, KinesisInput};
use logmeter::sink::MemorySink;
use logmeter::{Handler, KinesisBatch, Pipeline, PipelineConfig};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::OnceLock;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A committed sample event, parsed.
pub fn sample(name: &str) -> KinesisBatch {
    let bytes = std::fs::read(root().join("samples/events").join(format!("{name}.json"))).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The large sample, generated once per test binary.
pub fn large() -> &'static logmeter::samplegen::Sample {
    static LARGE: OnceLock<logmeter::samplegen::Sample> = OnceLock::new();
    LARGE.get_or_init(|| logmeter::samplegen::generate(&logmeter::samplegen::large()))
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A Kinesis record carrying one data payload with `messages` as its log events.
pub fn record_with_messages(log_group: &str, log_stream: &str, messages: &[&str], seq: &str) -> KinesisInput {
    let events: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| serde_json::json!({"id": format!("{}", 1000 + i), "timestamp": 1_795_168_800_000_i64 + i as i64, "message": m}))
        .collect();
    let payload = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": log_group,
        "logStream": log_stream, "subscriptionFilters": ["f"], "logEvents": events});
    record_with_data(&gzip(payload.to_string().as_bytes()), seq)
}

/// A Kinesis record with raw `data` bytes.
pub fn record_with_data(data: &[u8], seq: &str) -> KinesisInput {
    let mut r = KinesisInput {
        event_id: format!("shardId-000000000001:{seq}"),
        aws_region: Some("eu-west-1".into()),
        ..KinesisInput::default()
    };
    r.kinesis = KinesisData {
        sequence_number: seq.into(),
        data: base64::engine::general_purpose::STANDARD.encode(data),
        approximate_arrival_timestamp: 1_795_168_801.5,
        ..KinesisData::default()
    };
    r
}

pub fn pipeline() -> Pipeline {
    Pipeline::new(PipelineConfig { threads: 2, ..PipelineConfig::default() })
}

/// A handler over in-memory stores, with the stores to look inside: objects (ingest and quarantine) and, when
/// `search`, documents.
pub struct Memory {
    pub handler: Handler,
    pub objects: Arc<MemorySink>,
    pub search: Arc<MemorySink>,
}

impl std::ops::Deref for Memory {
    type Target = Handler;
    fn deref(&self) -> &Handler {
        &self.handler
    }
}

pub fn memory(pipeline: Pipeline, search: bool) -> Memory {
    let (objects, docs) = (Arc::new(MemorySink::new()), Arc::new(MemorySink::new()));
    let outputs = outputs(pipeline.config(), objects.clone(), objects.clone(), search.then(|| docs.clone()));
    Memory { handler: Handler::new(pipeline, outputs), objects, search: docs }
}

/// The outputs the registration list builds over these stores (no Prometheus, no spool), for a handler around a
/// pipeline a test built itself.
pub fn outputs<O, Q, S>(
    config: &logmeter::PipelineConfig,
    ingest: O,
    quarantine: Q,
    search: Option<S>,
) -> Vec<logmeter::output::Registered>
where
    O: logmeter::sink::ObjectSink + 'static,
    Q: logmeter::sink::ObjectSink + 'static,
    S: logmeter::output::search::SearchSink + 'static,
{
    let prometheus = None::<(logmeter::output::prometheus::PrometheusConfig, logmeter::sink::LocalDir)>;
    let billing = logmeter::output::billing::Stores::default();
    let stores = logmeter::output::Stores { ingest, quarantine, search, spool: false, prometheus, billing };
    logmeter::output::register(&config.outputs, stores)
}

/// Every file under `dir`, by relative path.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A fresh, empty temporary directory for one test.
pub fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("logmeter-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the `logmeter` binary.
pub fn logmeter(args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"));
    cmd.args(args).current_dir(root()).stdin(std::process::Stdio::piped());
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// The summary line the CLI printed.
pub fn summary_of(out: &std::process::Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 1, "one summary line: {text}");
    serde_json::from_str(text.trim()).unwrap()
}

/// The retry Lambda makes after a partial batch failure: the batch from the reported sequence number on.
pub fn from_sequence(batch: &KinesisBatch, seq: &str) -> KinesisBatch {
    let start = batch.records.iter().position(|r| r.kinesis.sequence_number == seq).unwrap();
    KinesisBatch { records: batch.records[start..].to_vec() }
}

/// What the billing platform counts: every meter record in the ingest objects (`ingest/records/…`, either layout,
/// gzip'd or not), as canonical JSON with the `uniqueId`s logmeter derived removed (the generator's ground truth
/// has none), sorted. A record written twice appears twice.
pub fn billed(objects: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, body) in
        objects.range("ingest/records/".to_owned()..).take_while(|(k, _)| k.starts_with("ingest/records/"))
    {
        for raw in logmeter::output::ingest::object_records(key, body).unwrap() {
            out.push(canonical_meter(&raw));
        }
    }
    out.sort();
    out
}

/// A meter record as canonical JSON, without a `uniqueId` that logmeter derived (a UUIDv5).
pub fn canonical_meter(raw: &[u8]) -> String {
    let mut v: serde_json::Value = serde_json::from_slice(raw).unwrap();
    let derived =
        v["uniqueId"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok()).is_some_and(|u| u.get_version_num() == 5);
    if derived {
        v.as_object_mut().unwrap().remove("uniqueId");
    }
    v.to_string()
}

/// The meter records the generator says the functions of a committed sample logged, canonical, sorted.
pub fn logged(name: &str) -> Vec<String> {
    let generated;
    let sample = match name {
        "large" => large(),
        "small" | "sparse" => {
            let spec = if name == "small" { logmeter::samplegen::small() } else { logmeter::samplegen::sparse() };
            generated = logmeter::samplegen::generate(&spec);
            &generated
        }
        _ => panic!("no sample {name}"),
    };
    let mut out: Vec<String> = sample.truth.meters.iter().map(|v| v.to_string()).collect();
    out.sort();
    out
}

/// The objects under the quarantine prefix.
pub fn quarantined(objects: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    objects.iter().filter(|(k, _)| k.starts_with("logmeter-quarantine/")).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Whether every meter record of `plan` is in `objects` (by content) and every quarantine object it planned is
/// there: the record was fully delivered to the stores.
pub fn delivered(plan: &logmeter::pipeline::RecordPlan, objects: &BTreeMap<String, Vec<u8>>) -> bool {
    use logmeter::output::{INGEST, QUARANTINE};
    let have = billed(objects);
    let lines = plan.parcels(INGEST).iter().flat_map(|p| p.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()));
    lines.map(canonical_meter).all(|m| have.binary_search(&m).is_ok())
        && plan.parcels(QUARANTINE).iter().all(|p| objects.get(&p.key) == Some(&p.body))
}

/// A handler over in-memory stores (`objects` for the ingest and quarantine objects) whose billing platforms are
/// reached over HTTP (their `<P>_API_URL`s) and keep their ledger in `ledger` (none: no ledger).
pub fn billing_handler(
    config: PipelineConfig,
    objects: Arc<MemorySink>,
    ledger: Option<Arc<dyn logmeter::sink::SharedObjects>>,
) -> Handler {
    let stores = logmeter::output::Stores {
        ingest: objects.clone(),
        quarantine: objects,
        search: None::<MemorySink>,
        spool: false,
        prometheus: None::<(logmeter::output::prometheus::PrometheusConfig, logmeter::sink::LocalDir)>,
        billing: logmeter::output::billing::Stores {
            reach: logmeter::output::billing::Reach::Http {
                sdk: Box::new(aws_config::SdkConfig::builder().build()),
                secrets_endpoint: None,
            },
            ledger,
            clock: logmeter::output::billing::Clock::default(),
        },
    };
    Handler::assemble(config, stores)
}
