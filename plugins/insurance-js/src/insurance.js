// The insurance rules, a JavaScript port of `plugins/insurance/src/lib.rs`, exported as the
// `travel:pricing@0.1.0` world `plugin` by componentize-js (`plugins/build-foreign`).
//
// The rules (DOMAIN.md): a binding's `plan` is one resource `PLAN`, quoted as a non-empty
// list of `bands` `{max_days, price}` strictly ascending by `max_days`; a trip of `nights`
// nights lasts `nights + 1` days and costs, per person, the price of the first band with
// `max_days >= nights + 1`; when several suppliers quote the plan the cheapest covering
// price wins, and no quote or no covering band makes the departure unavailable. The
// binding's `markup_bp` is applied as the Rust SDK's driver does.
//
// The Rust plugin and this one accept the same quotes, refuse the same ones with the same
// error class (invalid-input vs unavailable) and price the same to the minor unit. Money is
// BigInt throughout (WIT `s64`); counts and dates are plain numbers (WIT `u32`).
//
// WIT values as componentize-js maps them: records are objects, the `role` enum a string,
// `price-error` a `{tag, val}` object, `list<u8>` a Uint8Array, `s64` a BigInt, and a
// `result` export returns its ok value or throws its err value.

import { JsonError, parseJson, showJson } from "./json.js";

const KIND = "insurance";
/** The Rust plugin's version (plugins/insurance/Cargo.toml): the same rules. */
const VERSION = "1.0.0";
const DESCRIPTION = "JavaScript port: first band with max_days >= nights + 1; cheapest supplier covering the trip";

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const U32_MAX = 0xffffffffn;

const unavailable = (reason) => ({ tag: "unavailable", val: reason });
const invalid = (reason) => ({ tag: "invalid-input", val: reason });

/** A price-error as a thrown value: a `result` export turns it into its `err`. */
class PriceError {
  constructor(error) {
    this.error = error;
  }
}
const fail = (error) => {
  throw new PriceError(error);
};

/** Runs `f`; a PriceError it throws becomes the export's `err` value. */
function exported(f) {
  try {
    return f();
  } catch (e) {
    if (e instanceof PriceError) throw e.error;
    throw e;
  }
}

// --- metadata ---------------------------------------------------------------------------

export function metadata() {
  return { kind: KIND, version: VERSION, role: "component", description: DESCRIPTION };
}

// --- fields (pricing_sdk::fields) ---------------------------------------------------------

/** A required non-negative integer amount (pricing_sdk::fields::money). */
function money(object, field) {
  const v = object.get(field);
  if (v === undefined || v === null) fail(invalid(`missing field \`${field}\``));
  if (typeof v !== "bigint") fail(invalid(`\`${field}\` must be an integer amount in minor units, got ${showJson(v)}`));
  if (v < 0n) fail(invalid(`\`${field}\` is negative: ${v}`));
  return v;
}

/** A required non-negative count that fits a u32 (pricing_sdk::fields::count). */
function count(object, field) {
  const n = money(object, field);
  if (n > U32_MAX) fail(invalid(`\`${field}\` is too large: ${n}`));
  return Number(n);
}

/** A `YYYY-MM-DD` that names a real day, exactly as pricing_sdk::Date::parse. */
function isDate(text) {
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(text)) return false;
  const year = Number(text.slice(0, 4));
  const month = Number(text.slice(5, 7));
  const day = Number(text.slice(8, 10));
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  return day <= days;
}

// --- decode-quote -------------------------------------------------------------------------

// Stored form: per band, u32 max_days then i64 price, little-endian; 12 bytes a band.
const BAND_BYTES = 12;

