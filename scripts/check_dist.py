"""Assert what the built distributions carry: ``python scripts/check_dist.py WHEEL SDIST``.

The wheel must hold the whole package (every module of ``microvisor_pulumi/`` in this checkout,
the emulator included), the PEP 561 ``py.typed`` marker, the provider plugin's ``schema.json``, the
license and the console script, and
nothing else: no tests, benchmarks, examples or scripts. The sdist must carry the license and the
changelog. Exits non-zero naming what is wrong.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LEFT_OUT = ("tests/", "benchmarks/", "examples/", "scripts/")


def check_wheel(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        metadata = Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    problems: list[str] = []
    package = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "microvisor_pulumi").rglob("*")
        if p.is_file() and p.suffix in (".py", ".typed")
    }
    problems += [f"wheel lacks {name}" for name in sorted(package - names)]
    for required in (
        "microvisor_pulumi/py.typed",
        "microvisor_pulumi/emulator/__main__.py",
        "microvisor_pulumi/plugin/schema.json",  # the provider plugin answers GetSchema with it
    ):
        if required not in names:
            problems.append(f"wheel lacks {required}")
    problems += [f"wheel carries {n}" for n in sorted(names) if n.startswith(LEFT_OUT)]
    others = [n for n in names if not n.startswith(("microvisor_pulumi/", f"{dist_info}/", *LEFT_OUT))]
    problems += [f"wheel carries {n} outside the package" for n in sorted(others)]
    if f"{dist_info}/licenses/LICENSE" not in names:
        problems.append("wheel lacks the LICENSE file")
    if metadata.get("License-Expression") != "MIT":
        problems.append(f"License-Expression is {metadata.get('License-Expression')!r}, not 'MIT'")
    classifiers = metadata.get_all("Classifier") or []
    if "Typing :: Typed" not in classifiers:
        problems.append("no 'Typing :: Typed' classifier")
    if not metadata.get("Keywords") or not metadata.get_all("Project-URL"):
        problems.append("keywords or project URLs missing")
    if "microvisor-emulator = microvisor_pulumi.emulator.__main__:main" not in entry_points:
        problems.append("the microvisor-emulator console script is missing")
    return list(dict.fromkeys(problems))  # a missing py.typed is named once


def check_sdist(path: Path) -> list[str]:
    with tarfile.open(path) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    wanted = ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml")
    return [f"sdist lacks {n}" for n in wanted if n not in names]


def main(argv: list[str]) -> int:
    wheel, sdist = Path(argv[0]), Path(argv[1])
    problems = check_wheel(wheel) + check_sdist(sdist)
    for problem in problems:
        print(f"{wheel.name}: {problem}", file=sys.stderr)
    if not problems:
        print(f"{wheel.name}: the package, the emulator and py.typed; no tests, benchmarks or examples")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
