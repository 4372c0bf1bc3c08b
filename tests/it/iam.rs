//! The function's IAM policy, exactly as `sam/template.yaml` grants it (`LogmeterFunction.Properties.Policies`,
//! resolved for each `IngestLayout`), is enough: running as a principal that holds only that policy, against moto
//! with IAM enforcement on, logmeter delivers a batch and takes its re-deliveries (the same batch, and the batch from
//! a record in the middle) without an access error. And every S3 grant in it is needed: without any one statement,
//! delivery is refused with an access error.
//!
//! Limit: moto checks actions and resource ARNs but does not evaluate `Condition` blocks, so the `s3:prefix`
//! condition on `s3:ListBucket` allows more here than on AWS; another test checks the code lists only under the
//! prefix.

use crate::servers::{self, rt, unique};
use crate::support::{from_sequence, large, root, sample};
use logmeter::{Handler, KinesisBatch, Summary};
use serde_json::{Value as Json, json};
use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::OnceLock;

const LAYOUTS: [&str; 2] = ["batch", "record"];
/// moto's account.
const ACCOUNT: &str = "123456789012";
/// The header moto routes a request to IAM by; with enforcement off, nothing checks the signature.
const IAM_SCOPE: &str = "Authorization: AWS4-HMAC-SHA256 Credential=AKIASETUP/20261206/us-east-1/iam/aws4_request, \
                         SignedHeaders=host, Signature=0";

/// The template, with parameter values, resolving the intrinsics the function's policy uses. Anything else panics,
/// so a template change cannot silently weaken the test.
struct Resolver {
    template: Value,
    params: BTreeMap<String, String>,
    bucket: String,
}

impl Resolver {
    /// The parameters' defaults, with the existing bucket `bucket` (so `CreateBucket` is false), `layout`, and
    /// `overrides` (each must be a parameter of the template).
    fn new(bucket: &str, layout: &str, overrides: &[(&str, &str)]) -> Self {
        let text = std::fs::read_to_string(root().join("sam/template.yaml")).unwrap();
        let template: Value = serde_norway::from_str(&text).unwrap();
        let declared = template["Parameters"].as_mapping().expect("the template has Parameters");
        let mut params = BTreeMap::new();
        for (name, spec) in declared {
            let default = match spec.get("Default") {
                None => continue,
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                Some(Value::Bool(b)) => b.to_string(),
                Some(other) => panic!("parameter {name:?}: default {other:?} is not a scalar"),
            };
            params.insert(name.as_str().unwrap().to_owned(), default);
        }
        let fixed = [("ExistingIngestBucketName", bucket), ("IngestLayout", layout)];
        for (name, value) in fixed.iter().chain(overrides) {
            assert!(declared.get(*name).is_some(), "the template has no parameter {name}");
            params.insert((*name).to_owned(), (*value).to_owned());
        }
        Resolver { template, params, bucket: bucket.to_owned() }
    }

    /// The function's policy document (its one inline document), resolved, `AWS::NoValue` elements removed.
    fn function_policy(&self) -> Json {
        let policies = &self.template["Resources"]["LogmeterFunction"]["Properties"]["Policies"];
        let policies = policies.as_sequence().expect("LogmeterFunction's Policies is a list");
        assert_eq!(policies.len(), 1, "one inline policy document (teach this test about others): {policies:?}");
        let doc = self.resolve(&policies[0]).expect("the policy document is not AWS::NoValue");
        assert!(doc["Version"] == "2012-10-17" && doc["Statement"].is_array(), "not a policy document: {doc}");
        doc
    }

    /// A template value as JSON; `None` for `AWS::NoValue` (the list element or property is dropped).
    fn resolve(&self, v: &Value) -> Option<Json> {
        Some(match v {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => serde_json::from_str(&n.to_string()).unwrap(),
            Value::String(s) => Json::String(s.clone()),
            Value::Sequence(items) => Json::Array(items.iter().filter_map(|i| self.resolve(i)).collect()),
            Value::Mapping(m) => {
                let mut out = serde_json::Map::new();
                for (k, v) in m {
                    let k = k.as_str().expect("string keys");
                    let intrinsic = k.starts_with("Fn::") || (k == "Ref" && m.len() == 1);
                    assert!(!intrinsic, "long-form intrinsic {k}: the resolver does not know it");
                    if let Some(v) = self.resolve(v) {
                        out.insert(k.to_owned(), v);
                    }
                }
                Json::Object(out)
            }
            Value::Tagged(t) => return self.intrinsic(t.tag.to_string().trim_start_matches('!'), &t.value),
        })
    }

