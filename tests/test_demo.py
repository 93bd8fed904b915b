"""The demo driver (scripts/demo.py) without the Pulumi CLI: finding the CLI, the emulator's life
cycle, the environment and command lines, and whole runs against a stand-in `pulumi` script.

The real CLI path (`pulumi up` against the emulator) is not run here: this machine and CI have no
Pulumi CLI. The stand-in records what it was asked to do, which is everything the driver decides.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest
import requests

from microvisor_pulumi.emulator import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

REPO = Path(__file__).resolve().parent.parent
DEMO_PY = REPO / "scripts" / "demo.py"
AUTH = (DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)


def _load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("microvisor_demo_driver", DEMO_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered first: dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


def _gone(process: subprocess.Popen[str], url: str) -> bool:
    """The emulator process has exited and nothing answers on its port."""
    if process.poll() is None:
        return False
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=1).close()
    except OSError:
        return True
    return False


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def restore_signals() -> Iterator[None]:
    """main() installs SIGTERM/SIGHUP handlers: give pytest its own back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


# -- the Pulumi CLI ---------------------------------------------------------------------------------


def test_missing_cli_is_a_clear_error_saying_how_to_install(tmp_path):
    with pytest.raises(demo.PulumiNotFound) as caught:
        demo.find_pulumi(path="", home=tmp_path)
    message = str(caught.value)
    assert "Pulumi CLI was not found" in message
    assert "curl -fsSL https://get.pulumi.com | sh" in message
    assert "https://www.pulumi.com/docs/" in message


def _offline_installer(root: Path, version: str) -> str:
    raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")


