//! What the outputs' encoders need, gathered ([`Settings`]): each output's own settings (read in its folder) and
//! the rollups and costs the derived outputs share; and the outputs' rows of the settings table.

use super::{billing, ingest, prometheus, quarantine, search};
use crate::plan::rollup::RollupSettings;

/// Every output's settings that planning needs (its encoders'), read once at cold start; the endpoints' settings
/// are read with their stores (`SEARCH_URL`, `PROMETHEUS_*`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Settings {
    /// How rollups group and price invocations (`ROLLUP_*`, `FUNCTION_ARCHITECTURES`, `LAMBDA_PRICE_*`), for every
    /// output that writes derived figures (the search mirror's rollup documents, Prometheus).
    pub rollup: RollupSettings,
    /// The ingest objects.
    pub ingest: ingest::Settings,
    /// The quarantine store.
    pub quarantine: quarantine::Settings,
    /// The search mirror's documents.
    pub search: search::Settings,
    /// The billing platforms.
    pub billing: billing::Settings,
}

impl Settings {
    /// Reads every output's settings from `lookup`.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, crate::config::ConfigError> {
        Ok(Self {
            rollup: rollup_settings(lookup)?,
            ingest: ingest::Settings::from_lookup(lookup)?,
            quarantine: quarantine::Settings::from_lookup(lookup)?,
            search: search::Settings::from_lookup(lookup)?,
            billing: billing::Settings::from_lookup(lookup)?,
        })
    }
}

/// The outputs' rows of the settings table, in the order of the registration list.
pub fn settings_rows() -> impl Iterator<Item = &'static crate::config::settings::Setting> {
    [ingest::SETTINGS, quarantine::SETTINGS, search::SETTINGS, prometheus::SETTINGS]
        .into_iter()
        .flatten()
        .chain(billing::settings_rows())
}

/// The rollup settings (`ROLLUP_WINDOW_SECONDS`, `ROLLUP_BY_TENANT`,
/// `FUNCTION_ARCHITECTURES`, `LAMBDA_PRICE_*`).
pub(crate) fn rollup_settings(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<RollupSettings, crate::config::ConfigError> {
    let d = RollupSettings::default();
    let price = |name: &'static str| -> Result<Option<f64>, crate::config::ConfigError> {
        if lookup(name).is_none_or(|v| v.trim().is_empty()) {
            return Ok(None);
        }
        crate::config::read(lookup, name, PriceText(0.0), |_| Ok(())).map(|p| Some(p.0))
    };
    let overrides = crate::cost::RegionPrices {
        request: price("LAMBDA_PRICE_REQUEST")?,
        gb_second_x86_64: price("LAMBDA_PRICE_GB_SECOND_X86_64")?,
        gb_second_arm64: price("LAMBDA_PRICE_GB_SECOND_ARM64")?,
        snapstart_restore_gb: price("LAMBDA_PRICE_SNAPSTART_RESTORE_GB")?,
    };
    let settings = RollupSettings {
        window_ms: crate::config::read(lookup, "ROLLUP_WINDOW_SECONDS", d.window_ms / 1000, |s: &i64| {
            if (1..=86_400).contains(s) && 86_400 % s == 0 {
                Ok(())
            } else {
                Err("must divide a day: 1 to 86400 seconds, e.g. 60, 300, 3600".into())
            }
        })? * 1000,
        architectures: crate::config::read(lookup, "FUNCTION_ARCHITECTURES", d.architectures, |_| Ok(()))?,
        prices: d.prices.with_overrides(overrides),
        by_tenant: crate::config::flag(lookup, "ROLLUP_BY_TENANT", d.by_tenant)?,
    };
    Ok(settings)
}

/// A price setting: a finite, non-negative number of USD.
struct PriceText(f64);

impl std::str::FromStr for PriceText {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.parse::<f64>() {
            Ok(p) if p.is_finite() && p >= 0.0 => Ok(Self(p)),
            _ => Err("must be a non-negative number of USD".into()),
        }
    }
}
