"""`microvisor-pulumi inventory` against a seeded fleet, and the round trip of the program it writes.

The round trip: inventory a 30-device MQTT/Azure fleet (two pages of devices at the emulator's
page size of 20), run the generated program under
`set_mocks` with every resource sent through the REAL provider host (tests/_host.py: check, then
create), and compare the emulator's state and request log before and after; then a second `up`
(check and diff against the stored state) must make no HTTP call at all.
"""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from _host import ROOT, Engine, ProviderHost, State, engine, from_struct, strip_secrets
from _inventory import inventory_env, run_inventory, run_program
from pulumi.runtime import rpc

from microvisor_pulumi.emulator import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, Emulator
from microvisor_pulumi.emulator.fleet import (
    ACCOUNT_CONFIGS,
    API_KEY_NAMES,
    DEVICE_CONFIG_KEYS,
    DEVICE_SECRET_KEYS,
    account_secrets,
    device_secrets,
    fleet_devices,
    seed_fleet,
)
from microvisor_pulumi.inventory import read_inventory, render
from microvisor_pulumi.inventory.cli import StderrCounter, main

# More than one page of devices: pages of 20 here, so that paging shows at half the cost of a fleet
# past Twilio's default of 50 (the inventory names no PageSize). The round trip's CPU is per resource.
FLEET_SIZE = 30
PAGE_SIZE = 20
EXAMPLE_DIR = ROOT / "examples" / "adopted-fleet"
RUFF = Path(sys.executable).with_name("ruff")


@pytest.fixture(scope="module")
def fleet(spec_validator: Any) -> Iterator[Emulator]:
    devices = fleet_devices(FLEET_SIZE)
    emu = Emulator(devices=devices, observer=spec_validator.observe, page_size=PAGE_SIZE).start()
    seed_fleet(emu.store, devices)
    yield emu
    emu.stop()


def snapshot(emu: Emulator) -> dict[str, Any]:
    """Everything on the emulated account, secret values included (read in-process, not over HTTP)."""
    store = emu.store
    scopes: list[str | None] = [None, *(r["sid"] for _, r in store.list_devices())]
    return {
        "devices": [r for _, r in store.list_devices()],
        "keys": [r for _, r in store.list_keys()],
        "configs": {s: {r["key"]: r["value"] for _, r in store.list_items("config", s)} for s in scopes},
        "secrets": {
            s: {
                r["key"]: store.secret_value_for_device(r["key"], s) for _, r in store.list_items("secret", s)
            }
            for s in scopes
        },
    }


# -- the mocks that forward to the real provider host ----------------------------------------------


def _plain(value: Any) -> Any:
    return rpc.unwrap_rpc_secret(value) if rpc.is_rpc_secret(value) else value


class HostMocks(pulumi.runtime.Mocks):
    """Each registration goes through the provider host as the engine would send it: create on the
    first run, check + diff (and update or replace if needed) against the stored state afterwards."""

    def __init__(self, host: ProviderHost) -> None:
        self.host = host
        self.states: dict[tuple[str, str], State] = {}
        self.steps: list[tuple[str, str]] = []  # (resource name, last step)
        # Built here, on one thread: serialize_provider swaps pickle.Pickler internals process-wide
        # while it runs, so calling it from the mocks' threads as the program registers resources
        # races with the program's own calls and can leave pickling broken for the whole session.
        kinds = ("AccountConfig", "AccountSecret", "DeviceConfig", "DeviceSecret")
        self._engines: dict[str, Engine] = {kind: engine(host, kind) for kind in kinds}
        self._lock = threading.Lock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = {k: _plain(v) for k, v in args.inputs.items()}
        pickled = inputs.pop("__provider")
        kind = args.typ.rsplit(":", 1)[1]
        with self._lock:
            prior = self.states.get((args.typ, args.name))
        # The program's own pickle, as the engine would send it (a copy: engines are shared by threads).
        eng = copy.copy(self._engines[kind])
        eng.provider_str = pickled
        state = eng.create(inputs, name=args.name) if prior is None else eng.up(prior, inputs)
        with self._lock:
            self.states[(args.typ, args.name)] = state
            self.steps.append((args.name, state.history[-1]))
        outs = strip_secrets(from_struct(state.outputs))
        outs.pop("__provider", None)
        return state.id, outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
        return {}


