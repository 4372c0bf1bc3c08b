//! The billing platforms against their faithful API server (`billing_fake.rs`): after every scenario, each meter
//! record of the sample is billed exactly once on each platform, with the right customer, meter and value, and
//! nothing else is billed. Lambda's retries are played as Lambda plays them: the batch again from the sequence
//! number the partial batch response names.

use crate::billing_fake::{BillingFake, Fault, KEY};
use crate::support::{from_sequence, logged, sample};
use logmeter::sink::MemorySink;
use logmeter::{Handler, KinesisBatch, PipelineConfig};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every registered platform.
fn platforms() -> Vec<&'static str> {
    logmeter::output::billing::PLATFORMS.iter().map(|p| p.name).collect()
}

/// The newest meter time of the sample: the fakes' clock (Stripe refuses events older than 35 days).
fn sample_now(name: &str) -> i64 {
    logged(name)
        .iter()
        .map(|m| serde_json::from_str::<serde_json::Value>(m).unwrap()["meterTimeInMillis"].as_i64().unwrap())
        .max()
        .unwrap()
}

struct Setup {
    handler: Handler,
    objects: Arc<MemorySink>,
    ledger: Arc<MemorySink>,
}

/// A handler delivering to every platform at `fake`, with `extra` settings, its ledger in `ledger` (none: no ledger,
/// for the control that shows what the ledger prevents).
fn setup(fake: &BillingFake, extra: &[(&str, String)], ledger: Option<Arc<MemorySink>>) -> Setup {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("BILLING_PLATFORMS".into(), platforms().join(","));
    for p in platforms() {
        env.insert(format!("{}_API_URL", p.to_uppercase()), fake.url.clone());
        env.insert(format!("{}_API_KEY", p.to_uppercase()), KEY.into());
    }
    // Stripe takes whole numbers only: the sample's values have up to two decimals.
    env.insert(
        "STRIPE_VALUE_SCALE".into(),
        "api-calls=100,search-queries=100,storage-gb-hours=100,ledger-entries=100".into(),
    );
    env.insert("LOGMETER_THREADS".into(), "2".into());
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let config = PipelineConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
    let objects = Arc::new(MemorySink::new());
    let ledger_store = ledger.clone().unwrap_or_else(|| Arc::new(MemorySink::new()));
    let shared = ledger.map(|l| l as Arc<dyn logmeter::sink::SharedObjects>);
    Setup { handler: crate::support::billing_handler(config, objects.clone(), shared), objects, ledger: ledger_store }
}

/// Hands `batch` to the handler until it reports nothing, as Lambda retries; the summaries added up.
async fn until_done(handler: &Handler, batch: &KinesisBatch) -> logmeter::Summary {
    let mut batch = batch.clone();
    let mut total = logmeter::Summary::default();
    for _ in 0..12 {
        let out = handler.handle(&batch, None).await;
        total += out.summary;
        match out.response.batch_item_failures.first().and_then(|f| f.item_identifier.clone()) {
            None => return total,
            Some(seq) => batch = from_sequence(&batch, &seq),
        }
    }
    panic!("still failing after 12 invocations: {total:?}");
}

/// What `platform` must have billed for `sample`'s meter records: `(customer, meter, value)`, sorted, the value as
/// the platform reads it; `map` renames customers, `skip` leaves customers out (refused ones).
fn expected(
    platform: &str,
    sample_name: &str,
    map: &BTreeMap<String, String>,
    skip: &[&str],
) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = logged(sample_name)
        .iter()
        .map(|m| serde_json::from_str::<serde_json::Value>(m).unwrap())
        .filter(|m| !skip.contains(&m["customerId"].as_str().unwrap()))
        .map(|m| {
            let customer = m["customerId"].as_str().unwrap().to_owned();
            let customer = map.get(&customer).cloned().unwrap_or(customer);
            let v = m["meterValue"].as_f64().unwrap();
            let value = match platform {
                // Scaled by 100 and whole; the sample's values have at most two decimals.
                "stripe" => format!("{}", (v * 100.0).round() as i64),
                _ => v.to_string(),
            };
            (customer, m["meterApiName"].as_str().unwrap().to_owned(), value)
        })
        .collect();
    out.sort();
    out
}

