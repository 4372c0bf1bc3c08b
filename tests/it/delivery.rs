//! Delivery against real servers on 127.0.0.1 (moto for S3 and Secrets Manager, osmem-server for OpenSearch 3,
//! noida-db for Elasticsearch 8), with a fault-injecting proxy where a server cannot produce the fault.

use crate::proxy::{Fault, Proxy};
use crate::servers::{self, bucket, count, handler, http, objects, rt, unique};
use crate::support::{billed, delivered, from_sequence, logged, pipeline, quarantined, sample};
use logmeter::KinesisBatch;
use logmeter::output::{INGEST, QUARANTINE, SEARCH};
use logmeter::sink::{ObjectSink, SinkError};
use std::collections::BTreeMap;

/// The quarantine objects planning says the small sample turns into, by key.
fn planned_quarantine(batch: &KinesisBatch) -> BTreeMap<String, Vec<u8>> {
    let plans = pipeline().plan_batch(&batch.records);
    plans.iter().flat_map(|p| p.parcels(QUARANTINE).to_vec()).map(|o| (o.key, o.body)).collect()
}

/// The documents (invocation reports and rollups) planning says the batch turns into.
fn planned_documents(batch: &KinesisBatch) -> usize {
    pipeline().plan_batch(&batch.records).iter().flat_map(|p| p.parcels(SEARCH)).map(|b| b.items).sum()
}

/// The small sample landed exactly once: every meter record its functions logged is billed once, across all
/// objects, and the quarantine objects are the planned ones.
fn assert_small_landed_once(landed: &BTreeMap<String, Vec<u8>>, batch: &KinesisBatch, what: &str) {
    assert_eq!(billed(landed), logged("small"), "{what}: every meter record in the bucket exactly once");
    assert_eq!(quarantined(landed), planned_quarantine(batch), "{what}: quarantine objects as planned");
}

fn settings(bucket: &str, search: &str, index: &str) -> Vec<(&'static str, String)> {
    vec![
        ("INGEST_BUCKET_NAME", bucket.to_owned()),
        ("SEARCH_URL", search.to_owned()),
        ("SEARCH_INDEX_PATTERN", format!("{index}-%Y.%m.%d")),
        ("SEARCH_MAX_ATTEMPTS", "3".into()),
        ("S3_MAX_ATTEMPTS", "2".into()),
    ]
}

#[test]
fn sample_lands_in_s3_and_both_search_servers_exactly_once() {
    let rt = rt();
    let batch = sample("small");
    let reports = pipeline().plan_batch(&batch.records).iter().map(|p| p.summary.reports).sum::<usize>() as u64;
    for (name, base) in [("opensearch", servers::opensearch()), ("elasticsearch", servers::elasticsearch())] {
        let bucket = rt.block_on(bucket());
        let index = unique(&format!("it-{name}"));
        let h = rt.block_on(handler(&settings(&bucket, &base, &index)));
        let first = rt.block_on(h.handle(&batch, None));
        assert!(first.response.batch_item_failures.is_empty(), "{name}: {:?}", first.summary);
        let landed = rt.block_on(objects(&bucket));
        assert_small_landed_once(&landed, &batch, name);
        let ingest = landed.keys().filter(|k| k.starts_with("ingest/records/")).count();
        assert_eq!(ingest, 1, "{name}: one object for the batch (its records fall on one date)");
        assert_eq!(count(&base, &format!("{index}-*")), reports, "{name}: one document per report");
        // Every document counted as delivered once (a bulk retried after a lost answer finds some already there).
        let s = &first.summary;
        let documents = planned_documents(&batch) as u64;
        assert_eq!((s.documents_indexed + s.documents_already_present) as u64, documents, "{name}");

        // The same batch again, then a retry from the middle: nothing new anywhere.
        let again = rt.block_on(h.handle(&batch, None));
        assert_eq!((again.summary.objects_written, again.summary.documents_indexed), (0, 0), "{name}");
        assert_eq!(again.summary.documents_already_present as u64, documents, "{name}: 409 counts as delivered");
        let middle = batch.records[batch.records.len() / 2].kinesis.sequence_number.clone();
        rt.block_on(h.handle(&from_sequence(&batch, &middle), None));
        assert_eq!(rt.block_on(objects(&bucket)), landed, "{name}: nothing new in the bucket");
        assert_eq!(count(&base, &format!("{index}-*")), reports, "{name}: still exactly one copy");

        // The template was installed with explicit mappings.
        let (status, t) = http("GET", &format!("{base}/_index_template/logmeter-metrics"), None);
        assert_eq!(status, 200, "{name}: {t}");
    }
}

