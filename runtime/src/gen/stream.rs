//! The change stream: which quote or product changes next and how, the malformed and
//! stale lines, and the line writers shared with the catalog and initial state.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::emit::Sink;
use super::rng::{Rng, Zipf};
use super::tables::{self, KINDS, Kind, Quote, Table};
use super::world::{World, product_key};
use super::{GenConfig, GenSummary, MalformedClass, invalid};

const TAG_STREAM: u64 = 11;

/// How a resource line deviates from a valid event.
#[derive(Clone, Copy)]
pub(super) struct Shape {
    delete: bool,
    seq: Seq,
    supplier: bool,
    currency: &'static str,
    negative: bool,
}

#[derive(Clone, Copy)]
enum Seq {
    /// The quote's own `seq`.
    Stored,
    /// The quote's `seq + 1`, as a number (for rejected events: it is not stored).
    Next,
    /// No `seq` field.
    Missing,
    /// `seq + 1` as a string.
    Text,
}

impl Shape {
    pub(super) const VALID: Shape =
        Shape { delete: false, seq: Seq::Stored, supplier: true, currency: "CNY", negative: false };
}

/// Begins a line and writes a resource event for quote `q` of `key` (ends it not).
pub(super) fn resource_line<W: Write, P: FnMut(u64, u64)>(
    sink: &mut Sink<'_, W, P>,
    kind: Kind,
    key: tables::Key,
    q: &Quote,
    shape: Shape,
) {
    sink.begin();
    let line = &mut sink.line;
    line.push_str(r#""kind":""#);
    line.push_str(kind.name());
    line.push_str(r#"","key":""#);
    tables::write_key(line, key);
    line.push('"');
    if let (true, Some(supplier)) = (shape.supplier, tables::supplier(kind, q)) {
        line.push_str(r#","supplier":""#);
        line.push_str(supplier);
        line.push('"');
    }
    line.push_str(if shape.delete { r#","op":"delete","# } else { r#","op":"upsert","# });
    let _ = match shape.seq {
        Seq::Stored => write!(line, r#""seq":{},"#, q.seq),
        Seq::Next => write!(line, r#""seq":{},"#, q.seq + 1),
        Seq::Text => write!(line, r#""seq":"{}","#, q.seq + 1),
        Seq::Missing => Ok(()),
    };
    sink.ts();
    sink.line.push_str(r#","data":"#);
    if shape.delete {
        sink.line.push_str("{}");
    } else {
        tables::write_data(&mut sink.line, kind, q, shape.currency, shape.negative);
    }
    sink.line.push('}');
}

/// Writes a whole product line: an upsert of `variant`, or a delete when `None`.
pub(super) fn product_line<W: Write, P: FnMut(u64, u64)>(
    sink: &mut Sink<'_, W, P>,
    world: &World,
    index: u32,
    seq: u32,
    variant: Option<u64>,
) -> io::Result<()> {
    sink.begin();
    let op = if variant.is_some() { "upsert" } else { "delete" };
    let _ = write!(sink.line, r#""kind":"product","key":"{}","op":"{op}","seq":{seq},"#, product_key(index));
    sink.ts();
    sink.line.push_str(r#","data":"#);
    match variant {
        Some(v) => world.write_product(&mut sink.line, &world.variant(index, v)),
        None => sink.line.push_str("{}"),
    }
    sink.line.push('}');
    sink.end(true)
}

/// A product's state in the change stream.
struct ProductState {
    seq: u32,
    live: bool,
}

/// The change stream's state: every quote's seq and values, every product's seq.
pub(super) struct Stream<'w> {
    world: &'w World,
    tables: Vec<Table>,
    zipfs: Vec<Option<Zipf>>,
    /// flight, hotel, insurance, cruise, discount, product.
    weights: [u32; 6],
    products: Vec<ProductState>,
    product_zipf: Zipf,
    rng: Rng,
    malformed_rate: f64,
    stale_rate: f64,
    delete_rate: f64,
    product_delete_rate: f64,
    next_malformed: usize,
}

impl<'w> Stream<'w> {
    pub(super) fn new(config: &GenConfig, world: &'w World, tables: Vec<Table>) -> io::Result<Self> {
        let mix = [
            config.mix_flight,
            config.mix_hotel,
            config.mix_insurance,
            config.mix_cruise,
            config.mix_discount,
            config.mix_product,
        ];
        let mut weights = [0; 6];
        for (i, w) in weights.iter_mut().enumerate() {
            let usable = tables.get(i).is_none_or(|t| !t.keys.is_empty());
            *w = if usable { mix[i] } else { 0 };
        }
        if weights.iter().all(|&w| w == 0) && config.events > 0 && config.malformed_rate + config.stale_rate < 1.0 {
            return Err(invalid("the change-stream mix has no weight on any kind the catalog uses"));
        }
        let zipfs = tables.iter().map(|t| (!t.keys.is_empty()).then(|| Zipf::new(t.keys.len(), config.zipf))).collect();
        Ok(Stream {
            world,
            tables,
            zipfs,
            weights,
            products: (0..config.products).map(|_| ProductState { seq: 1, live: true }).collect(),
            product_zipf: Zipf::new(config.products as usize, config.zipf),
            rng: Rng::derive(config.seed, &[TAG_STREAM]),
            malformed_rate: config.malformed_rate,
            stale_rate: config.stale_rate,
            delete_rate: config.delete_rate,
            product_delete_rate: config.product_delete_rate,
            next_malformed: 0,
        })
    }

    /// Writes the next change-stream line.
    pub(super) fn next<W: Write, P: FnMut(u64, u64)>(
        &mut self,
        sink: &mut Sink<'_, W, P>,
        summary: &mut GenSummary,
    ) -> io::Result<()> {
        let u = self.rng.unit();
        if u < self.malformed_rate {
            let class = MalformedClass::ALL[self.next_malformed % MalformedClass::ALL.len()];
            self.next_malformed += 1;
            *summary.malformed.get_mut(class) += 1;
            return self.malformed(sink, class);
        }
        if u < self.malformed_rate + self.stale_rate && sink.replay(&mut self.rng)? {
            summary.stale += 1;
            return Ok(());
        }
        match self.rng.weighted(&self.weights) {
            5 => self.product(sink, summary),
            k => self.resource(sink, summary, KINDS[k]),
        }
    }

    /// A Zipf-popular key of `kind` and one of its quotes (by position in the table).
    fn pick(&mut self, kind: Kind) -> (usize, usize) {
        let zipf = self.zipfs[kind as usize].as_ref().expect("only kinds with keys are picked");
        let rank = zipf.sample(&mut self.rng);
        let quotes = self.tables[kind as usize].quote_range(rank);
        (rank, quotes.start + self.rng.index(quotes.len()))
    }

    fn resource<W: Write, P: FnMut(u64, u64)>(
        &mut self,
        sink: &mut Sink<'_, W, P>,
        summary: &mut GenSummary,
        kind: Kind,
    ) -> io::Result<()> {
        let (rank, qi) = self.pick(kind);
        let table = &mut self.tables[kind as usize];
        let q = &mut table.quotes[qi];
        q.seq += 1;
        let delete = q.live && self.rng.chance(self.delete_rate);
        if delete {
            q.live = false;
            summary.resource_deletes.add(kind, 1);
        } else {
            q.live = true;
            tables::mutate(kind, q, &mut self.rng);
        }
        summary.resource_changes.add(kind, 1);
        resource_line(sink, kind, table.keys[rank], q, Shape { delete, ..Shape::VALID });
        sink.end(true)
    }

    fn product<W: Write, P: FnMut(u64, u64)>(
        &mut self,
        sink: &mut Sink<'_, W, P>,
        summary: &mut GenSummary,
    ) -> io::Result<()> {
        let index = self.product_zipf.sample(&mut self.rng);
        let state = &mut self.products[index];
        state.seq += 1;
        let variant = if state.live && self.rng.chance(self.product_delete_rate) {
            summary.product_deletes += 1;
            None
        } else {
            summary.product_updates += 1;
            Some(self.rng.next_u64() | 1)
        };
        state.live = variant.is_some();
        product_line(sink, self.world, index as u32, state.seq, variant)
    }

    fn malformed<W: Write, P: FnMut(u64, u64)>(
        &mut self,
        sink: &mut Sink<'_, W, P>,
        class: MalformedClass,
    ) -> io::Result<()> {
        if class == MalformedClass::UnknownKind {
            sink.begin();
            sink.line.push_str(r#""kind":"spaceship","key":"NCC-1701","op":"upsert","seq":1,"#);
            sink.ts();
            sink.line.push_str(r#","data":{"warp":9,"currency":"CNY"}}"#);
            return sink.end(false);
        }
        let hotels = !self.tables[Kind::Hotel as usize].keys.is_empty();
        let kind = match class {
            MalformedClass::NegativeAmount => Kind::Flight,
            MalformedClass::MissingSupplier => Kind::Hotel,
            _ if hotels && self.rng.chance(0.5) => Kind::Hotel,
            _ => Kind::Flight,
        };
        let (key, mut q) = if kind == Kind::Hotel && !hotels {
            // A catalog of cruises only: a made-up hotel night still lacks its supplier.
            (tables::hotel_key(0, self.world.first_day), tables::Quote::placeholder())
        } else {
            let (rank, qi) = self.pick(kind);
            let table = &self.tables[kind as usize];
            (table.keys[rank], table.quotes[qi].clone())
        };
        tables::mutate(kind, &mut q, &mut self.rng);
        let shape = Shape { seq: Seq::Next, ..Shape::VALID };
        let shape = match class {
            MalformedClass::MissingField => Shape { seq: Seq::Missing, ..shape },
            MalformedClass::WrongType => Shape { seq: Seq::Text, ..shape },
            MalformedClass::NegativeAmount => Shape { negative: true, ..shape },
            MalformedClass::CurrencyMismatch => Shape { currency: "USD", ..shape },
            MalformedClass::MissingSupplier => Shape { supplier: false, ..shape },
            MalformedClass::NotJson | MalformedClass::UnknownKind => shape,
        };
        resource_line(sink, kind, key, &q, shape);
        if class == MalformedClass::NotJson {
            sink.truncate();
        }
        sink.end(false)
    }
}
