"""The Pulumi YAML example finds the installed plugin where the engine looks for it (its types and
properties against the schema are checked in test_yaml_example.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "yaml"
SCRIPT = "pulumi-resource-microvisor"


def project() -> dict:
    return yaml.safe_load((EXAMPLE / "Pulumi.yaml").read_text())


def test_plugin_path_resolves_to_the_installed_plugin() -> None:
    # The engine (sdk/go/common/resource/plugin/host.go, resolvePluginPath; workspace/plugins.go,
    # getPluginPath) joins a relative path to the project folder, requires a directory and runs
    # <path>/pulumi-resource-<name> from it.
    (entry,) = project()["plugins"]["providers"]
    assert entry["name"] == "microvisor"
    folder = (EXAMPLE / entry["path"]).resolve()
    assert folder == ROOT / ".venv" / "bin"
    if Path(sys.prefix).resolve() == ROOT / ".venv":  # the repository's own venv runs the tests
        assert os.access(folder / SCRIPT, os.X_OK)
