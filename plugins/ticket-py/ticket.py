"""Attraction-ticket pricing rules, in plain Python.

The `ticket` kind is not one of DOMAIN.md's reference kinds: it shows that a new kind is
a new plugin, here written in Python and turned into a component by componentize-py
(`app.py` adapts this module to the WIT world; this module knows nothing of WIT, so its
tests run on any CPython).

The rules:

* A product binding `{"kind": "ticket", "attraction": "GULANGYU"}` makes each departure
  depend on one resource, `ATTRACTION/DATE`: the attraction on the departure date.
* A supplier quotes that resource with `{"price": int >= 0, "quota": int >= 0, ...}`:
  the per-person ticket price and how many tickets are left at it.
* A departure of `pax` travellers costs, per person, the cheapest `price` among the
  quotes with `quota >= pax`. No quote, or no quote with enough quota, makes the
  departure unavailable. The binding's `markup_bp` is then applied as the Rust SDK's
  driver does: `ceil(amount * (10000 + markup_bp) / 10000)`, exactly, in integers.

`currency` and `markup_bp` are checked by the host, not here.

The batch wire format is the Rust SDK's (`sdk/src/wire.rs`), read here with `struct`.
"""

import json
import re
import struct

KIND = "ticket"
VERSION = "1.0.0"
DESCRIPTION = "attraction ticket on the departure date: cheapest supplier with quota >= pax"

I64_MIN = -(1 << 63)
I64_MAX = (1 << 63) - 1
U32_MAX = (1 << 32) - 1


class PriceError(Exception):
    """Why a quote, a binding or a departure cannot be accepted or priced."""

    @property
    def reason(self) -> str:
        return self.args[0]


class Unavailable(PriceError):
    """The departure cannot be sold now (no quote, no quota, ...)."""


class InvalidInput(PriceError):
    """The input is malformed or breaks the rule's contract."""


# --- dates -----------------------------------------------------------------------------

_DIGITS = frozenset("0123456789")


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def is_date(text: str) -> bool:
    """True when `text` is exactly `YYYY-MM-DD` and names a real day (as the SDK's
    `Date::parse`: ASCII digits only, no sign, no other length)."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return False
    y, m, d = text[0:4], text[5:7], text[8:10]
    if not _DIGITS.issuperset(y + m + d):
        return False
    year, month, day = int(y), int(m), int(d)
    return 1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)


# --- decode-quote ----------------------------------------------------------------------

# One stored quote: price (i64) then quota (u32), little-endian, 12 bytes.
QUOTE = struct.Struct("<qI")


def _quoted(text: str) -> str:
    """A string quoted as the Rust plugins' messages quote them."""
    return json.dumps(text, ensure_ascii=False)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


# serde_json's nesting limit, which the Rust plugins inherit. Here it also guards the
# engine: CPython's JSON decoder recurses in C per level, and a few thousand levels exhaust
# the wasm call stack (a trap) before Python's own recursion limit is reached.
MAX_NESTING = 127
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _too_deep(text: str) -> bool:
    """True when arrays/objects nest more than MAX_NESTING levels."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return False  # the usual case, without a scan
    depth = 0
    for c in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if c in "[{" else -1
        if depth > MAX_NESTING:
            return True
    return False


def _parse_json(text: str, what: str):
    """Strict JSON (no NaN/Infinity); malformed or too deeply nested text is invalid
    input, never an exception that would trap the component."""
    if _too_deep(text):
        raise InvalidInput(f"{what} is not JSON: nested more than {MAX_NESTING} levels")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise InvalidInput(f"{what} is not JSON: {e}") from None
    except RecursionError:
        raise InvalidInput(f"{what} is not JSON: nested too deeply") from None


def _integer(data: dict, field: str, limit: int) -> int:
    """A required integer in `0..=limit`; bools, floats and strings are refused."""
    value = data.get(field)
    if value is None:
        raise InvalidInput(f"missing field `{field}`")
    # bool is a subclass of int in Python: `true` must not read as 1.
    if type(value) is not int:
        raise InvalidInput(f"`{field}` must be an integer, got {json.dumps(value)}")
    if value < 0:
        raise InvalidInput(f"`{field}` is negative: {value}")
    if value > limit:
        raise InvalidInput(f"`{field}` is too large: {value}")
    return value


def decode_quote(key: str, data: str) -> bytes:
    """Validates one supplier's quote and returns its 12-byte stored form."""
    parts = key.split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise InvalidInput(f"key {_quoted(key)} is not of the form ATTRACTION/YYYY-MM-DD")
    if not is_date(parts[1]):
        raise InvalidInput(f"ticket key {_quoted(key)}: not a YYYY-MM-DD date: {_quoted(parts[1])}")
    value = _parse_json(data, "quote data")
    if not isinstance(value, dict):
        raise InvalidInput("quote data must be a JSON object")
    price = _integer(value, "price", I64_MAX)
    quota = _integer(value, "quota", U32_MAX)
    return QUOTE.pack(price, quota)


# --- dependencies ----------------------------------------------------------------------


def attraction_of(binding: str) -> str:
    """The binding's `attraction`: a non-empty string without '/'."""
    value = _parse_json(binding, "binding")
    if not isinstance(value, dict):
        raise InvalidInput("binding is not a JSON object")
    if "attraction" not in value:
        raise InvalidInput("binding lacks field `attraction`")
    attraction = value["attraction"]
    if not isinstance(attraction, str) or not attraction:
        raise InvalidInput("binding field `attraction` must be a non-empty string")
    if "/" in attraction:
        raise InvalidInput(f"binding field `attraction` must not contain '/': {_quoted(attraction)}")
    return attraction


