"""The provider plugin driven as the real engine drives it, by careless and hostile programs.

Each test plays the engine's own calls (sdk/go/common/resource/plugin/provider_plugin.go and
pkg/resource/deploy/step.go, step_generator.go in pulumi/pulumi) against the installed plugin
process and the emulator, where the fake engine of test_plugin.py is kinder than the real one.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pulumi
import pytest
from _mocks import EngineLikeMonitor, ProviderMocks, run_program
from _plugin import CheckFailed, Plugin, PluginEngine, plain, plugin_config, secret, token, urn_for
from _reliability import host_config
from pulumi.runtime import config as runtime_config
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2 as pb

import microvisor_pulumi as mv
from microvisor_pulumi.emulator import DEFAULT_DEVICES, Emulator
from microvisor_pulumi.emulator.store import NotFound as StoreNotFound
from microvisor_pulumi.plugin.server import from_struct, to_struct

DEV1_SID, DEV1_NAME = DEFAULT_DEVICES[0]
PERMISSION = "/twilio/messaging/messages/read"


def read_by_id(plugin: Plugin, kind: str, id_: str) -> pb.ReadResponse:
    """The engine's Read for `pulumi import` (and a `get`): the id, and no properties or inputs."""
    return plugin.stub.Read(pb.ReadRequest(id=id_, urn=urn_for(kind, "imported"), type=token(kind)))


# -- pulumi import: the id is input, and is checked like input ------------------------------------------


@pytest.mark.parametrize(
    "kind,ident,expected",
    [
        # A device's item named by its key alone: the id's form, not "key must not be empty".
        ("DeviceConfig", "led-mode", "DeviceConfig id 'led-mode' must be '<device SID or unique name>/"),
        ("DeviceSecret", f"{DEV1_SID}/", "DeviceSecret: 'key' must not be empty"),
        # Would address another URL: /v1/Devices/../Configs/x is the account's config 'x'.
        ("DeviceConfig", "../Configs/x", "DeviceConfig: 'device_sid' must not be '.' or '..'"),
        ("AccountSecret", "wifi\npsk", "AccountSecret: 'key' must not contain control characters"),
        ("AccountConfig", "k" * 101, "AccountConfig: 'key' must be at most 100 characters"),
    ],
)
def test_an_import_id_is_checked_before_any_call(plugin: Plugin, calls, kind, ident, expected) -> None:
    with pytest.raises(grpc.RpcError) as err:
        read_by_id(plugin, kind, ident)
    assert expected in err.value.details()
    assert calls() == []


def test_an_item_imported_by_device_name_gets_the_documented_id(plugin: Plugin, emu: Emulator) -> None:
    """The id of a device's item is `<UV… SID>/<key>` (README), whatever name the import used."""
    emu.store.create_item("config", "mode", "fast", DEV1_SID)
    state, warnings = PluginEngine(plugin, "DeviceConfig").import_(f"{DEV1_NAME}/mode")
    assert warnings == []
    assert state.id == f"{DEV1_SID}/mode"
    assert state.ins["device_sid"] == DEV1_SID and state.outs["device_name"] == DEV1_NAME


def test_an_import_naming_no_device_says_so(plugin: Plugin, emu: Emulator) -> None:
    """Not "the endpoint or the credentials look wrong", which a mistyped device name is not."""
    with pytest.raises(grpc.RpcError) as err:
        read_by_id(plugin, "DeviceConfig", "no-such-device/mode")
    assert "device_sid 'no-such-device' names no Microvisor device" in err.value.details()
    assert "endpoint" not in err.value.details()


# -- a replacement the program forces -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,inputs,new_value",
    [
        ("AccountConfig", {"key": "forced", "value": "1"}, "2"),
        ("DeviceConfig", {"device_sid": DEV1_SID, "key": "forced", "value": "1"}, "2"),
    ],
)
def test_a_replacement_forced_by_replace_on_changes_deletes_first(
    plugin: Plugin, emu: Emulator, calls, kind, inputs, new_value
) -> None:
    """`replace_on_changes=["value"]` turns the provider's in-place update into a replacement, and
    the engine then goes by the Diff's deleteBeforeReplace (step_generator.go, applyReplaceOnChanges).
    Created first, the replacement meets its own key and fails as somebody else's item."""
    eng = PluginEngine(plugin, kind)
    state = eng.create(inputs)
    diff, checked = eng.diff(state, {**inputs, "value": new_value})
    assert diff.changes == pb.DiffResponse.DIFF_SOME and not diff.replaces
    assert diff.deleteBeforeReplace
    # The engine's replacement, as deleteBeforeReplace orders it.
    calls.reset()
    eng.delete(state)
    created = plugin.stub.Create(pb.CreateRequest(urn=state.urn, type=eng.type, properties=checked))
    assert created.id == state.id
    assert [c[0] for c in calls()] == ["DELETE", "POST"]
    device = DEV1_SID if kind == "DeviceConfig" else None
    assert emu.store.get_item("config", "forced", device)["value"] == new_value


