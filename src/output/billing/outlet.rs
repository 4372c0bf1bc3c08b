//! What every billing platform's outlet does with a batch: keep what the platform cannot take in quarantine, leave
//! out what the ledger says was delivered, pack the rest into the platform's requests (sized after final
//! encoding), send them with bounded retries inside the invocation's deadline (one at a time per lane where the
//! platform asks), and record in the ledger what was accepted.
//!
//! Failure policy, per event: accepted or answered as a duplicate, delivered (recorded in the ledger); refused for
//! good (a 4xx), quarantined with the answer (a refused batch is first tried event by event, so one bad event never
//! holds back the others); not answered after the attempts, refused access (401, 403) or past the deadline, its
//! record is retried. A record is retried too when its ledger entry or quarantine object cannot be written.

use super::ledger::{Ledger, Span};
use super::platform::{Body, Platform, Verdict};
use super::send::{Sent, Transport};
use crate::output::{Boxed, Consignment, Landing, Outlet, Shipped, delivery_failed, keep_in_quarantine};
use crate::plan::{Parcel, content_key, digest16, sortable_sequence, utc_date};
use crate::sink::SinkError;
use crate::sink::http::{backoff, jitter};
use crate::summary::{OutputCounts, PerOutput, Summary};
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The key prefix of a record's events the platform cannot take, as the encoder yields them.
pub const REFUSED: &str = "refused/";

/// The quarantine folder of events a platform refused (`<QUARANTINE_PREFIX>/<folder>/<platform>/…`).
pub const REFUSED_FOLDER: &str = "billing-refused";

/// The quarantine folder of events sent longer ago than the platform's window and never recorded
/// ([`super::ledger::Ledger::unsettled`]).
pub const UNSETTLED_FOLDER: &str = "billing-unsettled";

/// Requests in flight at once, for a platform that takes batches.
const CONCURRENCY: usize = 8;

/// Lanes in flight at once, for a platform that takes one event per call and one call per lane (Stripe v1): with
/// 30 ms per call, about 500 calls a second, half of Stripe's live-mode limit.
const LANES_AT_ONCE: usize = 16;

/// Upper bound of one request's body.
const MAX_BODY_BYTES: usize = 1 << 20;

/// The longest wait for a platform's `Retry-After` (or backoff) between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// One event waiting to be sent.
#[derive(Debug)]
struct Pending<'a> {
    /// Its record, in the batch.
    record: usize,
    id: String,
    date: String,
    lane: String,
    event: &'a [u8],
}

/// An event's envelope, as the encoder writes it before the event's line.
#[derive(serde::Deserialize)]
struct Head {
    id: String,
    date: String,
    lane: String,
}

/// What every request of one batch shares.
#[derive(Clone, Copy)]
struct Call<'c> {
    /// Each record's sortable sequence number.
    seqs: &'c [String],
    shard: &'c str,
    landing: Landing<'c>,
    /// Set once the platform refused access or its key could not be read: the batch's other requests are not sent
    /// (their records are retried), so a bad key costs one call per batch, not one per event.
    blocked: &'c std::sync::atomic::AtomicBool,
}

/// What became of one event.
#[derive(Debug, Clone)]
enum Fate {
    Delivered,
    Duplicate,
    Refused(String),
    Failed(SinkError),
}

/// A platform's outlet.
#[derive(Debug)]
pub struct BillingOutlet {
    platform: Arc<dyn Platform>,
    transport: Transport,
    ledger: Option<Ledger>,
    quarantine_prefix: String,
}

impl BillingOutlet {
    /// The outlet of `platform` over `transport`, keeping its ledger in `ledger` (none: a handler that only plans)
    /// and what it refuses under `quarantine_prefix`.
    pub fn new(
        platform: Arc<dyn Platform>,
        transport: Transport,
        ledger: Option<Ledger>,
        quarantine_prefix: &str,
    ) -> Self {
        Self { platform, transport, ledger, quarantine_prefix: quarantine_prefix.to_owned() }
    }

