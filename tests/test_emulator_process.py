"""Persistence across restarts, the command line, and the spec validator's own ability to fail."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from _openapi import SpecValidator, assert_error

from microvisor_pulumi.emulator import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, Emulator, Exchange

READY = re.compile(r"^microvisor-emulator listening on http://127\.0\.0\.1:(\d+)\n$")
DEVICE = "UV" + "ab" * 16


def session(user: str = DEFAULT_ACCOUNT_SID, password: str = DEFAULT_AUTH_TOKEN) -> requests.Session:
    s = requests.Session()
    s.auth = (user, password)
    return s


# -- persistence -------------------------------------------------------------------------------


def test_state_survives_a_restart_on_the_same_file(
    tmp_path: Path, make_emulator: Callable[..., Emulator]
) -> None:
    db = str(tmp_path / "state.db")
    first = make_emulator(data=db)
    api = session(first.account_sid, first.auth_token)
    api.post(f"{first.url}/v1/Configs", data={"Key": "cfg", "Value": "v1"})
    api.post(f"{first.url}/v1/Secrets", data={"Key": "sec", "Value": "SECRET-CANARY"})
    api.post(f"{first.url}/v1/Devices/demo-device-3/Configs", data={"Key": "dcfg", "Value": "d"})
    api.post(f"{first.url}/v1/Devices/demo-device-3", data={"UniqueName": "kitchen"})
    key = api.post(f"{first.url}/2010-04-01/Accounts/{first.account_sid}/Keys.json", data={}).json()
    first.stop()

    raw = Path(db).read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("state.db-*"))
    assert key["secret"].encode() not in raw  # only a hash of API key secrets is kept
    assert first.auth_token.encode() not in raw

    second = make_emulator(data=db)
    api = session(second.account_sid, second.auth_token)
    assert api.get(f"{second.url}/v1/Configs/cfg").json()["value"] == "v1"
    fetched = api.get(f"{second.url}/v1/Secrets/sec")
    assert fetched.status_code == 200 and "SECRET-CANARY" not in fetched.text
    assert api.get(f"{second.url}/v1/Devices/kitchen/Configs/dcfg").json()["value"] == "d"
    assert_error(api.post(f"{second.url}/v1/Configs", data={"Key": "cfg", "Value": "x"}), 409, 20409)
    # The key still authenticates, and deleting it is remembered too.
    as_key = session(key["sid"], key["secret"])
    assert as_key.get(f"{second.url}/v1/Configs").status_code == 200
    api.delete(f"{second.url}/2010-04-01/Accounts/{second.account_sid}/Keys/{key['sid']}.json")
    second.stop()
    third = make_emulator(data=db)
    assert_error(as_key.get(f"{third.url}/v1/Configs"), 401, 20003)
    assert [d["unique_name"] for d in session().get(f"{third.url}/v1/Devices").json()["devices"]] == [
        "demo-device-1",
        "demo-device-2",
        "kitchen",
    ]


def test_custom_account_and_devices(make_emulator: Callable[..., Emulator]) -> None:
    account, token = "AC" + "1" * 32, "t" * 32
    emu = make_emulator(
        account_sid=account, auth_token=token, devices=[(DEVICE, "only"), ("UV" + "c" * 32, None)]
    )
    api = session(account, token)
    devices = api.get(f"{emu.url}/v1/Devices").json()["devices"]
    assert [(d["sid"], d["unique_name"], d["account_sid"]) for d in devices] == [
        (DEVICE, "only", account),
        ("UV" + "c" * 32, None, account),
    ]
    assert_error(session().get(f"{emu.url}/v1/Devices"), 401, 20003)  # default credentials don't work
    with pytest.raises(ValueError):
        Emulator(account_sid="nope")


def test_context_manager_and_properties() -> None:
    with Emulator() as emu:
        assert emu.host == "127.0.0.1" and emu.port > 0
        assert emu.url == f"http://127.0.0.1:{emu.port}"
        assert session().get(f"{emu.url}/v1/Devices").status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{emu.url}/v1/Devices", timeout=2)


# -- the validator can fail ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "body", "expected"),
    [
        (
            "/v1/Configs/x",
            200,
            {"key": 1, "value": "v", "date_updated": "2021-01-01T12:34:56Z"},
            "not of type",
        ),
        (
            "/v1/Secrets/x",
            200,
            {"key": "x", "value": "leak", "date_rotated": "2021-01-01T12:34:56Z"},
            "'value'",
        ),
        ("/v1/Configs/x", 200, {"key": "x", "date_updated": "Mon, 13 Jun 2016 22:50:08 +0000"}, "date-time"),
        ("/v1/Keys/SK" + "0" * 32, 200, {"sid": "SK" + "0" * 32, "secret": "s"}, "'secret'"),
        ("/v1/Keys/SK" + "0" * 32, 200, {"date_created": "2021-01-01T12:34:56Z"}, "rfc-2822"),
        ("/v1/Configs", 200, {"configs": [], "meta": {"page": "0"}}, "not of type"),
        ("/v1/Configs/x", 202, {}, ""),  # undeclared status
        ("/v1/Nowhere", 200, {}, "Path not found"),
        ("/v1/Configs/x", 404, {"code": 20404, "message": "m", "status": 404}, "fields"),
        ("/v1/Configs/x", 404, {"code": "20404", "message": "m", "more_info": "u", "status": 404}, "code"),
        ("/v1/Configs/x", 500, {"code": 20500, "message": "m", "more_info": "u", "status": 503}, "status"),
    ],
)
def test_validator_reports_wrong_responses(
    spec_validator: SpecValidator, path: str, status: int, body: dict[str, object], expected: str
) -> None:
    exchange = Exchange(
        "GET", path, "", None, status, {"Content-Type": "application/json"}, json.dumps(body).encode()
    )
    problems = spec_validator.problems(exchange)
    assert problems, f"validator accepted a wrong response: {body}"
    assert expected in "\n".join(problems)


def test_validator_accepts_a_conforming_response(
    spec_validator: SpecValidator, api: requests.Session
) -> None:
    body = {"key": "x", "value": "v", "date_updated": "2021-01-01T12:34:56Z", "url": "http://h/v1/Configs/x"}
    exchange = Exchange(
        "GET", "/v1/Configs/x", "", None, 200, {"Content-Type": "application/json"}, json.dumps(body).encode()
    )
    assert spec_validator.problems(exchange) == []
    # The CORS headers every operation declares: a boolean must be one, a string may be anything.
    cors = {"Access-Control-Allow-Credentials": "true", "access-control-allow-origin": "*"}
    ok = Exchange("GET", "/v1/Configs/x", "", None, 200, {**exchange.headers, **cors}, exchange.body)
    assert spec_validator.problems(ok) == []
    bad = Exchange(
        "GET",
        "/v1/Configs/x",
        "",
        None,
        200,
        {**ok.headers, "Access-Control-Allow-Credentials": "yes"},
        ok.body,
    )
    assert spec_validator.problems(bad) == ["header access-control-allow-credentials: 'yes' is not a boolean"]
    # The suite's emulators really are observed. A request of this test's own: under pytest-xdist
    # this may be the first test its worker runs, so earlier tests' traffic cannot be counted on.
    before = spec_validator.checked
    assert api.get("/v1/Configs").status_code == 200
    assert spec_validator.checked == before + 1


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture
def run_cli() -> Iterator[Callable[..., tuple[subprocess.Popen[str], str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str, script: bool = False) -> tuple[subprocess.Popen[str], str]:
        exe = Path(sys.executable).with_name("microvisor-emulator")
        cmd = [str(exe)] if script and exe.exists() else [sys.executable, "-m", "microvisor_pulumi.emulator"]
        proc = subprocess.Popen(
            [*cmd, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ)
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()  # blocks until the ready line: proves it was flushed
        match = READY.match(line)
        assert match, f"unexpected first line {line!r}; stderr: {proc.stderr.read() if proc.poll() else ''}"
        return proc, f"http://127.0.0.1:{match.group(1)}"

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_signal_saves_state_and_restarts(
    tmp_path: Path, run_cli: Callable[..., tuple[subprocess.Popen[str], str]], sig: signal.Signals
) -> None:
    db = str(tmp_path / "cli.db")
    proc, url = run_cli(
        "--port", "0", "--data", db, "--device", f"{DEVICE}=alpha", "--device", "UV" + "cd" * 16
    )
    api = session()
    assert (
        api.post(f"{url}/v1/Devices/alpha/Secrets", data={"Key": "k", "Value": "CLI-CANARY"}).status_code
        == 201
    )
    assert [d["sid"] for d in api.get(f"{url}/v1/Devices").json()["devices"]] == [DEVICE, "UV" + "cd" * 16]
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert out == "" and "CLI-CANARY" not in err and DEFAULT_AUTH_TOKEN not in err  # one line, nothing else

    proc, url = run_cli("--data", db, "--device", f"{DEVICE}=alpha", script=True)
    assert api.get(f"{url}/v1/Devices/alpha/Secrets/k").status_code == 200
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=10)
    assert proc.returncode == 0


def test_cli_options(run_cli: Callable[..., tuple[subprocess.Popen[str], str]]) -> None:
    account, token = "AC" + "2" * 32, "secret-token"
    proc, url = run_cli("--account-sid", account, "--auth-token", token, "--host", "127.0.0.1")
    devices = session(account, token).get(f"{url}/v1/Devices").json()["devices"]
    assert [d["unique_name"] for d in devices] == ["demo-device-1", "demo-device-2", "demo-device-3"]
    assert_error(session().get(f"{url}/v1/Devices"), 401, 20003)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and out == "" and token not in err


def test_cli_rejects_bad_device() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "microvisor_pulumi.emulator", "--device", "nope=x"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "device SID" in result.stderr
