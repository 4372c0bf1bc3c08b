//! A small fault-injecting HTTP/1.1 proxy on loopback, in front of a real server, for faults the server cannot
//! produce on demand: HTTP 503 from some request on, the n-th PUT failed or its answer dropped after it landed,
//! 429 on every bulk item, added latency. Each request is forwarded on its own connection (`Connection: close`), so
//! requests can be counted by kind and faults placed exactly.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Forward `pass` more requests, then answer every request with this HTTP status.
    StatusAfter { pass: usize, status: u16 },
    /// Answer the next `n` requests with this HTTP status, then forward.
    StatusFirst { n: usize, status: u16 },
    /// Answer the next `n` bulk requests with 200 and a 429 for every item, then forward.
    BulkItems429 { n: usize },
    /// Answer the `n`th request of this kind from now (1 = the next one) with this HTTP status; forward the rest.
    NthFails { kind: Kind, n: usize, status: u16 },
    /// Forward the `n`th request of this kind from now, then close the connection without its answer (the write
    /// landed; the client cannot know); forward the rest.
    NthAnswerLost { kind: Kind, n: usize },
}

/// What a request is, for counting and for placing faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// S3 `PutObject` (or any other PUT).
    Put,
    /// S3 `ListObjectsV2`.
    List,
    /// S3 `GetObject` (or any other GET).
    Get,
    /// S3 `HeadObject`.
    Head,
    /// A bulk request.
    Bulk,
    /// Anything else.
    Other,
}

impl Kind {
    fn of(head: &str) -> Self {
        let line = head.lines().next().unwrap_or("");
        let (method, target) = line.split_once(' ').unwrap_or((line, ""));
        match method {
            "PUT" => Kind::Put,
            "HEAD" => Kind::Head,
            "GET" if target.contains("list-type=2") => Kind::List,
            "GET" => Kind::Get,
            "POST" if target.contains("/_bulk") => Kind::Bulk,
            _ => Kind::Other,
        }
    }
}

#[derive(Debug)]
struct State {
    fault: Fault,
    last_authorization: Option<String>,
    /// Requests forwarded or answered, by kind.
    counts: std::collections::BTreeMap<Kind, usize>,
    /// Added before each request is handled.
    latency: std::time::Duration,
}

