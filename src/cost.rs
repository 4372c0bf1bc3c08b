//! The cost model: what an invocation costs at Lambda's on-demand list prices.
//!
//! Prices are data (`data/lambda-prices.json`, with its source and date), per region and architecture, with
//! overrides from the environment (`LAMBDA_PRICE_*`, which apply in every region). An invocation costs the request
//! charge, its billed duration × memory at the architecture's GB-second price, and with SnapStart its billed
//! restore duration at the same price plus the restore charge per GB of memory. An invocation that cannot be
//! priced has no cost, with a reason, never 0: a report without billed duration or memory size (Lambda Managed
//! Instances report only `durationMs`; they are billed through EC2), or a region without prices.

use std::collections::BTreeMap;
use std::str::FromStr;

/// The committed price table.
const TABLE: &str = include_str!("../data/lambda-prices.json");

/// A function's instruction set, which sets its GB-second price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Architecture {
    /// `x86_64`, Lambda's default.
    X86_64,
    /// `arm64` (Graviton).
    Arm64,
}

impl Architecture {
    /// The name Lambda uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }
}

impl FromStr for Architecture {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "x86_64" => Ok(Self::X86_64),
            "arm64" => Ok(Self::Arm64),
            _ => Err(format!("{s:?} is not an architecture (x86_64 or arm64)")),
        }
    }
}

/// Which architecture each function runs on (`FUNCTION_ARCHITECTURES`: `name=arch` pairs, comma-separated, `*` for
/// the rest; `x86_64` when unnamed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Architectures {
    by_function: BTreeMap<String, Architecture>,
    default: Option<Architecture>,
}

impl Architectures {
    /// The architecture of `function`.
    pub fn of(&self, function: &str) -> Architecture {
        self.resolve(function, None)
    }

    /// The architecture of `function`: the one configured for it by name, else `looked_up` (from the function's
    /// configuration), else the one configured for `*`, else `x86_64`.
    pub fn resolve(&self, function: &str, looked_up: Option<Architecture>) -> Architecture {
        self.by_function.get(function).copied().or(looked_up).or(self.default).unwrap_or(Architecture::X86_64)
    }
}

impl FromStr for Architectures {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = Self::default();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, arch) = pair.split_once('=').ok_or_else(|| format!("{pair:?} is not name=architecture"))?;
            let arch: Architecture = arch.trim().parse()?;
            match name.trim() {
                "*" => out.default = Some(arch),
                "" => return Err(format!("{pair:?} names no function")),
                name => {
                    out.by_function.insert(name.to_owned(), arch);
                }
            }
        }
        Ok(out)
    }
}

/// The prices of one region; `None` where neither the table nor an override gives one.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RegionPrices {
    /// USD per request.
    pub request: Option<f64>,
    /// USD per GB-second on x86_64.
    pub gb_second_x86_64: Option<f64>,
    /// USD per GB-second on arm64.
    pub gb_second_arm64: Option<f64>,
    /// USD per GB restored from a SnapStart snapshot.
    pub snapstart_restore_gb: Option<f64>,
}

impl RegionPrices {
    /// `self`, with what `over` sets replacing it.
    fn overlaid(self, over: &RegionPrices) -> Self {
        Self {
            request: over.request.or(self.request),
            gb_second_x86_64: over.gb_second_x86_64.or(self.gb_second_x86_64),
            gb_second_arm64: over.gb_second_arm64.or(self.gb_second_arm64),
            snapstart_restore_gb: over.snapstart_restore_gb.or(self.snapstart_restore_gb),
        }
    }
}

/// The price table with the environment's overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Prices {
    regions: BTreeMap<String, RegionPrices>,
    overrides: RegionPrices,
    /// Where the table's prices come from, and when.
    pub source: String,
}

/// The figures of one invocation that its cost depends on.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Billed {
    /// Billed duration, ms.
    pub billed_duration_ms: Option<u64>,
    /// Memory size, MB.
    pub memory_size_mb: Option<u64>,
    /// Billed SnapStart restore duration, ms (a restored invocation).
    pub billed_restore_duration_ms: Option<u64>,
}

/// Why an invocation has no estimated cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unpriced {
    /// The report has no billed duration or memory size (Lambda Managed Instances, billed through EC2; or a
    /// duration-only `platform.report`).
    NotBilledPerGbSecond,
    /// No price for the region (or the region is unknown): set the `LAMBDA_PRICE_*` settings.
    NoPrice,
}

impl Unpriced {
    /// The reason as documents state it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotBilledPerGbSecond => {
                "no billed duration or memory size (Managed Instances are billed through EC2)"
            }
            Self::NoPrice => "no price for the region: set LAMBDA_PRICE_* to price it",
        }
    }
}

#[derive(serde::Deserialize)]
struct Table {
    source: String,
    retrieved: String,
    regions: BTreeMap<String, TableRegion>,
}

#[derive(serde::Deserialize)]
struct TableRegion {
    request: f64,
    gb_second: BTreeMap<String, f64>,
    snapstart_restore_gb: f64,
}

/// The committed table, without overrides.
impl Default for Prices {
    fn default() -> Self {
        // The table is committed and checked by a test: it always parses.
        let table: Table = serde_json::from_str(TABLE).unwrap_or(Table {
            source: String::new(),
            retrieved: String::new(),
            regions: BTreeMap::new(),
        });
        let regions = table
            .regions
            .into_iter()
            .map(|(name, r)| {
                let prices = RegionPrices {
                    request: Some(r.request),
                    gb_second_x86_64: r.gb_second.get("x86_64").copied(),
                    gb_second_arm64: r.gb_second.get("arm64").copied(),
                    snapstart_restore_gb: Some(r.snapstart_restore_gb),
                };
                (name, prices)
            })
            .collect();
        let source = format!("{} as of {}", table.source, table.retrieved);
        Self { regions, overrides: RegionPrices::default(), source }
    }
}

