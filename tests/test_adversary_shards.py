"""Adversary tests for `inventory --devices-per-stack`: what a renamed device, a careless re-run or an
odd stack name must not do to the one-owner rule.

Each test builds a small fleet of its own in an emulator, runs the inventory command, and deploys
through the real provider host (tests/_shards.py), so what is checked is what Twilio ends up holding.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _host import ProviderHost
from _inventory import run_inventory
from _shards import ShardMocks, configured_host, single_stack_config, stack_config

from microvisor_pulumi.emulator import Emulator
from microvisor_pulumi.emulator.fleet import fleet_devices, seed_fleet
from microvisor_pulumi.inventory import shards


def _fleet(make_emulator: Any, count: int, *, spec_checked: bool = True) -> tuple[Emulator, list[Any]]:
    """An emulator seeded with `count` fleet devices and their items. `spec_checked=False` for tests
    that deploy: the providers' writes are checked against the spec by their own tests."""
    devices = fleet_devices(count)
    emu = make_emulator(devices=devices)
    seed_fleet(emu.store, devices)
    if not spec_checked:
        emu.observer = None
    return emu, devices


def _inventory_ok(emu: Emulator, out: Path, *extra: str) -> str:
    """An inventory run that must succeed; its stdout."""
    rc, stdout, stderr = run_inventory(emu, out, *extra)
    assert rc == 0, stderr
    return stdout


def _deploy_all(mocks: ShardMocks, out: Path) -> dict[str, dict[str, str]]:
    """`up` of every stack once, with the config set-secrets.sh stores; that config, by stack."""
    config = {stack: stack_config(out, stack) for stack in shards.read_stacks(out)}
    for stack, values in config.items():
        mocks.up(out, stack, values)
    return config


@pytest.fixture
def host_for() -> Iterator[Any]:
    hosts: list[ProviderHost] = []

    def make(emu: Emulator) -> ProviderHost:
        host = configured_host(emu)
        hosts.append(host)
        return host

    yield make
    for host in hosts:
        host.close()


def test_swapping_two_devices_names_does_not_swap_their_secrets(make_emulator, host_for, tmp_path):
    """A Secret's stack-config name was made from its device's unique name. Two devices that trade
    names (on Twilio, with a third name in between) traded config names on the next inventory run:
    each stack config still held the values set for the old names, so the next `up` wrote one
    device's certificate and key onto the other. A re-run keeps the names the stack files record."""
    emu, devices = _fleet(make_emulator, 3, spec_checked=False)
    out = tmp_path / "fleet"
    _inventory_ok(emu, out, "--devices-per-stack", "10", "--quiet")
    mocks = ShardMocks(host_for(emu))
    config = _deploy_all(mocks, out)  # what set-secrets.sh stored, once
    stacks = list(config)
    (a, name_a), (b, name_b) = devices[0], devices[1]
    before = {sid: emu.store.secret_value_for_device("client-key", sid) for sid in (a, b)}
    assert before[a] != before[b]

    emu.store.update_device(a, unique_name="temporary")
    emu.store.update_device(b, unique_name=name_a)
    emu.store.update_device(a, unique_name=name_b)
    _inventory_ok(emu, out, "--devices-per-stack", "10", "--quiet")
    for stack in stacks:
        steps = mocks.up(out, stack, config[stack])  # the stack configs did not change
        assert {step for _, step in steps} == {"same"}, steps
    assert {sid: emu.store.secret_value_for_device("client-key", sid) for sid in (a, b)} == before
    # The names the stack files keep are the ones set-secrets.sh sets.
    script = (out / "set-secrets.sh").read_text()
    for stack in stacks:
        for name in config[stack]:
            assert f"--secret {name}\n" in script


