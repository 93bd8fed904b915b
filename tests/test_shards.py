"""`inventory --devices-per-stack`: shards of a seeded fleet, deployed stack by stack through the real host.

The fleet (24 devices, shards of 10) is inventoried into one project with an `account` stack and
three shard stacks; each stack's program runs under mocks that send every resource through the real
provider host (tests/_shards.py, one state per stack). Checked: the stacks' devices are exactly the
fleet, each once; a second `up` of each stack makes no HTTP call; a re-run after adding devices
moves none of the old ones; a re-shard's `pulumi state move` lines, replayed on the states, leave
every stack with nothing to do; the program refuses overlapping shard lists; the CI workflow passes
actionlint.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from _inventory import run_inventory
from _shards import ShardMocks, configured_host, single_stack_config, stack_config

from microvisor_pulumi.emulator import Emulator
from microvisor_pulumi.emulator.fleet import device_configs, device_secrets, fleet_devices, seed_fleet
from microvisor_pulumi.inventory import shards

FLEET = 24
ADDED = 8
PER_STACK = 10
ACTIONLINT = Path(sys.executable).with_name("actionlint")
RUFF = Path(sys.executable).with_name("ruff")


def _add_devices(emu: Emulator, first: int, last: int) -> None:
    """Register devices ``first``..``last`` of the fleet (the store has no public call for it: on
    Twilio, devices appear when they are claimed) and give them the demo items."""
    devices = fleet_devices(last)
    store = emu.store
    store._seed = devices  # type: ignore[attr-defined]
    with store._lock, store._tx():  # type: ignore[attr-defined]
        store._seed_devices()  # type: ignore[attr-defined]
    for n in range(first, last + 1):
        sid = devices[n - 1][0]
        for key, value in device_configs(n).items():
            store.create_item("config", key, value, sid)
        for key, value in device_secrets(sid).items():
            store.create_item("secret", key, value, sid)


def _stacks(folder: Path) -> list[str]:
    return list(shards.read_stacks(folder))


def _up_all(
    mocks: ShardMocks, emu: Emulator, folder: Path
) -> tuple[dict[str, list[tuple[str, str]]], list[Any]]:
    emu.clear_request_log()
    steps = {stack: mocks.up(folder, stack, stack_config(folder, stack)) for stack in _stacks(folder)}
    return steps, emu.request_log()


@contextmanager
def _deployed_fleet(spec_validator: Any, folder: Path) -> Iterator[dict[str, Any]]:
    """A seeded fleet inventoried into shards, every stack deployed twice through the real host."""
    devices = fleet_devices(FLEET)
    emu = Emulator(devices=devices, observer=spec_validator.observe).start()
    seed_fleet(emu.store, devices)
    out = folder / "fleet"
    host = None
    try:
        rc, stdout, stderr = run_inventory(emu, out, "--devices-per-stack", str(PER_STACK))
        assert rc == 0, stderr
        emu.observer = None  # the inventory's reads were checked; the providers' writes have their own tests
        host = configured_host(emu)
        mocks = ShardMocks(host)
        first, first_log = _up_all(mocks, emu, out)
        second, second_log = _up_all(mocks, emu, out)
        yield {
            "emu": emu,
            "out": out,
            "mocks": mocks,
            "stdout": stdout,
            "stderr": stderr,
            "first": first,
            "first_log": first_log,
            "second": second,
            "second_log": second_log,
            "host": host,
        }
    finally:
        if host is not None:
            host.close()
        emu.stop()


@pytest.fixture(scope="module")
def deployed(spec_validator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Shared by the tests below, which leave it as they found it (they change copies)."""
    with _deployed_fleet(spec_validator, tmp_path_factory.mktemp("shards")) as fleet:
        yield fleet


