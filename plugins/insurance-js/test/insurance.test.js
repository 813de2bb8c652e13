// The JavaScript insurance rules in Node, against the Rust plugin's tests and its
// conformance cases (examples/conformance/insurance.json, generated from
// plugins/insurance/src/cases.rs): `npm test` in plugins/insurance-js. The built
// component is checked against the same cases by `pricing conform`.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { applyMarkup, decodeQuote, dependencies, metadata, priceBatch } from "../src/insurance.js";
import { JsonFloat, parseJson } from "../src/json.js";

const MAGIC = 0x50524301;

/** Calls a `result` export: `{ok}` or `{err}` (the thrown price-error). */
function call(f, ...args) {
  try {
    return { ok: f(...args) };
  } catch (err) {
    if (err && typeof err.tag === "string") return { err };
    throw err;
  }
}

const bandsJson = (pairs) => JSON.stringify({ bands: pairs.map(([max_days, price]) => ({ max_days, price })), currency: "CNY" });

/** A batch in the SDK wire layout; `resources` are lists of stored quotes. */
function batch(resources, departures) {
  const parts = [];
  const u32 = (n) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    parts.push(b);
  };
  u32(MAGIC);
  u32(resources.length);
  u32(departures.length);
  for (const quotes of resources) {
    u32(quotes.length);
    for (const q of quotes) {
      u32(q.length);
      parts.push(q);
    }
  }
  for (const { nights, pax = 2, markupBp = 0, refs } of departures) {
    const h = new Uint8Array(28);
    const v = new DataView(h.buffer);
    v.setInt32(0, 20_788, true); // 2026-12-01
    v.setUint32(4, nights, true);
    v.setUint32(8, pax, true);
    v.setInt32(12, markupBp, true);
    v.setBigInt64(16, 0n, true);
    v.setUint32(24, refs.length, true);
    parts.push(h);
    refs.forEach(u32);
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Prices one conformance case: an amount (BigInt), "unavailable" or "invalid". */
function priceCase({ nights, pax, markup_bp: markupBp, resources }) {
  const stored = [];
  for (const { key, quotes } of resources) {
    const decoded = [];
    for (const data of quotes) {
      const r = call(decodeQuote, key, JSON.stringify(data));
      if (r.err) return r.err.tag === "invalid-input" ? "invalid" : "unavailable";
      decoded.push(r.ok);
    }
    stored.push(decoded);
  }
  const refs = stored.map((_, i) => i);
  const { amounts, errors } = priceBatch(batch(stored, [{ nights, pax, markupBp, refs }]));
  assert.ok(amounts instanceof BigInt64Array);
  assert.equal(amounts.length, 1);
  if (errors.length === 0) return amounts[0];
  assert.equal(errors[0].index, 0);
  assert.equal(amounts[0], 0n);
  return errors[0].error.tag === "invalid-input" ? "invalid" : "unavailable";
}

const STANDARD = [[3, 1_000], [7, 2_000], [15, 3_500]];

// The cases any insurance implementation must pass; their dates do not matter to the
// rule, so the batch carries a fixed one.
const conformance = new URL("../../../examples/conformance/insurance.json", import.meta.url);
const { cases: CASES } = JSON.parse(readFileSync(conformance, "utf8"));

describe("the reference insurance cases", () => {
  it("are there", () => assert.ok(CASES.length >= 10));
  for (const { name, expect, ...input } of CASES) {
    it(name, () => assert.equal(priceCase(input), typeof expect === "object" ? BigInt(expect.price) : expect));
  }
});

describe("metadata", () => {
  it("is the Rust plugin's kind and version", () => {
    const m = metadata();
    assert.equal(m.kind, "insurance");
    assert.equal(m.version, "1.0.0");
    assert.equal(m.role, "component");
    assert.ok(!m.description.includes("\n"));
  });
});

describe("dependencies", () => {
  const departure = (date, nights = 3, pax = 2) => ({ city: "SHA", destination: "XMN", date, nights, pax });

  it("depends on the plan only", () => {
    const binding = '{"kind":"insurance","plan":"basic","markup_bp":300}';
    assert.deepEqual(call(dependencies, binding, [departure("2026-12-30"), departure("2027-03-01", 7, 4)]), {
      ok: [["basic"], ["basic"]],
    });
    assert.deepEqual(call(dependencies, binding, []), { ok: [] });
  });

  it("rejects bad bindings", () => {
    for (const bad of [
      '{"kind":"insurance"}',
      '{"kind":"insurance","plan":""}',
      '{"kind":"insurance","plan":["basic"]}',
      '{"kind":"insurance","plan":"basic/plus"}',
    ]) {
      assert.equal(call(dependencies, bad, [departure("2026-12-01")]).err?.tag, "invalid-input", bad);
    }
    for (const bad of ["[1]", "nope", '{"plan":"basic",}']) {
      // Not an object: refused even without departures, as the Rust SDK does.
      assert.equal(call(dependencies, bad, []).err?.tag, "invalid-input", bad);
    }
  });

  it("rejects bad departure dates", () => {
    const binding = '{"kind":"insurance","plan":"basic"}';
    for (const date of ["2026-02-29", "2026-13-01", "2026-1-01", "+026-01-01", "2026/01/01"]) {
      assert.equal(call(dependencies, binding, [departure(date)]).err?.tag, "invalid-input", date);
    }
  });
});

describe("decode-quote", () => {
  it("stores bands compactly", () => {
    const ok = call(decodeQuote, "basic", '{"bands":[{"max_days":0,"price":0},{"max_days":7,"price":3000}]}').ok;
    assert.deepEqual([...ok], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0xb8, 0x0b, 0, 0, 0, 0, 0, 0]);
  });

  it("rejects what the Rust plugin rejects", () => {
    for (const bad of [
      "{}",
      '{"bands":null}',
      '{"bands":[]}',
      '{"bands":{"max_days":7,"price":3000}}',
      '{"bands":"7:3000"}',
      '{"bands":[7,3000]}',
      '{"bands":[{"max_days":7,"price":-1}]}',
      '{"bands":[{"max_days":-7,"price":3000}]}',
      '{"bands":[{"price":3000}]}',
      '{"bands":[{"max_days":7}]}',
      '{"bands":[{"max_days":"7","price":3000}]}',
      '{"bands":[{"max_days":7,"price":30.5}]}',
      '{"bands":[{"max_days":7,"price":3000.0}]}',
      '{"bands":[{"max_days":7,"price":3e3}]}',
      '{"bands":[{"max_days":7,"price":-0}]}',
      '{"bands":[{"max_days":7,"price":9223372036854775808}]}',
      '{"bands":[{"max_days":4294967296,"price":1}]}',
      '{"bands":[{"max_days":true,"price":1}]}',
      '{"bands":[{"max_days":7,"price":3000},{"max_days":7,"price":4000}]}',
      '{"bands":[{"max_days":15,"price":5000},{"max_days":7,"price":3000}]}',
      '{"bands":[{"max_days":7,"price":3000}]',
      '{"bands":[{"max_days":7,"price":3000}]} x',
      "[]",
      "",
    ]) {
      assert.equal(call(decodeQuote, "basic", bad).err?.tag, "invalid-input", bad);
    }
    const ok = '{"bands":[{"max_days":7,"price":3000}]}';
    for (const key of ["", "basic/plus", "/basic", "basic/"]) {
      assert.equal(call(decodeQuote, key, ok).err?.tag, "invalid-input", key);
    }
  });

  it("reads the largest amounts exactly", () => {
    const max = "9223372036854775807";
    const ok = call(decodeQuote, "basic", `{"bands":[{"max_days":4294967295,"price":${max}}]}`).ok;
    const view = new DataView(ok.buffer, ok.byteOffset);
    assert.equal(view.getUint32(0, true), 4294967295);
    assert.equal(view.getBigInt64(4, true), BigInt(max));
  });

  it("band errors name the band", () => {
    const r = call(decodeQuote, "basic", '{"bands":[{"max_days":3,"price":1},{"max_days":7,"price":-1}]}');
    assert.equal(r.err.tag, "invalid-input");
    assert.match(r.err.val, /^band 1/);
  });
});

