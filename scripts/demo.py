"""Deploy the demo fleet stack against the local emulator: ``bash scripts/demo.sh [--destroy]``.

Steps: find the Pulumi CLI (else install a pinned version into ``.pulumi-cli/`` with the SDK's own
installer, or, when that fails, say how to install it by hand), start the emulator with its state in
``.emulator-state/``, point the ``dev`` stack at it (file backend in ``.pulumi-state/``), run
``pulumi up --yes``, print the outputs, and stop the emulator whatever happens.

Each step is a function so that the tests can run the ones that need no Pulumi CLI. Nothing happens
at import time.

Only the CLI's installation goes through the Automation API (``pulumi.automation.PulumiCommand``).
The stack steps stay plain ``pulumi`` command lines run here, because the Automation API's runner
would lose what this driver promises: it forwards no signal (on SIGTERM it would wait for ``pulumi
up`` to finish instead of asking it to cancel cleanly), it reads outputs with ``--show-secrets``
(this driver never holds a secret output in plain text), and it prints nothing of what it runs
(the ``+ pulumi ...`` lines here are the recipe for doing it by hand).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from microvisor_pulumi.emulator import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN

REPO = Path(__file__).resolve().parent.parent
STACK = "dev"
# Protects only the demo's local state; override it with PULUMI_CONFIG_PASSPHRASE.
DEMO_PASSPHRASE = "microvisor-demo"
EMULATOR_DATA = Path(".emulator-state") / "emulator.db"
BACKEND_DIR = ".pulumi-state"
# Where the demo installs the CLI when there is none, and the version it installs there: pinned, so
# that every newcomer runs the demo with the CLI it was tested with.
CLI_DIR = ".pulumi-cli"
PULUMI_CLI_VERSION = "3.272.0"  # the SDK release current when this was written; CLI and SDK share numbers
READY_LINE = re.compile(r"^microvisor-emulator listening on (http://\S+)$")
INSTALL_HINT = (
    "Install it with `curl -fsSL https://get.pulumi.com | sh` (then open a new shell, or add "
    "~/.pulumi/bin to PATH), or see https://www.pulumi.com/docs/iac/download-install/"
)


class DemoError(RuntimeError):
    """A demo step failed; the message says what to do about it."""


class PulumiNotFound(DemoError):
    """The Pulumi CLI is not installed (or not on PATH)."""


Installer = Callable[[Path, str], str]
"""Installs the Pulumi CLI ``version`` under ``root`` and returns the ``pulumi`` executable."""


# -- the Pulumi CLI ---------------------------------------------------------------------------------


def find_pulumi(path: str | None = None, home: Path | None = None, repo: Path | None = None) -> str:
    """The ``pulumi`` executable: on PATH, else where get.pulumi.com installs it (``~/.pulumi/bin``),
    else where an earlier demo run installed it (``<repo>/.pulumi-cli/bin``).

    The installer edits shell profiles, which a shell opened before it does not read yet: looking in
    ``~/.pulumi/bin`` spares a newcomer that puzzle.
    """
    found = shutil.which("pulumi", path=path)
    if found:
        return found
    candidates = [(home if home is not None else Path.home()) / ".pulumi" / "bin" / "pulumi"]
    if repo is not None:
        candidates.append(Path(repo) / CLI_DIR / "bin" / "pulumi")
    for installed in candidates:
        if installed.is_file() and os.access(installed, os.X_OK):
            return str(installed)
    raise PulumiNotFound(f"The Pulumi CLI was not found on PATH. {INSTALL_HINT}")


def install_pulumi_cli(root: Path, version: str) -> str:
    """Install the Pulumi CLI ``version`` under ``root`` with the SDK's own installer.

    ``PulumiCommand.install`` first looks for that version already under ``root`` and downloads
    only if it is missing (from get.pulumi.com, which runs the same install script as the docs).
    """
    from pulumi.automation import PulumiCommand  # imported here: only this path needs it
    from semver import VersionInfo  # a dependency of pulumi; the installer takes its versions

    return PulumiCommand.install(root=str(root), version=VersionInfo.parse(version)).command


def find_or_install_pulumi(
    repo: Path = REPO,
    *,
    installer: Installer = install_pulumi_cli,
    version: str = PULUMI_CLI_VERSION,
    path: str | None = None,
    home: Path | None = None,
) -> str:
    """The ``pulumi`` executable; when there is none, install ``version`` into ``<repo>/.pulumi-cli``.

    If the installation fails (no network, say), the error says how to install the CLI by hand.
    """
    try:
        return find_pulumi(path=path, home=home, repo=repo)
    except PulumiNotFound:
        pass
    root = Path(repo) / CLI_DIR
    print(
        f"The Pulumi CLI was not found: installing Pulumi {version} into {CLI_DIR}/ "
        "(a download from get.pulumi.com, once; the demo then goes on)",
        flush=True,
    )
    try:
        pulumi = installer(root, version)
    except Exception as exc:  # noqa: BLE001 - any failure to install ends in the same advice
        raise PulumiNotFound(
            f"The Pulumi CLI was not found on PATH, and installing it into {CLI_DIR}/ failed "
            f"({type(exc).__name__}: {exc}). {INSTALL_HINT}"
        ) from None
    print(f"Installed the Pulumi CLI: {pulumi}", flush=True)
    return pulumi


def stack_env(repo: Path = REPO, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for every ``pulumi`` command of the demo.

    A file backend inside the checkout (no Pulumi Cloud login), a passphrase for its secrets (the
    demo default unless PULUMI_CONFIG_PASSPHRASE is set), and no ``TWILIO_*`` variables, so that the
    credentials in a developer's shell can never mix into a stack meant for the emulator.
    """
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if not k.startswith("TWILIO_")}
    env["PULUMI_BACKEND_URL"] = f"file://{Path(repo).resolve() / BACKEND_DIR}"
    if not env.get("PULUMI_CONFIG_PASSPHRASE") and not env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        env["PULUMI_CONFIG_PASSPHRASE"] = DEMO_PASSPHRASE
    env.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
    return env