    /// Sends one request's body, with up to the platform's attempts; the number of attempts made comes back too.
    async fn attempts(&self, body: &Body, name: &str, landing: Landing<'_>) -> (Result<Verdict, SinkError>, usize) {
        let max = self.platform.common().max_attempts;
        let target = || format!("{}{}", self.platform.common().url, self.platform.path());
        let mut why = String::new();
        let mut made = 0;
        for attempt in 1..=max {
            if landing.too_late() {
                return (Err(SinkError::Transient { target: target(), reason: "deadline near".into() }), made);
            }
            made += 1;
            // No request outlives the invocation: it is given the time left before the deadline's margin at most,
            // and one cut short counts as unanswered (the platform's window covers one that was taken).
            let send = self.transport.send(&self.platform, body, name);
            let sent = match landing.deadline {
                Some(d) => {
                    let left =
                        d.saturating_duration_since(Instant::now()).saturating_sub(crate::output::DEADLINE_MARGIN);
                    tokio::time::timeout(left, send)
                        .await
                        .unwrap_or_else(|_| Sent::Unavailable("cut at the invocation's deadline".into()))
                }
                None => send.await,
            };
            let wait = match sent {
                Sent::Answer(Verdict::Retry(said, after)) => {
                    why = said;
                    after
                }
                Sent::Answer(verdict) => return (Ok(verdict), made),
                Sent::Unavailable(said) => {
                    why = said;
                    None
                }
                Sent::Setup(reason) => return (Err(SinkError::Permanent { target: target(), reason }), made),
            };
            if attempt == max {
                break;
            }
            // A platform that asks for a longer wait than logmeter keeps a request waiting gets it: the record is
            // reported, and Lambda's retry comes later.
            if let Some(asked) = wait.filter(|w| *w > MAX_WAIT) {
                let reason = format!("{why}; the platform asked to wait {} s", asked.as_secs());
                return (Err(SinkError::Transient { target: target(), reason }), made);
            }
            let wait = wait.unwrap_or_else(|| backoff(attempt + 1, jitter())).min(MAX_WAIT);
            let past = landing.deadline.is_some_and(|d| Instant::now() + wait + crate::output::DEADLINE_MARGIN > d);
            if past {
                let reason = format!("{why}; the next attempt would pass the invocation's deadline");
                return (Err(SinkError::Transient { target: target(), reason }), made);
            }
            tokio::time::sleep(wait).await;
        }
        let reason = format!("{why} (after {max} attempts)");
        (Err(SinkError::Transient { target: target(), reason }), made)
    }

