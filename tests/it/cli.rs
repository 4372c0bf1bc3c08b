//! The `logmeter` command as a user runs it.

use crate::support::{logmeter, root, snapshot, summary_of, tempdir};

#[test]
fn process_twice_and_retry_from_the_middle_leave_the_directory_byte_identical() {
    let out = tempdir("idempotent");
    let dir = out.to_str().unwrap();
    let first = logmeter(&["process", "samples/events/large.json", "--out", dir], None);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let s1 = summary_of(&first);
    let tree = snapshot(&out);
    // The objects and bulk bodies written, and the id index of the (one) bulk folder.
    let indices = tree.keys().filter(|k| k.starts_with("search-bulk/") && k.ends_with("/.ids")).count();
    assert_eq!(indices, 1, "{:?}", tree.keys().filter(|k| k.ends_with(".ids")).collect::<Vec<_>>());
    let written = s1["objects_written"].as_u64().unwrap() + s1["bulk_requests"].as_u64().unwrap();
    assert_eq!(tree.len() as u64 - 1, written);

    let second = logmeter(&["process", "samples/events/large.json", "--out", dir], None);
    let s2 = summary_of(&second);
    assert!(second.status.success());
    assert_eq!(s2["objects_written"], 0);
    assert_eq!(s2["objects_already_present"], s1["quarantine_objects"], "quarantine objects found again");
    assert_eq!(s2["meter_records_already_present"], s1["meter_records"], "every meter record found again");
    assert_eq!(s2["documents_already_present"], s1["documents_indexed"], "every document found again");
    assert_eq!(s2["meter_records"], s1["meter_records"]);
    assert!(snapshot(&out) == tree, "second run changed the directory");

    // A retry starting at a record in the middle of the batch, read from stdin.
    let event: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("samples/events/large.json")).unwrap()).unwrap();
    let records = event["Records"].as_array().unwrap();
    let retry = serde_json::json!({"Records": records[records.len() / 2..]});
    let third = logmeter(&["process", "-", "--out", dir], Some(retry.to_string().as_bytes()));
    assert!(third.status.success());
    let s3 = summary_of(&third);
    assert_eq!((s3["objects_written"].as_u64(), s3["documents_indexed"].as_u64()), (Some(0), Some(0)));
    assert_eq!(s3["meter_records_already_present"], s3["meter_records"], "the half's records are found, not written");
    assert!(snapshot(&out) == tree, "retry from the middle changed the directory");
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn summary_has_the_documented_fields() {
    let out = tempdir("summary");
    let run = logmeter(&["process", "samples/events/small.json", "--out", out.to_str().unwrap()], None);
    let s = summary_of(&run);
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("samples/events/small.truth.json")).unwrap()).unwrap();
    for (k, v) in truth.as_object().unwrap() {
        assert_eq!(&s[k], v, "{k}");
    }
    for k in [
        "kinesis_records",
        "control_messages",
        "log_events",
        "meter_records",
        "reports",
        "quarantined",
        "batch_item_failures",
    ] {
        assert!(s[k].is_u64(), "{k}");
    }
    assert_eq!(s["batch_item_failures"], 0);
    // Every counter is printed and documented in the README's summary table, in the order of the fields.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let printed: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = logmeter::Summary::COUNTERS.to_vec();
    sorted.sort_unstable();
    let mut printed_sorted = printed.clone();
    printed_sorted.sort_unstable();
    assert_eq!(printed_sorted, sorted, "the printed summary is every counter");
    let table: String =
        readme.lines().skip_while(|l| !l.starts_with("| summary field |")).take_while(|l| l.starts_with('|')).collect();
    for k in logmeter::Summary::COUNTERS {
        assert!(table.contains(&format!("`{k}`")), "README's summary table lacks {k}");
    }
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn bad_data_exits_zero_usage_errors_do_not() {
    let out = tempdir("exit");
    let dir = out.to_str().unwrap();
    let bad_record = r#"{"Records":[{"eventID":"shardId-1:5","kinesis":{"sequenceNumber":"5","data":"bm90IGd6aXA=","approximateArrivalTimestamp":1795168800.0}}]}"#;
    let run = logmeter(&["process", "-", "--out", dir], Some(bad_record.as_bytes()));
    assert!(run.status.success());
    assert_eq!(summary_of(&run)["quarantined"], 1);

    let not_event = logmeter(&["process", "-", "--out", dir], Some(b"[1,2"));
    assert_eq!(not_event.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&not_event.stderr).contains("not a Lambda Kinesis event"));

    let missing = logmeter(&["process", "no/such/file.json", "--out", dir], None);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read no/such/file.json"));

    let no_out = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
        .args(["process", "samples/events/small.json"])
        .current_dir(root())
        .env_remove("INGEST_BUCKET_NAME")
        .output()
        .unwrap();
    assert_eq!(no_out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_out.stderr).contains("INGEST_BUCKET_NAME is not set"));

    // A plain error is one plain line: no region lookup before the settings are checked, no colour off a terminal.
    for (bucket, want) in [(None, "INGEST_BUCKET_NAME is not set"), (Some("b"), "no AWS region: set AWS_REGION")] {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"));
        cmd.args(["process", "samples/events/small.json"]).current_dir(root());
        for var in ["INGEST_BUCKET_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "RUST_LOG"] {
            cmd.env_remove(var);
        }
        // No profile file to read a region from, and no instance metadata service to ask.
        let empty = out.join("aws-config");
        std::fs::write(&empty, "").unwrap();
        cmd.env("AWS_CONFIG_FILE", &empty).env("AWS_SHARED_CREDENTIALS_FILE", &empty);
        cmd.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9");
        if let Some(b) = bucket {
            cmd.env("INGEST_BUCKET_NAME", b);
        }
        let run = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with("logmeter: ") && stderr.contains(want) && !stderr.contains('\x1b'), "{stderr}");
    }

    let help = logmeter(&["process", "--help"], None);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("byte-identical"));
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn bad_configuration_names_the_variable() {
    let out = tempdir("config");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
        .args(["process", "samples/events/small.json", "--out", out.to_str().unwrap()])
        .current_dir(root())
        .env("MAX_OBJECT_BYTES", "huge")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("invalid MAX_OBJECT_BYTES=\"huge\""));
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn help_lists_every_setting_the_configuration_reads() {
    let help = logmeter(&["--help"], None);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    // Every variable name the configuration code reads (outside its tests) is in the help, with the words of docs/configuration.md.
    let mut names = std::collections::BTreeSet::new();
    let mut files: Vec<std::path::PathBuf> =
        ["src/config/delivery.rs", "src/pipeline/config.rs", "src/output/mod.rs", "src/startup.rs", "src/aws.rs"]
            .iter()
            .map(|f| root().join(f))
            .collect();
    // Each output reads its own, in its folder's settings.rs.
    for entry in std::fs::read_dir(root().join("src/output")).unwrap() {
        let settings = entry.unwrap().path().join("settings.rs");
        if settings.exists() {
            files.push(settings);
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        for literal in code.split('"').skip(1).step_by(2) {
            if literal.len() > 3 && literal.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
                names.insert(literal.to_owned());
            }
        }
    }
    assert!(names.len() >= 30, "{names:?}");
    for name in &names {
        assert!(help.contains(name.as_str()), "{name} is read but not in `logmeter --help` (docs/configuration.md)");
    }
    assert!(help.contains("INGEST_BUCKET_NAME\n      default (required for delivery)"), "{help}");
    let process = logmeter(&["process", "--help"], None);
    assert!(String::from_utf8_lossy(&process.stdout).contains("MAX_BATCH_OUTPUT_BYTES"));
}

