"""``microvisor-pulumi inventory``: read a Twilio account and write the Pulumi project adopting it.

Credentials resolve as the provider's do (``TWILIO_*`` environment), with flags on top. The auth
token and API secret have no flag, since a flag shows in ``ps`` and shell history: they come from
the environment, from stdin (``--secret-stdin``) or from a hidden prompt. Nothing secret is printed
or written: Secret values cannot even be read, and credentials only travel in the HTTP auth header.

Progress is a plain counter on stderr, redrawn in place, and only when stderr is a terminal. A
library (tqdm, rich) would add a runtime dependency to every provider host for one line of output.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import re
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from microvisor_pulumi._twilio import AuthFailed, MissingCredentials, Settings, TwilioError
from microvisor_pulumi._twilio.settings import InsecureEndpointWarning, check_endpoint_transport
from microvisor_pulumi.inventory import DEFAULT_WORKERS, Inventory, read_inventory, render
from microvisor_pulumi.inventory.screen import sid_problem
from microvisor_pulumi.inventory.shards import (
    add_shard_arguments,
    check_shard_arguments,
    refuse_sharded_folder,
    report_sharded,
)

#: Flag -> the environment variable it stands for (Settings.resolve reads the environment).
_FLAG_ENV = {
    "account_sid": "TWILIO_ACCOUNT_SID",
    "api_key": "TWILIO_API_KEY",
    "endpoint": "TWILIO_ENDPOINT",
    "region": "TWILIO_REGION",
    "edge": "TWILIO_EDGE",
}


class StderrCounter:
    """``Reading devices: 120/300`` redrawn in place on a terminal, at most ten times a second."""

    def __init__(self, stream: TextIO, label: str = "Reading devices") -> None:
        self.stream = stream
        self.label = label
        self.enabled = stream.isatty()
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{self.label}: {done}/{total}{end}")
        self.stream.flush()


def build_parser() -> argparse.ArgumentParser:
    """The ``inventory`` command line."""
    parser = argparse.ArgumentParser(
        prog="microvisor-pulumi inventory",
        description="Read a Twilio account's Microvisor Configs, Secrets, devices and API keys, and write "
        "a Pulumi Python project that adopts them (overwrite=True on every resource).",
    )
    parser.add_argument(
        "--out", "-o", default="adopted-fleet", help="project folder to write (default: %(default)s)"
    )
    parser.add_argument("--project", help="Pulumi project name (default: the folder's name)")
    parser.add_argument(
        "--layout",
        choices=render.LAYOUTS,
        default="auto",
        help=f"one call per resource, or a table and a loop (auto: a table above {render.TABLE_THRESHOLD})",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace the files of an existing project folder"
    )
    creds = parser.add_argument_group(
        "credentials",
        "default to TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN or TWILIO_API_KEY/TWILIO_API_SECRET, ...",
    )
    creds.add_argument("--account-sid", help="Account SID (AC...)")
    creds.add_argument(
        "--api-key", help="API key SID (SK...); its secret from TWILIO_API_SECRET, stdin or a prompt"
    )
    creds.add_argument(
        "--secret-stdin",
        action="store_true",
        help="read the auth token (or, with --api-key, the API secret) from the first line of stdin",
    )
    creds.add_argument("--endpoint", help="one base URL for every Twilio host, e.g. the emulator's")
    creds.add_argument(
        "--allow-insecure-endpoint",
        action="store_true",
        help="let --endpoint be plain http:// to another machine, sending the credentials unencrypted "
        "(without it plain http:// works only for localhost, 127.0.0.0/8 and ::1)",
    )
    creds.add_argument("--region", help="Twilio region, e.g. ie1")
    creds.add_argument("--edge", help="Twilio edge, e.g. dublin")
    parser.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="devices read at once (default: %(default)s)",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="print nothing but errors and the items left out"
    )
    add_shard_arguments(parser)
    return parser


def resolve_settings(
    args: argparse.Namespace, environ: Mapping[str, str], stdin: TextIO, stderr: TextIO
) -> Settings:
    """Settings from the environment with the flags on top, the secret from stdin or a prompt if asked."""
    env = {k: v for k, v in environ.items() if k.startswith("TWILIO_")}
    for name, var in _FLAG_ENV.items():
        value = getattr(args, name)
        if value:
            env[var] = value
    if args.allow_insecure_endpoint:
        env["TWILIO_ALLOW_INSECURE_ENDPOINT"] = "true"
    secret_var = "TWILIO_API_SECRET" if env.get("TWILIO_API_KEY") else "TWILIO_AUTH_TOKEN"
    if args.secret_stdin:
        env[secret_var] = stdin.readline().rstrip("\r\n")
    elif not env.get(secret_var) and stdin.isatty() and stderr.isatty():
        who = env.get("TWILIO_API_KEY") or env.get("TWILIO_ACCOUNT_SID") or "the account"
        what = "API secret" if secret_var == "TWILIO_API_SECRET" else "auth token"
        env[secret_var] = getpass.getpass(f"Twilio {what} for {who}: ", stream=stderr)
    endpoint = env.get("TWILIO_ENDPOINT")
    if endpoint and not env.get("TWILIO_ALLOW_INSECURE_ENDPOINT"):
        # Named as this command's user knows them (flag or variable); Settings.resolve checks again.
        check_endpoint_transport(
            endpoint.strip(),
            False,
            key="--endpoint" if args.endpoint else "TWILIO_ENDPOINT",
            allow_key="--allow-insecure-endpoint (or TWILIO_ALLOW_INSECURE_ENDPOINT)",
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InsecureEndpointWarning)
        settings = Settings.resolve(config={}, environ=env)
    for warning in caught:
        print(f"microvisor-pulumi inventory: warning: {warning.message}", file=stderr)
    return settings


def _project_name(args: argparse.Namespace, out: Path) -> str:
    name = args.project or re.sub(r"[^A-Za-z0-9_.-]+", "-", out.resolve().name).strip("-.") or "adopted-fleet"
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"--project must use only letters, digits, '_', '.' and '-', got {name!r}")
    return name


def write_project(
    inv: Inventory,
    out: Path,
    project: str,
    layout: str = "auto",
    *,
    api_key: str | None = None,
    force: bool = False,
) -> dict[str, Path]:
    """Write the project folder; refuses to replace existing files unless ``force``, and a sharded
    project's program always."""
    refuse_sharded_folder(out)
    files = {
        "Pulumi.yaml": render.render_pulumi_yaml(project, inv.account_sid),
        "__main__.py": render.render_program(inv, layout),
        "requirements.txt": render.render_requirements(),
        "ruff.toml": render.render_ruff_toml(),
        render.SECRETS_FILE: render.render_secrets_script(inv, api_key),
    }
    existing = [name for name in files if (out / name).exists()]
    if existing and not force:
        raise FileExistsError(
            f"{out} already holds {', '.join(existing)}: choose another --out, or pass --force"
        )
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written[name] = path
    written[render.SECRETS_FILE].chmod(0o755)
    return written