    /// `!Ref`, `!Sub` and `!If`.
    fn intrinsic(&self, name: &str, arg: &Value) -> Option<Json> {
        match name {
            "Ref" => self.reference(arg.as_str().expect("!Ref takes a name")).map(Json::String),
            "Sub" => Some(Json::String(self.sub(arg))),
            "If" => {
                let [condition, yes, no] = args(arg, "If");
                let condition = condition.as_str().expect("!If names a condition");
                self.resolve(if self.condition(condition) { yes } else { no })
            }
            other => panic!("!{other} in the function's policy: the resolver does not know it"),
        }
    }

    /// `!Ref name`: a pseudo parameter, a parameter with a value, or the ingest bucket; `None` for `AWS::NoValue`.
    fn reference(&self, name: &str) -> Option<String> {
        Some(match name {
            "AWS::NoValue" => return None,
            "AWS::Partition" => "aws".to_owned(),
            "AWS::Region" => "eu-west-1".to_owned(),
            "AWS::AccountId" => ACCOUNT.to_owned(),
            "IngestBucket" => self.bucket.clone(),
            other => {
                self.params.get(other).cloned().unwrap_or_else(|| {
                    panic!("!Ref {other}: not a parameter with a value; the resolver does not know it")
                })
            }
        })
    }

    /// `!Sub "text"` or `!Sub ["text", {Var: value}]`: `${Name}` from the variables, else as `!Ref Name`.
    fn sub(&self, arg: &Value) -> String {
        let (text, vars): (&str, BTreeMap<String, String>) = match arg {
            Value::String(s) => (s.as_str(), BTreeMap::new()),
            Value::Sequence(_) => {
                let [text, vars] = args(arg, "Sub");
                let vars = vars.as_mapping().expect("!Sub's variables are a mapping");
                let vars = vars.iter().map(|(k, v)| match self.resolve(v) {
                    Some(Json::String(s)) => (k.as_str().unwrap().to_owned(), s),
                    other => panic!("!Sub variable {k:?} resolved to {other:?}, not a string"),
                });
                (text.as_str().expect("!Sub's text is a string"), vars.collect())
            }
            other => panic!("!Sub {other:?}: the resolver does not know this form"),
        };
        let (mut out, mut rest) = (String::new(), text);
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = start + rest[start..].find('}').unwrap_or_else(|| panic!("unclosed ${{ in {text}"));
            let name = &rest[start + 2..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(value) = vars.get(name) {
                out.push_str(value);
            } else {
                assert!(!name.contains('.'), "${{{name}}} (an attribute) in !Sub: the resolver does not know it");
                out.push_str(&self.reference(name).unwrap_or_else(|| panic!("${{{name}}} is AWS::NoValue")));
            }
            rest = &rest[end + 1..];
        }
        out + rest
    }

    /// The value of the template's condition `name`.
    fn condition(&self, name: &str) -> bool {
        let conditions = &self.template["Conditions"];
        self.truth(conditions.get(name).unwrap_or_else(|| panic!("the template has no condition {name}")))
    }

    /// A condition expression: `!Equals`, `!Not`, `!And`, `!Or`, `!Condition` or `Condition: name`.
    fn truth(&self, v: &Value) -> bool {
        if let Value::Mapping(m) = v
            && let (1, Some(name)) = (m.len(), m.get("Condition"))
        {
            return self.condition(name.as_str().expect("Condition names a condition"));
        }
        let Value::Tagged(t) = v else { panic!("condition {v:?}: the resolver does not know it") };
        let list = || t.value.as_sequence().unwrap_or_else(|| panic!("{} takes a list", t.tag));
        match t.tag.to_string().trim_start_matches('!') {
            "Equals" => {
                let [a, b] = args(&t.value, "Equals");
                self.resolve(a) == self.resolve(b)
            }
            "Not" => !self.truth(args::<1>(&t.value, "Not")[0]),
            "And" => list().iter().all(|c| self.truth(c)),
            "Or" => list().iter().any(|c| self.truth(c)),
            "Condition" => self.condition(t.value.as_str().expect("!Condition names a condition")),
            other => panic!("!{other} in a condition: the resolver does not know it"),
        }
    }
}

