"""``python -m microvisor_pulumi.emulator`` / ``microvisor-emulator``: run the emulator until signalled."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from microvisor_pulumi.emulator import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, DEFAULT_DEVICES, Emulator
from microvisor_pulumi.emulator.fleet import fleet_devices, seed_fleet
from microvisor_pulumi.emulator.store import ACCOUNT_SID_RE, DEVICE_SID_RE


def _device(text: str) -> tuple[str, str | None]:
    sid, sep, name = text.partition("=")
    if not DEVICE_SID_RE.match(sid):
        raise argparse.ArgumentTypeError(f"device SID must match ^UV[0-9a-fA-F]{{32}}$, got {sid!r}")
    return sid, (name if sep and name else None)


def _account(text: str) -> str:
    if not ACCOUNT_SID_RE.match(text):
        raise argparse.ArgumentTypeError("account SID must match ^AC[0-9a-fA-F]{32}$")
    return text


def _latency(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError(f"latency must be a number of seconds from 0 to 60, got {text!r}")
    return value


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"concurrency limit must be a whole number >= 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line, with the defaults shown in ``--help``."""
    parser = argparse.ArgumentParser(
        prog="microvisor-emulator",
        description="Local Twilio-compatible API (Microvisor v1, API v2010 Keys, IAM v1 Keys).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free port")
    parser.add_argument("--account-sid", type=_account, default=DEFAULT_ACCOUNT_SID, help="the account SID")
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN, help="the account's auth token")
    parser.add_argument(
        "--device",
        action="append",
        type=_device,
        metavar="SID[=unique_name]",
        help="seed a device (repeatable); when given, replaces the default devices "
        + ", ".join(f"{sid}={name}" for sid, name in DEFAULT_DEVICES),
    )
    parser.add_argument(
        "--data", default=None, metavar="PATH", help="SQLite file to keep state in (default: in memory)"
    )
    parser.add_argument(
        "--fleet",
        type=int,
        default=0,
        metavar="N",
        help="seed N devices with the MQTT/Azure demo set (Configs, Secrets, API keys) to try "
        "`microvisor-pulumi inventory` on; an account that already has Configs is left as it is",
    )
    parser.add_argument(
        "--latency",
        type=_latency,
        default=0.0,
        metavar="SECONDS",
        help="delay every API request by this long, as a real link to Twilio would",
    )
    parser.add_argument(
        "--concurrency-limit",
        type=_limit,
        default=None,
        metavar="N",
        help="answer 429 (code 20429) to requests arriving while N others are in flight (default: no limit)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Start the emulator, print the ready line, serve until SIGINT/SIGTERM, then stop cleanly."""
    args = build_parser().parse_args(argv)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    devices = args.device
    if args.fleet > 0 and devices is None:
        devices = fleet_devices(args.fleet)
    emulator = Emulator(
        args.host,
        args.port,
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        devices=devices,
        data=args.data,
        latency=args.latency,
        concurrency_limit=args.concurrency_limit,
    )
    if args.fleet > 0 and not emulator.store.list_items("config"):
        seed_fleet(emulator.store, devices or [])
    emulator.start()
    try:
        # The one line scripts wait for; flushed because stdout is usually a pipe.
        print(f"microvisor-emulator listening on {emulator.url}", flush=True)
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
