//! Function metadata — runtime, memory, timeout, handler, architecture, what Lambdabeat shows — from an optional,
//! cached `lambda:GetFunctionConfiguration` lookup (`FUNCTION_METADATA_LOOKUP=true`).
//!
//! The [`Catalog`] is the handler's cache, filled through a `crate::sink::FunctionLookup` (the I/O, among the sinks);
//! planning reads an explicit [`CatalogSnapshot`] of it, handed in with the batch (rollup documents describe a
//! function with its configuration). The first batch that names an unknown function costs one lookup per function
//! and a second planning, later ones nothing. A
//! function the lookup cannot see (another account's, a missing permission) is remembered as unknown for the
//! container's life, and `FUNCTION_ARCHITECTURES` decides for it.

use crate::cost::Architecture;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// A function's configuration as `GetFunctionConfiguration` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FunctionConfig {
    /// `Runtime` (`python3.13`; absent for container images).
    pub runtime: Option<String>,
    /// `MemorySize`, MB.
    pub memory_mb: Option<u64>,
    /// `Timeout`, seconds.
    pub timeout_seconds: Option<u64>,
    /// `Handler`.
    pub handler: Option<String>,
    /// `Architectures[0]`.
    pub architecture: Option<Architecture>,
}

/// What is known of each function by name: its configuration, or that the lookup could not see it.
#[derive(Debug, Default)]
pub struct Catalog {
    known: RwLock<HashMap<String, Option<FunctionConfig>>>,
}

impl Catalog {
    /// The configuration of `name`, when a lookup found it.
    pub fn get(&self, name: &str) -> Option<FunctionConfig> {
        self.known.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(name).cloned().flatten()
    }

    /// Whether `name` was looked up already (found or not).
    pub fn knows(&self, name: &str) -> bool {
        self.known.read().unwrap_or_else(std::sync::PoisonError::into_inner).contains_key(name)
    }

    /// What the catalog holds now: the configurations found, for one batch's planning.
    pub fn snapshot(&self) -> CatalogSnapshot {
        let known = self.known.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        CatalogSnapshot::of(known.iter().filter_map(|(name, c)| Some((name.clone(), c.clone()?))))
    }

    /// Remembers what the lookup of `name` gave.
    pub fn insert(&self, name: &str, config: Option<FunctionConfig>) {
        self.known.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(name.to_owned(), config);
    }
}

/// What the catalog held when a batch was planned: planning reads this, never the cache, so what a plan says
/// depends on its inputs alone (the batch, the settings, this snapshot), not on a lookup that finishes meanwhile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogSnapshot(Arc<HashMap<String, FunctionConfig>>);

impl CatalogSnapshot {
    /// The configuration of `name`, when the lookup found it.
    pub fn get(&self, name: &str) -> Option<&FunctionConfig> {
        self.0.get(name)
    }

    /// A snapshot holding `functions` (tests, and planning with configurations known beforehand).
    pub fn of(functions: impl IntoIterator<Item = (String, FunctionConfig)>) -> Self {
        Self(Arc::new(functions.into_iter().collect()))
    }
}
