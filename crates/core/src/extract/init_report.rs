//! The init phase's lines: `INIT_START` / `platform.initStart` name the runtime version (and, on Lambda Managed
//! Instances, the initialization type) at no cost; failures come from `INIT_REPORT` text lines and the JSON log format's `platform.initReport`, when their status is
//! not `success`. They are not invocations; rollups count them per function and window (`init_failures`).
//!
//! `INIT_REPORT Init Duration: 137.69 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError`
//! `{"type":"platform.initReport","record":{"phase":"init","status":"error","errorType":"…","metrics":{…}}}`

/// The JSON event type of an init start.
pub const PLATFORM_INIT_START: &str = "platform.initStart";

/// What an init start says about the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitStart {
    /// `Runtime Version` / `record.runtimeVersion` (`python:3.12.mainlinev2.v27`).
    pub runtime_version: Option<String>,
    /// `record.initializationType` (`on-demand`, `provisioned-concurrency`, `snap-start`,
    /// `lambda-managed-instances`); JSON only.
    pub initialization_type: Option<String>,
}

/// The init start of an `INIT_START` line (unescaped), or `None` for another line.
pub fn parse_text_init_start(line: &str) -> Option<InitStart> {
    let rest = line.strip_prefix("INIT_START ")?;
    let runtime_version = rest
        .trim_end()
        .split('\t')
        .filter_map(|f| f.split_once(": "))
        .find(|(k, _)| k.trim() == "Runtime Version")
        .map(|(_, v)| v.trim().to_owned());
    Some(InitStart { runtime_version, initialization_type: None })
}

/// The init start of a `platform.initStart` line (unescaped JSON), or `None` for another event.
pub fn parse_platform_init_start(line: &str) -> Option<InitStart> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("type")?.as_str()? != PLATFORM_INIT_START {
        return None;
    }
    let record = v.get("record")?;
    let text = |k: &str| record.get(k).and_then(|s| s.as_str()).map(str::to_owned);
    Some(InitStart { runtime_version: text("runtimeVersion"), initialization_type: text("initializationType") })
}

/// The JSON event type of an init report.
pub const PLATFORM_INIT_REPORT: &str = "platform.initReport";

/// An init phase that did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitFailure {
    /// `Status` / `record.status`: `error`, `timeout`, `failure`.
    pub status: String,
    /// `Phase` / `record.phase` (`init`, `invoke` for a suppressed init), when given.
    pub phase: Option<String>,
    /// `Error Type` / `record.errorType`, when given.
    pub error_type: Option<String>,
    /// Event time, epoch ms.
    pub timestamp: i64,
    /// The event's source among its record's (the `sources` of `logmeter::output::RecordValues`; 0 = the payload's).
    pub source: u16,
}

/// The init failure an `INIT_REPORT` line (unescaped) reports, or `None` when it succeeded or names no status
/// (older lines carry only the duration).
pub fn parse_text_init_report(line: &str, timestamp: i64) -> Option<InitFailure> {
    let rest = line.strip_prefix("INIT_REPORT ")?;
    let (mut status, mut phase, mut error_type) = (None, None, None);
    for field in rest.trim_end().split('\t') {
        let Some((key, value)) = field.split_once(": ") else { continue };
        let value = value.trim().to_owned();
        match key.trim() {
            "Status" => status = Some(value),
            "Phase" => phase = Some(value),
            "Error Type" => error_type = Some(value),
            _ => {}
        }
    }
    failure(status?, phase, error_type, timestamp)
}

/// The init failure a `platform.initReport` line (unescaped JSON) reports, or `None` when it is another event, it
/// succeeded, or it names no status.
pub fn parse_platform_init_report(line: &str, timestamp: i64) -> Option<InitFailure> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("type")?.as_str()? != PLATFORM_INIT_REPORT {
        return None;
    }
    let record = v.get("record")?;
    let text = |k: &str| record.get(k).and_then(|s| s.as_str()).map(str::to_owned);
    failure(text("status")?, text("phase"), text("errorType"), timestamp)
}

fn failure(status: String, phase: Option<String>, error_type: Option<String>, timestamp: i64) -> Option<InitFailure> {
    (status != "success").then_some(InitFailure { status, phase, error_type, timestamp, source: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_init_starts() {
        let text = "INIT_START Runtime Version: python:3.12.mainlinev2.v27\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:abc\n";
        assert_eq!(parse_text_init_start(text).unwrap().runtime_version.as_deref(), Some("python:3.12.mainlinev2.v27"));
        let json = r#"{"time":"t","type":"platform.initStart","record":{"initializationType":"lambda-managed-instances","phase":"init","runtimeVersion":"python:3.13.v20","instanceMaxMemory":2147483648}}"#;
        let s = parse_platform_init_start(json).unwrap();
        assert_eq!(
            (s.runtime_version.as_deref(), s.initialization_type.as_deref()),
            (Some("python:3.13.v20"), Some("lambda-managed-instances"))
        );
        assert_eq!(parse_platform_init_start(&json.replace("initStart", "initReport")), None);
        assert_eq!(parse_text_init_start("START RequestId: x"), None);
    }

    #[test]
    fn valid_init_failures_and_not_failures() {
        let f = parse_text_init_report(
            "INIT_REPORT Init Duration: 137.69 ms\tPhase: init\tStatus: error\tError Type: Runtime.ImportModuleError\n",
            7,
        )
        .unwrap();
        assert_eq!(
            (f.status.as_str(), f.phase.as_deref(), f.error_type.as_deref(), f.timestamp),
            ("error", Some("init"), Some("Runtime.ImportModuleError"), 7)
        );
        assert_eq!(
            parse_text_init_report("INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: timeout\n", 1)
                .unwrap()
                .status,
            "timeout"
        );
        assert_eq!(
            parse_text_init_report("INIT_REPORT Init Duration: 80.1 ms\tPhase: init\tStatus: success\n", 1),
            None
        );
        assert_eq!(parse_text_init_report("INIT_REPORT Init Duration: 80.1 ms\n", 1), None, "no status: not a failure");
        assert_eq!(parse_text_init_report("REPORT RequestId: x", 1), None);
        let json = r#"{"time":"t","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","status":"error","errorType":"Runtime.ExitError","metrics":{"durationMs":3.1}}}"#;
        assert_eq!(parse_platform_init_report(json, 2).unwrap().error_type.as_deref(), Some("Runtime.ExitError"));
        assert_eq!(parse_platform_init_report(&json.replace("\"error\"", "\"success\""), 2), None);
        assert_eq!(parse_platform_init_report(&json.replace("initReport", "initStart"), 2), None);
        assert_eq!(parse_platform_init_report("{not json", 2), None);
    }
}