def _ruff_clean(folder: Path) -> None:
    for args in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [str(RUFF), *args, "--no-cache", str(folder)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"ruff {' '.join(args)}:\n{done.stdout}{done.stderr}"


# -- the round trip ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adopted(fleet: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Inventory, then the first `up` of the generated program through the real host."""
    out = tmp_path_factory.mktemp("adopt") / "greenhouse"
    before = snapshot(fleet)
    fleet.clear_request_log()
    rc, stdout, stderr = run_inventory(fleet, out)
    assert rc == 0, stderr
    inventory_log = fleet.request_log()

    # The values the user sets with set-secrets.sh: new ones, so that each write is visible.
    entries = render.secret_entries(read_inventory_offline(fleet))
    values = {}
    for entry in entries:
        old = before["secrets"][entry.device_sid][entry.key]
        values[entry.config_name] = "rotated:" + old
    host = ProviderHost()
    host.configure(
        {
            "twilio:accountSid": fleet.account_sid,
            "twilio:authToken": fleet.auth_token,
            "twilio:endpoint": fleet.url,
        }
    )
    observer, fleet.observer = fleet.observer, None
    try:
        # The inventory's reads were checked against the specs; the providers' writes are checked
        # by their own tests, and checking ~1,500 more responses here would double this fixture.
        mocks = HostMocks(host)
        fleet.clear_request_log()
        run_program(out, mocks, values)
        first_log = fleet.request_log()
        after_first = snapshot(fleet)
        fleet.clear_request_log()
        first_steps = list(mocks.steps)
        mocks.steps.clear()
        run_program(out, mocks, values)
        second_log = fleet.request_log()
        host_output = host.output_text()
    finally:
        fleet.observer = observer
        host.close()
    return {
        "out": out,
        "stdout": stdout,
        "stderr": stderr,
        "before": before,
        "after": after_first,
        "entries": entries,
        "values": values,
        "inventory_log": inventory_log,
        "first_log": first_log,
        "first_steps": first_steps,
        "second_log": second_log,
        "second_steps": list(mocks.steps),
        "host_output": host_output,
    }


def read_inventory_offline(emu: Emulator) -> Any:
    """The inventory as the command read it, re-read through the client (for the config names)."""
    from microvisor_pulumi._twilio import Settings, TwilioClient

    settings = Settings.resolve(config={}, environ={**inventory_env(emu), "TWILIO_ENDPOINT": emu.url})
    with TwilioClient(settings) as client:
        return read_inventory(client, emu.account_sid)


def test_inventory_reads_every_page_of_every_list(adopted, fleet):
    paths = [(r["method"], r["path"]) for r in adopted["inventory_log"]]
    assert all(method == "GET" for method, _ in paths)
    assert paths.count(("GET", "/v1/Devices")) == 2  # 30 devices: two pages of 20
    devices = {sid for sid, _ in fleet_devices(FLEET_SIZE)}
    for kind in ("Configs", "Secrets"):
        assert ("GET", f"/v1/{kind}") in paths
        assert {
            p.split("/")[3] for m, p in paths if p.endswith(f"/{kind}") and p.startswith("/v1/Devices/")
        } == devices
    assert ("GET", f"/2010-04-01/Accounts/{fleet.account_sid}/Keys.json") in paths
    assert len(paths) == 2 + 2 + 2 * FLEET_SIZE + 1


def test_round_trip_adopts_every_config_unchanged_and_writes_every_secret_once(adopted):
    before, after = adopted["before"], adopted["after"]
    n_devices = FLEET_SIZE
    expected = len(ACCOUNT_CONFIGS) + 1 + n_devices * (len(DEVICE_CONFIG_KEYS) + len(DEVICE_SECRET_KEYS))
    assert len(adopted["first_steps"]) == expected
    assert {step for _, step in adopted["first_steps"]} == {"create"}
    # Configs: every one adopted, no value changed; nothing added or removed.
    assert after["configs"] == before["configs"]
    # Secrets: the same keys, each now holding the value set in the stack config.
    assert {s: set(v) for s, v in after["secrets"].items()} == {
        s: set(v) for s, v in before["secrets"].items()
    }
    for entry in adopted["entries"]:
        assert after["secrets"][entry.device_sid][entry.key] == adopted["values"][entry.config_name]
    # ...written exactly once each (one successful value-carrying POST per secret).
    writes: dict[str, int] = {}
    for r in adopted["first_log"]:
        if r["method"] == "POST" and "/Secrets" in r["path"] and r["status"] in (200, 201):
            writes[r["path"]] = writes.get(r["path"], 0) + 1
    assert len(writes) == len(adopted["entries"]) and set(writes.values()) == {1}


def test_round_trip_touches_nothing_else(adopted):
    before, after = adopted["before"], adopted["after"]
    assert after["devices"] == before["devices"]
    assert after["keys"] == before["keys"]
    log = adopted["first_log"]
    assert not [r for r in log if r["method"] == "DELETE"]
    assert not [r for r in log if "/Keys" in r["path"]]
    # Every request addresses a declared item, its collection, or a device lookup.
    declared = {f"/v1/Configs/{k}" for k in ACCOUNT_CONFIGS} | {"/v1/Secrets/provisioning-token"}
    for sid, _ in fleet_devices(FLEET_SIZE):
        declared |= {f"/v1/Devices/{sid}/Configs/{k}" for k in DEVICE_CONFIG_KEYS}
        declared |= {f"/v1/Devices/{sid}/Secrets/{k}" for k in DEVICE_SECRET_KEYS}
    collections = {p.rsplit("/", 1)[0] for p in declared}
    devices = {f"/v1/Devices/{sid}" for sid, _ in fleet_devices(FLEET_SIZE)}
    stray = [(r["method"], r["path"]) for r in log if r["path"] not in declared | collections | devices]
    assert not stray
    assert not [r for r in log if r["path"] in devices and r["method"] != "GET"]


def test_second_up_makes_no_http_call(adopted):
    assert adopted["second_log"] == []
    assert len(adopted["second_steps"]) == len(adopted["first_steps"])
    assert {step for _, step in adopted["second_steps"]} == {"same"}


def test_nothing_secret_is_printed_or_written(adopted, fleet):
    files = {p.name: p.read_text() for p in adopted["out"].iterdir()}
    assert set(files) == {"Pulumi.yaml", "__main__.py", "requirements.txt", "ruff.toml", render.SECRETS_FILE}
    secret_values = [fleet.auth_token, *account_secrets().values()]
    for sid, _ in fleet_devices(FLEET_SIZE):
        secret_values += device_secrets(sid).values()
    secret_values += adopted["values"].values()
    for text in [*files.values(), adopted["stdout"], adopted["stderr"], adopted["host_output"]]:
        leaked = [v for v in secret_values if v in text]
        assert not leaked


def test_generated_program_is_a_table_with_overwrite_everywhere(adopted, fleet):
    program = (adopted["out"] / "__main__.py").read_text()
    compile(program, "__main__.py", "exec")
    _ruff_clean(adopted["out"])
    code = program.split('"""')[2]  # after the docstring
    assert code.count("overwrite=True") == 4  # the four loops
    assert "DEVICES = {" in program
    assert program.count("config.require_secret(") == 2
    for sid, name in fleet_devices(FLEET_SIZE):
        entry = (
            f'    "{sid}": {{\n        "name": {f"{name!r}".replace(chr(39), chr(34)) if name else "None"},'
        )
        assert entry in program
    # API keys are listed as comments with the reason, never declared.
    assert "ApiKey(" not in program.replace("declare a new ApiKey (", "")
    assert "secret once" in program
    for key in fleet.store.list_keys():
        assert f'#   {key[1]["sid"]} "{key[1]["friendly_name"]}"' in program
    assert {k[1]["friendly_name"] for k in fleet.store.list_keys()} == set(API_KEY_NAMES)


def test_secret_commands_are_listed_without_values(adopted):
    script = (adopted["out"] / render.SECRETS_FILE).read_text()
    commands = [line for line in script.splitlines() if line.startswith("pulumi config set --secret ")]
    names = [line.split()[-1] for line in commands]
    assert names == ["twilio:authToken", *(e.config_name for e in adopted["entries"])]
    assert len(set(names)) == len(names)
    assert "sensor-001-client-cert" in names and "account-provisioning-token" in names
    # Unnamed devices are named by SID.
    unnamed = [sid for sid, name in fleet_devices(FLEET_SIZE) if name is None]
    assert f"{unnamed[0].lower()}-client-key" in names
    assert adopted["stdout"].count("pulumi config set --secret ") == len(commands)


# -- the calls layout and the command line -----------------------------------------------------------


@pytest.mark.parametrize("layout", ["calls", "table"])
def test_the_program_refuses_credentials_of_another_account(make_emulator, tmp_path, monkeypatch, layout):
    """Every resource says overwrite=True, meant for the account the inventory read: run with another
    account's credentials (a CI variable, a stray TWILIO_ACCOUNT_SID) the program stops before it
    declares anything, as the sharded layout's does (test_adversary_shards.py)."""
    from _mocks import ProviderMocks

    devices = fleet_devices(2)
    emu = make_emulator(devices=devices)
    seed_fleet(emu.store, devices)
    out = tmp_path / "fleet"
    rc, _, stderr = run_inventory(emu, out, "--layout", layout, "--quiet")
    assert rc == 0, stderr
    values = {e.config_name: "v" for e in render.secret_entries(read_inventory_offline(emu))}
    mocks = ProviderMocks({"twilio:endpoint": emu.url})
    other = "AC" + "f" * 32
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", other)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", emu.auth_token)
    emu.clear_request_log()
    with pytest.raises(Exception, match=f"credentials are of account {other}"):
        run_program(out, mocks, values)
    assert mocks.created == [] and emu.request_log() == []
    # The account it was written for runs.
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", emu.account_sid)
    run_program(out, mocks, values)
    assert mocks.created