/// The `N` arguments of an intrinsic that takes a list.
fn args<'a, const N: usize>(v: &'a Value, name: &str) -> [&'a Value; N] {
    let items = v.as_sequence().unwrap_or_else(|| panic!("!{name} takes a list, not {v:?}"));
    assert_eq!(items.len(), N, "!{name} takes {N} arguments: {v:?}");
    std::array::from_fn(|i| &items[i])
}

/// The function's policy for `layout`, deployed with the existing bucket `bucket`.
fn policy(bucket: &str, layout: &str) -> Json {
    Resolver::new(bucket, layout, &[]).function_policy()
}

/// A statement's actions (one or a list).
fn actions(statement: &Json) -> Vec<&str> {
    match &statement["Action"] {
        Json::String(a) => vec![a.as_str()],
        Json::Array(a) => a.iter().map(|a| a.as_str().unwrap()).collect(),
        other => panic!("Action {other}"),
    }
}

/// An IAM user's access key, and the bucket its policy is about.
struct Principal {
    bucket: String,
    key: String,
    secret: String,
}

/// What this module's tests need on the IAM-enforcing moto, made once per process (so tests never race on it).
struct World {
    url: String,
    /// Allowed everything: creates the buckets and reads them back.
    admin: Principal,
    /// Per layout: the template's policy.
    full: BTreeMap<&'static str, Principal>,
    /// Per layout: for each statement with an s3: action, the statement (JSON) and the policy without it.
    without: BTreeMap<&'static str, Vec<(String, Principal)>>,
    /// The template's policy with a billing platform (batch layout): the ledger's grants.
    billing: Principal,
    /// For each ledger statement of that policy, the statement and the policy without it.
    billing_without: Vec<(String, Principal)>,
}

/// The template's policy, batch layout, with a billing platform configured.
fn billing_policy(bucket: &str) -> Json {
    Resolver::new(bucket, "batch", &[("BillingPlatforms", "metronome")]).function_policy()
}

/// Turns enforcement off (an earlier process may have left it on), wipes moto, makes every user, key and bucket, then
/// turns enforcement on.
fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let url = servers::s3_iam();
        moto_api(&url, "reset-auth", "1000000");
        moto_api(&url, "reset", "");
        let all = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
        let admin = user(&url, "*", &all);
        let (mut full, mut without) = (BTreeMap::new(), BTreeMap::new());
        for layout in LAYOUTS {
            let bucket = unique(&format!("iam-{layout}"));
            full.insert(layout, user(&url, &bucket, &policy(&bucket, layout)));
            let mut reduced = Vec::new();
            for i in 0..policy("any", layout)["Statement"].as_array().unwrap().len() {
                let bucket = unique(&format!("iam-{layout}-without"));
                let mut p = policy(&bucket, layout);
                let removed = p["Statement"].as_array_mut().unwrap().remove(i);
                if p["Statement"].as_array().unwrap().is_empty() {
                    // IAM refuses a policy without statements: one that grants nothing the function calls.
                    let nothing =
                        json!({"Effect": "Allow", "Action": "s3:GetBucketLocation", "Resource": "arn:aws:s3:::none"});
                    p["Statement"].as_array_mut().unwrap().push(nothing);
                }
                if actions(&removed).iter().any(|a| a.starts_with("s3:")) {
                    reduced.push((removed.to_string(), user(&url, &bucket, &p)));
                }
            }
            assert!(!reduced.is_empty(), "the {layout} layout's policy has S3 statements");
            without.insert(layout, reduced);
        }
        let bucket = unique("iam-billing");
        let billing = user(&url, &bucket, &billing_policy(&bucket));
        let mut billing_without = Vec::new();
        let statements = billing_policy("any")["Statement"].as_array().unwrap().clone();
        for (i, statement) in statements.iter().enumerate() {
            if !statement.to_string().contains("logmeter-ledger") {
                continue;
            }
            let bucket = unique("iam-billing-without");
            let mut p = billing_policy(&bucket);
            let removed = p["Statement"].as_array_mut().unwrap().remove(i);
            billing_without.push((removed.to_string(), user(&url, &bucket, &p)));
        }
        assert_eq!(billing_without.len(), 2, "the ledger's two statements (put and get; list)");
        let world = World { url, admin, full, without, billing, billing_without };
        let owned = world.without.values().flatten().chain(&world.billing_without).map(|(_, p)| p);
        let buckets: Vec<&str> =
            world.full.values().chain(owned).chain([&world.billing]).map(|p| p.bucket.as_str()).collect();
        rt().block_on(async {
            let admin = world.admin_client().await;
            for b in buckets {
                servers::create_bucket(&admin, b).await;
            }
        });
        moto_api(&world.url, "reset-auth", "0");
        world
    })
}

