//! The log events of one Lambda invocation, as each runtime and log format writes them.

use super::json_style;
mod report_lines;

use super::{Rng, Truth};
use report_lines::hundredths;
use serde_json::{Value, json};

/// How a function logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Node.js, text log format.
    Node,
    /// Python, text log format (`logging` and `print`).
    Python,
    /// Lambda JSON log format (application lines and `platform.*` events).
    Json,
    /// Python with SnapStart: restores instead of inits.
    SnapStart,
}

/// A function that feeds the stream.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// Function name.
    pub name: &'static str,
    /// Log group.
    pub group: &'static str,
    /// Whether the group is custom (streams then carry the function name).
    pub custom_group: bool,
    /// Log style.
    pub style: Style,
    /// Memory size, MB.
    pub memory: u64,
    /// Version.
    pub version: &'static str,
    /// Timeout, seconds.
    pub timeout_s: u64,
}

/// The functions of the samples.
pub const PROFILES: [Profile; 5] = [
    Profile {
        name: "checkout-api",
        group: "/aws/lambda/checkout-api",
        custom_group: false,
        style: Style::Node,
        memory: 512,
        version: "$LATEST",
        timeout_s: 30,
    },
    Profile {
        name: "search-worker",
        group: "/aws/lambda/search-worker",
        custom_group: false,
        style: Style::Python,
        memory: 1024,
        version: "$LATEST",
        timeout_s: 60,
    },
    Profile {
        name: "ledger-sync",
        group: "/app/billing-shared",
        custom_group: true,
        style: Style::Json,
        memory: 256,
        version: "12",
        timeout_s: 15,
    },
    Profile {
        name: "pricing-engine",
        group: "/aws/lambda/pricing-engine",
        custom_group: false,
        style: Style::SnapStart,
        memory: 2048,
        version: "7",
        timeout_s: 30,
    },
    Profile {
        name: "image-resizer",
        group: "/app/billing-shared",
        custom_group: true,
        style: Style::Json,
        memory: 128,
        version: "$LATEST",
        timeout_s: 10,
    },
];

const APIS: [&str; 4] = ["api-calls", "search-queries", "storage-gb-hours", "ledger-entries"];
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];
const PLANS: [&str; 3] = ["free", "pro", "enterprise"];
const CITIES: [&str; 3] = ["Zürich", "São Paulo", "Kraków"];

/// ISO-8601 with milliseconds, as Lambda runtimes print times.
pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Builds one invocation's events into `events` as `(timestamp, message)`.
pub struct Invocation<'a> {
    /// Randomness.
    pub rng: &'a mut Rng,
    /// Ground truth to extend.
    pub truth: &'a mut Truth,
    /// The function.
    pub profile: &'a Profile,
    /// Events of the current payload.
    pub events: &'a mut Vec<(i64, String)>,
    /// Current time, advanced as events are written.
    pub now: &'a mut i64,
    /// Percent of invocations with a bad meter line.
    pub bad_percent: u64,
    /// Whether Python functions may `print` meter lines (no request id).
    pub print_lines: bool,
    /// Percent of cold starts whose init phase fails first (an `INIT_REPORT` with status `error` or `timeout`, in
    /// phase `init`, or `invoke` for the suppressed init Lambda runs again with the first invocation).
    pub init_failure_percent: u64,
}