#[test]
fn s3_outage_mid_batch_reports_the_lowest_undelivered_record_and_recovers_exactly_once() {
    let rt = rt();
    let batch = sample("small");
    let bucket = rt.block_on(bucket());
    let proxy = rt.block_on(Proxy::start(&servers::s3()));
    proxy.set(Fault::StatusAfter { pass: 5, status: 503 });
    let h = rt.block_on(servers::handler_on(
        &proxy.url,
        "test",
        &[("INGEST_BUCKET_NAME", bucket.clone()), ("S3_MAX_ATTEMPTS", "2".into())],
    ));
    let out = rt.block_on(h.handle(&batch, None));
    assert!(proxy.faults.load(std::sync::atomic::Ordering::SeqCst) > 0);
    let failures = &out.response.batch_item_failures;
    assert_eq!(failures.len(), 1);
    let seq = failures[0].item_identifier.clone().unwrap();
    let landed = rt.block_on(objects(&bucket));
    let plans = pipeline().plan_batch(&batch.records);
    for p in plans.iter().take_while(|p| p.sequence_number != seq) {
        assert!(delivered(p, &landed), "{} was delivered before the outage", p.sequence_number);
    }
    let failed = plans.iter().find(|p| p.sequence_number == seq).unwrap();
    assert!(!delivered(failed, &landed), "the reported record was not fully delivered");

    proxy.set(Fault::None);
    let retry = rt.block_on(h.handle(&from_sequence(&batch, &seq), None));
    assert!(retry.response.batch_item_failures.is_empty());
    assert_small_landed_once(&rt.block_on(objects(&bucket)), &batch, "after recovery");
}

