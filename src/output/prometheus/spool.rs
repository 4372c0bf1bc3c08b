//! What the Prometheus output keeps in the quarantine store instead of delivering: requests the endpoint refused
//! for good, with its answer, and requests spooled through an outage, each under a key that names its content.

use super::PrometheusMode;
use crate::plan::Parcel;
use crate::plan::content_key;

/// A Prometheus request the endpoint could not take, kept byte for byte for replay (`POST` it as is to the remote
/// write endpoint, or `PUT` it to the Pushgateway path after the date):
/// `<prefix>/prometheus-spool/<date>/<name>-<digest>.snappy` or `….prom`.
pub fn prometheus_spool_object(request: &Parcel, mode: PrometheusMode, prefix: &str, date: &str) -> Parcel {
    let ext = match mode {
        PrometheusMode::RemoteWrite => ".snappy",
        PrometheusMode::Pushgateway => ".prom",
    };
    // Remote write names are digests of the uncompressed entries, and Pushgateway groups are paths: the key
    // names the stored bytes too.
    Parcel {
        key: content_key(&format!("{prefix}/prometheus-spool/{date}/{}", request.key), &request.body, ext),
        body: request.body.clone(),
        items: request.items,
    }
}

/// A Prometheus request the endpoint refused for good, with the answer:
/// `<prefix>/prometheus-rejected/<date>/<name>-<digest>.json`, `{"reason", "samples", "body_base64"}`.
pub fn prometheus_rejected_object(request: &Parcel, reason: &str, prefix: &str, date: &str) -> Parcel {
    use base64::Engine as _;
    let doc = serde_json::json!({
        "reason": reason,
        "samples": request.items,
        "body_base64": base64::engine::general_purpose::STANDARD.encode(&request.body),
    });
    let body = doc.to_string().into_bytes();
    Parcel {
        key: content_key(&format!("{prefix}/prometheus-rejected/{date}/{}", request.key), &body, ".json"),
        body,
        items: request.items,
    }
}
