"""Every project of this repository finds the installed plugin where the engine looks for it: the
YAML example always uses it, and the Python projects (the demo, the consumer) use it once a stack
sets `microvisor:plugin true`. The YAML example's types and properties are checked against the
schema in test_yaml_example.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "pulumi-resource-microvisor"
PROJECTS = {
    "yaml example": ROOT / "examples" / "yaml",
    "demo (fleet)": ROOT,
    "consumer": ROOT / "examples" / "consumer",
}


@pytest.mark.parametrize("folder", PROJECTS.values(), ids=PROJECTS.keys())
def test_plugin_path_resolves_to_the_installed_plugin(folder: Path) -> None:
    # The engine (sdk/go/common/resource/plugin/host.go, resolvePluginPath; workspace/plugins.go,
    # getPluginPath) joins a relative path to the project folder, requires a directory and runs
    # <path>/pulumi-resource-<name> from it.
    project = yaml.safe_load((folder / "Pulumi.yaml").read_text())
    (entry,) = project["plugins"]["providers"]
    assert entry["name"] == "microvisor"
    plugins = (folder / entry["path"]).resolve()
    assert plugins == ROOT / ".venv" / "bin"
    runtime = project["runtime"]
    venv = runtime.get("options", {}).get("virtualenv") if isinstance(runtime, dict) else None
    if venv is not None:  # a Python project: the plugin comes from the virtualenv it runs in
        assert plugins == (folder / venv / "bin").resolve()
    if Path(sys.prefix).resolve() == ROOT / ".venv":  # the repository's own venv runs the tests
        assert os.access(plugins / SCRIPT, os.X_OK)
