//! The real servers started by `tests/servers.sh` (via `tests/run.sh`, the README's test command), and handlers
//! wired to them.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use logmeter::startup::{AwsHandler, AwsParts, aws_parts};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The variables that name the servers.
const VARS: [&str; 8] = [
    "LOGMETER_TEST_S3_URL",
    "LOGMETER_TEST_S3_AUTH_URL",
    "LOGMETER_TEST_S3_IAM_URL",
    "LOGMETER_TEST_OPENSEARCH_URL",
    "LOGMETER_TEST_ELASTICSEARCH_URL",
    "LOGMETER_TEST_PROMETHEUS_URL",
    "LOGMETER_TEST_PUSHGATEWAY_URL",
    "LOGMETER_TEST_PRISM_OPENMETER_URL",
];

/// The servers' URLs by variable: from the environment when `tests/run.sh` (or a shell that sourced
/// `target/test-servers/env`) set them, else from servers this test process starts once through the same script,
/// `tests/servers.sh`, which stops them when the process exits. So a plain `cargo test` works too.
pub fn vars() -> &'static HashMap<String, String> {
    static SERVERS: OnceLock<HashMap<String, String>> = OnceLock::new();
    SERVERS.get_or_init(|| {
        if let Ok(set) = VARS.iter().map(|v| std::env::var(v).map(|url| (v.to_string(), url))).collect() {
            return set;
        }
        let root = crate::support::root();
        let status = std::process::Command::new("bash")
            .arg(root.join("tests/servers.sh"))
            .env("LOGMETER_TEST_OWNER_PID", std::process::id().to_string())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("bash runs tests/servers.sh");
        assert!(
            status.success(),
            "tests/servers.sh could not start the test servers (it needs python3 with venv, and curl); logs are in \
             target/test-servers"
        );
        let env = std::fs::read_to_string(root.join("target/test-servers/env")).expect("tests/servers.sh writes env");
        env.lines()
            .filter_map(|line| line.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    })
}

/// A server's URL (see [`vars`]).
pub fn url(var: &str) -> String {
    vars().get(var).cloned().unwrap_or_else(|| panic!("{var} is not among the test servers' variables"))
}

pub fn s3() -> String {
    url("LOGMETER_TEST_S3_URL")
}
pub fn s3_auth() -> String {
    url("LOGMETER_TEST_S3_AUTH_URL")
}
/// The moto that enforces IAM policies once told to (`tests/it/iam.rs` switches it on and off).
pub fn s3_iam() -> String {
    url("LOGMETER_TEST_S3_IAM_URL")
}
pub fn opensearch() -> String {
    url("LOGMETER_TEST_OPENSEARCH_URL")
}
pub fn elasticsearch() -> String {
    url("LOGMETER_TEST_ELASTICSEARCH_URL")
}

/// Prism serving OpenMeter's published ingest operation (`tests/contracts/openmeter/openapi.yaml`): 204 for a body
/// the spec allows, 400 for one it does not.
pub fn prism_openmeter() -> String {
    url("LOGMETER_TEST_PRISM_OPENMETER_URL")
}

/// A name unique to this test process and call, for buckets and indices.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// SDK configuration for a local endpoint with test credentials: the production loader, with explicit region,
/// endpoint and credentials instead of the environment's.
pub async fn sdk(endpoint: &str, key: &str) -> SdkConfig {
    sdk_with(endpoint, key, "secret-for-tests").await
}

/// [`sdk`] with a given secret access key (a real one, where the server checks signatures).
pub async fn sdk_with(endpoint: &str, key: &str, secret: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(key, secret, None, None, "tests"))
        .load()
        .await
}

/// An S3 client on the main test server.
pub async fn s3_client() -> aws_sdk_s3::Client {
    s3_client_with(&s3(), "test", "secret-for-tests").await
}

/// An S3 client on `endpoint` with the given access key.
pub async fn s3_client_with(endpoint: &str, key: &str, secret: &str) -> aws_sdk_s3::Client {
    let sdk = sdk_with(endpoint, key, secret).await;
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build())
}

/// Creates a fresh bucket and returns its name.
pub async fn bucket() -> String {
    let name = unique("logmeter");
    create_bucket(&s3_client().await, &name).await;
    name
}

/// Creates the bucket `name` in eu-west-1 with `client`.
pub async fn create_bucket(client: &aws_sdk_s3::Client, name: &str) {
    client
        .create_bucket()
        .bucket(name)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Every object in a bucket, by key.
pub async fn objects(bucket: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    objects_in(&s3_client().await, bucket).await
}

/// Every object in a bucket, by key, read with `client`.
pub async fn objects_in(client: &aws_sdk_s3::Client, bucket: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut token = None;
    loop {
        let page = client.list_objects_v2().bucket(bucket).set_continuation_token(token).send().await.unwrap();
        for o in page.contents() {
            let key = o.key().unwrap().to_owned();
            let body = client.get_object().bucket(bucket).key(&key).send().await.unwrap().body.collect().await.unwrap();
            out.insert(key, body.to_vec());
        }
        if page.is_truncated() != Some(true) {
            return out;
        }
        token = page.next_continuation_token().map(str::to_owned);
    }
}

/// A production handler built from `settings` (variable → value) against the S3 test server.
pub async fn handler(settings: &[(&str, String)]) -> AwsHandler {
    handler_on(&s3(), "test", settings).await
}

pub async fn handler_on(endpoint: &str, key: &str, settings: &[(&str, String)]) -> AwsHandler {
    parts_on(endpoint, key, settings).await.into_handler()
}

/// The production sinks built from `settings` against the S3 test server, to call one directly.
pub async fn parts(settings: &[(&str, String)]) -> AwsParts {
    parts_on(&s3(), "test", settings).await
}

pub async fn parts_on(endpoint: &str, key: &str, settings: &[(&str, String)]) -> AwsParts {
    parts_with(endpoint, key, "secret-for-tests", settings).await
}

/// [`parts_on`] with a given secret access key (a real one, where the server checks signatures).
pub async fn parts_with(endpoint: &str, key: &str, secret: &str, settings: &[(&str, String)]) -> AwsParts {
    let map: HashMap<String, String> = settings.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let sdk = sdk_with(endpoint, key, secret).await;
    aws_parts(|k| map.get(k).cloned(), &sdk).await.unwrap()
}

/// `GET url` (or another method) with a JSON body; returns status and parsed body.
pub fn http(method: &str, url: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-s", "-X", method, "-w", "\n%{http_code}", url]);
    if let Some(b) = body {
        cmd.args(["-H", "content-type: application/json", "--data-binary", b]);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

/// Documents in indices matching `pattern` (after a refresh).
pub fn count(base: &str, pattern: &str) -> u64 {
    http("POST", &format!("{base}/{pattern}/_refresh"), None);
    let (status, body) = http("GET", &format!("{base}/{pattern}/_count"), None);
    assert_eq!(status, 200, "{body}");
    body["count"].as_u64().unwrap()
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}
