//! A faithful API server of the four billing platforms' ingest endpoints, on 127.0.0.1, for the billing tests: no
//! vendor server installs here, so this copies each one's documented semantics (../shared/BILLING-APIS.md, the
//! vendors' API references) and keeps what each would have billed.
//!
//! | path | platform | auth | body rules | duplicate |
//! |---|---|---|---|---|
//! | `POST /v1/billing/meter_events` | Stripe v1 | `Authorization: Bearer <key>` | form; `event_name`, `identifier` (≤ 100), `timestamp` (epoch s, ≤ 35 days old, ≤ 5 min ahead), `payload[stripe_customer_id]`, `payload[value]` a whole number | 400 "An event already exists with identifier …", `Stripe-Should-Retry: false` |
//! | `POST /v1/ingest` | Metronome | Bearer | JSON array of 1–100 `{transaction_id, customer_id, event_type, timestamp (RFC 3339, ≤ 24 h ahead), properties}` | silently ignored |
//! | `POST /api/v1/events` | OpenMeter | Bearer | `application/cloudevents-batch+json`, CloudEvents 1.0 (`id, source, specversion, type, subject` required) | silently ignored (key `source`+`id`); 204 |
//! | `POST /ingest` | Amberflo | `X-API-KEY` | JSON array of records (`customerId, meterApiName, meterValue` number, `meterTimeInMillis, uniqueId`) | silently ignored; text answer |
//!
//! Faults, per platform, taken by the next requests: an HTTP status without committing anything (5xx; 429 with
//! `Retry-After`), a committed request whose answer is lost (the connection closes), and customers the platform
//! does not know (a permanent 400). `forget` empties the de-duplication memory, as the window passing does.
//! Stripe's one call at a time per customer and meter is checked: an overlapping call is counted as a violation.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// What one billed event says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Billed {
    /// The platform's customer.
    pub customer: String,
    /// The meter (event name or type).
    pub meter: String,
    /// The value, as the platform read it.
    pub value: String,
    /// Its de-duplication id.
    pub id: String,
}

/// A fault the next request of a platform meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// This status, nothing committed (429 carries `Retry-After: 1`).
    Status(u16),
    /// Committed, then the connection closes without an answer.
    LostAnswer,
    /// 429 with `Retry-After` of this many seconds, nothing committed.
    SlowDown(u32),
}

#[derive(Default)]
struct State {
    now_ms: i64,
    /// Per platform: de-duplication memory.
    seen: BTreeMap<&'static str, HashSet<String>>,
    /// Per platform: what was billed, once per committed event.
    billed: BTreeMap<&'static str, Vec<Billed>>,
    /// Per platform: faults for the next requests.
    faults: BTreeMap<&'static str, VecDeque<Fault>>,
    /// Per platform: requests answered or dropped.
    requests: BTreeMap<&'static str, usize>,
    /// Customers every platform refuses.
    unknown: BTreeSet<String>,
    /// Stripe lanes with a call in flight, and calls that overlapped one.
    lanes: HashSet<String>,
    lane_violations: usize,
    /// Bodies that broke a platform's rules (what a 400 said), for the tests to show.
    refusals: Vec<String>,
}

/// The server.
#[derive(Clone)]
pub struct BillingFake {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// The API key every platform expects.
pub const KEY: &str = "test-key-not-secret";

impl std::fmt::Debug for BillingFake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingFake").field("url", &self.url).finish()
    }
}

/// The same answers as over HTTP, handed over in the process.
impl logmeter::sink::http::InProcessServer for BillingFake {
    fn answer(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> logmeter::sink::Boxed<'_, Option<logmeter::sink::http::Answer>> {
        Box::pin(async move {
            let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let reply = match platform_of(request.uri().path()).filter(|_| request.method() == http::Method::POST) {
                None => Reply::json(404, serde_json::json!({"error": "not found"})),
                Some(platform) => {
                    let headers = Headers {
                        authorization: header("authorization"),
                        api_key: header("x-api-key"),
                        content_type: header("content-type").unwrap_or_default(),
                    };
                    self.platform(platform, &headers, request.body()).await?
                }
            };
            let mut map = http::HeaderMap::new();
            for (k, v) in reply.headers {
                if let Ok(v) = http::HeaderValue::from_str(&v) {
                    map.insert(k, v);
                }
            }
            Some(logmeter::sink::http::Answer { status: reply.status, headers: map, body: reply.body.into() })
        })
    }
}