@pytest.fixture
def grown(spec_validator: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A fleet of its own, for the test that adds devices to it."""
    with _deployed_fleet(spec_validator, tmp_path) as fleet:
        yield fleet


def _owners(folder: Path) -> dict[str, str]:
    return {sid: name for name, data in shards.read_stacks(folder).items() for sid in data.devices}


def test_stacks_split_the_fleet_exactly_once(deployed):
    out = deployed["out"]
    stacks = shards.read_stacks(out)
    assert list(stacks) == ["account", "shard-000", "shard-001", "shard-002"]
    assert [len(stacks[s].devices) for s in ("shard-000", "shard-001", "shard-002")] == [10, 10, 4]
    owners = _owners(out)
    assert sorted(owners) == sorted(sid for sid, _ in fleet_devices(FLEET))
    assert not stacks["account"].devices and stacks["account"].account_configs
    for name in ("shard-000", "shard-001", "shard-002"):
        assert not stacks[name].account_configs and not stacks[name].account_secrets
    assert "3 shards of at most 10 devices" in deployed["stderr"]


def test_each_stack_deploys_only_what_it_owns(deployed):
    out, mocks, emu = deployed["out"], deployed["mocks"], deployed["emu"]
    owners = _owners(out)
    for stack, steps in deployed["first"].items():
        assert steps and {step for _, step in steps} == {"create"}
        for name, _ in steps:
            owner = name.split("/", 1)[0]
            assert (owner == "account") if stack == "account" else (owners[owner] == stack), name
    assert sum(len(s) for s in deployed["first"].values()) == 2 + 1 + FLEET * 6
    # Every Secret now holds the value its own stack's config gave it.
    for stack in _stacks(out):
        for sid, device in shards.load_stack(stack, out).devices.items():
            for key, config_name in device["secrets"].items():
                assert emu.store.secret_value_for_device(key, sid) == f"value-of:{config_name}"
    assert set(mocks.states) == set(_stacks(out))


def test_second_up_of_every_stack_makes_no_call(deployed):
    assert deployed["second_log"] == []
    for stack, steps in deployed["second"].items():
        assert len(steps) == len(deployed["first"][stack])
        assert {step for _, step in steps} == {"same"}


def test_rerun_after_adding_devices_moves_none_of_the_old_ones(grown):
    emu, out, mocks = grown["emu"], grown["out"], grown["mocks"]
    before = _owners(out)
    _add_devices(emu, FLEET + 1, FLEET + ADDED)
    rc, _, stderr = run_inventory(emu, out, "--devices-per-stack", str(PER_STACK))
    assert rc == 0, stderr
    after = _owners(out)
    assert {sid: after[sid] for sid in before} == before
    new = sorted(set(after) - set(before))
    assert len(new) == ADDED
    # The shard with room is filled first, then a new shard opens.
    assert [after[sid] for sid in new].count("shard-002") == 6
    assert [after[sid] for sid in new].count("shard-003") == 2
    assert not (out / shards.MOVE_SCRIPT).exists()
    steps, log = _up_all(mocks, emu, out)
    created = {name.split("/")[0] for stack in steps for name, step in steps[stack] if step == "create"}
    assert created == set(new)
    assert all(step in ("same", "create") for stack in steps for _, step in steps[stack])
    touched = {r["path"].split("/")[3] for r in log if r["path"].startswith("/v1/Devices/")}
    assert touched <= set(new)
    again, log = _up_all(mocks, emu, out)
    assert log == [] and {step for s in again.values() for _, step in s} == {"same"}


def test_reshard_moves_are_enough_and_touch_nothing(deployed, tmp_path):
    """Re-shard to 7 per stack: replaying the printed `pulumi config cp` and `pulumi state move`
    lines on the stacks' states leaves every stack with nothing to do: no HTTP call at all."""
    emu, mocks = deployed["emu"], deployed["mocks"]
    saved = {stack: dict(held) for stack, held in mocks.states.items()}
    try:
        _reshard_and_replay(emu, mocks, deployed["out"], tmp_path / "fleet")
    finally:
        mocks.states = saved  # the moves were made on copies of the deployed folder's stacks


def _reshard_and_replay(emu: Emulator, mocks: ShardMocks, deployed_out: Path, out: Path) -> None:
    shutil.copytree(deployed_out, out)
    project = yaml.safe_load((out / "Pulumi.yaml").read_text())["name"]
    # Same project name as the deployed copy, so that the URNs match its states.
    assert project == "fleet"
    old = _owners(out)
    rc, stdout, stderr = run_inventory(emu, out, "--devices-per-stack", "7", "--reshard")
    assert rc == 0, stderr
    new = _owners(out)
    moved = {sid for sid in old if new.get(sid) != old[sid]}
    assert moved and sorted(new) == sorted(old)
    assert max(len(d.devices) for n, d in shards.read_stacks(out).items() if n != "account") <= 7
    # Until the moves are done, the program refuses to run at all.
    with pytest.raises(shards.ShardError, match="pending-moves.json exists"):
        shards.load_stack("shard-000", out)
    lines = [line for line in stdout.splitlines() if line.startswith("pulumi ")]
    script = (out / shards.MOVE_SCRIPT).read_text().splitlines()
    assert [line for line in script if line.startswith("pulumi ")] == lines
    config = {stack: _config_unchecked(deployed_out, stack) for stack in _stacks(deployed_out)}
    moved_urns = replay(lines, mocks, config)
    assert moved_urns == 6 * len(moved)
    assert any(line.startswith("pulumi stack init shard-") for line in lines)  # 7 per stack: one more
    assert script[-1] == f"rm {shards.STACKS_DIR}/{shards.PENDING_MOVES}"
    (out / shards.STACKS_DIR / shards.PENDING_MOVES).unlink()
    emu.clear_request_log()
    for stack in _stacks(out):
        steps = mocks.up(out, stack, config.get(stack, {}))  # each stack its own config: the cp lines count
        assert {step for _, step in steps} <= {"same"}, (stack, steps)
    assert emu.request_log() == []


def replay(lines: list[str], mocks: ShardMocks, config: dict[str, dict[str, str]]) -> int:
    """Do what the printed commands do, on the stacks' states and configs; returns the URNs moved."""
    moved_urns = 0
    existing = set(mocks.states)  # `pulumi state move` needs its destination stack to exist
    for line in lines:
        words = shlex.split(line)
        if words[:3] == ["pulumi", "stack", "init"]:
            assert words[3] not in existing
            existing.add(words[3])
        elif words[:3] == ["pulumi", "config", "cp"]:
            source, dest, key = words[words.index("--stack") + 1], words[words.index("--dest") + 1], words[-1]
            assert dest in existing, line
            config.setdefault(dest, {})[key] = config[source][key]
        else:
            assert words[:3] == ["pulumi", "state", "move"] and "--yes" in words
            source, dest = words[words.index("--source") + 1], words[words.index("--dest") + 1]
            assert source in existing and dest in existing, line
            urns = [w for w in words if w.startswith("urn:")]
            moved_urns += len(urns)
            mocks.move(source, dest, urns)
    return moved_urns


def _config_unchecked(folder: Path, stack: str) -> dict[str, str]:
    data = json.loads((folder / shards.STACKS_DIR / f"{stack}.json").read_text())
    names = list(data.get("accountSecrets", {}).values())
    for device in data.get("devices", {}).values():
        names += device["secrets"].values()
    return {name: f"value-of:{name}" for name in names}


def test_program_refuses_a_device_listed_by_two_shards(deployed, tmp_path):
    out = tmp_path / "fleet"
    shutil.copytree(deployed["out"], out)
    a = json.loads((out / "stacks" / "shard-000.json").read_text())
    b_path = out / "stacks" / "shard-001.json"
    b = json.loads(b_path.read_text())
    sid = next(iter(a["devices"]))
    b["devices"][sid] = a["devices"][sid]
    b_path.write_text(json.dumps(b))
    emu, mocks = deployed["emu"], deployed["mocks"]
    emu.clear_request_log()
    for stack in ("shard-001", "account"):  # every stack refuses, not only the two involved
        with pytest.raises(Exception, match=f"device {sid} is listed by both stacks/shard-000.json"):
            mocks.up(out, stack, {})
    assert emu.request_log() == []
    with pytest.raises(shards.ShardError, match="one device, one owner"):
        shards.read_stacks(out)
    # ...and the inventory will not re-run into it (nor read the account first).
    emu.clear_request_log()
    rc, _, stderr = run_inventory(emu, out, "--devices-per-stack", str(PER_STACK))
    assert rc == 2 and "one device, one owner" in stderr and emu.request_log() == []


def test_a_device_pasted_twice_into_one_file_is_refused(deployed, tmp_path):
    """JSON keeps the last of two equal keys silently; the stack files may not."""
    out = tmp_path / "fleet"
    shutil.copytree(deployed["out"], out)
    path = out / "stacks" / "shard-000.json"
    data = json.loads(path.read_text())
    sid, device = next(iter(data["devices"].items()))
    entry = json.dumps({sid: device})[1:-1]
    text = json.dumps(data)
    path.write_text(text.replace('"devices": {', '"devices": {' + entry + ", ", 1))
    assert len(json.loads(path.read_text())["devices"]) == len(data["devices"])  # json alone won't tell
    with pytest.raises(shards.ShardError, match=f"shard-000.json: '{sid}' appears twice"):
        shards.load_stack("shard-001", out)
    data["devices"][sid] = {"configs": {"k": 1}, "secrets": {}}
    path.write_text(json.dumps(data))
    with pytest.raises(shards.ShardError, match=f"device {sid}'s 'configs' must be an object of strings"):
        shards.load_stack("shard-000", out)


def test_program_refuses_a_stack_without_a_file_and_misplaced_items(deployed, tmp_path):
    out = tmp_path / "fleet"
    shutil.copytree(deployed["out"], out)
    with pytest.raises(shards.ShardError, match="stack 'dev' has no stacks/dev.json"):
        shards.load_stack("dev", out)
    account = json.loads((out / "stacks" / "account.json").read_text())
    shard = json.loads((out / "stacks" / "shard-000.json").read_text())
    shard["accountConfigs"] = account["accountConfigs"]
    (out / "stacks" / "shard-000.json").write_text(json.dumps(shard))
    with pytest.raises(shards.ShardError, match="account-level items belong to stacks/account.json"):
        shards.load_stack("shard-001", out)
    del shard["accountConfigs"]
    shard["stack"] = "shard-001"
    (out / "stacks" / "shard-000.json").write_text(json.dumps(shard))
    with pytest.raises(shards.ShardError, match="says it is stack 'shard-001'"):
        shards.load_stack("account", out)


def test_rerun_refuses_another_account_and_a_plain_project(deployed, make_emulator, tmp_path):
    other = make_emulator(devices=fleet_devices(2), account_sid="AC" + "f" * 32)
    rc, _, stderr = run_inventory(other, deployed["out"], "--devices-per-stack", "5", "--quiet")
    assert rc == 2 and "not AC" + "f" * 32 in stderr
    plain = tmp_path / "plain"
    rc, _, stderr = run_inventory(other, plain, "--quiet")
    assert rc == 0, stderr
    rc, _, stderr = run_inventory(other, plain, "--devices-per-stack", "5", "--quiet")
    assert rc == 2 and "--force" in stderr and not (plain / "stacks").exists()
    # Bad flags are refused before the account is read.
    other.clear_request_log()
    for flags, message in (
        (["--devices-per-stack", "0"], "--devices-per-stack must be at least 1, got 0"),
        (["--devices-per-stack", "5", "--max-concurrency", "0"], "--max-concurrency must be at least 1"),
        (["--reshard"], "--reshard needs --devices-per-stack"),
    ):
        rc, _, stderr = run_inventory(other, tmp_path / "z", *flags, "--quiet")
        assert rc == 2 and message in stderr, stderr
    assert other.request_log() == [] and not (tmp_path / "z").exists()


def test_generated_files_pass_ruff_and_actionlint(deployed):
    out = deployed["out"]
    for args in (["check"], ["format", "--check"]):
        done = subprocess.run([str(RUFF), *args, "--no-cache", str(out)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    workflow = out / shards.WORKFLOW
    matrix = yaml.safe_load(workflow.read_text())["jobs"]["up"]["strategy"]
    assert matrix["matrix"]["stack"] == _stacks(out) and matrix["max-parallel"] == 4
    assert ACTIONLINT.exists(), "actionlint comes with the test extra (pip install -e '.[test]')"
    done = subprocess.run(
        [str(ACTIONLINT), "-color=false", "-no-color", str(workflow)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The linter is really reading it: a broken copy fails.
    broken = workflow.with_name("broken.yml")
    broken.write_text(workflow.read_text().replace("${{ matrix.stack }}", "${{ matrix.stak }}"))
    try:
        done = subprocess.run([str(ACTIONLINT), "-no-color", str(broken)], capture_output=True, text=True)
        assert done.returncode != 0 and "stak" in done.stdout
    finally:
        broken.unlink()


def test_assignment_rules():
    sids = [f"UV{n:032x}" for n in range(10)]
    first = shards.assign(sids[:7], {}, 3)
    assert first == {"shard-000": sids[0:3], "shard-001": sids[3:6], "shard-002": sids[6:7]}
    # New devices fill room first; a device gone leaves a hole that new ones fill.
    grown = shards.assign([*sids[1:7], *sids[7:10]], first, 3)
    assert grown["shard-001"] == sids[3:6]
    assert grown["shard-000"] == [*sids[1:3], sids[7]] and grown["shard-002"] == [sids[6], *sids[8:10]]
    # A larger N alone moves nothing; with --reshard, surplus shards are emptied into the others.
    assert shards.assign(sids[:7], first, 5) == first
    merged = shards.assign(sids[:7], first, 5, reshard=True)
    assert merged["shard-000"][:3] == sids[0:3] and merged["shard-001"][:3] == sids[3:6]
    assert merged["shard-002"] == [] and sum(len(v) for v in merged.values()) == 7
    with pytest.raises(shards.ShardError, match="at least 1"):
        shards.assign(sids, {}, 0)


def test_workflow_refuses_more_stacks_than_one_matrix_runs():
    names = [f"shard-{n:03d}" for n in range(shards.MAX_MATRIX_JOBS)]
    with pytest.raises(shards.ShardError, match="256 jobs"):
        shards.render_workflow(["account", *names], 4, 16)


def test_shards_benchmark_runs_and_prints_every_table():
    """`python -m benchmarks.shards` at 4 devices prints every table and row (not a figure check)."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.shards", "--devices", "4", "--devices-per-stack", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(Path(__file__).resolve().parents[1]),
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for title in (
        "### Checkpoint bytes per resource",
        "### 4 devices in shards of at most 2",
        "### First `up`",
    ):
        assert title in out
    for kind in ("AccountConfig", "AccountSecret", "DeviceConfig", "DeviceSecret"):
        assert f"| {kind} " in out
    rows = [line for line in out.splitlines() if line.startswith(("| account ", "| shard-"))]
    assert [r.split("|")[1].strip() for r in rows] == ["account", "shard-000", "shard-001"]
    assert all(r.split("|")[7].strip() == "0" for r in rows)  # second up: no HTTP call


def test_split_one_stack_into_shards(make_emulator, tmp_path):
    """The single-stack program the plain inventory writes, deployed as `dev`, split into shards:
    replaying the printed commands leaves `dev` empty and every new stack with nothing to do."""
    devices = fleet_devices(12)
    emu = make_emulator(devices=devices)
    seed_fleet(emu.store, devices)
    out = tmp_path / "greenhouse"
    rc, _, stderr = run_inventory(emu, out, "--quiet")
    assert rc == 0, stderr
    config = {"dev": single_stack_config(out)}
    emu.observer = None
    host = configured_host(emu)
    try:
        mocks = ShardMocks(host)
        first = mocks.up(out, "dev", config["dev"])
        assert len(first) == 3 + 12 * 6 and {step for _, step in first} == {"create"}
        for flags, message in (
            (["--split-stack", "dev"], "--split-stack needs --devices-per-stack"),
            (["--devices-per-stack", "5", "--split-stack", "shard-001"], "one of the sharded layout's own"),
            (["--devices-per-stack", "5", "--split-stack", "dev", "--reshard"], "do not go together"),
        ):
            rc, _, stderr = run_inventory(emu, out, *flags, "--quiet")
            assert rc == 2 and message in stderr, stderr
        rc, stdout, stderr = run_inventory(emu, out, "--devices-per-stack", "5", "--split-stack", "dev")
        assert rc == 0, stderr
        assert "Splitting stack dev moves everything it holds" in stdout
        assert _stacks(out) == ["account", "shard-000", "shard-001", "shard-002"]
        lines = [line for line in stdout.splitlines() if line.startswith("pulumi ")]
        assert replay(lines, mocks, config) == 3 + 12 * 6
        assert mocks.states["dev"] == {}  # nothing left behind: `pulumi stack rm dev` is safe
        (out / shards.STACKS_DIR / shards.PENDING_MOVES).unlink()
        emu.clear_request_log()
        for stack in _stacks(out):
            steps = mocks.up(out, stack, config[stack])
            assert steps and {step for _, step in steps} == {"same"}, (stack, steps)
        assert emu.request_log() == []
        # Split once: the folder is sharded now.
        rc, _, stderr = run_inventory(emu, out, "--devices-per-stack", "5", "--split-stack", "dev", "--quiet")
        assert rc == 2 and "already sharded" in stderr
    finally:
        host.close()