def test_small_fleet_gets_one_call_per_resource_and_runs(make_emulator, tmp_path):
    from _mocks import ProviderMocks

    devices = fleet_devices(2)
    emu = make_emulator(devices=devices)
    seed_fleet(emu.store, devices)
    emu.store.create_item("config", "quotes", "say \"hi\" and 'bye'\n\ttab \\ ключ\u2028", devices[0][0])
    emu.store.create_item("config", "long", "x" * 300)
    before = snapshot(emu)
    rc, _, stderr = run_inventory(emu, tmp_path / "small")
    assert rc == 0, stderr
    program = (tmp_path / "small" / "__main__.py").read_text()
    assert "DEVICES = {" not in program and program.split('"""')[2].count("overwrite=True") == 17
    assert f'# Device {devices[0][0]} ("sensor-001")' in program
    assert "x" * 300 in program
    _ruff_clean(tmp_path / "small")
    values = {e.config_name: "v" for e in render.secret_entries(read_inventory_offline(emu))}
    mocks = ProviderMocks(
        {"twilio:accountSid": emu.account_sid, "twilio:authToken": emu.auth_token, "twilio:endpoint": emu.url}
    )
    run_program(tmp_path / "small", mocks, values)
    assert len(mocks.created) == 17
    assert snapshot(emu)["configs"] == before["configs"]