describe("price-batch", () => {
  it("applies markup like pricing_sdk::money::apply_markup", () => {
    assert.equal(applyMarkup(143_000n, 300), 147_290n);
    assert.equal(applyMarkup(100_001n, 300), 103_002n);
    assert.equal(applyMarkup(100_000n, 0), 100_000n);
    assert.equal(applyMarkup(0n, 500), 0n);
    assert.equal(applyMarkup(10_001n, -300), 9_701n);
    assert.equal(applyMarkup((1n << 63n) - 1n, 300), (1n << 63n) - 1n);
    assert.equal(applyMarkup(4_000_000_000_000_000n, 300), 4_120_000_000_000_000n);
  });

  it("prices shared plans once and each departure on its own", () => {
    const a = call(decodeQuote, "basic", bandsJson(STANDARD)).ok;
    const b = call(decodeQuote, "plus", bandsJson([[30, 9_000]])).ok;
    const { amounts, errors } = priceBatch(
      batch([[a], [b]], [
        { nights: 3, refs: [0] },
        { nights: 3, markupBp: 300, refs: [0] },
        { nights: 20, refs: [0] },
        { nights: 20, refs: [1] },
        { nights: 3, refs: [0] },
      ]),
    );
    assert.deepEqual([...amounts], [2_000n, 2_060n, 0n, 9_000n, 2_000n]);
    assert.deepEqual(errors, [{ index: 2, error: { tag: "unavailable", val: "no insurance band covers 21 days" } }]);
  });

  it("reports broken references per departure", () => {
    const a = call(decodeQuote, "basic", bandsJson(STANDARD)).ok;
    const { amounts, errors } = priceBatch(
      batch([[a], [new Uint8Array(5)]], [
        { nights: 3, refs: [7] },
        { nights: 3, refs: [1] },
        { nights: 3, refs: [0, 0] },
        { nights: 3, refs: [0] },
      ]),
    );
    assert.deepEqual([...amounts], [0n, 0n, 0n, 2_000n]);
    assert.deepEqual(errors.map((e) => [e.index, e.error.tag]), [[0, "invalid-input"], [1, "invalid-input"], [2, "invalid-input"]]);
  });

  it("answers a malformed batch with one error at index 0", () => {
    const good = batch([[]], [{ nights: 3, refs: [0] }]);
    const badMagic = good.slice();
    badMagic[0] ^= 1;
    const huge = batch([], []);
    new DataView(huge.buffer).setUint32(8, 0xffffffff, true); // 4 billion departures, no bytes
    for (const bytes of [new Uint8Array(0), new Uint8Array(3), badMagic, good.slice(0, good.length - 1), good.slice(0, 20), huge]) {
      const { amounts, errors } = priceBatch(bytes);
      assert.equal(amounts.length, 0);
      assert.equal(errors.length, 1);
      assert.equal(errors[0].index, 0);
      assert.equal(errors[0].error.tag, "invalid-input");
      assert.match(errors[0].error.val, /^malformed batch: /);
    }
  });
});

describe("the JSON reader", () => {
  it("keeps i64 integers exact and everything else apart", () => {
    assert.equal(parseJson("9007199254740993"), 9007199254740993n);
    assert.ok(parseJson("7.0") instanceof JsonFloat);
    assert.ok(parseJson("-0") instanceof JsonFloat);
    assert.ok(parseJson("18446744073709551615") instanceof JsonFloat);
    assert.deepEqual(parseJson(' { "a" : [1, "x\\u00e9\\ud83d\\ude00", true, null] , "a": 2 } '), new Map([["a", 2n]]));
  });

  it("refuses what serde_json refuses", () => {
    for (const bad of ["", "01", "1.", ".5", "+1", "NaN", "[1,]", "{'a':1}", '"\\x"', '"\\ud800"', '"a\nb"', "[1] [2]", "[".repeat(128) + "]".repeat(128)]) {
      assert.throws(() => parseJson(bad), undefined, bad);
    }
    assert.doesNotThrow(() => parseJson("[".repeat(127) + "]".repeat(127)));
  });
});
