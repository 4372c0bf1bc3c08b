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
        assert!(
            logmeter::pipeline::config::variables().contains(&name),
            "the template sets {name}, which logmeter never reads"
        );
    }
    assert!(vars.contains_key("INGEST_BUCKET_NAME"));
}

#[test]
fn readme_documents_every_variable() {
    let readme = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    for v in logmeter::pipeline::config::variables() {
        assert!(readme.contains(&format!("`{v}`")), "docs/configuration.md's table lacks {v}");
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
    assert_eq!(pattern, logmeter::backfill::DEFAULT_FILTER_PATTERN, "a backfill reads what the subscription passes");
    let trust = serde_norway::to_string(&t["Resources"]["LogsToKinesisRole"]["Properties"]["AssumeRolePolicyDocument"])
        .unwrap();
    assert!(trust.contains("aws:SourceArn"), "the CloudWatch-to-Kinesis role is limited with aws:SourceArn");
    // The account-wide policy, when asked for: its selection leaves out logmeter's own log group and the groups
    // with their own filter, and it delivers with the same pattern to the same stream.
    let policy = &t["Resources"]["AccountSubscriptionPolicy"];
    assert_eq!(policy["Condition"], "AccountWide");
    assert_eq!(policy["Properties"]["PolicyType"], "SUBSCRIPTION_FILTER_POLICY");
    let selection = serde_norway::to_string(&policy["Properties"]["SelectionCriteria"]).unwrap();
    assert!(selection.contains("LogGroupName NOT IN"), "{selection}");
    assert!(selection.contains("OwnLogGroupName") && selection.contains("LogGroupNames"), "{selection}");
    let document = &policy["Properties"]["PolicyDocument"]["Fn::ToJsonString"];
    assert_eq!(ref_of(&document["FilterPattern"]).as_deref(), Some("FilterPattern"));
    assert_eq!(document["Distribution"], "Random");
}

#[test]
fn functions_build_their_binaries_for_the_chosen_architecture_arm64_by_default() {
    let t = template();
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    for name in ["LogmeterFunction", "DemoApiFunction"] {
        let f = &t["Resources"][name];
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{name}");
        let binary = f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        assert!(cargo.contains(&format!("name = \"{binary}\"")), "Cargo.toml has the [[bin]] {binary}");
        assert_eq!(f["Properties"]["Runtime"], "provided.al2023", "{name}");
        assert_eq!(ref_of(&f["Properties"]["Architectures"][0]).as_deref(), Some("Architecture"), "{name}");
    }
    assert_eq!(t["Parameters"]["Architecture"]["Default"], "arm64");
    // The demo's log group is subscribed, with the same pattern, so its meter lines reach logmeter.
    let sub = &t["Resources"]["DemoSubscription"]["Properties"];
    assert_eq!(ref_of(&sub["LogGroupName"]).as_deref(), Some("DemoLogGroup"));
    assert_eq!(ref_of(&sub["FilterPattern"]).as_deref(), Some("FilterPattern"));
}

/// The type a template maps `field` (dotted) to, or `None` when it does not map it.
fn mapped_type(template: &serde_json::Value, field: &str) -> Option<String> {
    let mut node = &template["template"]["mappings"];
    for part in field.split('.') {
        node = node.get("properties")?.get(part)?;
    }
    node.get("type").and_then(|t| t.as_str()).map(str::to_owned)
}

#[test]
fn dashboards_use_only_fields_the_templates_map_with_a_fitting_type() {
    use logmeter::output::search::client::{index_template, rollups_template, template_patterns};
    let config = logmeter::PipelineConfig::default();
    let search = &config.outputs.search;
    let rollup_pattern = &search.rollup_index_pattern;
    let templates = [
        (
            template_patterns(&search.index_pattern)[0].clone(),
            index_template(&template_patterns(&search.index_pattern), false),
        ),
        (template_patterns(rollup_pattern)[0].clone(), rollups_template(&template_patterns(rollup_pattern))),
    ];
    let text = std::fs::read_to_string(crate::support::root().join("dashboards/logmeter.ndjson")).unwrap();
    let objects: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let patterns: std::collections::BTreeMap<&str, &str> = objects
        .iter()
        .filter(|o| o["type"] == "index-pattern")
        .map(|o| (o["id"].as_str().unwrap(), o["attributes"]["title"].as_str().unwrap()))
        .collect();
    let mut checked = 0;
    for v in objects.iter().filter(|o| o["type"] == "visualization") {
        let title = v["attributes"]["title"].as_str().unwrap();
        let pattern = patterns[v["references"][0]["id"].as_str().unwrap()];
        let template = &templates.iter().find(|(p, _)| p == pattern).unwrap_or_else(|| panic!("{title}: {pattern}")).1;
        let state: serde_json::Value = serde_json::from_str(v["attributes"]["visState"].as_str().unwrap()).unwrap();
        for agg in state["aggs"].as_array().unwrap() {
            let field = agg["params"]["field"].as_str().unwrap();
            let kind = mapped_type(template, field)
                .unwrap_or_else(|| panic!("{title}: {field} is not in {pattern}'s template"));
            let fits: &[&str] = match agg["type"].as_str().unwrap() {
                "sum" | "avg" | "max" | "min" | "percentiles" => &["long", "double"],
                "terms" => &["keyword"],
                "date_histogram" => &["date"],
                other => panic!("{title}: aggregation {other} is not checked"),
            };
            assert!(fits.contains(&kind.as_str()), "{title}: {field} is {kind}, which {} cannot use", agg["type"]);
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} fields checked");
    // The dashboard shows every visualization.
    let dashboard = objects.iter().find(|o| o["type"] == "dashboard").unwrap();
    let shown = dashboard["references"].as_array().unwrap().len();
    assert_eq!(shown, objects.iter().filter(|o| o["type"] == "visualization").count());
}
