//! Revenue and margin (docs/pricing.md): the ledger's usage priced at the price book, against its cost to serve.

use super::Ledger;
use super::price_book::PriceBook;
use std::collections::BTreeMap;

/// Usage as the price book prices it: per (customer, calendar month, meter, plan), per (day, function).
pub type PricedUsage = BTreeMap<(String, String, String, Option<String>), BTreeMap<(String, String), f64>>;

/// Revenue and cost, in the price book's currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Money {
    /// Usage at the price book.
    pub revenue: f64,
    /// Cost to serve.
    pub cost: f64,
}

impl Money {
    /// Revenue minus cost.
    pub fn margin(&self) -> f64 {
        self.revenue - self.cost
    }

    /// Margin over revenue; `None` without revenue.
    pub fn share(&self) -> Option<f64> {
        (self.revenue != 0.0).then(|| self.margin() / self.revenue)
    }

    fn add(&mut self, other: Money) {
        self.revenue += other.revenue;
        self.cost += other.cost;
    }
}

/// Every figure of the margin, kept per customer, function and day (the finest the ledger knows).
#[derive(Debug, Clone, Default)]
pub struct Margins {
    /// The price book's currency.
    pub currency: String,
    /// Per (customer, function, UTC day).
    pub rows: BTreeMap<(String, String, String), Money>,
    /// Cost no customer can be charged for, per (function, day): no revenue.
    pub unattributed: BTreeMap<(String, String), Money>,
    /// Usage the book has no price for, per (customer, meter).
    pub unpriced: BTreeMap<(String, String), f64>,
}

impl Margins {
    /// Prices `ledger`'s usage at `book` and sets it against the ledger's cost to serve. Days before `first_day`
    /// (the month before a window) only place later days in the month's allowance and tiers.
    pub fn of(ledger: &Ledger, book: &PriceBook, first_day: Option<&str>) -> Self {
        let mut out = Self { currency: book.currency().to_owned(), ..Self::default() };
        for ((customer, function, day), share) in &ledger.days {
            out.rows.entry((customer.clone(), function.clone(), day.clone())).or_default().cost +=
                book.from_usd(share.cost_usd);
        }
        for ((function, day), share) in &ledger.unattributed {
            out.unattributed.entry((function.clone(), day.clone())).or_default().cost += book.from_usd(share.cost_usd);
        }
        for ((customer, _month, meter, plan), used) in &ledger.priced {
            let counted = |day: &str| first_day.is_none_or(|first| day >= first);
            let Some(price) = book.price(meter, plan.as_deref()) else {
                let units: f64 = used.iter().filter(|((d, _), _)| counted(d)).map(|(_, u)| u).sum();
                if units != 0.0 {
                    *out.unpriced.entry((customer.clone(), meter.clone())).or_default() += units;
                }
                continue;
            };
            // The month's charge, day by day: what each day adds to it, shared among that day's functions by usage.
            let mut so_far = 0.0;
            let mut days = used.iter().peekable();
            while let Some(((day, _), _)) = days.peek() {
                let day = day.clone();
                let mut functions = Vec::new();
                while let Some(((_, function), units)) = days.next_if(|((d, _), _)| *d == day) {
                    functions.push((function, *units));
                }
                let units: f64 = functions.iter().map(|(_, u)| u).sum();
                let added = price.charge(so_far + units) - price.charge(so_far);
                so_far += units;
                if !counted(&day) {
                    continue;
                }
                for (function, u) in functions {
                    let part = if units == 0.0 { 0.0 } else { added * u / units };
                    out.rows.entry((customer.clone(), function.clone(), day.clone())).or_default().revenue += part;
                }
            }
        }
        out
    }

    /// Per customer, over every function and day.
    pub fn customers(&self) -> BTreeMap<&str, Money> {
        let mut out: BTreeMap<&str, Money> = BTreeMap::new();
        for ((c, _, _), m) in &self.rows {
            out.entry(c.as_str()).or_default().add(*m);
        }
        out
    }

    /// The customers ranked by margin, loss-makers first (ties by name).
    pub fn ranked(&self) -> Vec<(&str, Money)> {
        let mut ranked: Vec<(&str, Money)> = self.customers().into_iter().collect();
        ranked.sort_by(|a, b| a.1.margin().total_cmp(&b.1.margin()).then(a.0.cmp(b.0)));
        ranked
    }

    /// Per customer and day.
    pub fn customer_days(&self) -> BTreeMap<(&str, &str), Money> {
        let mut out: BTreeMap<(&str, &str), Money> = BTreeMap::new();
        for ((c, _, d), m) in &self.rows {
            out.entry((c.as_str(), d.as_str())).or_default().add(*m);
        }
        out
    }

    /// Per customer and calendar month (`YYYY-MM`).
    pub fn customer_months(&self) -> BTreeMap<(&str, &str), Money> {
        let mut out: BTreeMap<(&str, &str), Money> = BTreeMap::new();
        for ((c, _, d), m) in &self.rows {
            out.entry((c.as_str(), month(d))).or_default().add(*m);
        }
        out
    }

    /// Per function, for one customer.
    pub fn functions_of(&self, customer: &str) -> BTreeMap<&str, Money> {
        let mut out: BTreeMap<&str, Money> = BTreeMap::new();
        let from = (customer.to_owned(), String::new(), String::new());
        for ((_, f, _), m) in self.rows.range(from..).take_while(|((c, _, _), _)| c == customer) {
            out.entry(f.as_str()).or_default().add(*m);
        }
        out
    }

    /// What no customer pays for, in all.
    pub fn unattributed_total(&self) -> Money {
        let mut out = Money::default();
        self.unattributed.values().for_each(|m| out.add(*m));
        out
    }

    /// Everything: customers and the unattributed cost.
    pub fn total(&self) -> Money {
        let mut out = self.unattributed_total();
        self.rows.values().for_each(|m| out.add(*m));
        out
    }
}

/// The calendar month (`YYYY-MM`) of a UTC day (`YYYY-MM-DD`).
pub fn month(day: &str) -> &str {
    day.get(..7).unwrap_or(day)
}
