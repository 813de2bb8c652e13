"""Tests of the ticket rules in plain CPython: `python3 -m unittest discover plugins/ticket-py`.

The built component is checked by `pricing conform` against examples/conformance/ticket.json
and end to end by runtime/tests/python_ticket_plugin.rs.
"""

import json
import struct
import unittest

import ticket
from ticket import InvalidInput, Unavailable


def quote(price, quota, key="GULANGYU/2026-12-01"):
    return ticket.decode_quote(key, json.dumps({"price": price, "quota": quota, "currency": "CNY"}))


def batch(resources, departures, magic=ticket.MAGIC):
    """A batch in the SDK wire layout: `resources` is a list of lists of stored quotes,
    `departures` a list of (pax, markup_bp, [resource indexes]) or full dicts."""
    out = bytearray(struct.pack("<III", magic, len(resources), len(departures)))
    for quotes in resources:
        out += struct.pack("<I", len(quotes))
        for q in quotes:
            out += struct.pack("<I", len(q)) + q
    for pax, markup_bp, refs in departures:
        # 2026-12-01 is day 20788; nights and subtotal are not used by the rule.
        out += struct.pack("<iIIiqI", 20_788, 3, pax, markup_bp, 0, len(refs))
        out += struct.pack(f"<{len(refs)}I", *refs)
    return bytes(out)


def outcomes(buf):
    """price_batch's answer as one list: an amount, or the error class per departure."""
    amounts, errors = ticket.price_batch(buf)
    failed = {i: type(e) for i, e in errors}
    return [failed.get(i, amount) for i, amount in enumerate(amounts)]


class Metadata(unittest.TestCase):
    def test_kind_and_version(self):
        self.assertEqual(ticket.KIND, "ticket")
        self.assertEqual(ticket.VERSION, "1.0.0")
        self.assertNotIn("\n", ticket.DESCRIPTION)


class DecodeQuote(unittest.TestCase):
    def test_round_trip(self):
        self.assertEqual(ticket.QUOTE.unpack(quote(12_800, 40)), (12_800, 40))
        self.assertEqual(ticket.QUOTE.unpack(quote(0, 0)), (0, 0))
        self.assertEqual(ticket.QUOTE.unpack(quote(ticket.I64_MAX, ticket.U32_MAX)), (ticket.I64_MAX, ticket.U32_MAX))

    def test_currency_is_the_hosts_business(self):
        self.assertEqual(len(ticket.decode_quote("A/2026-12-01", '{"price": 1, "quota": 1}')), 12)

    def test_rejects_bad_fields_naming_them(self):
        for data, field in [
            ({"quota": 5}, "price"),
            ({"price": None, "quota": 5}, "price"),
            ({"price": -1, "quota": 5}, "price"),
            ({"price": 1.5, "quota": 5}, "price"),
            ({"price": 100.0, "quota": 5}, "price"),
            ({"price": "100", "quota": 5}, "price"),
            ({"price": True, "quota": 5}, "price"),
            ({"price": [100], "quota": 5}, "price"),
            ({"price": ticket.I64_MAX + 1, "quota": 5}, "price"),
            ({"price": 100}, "quota"),
            ({"price": 100, "quota": -1}, "quota"),
            ({"price": 100, "quota": 2.0}, "quota"),
            ({"price": 100, "quota": False}, "quota"),
            ({"price": 100, "quota": ticket.U32_MAX + 1}, "quota"),
        ]:
            with self.subTest(data=data):
                with self.assertRaises(InvalidInput) as caught:
                    ticket.decode_quote("GULANGYU/2026-12-01", json.dumps(data))
                self.assertIn(f"`{field}`", caught.exception.reason)

    def test_rejects_non_json_and_non_objects(self):
        for data in ["", "{", "[1, 2]", '"x"', "null", '{"price": NaN, "quota": 1}', '{"price": Infinity, "quota": 1}']:
            with self.subTest(data=data):
                self.assertRaises(InvalidInput, ticket.decode_quote, "GULANGYU/2026-12-01", data)

    def test_deep_nesting_is_invalid_input_not_an_exception(self):
        deep = "[" * 100_000 + "]" * 100_000
        self.assertRaises(InvalidInput, ticket.decode_quote, "GULANGYU/2026-12-01", deep)
        self.assertRaises(InvalidInput, ticket.dependencies, deep, [])
        # serde_json's limit, as the Rust plugins: 127 levels parse, 128 do not.
        key = "GULANGYU/2026-12-01"
        self.assertIn("must be a JSON object", self._reason(key, "[" * 127 + "]" * 127))
        self.assertIn("nested more than 127", self._reason(key, "[" * 128 + "]" * 128))
        # Brackets inside strings are text, not nesting.
        self.assertEqual(len(ticket.decode_quote(key, json.dumps({"price": 1, "quota": 1, "note": "[" * 500}))), 12)

    @staticmethod
    def _reason(key, data):
        try:
            ticket.decode_quote(key, data)
        except InvalidInput as e:
            return e.reason
        return None

    def test_rejects_bad_keys(self):
        for key in ["", "GULANGYU", "GULANGYU/", "/2026-12-01", "GULANGYU/2026-12-01/X", "GULANGYU/2026-02-29",
                    "GULANGYU/2026-13-01", "GULANGYU/2026-1-01", "GULANGYU/2026/12/01", "GULANGYU/+026-12-01"]:
            with self.subTest(key=key):
                self.assertRaises(InvalidInput, quote, 100, 5, key)

    def test_dates(self):
        self.assertTrue(ticket.is_date("2028-02-29"))
        self.assertTrue(ticket.is_date("2000-02-29"))
        for bad in ["1900-02-29", "2026-04-31", "2026-00-10", "2026-01-00", "２０２６-01-01", "2026-01-01 "]:
            self.assertFalse(ticket.is_date(bad), bad)