def test_layout_threshold():
    from microvisor_pulumi.inventory import DeviceItems, Inventory

    def inv(n: int) -> Inventory:
        devices = tuple(DeviceItems(f"UV{i:032x}", None, {f"k{j}": "v" for j in range(n)}) for i in range(1))
        return Inventory("AC" + "0" * 32, {}, (), devices, ())

    assert render.choose_layout(inv(render.TABLE_THRESHOLD)) == "calls"
    assert render.choose_layout(inv(render.TABLE_THRESHOLD + 1)) == "table"
    assert render.choose_layout(inv(1), "table") == "table"
    with pytest.raises(ValueError, match="layout must be one of"):
        render.choose_layout(inv(1), "tree")


def test_config_names_stay_unique_when_slugs_collide():
    from microvisor_pulumi.inventory import DeviceItems, Inventory

    devices = (
        DeviceItems("UV" + "1" * 32, "a b", {}, ("k", "K")),
        DeviceItems("UV" + "2" * 32, "A-B", {}, ("k",)),
    )
    names = [e.config_name for e in render.secret_entries(Inventory("AC" + "0" * 32, {}, (), devices, ()))]
    assert names == ["a-b-k", "a-b-k-2", "a-b-k-3"]


def test_missing_credentials_fail_before_any_request(fleet, tmp_path):
    fleet.clear_request_log()
    stderr = io.StringIO()
    rc = main(
        ["--out", str(tmp_path / "x"), "--endpoint", fleet.url, "--account-sid", fleet.account_sid],
        environ={},
        stdin=io.StringIO(),
        stdout=io.StringIO(),
        stderr=stderr,
    )
    assert rc == 2 and "TWILIO_AUTH_TOKEN" in stderr.getvalue()
    assert fleet.request_log() == [] and not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("flags", "env", "named"),
    [
        (["--account-sid", "AC" + "0" * 32 + "\nimport os"], {"TWILIO_AUTH_TOKEN": "t"}, "account SID"),
        (["--api-key", "SK" + "1" * 32 + "\r#"], {"TWILIO_API_SECRET": "s"}, "--api-key"),
        # A trailing newline is the classic slip of a `^...$` pattern.
        (["--account-sid", "AC" + "0" * 32 + "\n"], {"TWILIO_AUTH_TOKEN": "t"}, "account SID"),
        (["--api-key", "SK" + "1" * 32 + "\n"], {"TWILIO_API_SECRET": "s"}, "--api-key"),
    ],
)
def test_credential_sids_that_are_not_sids_are_refused_before_any_request(fleet, tmp_path, flags, env, named):
    fleet.clear_request_log()
    stderr = io.StringIO()
    rc = main(
        ["--out", str(tmp_path / "x"), "--endpoint", fleet.url, *flags],
        environ={"TWILIO_ACCOUNT_SID": fleet.account_sid, **env},
        stdin=io.StringIO(),
        stdout=io.StringIO(),
        stderr=stderr,
    )
    assert rc == 2 and named in stderr.getvalue(), stderr.getvalue()
    assert fleet.request_log() == [] and not (tmp_path / "x").exists()


def test_wrong_token_is_reported_without_echoing_it(fleet, tmp_path):
    stderr = io.StringIO()
    rc = main(
        ["--out", str(tmp_path / "x"), "--endpoint", fleet.url, "--secret-stdin", "--quiet"],
        environ={"TWILIO_ACCOUNT_SID": fleet.account_sid},
        stdin=io.StringIO("not-the-token-at-all\n"),
        stdout=io.StringIO(),
        stderr=stderr,
    )
    assert rc == 2 and "401" in stderr.getvalue() and "not-the-token-at-all" not in stderr.getvalue()


def test_existing_project_is_not_replaced_without_force(make_emulator, tmp_path):
    fleet = make_emulator(devices=fleet_devices(2))
    out = tmp_path / "p"
    out.mkdir()
    (out / "__main__.py").write_text("# mine\n")
    rc, _, stderr = run_inventory(fleet, out, "--quiet")
    assert rc == 2 and "--force" in stderr
    assert (out / "__main__.py").read_text() == "# mine\n"
    rc, _, _ = run_inventory(fleet, out, "--quiet", "--force", "--project", "mine")
    assert rc == 0 and yaml.safe_load((out / "Pulumi.yaml").read_text())["name"] == "mine"