impl World {
    async fn admin_client(&self) -> aws_sdk_s3::Client {
        servers::s3_client_with(&self.url, &self.admin.key, &self.admin.secret).await
    }

    /// Every object in `bucket`, read as the admin.
    async fn snapshot(&self, bucket: &str) -> BTreeMap<String, Vec<u8>> {
        servers::objects_in(&self.admin_client().await, bucket).await
    }

    /// The production handler running as `p`, with [`settings`].
    async fn handler(&self, p: &Principal, layout: &str) -> Handler {
        servers::parts_with(&self.url, &p.key, &p.secret, &settings(&p.bucket, layout)).await.into_handler()
    }
}

/// `curl -X POST url args…`: status and body.
fn post(url: &str, args: &[String]) -> (u16, String) {
    let out = Command::new("curl").args(["-s", "-X", "POST", "-w", "\n%{http_code}", url]).args(args).output();
    let text = String::from_utf8_lossy(&out.expect("curl runs").stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// `POST {url}/moto-api/{what}` with a plain text body (moto answers 500 to another content type).
fn moto_api(url: &str, what: &str, body: &str) {
    let args = ["-H", "Content-Type: text/plain", "--data-binary", body].map(str::to_owned);
    let (status, answer) = post(&format!("{url}/moto-api/{what}"), &args);
    assert_eq!(status, 200, "moto-api/{what} {body}: {answer}");
}

/// One IAM Query API call (enforcement must be off: the request is not signed); returns the XML answer.
fn iam(url: &str, params: &[(&str, &str)]) -> String {
    let mut args = vec!["-H".to_owned(), IAM_SCOPE.to_owned()];
    for (k, v) in params.iter().chain(&[("Version", "2010-05-08")]) {
        args.extend(["--data-urlencode".to_owned(), format!("{k}={v}")]);
    }
    let (status, answer) = post(&format!("{url}/"), &args);
    assert_eq!(status, 200, "IAM {params:?}: {answer}");
    answer
}

/// The text of the first `<tag>` element of an XML answer.
fn element(xml: &str, tag: &str) -> String {
    let start = xml.find(&format!("<{tag}>")).unwrap_or_else(|| panic!("no <{tag}> in {xml}")) + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>")).unwrap();
    xml[start..end].to_owned()
}

/// A new IAM user whose one inline policy is `policy`, with a new access key.
fn user(url: &str, bucket: &str, policy: &Json) -> Principal {
    let (name, document) = (unique("logmeter-iam"), policy.to_string());
    let (name, document) = (name.as_str(), document.as_str());
    iam(url, &[("Action", "CreateUser"), ("UserName", name)]);
    iam(
        url,
        &[("Action", "PutUserPolicy"), ("UserName", name), ("PolicyName", "logmeter"), ("PolicyDocument", document)],
    );
    let xml = iam(url, &[("Action", "CreateAccessKey"), ("UserName", name)]);
    Principal { bucket: bucket.to_owned(), key: element(&xml, "AccessKeyId"), secret: element(&xml, "SecretAccessKey") }
}

/// The function's settings: the template's ingest prefix, the layout, and a search mirror nobody listens on (so bulk
/// bodies are spooled into the bucket, under the quarantine prefix).
fn settings(bucket: &str, layout: &str) -> Vec<(&'static str, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    vec![
        ("INGEST_BUCKET_NAME", bucket.to_owned()),
        ("INGEST_LAYOUT", layout.to_owned()),
        ("INGEST_PREFIX", Resolver::new(bucket, layout, &[]).params["IngestPrefix"].clone()),
        ("S3_MAX_ATTEMPTS", "2".into()),
        ("SEARCH_URL", format!("http://127.0.0.1:{port}")),
        ("SEARCH_FAILURE_MODE", "spool".into()),
        ("SEARCH_MAX_ATTEMPTS", "1".into()),
        ("SEARCH_TIMEOUT_MS", "500".into()),
    ]
}

/// One invocation that must go through: no record reported for retry, no access error.
fn deliver(rt: &tokio::runtime::Runtime, h: &Handler, batch: &KinesisBatch, what: &str) -> Summary {
    let out = rt.block_on(h.handle(batch, None));
    assert!(out.response.batch_item_failures.is_empty(), "{what}: records reported for retry: {:?}", out.summary);
    assert_eq!(out.summary.access_denied, 0, "{what}: {:?}", out.summary);
    out.summary
}

/// With the template's policy for `layout`: the small and the large sample are delivered, then re-delivered whole
/// and from a record in the middle, and the re-deliveries write nothing and change nothing.
fn delivers_and_takes_redeliveries(layout: &str) {
    let w = world();
    let p = &w.full[layout];
    let rt = rt();
    let h = rt.block_on(w.handler(p, layout));
    let large: KinesisBatch = serde_json::from_str(&large().event).unwrap();
    for (name, batch) in [("small", sample("small")), ("large", large)] {
        let what = format!("{layout} layout, {name} sample");
        let first = deliver(&rt, &h, &batch, &format!("{what}, first delivery"));
        assert!(first.objects_written > 0 && first.documents_spooled > 0, "{what}: {first:?}");
        assert!(name != "small" || first.quarantine_objects > 0, "{what}: quarantine objects: {first:?}");
        let before = rt.block_on(w.snapshot(&p.bucket));
        assert!(before.keys().any(|k| k.starts_with("logmeter-quarantine/")), "{what}: spooled bodies in the bucket");
        let middle = batch.records[batch.records.len() / 2].kinesis.sequence_number.clone();
        let retries = [("re-delivery", batch.clone()), ("re-delivery from the middle", from_sequence(&batch, &middle))];
        for (again, retry) in retries {
            let what = format!("{what}, {again}");
            let summary = deliver(&rt, &h, &retry, &what);
            let after = rt.block_on(w.snapshot(&p.bucket));
            let changed: BTreeSet<&String> = before.keys().filter(|k| before.get(*k) != after.get(*k)).collect();
            assert!(changed.is_empty(), "{what}: objects changed or gone: {changed:?}");
            // Other batch boundaries make another bulk body, spooled beside the first (a replay creates each
            // document once); nothing else is new.
            let new: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
            assert!(
                new.iter().all(|k| k.starts_with("logmeter-quarantine/search-spool/")),
                "{what}: new objects {new:?}"
            );
            assert_eq!(summary.objects_written, new.len(), "{what}: {summary:?}");
            if again == "re-delivery" {
                assert!(new.is_empty(), "{what}: the same batch again writes nothing: {new:?}");
            }
        }
    }
}

/// Without any one S3 statement of the template's policy, in either layout, the small sample's first delivery or
/// its re-delivery is refused with an access error and reported for retry.
#[test]
fn every_s3_grant_of_the_template_policy_is_needed() {
    let w = world();
    let rt = rt();
    let batch = sample("small");
    for (layout, removed, p) in LAYOUTS.iter().flat_map(|l| w.without[l].iter().map(move |(r, p)| (l, r, p))) {
        let h = rt.block_on(w.handler(p, layout));
        let runs = [rt.block_on(h.handle(&batch, None)), rt.block_on(h.handle(&batch, None))];
        let refused = |o: &logmeter::Outcome| !o.response.batch_item_failures.is_empty() && o.summary.access_denied > 0;
        assert!(
            runs.iter().any(refused),
            "{layout} layout without the statement {removed}: neither the first delivery nor the re-delivery was \
             refused with an access error: {:?} / {:?}",
            runs[0].summary,
            runs[1].summary
        );
    }
}

#[test]
fn template_policy_lets_the_batch_layout_deliver_and_take_redeliveries() {
    delivers_and_takes_redeliveries("batch");
}

#[test]
fn template_policy_lets_the_record_layout_deliver_and_take_redeliveries() {
    delivers_and_takes_redeliveries("record");
}

#[test]
fn template_policy_resolves_per_layout() {
    let arn = "arn:aws:s3:::example-bucket";
    let prefixes = json!([format!("{arn}/ingest/records/*"), format!("{arn}/logmeter-quarantine/*")]);
    let put = json!({"Effect": "Allow", "Action": "s3:PutObject", "Resource": prefixes});
    let list = json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": arn,
        "Condition": {"StringLike": {"s3:prefix": "ingest/records/*"}}});
    let get = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("{arn}/ingest/records/*")});
    let document = |statements: Vec<Json>| json!({"Version": "2012-10-17", "Statement": statements});
    assert_eq!(policy("example-bucket", "batch"), document(vec![put.clone(), list, get]));
    assert_eq!(policy("example-bucket", "record"), document(vec![put.clone()]));
    // Other conditions and `!Sub` with pseudo parameters resolve too.
    let more = [("FunctionMetadataLookup", "true"), ("IngestAcl", "bucket-owner-full-control")];
    let lookup = json!({"Effect": "Allow", "Action": "lambda:GetFunctionConfiguration",
        "Resource": format!("arn:aws:lambda:eu-west-1:{ACCOUNT}:function:*")});
    let acl = json!({"Effect": "Allow", "Action": "s3:PutObjectAcl", "Resource": prefixes});
    assert_eq!(Resolver::new("example-bucket", "record", &more).function_policy(), document(vec![put, lookup, acl]));
}

