//! The billing platforms: each meter record, as the usage event of every platform named in `BILLING_PLATFORMS`,
//! exactly once, even past the platform's de-duplication window.
//!
//! Each platform is a folder here ([`stripe`], [`metronome`], [`openmeter`], [`amberflo`]) holding its settings,
//! its mapping from the Amberflo record and its answers' meaning ([`Platform`]); [`PLATFORMS`] lists them, one line
//! each. What they share: the encoder (one event per record, its de-duplication id derived one-to-one from
//! `uniqueId`; a value the platform cannot take is quarantined for that platform only), the outlet (the ledger,
//! batching, lanes, bounded retries, the deadline; [`outlet`]), the delivery ledger ([`ledger`]) and the way out
//! ([`send`]: HTTP, or files with `--out`).

pub mod ledger;
pub mod outlet;
pub mod platform;
pub mod send;
pub mod usage;

pub use outlet::BillingOutlet;
pub use platform::{Entry, Platform};
pub use send::Reach;

use super::{Encoder, Parcel, RecordValues, Registered};
use crate::config::settings::Setting;
use crate::config::{ConfigError, prefix, read, text};
use crate::plan::json_out::push_str;
use crate::sink::SharedObjects;
use std::sync::Arc;

/// Declares each platform's folder as a module and lists them in [`PLATFORMS`], from one list.
macro_rules! platforms {
    ($($name:ident,)*) => {
        $(pub mod $name;)*

        /// **The billing platforms**, in the order of the settings table.
        pub const PLATFORMS: &[Entry] = &[$($name::ENTRY),*];
    };
}

// The registration list of the billing platforms: a new platform is a folder beside these and one line here.
platforms! {
    stripe,
    metronome,
    openmeter,
    amberflo,
}

/// The settings every billing platform shares: which run, and where their ledger is.
pub const SETTINGS: &[Setting] = &[
    Setting {
        names: "`BILLING_PLATFORMS`",
        default: "(none)",
        output: "billing platforms",
        meaning: "comma-separated: `stripe`, `metronome`, `openmeter`, `amberflo`; each gets every meter record as its usage event, exactly once",
    },
    Setting {
        names: "`BILLING_LEDGER_PREFIX`",
        default: "`logmeter-ledger`",
        output: "billing platforms",
        meaning: "key prefix, in the ingest bucket (a directory with `--out`), of the delivery ledger: what each platform accepted, so a replay past its de-duplication window bills nothing twice",
    },
];

/// The billing platforms' rows of the settings table: the shared ones, then each platform's.
pub fn settings_rows() -> impl Iterator<Item = &'static Setting> {
    SETTINGS.iter().chain(PLATFORMS.iter().flat_map(|p| p.settings.iter()))
}

/// The billing platforms configured.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The platforms `BILLING_PLATFORMS` names, in its order.
    pub platforms: Vec<Arc<dyn Platform>>,
    /// `BILLING_LEDGER_PREFIX` (default `logmeter-ledger`).
    pub ledger_prefix: String,
    /// Whether ledger lookups read every shard's entries of a date (set by `logmeter backfill`, whose records come
    /// on shards of their own; not a setting).
    pub across_shards: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self { platforms: Vec::new(), ledger_prefix: "logmeter-ledger".into(), across_shards: false }
    }
}

/// Settings compare by what they say (their `Debug`, which redacts keys).
impl PartialEq for Settings {
    fn eq(&self, other: &Self) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

impl Settings {
    /// Reads `BILLING_PLATFORMS`, `BILLING_LEDGER_PREFIX` and the settings of each platform named.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut platforms: Vec<Arc<dyn Platform>> = Vec::new();
        for name in text(lookup, "BILLING_PLATFORMS").unwrap_or_default().split(',').map(str::trim) {
            if name.is_empty() {
                continue;
            }
            let entry = PLATFORMS.iter().find(|p| p.name.eq_ignore_ascii_case(name)).ok_or_else(|| ConfigError {
                name: "BILLING_PLATFORMS",
                value: name.to_owned(),
                reason: format!(
                    "unknown platform: one of {}",
                    PLATFORMS.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
                ),
            })?;
            if platforms.iter().any(|p| p.name() == entry.name) {
                continue;
            }
            platforms.push((entry.read)(lookup)?);
        }
        let ledger_prefix = read(lookup, "BILLING_LEDGER_PREFIX", "logmeter-ledger".to_owned(), prefix)?;
        Ok(Self { platforms, ledger_prefix, across_shards: false })
    }
}

/// Where the billing platforms deliver: their way out, and the store of their ledger.
#[derive(Debug, Clone, Default)]
pub struct Stores {
    /// HTTP, a directory, or nowhere.
    pub reach: Reach,
    /// The ledger's store (the ingest bucket, or the `--out` directory); none: no ledger (planning only).
    pub ledger: Option<Arc<dyn SharedObjects>>,
    /// What time it is when the ledger judges how old an unanswered send is: the system's clock by default.
    pub clock: Clock,
}

