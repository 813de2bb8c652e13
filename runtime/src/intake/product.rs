//! Product definitions: the departures a product sells and the components priced for
//! each of them.

use pricing_sdk::Date;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event::Rejection;

/// One component binding: a kind, its markup, and the binding JSON its plugin reads
/// (e.g. `{"kind":"hotel","hotel":"H88"}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentBinding {
    /// The resource kind.
    pub kind: String,
    /// Markup in basis points (components only; 0 when absent).
    pub markup_bp: i32,
    /// The binding object as JSON text, passed to the plugin's `dependencies`.
    pub binding: String,
}

/// One departure: a city and a date.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DepartureSpec {
    /// Departure city.
    pub city: String,
    /// Departure date.
    pub date: Date,
}

/// A validated product definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDef {
    /// Product key, e.g. `P1001`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Destination code.
    pub destination: String,
    /// Nights of the package.
    pub nights: u32,
    /// Travellers priced together (default 2).
    pub pax: u32,
    /// Departures, sorted and without duplicates.
    pub departures: Vec<DepartureSpec>,
    /// Components in the product's order.
    pub components: Vec<ComponentBinding>,
}

impl ProductDef {
    /// Validates a product event's `data`. `known_kind` says whether a plugin prices a kind.
    pub fn parse(id: &str, data: &Value, known_kind: &dyn Fn(&str) -> bool) -> Result<Self, Rejection> {
        let bad = |why: String| Rejection::Product(why);
        let text = |field: &str| -> Result<String, Rejection> {
            match data.get(field) {
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(_) => Err(bad(format!("`{field}` must be a non-empty string"))),
                None => Err(bad(format!("missing `{field}`"))),
            }
        };
        let count = |field: &str, default: Option<u64>, min: u64| -> Result<u32, Rejection> {
            let n = match data.get(field) {
                None | Some(Value::Null) => default.ok_or_else(|| bad(format!("missing `{field}`")))?,
                Some(v) => v.as_u64().ok_or_else(|| bad(format!("`{field}` must be a non-negative integer")))?,
            };
            if n < min || n > 366 {
                return Err(bad(format!("`{field}` must be between {min} and 366, got {n}")));
            }
            Ok(n as u32)
        };
        let name = text("name")?;
        let destination = text("destination")?;
        let nights = count("nights", None, 0)?;
        let pax = count("pax", Some(2), 1)?;

        let mut departures = Vec::new();
        let Some(Value::Array(groups)) = data.get("departures") else {
            return Err(bad("`departures` must be a list of {city, dates}".into()));
        };
        for group in groups {
            let city = match group.get("city") {
                Some(Value::String(c)) if !c.is_empty() && !c.contains(':') => c.clone(),
                _ => return Err(bad("each departure needs a `city` string without ':'".into())),
            };
            let Some(Value::Array(dates)) = group.get("dates") else {
                return Err(bad(format!("departures of {city}: `dates` must be a list")));
            };
            for d in dates {
                let date = d
                    .as_str()
                    .and_then(|s| Date::parse(s).ok())
                    .ok_or_else(|| bad(format!("departures of {city}: {d} is not a YYYY-MM-DD date")))?;
                departures.push(DepartureSpec { city: city.clone(), date });
            }
        }
        departures.sort();
        departures.dedup();

        let Some(Value::Array(items)) = data.get("components") else {
            return Err(bad("`components` must be a list of bindings".into()));
        };
        let mut components = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let kind = item
                .get("kind")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("component {i} needs a `kind` string")))?;
            if !known_kind(kind) {
                return Err(bad(format!("component {i}: no plugin prices kind {kind:?}")));
            }
            let markup_bp = match item.get("markup_bp") {
                None | Some(Value::Null) => 0,
                Some(v) => v
                    .as_i64()
                    .filter(|bp| (-10_000..=1_000_000).contains(bp))
                    .ok_or_else(|| bad(format!("component {i}: `markup_bp` must be an integer >= -10000")))?
                    as i32,
            };
            components.push(ComponentBinding { kind: kind.to_owned(), markup_bp, binding: item.to_string() });
        }
        Ok(ProductDef { id: id.to_owned(), name, destination, nights, pax, departures, components })
    }

    /// `PRODUCT:CITY:DATE`, the key of a departure's prices.
    #[must_use]
    pub fn departure_id(&self, d: &DepartureSpec) -> String {
        format!("{}:{}:{}", self.id, d.city, d.date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn example() -> Value {
        json!({"name":"Xiamen 4D3N","destination":"XMN","currency":"CNY","nights":3,"pax":2,
          "departures":[{"city":"SHA","dates":["2026-12-02","2026-12-01","2026-12-01"]},{"city":"PEK","dates":["2026-12-01"]}],
          "components":[{"kind":"flight","markup_bp":300},{"kind":"hotel","hotel":"H88"},
           {"kind":"insurance","plan":"basic"},{"kind":"discount","rules":["EB30","FULL200"]}]})
    }

    #[test]
    fn parses_the_contract_example() {
        let p = ProductDef::parse("P1001", &example(), &|_| true).expect("valid");
        assert_eq!(p.departures.len(), 3, "duplicates removed");
        assert_eq!(p.departure_id(&p.departures[0]), "P1001:PEK:2026-12-01");
        assert_eq!(p.components[0].markup_bp, 300);
        assert_eq!(p.components[1].markup_bp, 0);
        assert_eq!(p.pax, 2);
    }

    #[test]
    fn rejects_broken_products() {
        let mut no_dates = example();
        no_dates["departures"][0]["dates"] = json!(["2026-02-30"]);
        let mut unknown = example();
        unknown["components"][0]["kind"] = json!("spaceship");
        let mut zero_pax = example();
        zero_pax["pax"] = json!(0);
        for (what, data) in [("bad date", no_dates), ("unknown kind", unknown), ("zero pax", zero_pax)] {
            let known = |k: &str| k != "spaceship";
            assert!(matches!(ProductDef::parse("P1", &data, &known), Err(Rejection::Product(_))), "{what}");
        }
    }
}
