//! The Prometheus output's stand-in under `--out DIR`: each request as a file, byte for byte what would be sent.

use super::{MetricsSink, PrometheusMode};
use crate::plan::Parcel;
use crate::sink::{Delivery, LocalDir, SinkError};

/// Where `--out` writes Prometheus requests: `prometheus-remote-write/<shard>/<last>-<first>-<digest>.snappy` and
/// `prometheus-pushgateway/job/<job>/…/<value>.prom`.
pub const PROMETHEUS_DIRS: [&str; 2] = ["prometheus-remote-write", "prometheus-pushgateway"];

impl MetricsSink for LocalDir {
    async fn send(&self, mode: PrometheusMode, request: &Parcel) -> Result<Delivery, SinkError> {
        let rel = match mode {
            PrometheusMode::RemoteWrite => format!("{}/{}.snappy", PROMETHEUS_DIRS[0], request.key),
            PrometheusMode::Pushgateway => format!("{}/{}.prom", PROMETHEUS_DIRS[1], request.key),
        };
        self.create_only(&rel, &request.body)
    }
}
