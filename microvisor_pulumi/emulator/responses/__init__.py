"""The handlers of each product (moto's ``responses.py``): parsed request in, Twilio JSON out.

One module per product: :mod:`.microvisor`, :mod:`.api_v2010` (API v2010 Keys) and :mod:`.iam`
(IAM v1 Keys). A handler reads parameters, asks the store and shapes what it returns; the routing
table that reaches it is :mod:`..urls`, the rules it relies on are :mod:`..store`'s.
"""

from __future__ import annotations

from typing import Any

from microvisor_pulumi.emulator.store import Record, Store
from microvisor_pulumi.emulator.wire import DEFAULT_PAGE_SIZE, rfc2822


class Responses:
    """What every product's handlers share: the store they ask, and the page size of a list whose
    request names none."""

    def __init__(self, store: Store, page_size: int = DEFAULT_PAGE_SIZE) -> None:
        self.store = store
        self.page_size = page_size


def key_json(record: Record) -> dict[str, Any]:
    """The fields of an API key that both key APIs show, in their RFC 2822 dates."""
    return {
        "sid": record["sid"],
        "friendly_name": record["friendly_name"],
        "date_created": rfc2822(record["date_created"]),
        "date_updated": rfc2822(record["date_updated"]),
    }
