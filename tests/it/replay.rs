//! `logmeter replay`: whole records quarantined under a setting that was too tight bill exactly what a run with the
//! right setting bills, once, however often the replay runs; spooled bulk bodies reach the real search servers once.

use crate::servers::{self, rt, unique};
use crate::support::{billed, root, snapshot, tempdir};
use std::path::Path;

fn logmeter(args: &[&str], env: &[(&str, String)]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "logmeter {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn process(dir: &Path, env: &[(&str, String)]) -> serde_json::Value {
    logmeter(&["process", "samples/events/large.json", "--out", &dir.display().to_string()], env)
}

#[test]
fn replaying_records_quarantined_whole_bills_them_once_however_often_it_runs() {
    let work = tempdir("replay");
    let (reference, dir) = (work.join("reference"), work.join("out"));
    process(&reference, &[]);
    let want = billed(&snapshot(&reference));

    // Too tight a cap: the larger records are quarantined whole, with their data, and bill nothing.
    let tight = process(&dir, &[("MAX_INFLATED_BYTES", "120000".into())]);
    assert!(tight["quarantined_kinesis_records"].as_u64().unwrap() > 10, "{tight}");
    let before = billed(&snapshot(&dir));
    assert!(before.len() < want.len(), "records are missing before the replay");

    // The cap fixed (the default), replayed: exactly the reference's records, once.
    let replayed = logmeter(&["replay", "--out", &dir.display().to_string()], &[]);
    assert!(replayed["replayed_records"].as_u64().unwrap() >= tight["quarantined_kinesis_records"].as_u64().unwrap());
    assert_eq!(replayed["batch_item_failures"], 0);
    assert_eq!(billed(&snapshot(&dir)), want, "billed exactly as a run with the right setting");

    // Again: nothing changes, byte for byte.
    let after = snapshot(&dir);
    let again = logmeter(&["replay", "--out", &dir.display().to_string()], &[]);
    assert_eq!(again["replayed_records"], replayed["replayed_records"]);
    assert_eq!(snapshot(&dir), after, "a second replay writes nothing");
}

#[test]
fn spooled_bulk_bodies_reach_the_mirror_once_through_replay() {
    let rt = rt();
    let bucket = rt.block_on(servers::bucket());
    let index = format!("logmeter-metrics-{}", unique("replay"));
    let closed = format!(
        "http://127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
    );
    let mut env: Vec<(&str, String)> = vec![
        ("AWS_ENDPOINT_URL", servers::s3()),
        ("AWS_REGION", "eu-west-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("INGEST_BUCKET_NAME", bucket),
        ("SEARCH_INDEX_PATTERN", format!("{index}-%Y.%m.%d")),
        ("SEARCH_ROLLUPS", "false".into()),
        ("SEARCH_RECONCILE_DOCS", "false".into()),
        ("SEARCH_MAX_ATTEMPTS", "1".into()),
        ("SEARCH_URL", closed),
    ];
    // The mirror is down: bodies are spooled to the bucket and billing carries on.
    let down = logmeter(&["process", "samples/events/small.json"], &env);
    assert!(down["documents_spooled"].as_u64().unwrap() > 0 && down["record_objects"].as_u64().unwrap() > 0);
    let reports = down["reports"].as_u64().unwrap();

    // The mirror is back: replay sends each spooled body; a second replay finds every document there.
    let base = servers::opensearch();
    env.retain(|(k, _)| *k != "SEARCH_URL");
    env.push(("SEARCH_URL", base.clone()));
    let replayed = logmeter(&["replay"], &env);
    assert!(replayed["replayed_search_bodies"].as_u64().unwrap() > 0, "{replayed}");
    assert_eq!(replayed["documents_indexed"], reports);
    assert_eq!(servers::count(&base, &format!("{index}-*")), reports);
    let again = logmeter(&["replay"], &env);
    assert_eq!(
        (again["documents_indexed"].as_u64(), again["documents_already_present"].as_u64()),
        (Some(0), Some(reports))
    );
    assert_eq!(servers::count(&base, &format!("{index}-*")), reports, "every report indexed once");
}