def dependencies(binding: str, dates: list) -> list:
    """For each departure date, the one key it depends on: `[ATTRACTION/DATE]`.

    Dates are checked first and the binding even when there are no departures, in the
    order the Rust SDK's export does it.
    """
    for date in dates:
        if not is_date(date):
            raise InvalidInput(f"not a YYYY-MM-DD date: {_quoted(date)}")
    attraction = attraction_of(binding)
    return [[f"{attraction}/{date}"] for date in dates]


# --- price-batch -----------------------------------------------------------------------

MAGIC = 0x50524301  # "PRC" v1, the first word of every batch
_U32 = struct.Struct("<I")
# i32 date_days, u32 nights, u32 pax, i32 markup_bp, i64 subtotal, u32 n_refs: 28 bytes.
_DEPARTURE = struct.Struct("<iIIiqI")


class WireError(Exception):
    """A malformed batch buffer."""


def apply_markup(amount: int, markup_bp: int) -> int:
    """`ceil(amount * (10000 + markup_bp) / 10000)`, saturated to i64 like the SDK."""
    if markup_bp == 0:
        return amount
    marked = -((-amount * (10_000 + markup_bp)) // 10_000)
    return min(max(marked, I64_MIN), I64_MAX)


class _Cursor:
    """Bounds-checked reads over the batch, in wire order."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes):
        self.buf = buf
        self.pos = 0

    def take(self, n: int) -> int:
        """Skips `n` bytes; returns where they start."""
        start = self.pos
        end = start + n
        if end > len(self.buf):
            raise WireError("truncated batch")
        self.pos = end
        return start

    def u32(self) -> int:
        return _U32.unpack_from(self.buf, self.take(4))[0]


def _decode_resource(cur: _Cursor):
    """Reads one resource's quotes: a list of (price, quota), or the reason a stored
    quote does not decode (the departures using it then fail, not the batch)."""
    quotes = []
    broken = None
    buf = cur.buf
    for _ in range(cur.u32()):
        length = cur.u32()
        start = cur.take(length)
        if length == QUOTE.size:
            quotes.append(QUOTE.unpack_from(buf, start))
        else:
            broken = f"stored quote does not decode: {length} bytes, expected {QUOTE.size}"
    return broken if broken is not None else quotes


def _cheapest(quotes: list, pax: int) -> int:
    """The rule: the cheapest price among the quotes with quota >= pax."""
    if not quotes:
        raise Unavailable("no ticket quote for the attraction on the departure date")
    best = None
    for price, quota in quotes:
        if quota >= pax and (best is None or price < best):
            best = price
    if best is None:
        raise Unavailable(f"no ticket supplier has quota for {pax} travellers")
    return best


def _outcome(resources: list, refs, pax: int):
    """A departure's per-person price before markup, or the PriceError it fails with.

    As in the SDK's driver, a reference to a missing or undecodable resource is invalid
    input before the rule sees anything."""
    broken = None
    for ref in refs:
        if ref >= len(resources):
            broken = f"resource index {ref} out of range"
        elif isinstance(resources[ref], str):
            broken = resources[ref]
    if broken is not None:
        return InvalidInput(broken)
    if len(refs) != 1:
        return InvalidInput(f"ticket expects 1 attraction-date, got {len(refs)}")
    try:
        return _cheapest(resources[refs[0]], pax)
    except PriceError as e:
        return e


def price_batch(buf: bytes):
    """Prices a batch; returns (amounts, errors) with errors a list of (index, PriceError).

    A malformed buffer gives no amounts and one error at index 0, like the SDK's driver.
    """
    try:
        return _price_batch(buf)
    except WireError as e:
        return [], [(0, InvalidInput(f"malformed batch: {e}"))]


def _price_batch(buf: bytes):
    cur = _Cursor(buf)
    if cur.u32() != MAGIC:
        raise WireError("bad magic: not a pricing batch of this layout")
    n_resources, n_departures = cur.u32(), cur.u32()

    # Each resource is decoded once, however many departures share it.
    resources = [_decode_resource(cur) for _ in range(n_resources)]

    amounts = []
    errors = []
    # Departures of one batch mostly share their resource and party size: the rule runs
    # once per (resource, pax); the outcome (a price or a PriceError) is reused.
    memo = {}
    for index in range(n_departures):
        _date, _nights, pax, markup_bp, _subtotal, n_refs = _DEPARTURE.unpack_from(buf, cur.take(_DEPARTURE.size))
        if n_refs == 1:
            # The usual shape: one attraction-date, memoized per party size.
            key = (_U32.unpack_from(buf, cur.take(4))[0], pax)
            outcome = memo.get(key)
            if outcome is None:
                outcome = memo[key] = _outcome(resources, key[:1], pax)
        else:
            refs = struct.unpack_from(f"<{n_refs}I", buf, cur.take(4 * n_refs)) if n_refs else ()
            outcome = _outcome(resources, refs, pax)
        if isinstance(outcome, PriceError):
            amounts.append(0)
            errors.append((index, outcome))
        else:
            amounts.append(apply_markup(outcome, markup_bp))
    return amounts, errors
