"""``python -m microvisor_pulumi`` / ``microvisor-pulumi``: the package's commands (``inventory``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

USAGE = """usage: microvisor-pulumi COMMAND [ARGS...]

commands:
  inventory   read a Twilio account and write a Pulumi project that adopts its Microvisor
              Configs and Secrets (see `microvisor-pulumi inventory --help`)
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a command; each command is imported only when it runs."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "inventory":
        from microvisor_pulumi.inventory.cli import main as inventory

        return inventory(rest)
    sys.stderr.write(f"microvisor-pulumi: unknown command {command!r}\n\n{USAGE}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