/// A running proxy.
#[derive(Debug, Clone)]
pub struct Proxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    pub requests: Arc<AtomicUsize>,
    pub faults: Arc<AtomicUsize>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://host:port`) on the current tokio runtime.
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let proxy = Self {
            url,
            state: Arc::new(Mutex::new(State {
                fault: Fault::None,
                last_authorization: None,
                counts: Default::default(),
                latency: std::time::Duration::ZERO,
            })),
            requests: Arc::new(AtomicUsize::new(0)),
            faults: Arc::new(AtomicUsize::new(0)),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (p, upstream) = (p.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = p.serve(conn, &upstream).await;
                });
            }
        });
        proxy
    }

    pub fn set(&self, fault: Fault) {
        self.state.lock().unwrap().fault = fault;
    }

    /// Adds `latency` before every later request is forwarded (a store across the network). Used by
    /// `examples/fault_proxy.rs` for `benches/requests.sh`.
    #[allow(dead_code)]
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.state.lock().unwrap().latency = latency;
    }

    /// Requests seen so far, by kind.
    pub fn counts(&self) -> std::collections::BTreeMap<Kind, usize> {
        self.state.lock().unwrap().counts.clone()
    }

    /// Forgets the counts.
    pub fn reset_counts(&self) {
        self.state.lock().unwrap().counts.clear();
    }

    pub fn last_authorization(&self) -> Option<String> {
        self.state.lock().unwrap().last_authorization.clone()
    }

    /// Requests to the proxy itself (for a proxy run as a program, `examples/fault_proxy.rs`): `GET
    /// /__proxy/counts` answers the counts by kind as JSON, `POST /__proxy/reset` forgets them.
    fn control(&self, head: &str) -> Option<String> {
        let line = head.lines().next()?;
        if line.starts_with("GET /__proxy/counts ") {
            let counts = self.counts();
            let fields: Vec<String> = counts.iter().map(|(k, n)| format!("\"{k:?}\":{n}")).collect();
            Some(format!("{{{}}}", fields.join(",")))
        } else if line.starts_with("POST /__proxy/reset ") {
            self.reset_counts();
            Some("{}".into())
        } else {
            None
        }
    }

    /// Decides, under the lock, what to do with one request.
    fn decide(&self, kind: Kind) -> Option<Answer> {
        let is_bulk = kind == Kind::Bulk;
        let mut st = self.state.lock().unwrap();
        *st.counts.entry(kind).or_insert(0) += 1;
        let (next, answer) = match st.fault {
            Fault::NthFails { kind: k, n, status } if k == kind => match n {
                1 => (Fault::None, Some(Answer::Status(status))),
                _ => (Fault::NthFails { kind: k, n: n - 1, status }, None),
            },
            Fault::NthAnswerLost { kind: k, n } if k == kind => match n {
                1 => (Fault::None, Some(Answer::Lost)),
                _ => (Fault::NthAnswerLost { kind: k, n: n - 1 }, None),
            },
            Fault::NthFails { .. } | Fault::NthAnswerLost { .. } => (st.fault, None),
            Fault::None => (Fault::None, None),
            Fault::StatusAfter { pass: 0, status } => (st.fault, Some(Answer::Status(status))),
            Fault::StatusAfter { pass, status } => (Fault::StatusAfter { pass: pass - 1, status }, None),
            Fault::StatusFirst { n: 0, .. } | Fault::BulkItems429 { n: 0 } => (Fault::None, None),
            Fault::StatusFirst { n, status } => (Fault::StatusFirst { n: n - 1, status }, Some(Answer::Status(status))),
            Fault::BulkItems429 { n } if is_bulk => (Fault::BulkItems429 { n: n - 1 }, Some(Answer::Items429)),
            Fault::BulkItems429 { .. } => (st.fault, None),
        };
        st.fault = next;
        answer
    }

    async fn serve(&self, mut conn: TcpStream, upstream: &str) -> std::io::Result<()> {
        let Some((head, body)) = read_request(&mut conn).await? else { return Ok(()) };
        self.requests.fetch_add(1, Ordering::SeqCst);
        let auth = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("authorization")))
            .map(|(_, v)| v.trim().to_owned());
        self.state.lock().unwrap().last_authorization = auth;
        if let Some(control) = self.control(&head) {
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{control}",
                control.len()
            );
            conn.write_all(resp.as_bytes()).await?;
            return conn.shutdown().await;
        }
        let latency = self.state.lock().unwrap().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let answer = self.decide(Kind::of(&head));
        let lost = answer == Some(Answer::Lost);
        if let Some(answer) = answer.filter(|a| *a != Answer::Lost) {
            self.faults.fetch_add(1, Ordering::SeqCst);
            let (status, body) = match answer {
                Answer::Lost => unreachable!(),
                Answer::Status(s) => (s, format!("{{\"error\":\"injected {s}\"}}")),
                Answer::Items429 => {
                    let actions = body.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() / 2;
                    let item = r#"{"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"injected"}}}"#;
                    (200, format!("{{\"took\":1,\"errors\":true,\"items\":[{}]}}", vec![item; actions].join(",")))
                }
            };
            let resp = format!(
                "HTTP/1.1 {status} Injected\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(resp.as_bytes()).await?;
            return conn.shutdown().await;
        }
        // Forward with `Connection: close`, then relay the whole answer.
        let mut rewritten = String::new();
        for line in head[..head.len() - 4].split("\r\n") {
            if !line.to_ascii_lowercase().starts_with("connection:") {
                rewritten.push_str(line);
                rewritten.push_str("\r\n");
            }
        }
        rewritten.push_str("connection: close\r\n\r\n");
        let mut up = TcpStream::connect(upstream).await?;
        up.write_all(rewritten.as_bytes()).await?;
        up.write_all(&body).await?;
        let mut answer = Vec::new();
        up.read_to_end(&mut answer).await?;
        if lost {
            // The write landed upstream; the client sees the connection close with no answer.
            self.faults.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        conn.write_all(&answer).await?;
        conn.shutdown().await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Status(u16),
    Items429,
    Lost,
}

/// Reads one HTTP/1.1 request: its head (request line and headers, with the blank line that ends them) and the
/// body its `Content-Length` names; `None` when the peer closed before a head. Shared by the test servers.
pub async fn read_request(conn: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 8192];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .skip(1)
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut chunk = vec![0u8; 65536];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some((head, buf.split_off(head_end))))
}