    /// Sends `events` in one request, and each alone when the platform refuses them together.
    async fn request(&self, events: &[&Pending<'_>], call: Call<'_>) -> (Vec<Fate>, usize) {
        use std::sync::atomic::Ordering;
        let (seqs, shard, landing) = (call.seqs, call.shard, call.landing);
        if call.blocked.load(Ordering::Relaxed) {
            let reason = "not sent: the platform refused access to an earlier request of the batch".to_owned();
            let target = format!("{}{}", self.platform.common().url, self.platform.path());
            return (
                (0..events.len())
                    .map(|_| Fate::Failed(SinkError::Transient { target: target.clone(), reason: reason.clone() }))
                    .collect(),
                0,
            );
        }
        let bytes: Vec<&[u8]> = events.iter().map(|p| p.event).collect();
        let body = self.platform.body(&bytes);
        let (first, last) = range(events.iter().map(|p| seqs[p.record].as_str()));
        let name = format!("{shard}/{last}-{first}-{}", digest16(&body.bytes));
        let (verdict, mut requests) = self.attempts(&body, &name, landing).await;
        let fate = match verdict {
            Ok(Verdict::Accepted) => Fate::Delivered,
            Ok(Verdict::Duplicate) => Fate::Duplicate,
            Ok(Verdict::Refused(reason)) if events.len() > 1 => {
                tracing::warn!(platform = self.platform.name(), events = events.len(), %reason, "a batch refused: each event is sent alone");
                let mut fates = Vec::with_capacity(events.len());
                for one in events {
                    let (mut fate, made) = Box::pin(self.request(std::slice::from_ref(one), call)).await;
                    requests += made;
                    fates.append(&mut fate);
                }
                return (fates, requests);
            }
            Ok(Verdict::Refused(reason)) => Fate::Refused(reason),
            Ok(Verdict::Denied(detail)) => {
                call.blocked.store(true, Ordering::Relaxed);
                Fate::Failed(SinkError::AccessDenied {
                    action: "billing API",
                    target: format!("{}{}", self.platform.common().url, self.platform.path()),
                    detail,
                })
            }
            Ok(Verdict::Retry(reason, _)) => Fate::Failed(SinkError::Transient { target: name, reason }),
            Err(e) => {
                if matches!(e, SinkError::Permanent { .. }) {
                    call.blocked.store(true, Ordering::Relaxed);
                }
                Fate::Failed(e)
            }
        };
        let fates = vec![fate; events.len()];
        (fates, requests)
    }

    /// The requests of `pending`: at most the platform's events each, and bodies of at most [`MAX_BODY_BYTES`]
    /// once encoded (a larger one is split).
    fn pack<'p, 'a>(&self, pending: &[&'p Pending<'a>]) -> Vec<Vec<&'p Pending<'a>>> {
        let mut requests = Vec::new();
        for chunk in pending.chunks(self.platform.max_events().max(1)) {
            let mut todo = vec![chunk.to_vec()];
            while let Some(events) = todo.pop() {
                let bytes: Vec<&[u8]> = events.iter().map(|p| p.event).collect();
                if events.len() > 1 && self.platform.body(&bytes).bytes.len() > MAX_BODY_BYTES {
                    let (a, b) = events.split_at(events.len() / 2);
                    todo.push(b.to_vec());
                    todo.push(a.to_vec());
                } else {
                    requests.push(events);
                }
            }
        }
        requests
    }

    /// Where a record's events this platform did not take are kept, by why ([`REFUSED_FOLDER`],
    /// [`UNSETTLED_FOLDER`]): `<QUARANTINE_PREFIX>/<folder>/<platform>/<arrival date>/<shard>/<sequence>` (and
    /// `-<digest>.json`).
    fn stem(&self, c: &Consignment<'_>, folder: &str) -> String {
        let (prefix, platform, date) = (&self.quarantine_prefix, self.platform.name(), utc_date(c.arrival_millis));
        format!("{prefix}/{folder}/{platform}/{date}/{}/{}", c.shard, sortable_sequence(c.sequence_number))
    }

    /// Keeps a record's events the platform cannot take (the encoder's `refused/` parcel) in quarantine.
    async fn keep_refused(
        &self,
        parcel: &Parcel,
        c: &Consignment<'_>,
        landing: Landing<'_>,
    ) -> Result<Summary, SinkError> {
        let mut body = b"[".to_vec();
        body.extend_from_slice(
            &parcel.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect::<Vec<_>>().join(&b","[..]),
        );
        body.extend_from_slice(b"]\n");
        let stem = self.stem(c, REFUSED_FOLDER);
        keep_in_quarantine(Parcel { key: content_key(&stem, &body, ".json"), body, items: parcel.items }, landing).await
    }

    /// Keeps, instead of sending them again, events sent longer ago than the platform's window whose answer was
    /// never recorded ([`Ledger::unsettled`]): the platform may have billed them and would now bill them again.
    /// They are quarantined with that reason, under `billing-unsettled/`, and their records count as delivered.
    async fn keep_unsettled(
        &self,
        old: &[Pending<'_>],
        batch: &[Consignment<'_>],
        landing: Landing<'_>,
        shipped: &mut Shipped,
        counts: &mut OutputCounts,
    ) {
        let window = self.platform.window().as_secs() / 3600;
        tracing::error!(
            platform = self.platform.name(),
            events = old.len(),
            "events sent more than {window} h ago whose answer was never recorded are not sent again (the platform \
             may have billed them, and would bill them again now): quarantined under billing-unsettled/ to be \
             checked against the platform"
        );
        let reason = format!("sent more than {window} h ago, answer never recorded: check the platform before sending");
        let refs: Vec<(&Pending<'_>, String)> = old.iter().map(|p| (p, reason.clone())).collect();
        for (record, kept) in self.keep_events(&refs, batch, landing, UNSETTLED_FOLDER).await {
            match kept {
                Ok(s) => {
                    shipped.summary += s;
                    counts.quarantined += old.iter().filter(|p| p.record == record).count();
                }
                Err(e) => {
                    delivery_failed(&e, "the record is retried", &mut shipped.summary);
                    shipped.failed[record] = true;
                }
            }
        }
    }

    /// Keeps events with why each is kept (a platform's answer, or that it is unsettled), one object per record,
    /// under `<QUARANTINE_PREFIX>/<folder>/…`.
    async fn keep_events(
        &self,
        kept: &[(&Pending<'_>, String)],
        batch: &[Consignment<'_>],
        landing: Landing<'_>,
        folder: &str,
    ) -> Vec<(usize, Result<Summary, SinkError>)> {
        let mut by_record: BTreeMap<usize, Vec<serde_json::Value>> = BTreeMap::new();
        for (p, reason) in kept {
            by_record.entry(p.record).or_default().push(serde_json::json!({
                "id": p.id,
                "reason": reason,
                "event": String::from_utf8_lossy(p.event),
            }));
        }
        let mut out = Vec::new();
        for (record, entries) in by_record {
            let c = &batch[record];
            let body = serde_json::to_vec(&entries).unwrap_or_default();
            let stem = self.stem(c, folder);
            let parcel = Parcel { key: content_key(&stem, &body, ".json"), body, items: entries.len() };
            out.push((record, keep_in_quarantine(parcel, landing).await));
        }
        out
    }
}

/// The lowest and highest of some sortable sequence numbers.
fn range<'s>(seqs: impl Iterator<Item = &'s str>) -> (&'s str, &'s str) {
    let mut first: Option<&str> = None;
    let mut last: Option<&str> = None;
    for s in seqs {
        first = Some(first.map_or(s, |f| f.min(s)));
        last = Some(last.map_or(s, |l| l.max(s)));
    }
    (first.unwrap_or(""), last.unwrap_or(""))
}

impl Outlet for BillingOutlet {
    fn destination(&self) -> &'static str {
        self.platform.name()
    }

    fn deliver<'a>(&'a self, batch: &'a [Consignment<'a>], landing: Landing<'a>) -> Boxed<'a, Shipped> {
        Box::pin(async move {
            let name = self.platform.name();
            let mut shipped = Shipped::new(batch.len());
            let mut counts = OutputCounts::default();
            let seqs: Vec<String> = batch.iter().map(|c| sortable_sequence(c.sequence_number).into_owned()).collect();
            let mut pending: Vec<Pending<'a>> = Vec::new();
            for (i, c) in batch.iter().enumerate() {
                for parcel in c.parcels {
                    if parcel.key.starts_with(REFUSED) {
                        match self.keep_refused(parcel, c, landing).await {
                            Ok(s) => {
                                shipped.summary += s;
                                counts.quarantined += parcel.items;
                            }
                            Err(e) => {
                                delivery_failed(&e, "the record is retried", &mut shipped.summary);
                                shipped.failed[i] = true;
                            }
                        }
                        continue;
                    }
                    let mut lines = parcel.body.split(|&b| b == b'\n').filter(|l| !l.is_empty());
                    while let (Some(head), Some(event)) = (lines.next(), lines.next()) {
                        match serde_json::from_slice::<Head>(head) {
                            Ok(h) => pending.push(Pending { record: i, id: h.id, date: h.date, lane: h.lane, event }),
                            Err(e) => {
                                tracing::error!(platform = name, error = %e, "an event's envelope is unreadable: the record is retried");
                                shipped.failed[i] = true;
                            }
                        }
                    }
                }
            }
            if !pending.is_empty() {
                self.deliver_events(batch, &seqs, pending, landing, &mut shipped, &mut counts).await;
            }
            shipped.summary.outputs += PerOutput::of(name, counts);
            shipped
        })
    }
}

impl BillingOutlet {
    /// Sends a group's requests one after the other.
    async fn group<'p, 'a>(
        &self,
        requests: Vec<Vec<&'p Pending<'a>>>,
        call: Call<'_>,
    ) -> (Vec<(&'p Pending<'a>, Fate)>, usize) {
        let mut fates = Vec::new();
        let mut made = 0;
        for events in requests {
            let (fate, m) = self.request(&events, call).await;
            made += m;
            fates.extend(events.into_iter().zip(fate));
        }
        (fates, made)
    }

    async fn deliver_events(
        &self,
        batch: &[Consignment<'_>],
        seqs: &[String],
        mut pending: Vec<Pending<'_>>,
        landing: Landing<'_>,
        shipped: &mut Shipped,
        counts: &mut OutputCounts,
    ) {
        let shard = batch[0].shard;
        // The same id twice in one batch (a record logged twice with its uniqueId) is one event.
        let mut seen = HashSet::new();
        pending.retain(|p| {
            let new = seen.insert(p.id.clone());
            counts.already_delivered += usize::from(!new);
            new
        });
        if let Some(ledger) = &self.ledger {
            let (first, last) = range(pending.iter().map(|p| seqs[p.record].as_str()));
            let mut dates: Vec<&str> = pending.iter().map(|p| p.date.as_str()).collect();
            dates.sort_unstable();
            dates.dedup();
            let span = Span { shard, first, last };
            let oldest_arrival = pending.iter().map(|p| batch[p.record].arrival_millis).min().unwrap_or(i64::MIN);
            let read = match ledger.delivered(&dates, span).await {
                Ok(held) => ledger.unsettled(span, &held, oldest_arrival).await.map(|unsettled| (held, unsettled)),
                Err(e) => Err(e),
            };
            match read {
                Ok((held, unsettled)) => {
                    pending.retain(|p| {
                        let known = held.contains(&p.id);
                        counts.already_delivered += usize::from(known);
                        !known
                    });
                    if !unsettled.is_empty() {
                        let (old, rest): (Vec<_>, Vec<_>) =
                            pending.into_iter().partition(|p| unsettled.contains(&p.id));
                        pending = rest;
                        self.keep_unsettled(&old, batch, landing, shipped, counts).await;
                    }
                }
                Err(e) => {
                    delivery_failed(&e, "the ledger could not be read: the records are retried", &mut shipped.summary);
                    pending.iter().for_each(|p| shipped.failed[p.record] = true);
                    return;
                }
            }
        }
        if let (Some(ledger), false) = (&self.ledger, pending.is_empty()) {
            let (first, last) = range(pending.iter().map(|p| seqs[p.record].as_str()));
            let ids: Vec<&str> = pending.iter().map(|p| p.id.as_str()).collect();
            if let Err(e) = ledger.intend(Span { shard, first, last }, &ids).await {
                delivery_failed(
                    &e,
                    "the ledger cannot be written: nothing is sent, the records are retried",
                    &mut shipped.summary,
                );
                pending.iter().for_each(|p| shipped.failed[p.record] = true);
                return;
            }
        }
        let order: Vec<&Pending<'_>> = pending.iter().collect();
        let groups: Vec<Vec<Vec<&Pending<'_>>>> = if self.platform.lanes() {
            let mut lanes: BTreeMap<&str, Vec<&Pending<'_>>> = BTreeMap::new();
            order.iter().for_each(|p| lanes.entry(p.lane.as_str()).or_default().push(p));
            lanes.into_values().map(|events| self.pack(&events)).collect()
        } else {
            self.pack(&order).into_iter().map(|r| vec![r]).collect()
        };
        // Each group is sent in order (a lane, one call at a time), groups at the same time.
        let at_once = if self.platform.lanes() { LANES_AT_ONCE } else { CONCURRENCY };
        let blocked = std::sync::atomic::AtomicBool::new(false);
        let call = Call { seqs, shard, landing, blocked: &blocked };
        let sends: Vec<_> = groups.into_iter().map(|requests| self.group(requests, call)).collect();
        let answered: Vec<(Vec<(&Pending<'_>, Fate)>, usize)> =
            futures_util::stream::iter(sends).buffer_unordered(at_once).collect().await;
        let mut accepted: BTreeMap<&str, Vec<&Pending<'_>>> = BTreeMap::new();
        let mut refused = Vec::new();
        for (fates, made) in answered {
            counts.requests += made;
            for (p, fate) in fates {
                match fate {
                    Fate::Delivered => {
                        counts.delivered += 1;
                        accepted.entry(p.date.as_str()).or_default().push(p);
                    }
                    Fate::Duplicate => {
                        counts.already_delivered += 1;
                        accepted.entry(p.date.as_str()).or_default().push(p);
                    }
                    Fate::Refused(reason) => refused.push((p, reason)),
                    Fate::Failed(e) => {
                        if !shipped.failed[p.record] {
                            delivery_failed(&e, "the record is retried", &mut shipped.summary);
                        }
                        shipped.failed[p.record] = true;
                    }
                }
            }
        }
        if let Some(ledger) = &self.ledger {
            for (date, events) in &accepted {
                let (first, last) = range(events.iter().map(|p| seqs[p.record].as_str()));
                let ids: Vec<&str> = events.iter().map(|p| p.id.as_str()).collect();
                if let Err(e) = ledger.record(date, Span { shard, first, last }, &ids).await {
                    delivery_failed(
                        &e,
                        "delivered, but not recorded in the ledger: the records are retried",
                        &mut shipped.summary,
                    );
                    events.iter().for_each(|p| shipped.failed[p.record] = true);
                }
            }
        }
        counts.refused += refused.len();
        for (record, kept) in self.keep_events(&refused, batch, landing, REFUSED_FOLDER).await {
            match kept {
                Ok(s) => shipped.summary += s,
                Err(e) => {
                    delivery_failed(
                        &e,
                        "refused events could not be quarantined: the record is retried",
                        &mut shipped.summary,
                    );
                    shipped.failed[record] = true;
                }
            }
        }
    }
}