def test_a_new_key_still_creates_the_replacement_first(plugin: Plugin) -> None:
    eng = PluginEngine(plugin, "AccountConfig")
    state = eng.create({"key": "first", "value": "1"})
    diff, _ = eng.diff(state, {"key": "first-2", "value": "2"})
    assert list(diff.replaces) == ["key"] and not diff.deleteBeforeReplace
    eng.delete(state)


# -- preview ----------------------------------------------------------------------------------------------


def test_preview_of_an_update_keeps_what_the_update_does_not_change(plugin: Plugin, calls) -> None:
    """The engine takes a preview's Update answer as the resource's outputs (step.go, UpdateStep).
    Answering only the inputs made an API key's `sid` and `secret` unknown for a mere rename, so a
    secret holding that key's secret showed as replaced in the preview, which `up` then did not do."""
    keys = PluginEngine(plugin, "ApiKey")
    key = keys.create({"friendly_name": "ci"})
    diff, checked = keys.diff(key, {"friendly_name": "ci-renamed"})
    assert diff.changes == pb.DiffResponse.DIFF_SOME and not diff.replaces
    calls.reset()
    answer = keys.update(key, checked, preview=True)
    outs = from_struct(answer.properties)
    assert calls() == []
    assert outs["sid"] == key.id and outs["friendly_name"] == "ci-renamed"
    assert rpc.is_rpc_secret(outs["secret"]) and plain(outs)["secret"] == plain(key.outs)["secret"]
    assert outs["date_updated"] == rpc.UNKNOWN  # what the update does change is not known yet

    # What a secret holding that key's secret then sees: the same value, no change.
    secrets = PluginEngine(plugin, "AccountSecret")
    held = secrets.create({"key": "held-key", "value": plain(key.outs)["secret"]})
    resp, _ = secrets.diff(held, {"key": "held-key", "value": outs["secret"]})
    assert resp.changes == pb.DiffResponse.DIFF_NONE
    secrets.delete(held)
    keys.delete(key)


def test_preview_of_an_item_update_keeps_its_device_and_url(plugin: Plugin, calls) -> None:
    eng = PluginEngine(plugin, "DeviceConfig")
    state = eng.create({"device_sid": DEV1_SID, "key": "pvu", "value": "1"})
    # The program names the device by its unique name: the same device, so an update.
    updated = eng.up(state, {"device_sid": DEV1_NAME, "key": "pvu", "value": "2"}, preview=True)
    assert updated.history[-1] == "update"
    outs = updated.outs
    assert outs["value"] == "2" and outs["device_sid"] == DEV1_SID
    # A create by SID makes no device lookup (issue 20): the name is recorded by refresh, and the
    # preview keeps what the state has, whatever it is.
    assert outs.get("device_name") == state.outs.get("device_name")
    assert outs["url"] == state.outs["url"] and outs["claim"] == state.outs["claim"]
    assert outs["date_updated"] == rpc.UNKNOWN
    eng.delete(state)


# -- secrets on the wire ------------------------------------------------------------------------------------


def test_a_secret_nested_in_a_property_is_taken_and_kept_secret(plugin: Plugin, emu: Emulator) -> None:
    """With acceptSecrets the engine sends a secret where it sits, inside a policy too."""
    eng = PluginEngine(plugin, "ApiKey")
    inputs = {"key_type": "restricted", "policy": {"allow": [secret(PERMISSION)]}}
    checked = from_struct(eng.check(inputs).inputs)
    assert rpc.is_rpc_secret(checked["policy"])  # the whole property, as the engine marks arrays
    state = eng.create(inputs)
    assert rpc.is_rpc_secret(state.outs["policy"])
    assert plain(state.outs)["policy"] == {"allow": [PERMISSION]}
    eng.delete(state)