impl Prices {
    /// These prices with `overrides` on top, in every region.
    pub fn with_overrides(self, overrides: RegionPrices) -> Self {
        Self { overrides, ..self }
    }

    /// The prices in force in `region`.
    pub fn region(&self, region: Option<&str>) -> RegionPrices {
        region.and_then(|r| self.regions.get(r)).copied().unwrap_or_default().overlaid(&self.overrides)
    }

    /// The estimated cost of one invocation in USD.
    pub fn invocation(&self, region: Option<&str>, arch: Architecture, billed: Billed) -> Result<f64, Unpriced> {
        let (Some(ms), Some(mb)) = (billed.billed_duration_ms, billed.memory_size_mb) else {
            return Err(Unpriced::NotBilledPerGbSecond);
        };
        let p = self.region(region);
        let gb_second = match arch {
            Architecture::X86_64 => p.gb_second_x86_64,
            Architecture::Arm64 => p.gb_second_arm64,
        };
        let (Some(request), Some(gb_second)) = (p.request, gb_second) else {
            return Err(Unpriced::NoPrice);
        };
        let gb = mb as f64 / 1024.0;
        let mut usd = request + ms as f64 / 1000.0 * gb * gb_second;
        if let Some(restore_ms) = billed.billed_restore_duration_ms {
            let Some(restore) = p.snapstart_restore_gb else { return Err(Unpriced::NoPrice) };
            usd += restore_ms as f64 / 1000.0 * gb * gb_second + gb * restore;
        }
        Ok(usd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_invocations_are_priced_from_the_table() {
        let p = Prices::default();
        assert!(p.source.contains("aws.amazon.com/lambda/pricing") && p.source.contains("2026-12-06"));
        let billed = |ms, mb, restore| Billed {
            billed_duration_ms: Some(ms),
            memory_size_mb: Some(mb),
            billed_restore_duration_ms: restore,
        };
        // 1 s at 1 GB on x86_64: one GB-second and one request.
        let usd = p.invocation(Some("us-east-1"), Architecture::X86_64, billed(1000, 1024, None)).unwrap();
        assert!((usd - (0.0000166667 + 0.0000002)).abs() < 1e-15, "{usd}");
        // 100 ms at 512 MB on arm64.
        let usd = p.invocation(Some("us-east-1"), Architecture::Arm64, billed(100, 512, None)).unwrap();
        assert!((usd - (0.05 * 0.0000133334 + 0.0000002)).abs() < 1e-15, "{usd}");
        // SnapStart: the restore is billed as duration, plus the charge per GB restored.
        let usd = p.invocation(Some("us-east-1"), Architecture::X86_64, billed(200, 2048, Some(300))).unwrap();
        let want = 0.0000002 + 0.2 * 2.0 * 0.0000166667 + 0.3 * 2.0 * 0.0000166667 + 2.0 * 0.0001397998;
        assert!((usd - want).abs() < 1e-15, "{usd}");
    }

    #[test]
    fn invalid_invocations_have_no_cost_with_a_reason_never_zero() {
        let p = Prices::default();
        let duration_only = Billed { billed_duration_ms: None, memory_size_mb: None, billed_restore_duration_ms: None };
        assert_eq!(
            p.invocation(Some("us-east-1"), Architecture::X86_64, duration_only),
            Err(Unpriced::NotBilledPerGbSecond)
        );
        let b = Billed { billed_duration_ms: Some(1), memory_size_mb: Some(128), billed_restore_duration_ms: None };
        assert_eq!(p.invocation(Some("eu-west-1"), Architecture::X86_64, b), Err(Unpriced::NoPrice));
        assert_eq!(p.invocation(None, Architecture::X86_64, b), Err(Unpriced::NoPrice));
        // Overrides price every region.
        let over = Prices::default().with_overrides(RegionPrices {
            request: Some(0.0),
            gb_second_x86_64: Some(1.0),
            ..Default::default()
        });
        assert_eq!(over.invocation(Some("eu-west-1"), Architecture::X86_64, b), Ok(0.001 * 0.125));
        assert_eq!(over.invocation(Some("eu-west-1"), Architecture::Arm64, b), Err(Unpriced::NoPrice));
    }

    #[test]
    fn valid_architectures_by_function() {
        let a: Architectures = "checkout-api=arm64, *=x86_64".parse().unwrap();
        assert_eq!((a.of("checkout-api"), a.of("other")), (Architecture::Arm64, Architecture::X86_64));
        let b: Architectures = "*=arm64".parse().unwrap();
        assert_eq!(b.of("any"), Architecture::Arm64);
        assert_eq!(Architectures::default().of("any"), Architecture::X86_64);
        // A name configured wins over the lookup; the lookup wins over `*`.
        assert_eq!(a.resolve("checkout-api", Some(Architecture::X86_64)), Architecture::Arm64);
        assert_eq!(b.resolve("any", Some(Architecture::X86_64)), Architecture::X86_64);
        for bad in ["checkout", "f=mips", "=arm64"] {
            assert!(bad.parse::<Architectures>().is_err(), "{bad}");
        }
    }
}