def test_module_entry_point_reads_the_secret_from_stdin(make_emulator, tmp_path):
    fleet = make_emulator(devices=fleet_devices(3))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "microvisor_pulumi",
            "inventory",
            "--out",
            str(tmp_path / "p"),
            "--secret-stdin",
        ],
        input=fleet.auth_token + "\n",
        env={"PATH": "/usr/bin:/bin", "TWILIO_ACCOUNT_SID": fleet.account_sid, "TWILIO_ENDPOINT": fleet.url},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(ROOT),
    )
    assert done.returncode == 0, done.stderr
    assert "Reading devices" not in done.stderr  # not a terminal: no progress counter
    assert "Read 3 devices" in done.stderr
    assert fleet.auth_token not in done.stdout + done.stderr
    assert (tmp_path / "p" / "__main__.py").is_file()


def test_progress_counter_only_draws_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        counter = StderrCounter(stream)
        for n in range(1, 301):
            counter(n, 300)
    assert pipe.getvalue() == ""
    drawn = tty.getvalue()
    assert drawn.startswith("\rReading devices: 1/300") and drawn.endswith("\rReading devices: 300/300\n")
    assert drawn.count("\r") < 20  # throttled, not one redraw per device


# -- the example under examples/ -------------------------------------------------------------------


def test_example_is_the_inventory_of_the_seeded_fleet(fleet, tmp_path):
    """examples/adopted-fleet is what the command writes for this fleet; set MICROVISOR_UPDATE_EXAMPLES=1
    to rewrite it after a deliberate change."""
    import os

    rc, _, stderr = run_inventory(fleet, tmp_path / "adopted-fleet", "--quiet")
    assert rc == 0, stderr
    fresh = {p.name: p.read_text() for p in (tmp_path / "adopted-fleet").iterdir()}
    if os.environ.get("MICROVISOR_UPDATE_EXAMPLES") == "1":
        EXAMPLE_DIR.mkdir(exist_ok=True)
        for name, text in fresh.items():
            (EXAMPLE_DIR / name).write_text(text)
    kept = {p.name: p.read_text() for p in EXAMPLE_DIR.iterdir() if p.is_file()}
    assert kept == fresh, "examples/adopted-fleet is stale: rerun with MICROVISOR_UPDATE_EXAMPLES=1"
    _ruff_clean(EXAMPLE_DIR)