def test_missing_cli_that_cannot_be_installed_stops_the_demo_before_the_emulator_starts(
    tmp_path, monkeypatch, capsys, restore_signals
):
    monkeypatch.setenv("PATH", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert demo.main(["--repo", str(tmp_path)], installer=_offline_installer) == 1
    out, err = capsys.readouterr()
    assert f"installing Pulumi {demo.PULUMI_CLI_VERSION} into .pulumi-cli/" in out
    assert "installing it into .pulumi-cli/ failed (OSError: <urlopen error" in err
    assert "curl -fsSL https://get.pulumi.com | sh" in err  # the way to do it by hand, as before
    assert not (tmp_path / ".emulator-state").exists()


def test_missing_cli_is_installed_into_the_repo_and_the_demo_goes_on(
    tmp_path, fake_pulumi, monkeypatch, capsys, restore_signals
):
    repo = tmp_path / "repo"
    repo.mkdir()
    installs: list[tuple[Path, str]] = []

    def installer(root: Path, version: str) -> str:
        installs.append((root, version))
        exe = root / "bin" / "pulumi"
        exe.parent.mkdir(parents=True)
        exe.write_text(FAKE_PULUMI)
        exe.chmod(0o755)
        return str(exe)

    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no pulumi here
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FAKE_PULUMI_LOG", fake_pulumi["FAKE_PULUMI_LOG"])
    assert demo.main(["--repo", str(repo)], installer=installer) == 0
    assert installs == [(repo / ".pulumi-cli", demo.PULUMI_CLI_VERSION)]
    out = capsys.readouterr().out
    assert f"installing Pulumi {demo.PULUMI_CLI_VERSION} into .pulumi-cli/" in out
    assert f"Installed the Pulumi CLI: {repo / '.pulumi-cli' / 'bin' / 'pulumi'}" in out
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert [c.split(" | ")[0] for c in calls][-2:] == ["up --yes", "stack output"]
    assert "emulator stopped" in out

    # The next run finds the CLI it installed and installs nothing.
    assert demo.find_or_install_pulumi(repo, installer=_offline_installer, path="", home=tmp_path) == str(
        repo / ".pulumi-cli" / "bin" / "pulumi"
    )


def test_the_sdk_installer_is_asked_for_the_pinned_version_and_reuses_an_install(tmp_path, monkeypatch):
    # PulumiCommand.install first runs `<root>/bin/pulumi version`: a stand-in answering the pinned
    # version is taken as installed. The download is stubbed to fail, so nothing leaves the machine.
    from pulumi.automation import _cmd

    def no_download(url: str, path: str) -> None:
        raise AssertionError(f"tried to download {url}")

    monkeypatch.setattr(_cmd, "_download_to_file", no_download)
    root = tmp_path / ".pulumi-cli"
    exe = root / "bin" / "pulumi"
    exe.parent.mkdir(parents=True)
    exe.write_text(f'#!/bin/sh\n[ "$1" = version ] && echo v{demo.PULUMI_CLI_VERSION}\n')
    exe.chmod(0o755)
    assert demo.install_pulumi_cli(root, demo.PULUMI_CLI_VERSION) == str(exe)
    # An older CLI there is not good enough: the installer goes to download the pinned one.
    exe.write_text('#!/bin/sh\n[ "$1" = version ] && echo v3.100.0\n')
    with pytest.raises(AssertionError, match="tried to download https://get.pulumi.com/"):
        demo.install_pulumi_cli(root, demo.PULUMI_CLI_VERSION)


def test_cli_is_found_on_path_or_where_the_installer_puts_it(tmp_path):
    on_path = tmp_path / "bin" / "pulumi"
    installed = tmp_path / "home" / ".pulumi" / "bin" / "pulumi"
    for exe in (on_path, installed):
        exe.parent.mkdir(parents=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    assert demo.find_pulumi(path=str(on_path.parent), home=tmp_path / "nowhere") == str(on_path)
    assert demo.find_pulumi(path="", home=tmp_path / "home") == str(installed)


# -- environment and command lines ------------------------------------------------------------------


def test_stack_env_uses_a_file_backend_in_the_repo_and_the_demo_passphrase(tmp_path):
    env = demo.stack_env(tmp_path, {"PATH": "/usr/bin", "HOME": "/home/me"})
    assert env["PULUMI_BACKEND_URL"] == f"file://{tmp_path.resolve()}/.pulumi-state"
    assert env["PULUMI_CONFIG_PASSPHRASE"] == demo.DEMO_PASSPHRASE
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/home/me"


def test_stack_env_keeps_a_passphrase_of_your_own(tmp_path):
    own = demo.stack_env(tmp_path, {"PULUMI_CONFIG_PASSPHRASE": "mine"})
    assert own["PULUMI_CONFIG_PASSPHRASE"] == "mine"
    from_file = demo.stack_env(tmp_path, {"PULUMI_CONFIG_PASSPHRASE_FILE": "/secret/file"})
    assert "PULUMI_CONFIG_PASSPHRASE" not in from_file


def test_stack_env_drops_twilio_credentials_from_the_shell(tmp_path):
    env = demo.stack_env(
        tmp_path, {"TWILIO_ACCOUNT_SID": "ACreal", "TWILIO_AUTH_TOKEN": "real", "TWILIO_REGION": "au1"}
    )
    assert not [k for k in env if k.startswith("TWILIO_")]


def test_pulumi_commands_deploy():
    url = "http://127.0.0.1:40123"
    assert demo.pulumi_commands("/opt/pulumi", url) == [
        ["/opt/pulumi", "stack", "select", "--create", "dev"],
        ["/opt/pulumi", "config", "set", "twilio:endpoint", url],
        ["/opt/pulumi", "config", "set", "twilio:accountSid", DEFAULT_ACCOUNT_SID],
        ["/opt/pulumi", "config", "set", "--secret", "twilio:authToken", DEFAULT_AUTH_TOKEN],
        ["/opt/pulumi", "up", "--yes"],
        ["/opt/pulumi", "stack", "output"],
    ]


def test_pulumi_commands_destroy_still_points_the_stack_at_the_running_emulator():
    commands = demo.pulumi_commands("pulumi", "http://127.0.0.1:1", stack="test", destroy=True)
    assert commands[0] == ["pulumi", "stack", "select", "--create", "test"]
    assert ["pulumi", "config", "set", "twilio:endpoint", "http://127.0.0.1:1"] in commands
    assert commands[-1] == ["pulumi", "destroy", "--yes"]
    assert not [c for c in commands if c[1] == "up"]


def test_printed_commands_hide_the_secret():
    shown = demo._shown(["/opt/bin/pulumi", "config", "set", "--secret", "twilio:authToken", "tok"])
    assert shown == ["pulumi", "config", "set", "--secret", "twilio:authToken", "[secret]"]


# -- the emulator -----------------------------------------------------------------------------------


def test_emulator_runs_with_persistent_state_and_is_stopped(tmp_path):
    with demo.start_emulator(tmp_path) as emulator:
        process = emulator.process
        assert process.args[1:] == [
            "-m",
            "microvisor_pulumi.emulator",
            "--port",
            "0",
            "--data",
            str(Path(".emulator-state") / "emulator.db"),
        ]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", emulator.url)
        devices = requests.get(f"{emulator.url}/v1/Devices", auth=AUTH, timeout=5)
        assert devices.status_code == 200
        assert (tmp_path / ".emulator-state" / "emulator.db").is_file()
    assert _gone(process, emulator.url)


def test_emulator_is_stopped_when_a_step_fails(tmp_path):
    with pytest.raises(RuntimeError, match="step failed"), demo.start_emulator(tmp_path) as emulator:
        raise RuntimeError("step failed")
    assert _gone(emulator.process, emulator.url)


def test_emulator_is_stopped_on_interrupt(tmp_path):
    with pytest.raises(KeyboardInterrupt), demo.start_emulator(tmp_path) as emulator:
        raise KeyboardInterrupt
    assert _gone(emulator.process, emulator.url)


def test_state_survives_an_emulator_restart(tmp_path):
    with demo.start_emulator(tmp_path) as first:
        made = requests.post(
            f"{first.url}/v1/Configs", data={"Key": "kept", "Value": "across restarts"}, auth=AUTH, timeout=5
        )
        assert made.status_code == 201, made.text
    with demo.start_emulator(tmp_path) as second:
        fetched = requests.get(f"{second.url}/v1/Configs/kept", auth=AUTH, timeout=5)
        assert fetched.status_code == 200 and fetched.json()["value"] == "across restarts"
    assert _gone(second.process, second.url)


def test_emulator_that_cannot_start_is_reported(tmp_path):
    with pytest.raises(demo.DemoError, match="did not start"), demo.start_emulator(tmp_path, python="false"):
        pass  # never reached


def test_emulator_silent_on_stdout_is_reported_and_stopped(tmp_path):
    sleeper = tmp_path / "silent.sh"
    sleeper.write_text("#!/bin/sh\nexec sleep 30\n")
    sleeper.chmod(0o755)
    started = time.monotonic()
    with (
        pytest.raises(demo.DemoError, match="did not start"),
        demo.start_emulator(tmp_path, python=str(sleeper), ready_timeout=0.5),
    ):
        pass
    assert time.monotonic() - started < 10


# -- whole runs against a stand-in pulumi -----------------------------------------------------------

FAKE_PULUMI = """#!/bin/sh
# Records each call; `up` fails or hangs when asked to, as the real one might.
echo "$* | backend=$PULUMI_BACKEND_URL | passphrase=$PULUMI_CONFIG_PASSPHRASE" >> "$FAKE_PULUMI_LOG"
if [ "$1" = "up" ] && [ "$FAKE_PULUMI_UP" = "fail" ]; then exit 3; fi
if [ "$1" = "up" ] && [ "$FAKE_PULUMI_UP" = "hang" ]; then
    trap 'echo "got SIGINT" >> "$FAKE_PULUMI_LOG"; kill $child; exit 130' INT
    sleep 30 & child=$!
    echo "trap set" >> "$FAKE_PULUMI_LOG"
    wait $child
fi
exit 0
"""


@pytest.fixture
def fake_pulumi(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH has a stand-in `pulumi` that logs its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "pulumi"
    exe.write_text(FAKE_PULUMI)
    exe.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "TWILIO_"))}
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", FAKE_PULUMI_LOG=str(tmp_path / "calls.log")
    )
    return env


