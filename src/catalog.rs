//! Function metadata — runtime, memory, timeout, handler, architecture, what Lambdabeat shows — from an optional,
//! cached `lambda:GetFunctionConfiguration` lookup (`FUNCTION_METADATA_LOOKUP=true`).
//!
//! The [`Catalog`] is a cache planning reads (rollup documents describe a function with its configuration) and only
//! the handler fills, through a `crate::sink::FunctionLookup` (the I/O, among the sinks), before it plans a batch
//! again: the first batch
//! that names an unknown function costs one lookup per function and a second planning, later ones nothing. A
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

    /// Remembers what the lookup of `name` gave.
    pub fn insert(&self, name: &str, config: Option<FunctionConfig>) {
        self.known.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(name.to_owned(), config);
    }
}

/// The catalog as a setting: shared by every clone of the pipeline's configuration. It is a cache, not a choice,
/// so two configurations are equal whatever it holds.
#[derive(Debug, Clone, Default)]
pub struct SharedCatalog(pub Arc<Catalog>);

impl PartialEq for SharedCatalog {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
