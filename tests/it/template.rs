//! `sam/template.yaml` against the code: environment variables the configuration reads, and the Kinesis event
//! source properties cfn-lint does not check (a typo in `FunctionResponseTypes` would pass it and silently turn
//! partial batch responses off).

use crate::support::root;
use serde_norway::Value;

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("sam/template.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// A `!Ref X` value's target.
fn ref_of(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().map(str::to_owned),
        _ => None,
    }
}

#[test]
fn function_environment_uses_only_variables_the_code_reads() {
    let t = template();
    let vars =
        t["Resources"]["LogmeterFunction"]["Properties"]["Environment"]["Variables"].as_mapping().unwrap().clone();
    assert!(vars.len() >= 8);
    for (k, _) in &vars {
        let name = k.as_str().unwrap();
        assert!(logmeter::config::VARIABLES.contains(&name), "the template sets {name}, which logmeter never reads");
    }
    assert!(vars.contains_key("INGEST_BUCKET_NAME"));
}

#[test]
fn readme_documents_every_variable() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for v in logmeter::config::VARIABLES {
        assert!(readme.contains(&format!("`{v}`")), "README's configuration table lacks {v}");
    }
}

#[test]
fn kinesis_event_source_reports_partial_failures_and_bounds_retries() {
    let t = template();
    let event = &t["Resources"]["LogmeterFunction"]["Properties"]["Events"]["Logs"];
    assert_eq!(event["Type"], "Kinesis");
    let p = &event["Properties"];
    assert_eq!(p["FunctionResponseTypes"], Value::Sequence(vec![Value::String("ReportBatchItemFailures".into())]));
    assert_eq!(p["BisectBatchOnFunctionError"], Value::Bool(true));
    assert_eq!(p["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(p["DestinationConfig"]["OnFailure"]["Type"], "SQS");
    for (property, low, high) in [
        ("MaximumRetryAttempts", 0, 10_000),
        ("MaximumRecordAgeInSeconds", 60, 604_800),
        ("BatchSize", 1, 10_000),
        ("ParallelizationFactor", 1, 10),
        ("MaximumBatchingWindowInSeconds", 0, 300),
    ] {
        let param = ref_of(&p[property]).unwrap_or_else(|| panic!("{property} is a parameter"));
        let default = t["Parameters"][param.as_str()]["Default"].as_i64().unwrap();
        assert!((low..=high).contains(&default), "{property} default {default} (never infinite)");
    }
}

#[test]
fn own_log_group_is_never_subscribed_and_filters_spread_records() {
    let t = template();
    let rule = &t["Rules"]["NeverSubscribeOwnLogGroup"]["Assertions"][0]["Assert"];
    let text = serde_norway::to_string(rule).unwrap();
    assert!(text.contains("OwnLogGroupName") && text.contains("LogGroupNames"), "{text}");
    let own = &t["Resources"]["OwnLogGroup"]["Properties"]["LogGroupName"];
    assert_eq!(ref_of(own).as_deref(), Some("OwnLogGroupName"));
    let logging = &t["Resources"]["LogmeterFunction"]["Properties"]["LoggingConfig"];
    assert_eq!(ref_of(&logging["LogGroup"]).as_deref(), Some("OwnLogGroup"));
    assert_eq!(logging["LogFormat"], "JSON");
    let each = &t["Resources"]["Fn::ForEach::Subscriptions"][2]["Subscription&{LogGroupName}"]["Properties"];
    assert_eq!(each["Distribution"], "Random");
    let pattern = t["Parameters"]["FilterPattern"]["Default"].as_str().unwrap();
    for term in ["meter_record_for_stream", "REPORT RequestId", "platform.report"] {
        assert!(pattern.contains(term), "filter pattern passes {term}");
    }
    let trust = serde_norway::to_string(&t["Resources"]["LogsToKinesisRole"]["Properties"]["AssumeRolePolicyDocument"])
        .unwrap();
    assert!(trust.contains("aws:SourceArn"), "the CloudWatch-to-Kinesis role is limited with aws:SourceArn");
}

#[test]
fn functions_build_their_binaries_for_arm64() {
    let t = template();
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    for name in ["LogmeterFunction", "DemoApiFunction"] {
        let f = &t["Resources"][name];
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        let binary = f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        assert!(cargo.contains(&format!("name = \"{binary}\"")), "Cargo.toml has the [[bin]] {binary}");
        assert_eq!(f["Properties"]["Runtime"], "provided.al2023", "{name}");
        assert_eq!(f["Properties"]["Architectures"][0], "arm64", "{name}");
    }
    // The demo's log group is subscribed, with the same pattern, so its meter lines reach logmeter.
    let sub = &t["Resources"]["DemoSubscription"]["Properties"];
    assert_eq!(ref_of(&sub["LogGroupName"]).as_deref(), Some("DemoLogGroup"));
    assert_eq!(ref_of(&sub["FilterPattern"]).as_deref(), Some("FilterPattern"));
}
