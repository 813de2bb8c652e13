"""The `ticket` plugin's component exports: adapts `ticket` (the rules, plain Python) to
the `travel:pricing@0.1.0` world `plugin`.

`wit_world` and `componentize_py_types` are the bindings componentize-py generates from
`wit/` at build time (`plugins/build-foreign`); they are not in the repository.
"""

import wit_world
from componentize_py_types import Err
from wit_world.imports import types

import ticket


def _wit_error(e: ticket.PriceError) -> types.PriceError:
    if isinstance(e, ticket.Unavailable):
        return types.PriceError_Unavailable(e.reason)
    return types.PriceError_InvalidInput(e.reason)


class WitWorld(wit_world.WitWorld):
    """The exports of the world `plugin`; componentize-py instantiates it once."""

    def metadata(self) -> types.Metadata:
        return types.Metadata(
            kind=ticket.KIND,
            version=ticket.VERSION,
            role=types.Role.COMPONENT,
            description=ticket.DESCRIPTION,
        )

    def decode_quote(self, key: str, data: str) -> bytes:
        try:
            return ticket.decode_quote(key, data)
        except ticket.PriceError as e:
            raise Err(_wit_error(e)) from None

    def dependencies(self, binding: str, departures: list) -> list:
        try:
            return ticket.dependencies(binding, [d.date for d in departures])
        except ticket.PriceError as e:
            raise Err(_wit_error(e)) from None

    def price_batch(self, batch: bytes) -> types.BatchResult:
        amounts, errors = ticket.price_batch(batch)
        return types.BatchResult(
            amounts=amounts,
            errors=[types.DepartureError(index=i, error=_wit_error(e)) for i, e in errors],
        )
