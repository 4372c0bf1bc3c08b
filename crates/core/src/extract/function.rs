//! Function name and version from the log group and log stream names.
//!
//! Default log groups are `/aws/lambda/<function>` with streams `YYYY/MM/DD/[<version>]<id>`. Custom log groups
//! (`LoggingConfig.LogGroup`) may hold several functions; their streams are `YYYY/MM/DD/<function>[<version>]<id>`.

/// The function a log stream belongs to, as far as the names tell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FunctionId<'a> {
    /// Function name.
    pub name: Option<&'a str>,
    /// Function version (`$LATEST`, `12`).
    pub version: Option<&'a str>,
}

impl<'a> FunctionId<'a> {
    /// The name rollups and the metadata lookup know the function by: its name, or the log group when the names
    /// tell none.
    pub fn name_or(&self, log_group: &'a str) -> &'a str {
        self.name.unwrap_or(log_group)
    }
}

/// Reads the function name and version from a log group and stream.
pub fn function_of<'a>(log_group: &'a str, log_stream: &'a str) -> FunctionId<'a> {
    let mut id = FunctionId::default();
    // Skip the `YYYY/MM/DD/` date prefix.
    let tail = log_stream.splitn(4, '/').nth(3).unwrap_or("");
    if let Some(open) = tail.find('[')
        && let Some(close) = tail[open..].find(']')
    {
        let version = &tail[open + 1..open + close];
        id.version = (!version.is_empty()).then_some(version);
        id.name = (open > 0).then(|| &tail[..open]);
    }
    if id.name.is_none() {
        id.name = log_group.strip_prefix("/aws/lambda/").filter(|n| !n.is_empty());
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_and_versions() {
        let table = [
            (
                "/aws/lambda/checkout",
                "2026/11/20/[$LATEST]fe9b6a749a854acb95af7951c44a79e0",
                Some("checkout"),
                Some("$LATEST"),
            ),
            ("/aws/lambda/checkout", "2026/11/20/[12]fe9b6a749a854acb95af7951c44a79e0", Some("checkout"), Some("12")),
            (
                "shared-app-logs",
                "2026/11/20/billing-api[7]fe9b6a749a854acb95af7951c44a79e0",
                Some("billing-api"),
                Some("7"),
            ),
            (
                "shared-app-logs",
                "2026/11/20/billing-api[$LATEST][fe9b6a749a854acb95af7951c44a79e0]",
                Some("billing-api"),
                Some("$LATEST"),
            ),
            ("/aws/lambda/us-east-1.edge-fn", "2026/11/20/[1]abc", Some("us-east-1.edge-fn"), Some("1")),
        ];
        for (group, stream, name, version) in table {
            assert_eq!(function_of(group, stream), FunctionId { name, version }, "{group} {stream}");
        }
    }

    #[test]
    fn invalid_names_give_what_is_known() {
        assert_eq!(function_of("app", "free-form-stream"), FunctionId::default());
        assert_eq!(function_of("/aws/lambda/", "x"), FunctionId::default());
        assert_eq!(function_of("/aws/lambda/f", "2026/11/20/[broken"), FunctionId { name: Some("f"), version: None });
    }
}