def _start_demo(repo: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(DEMO_PY), "--repo", str(repo), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As under nohup or in a background job (CI runners too): the demo inherits SIGINT ignored,
        # and must still be able to cancel pulumi with it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


def _emulator_of(stdout: str) -> tuple[str, int]:
    match = re.search(r"emulator: (http://\S+) \(pid (\d+)\)", stdout)
    assert match, stdout
    return match.group(1), int(match.group(2))


def _refused(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=1).close()
    except OSError:
        return True
    return False


def test_demo_runs_the_commands_in_order_and_stops_the_emulator(tmp_path, fake_pulumi):
    repo = tmp_path / "repo"
    repo.mkdir()
    run = _start_demo(repo, fake_pulumi)
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 0, stderr
    url, pid = _emulator_of(stdout)
    calls = (tmp_path / "calls.log").read_text().splitlines()
    backend = f"file://{repo.resolve()}/.pulumi-state"
    assert [c.split(" | ")[0] for c in calls] == [
        "stack select --create dev",
        f"config set twilio:endpoint {url}",
        f"config set twilio:accountSid {DEFAULT_ACCOUNT_SID}",
        f"config set --secret twilio:authToken {DEFAULT_AUTH_TOKEN}",
        "up --yes",
        "stack output",
    ]
    assert all(f"backend={backend} | passphrase={demo.DEMO_PASSPHRASE}" in c for c in calls)
    assert DEFAULT_AUTH_TOKEN not in stdout  # the driver echoes commands with the secret hidden
    assert "emulator stopped" in stdout
    assert not _pid_exists(pid) and _refused(url)
    assert (repo / ".emulator-state" / "emulator.db").is_file()


def test_demo_destroy(tmp_path, fake_pulumi):
    run = _start_demo(tmp_path, fake_pulumi, "--destroy")
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 0, stderr
    calls = (tmp_path / "calls.log").read_text().splitlines()
    assert calls[-1].startswith("destroy --yes |")


def test_failed_pulumi_step_fails_the_demo_and_stops_the_emulator(tmp_path, fake_pulumi):
    run = _start_demo(tmp_path, {**fake_pulumi, "FAKE_PULUMI_UP": "fail"})
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 1
    assert "`pulumi up --yes ...` failed with exit status 3" in stderr
    url, pid = _emulator_of(stdout)
    assert not _pid_exists(pid) and _refused(url)
    # Nothing ran after the failure.
    assert (tmp_path / "calls.log").read_text().splitlines()[-1].startswith("up --yes")


def test_sigterm_cancels_pulumi_and_stops_the_emulator(tmp_path, fake_pulumi):
    log = tmp_path / "calls.log"
    run = _start_demo(tmp_path, {**fake_pulumi, "FAKE_PULUMI_UP": "hang"})
    try:
        deadline = time.monotonic() + 30
        # Until the stand-in has installed its trap: a signal before that would kill it silently
        # (a fixed 0.2 s was sometimes too short on a busy machine).
        while not (log.exists() and "trap set" in log.read_text()):
            assert time.monotonic() < deadline and run.poll() is None, "the demo never reached `pulumi up`"
            time.sleep(0.05)
        run.send_signal(signal.SIGTERM)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 130, stderr
    assert "interrupted" in stderr
    assert "got SIGINT" in log.read_text()  # pulumi was asked to cancel cleanly
    url, pid = _emulator_of(stdout)
    assert not _pid_exists(pid) and _refused(url)


# -- README -----------------------------------------------------------------------------------------


def test_readme_quick_start_is_exactly_the_two_commands():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh|shell)?\n(.*?)```", section, flags=re.S)
    commands = [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    assert (REPO / "scripts" / "demo.sh").is_file() and (REPO / "scripts" / "test.sh").is_file()