class Dependencies(unittest.TestCase):
    def test_one_key_per_departure_on_its_date(self):
        binding = '{"kind": "ticket", "attraction": "GULANGYU", "markup_bp": 300}'
        self.assertEqual(
            ticket.dependencies(binding, ["2026-12-01", "2026-12-02"]),
            [["GULANGYU/2026-12-01"], ["GULANGYU/2026-12-02"]],
        )
        self.assertEqual(ticket.dependencies(binding, []), [])

    def test_rejects_bad_bindings(self):
        for binding in [
            '{"kind": "ticket"}',
            '{"kind": "ticket", "attraction": ""}',
            '{"kind": "ticket", "attraction": 7}',
            '{"kind": "ticket", "attraction": ["GULANGYU"]}',
            '{"kind": "ticket", "attraction": "GULANG/YU"}',
            '["GULANGYU"]',
            "not json",
        ]:
            with self.subTest(binding=binding):
                self.assertRaises(InvalidInput, ticket.dependencies, binding, ["2026-12-01"])
                # Checked even without departures, as the Rust SDK does.
                self.assertRaises(InvalidInput, ticket.dependencies, binding, [])

    def test_rejects_bad_departure_dates(self):
        binding = '{"kind": "ticket", "attraction": "GULANGYU"}'
        self.assertRaises(InvalidInput, ticket.dependencies, binding, ["2026-12-01", "2026-02-30"])


class PriceBatch(unittest.TestCase):
    def test_cheapest_quote_with_enough_quota(self):
        quotes = [quote(9_000, 1), quote(12_000, 2), quote(15_000, 10)]
        self.assertEqual(
            outcomes(batch([quotes], [(1, 0, [0]), (2, 0, [0]), (3, 0, [0]), (10, 0, [0]), (11, 0, [0])])),
            [9_000, 12_000, 15_000, 15_000, Unavailable],
        )

    def test_quota_exactly_pax_is_enough_and_zero_quota_never(self):
        self.assertEqual(outcomes(batch([[quote(5_000, 2)]], [(2, 0, [0])])), [5_000])
        self.assertEqual(outcomes(batch([[quote(5_000, 0)]], [(1, 0, [0])])), [Unavailable])

    def test_no_quote_is_unavailable(self):
        amounts, errors = ticket.price_batch(batch([[]], [(2, 0, [0])]))
        self.assertEqual(amounts, [0])
        self.assertIsInstance(errors[0][1], Unavailable)
        self.assertIn("no ticket quote", errors[0][1].reason)

    def test_markup_rounds_up_exactly(self):
        cases = [
            (143_000, 300, 147_290),
            (100_001, 300, 103_002),
            (2_999, 500, 3_149),
            (10_001, -300, 9_701),
            (0, 500, 0),
            (ticket.I64_MAX, 300, ticket.I64_MAX),
            (4_000_000_000_000_000, 300, 4_120_000_000_000_000),
        ]
        for amount, bp, expected in cases:
            with self.subTest(amount=amount, bp=bp):
                self.assertEqual(ticket.apply_markup(amount, bp), expected)
                self.assertEqual(outcomes(batch([[quote(amount, 9)]], [(2, bp, [0])])), [expected])

    def test_shared_resources_and_party_sizes(self):
        a = [quote(8_000, 3), quote(6_000, 1)]
        b = [quote(20_000, 100)]
        deps = [(1, 0, [0]), (2, 0, [0]), (1, 0, [1]), (1, 300, [0]), (4, 0, [0]), (2, 0, [0])]
        self.assertEqual(outcomes(batch([a, b], deps)), [6_000, 8_000, 20_000, 6_180, Unavailable, 8_000])

    def test_contract_errors_are_invalid_input_per_departure(self):
        broken = b"\x01\x02\x03"
        self.assertEqual(
            outcomes(batch([[quote(1, 1)], [broken]], [(1, 0, []), (1, 0, [0, 0]), (1, 0, [5]), (1, 0, [1]), (1, 0, [0])])),
            [InvalidInput, InvalidInput, InvalidInput, InvalidInput, 1],
        )

    def test_malformed_batches(self):
        good = batch([[quote(1, 1)]], [(1, 0, [0])])
        for buf in [b"", b"\x01\x43\x52", batch([], [], magic=0x50524302), good[:-1], good[:20], good[:12] + b"\xff" * 4]:
            with self.subTest(buf=buf):
                amounts, errors = ticket.price_batch(buf)
                self.assertEqual(amounts, [])
                self.assertEqual(len(errors), 1)
                self.assertEqual(errors[0][0], 0)
                self.assertIsInstance(errors[0][1], InvalidInput)
                self.assertTrue(errors[0][1].reason.startswith("malformed batch: "))

    def test_huge_counts_do_not_allocate(self):
        buf = struct.pack("<III", ticket.MAGIC, 0, 0xFFFFFFFF)
        self.assertEqual(ticket.price_batch(buf)[0], [])
        buf = struct.pack("<III", ticket.MAGIC, 0, 1) + struct.pack("<iIIiqI", 0, 0, 1, 0, 0, 0xFFFFFFFF)
        self.assertEqual(ticket.price_batch(buf)[0], [])

    def test_empty_batch(self):
        self.assertEqual(ticket.price_batch(batch([], [])), ([], []))


if __name__ == "__main__":
    unittest.main()