/// The platforms, by path.
pub fn platform_of(path: &str) -> Option<&'static str> {
    match path {
        "/v1/billing/meter_events" => Some("stripe"),
        "/v1/ingest" => Some("metronome"),
        "/api/v1/events" => Some("openmeter"),
        "/ingest" => Some("amberflo"),
        _ => None,
    }
}

/// The request headers the platforms read.
struct Headers {
    authorization: Option<String>,
    api_key: Option<String>,
    content_type: String,
}

/// An answer.
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Reply {
    fn json(status: u16, body: serde_json::Value) -> Self {
        Self { status, headers: vec![("content-type", "application/json".into())], body: body.to_string() }
    }
}

impl BillingFake {
    /// Starts the server, with the clock at `now_ms` (what "35 days old" and "24 h ahead" are measured from).
    pub async fn start(now_ms: i64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = Self { url, state: Arc::new(Mutex::new(State { now_ms, ..State::default() })) };
        let server = fake.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move {
                    let _ = server.serve(conn).await;
                });
            }
        });
        fake
    }

    /// The same platforms without a socket, for the simulation ([`logmeter::output::billing::Reach::InProcess`]).
    pub fn in_process(now_ms: i64) -> Self {
        Self { url: "in-process".into(), state: Arc::new(Mutex::new(State { now_ms, ..State::default() })) }
    }

    /// Queues `fault` for `platform`'s next request (after those queued before it).
    pub fn fault(&self, platform: &'static str, fault: Fault) {
        self.state.lock().unwrap().faults.entry(platform).or_default().push_back(fault);
    }

    /// Makes every platform refuse events of `customer` (a permanent 400).
    pub fn refuse_customer(&self, customer: &str) {
        self.state.lock().unwrap().unknown.insert(customer.to_owned());
    }

    /// The de-duplication window passes: every platform forgets every id.
    pub fn forget(&self) {
        self.state.lock().unwrap().seen.clear();
    }

    /// What `platform` billed, sorted.
    pub fn billed(&self, platform: &str) -> Vec<Billed> {
        let mut b = self.state.lock().unwrap().billed.get(platform).cloned().unwrap_or_default();
        b.sort();
        b
    }

    /// Requests `platform` got.
    pub fn requests(&self, platform: &str) -> usize {
        self.state.lock().unwrap().requests.get(platform).copied().unwrap_or(0)
    }

    /// Stripe calls that overlapped another of their lane.
    pub fn lane_violations(&self) -> usize {
        self.state.lock().unwrap().lane_violations
    }

    /// What the rule checks refused, for messages.
    pub fn refusals(&self) -> Vec<String> {
        self.state.lock().unwrap().refusals.clone()
    }

    async fn serve(&self, mut conn: TcpStream) -> std::io::Result<()> {
        let Some((head, body)) = crate::proxy::read_request(&mut conn).await? else { return Ok(()) };
        let header = |name: &str| {
            head.lines()
                .skip(1)
                .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case(name)))
                .map(|(_, v)| v.trim().to_owned())
        };
        let mut request_line = head.lines().next().unwrap_or("").split(' ');
        let (method, path) = (request_line.next().unwrap_or(""), request_line.next().unwrap_or(""));
        let reply = match platform_of(path).filter(|_| method == "POST") {
            None => Some(Reply::json(404, serde_json::json!({"error": "not found"}))),
            Some(platform) => {
                let headers = Headers {
                    authorization: header("authorization"),
                    api_key: header("x-api-key"),
                    content_type: header("content-type").unwrap_or_default(),
                };
                self.platform(platform, &headers, &body).await
            }
        };
        let Some(reply) = reply else {
            // The answer is lost after the commit.
            return Ok(());
        };
        let mut out =
            format!("HTTP/1.1 {} Fake\r\ncontent-length: {}\r\nconnection: close\r\n", reply.status, reply.body.len());
        for (k, v) in &reply.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&reply.body);
        conn.write_all(out.as_bytes()).await?;
        conn.shutdown().await
    }

    /// One platform's answer; `None` when the answer is lost after the commit.
    async fn platform(&self, platform: &'static str, headers: &Headers, body: &[u8]) -> Option<Reply> {
        let fault = {
            let mut st = self.state.lock().unwrap();
            *st.requests.entry(platform).or_default() += 1;
            st.faults.get_mut(platform).and_then(VecDeque::pop_front)
        };
        let authorised = match platform {
            "amberflo" => headers.api_key.as_deref() == Some(KEY),
            _ => headers.authorization.as_deref() == Some(&format!("Bearer {KEY}")),
        };
        if !authorised {
            return Some(Reply::json(401, serde_json::json!({"error": {"message": "Invalid API key provided"}})));
        }
        if let Some(Fault::SlowDown(seconds)) = fault {
            let mut reply = Reply::json(429, serde_json::json!({"error": {"message": "slow down"}}));
            reply.headers.push(("retry-after", seconds.to_string()));
            return Some(reply);
        }
        if let Some(Fault::Status(status)) = fault {
            let mut reply =
                Reply::json(status, serde_json::json!({"error": {"message": format!("injected {status}")}}));
            if status == 429 {
                reply.headers.push(("retry-after", "1".into()));
            }
            return Some(reply);
        }
        let events = match self.read(platform, &headers.content_type, body) {
            Ok(events) => events,
            Err(why) => {
                self.state.lock().unwrap().refusals.push(format!("{platform}: {why}"));
                return Some(Reply::json(
                    400,
                    serde_json::json!({"error": {"type": "invalid_request_error", "message": why}}),
                ));
            }
        };
        // Stripe: one call at a time per customer and meter.
        let lane = (platform == "stripe").then(|| format!("{}\n{}", events[0].customer, events[0].meter));
        if let Some(lane) = &lane {
            let mut st = self.state.lock().unwrap();
            if !st.lanes.insert(lane.clone()) {
                st.lane_violations += 1;
            }
        }
        if lane.is_some() {
            // Long enough for an overlapping call of the lane to be seen.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let reply = self.commit(platform, events);
        if let Some(lane) = &lane {
            self.state.lock().unwrap().lanes.remove(lane);
        }
        match fault {
            Some(Fault::LostAnswer) => None,
            _ => Some(reply),
        }
    }

    /// Bills the events not seen within the window; the platform's answer.
    fn commit(&self, platform: &'static str, events: Vec<Billed>) -> Reply {
        let mut st = self.state.lock().unwrap();
        if let Some(unknown) = events.iter().find(|e| st.unknown.contains(&e.customer)) {
            let why = format!("No such customer: '{}'", unknown.customer);
            st.refusals.push(format!("{platform}: {why}"));
            return Reply::json(400, serde_json::json!({"error": {"type": "invalid_request_error", "message": why}}));
        }
        let mut taken = 0;
        for e in events.iter() {
            if st.seen.entry(platform).or_default().insert(e.id.clone()) {
                st.billed.entry(platform).or_default().push(e.clone());
                taken += 1;
            } else if platform == "stripe" {
                let message = format!("An event already exists with identifier {}.", e.id);
                let mut reply = Reply::json(
                    400,
                    serde_json::json!({"error": {"type": "invalid_request_error", "message": message}}),
                );
                reply.headers.push(("stripe-should-retry", "false".into()));
                return reply;
            }
        }
        match platform {
            "stripe" => {
                Reply::json(200, serde_json::json!({"object": "billing.meter_event", "identifier": events[0].id}))
            }
            "metronome" => Reply::json(200, serde_json::json!({})),
            "openmeter" => Reply { status: 204, headers: vec![], body: String::new() },
            _ => Reply {
                status: 200,
                headers: vec![("content-type", "text/plain".into())],
                body: format!("{taken} records were ingested"),
            },
        }
    }

    /// The events of a request, checked against the platform's rules.
    fn read(&self, platform: &str, content_type: &str, body: &[u8]) -> Result<Vec<Billed>, String> {
        let now = self.state.lock().unwrap().now_ms;
        let rfc3339 = |v: &serde_json::Value, name: &str| -> Result<i64, String> {
            let t = v.as_str().ok_or(format!("{name} must be an RFC 3339 string"))?;
            chrono::DateTime::parse_from_rfc3339(t).map(|d| d.timestamp_millis()).map_err(|e| format!("{name}: {e}"))
        };
        let text = |v: &serde_json::Value, name: &str| -> Result<String, String> {
            v[name].as_str().filter(|s| !s.is_empty()).map(str::to_owned).ok_or(format!("{name} is required"))
        };
        match platform {
            "stripe" => {
                if content_type != "application/x-www-form-urlencoded" {
                    return Err(format!("content type {content_type}"));
                }
                let form = form_fields(body)?;
                let field = |k: &str| form.get(k).cloned().ok_or(format!("Missing required param: {k}."));
                let id = field("identifier")?;
                if id.len() > 100 {
                    return Err("identifier is longer than 100 characters".into());
                }
                let value = field("payload[value]")?;
                if value.trim_start_matches('-').is_empty()
                    || !value.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(format!("payload[value] must be a whole number, got {value}"));
                }
                let ts: i64 = field("timestamp")?.parse().map_err(|_| "timestamp must be an integer")?;
                if ts * 1000 < now - 35 * 86_400_000 || ts * 1000 > now + 300_000 {
                    return Err("timestamp must be within the past 35 days and at most 5 minutes ahead".into());
                }
                Ok(vec![Billed {
                    customer: field("payload[stripe_customer_id]")?,
                    meter: field("event_name")?,
                    value,
                    id,
                }])
            }
            "metronome" | "amberflo" => {
                if content_type != "application/json" {
                    return Err(format!("content type {content_type}"));
                }
                let events: Vec<serde_json::Value> =
                    serde_json::from_slice(body).map_err(|e| format!("not a JSON array: {e}"))?;
                if events.is_empty() || (platform == "metronome" && events.len() > 100) {
                    return Err(format!("{} events: 1 to 100 per request", events.len()));
                }
                events
                    .iter()
                    .map(|e| {
                        if platform == "metronome" {
                            let t = rfc3339(&e["timestamp"], "timestamp")?;
                            if t > now + 86_400_000 {
                                return Err("timestamp more than 24 hours in the future".into());
                            }
                            let value = e["properties"]["value"].as_str().ok_or("properties.value must be a string")?;
                            Ok(Billed {
                                customer: text(e, "customer_id")?,
                                meter: text(e, "event_type")?,
                                value: value.to_owned(),
                                id: text(e, "transaction_id")?,
                            })
                        } else {
                            let value = e["meterValue"].as_f64().ok_or("meterValue must be a number")?;
                            e["meterTimeInMillis"].as_i64().ok_or("meterTimeInMillis must be an integer")?;
                            Ok(Billed {
                                customer: text(e, "customerId")?,
                                meter: text(e, "meterApiName")?,
                                value: value.to_string(),
                                id: text(e, "uniqueId")?,
                            })
                        }
                    })
                    .collect()
            }
            _ => {
                if content_type != "application/cloudevents-batch+json" {
                    return Err(format!("content type {content_type}"));
                }
                let events: Vec<serde_json::Value> =
                    serde_json::from_slice(body).map_err(|e| format!("not a batch: {e}"))?;
                events
                    .iter()
                    .map(|e| {
                        if e["specversion"] != "1.0" {
                            return Err("specversion must be 1.0".into());
                        }
                        rfc3339(&e["time"], "time")?;
                        let value = e["data"]["value"].as_f64().ok_or("data.value must be a number")?;
                        // OpenMeter de-duplicates on source and id.
                        Ok(Billed {
                            customer: text(e, "subject")?,
                            meter: text(e, "type")?,
                            value: value.to_string(),
                            id: format!("{}/{}", text(e, "source")?, text(e, "id")?),
                        })
                    })
                    .collect()
            }
        }
    }
}

/// The fields of a form body, percent-decoded.
fn form_fields(body: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let decode = |s: &str| -> Result<String, String> {
        let mut out = Vec::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = s.get(i + 1..i + 3).ok_or("a truncated %-escape")?;
                    out.push(u8::from_str_radix(hex, 16).map_err(|_| "a bad %-escape")?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).map_err(|_| "not UTF-8".to_owned())
    };
    let text = std::str::from_utf8(body).map_err(|_| "not UTF-8")?;
    let mut fields = BTreeMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or("a field without =")?;
        if fields.insert(decode(k)?, decode(v)?).is_some() {
            return Err("a field given twice".into());
        }
    }
    Ok(fields)
}
