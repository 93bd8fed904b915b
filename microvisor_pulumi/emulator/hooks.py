"""The test hooks under ``/_emulator``: request log, faults, reset and info. No auth, no faults,
no log entry: they observe and steer the emulator, they are not part of Twilio's API."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import unquote

from microvisor_pulumi.emulator.faults import FaultBook, FaultSpecError, RequestLog
from microvisor_pulumi.emulator.store import Store
from microvisor_pulumi.emulator.wire import Response, error_response, json_response

HOOK_PREFIX = "/_emulator"


def is_hook(raw_path: str) -> bool:
    """True for ``/_emulator`` and every path below it."""
    return raw_path == HOOK_PREFIX or raw_path.startswith(HOOK_PREFIX + "/")


class Hooks:
    """Answers ``/_emulator/*``; ``reset`` is the emulator's own (state, log and faults)."""

    def __init__(self, store: Store, faults: FaultBook, log: RequestLog, reset: Callable[[], None]) -> None:
        self.store = store
        self.faults = faults
        self.log = log
        self.reset = reset

    def serve(self, method: str, raw_path: str, body: bytes) -> Response:
        """Answer one hook request; 404 for an unknown hook, 405 for a wrong method."""
        sub = raw_path[len(HOOK_PREFIX) :]
        if sub == "/requests":
            if method == "GET":
                return json_response(
                    200, {"requests": self.log.entries(), "peak_in_flight": self.log.peak_in_flight()}
                )
            if method == "DELETE":
                self.log.clear()
                return Response(204)
        elif sub == "/faults":
            if method == "GET":
                return json_response(200, {"faults": self.faults.describe()})
            if method == "DELETE":
                self.faults.clear()
                return Response(204)
            if method == "POST":
                try:
                    spec = json.loads(body.decode("utf-8") or "null")
                    fault = self.faults.add(spec)
                except (ValueError, FaultSpecError) as exc:
                    return error_response(400, 20001, f"Invalid fault: {exc}")
                return json_response(201, fault.describe())
        elif sub.startswith("/faults/"):
            if method == "DELETE":
                if self.faults.remove(unquote(sub[len("/faults/") :])):
                    return Response(204)
                return error_response(404, 20404, f"The requested resource {raw_path} was not found")
        elif sub == "/state":
            if method == "DELETE":
                self.reset()
                return Response(204)
        elif sub == "/info":
            if method == "GET":
                devices = [
                    {"sid": r["sid"], "unique_name": r["unique_name"]} for _, r in self.store.list_devices()
                ]
                return json_response(200, {"account_sid": self.store.account_sid, "devices": devices})
        else:
            return error_response(404, 20404, f"The requested resource {raw_path} was not found")
        return error_response(405, 20004, f"Method {method} not allowed")