export function decodeQuote(key, data) {
  return exported(() => {
    // key_parts::<1>(key, "PLAN"): one non-empty part, no '/'.
    if (key === "" || key.includes("/")) fail(invalid(`key ${JSON.stringify(key)} is not of the form PLAN`));
    let value;
    try {
      value = parseJson(data);
    } catch (e) {
      if (e instanceof JsonError) fail(invalid(`quote data is not JSON: ${e.message}`));
      throw e;
    }
    const items = value instanceof Map ? value.get("bands") : undefined;
    if (items === undefined || items === null) fail(invalid("missing field `bands`"));
    if (!Array.isArray(items)) fail(invalid(`\`bands\` must be a list, got ${showJson(items)}`));
    if (items.length === 0) fail(invalid("`bands` is empty"));

    const out = new Uint8Array(items.length * BAND_BYTES);
    const view = new DataView(out.buffer);
    let previous = -1;
    items.forEach((item, i) => {
      if (!(item instanceof Map)) fail(invalid(`band ${i} must be an object, got ${showJson(item)}`));
      const inBand = (f) => {
        try {
          return f();
        } catch (e) {
          if (e instanceof PriceError && e.error.tag === "invalid-input") fail(invalid(`band ${i}: ${e.error.val}`));
          throw e;
        }
      };
      const maxDays = inBand(() => count(item, "max_days"));
      const price = inBand(() => money(item, "price"));
      if (previous >= maxDays) {
        fail(invalid(`\`bands\` must be strictly ascending by max_days: band ${i} has ${maxDays} after ${previous}`));
      }
      previous = maxDays;
      view.setUint32(i * BAND_BYTES, maxDays, true);
      view.setBigInt64(i * BAND_BYTES + 4, price, true);
    });
    return out;
  });
}

// --- dependencies -------------------------------------------------------------------------

export function dependencies(binding, departures) {
  return exported(() => {
    // As the Rust SDK's export: every departure date first, then the binding (even with
    // no departures), then the rule per departure.
    for (const d of departures) {
      if (!isDate(d.date)) fail(invalid(`not a YYYY-MM-DD date: ${JSON.stringify(d.date)}`));
    }
    let fields;
    try {
      fields = parseJson(binding);
    } catch (e) {
      if (e instanceof JsonError) fail(invalid(`binding is not JSON: ${e.message}`));
      throw e;
    }
    if (!(fields instanceof Map)) fail(invalid("binding is not a JSON object"));
    return departures.map(() => {
      const plan = fields.get("plan");
      if (plan === undefined) fail(invalid("binding lacks field `plan`"));
      if (typeof plan !== "string" || plan === "") fail(invalid("binding field `plan` must be a non-empty string"));
      if (plan.includes("/")) fail(invalid(`binding field \`plan\` must not contain '/': ${JSON.stringify(plan)}`));
      return [plan];
    });
  });
}

// --- price-batch ----------------------------------------------------------------------------

// The batch layout of sdk/src/wire.rs (little-endian):
//   u32 MAGIC | u32 n_resources | u32 n_departures
//   n_resources x { u32 n_quotes, n_quotes x { u32 len, len bytes } }
//   n_departures x { i32 date_days, u32 nights, u32 pax, i32 markup_bp, i64 subtotal,
//                    u32 n_refs, n_refs x u32 resource_index }
const MAGIC = 0x50524301;
const DEPARTURE_HEADER = 28;

class WireError extends Error {}

/** Bounds-checked little-endian reads over the batch, in wire order. */
class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
  }

  /** Skips `n` bytes; returns where they start. */
  take(n) {
    const start = this.pos;
    if (n > this.bytes.length - start) throw new WireError("truncated batch");
    this.pos = start + n;
    return start;
  }

  u32() {
    return this.view.getUint32(this.take(4), true);
  }
}

/** `ceil(amount * (10000 + markupBp) / 10000)`, saturated to i64 (pricing_sdk::money). */
export function applyMarkup(amount, markupBp) {
  if (markupBp === 0) return amount;
  const p = amount * BigInt(10000 + markupBp);
  // BigInt division truncates toward zero, which is the ceiling for p <= 0.
  const q = p > 0n ? (p + 9999n) / 10000n : p / 10000n;
  return q > I64_MAX ? I64_MAX : q < I64_MIN ? I64_MIN : q;
}

/**
 * One resource's quotes, decoded once per batch: an array of quotes, each
 * `{ maxDays: number[], prices: bigint[] }`, or a string saying why a stored quote does
 * not decode (the departures using it fail, not the batch).
 */