def test_hand_edited_config_names_are_refused(make_emulator, tmp_path):
    """The kept names are read from files edited by hand and written into shell scripts: a name that
    is not a plain config name, or one name read by two Secrets (a `config cp` into a stack that
    uses it would replace another Secret's value), is refused before the account is read."""
    emu, devices = _fleet(make_emulator, 2)
    out = tmp_path / "fleet"
    _inventory_ok(emu, out, "--devices-per-stack", "1", "--quiet")
    path = out / "stacks" / "shard-000.json"
    good = path.read_text()
    data = json.loads(good)
    sid = next(iter(data["devices"]))
    other = json.loads((out / "stacks" / "shard-001.json").read_text())
    taken = next(iter(next(iter(other["devices"].values()))["secrets"].values()))
    for name, message in (
        ("x$(touch pwned)", "reads config 'x$(touch pwned)'"),
        ("-rf", "reads config '-rf'"),
        (taken, f"config name {taken!r} is read by both"),
    ):
        data["devices"][sid]["secrets"]["client-key"] = name
        path.write_text(json.dumps(data))
        emu.clear_request_log()
        rc, _, stderr = run_inventory(emu, out, "--devices-per-stack", "1", "--quiet")
        assert rc == 2 and message in stderr, stderr
        assert emu.request_log() == []
        with pytest.raises(shards.ShardError, match=re.escape(message)):
            shards.load_stack("shard-001", out)
    path.write_text(good)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_plain_inventory_never_replaces_a_sharded_program(make_emulator, host_for, tmp_path):
    """`inventory --force` without --devices-per-stack into a sharded folder wrote the single-stack
    program over the sharded one: every shard's next `up` then declared the whole account and
    adopted (overwrite=True) what the other stacks own, and ignored pending moves."""
    emu, devices = _fleet(make_emulator, 4, spec_checked=False)
    out = tmp_path / "fleet"
    _inventory_ok(emu, out, "--devices-per-stack", "2", "--quiet")
    before = {p: p.read_text() for p in out.rglob("*") if p.is_file()}
    emu.clear_request_log()
    rc, _, stderr = run_inventory(emu, out, "--force", "--quiet")
    assert rc == 2 and "sharded" in stderr and "--devices-per-stack" in stderr, stderr
    assert emu.request_log() == []  # refused before the account is read
    assert {p: p.read_text() for p in out.rglob("*") if p.is_file()} == before
    # What the refusal prevents: each stack declares only what its own file lists.
    mocks = ShardMocks(host_for(emu))
    owners = {sid: name for name, data in shards.read_stacks(out).items() for sid in data.devices}
    for stack in shards.read_stacks(out):
        for name, _ in mocks.up(out, stack, stack_config(out, stack)):
            owner = name.split("/", 1)[0]
            assert owner == "account" if stack == "account" else owners[owner] == stack


def test_sharding_over_a_single_stack_program_needs_split_stack(make_emulator, tmp_path):
    """`--devices-per-stack --force` over the plain inventory's program replaced it without moving
    anything: the stack that deployed it kept every resource in its state (its `pulumi destroy`
    deletes them from Twilio, no program run) while the new stacks adopted the same items."""
    emu, devices = _fleet(make_emulator, 3)
    out = tmp_path / "greenhouse"
    _inventory_ok(emu, out, "--quiet")
    program = (out / "__main__.py").read_text()
    emu.clear_request_log()
    rc, _, stderr = run_inventory(emu, out, "--devices-per-stack", "2", "--force", "--quiet")
    assert rc == 2 and "--split-stack" in stderr, stderr
    assert emu.request_log() == [] and not (out / "stacks").exists()
    assert (out / "__main__.py").read_text() == program
    # A program of the user's own is still theirs to replace with --force.
    (out / "__main__.py").write_text("import pulumi\n")
    _inventory_ok(emu, out, "--devices-per-stack", "2", "--force", "--quiet")


