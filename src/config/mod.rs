//! Reading settings, once at cold start, from a lookup function (the process environment in production, a map in
//! tests), with errors that name the variable and the bad value: the helpers every output's settings read with, the
//! row type of the settings table ([`settings`]), and the stores' own settings ([`DeliveryConfig`]). Each output's
//! settings live in its folder (`crate::output::<name>::settings`); the pipeline's in `crate::pipeline::config`.

mod delivery;
pub mod settings;

pub use delivery::{AclMode, DELIVERY, DeliveryConfig, FailureMode, LOGS};

use std::fmt::Display;
use std::str::FromStr;

/// A setting that is present but unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {name}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// Its value (never a secret: secrets are not read through this type).
    pub value: String,
    /// What is wrong.
    pub reason: String,
}

/// Reads one variable with a parser; absent or empty means the default.
pub(crate) fn read<T, F>(
    lookup: &F,
    name: &'static str,
    default: T,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
    F: Fn(&str) -> Option<String>,
{
    let Some(value) = lookup(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    let parsed =
        value.trim().parse::<T>().map_err(|e| ConfigError { name, value: value.clone(), reason: e.to_string() })?;
    check(&parsed).map_err(|reason| ConfigError { name, value, reason })?;
    Ok(parsed)
}

/// A boolean setting: `true`/`1`/`yes` or `false`/`0`/`no`, any case; absent or empty means the default.
pub(crate) fn flag(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match lookup(name).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(ConfigError { name, value: other.into(), reason: "must be true or false".into() }),
    }
}

/// A variable's trimmed value; `None` when unset or empty.
pub(crate) fn text(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// An endpoint URL without a trailing `/`: `http://` or `https://`, and no credentials in it (the value is never
/// echoed, since a URL with credentials would be a secret; `instead` names the variables to use).
pub(crate) fn endpoint_url(name: &'static str, value: &str, instead: &str) -> Result<String, ConfigError> {
    let url = value.trim_end_matches('/').to_owned();
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains('@') {
        return Err(ConfigError {
            name,
            value: "<not shown>".into(),
            reason: format!("must be http:// or https:// without credentials in it (use {instead})"),
        });
    }
    Ok(url)
}

/// An output's failure mode: `spool` (default) or `retry`.
pub(crate) fn failure_mode(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<FailureMode, ConfigError> {
    match text(lookup, name).as_deref() {
        None | Some("spool") => Ok(FailureMode::Spool),
        Some("retry") => Ok(FailureMode::Retry),
        Some(o) => Err(ConfigError { name, value: o.into(), reason: "must be spool or retry".into() }),
    }
}

/// A user name and password that go together (basic auth), or neither.
pub(crate) fn user_password(
    lookup: &impl Fn(&str) -> Option<String>,
    user: &'static str,
    password: &'static str,
) -> Result<Option<(String, String)>, ConfigError> {
    match (text(lookup, user), text(lookup, password)) {
        (Some(u), Some(p)) => Ok(Some((u, p))),
        (None, None) => Ok(None),
        (u, _) => Err(ConfigError {
            name: if u.is_some() { password } else { user },
            value: String::new(),
            reason: format!("{user} and {password} go together"),
        }),
    }
}

/// The one authentication configured (by the variable that chose it), or `None`; more than one is an error named
/// after `name`.
pub(crate) fn one_auth<A>(mut auths: Vec<(&'static str, A)>, name: &'static str) -> Result<Option<A>, ConfigError> {
    if auths.len() > 1 {
        let names: Vec<_> = auths.iter().map(|(n, _)| *n).collect();
        return Err(ConfigError {
            name,
            value: "<not shown>".into(),
            reason: format!("choose one authentication, not {}", names.join(" and ")),
        });
    }
    Ok(auths.pop().map(|(_, a)| a))
}

/// Attempts per request: 1 to 20.
pub(crate) fn attempts(v: &u32) -> Result<(), String> {
    if (1..=20).contains(v) { Ok(()) } else { Err("must be between 1 and 20".into()) }
}

/// A request timeout: at least 100 ms.
pub(crate) fn timeout_ms(v: &u64) -> Result<(), String> {
    if *v >= 100 { Ok(()) } else { Err("must be at least 100".into()) }
}

/// A count or size: greater than zero.
pub(crate) fn positive(v: &usize) -> Result<(), String> {
    if *v == 0 { Err("must be greater than zero".into()) } else { Ok(()) }
}

/// A key prefix: no leading or trailing `/`, no empty level.
#[allow(clippy::ptr_arg)] // `read` passes the parsed value by reference.
pub(crate) fn prefix(v: &String) -> Result<(), String> {
    let v = v.as_str();
    if v.starts_with('/') || v.ends_with('/') || v.contains("//") {
        Err("must not start or end with '/' or contain '//'".into())
    } else {
        Ok(())
    }
}
