// A strict JSON reader that keeps integers exact.
//
// `JSON.parse` reads every number as a double: `7.0` becomes the integer 7 and
// 9007199254740993 silently becomes ...992. The Rust reference plugins read quotes with
// serde_json, which refuses `7.0` (or `-0`, or `1e3`) where an integer amount is due and
// reads any i64 exactly. To accept and refuse exactly the same quotes, this reader returns
//
//   - integer literals (no fraction, no exponent) that fit an i64, except `-0`: BigInt
//     (serde_json reads `-0` and integers outside i64 as floats or u64, which are not
//     i64 amounts either way);
//   - every other number: a `JsonFloat` (never an amount);
//   - objects: `Map` (no prototype keys; a repeated key keeps its last value, as in
//     serde_json); arrays, strings, booleans and null as usual.
//
// It follows RFC 8259 as serde_json does: no comments, no trailing commas, no NaN, no lone
// surrogates, no control characters in strings, whitespace only ` \t\n\r`, and at most 127
// levels of nesting: serde_json's limit, which also keeps a hostile quote from overflowing
// the engine's stack.

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
const MAX_DEPTH = 127;

/** A JSON number that is not an i64 integer literal; `text` is the literal. */
export class JsonFloat {
  constructor(text) {
    this.text = text;
  }
}

/** Thrown for text that is not JSON; `message` says why and where. */
export class JsonError extends Error {}

const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;

/** Parses `text` (the whole of it) into the values described above. */
export function parseJson(text) {
  let pos = 0;

  const fail = (why) => {
    throw new JsonError(`${why} at position ${pos}`);
  };

  const skipWhitespace = () => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else return;
    }
  };

  const expectWord = (word, value) => {
    if (text.startsWith(word, pos)) {
      pos += word.length;
      return value;
    }
    return fail("expected value");
  };

  const hex4 = () => {
    const digits = text.slice(pos, pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) fail("invalid \\u escape");
    pos += 4;
    return parseInt(digits, 16);
  };

  const parseString = () => {
    pos++; // the opening quote
    let out = "";
    let run = pos; // start of the current run of plain characters
    for (;;) {
      if (pos >= text.length) fail("EOF while parsing a string");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(run, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail("control character in string");
      if (c >= 0xd800 && c <= 0xdfff) {
        // A raw surrogate: only a well-formed pair is text.
        const next = text.charCodeAt(pos + 1);
        if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) fail("lone surrogate in string");
        pos += 2;
        continue;
      }
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(run, pos);
      pos++;
      const e = text[pos++];
      switch (e) {
        case '"': out += '"'; break;
        case "\\": out += "\\"; break;
        case "/": out += "/"; break;
        case "b": out += "\b"; break;
        case "f": out += "\f"; break;
        case "n": out += "\n"; break;
        case "r": out += "\r"; break;
        case "t": out += "\t"; break;
        case "u": {
          const unit = hex4();
          if (unit >= 0xdc00 && unit <= 0xdfff) fail("lone trailing surrogate in \\u escape");
          if (unit >= 0xd800 && unit <= 0xdbff) {
            if (text[pos] !== "\\" || text[pos + 1] !== "u") fail("lone leading surrogate in \\u escape");
            pos += 2;
            const low = hex4();
            if (low < 0xdc00 || low > 0xdfff) fail("lone leading surrogate in \\u escape");
            out += String.fromCharCode(unit, low);
          } else {
            out += String.fromCharCode(unit);
          }
          break;
        }
        default:
          fail("invalid escape");
      }
      run = pos;
    }
  };

  const parseNumber = () => {
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m === null) return fail("expected value");
    pos = NUMBER.lastIndex;
    const literal = m[0];
    if (m[1] === undefined && m[2] === undefined && literal !== "-0") {
      const n = BigInt(literal);
      if (n >= I64_MIN && n <= I64_MAX) return n;
    }
    return new JsonFloat(literal);
  };

  const parseValue = (depth) => {
    skipWhitespace();
    const c = text[pos];
    if (c === "{" || c === "[") {
      if (depth >= MAX_DEPTH) fail("recursion limit exceeded");
      return c === "{" ? parseObject(depth + 1) : parseArray(depth + 1);
    }
    if (c === '"') return parseString();
    if (c === "t") return expectWord("true", true);
    if (c === "f") return expectWord("false", false);
    if (c === "n") return expectWord("null", null);
    if (c === undefined) return fail("EOF while parsing a value");
    return parseNumber();
  };

  const parseArray = (depth) => {
    pos++;
    const items = [];
    skipWhitespace();
    if (text[pos] === "]") {
      pos++;
      return items;
    }
    for (;;) {
      items.push(parseValue(depth));
      skipWhitespace();
      const c = text[pos++];
      if (c === "]") return items;
      if (c !== ",") fail("expected `,` or `]`");
    }
  };

  const parseObject = (depth) => {
    pos++;
    const map = new Map();
    skipWhitespace();
    if (text[pos] === "}") {
      pos++;
      return map;
    }
    for (;;) {
      skipWhitespace();
      if (text[pos] !== '"') fail("key must be a string");
      const key = parseString();
      skipWhitespace();
      if (text[pos++] !== ":") fail("expected `:`");
      map.set(key, parseValue(depth));
      skipWhitespace();
      const c = text[pos++];
      if (c === "}") return map;
      if (c !== ",") fail("expected `,` or `}`");
    }
  };

  const value = parseValue(0);
  skipWhitespace();
  if (pos < text.length) fail("trailing characters");
  return value;
}

/** The JSON text of a parsed value, for error messages. */
export function showJson(value) {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof JsonFloat) return value.text;
  if (value instanceof Map) {
    return `{${[...value].map(([k, v]) => `${JSON.stringify(k)}:${showJson(v)}`).join(",")}}`;
  }
  if (Array.isArray(value)) return `[${value.map(showJson).join(",")}]`;
  return JSON.stringify(value);
}