def test_split_stack_name_is_a_stack_name_and_its_urns_use_the_bare_name(make_emulator, tmp_path):
    """--split-stack went unquoted into every `config cp` and `state move` line of the move script,
    and whole into the URNs: `dev;touch pwned` ran a command, and `acme/dev` (an organisation's
    stack) gave URNs no stack holds, which `pulumi state move` only warns about."""
    emu, devices = _fleet(make_emulator, 2)
    out = tmp_path / "greenhouse"
    _inventory_ok(emu, out, "--quiet")
    for bad in ("dev;touch pwned", "dev$(touch pwned)", "dev\nrm -rf stacks", "-dev", "acme/other/dev", ""):
        emu.clear_request_log()
        rc, _, stderr = run_inventory(emu, out, "--devices-per-stack", "5", f"--split-stack={bad}", "--quiet")
        assert rc == 2 and "--split-stack" in stderr and "stack name" in stderr, (bad, stderr)
        assert emu.request_log() == [] and not (out / "stacks").exists()
    stdout = _inventory_ok(emu, out, "--devices-per-stack", "5", "--split-stack", "acme/dev")
    lines = [shlex.split(line) for line in stdout.splitlines() if line.startswith("pulumi ")]
    moves = [words for words in lines if words[:3] == ["pulumi", "state", "move"]]
    assert moves and all(words[words.index("--source") + 1] == "acme/dev" for words in moves)
    urns = [w for words in moves for w in words if w.startswith("urn:")]
    assert urns and all(u.startswith("urn:pulumi:dev::greenhouse::") for u in urns)


def test_one_device_sid_in_two_cases_gets_one_owner(make_emulator, tmp_path):
    """SIDs are matched with either case of hex digits (the provider accepts both), so `UVab..` and
    `UVAB..` name one device. An endpoint listing both put them in two shards, each stack then owning
    the same device's items; a stack file edited to hold the other case passed the one-owner check."""
    (sid, name), (other, _) = fleet_devices(2)
    upper = "UV" + sid[2:].upper()
    emu = make_emulator(devices=[(sid, name), (upper, None), (other, None)])
    emu.observer = None
    out = tmp_path / "fleet"
    rc, _, stderr = run_inventory(emu, out, "--devices-per-stack", "1")
    assert rc == 0, stderr
    owners = {s.lower(): stack for stack, data in shards.read_stacks(out).items() for s in data.devices}
    listed = [s for data in shards.read_stacks(out).values() for s in data.devices]
    assert len(listed) == 2 and set(owners) == {sid.lower(), other.lower()}, listed
    assert "listed twice" in stderr
    # A stack file edited by hand to list the device again, in the other case, is refused.
    path = out / "stacks" / f"{owners[other.lower()]}.json"
    data = json.loads(path.read_text())
    data["devices"][upper if sid in listed else sid] = {"name": None, "configs": {}, "secrets": {}}
    path.write_text(json.dumps(data))
    with pytest.raises(shards.ShardError, match="one device, one owner"):
        shards.read_stacks(out)


HOSTILE = ("\n", "\r", "\u2028", "\u2029", "\x85", "\x00", "\u202e", "\u2066", "\x1b")


def test_every_line_of_the_sharded_layout_is_printable(make_emulator, tmp_path):
    """The stack files were written with ensure_ascii=False: JSON escapes only C0 controls, so a unique
    name or a Config value holding U+202E (which reorders a line as a reviewer sees it in a diff),
    U+2028 or NEL (line ends for str.splitlines) reached the committed files as they came."""
    odd = "evil\nname\r\u2028\x85\x00\u202e\u2066"
    devices = [*fleet_devices(2), ("UV" + "e" * 32, odd)]
    emu = make_emulator(devices=devices)
    seed_fleet(emu.store, devices[:2])
    emu.store.create_item("config", "sep\u2028key", "multi\nline\u202eevil")
    emu.store.create_item("config", "bidi\u202ekey", "x\u2029y", devices[2][0])
    emu.store.create_item("secret", "sep\u2028secret", "s3cret", devices[2][0])
    out = tmp_path / "fleet"
    _inventory_ok(emu, out, "--devices-per-stack", "2", "--quiet")
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 8
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            assert line.isprintable() and not [c for c in HOSTILE if c in line], f"{path}:{n}: {line!r}"
    # Escaped, not dropped: the items come back whole.
    stacks = shards.read_stacks(out)
    assert stacks["account"].account_configs["sep\u2028key"] == "multi\nline\u202eevil"
    (device,) = [d for s in stacks.values() for sid, d in s.devices.items() if sid == devices[2][0]]
    assert device["name"] == odd and device["configs"]["bidi\u202ekey"] == "x\u2029y"
    assert "sep\u2028secret" in device["secrets"]