#[test]
fn search_429_and_5xx_are_retried_until_every_document_is_in() {
    let rt = rt();
    let batch = sample("small");
    let reports = pipeline().plan_batch(&batch.records).iter().map(|p| p.summary.reports).sum::<usize>() as u64;
    let bucket = rt.block_on(bucket());
    let index = unique("it-retry");
    let proxy = rt.block_on(Proxy::start(&servers::opensearch()));
    let mut s = settings(&bucket, &proxy.url, &index);
    s.push(("SEARCH_TEMPLATE", "false".into()));
    let h = rt.block_on(handler(&s));
    proxy.set(Fault::StatusFirst { n: 2, status: 503 });
    let a = rt.block_on(h.handle(&batch, None));
    proxy.set(Fault::BulkItems429 { n: 1 });
    let b = rt.block_on(h.handle(&batch, None));
    assert!(a.response.batch_item_failures.is_empty() && b.response.batch_item_failures.is_empty());
    assert_eq!((a.summary.documents_spooled, b.summary.documents_spooled), (0, 0));
    assert!(proxy.faults.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    assert_eq!(count(&servers::opensearch(), &format!("{index}-*")), reports);
}

#[test]
fn mapping_errors_are_quarantined_with_document_and_error() {
    let rt = rt();
    let batch = sample("small");
    let bucket = rt.block_on(bucket());
    let index = unique("it-mapping");
    let base = servers::opensearch();
    // An index that refuses every field logmeter writes: each document gets a 400 strict mapping error.
    let day = format!("{index}-2026.11.19");
    let (status, body) = http(
        "PUT",
        &format!("{base}/{day}"),
        Some(r#"{"mappings":{"dynamic":"strict","properties":{"only":{"type":"keyword"}}}}"#),
    );
    assert_eq!(status, 200, "{body}");
    let mut s = settings(&bucket, &base, &index);
    s.push(("SEARCH_TEMPLATE", "false".into()));
    let h = rt.block_on(handler(&s));
    let out = rt.block_on(h.handle(&batch, None));
    assert!(out.response.batch_item_failures.is_empty(), "mapping errors are not retried");
    assert!(out.summary.documents_rejected > 0);
    let rejected: Vec<serde_json::Value> = rt
        .block_on(objects(&bucket))
        .into_iter()
        .filter(|(k, _)| k.starts_with("logmeter-quarantine/search-rejected/"))
        .flat_map(|(_, b)| serde_json::from_slice::<Vec<serde_json::Value>>(&b).unwrap())
        .collect();
    assert_eq!(rejected.len(), out.summary.documents_rejected);
    for r in &rejected {
        assert_eq!(r["status"], 400);
        assert!(r["error"].as_str().unwrap().contains("strict"), "{r}");
        assert!(r["source"].as_str().unwrap().contains("faas"), "the document itself is kept");
    }
}

#[test]
fn search_down_spools_bulk_bodies_and_nothing_is_lost() {
    let rt = rt();
    let batch = sample("small");
    let reports = pipeline().plan_batch(&batch.records).iter().map(|p| p.summary.reports).sum::<usize>();
    let bucket = rt.block_on(bucket());
    let index = unique("it-spool");
    let proxy = rt.block_on(Proxy::start(&servers::opensearch()));
    proxy.set(Fault::StatusAfter { pass: 0, status: 503 });
    let mut s = settings(&bucket, &proxy.url, &index);
    s.push(("SEARCH_MAX_ATTEMPTS", "2".into()));
    let h = rt.block_on(handler(&s));
    let out = rt.block_on(h.handle(&batch, None));
    assert!(out.response.batch_item_failures.is_empty(), "billing does not wait for the mirror");
    assert_eq!(out.summary.documents_spooled, planned_documents(&batch));
    // An operator replays the spooled bodies as they are: every document arrives once.
    let spooled: Vec<(String, Vec<u8>)> =
        rt.block_on(objects(&bucket)).into_iter().filter(|(k, _)| k.contains("/search-spool/")).collect();
    assert_eq!(spooled.len(), out.summary.bulk_requests);
    let base = servers::opensearch();
    for (_, body) in &spooled {
        let text = String::from_utf8(body.clone()).unwrap();
        let (status, _) = http("POST", &format!("{base}/_bulk"), Some(&text));
        assert_eq!(status, 200);
    }
    assert_eq!(count(&base, &format!("{index}-*")) as usize, reports);

    // With SEARCH_FAILURE_MODE=retry the record is reported instead.
    s.push(("SEARCH_FAILURE_MODE", "retry".into()));
    let h = rt.block_on(handler(&s));
    let out = rt.block_on(h.handle(&batch, None));
    assert_eq!(out.response.batch_item_failures.len(), 1);
}

#[test]
fn bad_s3_credentials_give_a_clear_error() {
    let rt = rt();
    let parts =
        rt.block_on(servers::parts_on(&servers::s3_auth(), "AKIANOTAREALKEY", &[("INGEST_BUCKET_NAME", "any".into())]));
    let plan = pipeline().plan_batch(&sample("small").records).remove(0);
    let object = &plan.parcels(INGEST)[0];
    let err = rt.block_on(parts.ingest.put(object)).unwrap_err();
    let h = parts.into_handler();
    let text = err.to_string();
    assert!(matches!(err, SinkError::AccessDenied { action: "s3:PutObject", .. }), "{text}");
    assert!(text.starts_with("access denied: s3:PutObject on s3://any/ingest/records/"), "{text}");
    assert!(text.contains("InvalidAccessKeyId") && text.contains("credentials"), "{text}");
    assert!(!text.contains("secret-for-tests"), "no secret in errors: {text}");
    let out = rt.block_on(h.handle(&sample("small"), None));
    assert_eq!(out.response.batch_item_failures.len(), 1, "reported for retry, never dropped");
    assert!(out.summary.access_denied > 0, "counted as an access error: {:?}", out.summary);
}

/// Creates a secret in moto's Secrets Manager, as an operator would with the AWS CLI, and returns its ARN.
fn create_secret(secret_string: &str) -> String {
    let create = serde_json::json!({"Name": unique("search-credentials"), "SecretString": secret_string});
    let out = std::process::Command::new("curl")
        .args(["-s", "-X", "POST", &format!("{}/", servers::s3())])
        .args(["-H", "x-amz-target: secretsmanager.CreateSecret", "-H", "content-type: application/x-amz-json-1.1"])
        .args(["-H", "authorization: AWS4-HMAC-SHA256 Credential=test/20261122/eu-west-1/secretsmanager/aws4_request, SignedHeaders=host, Signature=0"])
        .args(["--data-binary", &create.to_string()])
        .output()
        .unwrap();
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["ARN"].as_str().unwrap().to_owned()
}

#[test]
fn invalid_secrets_and_missing_signing_inputs_give_clear_permanent_errors() {
    use logmeter::output::search::SearchSink;
    let rt = rt();
    let proxy = rt.block_on(Proxy::start(&servers::opensearch()));
    let missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:no-such-secret-AbCdEf".to_owned();
    for (arn, want) in [
        (missing, "(ResourceNotFoundException): check the ARN"),
        (create_secret("not-json-hunter2"), "must be a JSON object with string keys username and password"),
        (create_secret("{\"username\":\"metrics\"}"), "must be a JSON object with string keys username and password"),
    ] {
        let mut s = settings("unused", &proxy.url, &unique("it-secret-bad"));
        s.push(("SEARCH_SECRET_ARN", arn.clone()));
        let parts = rt.block_on(servers::parts(&s));
        let err = rt.block_on(parts.search.unwrap().bulk(&first_bulk())).unwrap_err();
        assert!(matches!(err, SinkError::Permanent { .. }), "{err}");
        assert!(err.to_string().contains(want) && err.to_string().contains(&arn), "{err}");
        assert!(!err.to_string().contains("hunter2"), "no secret in errors: {err}");
        assert_eq!(proxy.requests.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing was sent without credentials");
    }
    // SigV4 with no credentials, or no region, to sign with.
    let lookup = |k: &str| match k {
        "INGEST_BUCKET_NAME" => Some("unused".to_owned()),
        "SEARCH_URL" => Some(proxy.url.clone()),
        "SEARCH_SIGV4_SERVICE" => Some("es".to_owned()),
        _ => None,
    };
    let config = logmeter::output::search::SearchConfig::from_lookup(&lookup).unwrap().unwrap();
    let no_credentials = aws_config::SdkConfig::builder().region(aws_config::Region::new("eu-west-1")).build();
    let no_region = rt.block_on(async {
        let with = servers::sdk(&servers::s3(), "test").await;
        aws_config::SdkConfig::builder().credentials_provider(with.credentials_provider().unwrap()).build()
    });
    for (sdk, want) in [(no_credentials, "SigV4 needs AWS credentials"), (no_region, "SigV4 needs AWS_REGION")] {
        let http = logmeter::output::search::client::SearchHttp::new(&config, sdk, None);
        let err = rt.block_on(http.send(http::Method::GET, "/", None)).unwrap_err();
        assert!(matches!(err, logmeter::sink::http::HttpError::Setup(_)) && err.to_string().contains(want), "{err}");
    }
}

#[test]
fn basic_auth_from_a_secrets_manager_secret() {
    let rt = rt();
    let bucket = rt.block_on(bucket());
    let arn = create_secret("{\"username\":\"metrics\",\"password\":\"s3cr3t-pw\"}");
    let proxy = rt.block_on(Proxy::start(&servers::opensearch()));
    let index = unique("it-secret");
    let mut s = settings(&bucket, &proxy.url, &index);
    s.push(("SEARCH_SECRET_ARN", arn));
    let h = rt.block_on(handler(&s));
    let out = rt.block_on(h.handle(&sample("small"), None));
    assert!(out.response.batch_item_failures.is_empty());
    let expected =
        format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "metrics:s3cr3t-pw"));
    assert_eq!(proxy.last_authorization(), Some(expected));
}

#[test]
fn gzip_and_acl_objects_for_a_cross_account_bucket() {
    let rt = rt();
    let batch = sample("small");
    let bucket = rt.block_on(bucket());
    let h = rt.block_on(handler(&[
        ("INGEST_BUCKET_NAME", bucket.clone()),
        ("INGEST_GZIP", "true".into()),
        ("INGEST_ACL", "bucket-owner-full-control".into()),
    ]));
    assert!(rt.block_on(h.handle(&batch, None)).response.batch_item_failures.is_empty());
    let landed = rt.block_on(objects(&bucket));
    assert_small_landed_once(&landed, &batch, "gzip");
    for key in landed.keys().filter(|k| k.starts_with("ingest/records/")) {
        assert!(key.ends_with(".json.gz") && landed[key].starts_with(&[0x1f, 0x8b]), "{key} is gzip'd");
    }
    let key = landed.keys().find(|k| k.ends_with(".json.gz")).unwrap().clone();
    let acl = rt
        .block_on(async { servers::s3_client().await.get_object_acl().bucket(&bucket).key(&key).send().await })
        .unwrap();
    assert!(acl.grants().iter().any(|g| g.permission().map(|p| p.as_str()) == Some("FULL_CONTROL")));
}

#[test]
fn cli_delivers_the_large_sample_to_s3_and_both_search_servers_and_a_rerun_changes_no_count() {
    let rt = rt();
    let bucket = rt.block_on(bucket());
    let index = unique("it-cli");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(crate::support::root().join("samples/events/large.truth.json")).unwrap())
            .unwrap();
    let run = |search: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
            .args(["process", "samples/events/large.json"])
            .current_dir(crate::support::root())
            .envs([
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL", &servers::s3()),
                ("INGEST_BUCKET_NAME", &bucket),
                ("SEARCH_URL", search),
                ("SEARCH_INDEX_PATTERN", &format!("{index}-%Y.%m.%d")),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        crate::support::summary_of(&out)
    };
    let records_in_s3 = || -> usize {
        rt.block_on(objects(&bucket))
            .iter()
            .filter(|(k, _)| k.starts_with("ingest/records/"))
            .map(|(_, b)| serde_json::from_slice::<Vec<serde_json::Value>>(b).unwrap().len())
            .sum()
    };
    let (os, es) = (servers::opensearch(), servers::elasticsearch());
    let first = run(&os);
    assert_eq!(first["meter_records"], truth["meter_records"]);
    assert_eq!(records_in_s3() as u64, truth["meter_records"].as_u64().unwrap(), "every meter record in S3 once");
    let second = run(&es);
    assert_eq!(second["objects_written"], 0);
    for base in [&os, &es] {
        assert_eq!(count(base, &format!("{index}-*")), truth["reports"].as_u64().unwrap(), "{base}");
    }
    let third = run(&os);
    assert_eq!((third["objects_written"].as_u64(), third["documents_indexed"].as_u64()), (Some(0), Some(0)));
    assert_eq!(records_in_s3() as u64, truth["meter_records"].as_u64().unwrap());
    assert_eq!(count(&os, &format!("{index}-*")), truth["reports"].as_u64().unwrap());
}

/// One bulk request of the small sample, for calling a sink directly.
fn first_bulk() -> logmeter::output::Parcel {
    pipeline().plan_batch(&sample("small").records).iter().flat_map(|p| p.parcels(SEARCH)).next().unwrap().clone()
}

#[test]
fn sigv4_and_api_key_authenticate_every_request() {
    use logmeter::output::search::SearchSink;
    let rt = rt();
    let proxy = rt.block_on(Proxy::start(&servers::opensearch()));
    let request = first_bulk();
    for (var, value, want) in [
        ("SEARCH_SIGV4_SERVICE", "aoss", "AWS4-HMAC-SHA256 Credential=test/"),
        ("SEARCH_SIGV4_SERVICE", "es", "AWS4-HMAC-SHA256 Credential=test/"),
        (
            "SEARCH_API_KEY",
            "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
            "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
        ),
    ] {
        let mut s = settings("unused", &proxy.url, &unique("it-auth"));
        s.push((var, value.into()));
        let search = rt.block_on(servers::parts(&s)).search.unwrap();
        let d = rt.block_on(search.bulk(&request)).unwrap();
        assert_eq!(d.created + d.already_present, request.items);
        let auth = proxy.last_authorization().unwrap();
        assert!(auth.starts_with(want), "{var}={value}: {auth}");
        if var == "SEARCH_SIGV4_SERVICE" {
            assert!(auth.contains(&format!("/eu-west-1/{value}/aws4_request")), "{auth}");
            assert!(auth.contains("x-amz-content-sha256"), "payload hash is signed: {auth}");
        }
    }
}

#[test]
fn refused_search_credentials_give_a_clear_error() {
    use logmeter::output::search::SearchSink;
    let rt = rt();
    let proxy = rt.block_on(Proxy::start(&servers::opensearch()));
    proxy.set(Fault::StatusFirst { n: 1_000, status: 401 });
    let mut s = settings("unused", &proxy.url, &unique("it-401"));
    s.extend([("SEARCH_USERNAME", "metrics".to_owned()), ("SEARCH_PASSWORD", "wrong-password-xyz".to_owned())]);
    let search = rt.block_on(servers::parts(&s)).search.unwrap();
    let err = rt.block_on(search.bulk(&first_bulk())).unwrap_err().to_string();
    assert!(err.contains("authentication failed (HTTP 401)") && err.contains("SEARCH_USERNAME"), "{err}");
    assert!(!err.contains("wrong-password-xyz"));
}

#[test]
fn assumed_role_writes_to_the_bucket() {
    let rt = rt();
    let batch = sample("small");
    let bucket = rt.block_on(bucket());
    let h = rt.block_on(handler(&[
        ("INGEST_BUCKET_NAME", bucket.clone()),
        ("INGEST_ROLE_ARN", "arn:aws:iam::210987654321:role/amberflo-ingest-writer".into()),
        ("INGEST_ROLE_EXTERNAL_ID", "logmeter-tests".into()),
    ]));
    let out = rt.block_on(h.handle(&batch, None));
    assert!(out.response.batch_item_failures.is_empty(), "{:?}", out.summary);
    assert_small_landed_once(&rt.block_on(objects(&bucket)), &batch, "assumed role");
}

#[test]
fn meter_records_can_be_mirrored_as_documents_exactly_once() {
    let rt = rt();
    let batch = sample("small");
    let meters = pipeline().plan_batch(&batch.records).iter().map(|p| p.summary.meter_records).sum::<usize>() as u64;
    for base in [servers::opensearch(), servers::elasticsearch()] {
        let bucket = rt.block_on(bucket());
        let meter_index = unique("it-meters");
        let mut s = settings(&bucket, &base, &unique("it-metrics"));
        s.extend([
            ("SEARCH_METER_RECORDS", "true".to_owned()),
            ("SEARCH_METER_INDEX_PATTERN", format!("{meter_index}-%Y.%m.%d")),
        ]);
        let h = rt.block_on(handler(&s));
        rt.block_on(h.handle(&batch, None));
        rt.block_on(h.handle(&batch, None));
        assert_eq!(count(&base, &format!("{meter_index}-*")), meters, "{base}: one document per meter record");
        let (status, hits) = http(
            "POST",
            &format!("{base}/{meter_index}-*/_search"),
            Some(r#"{"size":0,"query":{"term":{"dimensions.plan":"pro"}}}"#),
        );
        assert_eq!(status, 200, "{hits}");
        assert!(hits["hits"]["total"]["value"].as_u64().unwrap() > 0, "dimensions are searchable keywords: {hits}");
        let (status, _) = http("GET", &format!("{base}/_index_template/logmeter-meter-records"), None);
        assert_eq!(status, 200);
    }
}

#[test]
fn a_refused_template_install_does_not_stop_indexing() {
    use logmeter::output::search::SearchSink;
    let rt = rt();
    let proxy = rt.block_on(Proxy::start(&servers::opensearch()));
    // The first request (the template lookup) is refused, as for a role without template permissions.
    proxy.set(Fault::StatusFirst { n: 1, status: 403 });
    let search =
        rt.block_on(servers::parts(&settings("unused", &proxy.url, &unique("it-no-template")))).search.unwrap();
    let request = first_bulk();
    let d = rt.block_on(search.bulk(&request)).unwrap();
    assert_eq!(d.created + d.already_present, request.items, "every document delivered despite the refusal");
    assert!(d.rejected.is_empty());
    let before = proxy.requests.load(std::sync::atomic::Ordering::SeqCst);
    rt.block_on(search.bulk(&request)).unwrap();
    assert_eq!(
        proxy.requests.load(std::sync::atomic::Ordering::SeqCst),
        before + 1,
        "a refused template is not asked again"
    );
}

#[test]
fn invalid_key_collision_with_a_different_object_is_a_loud_failure_not_a_delivery() {
    use crate::support::record_with_messages;
    let rt = rt();
    let bucket = rt.block_on(bucket());
    let parts = rt.block_on(servers::parts(&[
        ("INGEST_BUCKET_NAME", bucket.clone()),
        ("S3_MAX_ATTEMPTS", "1".into()),
        ("INGEST_LAYOUT", "record".into()),
    ]));
    let ingest = parts.ingest.clone();
    let h = parts.into_handler();
    let line = |customer: &str| {
        format!(
            "meter_record_for_stream {{\"customerId\":\"{customer}\",\"meterApiName\":\"calls\",\"meterValue\":1,\"meterTimeInMillis\":1795168800000}}"
        )
    };
    // Same length, so the stored CRC32 is what tells them apart.
    let (first_line, second_line) = (line("acme"), line("acmf"));
    let first = KinesisBatch { records: vec![record_with_messages("/aws/lambda/f", "s", &[&first_line], "49001")] };
    // The same shard and sequence number carrying other records.
    let second = KinesisBatch { records: vec![record_with_messages("/aws/lambda/f", "s", &[&second_line], "49001")] };
    assert!(rt.block_on(h.handle(&first, None)).response.batch_item_failures.is_empty());
    let before = rt.block_on(objects(&bucket));
    // A retry of the same record is recognised as already present, from the 412 alone (keys name their bodies).
    let again = rt.block_on(h.handle(&first, None));
    assert!(again.response.batch_item_failures.is_empty());
    assert_eq!((again.summary.objects_written, again.summary.objects_already_present), (0, 1), "{:?}", again.summary);
    assert_eq!(rt.block_on(objects(&bucket)), before);
    // Other records under the same sequence number name other content: another key, and the first object stays.
    assert!(rt.block_on(h.handle(&second, None)).response.batch_item_failures.is_empty());
    let after = rt.block_on(objects(&bucket));
    assert!(before.iter().all(|(k, v)| after.get(k) == Some(v)), "nothing was overwritten");
    let record_objects = after.iter().filter(|(k, _)| k.starts_with("ingest/records/")).collect::<Vec<_>>();
    assert_eq!(record_objects.len(), 2);
    assert!(record_objects.iter().all(|(k, body)| logmeter::plan::names_content(k, body)));

    // A key that does not name its body is read back after a 412: a different object under it is a loud failure.
    let plain =
        |body: &[u8]| logmeter::output::Parcel { key: "other/plain.json".into(), body: body.to_vec(), items: 1 };
    assert_eq!(rt.block_on(ingest.put(&plain(b"[1]"))).unwrap(), logmeter::sink::Delivery::Written);
    assert_eq!(rt.block_on(ingest.put(&plain(b"[1]"))).unwrap(), logmeter::sink::Delivery::AlreadyPresent);
    let err = rt.block_on(ingest.put(&plain(b"[2]"))).unwrap_err();
    assert!(matches!(err, SinkError::Taken { .. }), "{err}");
    assert!(err.to_string().contains("a different object already exists under this key"), "{err}");

    // In the batch layout keys are a function of the content too: the second record's meter records land in an
    // object of their own, and the first object stays as it was.
    let bucket = rt.block_on(crate::servers::bucket());
    let h = rt.block_on(handler(&[("INGEST_BUCKET_NAME", bucket.clone())]));
    for batch in [&first, &first, &second] {
        assert!(rt.block_on(h.handle(batch, None)).response.batch_item_failures.is_empty());
    }
    let landed = rt.block_on(objects(&bucket));
    assert_eq!(landed.len(), 2, "{:?}", landed.keys());
    let billed = billed(&landed);
    assert_eq!(billed.len(), 2);
    assert!(billed[0].contains("acme") && billed[1].contains("acmf"), "{billed:?}");
}

#[test]
fn missing_bucket_is_a_permanent_failure_that_names_it_and_the_record_is_reported() {
    let rt = rt();
    let bucket = unique("no-such-bucket");
    let parts = rt.block_on(servers::parts(&[("INGEST_BUCKET_NAME", bucket.clone()), ("S3_MAX_ATTEMPTS", "1".into())]));
    let batch = sample("small");
    let plan = pipeline().plan_batch(&batch.records).remove(0);
    let err = rt.block_on(parts.ingest.put(&plan.parcels(INGEST)[0])).unwrap_err();
    let h = parts.into_handler();
    assert!(matches!(err, SinkError::Permanent { .. }), "{err}");
    assert!(err.to_string().contains(&format!("bucket {bucket} does not exist (NoSuchBucket)")), "{err}");
    let out = rt.block_on(h.handle(&batch, None));
    assert_eq!(
        out.response.batch_item_failures[0].item_identifier.as_deref(),
        Some(batch.records[0].kinesis.sequence_number.as_str()),
        "nothing is dropped: the batch is retried from its first record"
    );
}
