"""`pulumi-resource-microvisor <engine address>`: how the Pulumi engine starts this provider.

The engine runs the plugin with its own gRPC address as the last argument (after optional logging
and tracing flags), reads one line from stdout, the port the plugin listens on, and then drives it
over gRPC until it kills the process.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pulumi-resource-microvisor", description=__doc__)
    parser.add_argument("engine", nargs="?", help="the engine's gRPC address (host:port)")
    # Flags the engine may add (sdk/go/common/resource/plugin/plugin.go, buildPluginArguments).
    parser.add_argument("--logtostderr", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--logflow", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tracing", help=argparse.SUPPRESS)
    parser.add_argument("-v", dest="verbose", help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> None:
    from microvisor_pulumi.plugin.server import serve

    args = _arguments(sys.argv[1:] if argv is None else argv)
    server, port = serve(args.engine)
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    server.stop(0)


if __name__ == "__main__":
    main()
