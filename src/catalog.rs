//! Function metadata — runtime, memory, timeout, handler, architecture, what Lambdabeat shows — from an optional,
//! cached `lambda:GetFunctionConfiguration` lookup (`FUNCTION_METADATA_LOOKUP=true`).
//!
//! The [`Catalog`] is the handler's cache, filled through a `crate::sink::FunctionLookup` (the I/O, among the sinks);
//! planning reads an explicit [`CatalogSnapshot`] of it, handed in with the batch (rollup documents describe a
//! function with its configuration). The first batch that names an unknown function costs one lookup per function
//! and a second planning, later ones nothing. A function the lookup cannot see (another account's, a missing
//! permission) is remembered as unknown for the container's life, and `FUNCTION_ARCHITECTURES` decides for it.

use crate::cost::Architecture;
use std::collections::{HashMap, HashSet};
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
    known: RwLock<Known>,
}

/// The catalog's two lists. The configurations found are kept as the snapshot planning reads, so taking one per
/// batch costs a reference count, and a lookup's answer (once per function and container) copies them only while
/// an earlier snapshot is still held.
#[derive(Debug, Default)]
struct Known {
    found: CatalogSnapshot,
    unseen: HashSet<String>,
}

impl Catalog {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Known> {
        self.known.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The configuration of `name`, when a lookup found it.
    pub fn get(&self, name: &str) -> Option<FunctionConfig> {
        self.read().found.get(name).cloned()
    }

    /// Whether `name` was looked up already (found or not).
    pub fn knows(&self, name: &str) -> bool {
        let known = self.read();
        known.found.get(name).is_some() || known.unseen.contains(name)
    }

    /// What the catalog holds now: the configurations found, for one batch's planning.
    pub fn snapshot(&self) -> CatalogSnapshot {
        self.read().found.clone()
    }

    /// Remembers what the lookup of `name` gave.
    pub fn insert(&self, name: &str, config: Option<FunctionConfig>) {
        let mut known = self.known.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        match config {
            Some(c) => {
                known.unseen.remove(name);
                Arc::make_mut(&mut known.found.0).insert(name.to_owned(), c);
            }
            None => {
                if known.found.get(name).is_some() {
                    Arc::make_mut(&mut known.found.0).remove(name);
                }
                known.unseen.insert(name.to_owned());
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_snapshots_keep_what_the_catalog_held_when_taken() {
        let catalog = Catalog::default();
        let arm = FunctionConfig { architecture: Some(Architecture::Arm64), ..FunctionConfig::default() };
        catalog.insert("a", Some(arm.clone()));
        let before = catalog.snapshot();
        catalog.insert("b", None);
        catalog.insert("c", Some(FunctionConfig::default()));
        assert_eq!((before.get("a"), before.get("c")), (Some(&arm), None), "taken before c was found");
        let now = catalog.snapshot();
        assert_eq!((now.get("a"), now.get("b"), now.get("c")), (Some(&arm), None, Some(&FunctionConfig::default())));
        assert!(catalog.knows("a") && catalog.knows("b") && catalog.knows("c") && !catalog.knows("d"));
        // A later answer replaces an earlier one, either way.
        catalog.insert("a", None);
        assert!(catalog.get("a").is_none() && catalog.knows("a") && catalog.snapshot().get("a").is_none());
        catalog.insert("b", Some(arm.clone()));
        assert_eq!(catalog.get("b"), Some(arm));
        assert_eq!(before.get("a").and_then(|c| c.architecture), Some(Architecture::Arm64), "still as taken");
    }
}
