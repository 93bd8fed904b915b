"""The same operations through the dynamic provider host and through the plugin: the same HTTP
calls, the same diffs and the same outputs (secret where the other is secret).

Both processes are fresh for each kind, so neither has a device or a probe answer cached that the
other would have to ask for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from _host import engine as dynamic_engine
from _plugin import Plugin, PluginEngine, plugin_config
from _reliability import host_config, start_host
from pulumi.runtime import rpc

from microvisor_pulumi.emulator import DEFAULT_DEVICES, Emulator

DEV_SID, DEV_NAME = DEFAULT_DEVICES[0]
_SID_RE = re.compile(r"SK[0-9a-f]{32}")
_DATE_FIELDS = {"date_created", "date_updated", "date_rotated"}
# Differs by nature between two runs: a random claim token, a key's own secret.
_RANDOM_FIELDS = {"claim", "secret"}

# Per kind: the inputs of each `pulumi up` in turn (then a refresh and a destroy).
SCRIPTS: dict[str, list[dict[str, Any]]] = {
    "AccountConfig": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}, {"key": "b", "value": "2"}],
    "DeviceConfig": [
        {"device_sid": DEV_NAME, "key": "a", "value": "1"},
        {"device_sid": DEV_SID, "key": "a", "value": "1"},
        {"device_sid": DEV_SID, "key": "a", "value": "2"},
    ],
    "AccountSecret": [
        {"key": "s", "value": "one"},
        {"key": "s", "value": "two"},
        {"key": "t", "value": "two"},
    ],
    "DeviceSecret": [
        {"device_sid": DEV_SID, "key": "s", "value": "one"},
        {"device_sid": DEV_SID, "key": "s", "value": "two"},
    ],
    "ApiKey": [{"friendly_name": "one"}, {"friendly_name": "two"}, {"friendly_name": "two"}],
}


def normal(outs: dict[str, Any]) -> dict[str, Any]:
    """Outputs with what must differ between two runs masked: (secret?, value) per property."""
    shown = {}
    for name, value in outs.items():
        if name == "__provider":
            continue
        is_secret = rpc.is_rpc_secret(value)
        value = rpc.unwrap_rpc_secret(value) if is_secret else value
        if name in _DATE_FIELDS and value:
            value = "<date>"
        elif name in _RANDOM_FIELDS and value:
            value = "<random>"
        elif isinstance(value, str):
            value = _SID_RE.sub("SK…", value)
        shown[name] = (is_secret, value)
    return shown


def run(eng: Any, emu: Emulator, script: list[dict[str, Any]]) -> list[Any]:
    """The script's steps, recording for each: the step taken, the outputs, the calls made."""
    seen: list[Any] = []

    def step(label: str, act: Callable[[], Any]) -> Any:
        emu.clear_request_log()
        result = act()
        calls = [(r["method"], _SID_RE.sub("SK…", r["path"]), r["status"]) for r in emu.request_log()]
        seen.append((label, calls))
        return result

    state = step("create", lambda: eng.create(script[0]))
    seen.append(normal(state.outs))
    for inputs in script[1:]:
        state = step("up", lambda inputs=inputs, state=state: eng.up(state, inputs))
        seen.append((state.history[-1], normal(state.outs)))
    refreshed = step("refresh", lambda: eng.refresh(state))
    seen.append(normal(refreshed.outs))
    seen.append(normal(refreshed.ins))
    step("delete", lambda: eng.delete(refreshed))
    return seen


@pytest.mark.parametrize("kind", sorted(SCRIPTS))
def test_dynamic_host_and_plugin_make_the_same_calls_and_outputs(emu: Emulator, kind: str) -> None:
    host = start_host(host_config(emu, maxRetries="3"))
    try:
        dynamic = run(dynamic_engine(host, kind), emu, SCRIPTS[kind])
    finally:
        host.close()
    emu.reset()
    plugin = Plugin()
    try:
        plugin.configure(plugin_config(emu, maxRetries="3"))
        served = run(PluginEngine(plugin, kind), emu, SCRIPTS[kind])
    finally:
        plugin.close()
    assert served == dynamic
    # And the script did something worth comparing: at least one call per step.
    steps = [
        entry for entry in dynamic if isinstance(entry, tuple) and entry[0] in ("create", "refresh", "delete")
    ]
    assert len(steps) == 3 and all(calls for _, calls in steps)
