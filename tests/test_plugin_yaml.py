"""The Pulumi YAML example: its plugin path resolves as the engine resolves it, and every type and
input property it uses is in the plugin's schema (Pulumi YAML type-checks against GetSchema)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from microvisor_pulumi.plugin.schema import PROVIDERS, package_schema

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


def test_every_type_and_property_is_in_the_schema() -> None:
    schema = package_schema()
    resources = project()["resources"]
    assert {r["type"] for r in resources.values()} <= set(PROVIDERS)
    for name, resource in resources.items():
        spec = schema["resources"][resource["type"]]
        unknown = set(resource["properties"]) - set(spec["inputProperties"])
        assert not unknown, f"{name}: {unknown} are not inputs of {resource['type']}"
        missing = set(spec.get("requiredInputs", [])) - set(resource["properties"])
        assert not missing, f"{name}: required inputs {missing} are not set"