#[test]
fn out_dir_mirrors_the_bucket_layout_with_gzip_too() {
    let (plain, gz) = (tempdir("plain"), tempdir("gz"));
    let run = |dir: &std::path::Path, gzip: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_logmeter"))
            .args(["process", "samples/events/small.json", "--out", dir.to_str().unwrap()])
            .current_dir(root())
            .env("INGEST_GZIP", gzip)
            .output()
            .unwrap()
    };
    assert!(run(&plain, "false").status.success());
    assert!(run(&gz, "true").status.success());
    let (plain_files, gz_files) = (crate::support::snapshot(&plain), crate::support::snapshot(&gz));
    let mut records = 0;
    for (key, body) in &plain_files {
        if key.starts_with("ingest/records/") {
            // The key S3 gets, and the bytes: the plain body gzip'd.
            let packed = &gz_files[&format!("{key}.gz")];
            let mut unpacked = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&packed[..]), &mut unpacked).unwrap();
            assert_eq!(&unpacked, body, "{key}");
            records += 1;
        } else {
            assert_eq!(gz_files.get(key), Some(body), "{key}: quarantine and bulk bodies are not compressed");
        }
    }
    assert!(records > 0);
    assert_eq!(gz_files.len(), plain_files.len());
    // The same run again changes nothing: gzip with a zero mtime gives the same bytes.
    assert!(run(&gz, "true").status.success());
    assert_eq!(crate::support::snapshot(&gz), gz_files);
    let _ = (std::fs::remove_dir_all(plain), std::fs::remove_dir_all(gz));
}
