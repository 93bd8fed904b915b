"""Where each Twilio product lives, and how region, edge and an endpoint override change that.

The rewrite copies twilio-python's ``ClientBase.get_hostname`` so that a host such as
``api.sydney.au1.twilio.com`` is built exactly as the official SDKs build it. An endpoint override
(an emulator, a recording proxy) replaces scheme, host and port for every product at once, and then
region and edge no longer apply: the override is the whole answer.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from microvisor_pulumi._twilio.settings import Settings

#: Public base URL (scheme and host, no trailing slash) of each product this package calls.
PRODUCT_HOSTS: dict[str, str] = {
    "microvisor": "https://microvisor.twilio.com",
    "api": "https://api.twilio.com",
    "iam": "https://iam.twilio.com",
}


def rewrite_host(url: str, region: str | None = None, edge: str | None = None) -> str:
    """Apply Twilio's region/edge rule to the host of ``url`` (twilio-python ``get_hostname``).

    ``product.twilio.com`` has neither; ``product.REGION.twilio.com`` (4 pieces) carries a region;
    ``product.EDGE.REGION.twilio.com`` (5 pieces) carries both. Explicit values win over the parsed
    ones, and an edge without a region implies ``us1``.
    """
    if not region and not edge:
        return url
    parts = urlsplit(url)
    pieces = parts.netloc.split(".")
    prefix = pieces[0]
    suffix = ".".join(pieces[-2:])
    parsed_region: str | None = None
    parsed_edge: str | None = None
    if len(pieces) == 4:
        parsed_region = pieces[1]
    elif len(pieces) == 5:
        parsed_edge = pieces[1]
        parsed_region = pieces[2]
    new_edge = edge or parsed_edge
    new_region = region or parsed_region or ("us1" if new_edge else None)
    netloc = ".".join(p for p in (prefix, new_edge, new_region, suffix) if p)
    return urlunsplit(parts._replace(netloc=netloc))


def normalize_endpoint(endpoint: str, *, key: str = "twilio:endpoint") -> str:
    """Check an endpoint override is ``http(s)://host[:port]`` and return it without a trailing slash.

    A path would be ambiguous (the API paths already start at the root, and next-page URLs from the
    server carry their own paths), so it is refused rather than half supported.
    """
    # An operator may paste a URL with credentials in it ("https://AC...:token@host"): the error
    # quotes the value without them.
    shown = re.sub(r"//[^/?#]*@", "//***@", endpoint.strip(), count=1)
    try:
        parts = urlsplit(endpoint.strip())
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        host = None
    if host is None or parts.scheme not in ("http", "https"):
        raise ValueError(f"{key} must look like http://host:port or https://host, got {shown!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{key} must be only a scheme, host and optional port, got {shown!r}")
    return f"{parts.scheme}://{parts.netloc}"


def base_url(product: str, settings: Settings) -> str:
    """Base URL (no trailing slash) for ``product`` after the endpoint override or region/edge rewrite."""
    try:
        default = PRODUCT_HOSTS[product]
    except KeyError:
        raise ValueError(
            f"unknown Twilio product {product!r}; expected one of {sorted(PRODUCT_HOSTS)}"
        ) from None
    if settings.endpoint:
        return normalize_endpoint(settings.endpoint)
    return rewrite_host(default, settings.region, settings.edge)


def rebase(url: str, base: str) -> str:
    """Keep the path and query of ``url`` (absolute or relative) but put it under ``base``.

    Next-page URLs name the public host even when we talk to an emulator, a region or an edge, so
    following them verbatim would silently leave the configured endpoint.
    """
    parts = urlsplit(url)
    path = parts.path or "/"
    return base + path + (f"?{parts.query}" if parts.query else "")
