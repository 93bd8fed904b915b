"""The provider plugin over gRPC, started as the engine starts it, against the emulator.

Every step the engine takes (load, preview, up, refresh, destroy, import) through the installed
console script, with the HTTP calls each one makes counted in the emulator's request log.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator

import grpc
import pytest
from _host import engine as dynamic_engine
from _plugin import CheckFailed, Plugin, PluginEngine, plain, plugin_config, script_path, secret, token
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import engine_pb2
from pulumi.runtime.proto import provider_pb2 as pb

from microvisor_pulumi import __version__
from microvisor_pulumi.emulator import DEFAULT_DEVICES, Emulator
from microvisor_pulumi.plugin.server import from_struct, to_struct

DEV1_SID, DEV1_NAME = DEFAULT_DEVICES[0]
DEV2_SID, _ = DEFAULT_DEVICES[1]
KINDS = ("AccountConfig", "DeviceConfig", "AccountSecret", "DeviceSecret", "ApiKey")
CANARY = "canary-secret-value-5309"


@pytest.fixture
def fresh_plugin() -> Iterator[Plugin]:
    p = Plugin()
    yield p
    p.close()


# -- installation and the load sequence -----------------------------------------------------------


def test_pip_puts_the_plugin_on_the_venv_path() -> None:
    found = shutil.which("pulumi-resource-microvisor", path=str(script_path().parent))
    assert found is not None and os.access(found, os.X_OK)


def test_load_sequence_as_the_engine_runs_it(fresh_plugin: Plugin, emulator: Emulator) -> None:
    stub = fresh_plugin.stub
    # Handshake is optional: UNIMPLEMENTED tells the engine to use the older load sequence.
    with pytest.raises(grpc.RpcError) as err:
        stub.Handshake(pb.ProviderHandshakeRequest(engine_address=fresh_plugin.engine.address))
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert stub.GetPluginInfo(empty_pb2.Empty()).version == __version__
    assert stub.Cancel(empty_pb2.Empty()) == empty_pb2.Empty()
    config = {
        "accountSid": emulator.account_sid,
        "authToken": secret(emulator.auth_token),
        "endpoint": emulator.url,
    }
    checked = stub.CheckConfig(
        pb.CheckRequest(
            urn="urn:pulumi:dev::fleet::pulumi:providers:microvisor::default",
            olds=struct_pb2.Struct(),
            news=to_struct(config),
        )
    )
    assert not checked.failures
    assert rpc.is_rpc_secret(from_struct(checked.inputs)["authToken"])  # the token stays a secret
    answer = fresh_plugin.configure(config)
    assert answer.acceptSecrets and answer.supportsPreview
    schema = json.loads(stub.GetSchema(pb.GetSchemaRequest()).schema)
    assert schema["name"] == "microvisor"
    assert {token(k) for k in KINDS} <= set(schema["resources"])


def test_check_config_names_each_bad_setting(fresh_plugin: Plugin) -> None:
    news = {"maxRetries": "many", "readTimeout": "-1", "acountSid": "AC1", "plugin": "true", "version": "0.1"}
    resp = fresh_plugin.stub.CheckConfig(pb.CheckRequest(olds=struct_pb2.Struct(), news=to_struct(news)))
    reasons = {f.property: f.reason for f in resp.failures}
    assert set(reasons) == {"maxRetries", "readTimeout", "acountSid"}
    assert "microvisor:maxRetries must be a whole number" in reasons["maxRetries"]
    assert "microvisor:readTimeout must be a positive number" in reasons["readTimeout"]
    assert "microvisor:acountSid is not a setting" in reasons["acountSid"]
    assert "microvisor:accountSid" in reasons["acountSid"]  # and it lists the right ones


def test_a_new_credential_or_endpoint_never_replaces_resources(fresh_plugin: Plugin) -> None:
    olds = {"accountSid": "AC" + "1" * 32, "authToken": secret("old-token"), "endpoint": "http://127.0.0.1:1"}
    news = {"accountSid": "AC" + "2" * 32, "authToken": secret("new-token"), "endpoint": "http://127.0.0.1:2"}
    resp = fresh_plugin.stub.DiffConfig(pb.DiffRequest(olds=to_struct(olds), news=to_struct(news)))
    assert resp.changes == pb.DiffResponse.DIFF_SOME
    assert not resp.replaces
    assert set(resp.diffs) == {"accountSid", "authToken", "endpoint"}
    assert all(d.kind == pb.PropertyDiff.UPDATE for d in resp.detailedDiff.values())
    same = fresh_plugin.stub.DiffConfig(pb.DiffRequest(olds=to_struct(olds), news=to_struct(olds)))
    assert same.changes == pb.DiffResponse.DIFF_NONE


def test_configure_from_variables_alone(emulator: Emulator, emu) -> None:
    """Older engines send only `variables` (microvisor:config:<key>), no `args`."""
    p = Plugin()
    try:
        p.configure(plugin_config(emulator), only_variables=True)
        assert PluginEngine(p, "AccountConfig").create({"key": "vars", "value": "v"}).id == "vars"
    finally:
        p.close()


def test_moving_from_the_dynamic_provider_never_replaces(fresh_plugin: Plugin, emulator: Emulator) -> None:
    """On the move the engine asks the *new* provider's DiffConfig about the old provider's inputs
    (step_generator.go, providerChanged); a replacement there would replace every resource."""
    python_provider = {"version": "3.272.0"}  # the default pulumi-python provider's inputs
    news = {
        "accountSid": emulator.account_sid,
        "authToken": secret("t"),
        "plugin": "true",
        "version": "0.5.0",
    }
    resp = fresh_plugin.stub.DiffConfig(pb.DiffRequest(olds=to_struct(python_provider), news=to_struct(news)))
    assert not resp.replaces and resp.changes == pb.DiffResponse.DIFF_SOME


def test_environment_is_used_when_the_namespace_is_silent(emulator: Emulator, calls) -> None:
    p = Plugin(
        env={
            "TWILIO_ACCOUNT_SID": emulator.account_sid,
            "TWILIO_AUTH_TOKEN": emulator.auth_token,
            "TWILIO_ENDPOINT": emulator.url,
        }
    )
    try:
        p.configure({})
        state = PluginEngine(p, "AccountConfig").create({"key": "from-env", "value": "v"})
        assert state.id == "from-env"
    finally:
        p.close()


def test_runtime_errors_name_this_packages_settings(emulator: Emulator, emu) -> None:
    p = Plugin()
    try:
        p.configure(plugin_config(emulator, authToken="wrong-token-1234"))
        with pytest.raises(grpc.RpcError) as err:
            PluginEngine(p, "AccountConfig").create({"key": "k", "value": "v"})
        text = err.value.details()
        assert "microvisor:accountSid" in text and "twilio:accountSid" not in text
        assert "wrong-token-1234" not in p.output_text() + text
    finally:
        p.close()


def test_unknown_type_is_refused(plugin: Plugin) -> None:
    with pytest.raises(grpc.RpcError) as err:
        plugin.stub.Check(
            pb.CheckRequest(
                urn="urn:pulumi:dev::fleet::microvisor:index:Nope::r",
                olds=struct_pb2.Struct(),
                news=struct_pb2.Struct(),
            )
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "microvisor:index:AccountConfig" in err.value.details()


# -- preview ----------------------------------------------------------------------------------------


def test_preview_with_unknowns_makes_no_call(plugin: Plugin, calls) -> None:
    eng = PluginEngine(plugin, "DeviceSecret")
    inputs = {"device_sid": rpc.UNKNOWN, "key": "k", "value": secret(rpc.UNKNOWN)}
    checked = from_struct(eng.check(inputs).inputs)
    assert checked["device_sid"] == rpc.UNKNOWN
    state = eng.create(inputs, preview=True)
    assert state.id == ""
    assert state.outs["device_sid"] == rpc.UNKNOWN
    assert calls() == []


def test_preview_of_update_and_replace_makes_no_call(plugin: Plugin, calls) -> None:
    config = PluginEngine(plugin, "AccountConfig")
    state = config.create({"key": "pv", "value": "one"})
    calls.reset()
    updated = config.up(state, {"key": "pv", "value": "two"}, preview=True)
    assert updated.history[-1] == "update" and updated.outs["value"] == "two"
    replaced = config.up(state, {"key": "pv2", "value": "one"}, preview=True)
    assert replaced.history[-1] == "replace"
    unknown, _ = config.diff(state, {"key": "pv", "value": rpc.UNKNOWN})
    assert unknown.changes == pb.DiffResponse.DIFF_SOME and list(unknown.diffs) == ["value"]
    assert calls() == []
    config.delete(state)


# -- up, refresh, destroy ------------------------------------------------------------------------------


def test_account_config_lifecycle(plugin: Plugin, calls, emu: Emulator) -> None:
    eng = PluginEngine(plugin, "AccountConfig")
    state = eng.create({"key": "life", "value": "one"})
    assert state.id == "life" and state.outs["value"] == "one" and state.outs["url"]
    assert calls() == [("POST", "/v1/Configs", 201)]

    calls.reset()
    resp, _ = eng.diff(state, {"key": "life", "value": "two"})
    assert resp.changes == pb.DiffResponse.DIFF_SOME and not resp.replaces
    assert dict(resp.detailedDiff) == {"value": pb.PropertyDiff(kind=pb.PropertyDiff.UPDATE, inputDiff=True)}
    state = eng.up(state, {"key": "life", "value": "two"})
    assert state.history[-1] == "update" and state.outs["value"] == "two"
    assert calls() == [("POST", "/v1/Configs/life", 200)]

    calls.reset()
    resp, _ = eng.diff(state, {"key": "life2", "value": "two"})
    assert list(resp.replaces) == ["key"]
    assert resp.detailedDiff["key"].kind == pb.PropertyDiff.UPDATE_REPLACE
    state = eng.up(state, {"key": "life2", "value": "two"})
    assert state.history[-1] == "create-delete" and state.id == "life2"
    assert calls() == [("POST", "/v1/Configs", 201), ("DELETE", "/v1/Configs/life", 204)]

    emu.store.update_item("config", "life2", "changed-outside")
    refreshed = eng.refresh(state)
    assert refreshed is not None and refreshed.outs["value"] == "changed-outside"
    assert refreshed.ins["value"] == "changed-outside"

    calls.reset()
    eng.delete(refreshed)
    assert calls() == [("DELETE", "/v1/Configs/life2", 204)]
    assert eng.refresh(refreshed) is None  # gone


def test_device_secret_lifecycle_keeps_the_value_secret(plugin: Plugin, calls) -> None:
    eng = PluginEngine(plugin, "DeviceSecret")
    state = eng.create({"device_sid": DEV1_NAME, "key": "ds", "value": CANARY})
    assert state.id == f"{DEV1_SID}/ds"
    outs = state.outs
    assert rpc.is_rpc_secret(outs["value"]) and plain(outs)["value"] == CANARY
    assert outs["device_sid"] == DEV1_SID and outs["device_name"] == DEV1_NAME
    assert rpc.is_rpc_secret(state.ins["value"])  # checked inputs too, though sent plain

    resp, _ = eng.diff(state, {"device_sid": DEV1_SID, "key": "ds", "value": CANARY})
    assert resp.changes == pb.DiffResponse.DIFF_NONE  # the same device by SID is no change

    resp, _ = eng.diff(state, {"device_sid": DEV1_SID, "key": "ds", "value": "other"})
    assert list(resp.replaces) == ["value"] and resp.deleteBeforeReplace
    calls.reset()
    state = eng.up(state, {"device_sid": DEV1_SID, "key": "ds", "value": "other"})
    assert state.history[-1] == "delete-create"
    assert [c[0] for c in calls()] == ["DELETE", "POST"]
    refreshed = eng.refresh(state)
    assert refreshed is not None and rpc.is_rpc_secret(refreshed.outs["value"])
    eng.delete(refreshed)
    assert CANARY not in plugin.output_text()


def test_a_value_the_program_made_secret_stays_secret(plugin: Plugin) -> None:
    """A config's value is not secret by kind, but a program may mark it so: the plugin accepts
    secrets, so the engine leaves keeping that mark to it (create, update and refresh alike)."""
    eng = PluginEngine(plugin, "DeviceConfig")
    state = eng.create({"device_sid": DEV1_SID, "key": "marked", "value": secret(CANARY)})
    assert rpc.is_rpc_secret(state.outs["value"]) and not rpc.is_rpc_secret(state.outs["key"])
    state = eng.up(state, {"device_sid": DEV1_SID, "key": "marked", "value": secret(CANARY + "2")})
    assert state.history[-1] == "update" and rpc.is_rpc_secret(state.outs["value"])
    refreshed = eng.refresh(state)
    assert refreshed is not None
    assert rpc.is_rpc_secret(refreshed.outs["value"]) and rpc.is_rpc_secret(refreshed.ins["value"])
    eng.delete(refreshed)
    assert CANARY not in plugin.output_text()


def test_api_key_secret_is_a_secret_output(plugin: Plugin, calls) -> None:
    eng = PluginEngine(plugin, "ApiKey")
    state = eng.create({"friendly_name": "ci"})
    outs = state.outs
    assert state.id.startswith("SK") and rpc.is_rpc_secret(outs["secret"])
    key_secret = plain(outs)["secret"]
    renamed = eng.up(state, {"friendly_name": "ci-2"})
    assert renamed.history[-1] == "update" and plain(renamed.outs)["secret"] == key_secret
    assert rpc.is_rpc_secret(renamed.outs["secret"])
    refreshed = eng.refresh(renamed)
    assert refreshed is not None and rpc.is_rpc_secret(refreshed.outs["secret"])
    eng.delete(refreshed)
    assert key_secret not in plugin.output_text()


def test_bad_input_fails_check_naming_the_field_with_no_call(plugin: Plugin, calls) -> None:
    eng = PluginEngine(plugin, "DeviceConfig")
    with pytest.raises(CheckFailed) as err:
        eng.check({"device_sid": DEV1_SID, "key": "k" * 101, "value": "v"})
    assert err.value.failures == [("key", "DeviceConfig: 'key' must be at most 100 characters, got 101")]
    with pytest.raises(CheckFailed) as err:
        PluginEngine(plugin, "AccountSecret").check({"key": "k", "value": secret("x" * 5000)})
    assert [p for p, _ in err.value.failures] == ["value"]
    assert "x" * 50 not in str(err.value)
    assert calls() == []


def test_a_failed_create_is_an_error_naming_the_resource(plugin: Plugin, emu: Emulator) -> None:
    emu.store.create_item("config", "taken", "theirs")
    with pytest.raises(grpc.RpcError) as err:
        PluginEngine(plugin, "AccountConfig").create({"key": "taken", "value": "mine"})
    assert "AccountConfig 'taken'" in err.value.details() and "overwrite=True" in err.value.details()
    assert emu.store.get_item("config", "taken")["value"] == "theirs"


def test_two_resources_naming_one_item_are_refused_naming_both(plugin: Plugin, calls, emu: Emulator) -> None:
    # One item, one resource per stack holds for every language: the plugin names the resources from
    # their URNs, which a YAML or TypeScript program does not send as inputs.
    eng = PluginEngine(plugin, "DeviceConfig")
    first = eng.create({"device_sid": DEV1_SID, "key": "shared", "value": "one"}, name="by-sid")
    calls.reset()
    with pytest.raises(grpc.RpcError) as err:
        eng.create(
            {"device_sid": DEV1_NAME, "key": "shared", "value": "two", "overwrite": True}, name="by-name"
        )
    text = err.value.details()
    assert "DeviceConfig 'by-name'" in text and "DeviceConfig 'by-sid'" in text, text
    assert [c for c in calls() if c[0] != "GET"] == []  # nothing written by the second
    assert emu.store.get_item("config", "shared", first.outs["device_sid"])["value"] == "one"


def test_children_alike_but_for_their_grandparents_are_two_resources_through_the_plugin(
    plugin: Plugin, calls, emu: Emulator
) -> None:
    # A DeviceProfile 'defaults' in a Site and one in a Lab component: their children share kind,
    # name and parent type; only the URN's whole type chain tells them apart.
    def create(component: str, value: str) -> None:
        name = f"{DEV1_SID}/mode"
        chain = f"example:index:{component}${token('DeviceProfile')}${token('DeviceConfig')}"
        urn = f"urn:pulumi:dev::fleet::{chain}::{name}"
        news = to_struct({"device_sid": DEV1_SID, "key": "mode", "value": value, "overwrite": True})
        checked = plugin.stub.Check(
            pb.CheckRequest(
                urn=urn, type=token("DeviceConfig"), name=name, olds=struct_pb2.Struct(), news=news
            )
        ).inputs
        plugin.stub.Create(pb.CreateRequest(urn=urn, type=token("DeviceConfig"), properties=checked))

    create("Site", "site")
    calls.reset()
    with pytest.raises(grpc.RpcError) as err:
        create("Lab", "lab")
    text = err.value.details()
    assert "both declare" in text and "lists this device twice" not in text and "None" not in text, text
    assert "under DeviceProfile in Lab" in text and "under DeviceProfile in Site" in text, text
    assert [c for c in calls() if c[0] != "GET"] == []
    assert emu.store.get_item("config", "mode", DEV1_SID)["value"] == "site"


# -- import -------------------------------------------------------------------------------------------


def test_import_a_config_reads_its_value_back(plugin: Plugin, emu: Emulator) -> None:
    emu.store.create_item("config", "imp", "read-back")
    state, warnings = PluginEngine(plugin, "AccountConfig").import_("imp")
    assert warnings == []
    assert state.ins == {"key": "imp", "value": "read-back", "overwrite": False}
    # The program as `pulumi import` writes it is then no change.
    resp, _ = PluginEngine(plugin, "AccountConfig").diff(state, {"key": "imp", "value": "read-back"})
    assert resp.changes == pb.DiffResponse.DIFF_NONE


def test_import_a_device_config_by_sid_and_key(plugin: Plugin, emu: Emulator) -> None:
    emu.store.create_item("config", "dimp", "v", DEV1_SID)
    state, warnings = PluginEngine(plugin, "DeviceConfig").import_(f"{DEV1_SID}/dimp")
    assert warnings == [] and state.id == f"{DEV1_SID}/dimp"
    assert state.ins == {"device_sid": DEV1_SID, "key": "dimp", "value": "v", "overwrite": False}
    assert state.outs["device_name"] == DEV1_NAME


@pytest.mark.parametrize("kind,ident", [("AccountSecret", "simp"), ("DeviceSecret", f"{DEV2_SID}/simp")])
def test_import_a_secret_says_its_value_cannot_be_read(plugin: Plugin, emu: Emulator, kind, ident) -> None:
    device = DEV2_SID if kind == "DeviceSecret" else None
    emu.store.create_item("secret", "simp", CANARY, device)
    before = len(plugin.engine.logs)
    state, warnings = PluginEngine(plugin, kind).import_(ident)
    assert "value" not in state.ins and "value" not in state.outs
    assert [p for p, _ in warnings] == ["value"]  # the engine shows this as a warning
    logged = plugin.engine.logs[before:]
    assert len(logged) == 1 and logged[0][0] == engine_pb2.WARNING
    assert "imported without 'value'" in logged[0][1] and "Set 'value' in the program" in logged[0][1]
    assert logged[0][2].endswith("::imported")
    assert CANARY not in plugin.output_text()


def test_import_of_what_does_not_exist_answers_gone(plugin: Plugin, calls) -> None:
    resp = plugin.stub.Read(pb.ReadRequest(id="no-such-key", urn="u", type=token("AccountConfig")))
    assert resp.id == "" and not resp.properties.fields  # the engine then says "does not exist"
    assert ("GET", "/v1/Configs/no-such-key", 404) in calls()


def test_import_an_api_key_is_refused_clearly(plugin: Plugin, emu: Emulator) -> None:
    made = PluginEngine(plugin, "ApiKey").create({"friendly_name": "old"})
    with pytest.raises(grpc.RpcError) as err:
        PluginEngine(plugin, "ApiKey").import_(made.id)
    assert "cannot be imported" in err.value.details() and "secret only once" in err.value.details()
    PluginEngine(plugin, "ApiKey").delete(made)


# -- moving from the dynamic path -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,inputs",
    [
        ("AccountConfig", {"key": "mv", "value": "v"}),
        ("DeviceConfig", {"device_sid": DEV1_NAME, "key": "mv", "value": "v"}),
        ("AccountSecret", {"key": "mv", "value": CANARY}),
        ("DeviceSecret", {"device_sid": DEV1_SID, "key": "mv", "value": CANARY}),
        ("ApiKey", {"friendly_name": "mv"}),
    ],
)
def test_dynamic_state_is_no_change_for_the_plugin(host, plugin: Plugin, calls, kind, inputs) -> None:
    """The engine, after the alias, Checks the program's inputs against the dynamic state and
    Diffs them with its outputs (`__provider` included): no change and no call to Twilio."""
    dynamic = dynamic_engine(host, kind).create(inputs)
    assert "__provider" in dynamic.outs
    calls.reset()
    eng = PluginEngine(plugin, kind)
    news = {k: secret(v) if v == CANARY else v for k, v in inputs.items()}
    checked = eng.check(news, olds=dynamic.inputs).inputs
    assert "__provider" not in from_struct(checked)
    resp = plugin.stub.Diff(
        pb.DiffRequest(id=dynamic.id, urn=dynamic.urn, type=token(kind), olds=dynamic.outputs, news=checked)
    )
    assert resp.changes == pb.DiffResponse.DIFF_NONE, list(resp.diffs)
    assert calls() == []
    # And the plugin manages it from there on: refresh and delete with the dynamic state.
    from _plugin import State

    moved = State(dynamic.id, dynamic.urn, checked, dynamic.outputs)
    refreshed = eng.refresh(moved)
    assert refreshed is not None and refreshed.id == dynamic.id
    eng.delete(refreshed)


# -- concurrency --------------------------------------------------------------------------------------


def test_max_concurrency_one_serves_one_operation_at_a_time() -> None:
    """As in the dynamic host (test_host_concurrency.py): one whole operation at a time, not only one
    request. An ApiKey create is two requests; the first naming is throttled (429, Retry-After 1 s),
    and a throttled request gives its place to others while it waits, so if other creates were being
    served their requests would go out in that second."""
    with Emulator(latency=0.05) as slow:
        p = Plugin()
        try:
            p.configure(plugin_config(slow, maxConcurrency="1"))
            eng = PluginEngine(p, "ApiKey")
            checked = [eng.check({"friendly_name": f"k{i}"}, name=f"k{i}").inputs for i in range(4)]
            slow.clear_request_log()
            slow.add_fault(method="POST", path=r"/Keys/SK\w+\.json$", times=1, status=429, retry_after="1")
            requests = [
                pb.CreateRequest(
                    urn=f"urn:pulumi:dev::fleet::{token('ApiKey')}::k{i}", type=token("ApiKey"), properties=c
                )
                for i, c in enumerate(checked)
            ]
            futures = [p.stub.Create.future(r) for r in requests]
            assert all(f.result(timeout=60).id for f in futures)
        finally:
            p.close()
        calls = [(r["path"], r["status"]) for r in slow.request_log() if r["method"] == "POST"]
    shape = ["create" if path.endswith("/Keys.json") else f"name {status}" for path, status in calls]
    assert shape == ["create", "name 429", "name 200"] + ["create", "name 200"] * 3, calls


@pytest.mark.parametrize(
    "setting,n,low,high", [(None, 40, 28, 32), ("48", 60, 40, 48), ("120", 140, 105, 120)]
)
def test_the_plugin_serves_max_concurrency_creates_at_once(setting, n, low, high) -> None:
    """The default 32, and larger settings, which Configure hands to the limiter and the operations
    gate and widens the plugin's own pool to: the pool starts at 32 + 64 + 4 threads (room for the
    engine's steps beyond the HTTP slots), so without the widening the last case stops at 100."""
    with Emulator(latency=0.4) as slow:
        p = Plugin()
        try:
            p.configure(plugin_config(slow, **({"maxConcurrency": setting} if setting else {})))
            eng = PluginEngine(p, "AccountConfig")
            checked = [eng.check({"key": f"c{i}", "value": "v"}).inputs for i in range(n)]
            slow.clear_request_log()
            requests = [pb.CreateRequest(urn="u", type=token("AccountConfig"), properties=c) for c in checked]
            futures = [p.stub.Create.future(r) for r in requests]
            assert all(f.result(timeout=60).id for f in futures)
        finally:
            p.close()
        assert low <= slow.peak_in_flight() <= high