/// What `platform` billed, as `(customer, meter, value)` sorted (Metronome's value strings read as numbers).
fn billed(fake: &BillingFake, platform: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = fake
        .billed(platform)
        .into_iter()
        .map(|b| {
            let value = if platform == "metronome" { b.value.parse::<f64>().unwrap().to_string() } else { b.value };
            (b.customer, b.meter, value)
        })
        .collect();
    out.sort();
    out
}

fn assert_exactly_once(
    fake: &BillingFake,
    sample_name: &str,
    map: &BTreeMap<String, String>,
    skip: &[&str],
    what: &str,
) {
    for p in platforms() {
        let want = expected(p, sample_name, map, skip);
        assert!(!want.is_empty());
        assert_eq!(billed(fake, p), want, "{what}: {p} billed each record once (refusals: {:?})", fake.refusals());
    }
}

#[test]
fn billing_each_record_once_on_every_platform_and_a_redelivery_sends_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fake = BillingFake::start(sample_now("small")).await;
        let first = logged("small")
            .iter()
            .map(|m| serde_json::from_str::<serde_json::Value>(m).unwrap()["customerId"].as_str().unwrap().to_owned())
            .next()
            .unwrap();
        let map: BTreeMap<String, String> = [(first.clone(), "cus_mapped".to_owned())].into();
        let s =
            setup(&fake, &[("STRIPE_CUSTOMER_MAP", format!("{first}=cus_mapped"))], Some(Arc::new(MemorySink::new())));
        let stripe_only: BTreeMap<String, String> = BTreeMap::new();
        let batch = sample("small");
        let summary = until_done(&s.handler, &batch).await;
        for p in platforms() {
            let map = if p == "stripe" { &map } else { &stripe_only };
            assert_eq!(billed(&fake, p), expected(p, "small", map, &[]), "{p}");
        }
        let records = logged("small").len();
        let stripe = summary.outputs.get("stripe");
        assert_eq!((stripe.delivered, stripe.requests), (records, records), "Stripe: one call per event");
        assert_eq!(fake.lane_violations(), 0, "never two calls of one customer and meter at a time");
        let metronome = summary.outputs.get("metronome");
        assert!(metronome.delivered == records && metronome.requests <= 2, "{metronome:?}");
        // The same batch again, as Lambda re-delivers it: the ledger knows every id, nothing is sent.
        let before: Vec<usize> = platforms().iter().map(|p| fake.requests(p)).collect();
        let again = until_done(&s.handler, &batch).await;
        assert_eq!(
            platforms().iter().map(|p| fake.requests(p)).collect::<Vec<_>>(),
            before,
            "no request on re-delivery"
        );
        assert_eq!(again.outputs.get("amberflo").already_delivered, records);
        assert!(s.ledger.objects.lock().unwrap().keys().all(|k| k.starts_with("logmeter-ledger/")));
    });
}

#[test]
fn billing_faults_5xx_429_and_lost_answers_still_bill_each_record_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fake = BillingFake::start(sample_now("small")).await;
        for p in platforms() {
            for fault in
                [Fault::Status(503), Fault::Status(429), Fault::LostAnswer, Fault::Status(500), Fault::LostAnswer]
            {
                fake.fault(p, fault);
            }
        }
        let s = setup(
            &fake,
            &[("STRIPE_MAX_ATTEMPTS", "3".into()), ("METRONOME_MAX_ATTEMPTS", "2".into())],
            Some(Arc::new(MemorySink::new())),
        );
        let summary = until_done(&s.handler, &sample("small")).await;
        assert_exactly_once(&fake, "small", &BTreeMap::new(), &[], "after faults");
        assert!(summary.batch_item_failures > 0, "a lost answer past the attempts reports the record: {summary:?}");
        // A lost answer was committed: Stripe's retry of it met the duplicate answer, counted as delivered.
        assert!(summary.outputs.get("stripe").already_delivered >= 1, "{:?}", summary.outputs.get("stripe"));
    });
}