def with_previous_names(inv: Inventory, out: Path) -> Inventory:
    """``inv`` keeping the config names the program being replaced gives its Secrets: the stack config
    holds the values under those names, and a name made anew from a renamed device's unique name
    could be another device's."""
    try:
        program = (out / "__main__.py").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return inv
    return dataclasses.replace(inv, kept_secret_names=render.previous_secret_names(program))


def warn_left_out(inv: Inventory, where: str, stderr: TextIO) -> None:
    """Name every item the provider's check refuses, even with --quiet: what is not managed must not
    go unnoticed. Escaped like the program's comments, so remote text cannot move the cursor or
    rewrite the terminal either."""
    if not inv.skipped:
        return
    lines = render.skipped_lines(inv)
    print(
        f"microvisor-pulumi inventory: warning: left out {len(lines)} items that the provider's check "
        f"refuses ({where}); everything else is in the program:",
        file=stderr,
    )
    print("\n".join(f"  {line}" for line in lines), file=stderr)


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command; 0 on success, 2 on bad input or credentials, 1 when Twilio fails."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Path(args.out)

    def say(text: str, stream: TextIO = stdout) -> None:
        if not args.quiet:
            print(text, file=stream)

    try:
        project = _project_name(args, out)
        check_shard_arguments(args, out, project)  # before any request: a bad flag costs no account read
        settings = resolve_settings(args, os.environ if environ is None else environ, stdin, stderr)
        settings.basic_auth()  # missing credentials: say so before any request
        if settings.api_key and sid_problem("ApiKey", settings.api_key):
            raise ValueError("--api-key (or TWILIO_API_KEY) must be an API key SID: SK + 32 hex digits")
        from microvisor_pulumi._twilio import TwilioClient

        with TwilioClient(settings) as client:
            progress = StderrCounter(stderr) if not args.quiet else None
            inv = read_inventory(client, client.account_sid, progress, workers=args.workers)
        if args.devices_per_stack is not None:
            # The sharded layout: one project, a stack per shard (see inventory/shards.py).
            status = report_sharded(inv, out, project, args, settings.api_key, say, stderr)
            warn_left_out(inv, "in no stack file", stderr)
            return status
        inv = with_previous_names(inv, out)
        written = write_project(inv, out, project, args.layout, api_key=settings.api_key, force=args.force)
    except (ValueError, FileExistsError) as err:
        print(f"microvisor-pulumi inventory: {err}", file=stderr)
        return 2
    except TwilioError as err:
        # TwilioError text is built without credentials or secret values (see _twilio/errors.py).
        print(f"microvisor-pulumi inventory: {err}", file=stderr)
        return 2 if isinstance(err, (MissingCredentials, AuthFailed)) else 1
    n_secrets = len(render.secret_entries(inv))
    say(
        f"Read {len(inv.devices)} devices, {inv.resource_count - n_secrets} Configs, {n_secrets} Secrets "
        f"and {len(inv.api_keys)} API keys; wrote a {render.choose_layout(inv, args.layout)} program to "
        f"{written['__main__.py']}.",
        stderr,
    )
    say(f"Before the first `pulumi up`, set the secrets (also in {written[render.SECRETS_FILE]}):")
    say("\n".join(render.secret_commands(inv, settings.api_key)))
    warn_left_out(inv, f"listed as comments in {written['__main__.py']}", stderr)
    return 0