impl Invocation<'_> {
    fn push(&mut self, msg: String) {
        *self.now += self.rng.range(1, 40) as i64;
        self.events.push((*self.now, msg));
    }

    fn app_line(&mut self, id: &str, level: &str, text: &str) -> String {
        let ts = iso(*self.now);
        match self.profile.style {
            Style::Node => format!("{ts}\t{id}\t{level}\t{text}\n"),
            Style::Python | Style::SnapStart => format!("[{level}]\t{ts}\t{id}\t{text}\n"),
            Style::Json => json!({"timestamp": ts, "level": level, "requestId": id, "message": text}).to_string(),
        }
    }

    fn platform(&mut self, kind: &str, record: Value) -> String {
        json!({"time": iso(*self.now), "type": kind, "record": record}).to_string()
    }

    /// Writes one invocation. `cold` adds the init (or restore) phase.
    pub fn run(&mut self, cold: bool) {
        let id = self.rng.request_id();
        let style = self.profile.style;
        let json_format = style == Style::Json;
        if cold {
            let msg = match style {
                Style::Json => self.platform("platform.initStart", json!({"initializationType": "on-demand", "phase": "init", "runtimeVersion": "nodejs:20.v40"})),
                Style::SnapStart => "RESTORE_START Runtime Version: python:3.12.v55\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:abc\n".into(),
                _ => "INIT_START Runtime Version: nodejs:20.v40\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:def\n".into(),
            };
            self.push(msg);
        }
        let init = (cold && style != Style::SnapStart).then(|| hundredths(self.rng.range(8_000, 90_000)));
        let restore = (cold && style == Style::SnapStart).then(|| hundredths(self.rng.range(20_000, 60_000)));
        if let Some(r) = &restore {
            self.push(format!("RESTORE_REPORT Restore Duration: {} ms\n", r.0));
        }
        if cold && style == Style::Node && self.rng.chance(10) {
            self.push("INIT_REPORT Init Duration: 412.77 ms\tPhase: init\tStatus: success\n".into());
        }
        if cold
            && style != Style::SnapStart
            && self.init_failure_percent > 0
            && self.rng.chance(self.init_failure_percent)
        {
            let phase = *self.rng.pick(&["init", "invoke"]);
            let (status, line) = if self.rng.chance(50) {
                ("timeout", format!("INIT_REPORT Init Duration: 10000.00 ms\tPhase: {phase}\tStatus: timeout\n"))
            } else {
                (
                    "error",
                    format!(
                        "INIT_REPORT Init Duration: 37.12 ms\tPhase: {phase}\tStatus: error\tError Type: Runtime.ExitError\n"
                    ),
                )
            };
            let line = if json_format {
                let error = (status == "error").then_some("Runtime.ExitError");
                self.platform("platform.initReport", json!({"initializationType": "on-demand", "phase": phase, "status": status, "errorType": error, "metrics": {"durationMs": 37.12}}))
            } else {
                line
            };
            self.push(line);
            self.truth.init_failures.push((self.profile.name.to_owned(), phase.to_owned(), status.to_owned()));
        }
        let start = if json_format {
            self.platform("platform.start", json!({"requestId": id, "version": self.profile.version}))
        } else {
            format!("START RequestId: {id} Version: {}\n", self.profile.version)
        };
        self.push(start);
        for _ in 0..self.rng.range(3, 9) {
            let text = self.noise_text();
            let level = *self.rng.pick(&["INFO", "INFO", "INFO", "DEBUG", "WARN"]);
            let line = self.app_line(&id, level, &text);
            self.push(line);
        }
        let first = self.truth.meters.len();
        for _ in 0..self.rng.range(0, 3) {
            self.meter_line(&id);
        }
        if self.rng.chance(self.bad_percent) {
            self.bad_line(&id);
        }
        let customers: Vec<String> =
            self.truth.meters[first..].iter().filter_map(|m| m["customerId"].as_str().map(str::to_owned)).collect();
        self.finish(&id, init, restore);
        if let Some(r) = self.truth.reports.last_mut().filter(|r| r.request_id == id) {
            r.customers = customers;
        }
    }

    fn noise_text(&mut self) -> String {
        let r = &mut *self.rng;
        let span = r.hex(16);
        let text = match r.range(0, 6) {
            0 => format!(
                "processing order ord-{} for customer c-{:04}: {} items, total {}.{:02} EUR",
                r.hex(8),
                r.range(1, 300),
                r.range(1, 20),
                r.range(1, 900),
                r.range(0, 100)
            ),
            1 => format!(
                "cache state {{ hits: {}, misses: {}, keys: [ 'tenant:{}', 'plan:{}' ] }}",
                r.range(0, 999),
                r.range(0, 99),
                r.hex(6),
                r.hex(4)
            ),
            2 => format!(
                "fetched {} rows from table usage_{} in {} ms (meter export pending)",
                r.range(1, 5000),
                r.hex(4),
                r.range(1, 300)
            ),
            3 => format!("generated REPORT for tenant {} with {} lines", r.hex(10), r.range(1, 90)),
            4 => format!(
                "request headers: {{\"x-request-id\":\"{}\",\"user-agent\":\"Mozilla/5.0 (X11; Linux x86_64)\",\"accept\":\"application/json\"}}",
                r.hex(32)
            ),
            _ => format!(
                "Error: upstream timeout\r    at fetchQuote (/var/task/index.js:{}:13)\r    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
                r.range(10, 400)
            ),
        };
        format!("{text} span={span} elapsed={}us", r.range(1, 10_000_000))
    }

    fn record(&mut self) -> Value {
        let r = &mut *self.rng;
        let value: Value = if r.chance(70) { json!(r.range(1, 50)) } else { json!(r.range(1, 100_000) as f64 / 100.0) };
        let mut dims = serde_json::Map::new();
        dims.insert("region".into(), json!(*r.pick(&REGIONS)));
        dims.insert("plan".into(), json!(*r.pick(&PLANS)));
        if r.chance(10) {
            dims.insert("city".into(), json!(*r.pick(&CITIES)));
        }
        let mut m = serde_json::Map::new();
        m.insert("customerId".into(), json!(format!("c-{:04}", r.range(1, 300))));
        m.insert("meterApiName".into(), json!(*r.pick(&APIS)));
        m.insert("meterValue".into(), value);
        m.insert("meterTimeInMillis".into(), json!(*self.now - r.range(0, 500) as i64));
        if r.chance(60) {
            m.insert("uniqueId".into(), json!(r.request_id()));
        }
        m.insert("dimensions".into(), Value::Object(dims));
        Value::Object(m)
    }

    fn good(&mut self, v: &Value) {
        self.truth.counts.meter_records += 1;
        if v.get("uniqueId").is_none() {
            self.truth.counts.derived_unique_ids += 1;
        }
        self.truth.meters.push(v.clone());
    }

    fn meter_line(&mut self, id: &str) {
        let tag = "meter_record_for_stream";
        let rec = self.record();
        let style = self.profile.style;
        let shape = self.rng.range(0, 100);
        let msg = match style {
            Style::Node if shape < 15 => self.app_line(id, "INFO", &format!("{tag} {}", json_style::node_pretty(&rec))),
            Style::Node if shape < 25 => {
                let (a, b) = (rec.clone(), self.record());
                self.good(&a);
                let text = format!("{tag} {}", json_style::node(&json!([a, b])));
                self.good(&b);
                let line = self.app_line(id, "INFO", &text);
                self.push(line);
                return;
            }
            Style::Node => self.app_line(id, "INFO", &format!("{tag} {}", json_style::node(&rec))),
            Style::Python | Style::SnapStart if shape < 25 && self.print_lines => {
                format!("{tag} {}\n", json_style::python(&rec))
            }
            Style::Python | Style::SnapStart if shape < 40 && self.print_lines => {
                let second = self.record();
                self.good(&rec);
                self.good(&second);
                let text = format!("{tag} {}\n{tag} {}\n", json_style::python(&rec), json_style::python(&second));
                self.push(text);
                return;
            }
            Style::Python | Style::SnapStart => {
                self.app_line(id, "INFO", &format!("{tag} {}", json_style::python(&rec)))
            }
            Style::Json if shape < 40 => {
                let mut message = serde_json::Map::new();
                message.insert(tag.into(), rec.clone());
                json!({"timestamp": iso(*self.now), "level": "INFO", "requestId": id, "message": message}).to_string()
            }
            Style::Json => self.app_line(id, "INFO", &format!("{tag} {}", json_style::node(&rec))),
        };
        self.good(&rec);
        self.push(msg);
    }

    fn bad_line(&mut self, id: &str) {
        let tag = "meter_record_for_stream";
        let mut rec = self.record();
        let compact = |v: &Value| json_style::node(v);
        let (label, text) = match self.rng.range(0, 9) {
            0 => ("inspect", format!("{tag} {{ meterApiName: 'api-calls', customerId: 'c-0007', meterValue: 1 }}")),
            1 => (
                "python-repr",
                format!("{tag} {{'meterApiName': 'api-calls', 'customerId': 'c-0007', 'meterValue': 1}}"),
            ),
            2 => {
                rec.as_object_mut().map(|m| m.remove("customerId"));
                ("missing-customer", format!("{tag} {}", compact(&rec)))
            }
            3 => {
                let secs = rec["meterTimeInMillis"].as_i64().unwrap_or(0) / 1000;
                rec["meterTimeInMillis"] = json!(secs);
                ("seconds", format!("{tag} {}", compact(&rec)))
            }
            4 => ("trailing-brace", format!("{tag} {}}}", compact(&rec))),
            5 => {
                rec["meterValue"] = json!("5");
                ("string-value", format!("{tag} {}", compact(&rec)))
            }
            6 => {
                rec["dimensions"] = json!({"units": 5});
                ("bad-dimension", format!("{tag} {}", compact(&rec)))
            }
            7 => {
                let (a, c) = (self.record(), self.record());
                let mut b = rec.clone();
                b.as_object_mut().map(|m| m.remove("meterApiName"));
                self.good(&a);
                self.good(&c);
                ("array-one-bad", format!("{tag} {}", compact(&json!([a, b, c]))))
            }
            _ => ("no-json", format!("{tag} could not be built for customer c-0042")),
        };
        self.truth.counts.quarantined += 1;
        self.truth.bad.push(label);
        let msg = self.app_line(id, "ERROR", &text);
        self.push(msg);
    }
}
