//! `lambda:GetFunctionConfiguration`: the lookup that fills the function [`Catalog`] (`FUNCTION_METADATA_LOOKUP=true`).

use super::http::AwsHttp;
use crate::catalog::{Catalog, FunctionConfig};
#[cfg(test)]
use crate::cost::Architecture;

/// Looks function configurations up with `GetFunctionConfiguration` (`GET /2015-03-31/functions/{name}/configuration`,
/// SigV4 for `lambda`), in the function's own account and region.
#[derive(Debug)]
pub struct FunctionLookup {
    http: AwsHttp,
    endpoint: String,
}

impl FunctionLookup {
    /// A lookup over `http` at `endpoint` (`AWS_ENDPOINT_URL_LAMBDA`, else the SDK's endpoint, else the Lambda
    /// endpoint of the function's region in its partition, FIPS when `AWS_USE_FIPS_ENDPOINT` says so); `None`
    /// without any (no region is known), for the lookup is never sent to a guessed region.
    pub fn new(http: AwsHttp, endpoint: Option<String>) -> Option<Self> {
        let sdk = http.sdk();
        let endpoint = endpoint.or_else(|| sdk.endpoint_url().map(str::to_owned)).or_else(|| {
            let region = sdk.region()?.to_string();
            let partition = super::http::partition_of(&region);
            Some(super::http::service_endpoint("lambda", partition, &region, sdk.use_fips().unwrap_or(false)))
        });
        let Some(endpoint) = endpoint else {
            tracing::warn!("FUNCTION_METADATA_LOOKUP: no region is known, so no Lambda endpoint: the lookup is off");
            return None;
        };
        Some(Self { http, endpoint: endpoint.trim_end_matches('/').to_owned() })
    }

    /// The configuration of `name`; `Ok(None)` when the lookup cannot see it (404, 403).
    pub async fn configuration(&self, name: &str) -> Result<Option<FunctionConfig>, String> {
        let safe = name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !safe {
            return Ok(None);
        }
        let url = format!("{}/2015-03-31/functions/{name}/configuration", self.endpoint);
        let answer = self
            .http
            .request(http::Method::GET, &url, Vec::new(), None, Some(("lambda", None)))
            .await
            .map_err(|e| e.to_string())?;
        match answer.status {
            200 => Ok(Some(parse_configuration(&answer.body)?)),
            403 | 404 => Ok(None),
            s => Err(format!("GetFunctionConfiguration {name}: HTTP {s}")),
        }
    }

    /// Looks up every name in `names` the catalog does not know yet, and remembers the answers; `true` when one
    /// of them was found (the batch is worth planning again).
    pub async fn fill(&self, catalog: &Catalog, names: &[String]) -> bool {
        let unknown: Vec<&String> = names.iter().filter(|n| !catalog.knows(n)).collect();
        let answers = futures_util::future::join_all(unknown.iter().map(|n| self.configuration(n))).await;
        let mut found = false;
        for (name, answer) in unknown.into_iter().zip(answers) {
            let config = answer.unwrap_or_else(|e| {
                tracing::warn!(function = %name, error = %e, "function metadata lookup failed: FUNCTION_ARCHITECTURES decides");
                None
            });
            found |= config.is_some();
            catalog.insert(name, config);
        }
        found
    }
}

/// Reads the fields logmeter uses from a `GetFunctionConfiguration` answer.
fn parse_configuration(body: &[u8]) -> Result<FunctionConfig, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        runtime: Option<String>,
        memory_size: Option<u64>,
        timeout: Option<u64>,
        handler: Option<String>,
        #[serde(default)]
        architectures: Vec<String>,
    }
    let a: Answer = serde_json::from_slice(body).map_err(|e| format!("GetFunctionConfiguration answer: {e}"))?;
    Ok(FunctionConfig {
        runtime: a.runtime,
        memory_mb: a.memory_size,
        timeout_seconds: a.timeout,
        handler: a.handler,
        architecture: a.architectures.first().and_then(|s| s.parse().ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_configuration_answers_are_read() {
        let body = br#"{"FunctionName":"f","Runtime":"python3.13","MemorySize":512,"Timeout":30,"Handler":"app.handler","Architectures":["arm64"],"Role":"r"}"#;
        let c = parse_configuration(body).unwrap();
        assert_eq!(c.architecture, Some(Architecture::Arm64));
        assert_eq!((c.memory_mb, c.timeout_seconds), (Some(512), Some(30)));
        assert_eq!((c.runtime.as_deref(), c.handler.as_deref()), (Some("python3.13"), Some("app.handler")));
        let image = parse_configuration(br#"{"MemorySize":128,"Timeout":3}"#).unwrap();
        assert_eq!((image.runtime, image.architecture), (None, None));
        assert!(parse_configuration(b"<html>").is_err());
    }
}
