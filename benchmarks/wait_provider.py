"""A provider that only waits as long as a request to Twilio takes: the provider host's own ceiling.

Through the dynamic provider host every operation pays the SDK's per-call cost (gRPC, property
(de)serialization) and holds a worker thread while it waits on the network. (Like ours it widens the
host's pool, which also spares it the event loop per call: see resources/_host_threads.py.)
This provider does nothing else: it sleeps ``wait`` seconds (one of its inputs) and answers
with outputs shaped like a DeviceSecret's (read returns inputs too, as ours does). So the operations
it keeps in flight through a host are the most any provider can keep through that host, on that
machine: the floor the fleet benchmark shows beside ours. It serves ``twilio:maxConcurrency`` calls
at once, as ours does (``resources/_host_threads.py``).
"""

from __future__ import annotations

import time
from typing import Any

from pulumi.dynamic import CheckResult, ConfigureRequest, CreateResult, ReadResult, ResourceProvider

INPUTS = ("device_sid", "key", "value", "overwrite", "wait")


class WaitProvider(ResourceProvider):
    """Sleeps ``wait`` seconds per operation that would call Twilio; the id is the ``key`` input."""

    def configure(self, req: ConfigureRequest) -> None:
        from microvisor_pulumi.resources._host_threads import widen_for

        value = req.config.get("twilio:maxConcurrency")
        widen_for({} if value is None else {"twilio:maxConcurrency": str(value)})

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [])

    def create(self, props: dict[str, Any]) -> CreateResult:
        time.sleep(float(props["wait"]))
        url = f"http://127.0.0.1/v1/Devices/{props['device_sid']}/Secrets/{props['key']}"
        return CreateResult(str(props["key"]), {**props, "date_rotated": "2026-01-01T00:00:00Z", "url": url})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        time.sleep(float(props["wait"]))
        return ReadResult(id_, dict(props), {k: props[k] for k in INPUTS if k in props})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        time.sleep(float(props["wait"]))