/// The time, for the ledger: the system's clock, or one its holder sets (the simulation passes the platforms'
/// windows with it).
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<std::sync::atomic::AtomicI64>>);

impl Clock {
    /// A clock that says what `millis` holds (epoch milliseconds), as its holder sets it.
    pub fn set_by(millis: Arc<std::sync::atomic::AtomicI64>) -> Self {
        Self(Some(millis))
    }

    /// Now, in epoch milliseconds.
    pub fn now_millis(&self) -> i64 {
        match &self.0 {
            Some(m) => m.load(std::sync::atomic::Ordering::SeqCst),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        }
    }
}

/// A JSON array of `events` (each one JSON value), one per line.
pub fn json_array(events: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.iter().map(|e| e.len() + 2).sum::<usize>() + 2);
    out.push(b'[');
    for (i, e) in events.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b",\n");
        }
        out.extend_from_slice(e);
    }
    out.extend_from_slice(b"]");
    out
}

/// One platform's encoder: each meter record as the platform's event, after an envelope line with its
/// de-duplication id, date and lane; what the platform cannot take in a `refused/` parcel of its own.
#[derive(Debug)]
pub struct BillingEncoder {
    platform: Arc<dyn Platform>,
}

impl Encoder for BillingEncoder {
    fn destination(&self) -> &'static str {
        self.platform.name()
    }

    fn encode(&self, values: &RecordValues<'_>, out: &mut Vec<Parcel>) {
        if values.meters.is_empty() {
            return;
        }
        let (mut events, mut refused) = (Vec::new(), Vec::new());
        let (mut n_events, mut n_refused) = (0, 0);
        for record in values.meters.iter() {
            let event = usage::Usage::read(record.json).and_then(|u| {
                let id = usage::dedup_id(&u.unique_id, self.platform.max_id_len());
                self.platform.event(&u, &id).map(|e| (id, e, crate::plan::utc_date(u.time_millis)))
            });
            match event {
                Ok((id, e, date)) => {
                    events.extend_from_slice(b"{\"id\":");
                    push_str(&mut events, &id);
                    events.extend_from_slice(b",\"date\":");
                    push_str(&mut events, &date);
                    events.extend_from_slice(b",\"lane\":");
                    push_str(&mut events, &e.lane);
                    events.extend_from_slice(b"}\n");
                    events.extend_from_slice(&e.bytes);
                    events.push(b'\n');
                    n_events += 1;
                }
                Err(reason) => {
                    refused.extend_from_slice(b"{\"reason\":");
                    push_str(&mut refused, &reason);
                    refused.extend_from_slice(b",\"record\":");
                    refused.extend_from_slice(record.json.as_bytes());
                    refused.extend_from_slice(b"}\n");
                    n_refused += 1;
                }
            }
        }
        let key = crate::plan::joined(&[values.shard, "/", values.seq_key]);
        if n_events > 0 {
            out.push(Parcel { key: key.clone(), body: events, items: n_events });
        }
        if n_refused > 0 {
            out.push(Parcel { key: crate::plan::joined(&[outlet::REFUSED, &key]), body: refused, items: n_refused });
        }
    }
}

/// The billing platforms as the registration list holds them: for each configured platform, its encoder and its
/// outlet over `stores`.
pub fn register(settings: &Settings, quarantine_prefix: &str, stores: &Stores) -> Vec<Registered> {
    settings
        .platforms
        .iter()
        .map(|platform| {
            let ledger = stores.ledger.clone().map(|store| {
                ledger::Ledger::new(store, &settings.ledger_prefix, platform.name(), settings.across_shards)
                    .judging(platform.window(), stores.clock.clone())
            });
            let transport = send::Transport::new(&stores.reach, platform.as_ref());
            Registered {
                encoder: Some(Box::new(BillingEncoder { platform: platform.clone() })),
                outlet: Box::new(BillingOutlet::new(platform.clone(), transport, ledger, quarantine_prefix)),
                quarantine: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_platform_names_are_named_and_valid_ones_read_their_settings() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
        };
        let s = Settings::from_lookup(&lookup(&[("BILLING_PLATFORMS", "stripe, Metronome,stripe")])).unwrap();
        assert_eq!(s.platforms.iter().map(|p| p.name()).collect::<Vec<_>>(), ["stripe", "metronome"]);
        assert_eq!(s.ledger_prefix, "logmeter-ledger");
        let e = Settings::from_lookup(&lookup(&[("BILLING_PLATFORMS", "lago")])).unwrap_err();
        assert!(e.to_string().contains("unknown platform"), "{e}");
        let e = Settings::from_lookup(&lookup(&[
            ("BILLING_PLATFORMS", "stripe"),
            ("STRIPE_API_KEY", "sk_live_hunter2"),
            ("STRIPE_API_KEY_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:s"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("not both") && !e.to_string().contains("hunter2"), "{e}");
        let s =
            Settings::from_lookup(&lookup(&[("BILLING_PLATFORMS", "stripe"), ("STRIPE_API_KEY", "sk_live_hunter2")]));
        assert!(!format!("{:?}", s.unwrap()).contains("hunter2"), "the key is never printed");
    }
}