#[test]
fn billing_after_the_window_a_replay_bills_nothing_twice_and_without_the_ledger_it_would() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fake = BillingFake::start(sample_now("small")).await;
        let s = setup(&fake, &[], Some(Arc::new(MemorySink::new())));
        let batch = sample("small");
        until_done(&s.handler, &batch).await;
        fake.forget();
        // A replay of the whole batch in another container (nothing cached): only the ledger remembers.
        let other = setup(&fake, &[], Some(s.ledger.clone()));
        until_done(&other.handler, &batch).await;
        assert_exactly_once(&fake, "small", &BTreeMap::new(), &[], "a replay after the window");

        // The control: the same replay without a ledger bills every record a second time on every platform.
        let fake = BillingFake::start(sample_now("small")).await;
        let bare = setup(&fake, &[], None);
        until_done(&bare.handler, &batch).await;
        fake.forget();
        until_done(&bare.handler, &batch).await;
        for p in platforms() {
            assert_eq!(billed(&fake, p).len(), 2 * logged("small").len(), "{p}: the window alone does not protect");
        }
    });
}

#[test]
fn billing_refused_customers_are_quarantined_per_platform_and_the_rest_billed_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fake = BillingFake::start(sample_now("small")).await;
        let unknown = logged("small")
            .iter()
            .map(|m| serde_json::from_str::<serde_json::Value>(m).unwrap()["customerId"].as_str().unwrap().to_owned())
            .next()
            .unwrap();
        fake.refuse_customer(&unknown);
        let s = setup(&fake, &[], Some(Arc::new(MemorySink::new())));
        let summary = until_done(&s.handler, &sample("small")).await;
        assert_eq!(summary.batch_item_failures, 0, "a refusal is for good: quarantined, not retried");
        assert_exactly_once(&fake, "small", &BTreeMap::new(), &[unknown.as_str()], "with a refused customer");
        let of_unknown = logged("small").iter().filter(|m| m.contains(&format!("\"{unknown}\""))).count();
        let objects = s.objects.objects.lock().unwrap();
        for p in platforms() {
            assert_eq!(summary.outputs.get(p).refused, of_unknown, "{p}");
            let kept: usize = objects
                .iter()
                .filter(|(k, _)| k.starts_with(&format!("logmeter-quarantine/billing-refused/{p}/")))
                .map(|(_, body)| serde_json::from_slice::<Vec<serde_json::Value>>(body).unwrap().len())
                .sum();
            assert_eq!(kept, of_unknown, "{p}: each refused event kept with the answer");
        }
    });
}

#[test]
fn billing_fractions_are_quarantined_for_stripe_only_and_a_bad_key_is_an_access_error() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fake = BillingFake::start(sample_now("small")).await;
        let s = setup(&fake, &[("STRIPE_VALUE_SCALE", String::new())], Some(Arc::new(MemorySink::new())));
        let summary = until_done(&s.handler, &sample("small")).await;
        let values: Vec<f64> = logged("small")
            .iter()
            .map(|m| serde_json::from_str::<serde_json::Value>(m).unwrap()["meterValue"].as_f64().unwrap())
            .collect();
        let fractions = values.iter().filter(|v| v.fract() != 0.0).count();
        assert!(fractions > 0 && fractions < values.len());
        assert_eq!(summary.outputs.get("stripe").quarantined, fractions);
        assert_eq!(fake.billed("stripe").len(), values.len() - fractions);
        assert_eq!(fake.billed("metronome").len(), values.len(), "the other platforms get every record");

        let fake = BillingFake::start(sample_now("small")).await;
        let s = setup(&fake, &[("METRONOME_API_KEY", "wrong".into())], Some(Arc::new(MemorySink::new())));
        let out = s.handler.handle(&sample("small"), None).await;
        assert_eq!(out.response.batch_item_failures.len(), 1, "the records are retried");
        assert!(out.summary.access_denied >= 1, "{:?}", out.summary);
        assert!(fake.billed("metronome").is_empty());
        assert_eq!(fake.requests("metronome"), 1, "a 401 is not retried");
    });
}