def test_emulator_command_line_seeds_a_fleet_to_try_the_inventory_on(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "microvisor_pulumi.emulator", "--port", "0", "--fleet", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        stdout, stderr = io.StringIO(), io.StringIO()
        env = {"TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN}
        rc = main(
            ["--out", str(tmp_path / "p"), "--endpoint", url], environ=env, stdout=stdout, stderr=stderr
        )
        assert rc == 0, stderr.getvalue()
        assert "Read 4 devices, 14 Configs, 13 Secrets and 2 API keys" in stderr.getvalue()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_reading_devices_in_parallel_gives_the_same_inventory(make_emulator):
    from microvisor_pulumi._twilio import Settings, TwilioClient

    devices = fleet_devices(12)
    emu = make_emulator(devices=devices)
    seed_fleet(emu.store, devices)
    settings = Settings.resolve(config={}, environ={**inventory_env(emu), "TWILIO_ENDPOINT": emu.url})
    seen: list[tuple[int, int]] = []
    with TwilioClient(settings) as client:
        one = read_inventory(client, emu.account_sid, workers=1)
        four = read_inventory(client, emu.account_sid, lambda d, t: seen.append((d, t)), workers=4)
        with pytest.raises(ValueError, match="workers must be at least 1"):
            read_inventory(client, emu.account_sid, workers=0)
    assert one == four and len(one.devices) == 12
    assert seen == [(n, 12) for n in range(1, 13)]
    assert [d.unique_name for d in one.devices] == [f"sensor-{n:03d}" for n in range(1, 13)]


def test_package_command_line_names_its_commands(capsys):
    from microvisor_pulumi.__main__ import main as package_main

    assert package_main(["--help"]) == 0
    assert "inventory" in capsys.readouterr().out
    assert package_main([]) == 2
    assert package_main(["nope"]) == 2
    assert "unknown command 'nope'" in capsys.readouterr().err


# -- items the provider would refuse, and remote text that must not escape its comment ---------------

# Twilio (and the emulator) accept these keys and values; the provider's `check` refuses them.
REFUSED_ACCOUNT_CONFIGS = {"tab\there": "v", ".": "dot", "nul-value": "a\x00b", "line\nbreak": "v"}
REFUSED_ACCOUNT_SECRETS = ("..", "cr\rkey")
REFUSED_DEVICE_CONFIGS = {"\r": "v", "nel\x85": "v"}
REFUSED_DEVICE_SECRETS = ("a\tb",)
# Odd but valid: kept, and escaped wherever they are written.
KEPT_ACCOUNT_CONFIGS = {"sep\u2028key": "multi\nline", "quote\"'": "tab\tin value"}
ODD_NAME = "evil\nname\r\u2028\x00\u202e"
# Characters that end a line for Python (\n, \r), for str.splitlines (\u2028, \x85), or that break
# the file (NUL), or that reorder text on screen (U+202E).
HOSTILE = ("\n", "\r", "\u2028", "\x85", "\x00", "\u202e", "\x1b")


def _odd_fleet(make_emulator: Any) -> tuple[Emulator, list[tuple[str, str | None]]]:
    devices = [*fleet_devices(2), ("UV" + "e" * 32, ODD_NAME)]
    emu = make_emulator(devices=devices)
    seed_fleet(emu.store, devices[:2])
    for key, value in {**REFUSED_ACCOUNT_CONFIGS, **KEPT_ACCOUNT_CONFIGS}.items():
        emu.store.create_item("config", key, value)
    for key in REFUSED_ACCOUNT_SECRETS:
        emu.store.create_item("secret", key, "s3cret-odd")
    odd_sid = devices[2][0]
    for key, value in REFUSED_DEVICE_CONFIGS.items():
        emu.store.create_item("config", key, value, odd_sid)
    emu.store.create_item("config", "fine", "kept", odd_sid)
    for key in REFUSED_DEVICE_SECRETS:
        emu.store.create_item("secret", key, "s3cret-odd", odd_sid)
    emu.store.create_item("secret", "fine-secret", "s3cret-odd", odd_sid)
    return emu, devices


def _assert_every_line_is_plain_text(text: str, where: str) -> None:
    """No line of a written file holds a control, separator or bidi character: remote text is escaped."""
    for n, line in enumerate(text.split("\n"), start=1):
        assert line.isprintable(), f"{where}:{n} holds an unescaped character: {line!r}"
        assert not [ch for ch in HOSTILE if ch in line], f"{where}:{n}: {line!r}"


def _comments(program: str) -> list[str]:
    import tokenize

    tokens = tokenize.generate_tokens(io.StringIO(program).readline)
    return [t.string for t in tokens if t.type == tokenize.COMMENT]


@pytest.mark.parametrize("layout", ["calls", "table"])
def test_items_the_provider_refuses_are_left_out_and_the_rest_deploys(make_emulator, tmp_path, layout):
    from _mocks import ProviderMocks

    emu, devices = _odd_fleet(make_emulator)
    before = snapshot(emu)
    out = tmp_path / "odd"
    # --quiet silences the summary and the commands, not the warning.
    quiet = ["--quiet"] if layout == "table" else []
    rc, stdout, stderr = run_inventory(emu, out, "--layout", layout, *quiet)
    assert rc == 0, stderr
    assert (stdout == "") == bool(quiet)
    # Every refused item is named (escaped) in a warning on stderr, with the rule it breaks.
    warning = stderr.split("warning:", 1)[1]
    n_refused = (
        len(REFUSED_ACCOUNT_CONFIGS)
        + len(REFUSED_ACCOUNT_SECRETS)
        + len(REFUSED_DEVICE_CONFIGS)
        + len(REFUSED_DEVICE_SECRETS)
    )
    assert f"left out {n_refused} items" in warning
    for shown in ('"tab\\there"', '"."', '"nul-value"', '"line\\nbreak"', '".."', '"cr\\rkey"'):
        assert shown in warning
    for shown in ('"\\r"', '"nel\\x85"', '"a\\tb"'):
        assert f"{devices[2][0]}/{shown}" in warning
    assert "'value' must not contain NUL characters" in warning
    assert "'key' must not be '.' or '..'" in warning
    assert "'key' must not contain control characters" in warning
    assert "s3cret-odd" not in stdout + stderr
    program = (out / "__main__.py").read_text()
    # ...and listed in the program as comments that say why.
    assert program.count("#   ") >= n_refused
    assert "'value' must not contain NUL characters" in program
    for name, text in [(p.name, p.read_text()) for p in out.iterdir()]:
        _assert_every_line_is_plain_text(text, name)
    for comment in _comments(program):
        assert comment.isprintable()
    compile(program, "__main__.py", "exec")
    _ruff_clean(out)
    # Refused Secrets get no stack config and no `pulumi config set` line.
    entries = render.secret_entries(read_inventory_offline(emu))
    assert {e.key for e in entries} == {"provisioning-token", "fine-secret", *DEVICE_SECRET_KEYS}
    script = (out / render.SECRETS_FILE).read_text()
    commands = [line for line in script.splitlines() if line.startswith("pulumi config set --secret ")]
    assert len(commands) == 1 + len(entries)
    # Every resource the program declares passes the provider's check (ProviderMocks raises on a
    # failure) and is created against the emulator: one odd item no longer stops the whole fleet.
    mocks = ProviderMocks(
        {"twilio:accountSid": emu.account_sid, "twilio:authToken": emu.auth_token, "twilio:endpoint": emu.url}
    )
    run_program(out, mocks, {e.config_name: "v" for e in entries})
    kept = 2 + len(KEPT_ACCOUNT_CONFIGS) + 1 + 2 * 6 + 2
    assert len(mocks.created) == kept
    created = {(typ.rsplit(":", 1)[1], inputs["key"]) for typ, _, inputs in mocks.created}
    assert ("AccountConfig", "sep\u2028key") in created and ("DeviceConfig", "fine") in created
    assert not {k for _, k in created} & {*REFUSED_ACCOUNT_CONFIGS, *REFUSED_ACCOUNT_SECRETS}
    assert not {k for _, k in created} & {*REFUSED_DEVICE_CONFIGS, *REFUSED_DEVICE_SECRETS}
    # The refused items are still there, untouched; the kept Configs keep their values.
    after = snapshot(emu)
    assert after["configs"] == before["configs"]
    assert set(after["secrets"][None]) == set(before["secrets"][None])


def test_a_sharded_layout_leaves_out_the_same_items_and_warns(make_emulator, tmp_path):
    # The sharded layout writes data files instead of one program: the refused items must be left
    # out of every stack file and named on stderr all the same (even with --quiet).
    emu, _ = _odd_fleet(make_emulator)
    out = tmp_path / "sharded"
    rc, _, stderr = run_inventory(emu, out, "--devices-per-stack", "2", "--quiet")
    assert rc == 0, stderr
    refused = {
        *REFUSED_ACCOUNT_CONFIGS,
        *REFUSED_ACCOUNT_SECRETS,
        *REFUSED_DEVICE_CONFIGS,
        *REFUSED_DEVICE_SECRETS,
    }
    assert f"left out {len(refused)} items" in stderr.split("warning:", 1)[1]
    written = [json.loads(p.read_text()) for p in (out / "stacks").glob("*.json")]
    assert written, "no stack file was written"
    keys: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("key"), str):
                keys.add(node["key"])
            keys.update(k for k in node if isinstance(k, str))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    for data in written:
        collect(data)
    assert "fine" in keys  # the collection sees the kept items, so it would see the refused ones
    assert not keys & refused


class _HostileProxy:
    """A proxy in front of the emulator that adds records with forged SIDs to the device and key lists,
    as a broken or hostile endpoint (`--endpoint http://...`) could. A device it made up has no items."""

    def __init__(self, emu: Emulator, devices: list[dict[str, Any]], keys: list[dict[str, Any]]) -> None:
        import requests
        from _http_fixture import Canned, FakeTwilio, Received

        self.fake = FakeTwilio()
        self.url = self.fake.url

        def handle(req: Received) -> Canned:
            resp = requests.get(
                emu.url + req.raw_path, headers={"Authorization": req.headers["Authorization"]}, timeout=30
            )
            body = resp.json()
            if req.path == "/v1/Devices":
                body["devices"] = [*body["devices"], *devices]
            elif req.path.endswith("/Keys.json"):
                body["keys"] = [*body["keys"], *keys]
            elif resp.status_code == 404 and req.path.startswith("/v1/Devices/"):
                kind = req.path.rsplit("/", 1)[1].lower()
                return Canned(200, {kind: [], "meta": {"key": kind, "next_page_url": None}})
            return Canned(resp.status_code, body)

        self.fake.handler = handle

    def close(self) -> None:
        self.fake.close()


def test_forged_sids_are_reported_and_never_reach_the_program(make_emulator, tmp_path):
    from _mocks import ProviderMocks

    marker = tmp_path / "PWNED"
    payload = f"import pathlib; pathlib.Path({str(marker)!r}).touch()  #"
    good = "UV" + "a" * 32
    forged_devices = [
        {"sid": good + "\n" + payload, "unique_name": None},
        {"sid": good + "\r" + payload, "unique_name": "x"},
        {"sid": "UV" + "b" * 32 + "\u2028" + payload, "unique_name": None},
        {"sid": "UV\x00" + "c" * 31, "unique_name": None},
        {"sid": "../Configs", "unique_name": None},
        {"sid": 12345, "unique_name": None},
    ]
    forged_keys = [
        {"sid": "SK" + "d" * 32 + "\n" + payload, "friendly_name": "k"},
        {"sid": "SK" + "e" * 32 + "\x1b[2J", "friendly_name": None},
        {"sid": "SK" + "f" * 32, "friendly_name": "ok\nname\u2028\x00"},  # valid SID: listed, escaped
    ]
    refused_only = "UV" + "9" * 32
    emu = make_emulator(devices=[(good, "good\u2028name\n"), (refused_only, None)])
    emu.store.create_item("config", "k", "v", good)
    emu.store.create_item("config", "\n", "v", refused_only)
    proxy = _HostileProxy(emu, forged_devices, forged_keys)
    try:
        stdout, stderr = io.StringIO(), io.StringIO()
        rc = main(
            ["--out", str(tmp_path / "p"), "--endpoint", proxy.url, "--layout", "calls"],
            environ=inventory_env(emu),
            stdin=io.StringIO(),
            stdout=stdout,
            stderr=stderr,
        )
    finally:
        proxy.close()
    err = stderr.getvalue()
    assert rc == 0, err
    # Each forged SID is reported, escaped; a forged device's items are not even asked for.
    warning = err.split("warning:", 1)[1]
    assert "left out 9 items" in warning
    assert "'sid' must be a Device SID (UV + 32 hex digits)" in warning
    assert "'sid' must be an API key SID (SK + 32 hex digits)" in warning
    assert '"UV\\x00ccc' in warning and "12345" in warning and '"../Configs"' in warning
    _assert_every_line_is_plain_text(err, "stderr")
    _assert_every_line_is_plain_text(stdout.getvalue(), "stdout")
    asked = [r.path for r in proxy.fake.received]
    assert sorted(p for p in asked if p.startswith("/v1/Devices/")) == [
        f"/v1/Devices/{refused_only}/Configs",
        f"/v1/Devices/{refused_only}/Secrets",
        f"/v1/Devices/{good}/Configs",
        f"/v1/Devices/{good}/Secrets",
    ]
    out = tmp_path / "p"
    for path in out.iterdir():
        _assert_every_line_is_plain_text(path.read_text(), path.name)
    program = (out / "__main__.py").read_text()
    for comment in _comments(program):
        assert comment.isprintable()
    assert f"#   SK{'f' * 32} " in program  # the valid key is still listed
    assert (
        f"# Device {refused_only} (no unique name)\n# (none that can be adopted: see Left out above)"
        in program
    )
    compile(program, "__main__.py", "exec")
    _ruff_clean(out)
    # The program runs (its one resource passes check and is created) and runs nothing else.
    mocks = ProviderMocks(
        {"twilio:accountSid": emu.account_sid, "twilio:authToken": emu.auth_token, "twilio:endpoint": emu.url}
    )
    run_program(out, mocks, {})
    assert [(typ.rsplit(":", 1)[1], name) for typ, name, _ in mocks.created] == [
        ("DeviceConfig", f"{good}/k")
    ]
    assert not marker.exists()


def test_render_escapes_sids_given_directly():
    """The renderer does not rely on the reader's checks: an Inventory built by hand with a broken
    SID still yields files whose every line is plain text."""
    from microvisor_pulumi.inventory import ApiKeyInfo, DeviceItems, Inventory

    bad = "UV" + "1" * 32 + "\nimport os  #"
    inv = Inventory(
        "AC" + "0" * 32,
        {},
        (),
        (DeviceItems(bad, None, {"k": "v"}, ("s",)),),
        (ApiKeyInfo("SK" + "2" * 32 + "\r\u2028x", "n\n"),),
    )
    for layout in ("calls", "table"):
        program = render.render_program(inv, layout)
        _assert_every_line_is_plain_text(program, layout)
        compile(program, "__main__.py", "exec")
    script = render.render_secrets_script(inv)
    _assert_every_line_is_plain_text(script, render.SECRETS_FILE)
    names = [
        line.split()[-1] for line in script.splitlines() if line.startswith("pulumi config set --secret ")
    ]
    assert all(re.fullmatch(r"[a-z0-9:-]+", n, re.IGNORECASE) for n in names), names
    # The last guard, should an escape ever be missed: no file is written with such a line.
    with pytest.raises(ValueError, match="line 2 holds an unescaped control character"):
        render.plain_text("ok\n# Device UV\rimport os\n", "__main__.py")


def test_the_providers_sid_rules_match_the_whole_text():
    """The inventory's SID checks and the provider's are the same patterns; a trailing newline is no SID."""
    from microvisor_pulumi.resources._schema import check_account_sid, check_device

    assert check_device("UV" + "a" * 32) is None and check_account_sid("AC" + "a" * 32) is None
    assert "control characters" in str(check_device("UV" + "a" * 32 + "\n"))
    assert check_account_sid("AC" + "a" * 32 + "\n") is not None


@pytest.mark.parametrize("via_flag", [True, False])
def test_plain_http_endpoint_to_another_machine_is_refused_before_any_request(tmp_path, via_flag):
    # 192.0.2.0/24 is for documentation: nothing is ever contacted, the refusal comes first.
    url = "http://192.0.2.10:8080"
    env = {"TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "tok-never-shown"}
    argv = ["--out", str(tmp_path / "x"), "--quiet"]
    if via_flag:
        argv += ["--endpoint", url]
    else:
        env["TWILIO_ENDPOINT"] = url
    stderr = io.StringIO()
    rc = main(argv, environ=env, stdin=io.StringIO(), stdout=io.StringIO(), stderr=stderr)
    text = stderr.getvalue()
    assert rc == 2 and "clear text" in text and "--allow-insecure-endpoint" in text
    assert ("--endpoint" if via_flag else "TWILIO_ENDPOINT") in text
    assert "tok-never-shown" not in text and not (tmp_path / "x").exists()


def test_allow_insecure_endpoint_flag_lets_plain_http_through_with_a_warning(tmp_path):
    from microvisor_pulumi.inventory.cli import build_parser, resolve_settings

    args = build_parser().parse_args(
        ["--out", str(tmp_path / "x"), "--endpoint", "http://192.0.2.10:8080", "--allow-insecure-endpoint"]
    )
    stderr = io.StringIO()
    env = {"TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "tok-never-shown"}
    settings = resolve_settings(args, env, io.StringIO(), stderr)
    assert settings.endpoint == "http://192.0.2.10:8080" and settings.allow_insecure_endpoint
    assert "warning" in stderr.getvalue() and "unencrypted" in stderr.getvalue()
    assert "tok-never-shown" not in stderr.getvalue()