function readResource(reader) {
  const quotes = [];
  let broken = null;
  const n = reader.u32();
  for (let q = 0; q < n; q++) {
    const len = reader.u32();
    const start = reader.take(len);
    if (len === 0 || len % BAND_BYTES !== 0) {
      broken = `stored quote does not decode: ${len} bytes is not a list of ${BAND_BYTES}-byte bands`;
      continue;
    }
    const maxDays = [];
    const prices = [];
    for (let at = start; at < start + len; at += BAND_BYTES) {
      maxDays.push(reader.view.getUint32(at, true));
      prices.push(reader.view.getBigInt64(at + 4, true));
    }
    quotes.push({ maxDays, prices });
  }
  return broken ?? quotes;
}

/** The rule: per person, the cheapest supplier's first band covering `nights + 1` days. */
function price(quotes, nights) {
  if (quotes.length === 0) return unavailable("no quote for the insurance plan");
  const days = nights + 1;
  let best = null;
  for (const { maxDays, prices } of quotes) {
    const i = maxDays.findIndex((m) => m >= days);
    if (i >= 0 && (best === null || prices[i] < best)) best = prices[i];
  }
  return best ?? unavailable(`no insurance band covers ${days} days`);
}

/** A departure's amount before markup (a BigInt) or its price-error, as the SDK driver. */
function outcome(resources, refs, nights) {
  let broken = null;
  for (const r of refs) {
    const resource = resources[r];
    if (resource === undefined) broken = `resource index ${r} out of range`;
    else if (typeof resource === "string") broken = resource;
  }
  if (broken !== null) return invalid(broken);
  if (refs.length !== 1) return invalid(`insurance expects 1 plan, got ${refs.length}`);
  return price(resources[refs[0]], nights);
}

function priceBatchChecked(bytes) {
  const reader = new Reader(bytes);
  if (reader.u32() !== MAGIC) throw new WireError("bad magic: not a pricing batch of this layout");
  const nResources = reader.u32();
  const nDepartures = reader.u32();

  // Each plan's quotes are decoded once, however many departures share it.
  const resources = [];
  for (let r = 0; r < nResources; r++) resources.push(readResource(reader));

  // Every departure takes at least its 28-byte header: a count the buffer cannot hold is
  // a truncated batch, found before it sizes an allocation.
  if (nDepartures * DEPARTURE_HEADER > bytes.length - reader.pos) throw new WireError("truncated batch");
  // A typed array: one allocation, no BigInt kept per departure (see README: memory).
  const amounts = new BigInt64Array(nDepartures);
  const errors = [];
  // Departures of one batch mostly share their plan and length of stay: the rule runs once
  // per (resource, nights) and its outcome is reused.
  const memo = new Map();
  const view = reader.view;
  for (let index = 0; index < nDepartures; index++) {
    const at = reader.take(DEPARTURE_HEADER);
    const nights = view.getUint32(at + 4, true);
    const markupBp = view.getInt32(at + 12, true);
    const nRefs = view.getUint32(at + 24, true);
    let result;
    if (nRefs === 1) {
      const ref = reader.u32();
      let byNights = memo.get(ref);
      if (byNights === undefined) memo.set(ref, (byNights = new Map()));
      result = byNights.get(nights);
      if (result === undefined) byNights.set(nights, (result = outcome(resources, [ref], nights)));
    } else {
      const refs = [];
      reader.take(4 * nRefs); // bounds first: nRefs comes from the buffer
      reader.pos -= 4 * nRefs;
      for (let k = 0; k < nRefs; k++) refs.push(reader.u32());
      result = outcome(resources, refs, nights);
    }
    if (typeof result === "bigint") amounts[index] = applyMarkup(result, markupBp);
    else errors.push({ index, error: result }); // its amount stays 0
  }
  return { amounts, errors };
}

export function priceBatch(batch) {
  try {
    return priceBatchChecked(batch);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    // As the SDK driver: no amounts and one error saying why.
    return { amounts: new BigInt64Array(0), errors: [{ index: 0, error: invalid(`malformed batch: ${e.message}`) }] };
  }
}