#[test]
fn billing_batching_platforms_use_at_most_150_requests_per_10000_records() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let batch: KinesisBatch = serde_json::from_str(&crate::support::large().event).unwrap();
        let fake = BillingFake::start(sample_now("large")).await;
        let s = setup(
            &fake,
            &[("BILLING_PLATFORMS", "metronome,openmeter,amberflo".into())],
            Some(Arc::new(MemorySink::new())),
        );
        until_done(&s.handler, &batch).await;
        let records = logged("large").len();
        for p in ["metronome", "openmeter", "amberflo"] {
            assert_eq!(fake.billed(p).len(), records, "{p}");
            let per_10k = fake.requests(p) * 10_000 / records;
            assert!(per_10k <= 150, "{p}: {per_10k} requests per 10,000 records");
        }
    });
}

#[test]
fn billing_stripe_never_overlaps_two_calls_of_one_customer_and_meter() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Two customers, one meter, 40 records each, in four Kinesis records: two lanes of 40 calls.
        let t0 = 1_795_168_800_000_i64;
        let records: Vec<logmeter::event::KinesisInput> = (0..4)
            .map(|r| {
                let lines: Vec<String> = (0..20)
                    .map(|i| {
                        let n = r * 20 + i;
                        format!(
                            r#"meter_record_for_stream {{"customerId":"c-{}","meterApiName":"api-calls","meterValue":1,"meterTimeInMillis":{},"uniqueId":"lane-{n}"}}"#,
                            n % 2,
                            t0 + i64::from(n)
                        )
                    })
                    .collect();
                let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
                crate::support::record_with_messages("/aws/lambda/f", "2026/11/20/[$LATEST]abc", &lines, &format!("{}", 100 + r))
            })
            .collect();
        let batch = KinesisBatch { records };
        let fake = BillingFake::start(t0).await;
        let s = setup(&fake, &[("BILLING_PLATFORMS", "stripe".into())], Some(Arc::new(MemorySink::new())));
        let summary = until_done(&s.handler, &batch).await;
        assert_eq!(fake.billed("stripe").len(), 80, "{:?}", fake.refusals());
        assert_eq!(summary.outputs.get("stripe").requests, 80);
        assert_eq!(fake.lane_violations(), 0, "one call at a time per customer and meter");
    });
}

#[test]
fn billing_out_dir_writes_each_platforms_request_bodies_once() {
    let dir = crate::support::tempdir("billing-out");
    let run = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
            .args(["process", "samples/events/small.json", "--out", dir.to_str().unwrap()])
            .current_dir(crate::support::root())
            .env("BILLING_PLATFORMS", platforms().join(","))
            .env("STRIPE_VALUE_SCALE", "api-calls=100,search-queries=100,storage-gb-hours=100,ledger-entries=100")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        crate::support::summary_of(&out)
    };
    let records = logged("small").len();
    let first = run();
    let files = crate::support::snapshot(&dir);
    for p in platforms() {
        assert_eq!(first["outputs"][p]["delivered"], records, "{p}: {first}");
        let bodies: Vec<&String> = files.keys().filter(|k| k.starts_with(&format!("billing/{p}/"))).collect();
        let events: usize = bodies
            .iter()
            .map(|k| match p {
                "stripe" => 1,
                _ => serde_json::from_slice::<Vec<serde_json::Value>>(&files[*k]).unwrap().len(),
            })
            .sum();
        assert_eq!(events, records, "{p}: every record in the request bodies once");
        assert!(files.keys().any(|k| k.starts_with(&format!("logmeter-ledger/{p}/"))), "{p}: a ledger beside them");
    }
    let again = run();
    for p in platforms() {
        assert_eq!(again["outputs"][p]["already_delivered"], records, "{p}: {again}");
        assert_eq!(again["outputs"][p]["requests"], 0, "{p}");
    }
    assert_eq!(crate::support::snapshot(&dir).len(), files.len(), "nothing written twice");
    let _ = std::fs::remove_dir_all(dir);
}

