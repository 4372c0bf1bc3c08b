//! The price book (docs/pricing.md): per meter, a unit price or graduated tiers, an allowance per calendar month,
//! and prices per plan. Pure: the file is read by the caller.

use std::collections::BTreeMap;

/// Why a price book cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("price book: {0}")]
pub struct PriceBookError(String);

/// One graduated tier: the units up to `up_to` (past the previous tier's), at `unit_price`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Tier {
    #[serde(default)]
    up_to: Option<f64>,
    unit_price: f64,
}

/// A price as the file gives it: a unit price or tiers, and an allowance; a meter's also its prices per plan.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    #[serde(default)]
    included: Option<f64>,
    #[serde(default)]
    unit_price: Option<f64>,
    #[serde(default)]
    tiers: Option<Vec<Tier>>,
    #[serde(default)]
    plans: BTreeMap<String, PriceFile>,
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BookFile {
    #[serde(default = "usd")]
    currency: String,
    #[serde(default)]
    usd_rate: Option<f64>,
    meters: BTreeMap<String, PriceFile>,
}

fn usd() -> String {
    "USD".into()
}

/// A price: units free each month, then graduated tiers (the last unbounded).
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    included: f64,
    /// `(up_to, unit_price)`, ascending; the last has no bound.
    tiers: Vec<(Option<f64>, f64)>,
}

impl Price {
    fn from_file(p: &PriceFile, what: &str) -> Result<Option<Self>, PriceBookError> {
        let bad = |why: &str| PriceBookError(format!("{what}: {why}"));
        let tiers: Vec<(Option<f64>, f64)> = match (&p.unit_price, &p.tiers) {
            (None, None) if p.included.is_none() => return Ok(None),
            (None, None) => return Err(bad("an allowance needs a unit_price or tiers")),
            (Some(_), Some(_)) => return Err(bad("give unit_price or tiers, not both")),
            (Some(u), None) => vec![(None, *u)],
            (None, Some(t)) if t.is_empty() => return Err(bad("tiers is empty")),
            (None, Some(t)) => t.iter().map(|t| (t.up_to, t.unit_price)).collect(),
        };
        let included = p.included.unwrap_or(0.0);
        if !(included.is_finite() && included >= 0.0) {
            return Err(bad("included must be a number of units, 0 or more"));
        }
        let mut below = 0.0;
        for (i, (up_to, price)) in tiers.iter().enumerate() {
            if !(price.is_finite() && *price >= 0.0) {
                return Err(bad("a unit_price must be 0 or more"));
            }
            let last = i + 1 == tiers.len();
            match up_to {
                None if !last => return Err(bad("only the last tier may have no up_to")),
                Some(_) if last => {
                    return Err(bad("the last tier must have no up_to (it prices every unit past the others)"));
                }
                Some(u) if !(u.is_finite() && *u > below) => {
                    return Err(bad("tiers must rise: each up_to above the one before"));
                }
                Some(u) => below = *u,
                None => {}
            }
        }
        Ok(Some(Self { included, tiers }))
    }

    /// What `units` used in one calendar month cost: the allowance free, the rest through the tiers.
    pub fn charge(&self, units: f64) -> f64 {
        let billable = (units - self.included).max(0.0);
        let mut from = 0.0;
        let mut total = 0.0;
        for (up_to, price) in &self.tiers {
            let to = up_to.map_or(billable, |u| u.min(billable));
            if to > from {
                total += (to - from) * price;
            }
            match up_to {
                Some(u) if *u < billable => from = *u,
                _ => break,
            }
        }
        total
    }
}

/// A meter's prices.
#[derive(Debug, Clone, PartialEq)]
struct MeterPrices {
    own: Option<Price>,
    plans: BTreeMap<String, Price>,
}

/// The price book.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceBook {
    currency: String,
    usd_rate: f64,
    meters: BTreeMap<String, MeterPrices>,
}