def pulumi_commands(
    pulumi: str, endpoint: str, *, stack: str = STACK, destroy: bool = False
) -> list[list[str]]:
    """The command lines the demo runs, in order, from the repository root.

    The endpoint is set on every run: the emulator picks a free port each time it starts, while
    its state (and the stack's) persists between runs.
    """
    setup = [
        [pulumi, "stack", "select", "--create", stack],
        [pulumi, "config", "set", "twilio:endpoint", endpoint],
        [pulumi, "config", "set", "twilio:accountSid", DEFAULT_ACCOUNT_SID],
        # The emulator's well-known default token: nothing real, but kept encrypted like a real one.
        [pulumi, "config", "set", "--secret", "twilio:authToken", DEFAULT_AUTH_TOKEN],
    ]
    if destroy:
        return [*setup, [pulumi, "destroy", "--yes"]]
    # `stack output` shows secret outputs as [secret]: add --show-secrets yourself to see them.
    return [*setup, [pulumi, "up", "--yes"], [pulumi, "stack", "output"]]


# -- the emulator -----------------------------------------------------------------------------------


@dataclass
class RunningEmulator:
    """An emulator process the demo started, and the base URL it answers on."""

    process: subprocess.Popen[str]
    url: str


def emulator_command(python: str = sys.executable, data: Path = EMULATOR_DATA) -> list[str]:
    """The emulator on a free port, its state in a SQLite file so that the stack and the emulator
    agree on the next run."""
    return [python, "-m", "microvisor_pulumi.emulator", "--port", "0", "--data", str(data)]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux only: if the demo itself is killed with SIGKILL, no `finally` runs; the kernel then
    # sends the emulator SIGTERM so it does not outlive us.
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _sigint_cancels() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Started under nohup or as a background job, we inherit SIGINT ignored, and so would pulumi:
    # the SIGINT we send it to cancel cleanly would do nothing, and we would wait 30 s to kill it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _read_ready_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The emulator's first stdout line, or '' if it exits or stays silent for `timeout` seconds."""
    assert process.stdout is not None
    stdout = process.stdout
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0].strip() if lines else ""