/// Every request body logmeter sends OpenMeter, on the small and the large sample, is one OpenMeter's published
/// OpenAPI allows: Prism (`tests/contracts/openmeter/openapi.yaml`) refuses anything else with a 400, which the
/// outlet would count as refused.
#[test]
fn billing_openmeter_bodies_pass_openmeters_published_spec() {
    let prism = crate::servers::prism_openmeter();
    // Prism checks: a batch without an event's `id` is refused.
    let bad = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-H",
            "content-type: application/cloudevents-batch+json",
        ])
        .args(["--data-binary", r#"[{"specversion":"1.0","source":"s","type":"t","subject":"c"}]"#])
        .arg(format!("{prism}/api/v1/events"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&bad.stdout), "400", "Prism refuses an event without an id");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let large: KinesisBatch = serde_json::from_str(&crate::support::large().event).unwrap();
        for (name, batch) in [("small", sample("small")), ("large", large)] {
            let fake = BillingFake::start(sample_now(name)).await;
            let extra = [("BILLING_PLATFORMS", "openmeter".to_owned()), ("OPENMETER_API_URL", prism.clone())];
            let s = setup(&fake, &extra, None);
            let out = s.handler.handle(&batch, None).await;
            let counts = out.summary.outputs.get("openmeter");
            assert_eq!((counts.delivered, counts.refused), (logged(name).len(), 0), "{name}: {counts:?}");
        }
    });
}