@pytest.mark.parametrize(
    "inputs,hidden",
    [
        ({"key_type": "restricted", "policy": secret({"allow": ["/twilio/ops team pin 4417"]})}, "4417"),
        ({"key_type": "restricted", "policy": {"allow": [secret("/twilio/ops team pin 4417")]}}, "4417"),
        ({"key_type": secret("restricted-pin-9931")}, "9931"),
    ],
)
def test_check_never_quotes_a_value_the_program_made_secret(plugin: Plugin, calls, inputs, hidden) -> None:
    with pytest.raises(CheckFailed) as err:
        PluginEngine(plugin, "ApiKey").check(inputs)
    text = str(err.value)
    assert hidden not in text
    assert "must not contain white space" in text or "must be one of 'standard', 'restricted'" in text
    assert calls() == []


def test_a_value_not_made_secret_is_still_quoted(plugin: Plugin) -> None:
    with pytest.raises(CheckFailed) as err:
        PluginEngine(plugin, "ApiKey").check({"key_type": "restricted", "policy": {"allow": ["/twilio/a b"]}})
    assert "'/twilio/a b' must not contain white space" in str(err.value)


def test_to_struct_round_trip_keeps_nested_unknowns() -> None:
    """Unknowns inside a property stay unknown through the translation (preview of a policy)."""
    inputs = {"policy": {"allow": [rpc.UNKNOWN]}}
    assert from_struct(to_struct(inputs)) == inputs


# -- moving a Python stack to the plugin --------------------------------------------------------------


@pytest.fixture
def plugin_stack(emu: Emulator) -> Iterator[dict[str, str]]:
    """A Python program's stack config with microvisor:plugin set (mocks: no engine, no plugin)."""
    mocks = ProviderMocks(host_config(emu))
    pulumi.runtime.set_mocks(mocks, project="fleet", stack="dev", monitor=EngineLikeMonitor(mocks))
    config = runtime_config.CONFIG.get()
    config["microvisor:plugin"] = "true"
    yield config
    for key in [k for k in config if k.startswith(("microvisor:", "twilio:"))]:
        config.pop(key, None)


def test_settings_left_in_the_twilio_namespace_stop_the_move(plugin_stack: dict[str, str]) -> None:
    """The README's move copies twilio:* to microvisor:*; forgotten, the plugin silently used the
    TWILIO_* environment (another account, or Twilio instead of the emulator), and a refresh there
    found every item gone and dropped it from the state."""
    plugin_stack.update(
        {
            "twilio:accountSid": "AC" + "1" * 32,
            "twilio:authToken": "token-left-behind-5150",
            "twilio:endpoint": "http://127.0.0.1:9",
            "microvisor:accountSid": "AC" + "1" * 32,
        }
    )
    with pytest.raises(Exception) as err:
        run_program(lambda: {"k": mv.AccountConfig("c", key="k", value="v").key})
    text = str(err.value)
    assert "twilio:authToken, twilio:endpoint are set but microvisor:authToken, microvisor:endpoint" in text
    assert "twilio:accountSid," not in text  # copied already
    assert "token-left-behind-5150" not in text

    # Copied: the program registers.
    plugin_stack.update({"microvisor:authToken": "token-left-behind-5150", "microvisor:endpoint": "x"})
    assert run_program(lambda: {"k": mv.AccountConfig("c", key="k", value="v").key})["k"][0] == "k"


# -- a credential pasted wrong ------------------------------------------------------------------------------


@pytest.mark.parametrize("token_text", ["5f2a\u20199c41-canary", "5f2a9c41-canary\n", "5f2a 9c41-canary"])
def test_a_credential_pasted_wrong_is_named_and_never_quoted(emulator: Emulator, calls, token_text) -> None:
    """A typographic quote in the Auth Token failed inside the HTTP library, whose words
    ("'latin-1' codec can't encode character '\\u2019' in position 4") quote part of the secret and
    name no setting. `pulumi preview` (CheckConfig) and every call now say which key, and nothing of it."""
    bad = {**plugin_config(emulator), "authToken": secret(token_text)}
    p = Plugin()
    try:
        resp = p.stub.CheckConfig(pb.CheckRequest(olds=to_struct({}), news=to_struct(plain(bad))))
        reasons = {f.property: f.reason for f in resp.failures}
        assert (
            list(reasons) == ["authToken"]
            and "microvisor:authToken must be printable ASCII" in reasons["authToken"]
        )
        p.configure(bad)
        with pytest.raises(grpc.RpcError) as err:
            PluginEngine(p, "AccountConfig").create({"key": "k", "value": "v"})
        text = err.value.details() + p.output_text() + str(reasons)
        assert "microvisor:authToken must be printable ASCII" in err.value.details()
        for part in ("\u2019", "\\u2019", "position", "9c41", "canary"):
            assert part not in text
        assert calls() == []
    finally:
        p.close()


# -- a diff that must see the change ------------------------------------------------------------------------