def test_move_script_lines_are_printable_and_give_pulumi_the_exact_urns(make_emulator, tmp_path):
    """A key may hold U+2028 or U+202E (the check keeps them); the URN built from it went raw into
    move-resources.sh. The script now spells such characters as printf octal escapes: every line is
    printable, and /bin/sh still hands `pulumi state move` the exact URN."""
    emu, devices = _fleet(make_emulator, 2)
    odd_keys = ("sep\u2028key", "bidi\u202e'%s\\n")
    for sid, _ in devices:
        for key in odd_keys:
            emu.store.create_item("config", key, "v", sid)
    out = tmp_path / "fleet"
    _inventory_ok(emu, out, "--devices-per-stack", "2", "--quiet")
    _inventory_ok(emu, out, "--devices-per-stack", "1", "--reshard", "--quiet")
    script = out / shards.MOVE_SCRIPT
    for n, line in enumerate(script.read_text(encoding="utf-8").split("\n"), start=1):
        assert line.isprintable() and not [c for c in HOSTILE if c in line], f"{n}: {line!r}"
    # Run it with a `pulumi` that records its arguments.
    fake = "pulumi() { for a in \"$@\"; do printf '%s\\037' \"$a\"; done; printf '\\036'; }\n"
    text = script.read_text(encoding="utf-8").replace("set -e\n", "set -e\n" + fake, 1)
    runnable = out / "run.sh"
    runnable.write_text(text, encoding="utf-8")
    done = subprocess.run(["/bin/sh", str(runnable)], cwd=tmp_path, capture_output=True)  # from elsewhere
    assert done.returncode == 0, done.stderr
    calls = [c.split("\x1f")[:-1] for c in done.stdout.decode("utf-8").split("\x1e")[:-1]]
    urns = [a for call in calls if call[:2] == ["state", "move"] for a in call if a.startswith("urn:")]
    moved = [
        sid
        for sid, _ in devices
        if f"urn:pulumi:shard-000::fleet::{shards.TYPE_TOKENS['DeviceConfig']}::{sid}/prefs" in urns
    ]
    assert len(moved) == 1, urns
    for key in odd_keys:
        assert (
            shards.urn("shard-000", "fleet", shards.TYPE_TOKENS["DeviceConfig"], f"{moved[0]}/{key}") in urns
        )
    assert not (out / shards.STACKS_DIR / shards.PENDING_MOVES).exists()


def test_a_device_missing_from_the_listing_is_not_dropped_without_drop_missing(
    make_emulator, host_for, monkeypatch, tmp_path
):
    """A re-run dropped from its shard file every device the listing lacked, and the shard's next
    `up` deleted that device's Configs and Secrets from Twilio: a listing that leaves out a live
    device (a broken or hostile --endpoint) was enough. The same for one item of a listed device."""
    emu, devices = _fleet(make_emulator, 3, spec_checked=False)
    out = tmp_path / "fleet"
    _inventory_ok(emu, out, "--devices-per-stack", "2", "--quiet")
    mocks = ShardMocks(host_for(emu))
    config = _deploy_all(mocks, out)
    stacks = list(config)
    hidden, _ = devices[0]
    listed = emu.store.list_devices
    monkeypatch.setattr(emu.store, "list_devices", lambda: [d for d in listed() if d[1]["sid"] != hidden])
    emu.store.delete_item("config", "prefs", devices[1][0])  # and one item really deleted
    before = {p: p.read_text() for p in (out / "stacks").glob("*.json")}
    rc, _, stderr = run_inventory(emu, out, "--devices-per-stack", "2")
    assert rc == 2, stderr
    assert f"device {hidden} (shard-000) and its 6 items" in stderr
    assert f'{devices[1][0]} Config "prefs"' in stderr and "--drop-missing" in stderr
    assert {p: p.read_text() for p in (out / "stacks").glob("*.json")} == before
    # So the next `up` still declares the hidden device's items: nothing of it is deleted.
    for stack in stacks:
        steps = mocks.up(out, stack, config[stack])
        assert not [n for n, step in steps if step == "delete"], steps
    assert len(emu.store.list_items("config", hidden)) == 3
    # The operator's word drops both.
    _inventory_ok(emu, out, "--devices-per-stack", "2", "--drop-missing", "--quiet")
    owners = {sid for data in shards.read_stacks(out).values() for sid in data.devices}
    assert hidden not in owners and len(owners) == 2


