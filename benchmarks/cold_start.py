"""Provider host cold start: what importing microvisor_pulumi adds to a deployment's first call.

Two measurements, each alternating the two sides run by run so that a warming page cache or a busy
neighbour cannot favour one side:

* interpreter start + imports: ``python -c "import pulumi"`` against the same plus our provider modules;
* a fresh ``python -m pulumi.dynamic`` host to its first successful Check (port line, gRPC ready,
  Configure, Check), with the null provider (imports nothing but pulumi) against ours.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

from pulumi.runtime.proto import provider_pb2 as pb

from benchmarks._harness import (
    DEVICE_SIDS,
    ROOT,
    TOKENS,
    Engine,
    ProviderHost,
    Table,
    engine_view,
    ms,
    provider_for,
    to_struct,
    urn_for,
    verdict,
)

TARGET_MS = 50.0
BASE_IMPORT = "import pulumi"
# urllib3 is a runtime dependency of ours that pulumi does not load. The providers import it only at
# their first HTTP call, so it is outside the cold start; measured apart to show what that saves.
REQUESTS_IMPORT = "import pulumi, urllib3"
# Everything a host loads to serve our resources: the provider modules pull in the HTTP layer.
OUR_IMPORT = "import pulumi, microvisor_pulumi.resources.microvisor, microvisor_pulumi.resources.api_key"
CONFIG = {"twilio:accountSid": "AC" + "0" * 32, "twilio:authToken": "x" * 32}


def _import_seconds(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(ROOT))
    return time.perf_counter() - started


def _first_check_seconds(kind: str) -> float:
    """From starting a host process to its first successful Check of one resource."""
    engine_provider = provider_for(kind)
    started = time.perf_counter()
    host = ProviderHost()
    try:
        host.configure(CONFIG)
        engine = Engine(host, engine_provider, TOKENS[kind])
        news = engine_view(engine.news({"device_sid": DEVICE_SIDS[0], "key": "k", "value": "v"}))
        response = host.stub.Check(
            pb.CheckRequest(urn=urn_for(TOKENS[kind], "r"), olds=to_struct({}), news=news)
        )
        elapsed = time.perf_counter() - started
        assert not response.failures, response.failures
        return elapsed
    finally:
        host.close()


def measure(runs: int) -> dict[str, Any]:
    base_imp, req_imp, our_imp, base_host, our_host = [], [], [], [], []
    for _ in range(runs):
        base_imp.append(_import_seconds(BASE_IMPORT))
        req_imp.append(_import_seconds(REQUESTS_IMPORT))
        our_imp.append(_import_seconds(OUR_IMPORT))
        base_host.append(_first_check_seconds("Null"))
        our_host.append(_first_check_seconds("DeviceSecret"))
    med = statistics.median
    return {
        "runs": runs,
        "import": (med(base_imp), med(our_imp)),
        "requests": (med(base_imp), med(req_imp)),
        "host": (med(base_host), med(our_host)),
    }


def table(result: dict[str, Any]) -> Table:
    rows = []
    for label, (base, ours) in (
        ("python -c imports", result["import"]),
        ("host start to first Check", result["host"]),
    ):
        extra = (ours - base) * 1000
        rows.append(
            [label, ms(base), ms(ours), f"{extra:+.1f}", f"<= +{TARGET_MS:.0f}", verdict(extra <= TARGET_MS)]
        )
    base, with_requests = result["requests"]
    extra = (with_requests - base) * 1000
    rows.append(
        [
            "for scale: `import urllib3` (at first HTTP call)",
            ms(base),
            ms(with_requests),
            f"{extra:+.1f}",
            "-",
            "-",
        ]
    )
    return Table(
        "Provider host cold start (ms, median)",
        ["measurement", "pulumi only", "with microvisor_pulumi", "extra", "target", "met"],
        rows,
        [
            f"Median of {result['runs']} runs each, sides alternated. "
            f"Imports: `{BASE_IMPORT}` vs `{OUR_IMPORT}`; the last row is `{REQUESTS_IMPORT}`, "
            "the part of the extra that is the urllib3 library (our HTTP client; pulumi never loads it).",
            "Host: ProviderHost() (process start, port line, gRPC channel ready) + Configure + the first "
            "Check, with benchmarks/null_provider.py (imports only pulumi) vs DeviceSecretProvider "
            "(unpickling it imports microvisor_pulumi; urllib3 waits for the first HTTP call).",
        ],
    )  # fmt: skip