def test_dropping_key_type_from_a_restricted_key_asks_for_a_standard_one(plugin: Plugin, calls) -> None:
    """key_type's default is `standard` (schema, README): the program that no longer says
    `restricted` asks for a Standard key, and answering "no change" kept a key that is not it."""
    eng = PluginEngine(plugin, "ApiKey")
    state = eng.create({"friendly_name": "ro", "key_type": "restricted", "policy": {"allow": [PERMISSION]}})
    diff, _ = eng.diff(state, {"friendly_name": "ro"})
    assert diff.changes == pb.DiffResponse.DIFF_SOME
    assert list(diff.replaces) == ["key_type"] and not diff.deleteBeforeReplace
    assert diff.detailedDiff["key_type"].kind == pb.PropertyDiff.DELETE_REPLACE
    replaced = eng.up(state, {"friendly_name": "ro"})
    assert replaced.history[-1] == "create-delete" and replaced.id != state.id
    assert replaced.outs["key_type"] == "standard" and replaced.outs.get("policy") is None
    # Saying it again, or saying `standard`, is then no change; a restricted key kept as such neither.
    assert eng.diff(replaced, {"friendly_name": "ro"})[0].changes == pb.DiffResponse.DIFF_NONE
    assert (
        eng.diff(replaced, {"friendly_name": "ro", "key_type": "standard"})[0].changes
        == pb.DiffResponse.DIFF_NONE
    )
    eng.delete(replaced)


def test_preview_of_a_create_by_device_name_does_not_state_the_name_as_the_output(
    plugin: Plugin, calls
) -> None:
    """`device_sid` comes out of a create as the SID: a preview that answered the unique name told
    dependents a value `up` then changed (and `pulumi up --plan` refuses such a change)."""
    eng = PluginEngine(plugin, "DeviceSecret")
    by_name = eng.create({"device_sid": DEV1_NAME, "key": "pvc", "value": "s3cret-pvc"}, preview=True)
    assert by_name.outs["device_sid"] == rpc.UNKNOWN
    assert by_name.outs["key"] == "pvc" and rpc.is_rpc_secret(by_name.outs["value"])
    by_sid = eng.create({"device_sid": DEV1_SID, "key": "pvc", "value": "s3cret-pvc"}, preview=True)
    assert by_sid.outs["device_sid"] == DEV1_SID  # a SID is already the output
    assert calls() == []


# -- many calls at once -------------------------------------------------------------------------------------


def test_check_is_answered_while_more_creates_than_http_slots_wait(make_emulator) -> None:
    """The engine runs 4 x CPUs steps at once by default (`--parallel`), whatever maxConcurrency
    says; creates beyond the HTTP slots wait in the limiter, each holding a pool thread. With the
    pool sized maxConcurrency + 4 (never below 36) the engine's next Check (and Cancel) queued
    behind them until the slow create ended, and with it the engine's whole step generation."""
    slow = make_emulator()
    slow.add_fault(method="POST", path=r"^/v1/Configs$", delay=6, times=1)
    p = Plugin()
    try:
        p.configure(plugin_config(slow, maxConcurrency="1"))
        eng = PluginEngine(p, "AccountConfig")
        checked = [eng.check({"key": f"busy{i}", "value": "v"}).inputs for i in range(40)]
        creates = [
            p.stub.Create.future(
                pb.CreateRequest(urn=urn_for("AccountConfig", f"b{i}"), type=eng.type, properties=c)
            )
            for i, c in enumerate(checked)
        ]
        # Not a speed target: answered at all while the first create is held for 6 s, or not.
        answer = p.stub.Check(
            pb.CheckRequest(
                urn=urn_for("AccountConfig", "next"),
                type=eng.type,
                olds=to_struct({}),
                news=to_struct({"key": "next", "value": "v"}),
            ),
            timeout=3,
        )
        assert not answer.failures
        assert not any(f.done() for f in creates)  # they were all still out
        assert all(f.result(timeout=60).id for f in creates)
    finally:
        p.close()


def test_dropping_friendly_name_clears_it(plugin: Plugin, calls) -> None:
    eng = PluginEngine(plugin, "ApiKey")
    state = eng.create({"friendly_name": "named"})
    diff, _ = eng.diff(state, {})
    assert diff.changes == pb.DiffResponse.DIFF_SOME and not diff.replaces
    assert diff.detailedDiff["friendly_name"].kind == pb.PropertyDiff.DELETE
    previewed = eng.up(state, {}, preview=True)
    assert "friendly_name" not in previewed.outs  # unknown until the update clears it, not the old name
    assert previewed.outs["sid"] == state.id
    cleared = eng.up(state, {})
    assert cleared.history[-1] == "update" and cleared.id == state.id
    assert not cleared.outs.get("friendly_name")
    assert eng.diff(cleared, {})[0].changes == pb.DiffResponse.DIFF_NONE
    eng.delete(cleared)