def test_a_stack_file_names_its_devices_by_sid_only(make_emulator, tmp_path):
    """The providers take a unique name where a device SID goes, so a device added by hand under its
    unique name to a second shard passed the one-owner check (which compares SIDs) and gave the
    device two owners."""
    emu, devices = _fleet(make_emulator, 2)
    out = tmp_path / "fleet"
    _inventory_ok(emu, out, "--devices-per-stack", "1", "--quiet")
    stacks = shards.read_stacks(out)
    (sid,) = stacks["shard-000"].devices
    name = stacks["shard-000"].devices[sid]["name"]
    assert name
    path = out / "stacks" / "shard-001.json"
    data = json.loads(path.read_text())
    data["devices"][name] = {"name": name, "configs": {"prefs": "{}"}, "secrets": {}}
    path.write_text(json.dumps(data))
    with pytest.raises(shards.ShardError, match=f'"{name}": a device is listed by its SID'):
        shards.load_stack("shard-000", out)


@pytest.mark.parametrize("layout", ["calls", "table"])
def test_single_stack_rerun_and_split_keep_each_secrets_config_name(
    make_emulator, host_for, tmp_path, layout
):
    """The single-stack program has the same names from unique names: two devices that traded names
    traded Secrets on the next `inventory --force` and `up`, and `--split-stack` then copied each
    device's config name from the other's. The names the program being replaced reads are kept."""
    emu, devices = _fleet(make_emulator, 3, spec_checked=False)
    out = tmp_path / "fleet"
    _inventory_ok(emu, out, "--layout", layout, "--quiet")
    config = single_stack_config(out)
    mocks = ShardMocks(host_for(emu))
    mocks.up(out, "dev", config)
    (a, name_a), (b, name_b) = devices[0], devices[1]
    before = {sid: emu.store.secret_value_for_device("client-key", sid) for sid in (a, b)}
    emu.store.update_device(a, unique_name="temporary")
    emu.store.update_device(b, unique_name=name_a)
    emu.store.update_device(a, unique_name=name_b)
    _inventory_ok(emu, out, "--layout", layout, "--force", "--quiet")
    assert set(single_stack_config(out)) == set(config)
    steps = mocks.up(out, "dev", config)
    assert {step for _, step in steps} == {"same"}, steps
    assert {sid: emu.store.secret_value_for_device("client-key", sid) for sid in (a, b)} == before
    # Split: each new stack reads the very name `dev` holds the value under.
    stdout = _inventory_ok(emu, out, "--devices-per-stack", "2", "--split-stack", "dev")
    copied = {
        shlex.split(line)[-1]: shlex.split(line)[6]
        for line in stdout.splitlines()
        if line.startswith("pulumi config cp ")
    }
    for stack, data in shards.read_stacks(out).items():
        for sid, device in data.devices.items():
            for key, name in device["secrets"].items():
                assert copied[name] == stack and name in config, (sid, key, name)


def test_previous_names_are_read_as_literals_and_checked():
    """The names come from a file the user may edit and reach set-secrets.sh: only the inventory's own
    program is read, never run, and a name that is not a plain config name is not kept."""
    from dataclasses import replace

    from microvisor_pulumi.inventory import DeviceItems, Inventory, render

    sid = "UV" + "a" * 32
    program = (
        f"# {render.SINGLE_STACK_MARK}\n"
        f"DeviceSecret('{sid}/k', device_sid='{sid}', key='k', value=config.require_secret('x$(id)'))\n"
        f"DeviceSecret('{sid}/j', device_sid='{sid}', key='j', value=config.require_secret('kept-j'))\n"
        "AccountSecret('account/t', key='t', value=config.require_secret(__import__('os').getcwd()))\n"
    )
    names = render.previous_secret_names(program)
    assert names == {(sid, "k"): "x$(id)", (sid, "j"): "kept-j"}
    assert render.previous_secret_names(program.replace(render.SINGLE_STACK_MARK, "mine")) == {}
    inv = Inventory("AC" + "b" * 32, {}, ("t",), (DeviceItems(sid, "dev", {}, ("j", "k")),), ())
    entries = {
        (e.device_sid, e.key): e.config_name
        for e in render.secret_entries(replace(inv, kept_secret_names=names))
    }
    assert entries == {(None, "t"): "account-t", (sid, "j"): "kept-j", (sid, "k"): "dev-k"}


