//! A product's cheapest available departure per city, kept up to date as its offers
//! change: a batch that re-prices a few of a product's departures would otherwise scan
//! all of them (hundreds) again for its starting prices, and a flight or hotel change
//! touches departures of many products.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::records::{ProductPrice, Status};
use super::working::{Offer, Slot};

/// A product's departures' cheapest available prices, by departure city.
#[derive(Debug, Default)]
pub struct Cheapest {
    cities: BTreeMap<String, City>,
}

/// One departure city's cheapest available departure and how many are available.
#[derive(Debug, Default)]
struct City {
    /// The cheapest available departure's price and date; ties go to the earliest date.
    best: Option<(i64, String)>,
    /// Departures from the city that are available with a price.
    available: u64,
    /// The cheapest went up or became unavailable, so which is cheapest now is not known
    /// until the city's departures are read again ([`Cheapest::refresh`]).
    stale: bool,
}

/// What an offer adds to its product's starting prices: its price, if it is available.
pub(super) fn available_price(offer: Option<&Offer>) -> Option<i64> {
    offer.filter(|o| o.status == Status::Available).and_then(|o| o.price)
}

impl Cheapest {
    /// From the departures' slots by `CITY:DATE` and `price`, each one's
    /// [`available_price`].
    pub(super) fn scan(departures: &BTreeMap<String, Slot>, price: impl Fn(Slot) -> Option<i64>) -> Self {
        let mut cheapest = Cheapest::default();
        for (city_date, &slot) in departures {
            cheapest.changed(city_date, None, price(slot));
        }
        cheapest
    }

    /// Reads again the departures of each city whose cheapest is no longer known.
    pub(super) fn refresh(&mut self, departures: &BTreeMap<String, Slot>, price: impl Fn(Slot) -> Option<i64>) {
        let stale: Vec<String> = self.cities.iter().filter(|(_, c)| c.stale).map(|(city, _)| city.clone()).collect();
        for city in stale {
            self.cities.remove(&city);
            let from = format!("{city}:");
            let range = departures.range::<str, _>((Bound::Included(from.as_str()), Bound::Unbounded));
            for (city_date, &slot) in range.take_while(|(k, _)| k.starts_with(&from)) {
                self.changed(city_date, None, price(slot));
            }
        }
    }

    /// The departure `CITY:DATE`'s available price went from `old` to `new`.
    pub(super) fn changed(&mut self, city_date: &str, old: Option<i64>, new: Option<i64>) {
        if old == new {
            return;
        }
        let Some((city, date)) = super::split_colon(city_date) else { return };
        let c = match self.cities.get_mut(city) {
            Some(c) => c,
            None => self.cities.entry(city.to_owned()).or_default(),
        };
        c.available = (c.available + u64::from(new.is_some())).saturating_sub(u64::from(old.is_some()));
        if c.stale {
            return;
        }
        let was_cheapest = matches!(&c.best, Some((p, d)) if Some(*p) == old && d == date);
        if was_cheapest && new.is_none_or(|n| Some(n) > old) {
            // The next cheapest could be any other departure of the city.
            c.stale = true;
            return;
        }
        if let Some(n) = new
            && c.best.as_ref().is_none_or(|(p, d)| (n, date) < (*p, d.as_str()))
        {
            let best = c.best.get_or_insert_with(|| (n, String::new()));
            best.0 = n;
            best.1.clear();
            best.1.push_str(date);
        }
    }

    /// Each city with an available departure, and its cheapest price.
    pub fn per_city(&self) -> impl Iterator<Item = (&str, i64)> {
        self.cities.iter().filter_map(|(city, c)| c.best.as_ref().map(|(p, _)| (city.as_str(), *p)))
    }

    /// Available departures in all.
    #[must_use]
    pub fn available(&self) -> u64 {
        self.cities.values().map(|c| c.available).sum()
    }

    /// The cheapest available departure: price, city and date; ties go to the earliest
    /// date, then the city first in order.
    #[must_use]
    pub fn best(&self) -> Option<(i64, &str, &str)> {
        self.cities
            .iter()
            .filter_map(|(city, c)| c.best.as_ref().map(|(p, d)| (*p, d.as_str(), city.as_str())))
            .min()
            .map(|(p, d, city)| (p, city, d))
    }