def test_a_get_of_a_secret_warns_nothing_an_import_does(plugin: Plugin, emu: Emulator) -> None:
    """A `get` (ReadStep) sends its state as inputs, an empty Struct, where an import sends none
    (provider_plugin.go, Read): the import's "set 'value', the first up replaces it" is not for it."""
    emu.store.create_item("secret", "got", "s3cret-got", None)
    before = len(plugin.engine.logs)
    got = plugin.stub.Read(
        pb.ReadRequest(
            id="got",
            urn=urn_for("AccountSecret", "got"),
            type=token("AccountSecret"),
            properties=to_struct({}),
            inputs=to_struct({}),
        )
    )
    assert got.id == "got" and from_struct(got.properties)["key"] == "got"
    assert plugin.engine.logs[before:] == []
    read_by_id(plugin, "AccountSecret", "got")  # the import
    assert [
        m for _, m, _ in plugin.engine.logs[before:]
    ] and "imported without 'value'" in plugin.engine.messages()


# -- ownership across the processes of one deployment ---------------------------------------------------


def test_a_take_over_through_another_provider_is_not_deleted_by_the_first(
    emulator: Emulator, tmp_path
) -> None:
    """The engine starts the plugin once per provider. Resource `a` (default provider, made by an
    earlier `up`) leaves the program while `b`, on an explicit provider for the same account, takes
    its key over with overwrite=True: the engine creates `b`, then deletes `a` in the other process,
    which never saw `b`'s claim and deleted the item `b` now owns."""
    emulator.reset()
    earlier = Plugin()
    try:
        earlier.configure(plugin_config(emulator))
        a = PluginEngine(earlier, "AccountConfig").create({"key": "shared", "value": "from-a"}, name="a")
    finally:
        earlier.close()

    shared = {"TMPDIR": str(tmp_path)}
    default = Plugin(env=shared)
    explicit = Plugin(env=shared, engine=default.engine)
    try:
        default.configure(plugin_config(emulator))
        explicit.configure(plugin_config(emulator, maxConcurrency="4"))
        b = PluginEngine(explicit, "AccountConfig").create(
            {"key": "shared", "value": "from-b", "overwrite": True}, name="b"
        )
        PluginEngine(default, "AccountConfig").delete(a)
        assert emulator.store.get_item("config", "shared")["value"] == "from-b"
        # `b` itself is still deleted by its own provider, and its claim with it.
        PluginEngine(explicit, "AccountConfig").delete(b)
        with pytest.raises(StoreNotFound):
            emulator.store.get_item("config", "shared")
        assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    finally:
        explicit.close()
        default.close()


def test_claims_of_another_deployment_or_account_do_not_stop_a_delete(emulator: Emulator, tmp_path) -> None:
    emulator.reset()
    shared = {"TMPDIR": str(tmp_path)}
    first = Plugin(env=shared)
    try:
        first.configure(plugin_config(emulator))
        made = PluginEngine(first, "AccountConfig").create({"key": "own", "value": "v"})
    finally:
        first.close()
    # Another deployment (another engine) on the same machine: that claim is not its business.
    second = Plugin(env=shared)
    try:
        second.configure(plugin_config(emulator))
        taken = PluginEngine(second, "AccountConfig").create({"key": "own", "value": "w", "overwrite": True})
        PluginEngine(second, "AccountConfig").delete(taken)
        with pytest.raises(StoreNotFound):
            emulator.store.get_item("config", "own")
    finally:
        second.close()
    assert made.id == "own"


def test_a_get_with_partial_state_reads_the_item_its_id_names(plugin: Plugin, emu: Emulator) -> None:
    """A YAML `get: {id, state}` sends its hand-written state as properties and inputs; with a key
    but no device the read failed with "KeyError: 'device_sid'" and a traceback."""
    emu.store.create_item("config", "partial", "v", DEV1_SID)
    state = to_struct({"key": "partial"})
    got = plugin.stub.Read(
        pb.ReadRequest(
            id=f"{DEV1_SID}/partial",
            urn=urn_for("DeviceConfig", "got"),
            type=token("DeviceConfig"),
            properties=state,
            inputs=state,
        )
    )
    assert got.id == f"{DEV1_SID}/partial" and from_struct(got.properties)["value"] == "v"
    assert "Traceback" not in plugin.output_text()