def test_a_stack_refuses_credentials_of_another_account(make_emulator, host_for, monkeypatch, tmp_path):
    """Every resource says overwrite=True, meant for the account the inventory read. A stack whose
    credentials (a CI variable, a stray TWILIO_ACCOUNT_SID) are another account's would take over
    that account's items of the same keys. The program now compares the account its credentials
    resolve to (as the provider resolves them) with the one its stack files were written for."""
    emu, devices = _fleet(make_emulator, 2, spec_checked=False)
    out = tmp_path / "fleet"
    _inventory_ok(emu, out, "--devices-per-stack", "2", "--quiet")
    mocks = ShardMocks(host_for(emu))
    other = "AC" + "f" * 32
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", other)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token-of-another-account")
    emu.clear_request_log()
    for stack in shards.read_stacks(out):
        with pytest.raises(Exception, match=f"credentials are of account {other}"):
            mocks.up(out, stack, stack_config(out, stack))
    assert emu.request_log() == [] and not any(mocks.states.values())
    # The same account in either case of hex is the same account.
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + emu.account_sid[2:].upper())
    for stack in shards.read_stacks(out):
        assert mocks.up(out, stack, stack_config(out, stack))


def test_reshard_twice_or_force_before_the_moves_is_refused(make_emulator, tmp_path):
    """Held already (kept as a guard): while stacks/pending-moves.json exists, no re-run of any kind
    (a second --reshard, --force, the plain layout) touches the folder or reads the account."""
    emu, devices = _fleet(make_emulator, 4)
    out = tmp_path / "fleet"
    _inventory_ok(emu, out, "--devices-per-stack", "4", "--quiet")
    _inventory_ok(emu, out, "--devices-per-stack", "2", "--reshard", "--quiet")
    before = {p: p.read_text() for p in out.rglob("*") if p.is_file()}
    emu.clear_request_log()
    for flags in (
        ["--devices-per-stack", "1", "--reshard"],
        ["--devices-per-stack", "2", "--force"],
        ["--devices-per-stack", "2", "--reshard", "--force", "--drop-missing"],
        ["--force"],
    ):
        rc, _, stderr = run_inventory(emu, out, *flags, "--quiet")
        assert rc == 2 and ("pending-moves.json exists" in stderr or "sharded" in stderr), (flags, stderr)
    assert emu.request_log() == []
    assert {p: p.read_text() for p in out.rglob("*") if p.is_file()} == before


def test_workflow_gives_secrets_to_the_up_step_only():
    """The workflow set PULUMI_ACCESS_TOKEN and TWILIO_AUTH_TOKEN for the whole job, so every step
    saw them: the third-party actions and `pulumi install`, which runs the build code of every
    package in requirements.txt. Only the `pulumi up` step needs them."""
    import yaml

    text = shards.render_workflow(["account", "shard-000"], 4, 16)
    job = yaml.safe_load(text)["jobs"]["up"]
    assert "secrets." not in yaml.safe_dump(job.get("env", {}))
    holders = [step for step in job["steps"] if "secrets." in yaml.safe_dump(step)]
    assert [step.get("name") for step in holders] == ["pulumi up"]
    env = holders[0]["env"]
    assert env["TWILIO_AUTH_TOKEN"] == "${{ secrets.TWILIO_AUTH_TOKEN }}"
    assert env["PULUMI_ACCESS_TOKEN"] == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