/// Every Stripe body logmeter writes has exactly the form parameters Stripe's published spec declares for
/// `POST /v1/billing/meter_events` (`tests/contracts/stripe/meter_events.json`, with its provenance): the required
/// ones, no others, of their types and limits.
#[test]
fn billing_stripe_bodies_have_the_form_parameters_of_stripes_spec() {
    let contract: serde_json::Value = serde_json::from_slice(
        &std::fs::read(crate::support::root().join("tests/contracts/stripe/meter_events.json")).unwrap(),
    )
    .unwrap();
    let params = contract["parameters"].as_object().unwrap();
    let dir = crate::support::tempdir("billing-stripe-contract");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
        .args(["process", "samples/events/small.json", "--out", dir.to_str().unwrap()])
        .current_dir(crate::support::root())
        .env("BILLING_PLATFORMS", "stripe")
        .env("STRIPE_VALUE_SCALE", "api-calls=100,search-queries=100,storage-gb-hours=100,ledger-entries=100")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bodies: Vec<Vec<u8>> = crate::support::snapshot(&dir)
        .into_iter()
        .filter(|(k, _)| k.starts_with("billing/stripe/"))
        .map(|(k, v)| {
            assert!(k.ends_with(".form"), "{k}: {}", contract["content_type"]);
            v
        })
        .collect();
    assert_eq!(bodies.len(), logged("small").len());
    let decode = |s: &str| {
        let bytes: Vec<u8> = s.bytes().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                out.push(u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    };
    for body in bodies {
        let text = String::from_utf8(body).unwrap();
        let fields: Vec<(String, String)> =
            text.split('&').map(|pair| pair.split_once('=').unwrap()).map(|(k, v)| (decode(k), decode(v))).collect();
        let mut payload_keys = Vec::new();
        for (k, v) in &fields {
            let (name, key) = match k.split_once('[') {
                Some((name, rest)) => (name, Some(rest.trim_end_matches(']'))),
                None => (k.as_str(), None),
            };
            let spec = params.get(name).unwrap_or_else(|| panic!("{name} is not a parameter of the spec: {text}"));
            match spec["type"].as_str().unwrap() {
                "string" => assert!(
                    key.is_none() && v.chars().count() <= spec["max_length"].as_u64().unwrap() as usize,
                    "{k}={v}"
                ),
                t if t.starts_with("integer") => assert!(key.is_none() && v.parse::<i64>().is_ok(), "{k}={v}"),
                t if t.starts_with("object") => payload_keys.push(key.expect("payload[key]").to_owned()),
                t => panic!("{name}: logmeter sends no {t}"),
            }
        }
        for (name, spec) in params {
            if spec["required"] == true {
                assert!(
                    fields.iter().any(|(k, _)| k == name || k.starts_with(&format!("{name}["))),
                    "{name} missing: {text}"
                );
            }
        }
        for key in spec_keys(&params["payload"]) {
            assert!(payload_keys.contains(&key), "payload[{key}] missing: {text}");
        }
        let value = &fields.iter().find(|(k, _)| k == "payload[value]").unwrap().1;
        assert!(value.parse::<i64>().is_ok(), "{}: {value}", contract["value"]);
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn spec_keys(payload: &serde_json::Value) -> Vec<String> {
    payload["required_keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect()
}

/// A ledger store that lists and reads but refuses every write, as a missing grant or a key policy would.
#[derive(Debug)]
struct NoWrites(MemorySink);

impl logmeter::sink::ObjectSink for NoWrites {
    async fn put(&self, o: &logmeter::output::Parcel) -> Result<logmeter::sink::Delivery, logmeter::sink::SinkError> {
        Err(logmeter::sink::SinkError::AccessDenied {
            action: "s3:PutObject",
            target: o.key.clone(),
            detail: "test".into(),
        })
    }
    async fn list(&self, prefix: &str, after: Option<&str>) -> Result<Vec<String>, logmeter::sink::SinkError> {
        logmeter::sink::ObjectSink::list(&self.0, prefix, after).await
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, logmeter::sink::SinkError> {
        logmeter::sink::ObjectSink::get(&self.0, key).await
    }
}

#[test]
fn billing_a_ledger_that_cannot_be_written_stops_the_batch_before_anything_is_sent() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fake = BillingFake::start(sample_now("small")).await;
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert("BILLING_PLATFORMS".into(), "metronome,amberflo".into());
        for p in ["METRONOME", "AMBERFLO"] {
            env.insert(format!("{p}_API_URL"), fake.url.clone());
            env.insert(format!("{p}_API_KEY"), KEY.into());
        }
        let config = PipelineConfig::from_lookup(|k| env.get(k).cloned()).unwrap();
        let ledger: Arc<dyn logmeter::sink::SharedObjects> = Arc::new(NoWrites(MemorySink::new()));
        let h = crate::support::billing_handler(config, Arc::new(MemorySink::new()), Some(ledger));
        let out = h.handle(&sample("small"), None).await;
        assert_eq!(out.response.batch_item_failures.len(), 1, "the records are retried");
        assert!(out.summary.access_denied >= 1, "named as an access error: {:?}", out.summary);
        assert_eq!((fake.requests("metronome"), fake.requests("amberflo")), (0, 0), "nothing sent");
    });
}

#[test]
fn billing_a_longer_retry_after_than_logmeter_waits_reports_the_record_instead_of_retrying_early() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let fake = BillingFake::start(sample_now("small")).await;
        fake.fault("metronome", Fault::SlowDown(120));
        let s = setup(&fake, &[("BILLING_PLATFORMS", "metronome".into())], Some(Arc::new(MemorySink::new())));
        let out = s.handler.handle(&sample("small"), None).await;
        assert_eq!(out.response.batch_item_failures.len(), 1, "reported for Lambda's retry");
        assert_eq!(fake.requests("metronome"), 1, "not asked again before the platform said");
        let summary = until_done(&s.handler, &sample("small")).await;
        assert_eq!(summary.outputs.get("metronome").delivered, logged("small").len(), "the retry delivers");
    });
}
