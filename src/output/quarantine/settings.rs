//! The quarantine store's settings: where what could not be processed is kept. The bucket is the store's
//! (`QUARANTINE_BUCKET_NAME`, [`crate::config::DeliveryConfig`]).

use crate::config::settings::Setting;
use crate::config::{ConfigError, prefix, read};

/// The quarantine store's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `QUARANTINE_PREFIX`: key prefix of quarantine objects (default `logmeter-quarantine`); the other outputs keep
    /// refused and spooled requests under it too.
    pub prefix: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self { prefix: "logmeter-quarantine".into() }
    }
}

impl Settings {
    /// Reads the settings from `lookup`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self { prefix: read(lookup, "QUARANTINE_PREFIX", Self::default().prefix, prefix)? })
    }
}

/// The quarantine store's rows of the settings table.
pub const SETTINGS: &[Setting] = &[Setting {
    names: r#"`QUARANTINE_PREFIX`"#,
    default: r#"`logmeter-quarantine`"#,
    output: "quarantine store",
    meaning: r#"key prefix of quarantine objects"#,
}];