    /// Whether `price` shows these starting prices: the same from-price, city and date,
    /// cheapest per city and count available (versions, causes and times aside).
    #[must_use]
    pub fn shown_by(&self, price: &ProductPrice) -> bool {
        let best = self.best();
        price.from_price == best.map(|b| b.0)
            && price.city.as_deref() == best.map(|b| b.1)
            && price.date.as_deref() == best.map(|b| b.2)
            && price.available == self.available()
            && price.per_city.iter().map(|(c, p)| (c.as_str(), *p)).eq(self.per_city())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A product's departures (`CITY:DATE` → available price) as slots and a price table.
    fn table(rows: &[(&str, Option<i64>)]) -> (BTreeMap<String, Slot>, Vec<Option<i64>>) {
        let slots = rows.iter().enumerate().map(|(i, (k, _))| ((*k).to_owned(), Slot::at(i as u32))).collect();
        (slots, rows.iter().map(|r| r.1).collect())
    }

    /// The cheapest (price, city, date), the cheapest per city, and how many are available.
    type Summary = (Option<(i64, String, String)>, Vec<(String, i64)>, u64);

    fn summary(c: &Cheapest) -> Summary {
        let best = c.best().map(|(p, city, d)| (p, city.to_owned(), d.to_owned()));
        (best, c.per_city().map(|(city, p)| (city.to_owned(), p)).collect(), c.available())
    }

    /// Applies changes one by one to a kept summary, and checks it against a summary
    /// scanned afresh after each.
    #[test]
    fn kept_equals_scanned() {
        let rows = [
            ("PEK:2026-12-01", Some(500)),
            ("PEK:2026-12-02", Some(400)),
            ("PEK:2026-12-03", Some(400)),
            ("SHA:2026-12-01", Some(450)),
            ("SHA:2026-12-02", None),
        ];
        let (slots, mut prices) = table(&rows);
        let mut kept = Cheapest::scan(&slots, |s| prices[s.index()]);
        assert_eq!(
            summary(&kept),
            (Some((400, "PEK".into(), "2026-12-02".into())), vec![("PEK".into(), 400), ("SHA".into(), 450)], 4)
        );
        // The cheapest goes up (a tie takes over), becomes unavailable, one comes back
        // cheaper, a city empties, another one ties.
        let changes = [(1, Some(600)), (2, None), (0, Some(300)), (3, None), (4, Some(300)), (0, Some(700)), (1, None)];
        for (i, new) in changes {
            let old = prices[i];
            prices[i] = new;
            kept.changed(rows[i].0, old, new);
            kept.refresh(&slots, |s| prices[s.index()]);
            let scanned = Cheapest::scan(&slots, |s| prices[s.index()]);
            assert_eq!(summary(&kept), summary(&scanned), "after departure {i} went to {new:?}");
        }
        assert_eq!(
            summary(&kept),
            (Some((300, "SHA".into(), "2026-12-02".into())), vec![("PEK".into(), 700), ("SHA".into(), 300)], 2)
        );
    }

    #[test]
    fn shown_by_compares_every_part() {
        let (slots, prices) = table(&[("PEK:2026-12-01", Some(500)), ("SHA:2026-12-01", Some(450))]);
        let c = Cheapest::scan(&slots, |s| prices[s.index()]);
        let mut p = ProductPrice {
            product: "P1".into(),
            from_price: Some(450),
            city: Some("SHA".into()),
            date: Some("2026-12-01".into()),
            per_city: [("PEK".to_owned(), 500), ("SHA".to_owned(), 450)].into(),
            available: 2,
            currency: "CNY".into(),
            version: 3,
            cause: "e1".into(),
            event_ts: "2026-11-01T00:00:00Z".into(),
            priced_at: "2026-11-01T00:00:01Z".into(),
        };
        assert!(c.shown_by(&p));
        p.per_city.insert("PEK".into(), 501);
        assert!(!c.shown_by(&p));
        p.per_city.insert("PEK".into(), 500);
        p.available = 3;
        assert!(!c.shown_by(&p));
    }
}
