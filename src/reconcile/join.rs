//! The join, pure: the reconciliation documents of one key (function, log stream, request id) in, what they mean
//! out — unmetered invocations, orphan meter records, and each invocation's cost attributed to customers.

use super::{Ledger, Options, Orphan, Unmetered};
use crate::output::search::reconcile_docs::JoinDoc;
use std::collections::BTreeMap;

/// Why a meter record has no invocation.
pub const NO_REQUEST_ID: &str = "no_request_id";
/// Its request id never met a REPORT among the documents read.
pub const NO_REPORT: &str = "no_report";

/// The customer a tenant stands for (`--tenant-customers`), the tenant id itself when unmapped.
pub fn tenant_customer<'a>(map: &'a BTreeMap<String, String>, tenant: &'a str) -> &'a str {
    map.get(tenant).map_or(tenant, String::as_str)
}

/// The UTC day (`YYYY-MM-DD`) of a document's `@timestamp`.
pub fn day(doc: &JoinDoc) -> &str {
    doc.timestamp.get(..10).unwrap_or("")
}

/// Whether `doc` counts: it lies in the window, when there is one (`[from, to)`, ISO 8601 as documents write it).
pub fn in_window(options: &Options, doc: &JoinDoc) -> bool {
    options.window.as_ref().is_none_or(|(from, to)| between(doc, from, to))
}

/// Whether `doc`'s time lies in `[from, to)` (ISO 8601 as documents write it, which sorts as time does).
fn between(doc: &JoinDoc, from: &str, to: &str) -> bool {
    doc.timestamp.as_str() >= from && doc.timestamp.as_str() < to
}

/// Reconciles the documents of one key (all of its invocations and meter records, each once) into `ledger`.
///
/// Attribution: a function in tenant isolation mode bills the report's tenant (mapped to a customer by
/// `tenants`); otherwise an invocation's cost, GB-seconds and count are split equally among the distinct
/// customers its meter records name; with none, they are unattributed. Usage is counted from every meter record,
/// joined or not.
///
/// With a `window` (`[from, to)`, ISO 8601 as the documents write it), only what lies in it is counted; the
/// documents around it still join, so an invocation near an edge finds its meter records.
pub fn reconcile_key(
    invocations: &[JoinDoc],
    meters: &[JoinDoc],
    options: &Options,
    ledger: &mut Ledger,
) -> (Vec<Unmetered>, Vec<Orphan>) {
    let (metered, tenants) = (&options.metered, &options.tenants);
    let inside = |d: &JoinDoc| in_window(options, d);
    let mut unmetered = Vec::new();
    let mut orphans = Vec::new();
    // Before the window, in its month: what places the window's usage in the month's allowance and tiers.
    let month_to_date = |d: &JoinDoc| match (&options.priced_from, &options.window) {
        (Some(month), Some((from, _))) => between(d, month, from),
        _ => false,
    };
    meters.iter().filter(|m| month_to_date(m)).for_each(|m| ledger.price(m));
    for m in meters.iter().filter(|m| inside(m)) {
        ledger.usage(m);
        if invocations.is_empty() {
            let reason = if m.request_id.is_none() { NO_REQUEST_ID } else { NO_REPORT };
            orphans.push(Orphan::of(m, reason));
        }
    }
    let mut customers: Vec<&str> = meters.iter().filter_map(|m| m.customer_id.as_deref()).collect();
    customers.sort_unstable();
    customers.dedup();
    for inv in invocations.iter().filter(|i| inside(i)) {
        ledger.invocation(inv);
        if meters.is_empty() && metered.contains(&inv.function) {
            unmetered.push(Unmetered::of(inv));
            ledger.unmetered(&inv.function);
        }
        match inv.tenant_id.as_deref() {
            Some(tenant) => ledger.attribute(inv, &[tenant_customer(tenants, tenant)]),
            None => ledger.attribute(inv, &customers),
        }
    }
    (unmetered, orphans)
}