#[test]
#[should_panic(expected = "does not know")]
fn resolver_refuses_an_intrinsic_it_does_not_know() {
    Resolver::new("example-bucket", "batch", &[]).resolve(&serde_norway::from_str("!GetAtt LogStream.Arn").unwrap());
}

/// Keeps the prefix of every listing, over an in-memory bucket.
#[derive(Debug)]
struct Listings {
    bucket: logmeter::sink::MemorySink,
    prefixes: std::sync::Mutex<Vec<String>>,
}

impl logmeter::sink::ObjectSink for Listings {
    async fn put(&self, o: &logmeter::output::Parcel) -> Result<logmeter::sink::Delivery, logmeter::sink::SinkError> {
        self.bucket.put(o).await
    }
    async fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<String>, logmeter::sink::SinkError> {
        self.prefixes.lock().unwrap().push(prefix.to_owned());
        self.bucket.list(prefix, after).await
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, logmeter::sink::SinkError> {
        self.bucket.get(key).await
    }
}

/// Whether `text` matches an IAM `StringLike` pattern (`*` any run of characters, `?` one character).
fn string_like(pattern: &str, text: &str) -> bool {
    match pattern.chars().next() {
        None => text.is_empty(),
        Some('*') => {
            (0..=text.len()).filter(|i| text.is_char_boundary(*i)).any(|i| string_like(&pattern[1..], &text[i..]))
        }
        Some(c) => {
            let mut chars = text.chars();
            chars.next().is_some_and(|t| c == '?' || c == t) && string_like(&pattern[c.len_utf8()..], chars.as_str())
        }
    }
}

/// moto ignores `Condition`: every prefix the batch layout lists, on a first delivery and on re-deliveries of both
/// samples, must match the `s3:prefix` condition of the template's `s3:ListBucket` grant, or AWS would refuse it.
#[test]
fn every_listing_matches_the_list_grant_condition() {
    let p = policy("any", "batch");
    let list = p["Statement"].as_array().unwrap().iter().find(|s| actions(s) == ["s3:ListBucket"]).unwrap();
    let pattern = list["Condition"]["StringLike"]["s3:prefix"].as_str().unwrap().to_owned();
    assert!(string_like(&pattern, "ingest/records/2026-12-06/shardId-1/") && !string_like(&pattern, "other/x"));
    let store =
        std::sync::Arc::new(Listings { bucket: logmeter::sink::MemorySink::new(), prefixes: Default::default() });
    let pipeline = logmeter::Pipeline::new(logmeter::PipelineConfig::default());
    let outputs =
        crate::support::outputs(pipeline.config(), store.clone(), store.clone(), None::<logmeter::sink::MemorySink>);
    let h = Handler::new(pipeline, outputs);
    let rt = rt();
    let large: KinesisBatch = serde_json::from_str(&large().event).unwrap();
    for batch in [sample("small"), large] {
        let middle = batch.records[batch.records.len() / 2].kinesis.sequence_number.clone();
        for b in [batch.clone(), batch.clone(), from_sequence(&batch, &middle)] {
            assert!(rt.block_on(h.handle(&b, None)).response.batch_item_failures.is_empty());
        }
    }
    let prefixes = store.prefixes.lock().unwrap().clone();
    assert!(prefixes.len() >= 6, "{prefixes:?}");
    for prefix in &prefixes {
        assert!(string_like(&pattern, prefix), "ListObjectsV2 of {prefix:?} is outside s3:prefix {pattern:?}");
    }
}

/// With the template's policy and a billing platform: the ledger is written, listed and read under the policy (the
/// re-delivery sends nothing), and without either of its statements a delivery or its re-delivery is refused with
/// an access error.
#[test]
fn template_policy_grants_the_billing_ledger_and_each_ledger_grant_is_needed() {
    use crate::billing_fake::{BillingFake, KEY};
    let w = world();
    let rt = rt();
    let batch = sample("small");
    let now = crate::support::logged("small")
        .iter()
        .map(|m| serde_json::from_str::<Json>(m).unwrap()["meterTimeInMillis"].as_i64().unwrap())
        .max()
        .unwrap();
    let handler = |fake: &BillingFake, p: &Principal| {
        let mut with = settings(&p.bucket, "batch");
        with.extend([
            ("BILLING_PLATFORMS", "metronome".to_owned()),
            ("METRONOME_API_URL", fake.url.clone()),
            ("METRONOME_API_KEY", KEY.to_owned()),
        ]);
        rt.block_on(servers::parts_with(&w.url, &p.key, &p.secret, &with)).into_handler()
    };
    let fake = rt.block_on(BillingFake::start(now));
    let h = handler(&fake, &w.billing);
    let first = deliver(&rt, &h, &batch, "billing, first delivery");
    assert_eq!(first.outputs.get("metronome").delivered, crate::support::logged("small").len());
    let sent = fake.requests("metronome");
    let again = deliver(&rt, &h, &batch, "billing, re-delivery");
    assert_eq!(fake.requests("metronome"), sent, "the ledger was read under the policy: nothing sent again");
    assert_eq!(again.outputs.get("metronome").already_delivered, crate::support::logged("small").len());
    for (removed, p) in &w.billing_without {
        if removed.contains("Condition") {
            // moto ignores `Condition`, so without the ledger's list grant the ingest one still lets it list; the
            // prefixes the ledger lists are checked against the grant's `s3:prefix` below instead.
            continue;
        }
        let fake = rt.block_on(BillingFake::start(now));
        let h = handler(&fake, p);
        let runs = [rt.block_on(h.handle(&batch, None)), rt.block_on(h.handle(&batch, None))];
        let refused = |o: &logmeter::Outcome| !o.response.batch_item_failures.is_empty() && o.summary.access_denied > 0;
        assert!(runs.iter().any(refused), "without {removed}: no access error: {:?}", runs[1].summary);
    }
    // Every prefix the ledger lists, on deliveries and re-deliveries, is inside its list grant's `s3:prefix`.
    let p = billing_policy("any");
    let list = p["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| actions(s) == ["s3:ListBucket"] && s.to_string().contains("logmeter-ledger"))
        .unwrap();
    let pattern = list["Condition"]["StringLike"]["s3:prefix"].as_str().unwrap().to_owned();
    let store =
        std::sync::Arc::new(Listings { bucket: logmeter::sink::MemorySink::new(), prefixes: Default::default() });
    let fake = rt.block_on(BillingFake::start(now));
    let config = logmeter::PipelineConfig::from_lookup(|k| match k {
        "BILLING_PLATFORMS" => Some("metronome".into()),
        "METRONOME_API_URL" => Some(fake.url.clone()),
        "METRONOME_API_KEY" => Some(KEY.into()),
        _ => None,
    })
    .unwrap();
    let objects = std::sync::Arc::new(logmeter::sink::MemorySink::new());
    let h = crate::support::billing_handler(config, objects, Some(store.clone()));
    let middle = batch.records[batch.records.len() / 2].kinesis.sequence_number.clone();
    for b in [batch.clone(), batch.clone(), from_sequence(&batch, &middle)] {
        assert!(rt.block_on(h.handle(&b, None)).response.batch_item_failures.is_empty());
    }
    let prefixes = store.prefixes.lock().unwrap().clone();
    assert!(prefixes.len() >= 3, "{prefixes:?}");
    for prefix in &prefixes {
        assert!(string_like(&pattern, prefix), "the ledger's listing of {prefix:?} is outside s3:prefix {pattern:?}");
    }
}