def stop_emulator(process: subprocess.Popen[str], timeout: float = 10.0) -> None:
    """Stop the emulator: SIGTERM (it closes its database cleanly), SIGKILL if it does not exit."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        except BaseException:
            # A second signal while waiting: still leave nothing behind, then let it unwind.
            process.kill()
            process.wait()
            raise
    if process.stdout is not None:
        process.stdout.close()


@contextmanager
def start_emulator(
    repo: Path = REPO,
    *,
    python: str = sys.executable,
    data: Path = EMULATOR_DATA,
    ready_timeout: float = 30.0,
) -> Iterator[RunningEmulator]:
    """Run the emulator for the duration of a ``with`` block; it is stopped however the block ends.

    ``data`` is relative to ``repo``, the emulator's working directory. The emulator gets a session
    of its own so that Ctrl-C reaches only the demo and ``pulumi``: pulumi can then finish cancelling
    against a live emulator before the demo stops it.
    """
    (Path(repo) / data).parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        emulator_command(python, data),
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    try:
        line = _read_ready_line(process, ready_timeout)
        match = READY_LINE.match(line)
        if match is None:
            code = process.poll()
            why = f"it exited with status {code}" if code is not None else f"it printed {line!r}"
            raise DemoError(f"The emulator did not start ({why}); see its messages above.")
        yield RunningEmulator(process, match.group(1))
    finally:
        stop_emulator(process)


# -- running it -------------------------------------------------------------------------------------


class Interrupted(BaseException):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C so that every ``finally`` runs."""


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    """Turn SIGTERM and SIGHUP into an exception (SIGINT already raises KeyboardInterrupt)."""
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, _raise_interrupted)


def run_command(cmd: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
    """Run one pulumi command in the foreground; a failure stops the demo with its exit status."""
    print("+ " + " ".join(_shown(cmd)), flush=True)
    process = subprocess.Popen(
        list(cmd), env=dict(env), cwd=cwd, preexec_fn=_sigint_cancels if os.name == "posix" else None
    )
    try:
        code = process.wait()
    except BaseException as exc:
        # Ctrl-C in a terminal reaches pulumi too; SIGTERM/SIGHUP reached only us, so pass it on as
        # the SIGINT pulumi takes for "cancel cleanly". Give it a moment, then make sure.
        if isinstance(exc, Interrupted) and process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except BaseException:
            pass
        if process.poll() is None:
            process.kill()
            process.wait()
        raise
    if code != 0:
        raise DemoError(f"`{' '.join(_shown(cmd[:3]))} ...` failed with exit status {code}.")


def _shown(cmd: Sequence[str]) -> list[str]:
    # Print `pulumi` rather than its full path, and never a secret value.
    shown = ["pulumi" if i == 0 else part for i, part in enumerate(cmd)]
    if "--secret" in shown:
        shown[-1] = "[secret]"
    return shown


def run_demo(
    repo: Path = REPO,
    *,
    destroy: bool = False,
    stack: str = STACK,
    pulumi: str | None = None,
    installer: Installer = install_pulumi_cli,
) -> None:
    """Find (or install) pulumi, start the emulator, run the stack's commands, stop the emulator."""
    pulumi = pulumi or find_or_install_pulumi(repo, installer=installer)
    env = stack_env(repo)
    (Path(repo) / BACKEND_DIR).mkdir(parents=True, exist_ok=True)
    with start_emulator(repo) as emulator:
        print(f"emulator: {emulator.url} (pid {emulator.process.pid}), state in {EMULATOR_DATA}", flush=True)
        for cmd in pulumi_commands(pulumi, emulator.url, stack=stack, destroy=destroy):
            run_command(cmd, env, repo)
    print("emulator stopped", flush=True)


def main(argv: Sequence[str] | None = None, installer: Installer = install_pulumi_cli) -> int:
    """The command line: ``python scripts/demo.py [--destroy] [--stack NAME] [--repo PATH]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--destroy", action="store_true", help="tear the stack down instead of deploying it")
    parser.add_argument("--stack", default=STACK, help="the stack name")
    parser.add_argument("--repo", type=Path, default=REPO, help="the project directory (holds Pulumi.yaml)")
    args = parser.parse_args(argv)
    install_signal_handlers()
    try:
        run_demo(args.repo, destroy=args.destroy, stack=args.stack, installer=installer)
    except DemoError as err:
        print(f"demo: {err}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Interrupted):
        print("demo: interrupted; the emulator is stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