impl PriceBook {
    /// Reads a price book from its JSON text, checked.
    pub fn parse(text: &str) -> Result<Self, PriceBookError> {
        let file: BookFile = serde_json::from_str(text).map_err(|e| PriceBookError(e.to_string()))?;
        let currency = file.currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(PriceBookError(format!("currency {:?} is not an ISO 4217 code such as USD", file.currency)));
        }
        let usd_rate = match (currency.as_str(), file.usd_rate) {
            ("USD", None | Some(1.0)) => 1.0,
            ("USD", Some(_)) => return Err(PriceBookError("usd_rate must be 1 (or absent) for a book in USD".into())),
            (_, Some(r)) if r.is_finite() && r > 0.0 => r,
            (c, _) => {
                return Err(PriceBookError(format!(
                    "a book in {c} needs usd_rate, the price of one US dollar in {c}, to convert the cost to serve"
                )));
            }
        };
        let mut meters = BTreeMap::new();
        for (name, m) in &file.meters {
            let own = Price::from_file(m, &format!("meter {name}"))?;
            let mut plans = BTreeMap::new();
            for (plan, p) in &m.plans {
                let what = format!("meter {name}, plan {plan}");
                if !p.plans.is_empty() {
                    return Err(PriceBookError(format!("{what}: a plan has no plans of its own")));
                }
                let price = Price::from_file(p, &what)?.ok_or_else(|| PriceBookError(format!("{what}: no price")))?;
                plans.insert(plan.clone(), price);
            }
            if own.is_none() && plans.is_empty() {
                return Err(PriceBookError(format!("meter {name}: no price (give unit_price, tiers or plans)")));
            }
            meters.insert(name.clone(), MeterPrices { own, plans });
        }
        Ok(Self { currency, usd_rate, meters })
    }

    /// The currency of revenue and margin (ISO 4217).
    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// A cost in USD in the book's currency.
    pub fn from_usd(&self, usd: f64) -> f64 {
        usd * self.usd_rate
    }

    /// The price of `meter` for `plan`: the plan's, else the meter's own; `None`: unpriced.
    pub fn price(&self, meter: &str, plan: Option<&str>) -> Option<&Price> {
        let m = self.meters.get(meter)?;
        plan.and_then(|p| m.plans.get(p)).or(m.own.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOK: &str = r#"{"meters":{
        "api-calls":{"included":1000,"tiers":[{"up_to":100000,"unit_price":0.002},{"unit_price":0.0015}],
                     "plans":{"enterprise":{"unit_price":0.001}}},
        "seats":{"plans":{"pro":{"unit_price":10}}}}}"#;

    #[test]
    fn valid_prices_take_the_allowance_then_each_tier_and_plans_before_the_meter() {
        let book = PriceBook::parse(BOOK).unwrap();
        let calls = book.price("api-calls", None).unwrap();
        // (units, charge), worked by hand from the rules of docs/pricing.md.
        let table = [(0.0, 0.0), (1_000.0, 0.0), (1_500.0, 1.0), (101_000.0, 200.0), (151_000.0, 200.0 + 75.0)];
        for (units, want) in table {
            assert!((calls.charge(units) - want).abs() < 1e-9, "{units} units: {} not {want}", calls.charge(units));
        }
        let enterprise = book.price("api-calls", Some("enterprise")).unwrap();
        assert!((enterprise.charge(2_000.0) - 2.0).abs() < 1e-12, "the plan's price, with no allowance");
        assert_eq!(book.price("api-calls", Some("unknown-plan")), Some(calls), "an unknown plan: the meter's own");
        assert!(book.price("seats", None).is_none(), "a meter priced only per plan, with no plan: unpriced");
        assert!(book.price("storage", None).is_none(), "a meter not in the book: unpriced, never free");
        assert_eq!((book.currency(), book.from_usd(2.5)), ("USD", 2.5));
    }

    #[test]
    fn invalid_books_are_refused_with_the_reason() {
        let table = [
            (r#"{"meters":{"m":{"tiers":[{"unit_price":1},{"up_to":5,"unit_price":1}]}}}"#, "only the last tier"),
            (r#"{"meters":{"m":{"tiers":[{"up_to":5,"unit_price":1}]}}}"#, "the last tier must have no up_to"),
            (
                r#"{"meters":{"m":{"tiers":[{"up_to":5,"unit_price":1},{"up_to":5,"unit_price":1},{"unit_price":1}]}}}"#,
                "must rise",
            ),
            (r#"{"meters":{"m":{"unit_price":-1}}}"#, "0 or more"),
            (r#"{"meters":{"m":{"unit_price":1,"tiers":[{"unit_price":1}]}}}"#, "not both"),
            (r#"{"meters":{"m":{"included":5}}}"#, "an allowance needs"),
            (r#"{"meters":{"m":{}}}"#, "no price"),
            (r#"{"meters":{"m":{"unit_price":1,"price":2}}}"#, "unknown field"),
            (
                r#"{"meters":{"m":{"plans":{"p":{"unit_price":1,"plans":{"q":{"unit_price":2}}}}}}}"#,
                "no plans of its own",
            ),
            (r#"{"currency":"EUR","meters":{}}"#, "needs usd_rate"),
            (r#"{"currency":"euro","meters":{}}"#, "ISO 4217"),
        ];
        for (text, why) in table {
            let e = PriceBook::parse(text).unwrap_err().to_string();
            assert!(e.contains(why), "{text}: {e}");
        }
        let eur = PriceBook::parse(r#"{"currency":"eur","usd_rate":0.5,"meters":{}}"#).unwrap();
        assert_eq!((eur.currency(), eur.from_usd(3.0)), ("EUR", 1.5));
    }
}
