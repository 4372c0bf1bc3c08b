//! The samples' price book (`samples/price-book.json`) and the revenue and margin it gives each customer, worked out
//! here from the meter records the generator wrote, with the book's rules written out by hand (not read through
//! [`crate::reconcile::price_book`]), so tests check the reconciliation against an independent answer.

use super::{ExpectedReport, Truth};
use std::collections::{BTreeMap, BTreeSet};

/// The price book of the samples (docs/pricing.md): an allowance and two tiers, plan prices, a free plan's
/// allowance, and a meter priced only for paying plans (its free-plan usage is unpriced).
pub const PRICE_BOOK: &str = r#"{
  "currency": "USD",
  "meters": {
    "api-calls": {
      "included": 20,
      "tiers": [
        { "up_to": 30, "unit_price": 0.002 },
        { "unit_price": 0.001 }
      ],
      "plans": { "enterprise": { "unit_price": 0.0005 } }
    },
    "search-queries": {
      "unit_price": 0.004,
      "plans": { "free": { "included": 100, "unit_price": 0.004 } }
    },
    "storage-gb-hours": { "unit_price": 0.00002 },
    "ledger-entries": {
      "plans": { "pro": { "unit_price": 0.003 }, "enterprise": { "unit_price": 0.002 } }
    }
  }
}
"#;

/// What `units` of `meter` on `plan` in one month earn at [`PRICE_BOOK`]; `None` when it has no price.
fn charge(meter: &str, plan: &str, units: f64) -> Option<f64> {
    let past = |allowance: f64| (units - allowance).max(0.0);
    Some(match (meter, plan) {
        ("api-calls", "enterprise") => units * 0.0005,
        ("api-calls", _) => past(20.0).min(30.0) * 0.002 + past(50.0) * 0.001,
        ("search-queries", "free") => past(100.0) * 0.004,
        ("search-queries", _) => units * 0.004,
        ("storage-gb-hours", _) => units * 0.00002,
        ("ledger-entries", "pro") => units * 0.003,
        ("ledger-entries", "enterprise") => units * 0.002,
        _ => return None,
    })
}

/// One customer's expected figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExpectedMargin {
    /// Revenue at [`PRICE_BOOK`], USD.
    pub revenue: f64,
    /// Cost to serve: each invocation's cost split equally among the distinct customers it metered, USD.
    pub cost: f64,
}

impl ExpectedMargin {
    /// Revenue minus cost.
    pub fn margin(&self) -> f64 {
        self.revenue - self.cost
    }
}

impl Truth {
    /// Per customer, revenue at [`PRICE_BOOK`] and cost at `cost` (one invocation's, USD); and the usage without
    /// a price, per customer and meter.
    pub fn margins(
        &self,
        cost: impl Fn(&ExpectedReport) -> f64,
    ) -> (BTreeMap<String, ExpectedMargin>, BTreeMap<(String, String), f64>) {
        // Usage per customer, month, meter and plan.
        let mut usage: BTreeMap<(String, String, String, String), f64> = BTreeMap::new();
        for m in &self.meters {
            let text = |k: &str| m[k].as_str().unwrap_or("").to_owned();
            let day = super::invocation::iso(m["meterTimeInMillis"].as_i64().unwrap_or(0));
            let plan = m["dimensions"]["plan"].as_str().unwrap_or("").to_owned();
            let key = (text("customerId"), day[..7].to_owned(), text("meterApiName"), plan);
            *usage.entry(key).or_default() += m["meterValue"].as_f64().unwrap_or(0.0);
        }
        let mut out: BTreeMap<String, ExpectedMargin> = BTreeMap::new();
        let mut unpriced: BTreeMap<(String, String), f64> = BTreeMap::new();
        for ((customer, _, meter, plan), units) in usage {
            let entry = out.entry(customer.clone()).or_default();
            match charge(&meter, &plan, units) {
                Some(revenue) => entry.revenue += revenue,
                None => *unpriced.entry((customer, meter)).or_default() += units,
            }
        }
        for r in &self.reports {
            let customers: BTreeSet<&String> = r.customers.iter().collect();
            for c in &customers {
                out.entry((*c).clone()).or_default().cost += cost(r) / customers.len() as f64;
            }
        }
        (out, unpriced)
    }
}
