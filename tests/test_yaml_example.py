"""examples/yaml/Pulumi.yaml, checked against the provider plugin's package schema without the Pulumi CLI.

Pulumi YAML type-checks a program against the plugin's `GetSchema` answer when it runs. There is no
CLI here, so `check_project` does the part of that check this example relies on, from
``microvisor_pulumi/plugin/schema.json``: type tokens, input names and literal types, required
inputs, every ``${...}`` reference (a declared config key, variable or resource, and an output that
resource has), secrets fed only from secret config, only the plugin's ``microvisor:*`` config
namespace, and the `plugins.providers` entry that lets the engine find the plugin. The
deliberately broken copies below show that each rule can fail. The project-file rules are the CLI's
(`sdk/go/common/workspace/project.go` and `pkg/workspace/config.go` in pulumi/pulumi); the
expression syntax and the resource options are pulumi-yaml's (`pkg/pulumiyaml/ast/`).

The example is also held to the Python fleet program (examples/fleet): the same resources under the
same names, the same literal inputs and defaults, the same outputs. And the README's commands for
running it must set every config key the project needs, the way the schema says.
"""

from __future__ import annotations

import copy
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from microvisor_pulumi.emulator import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, DEFAULT_DEVICES
from microvisor_pulumi.plugin.schema import SCHEMA_FILE
from microvisor_pulumi.plugin.tokens import DYNAMIC_TYPES

REPO = Path(__file__).resolve().parent.parent
PROJECT_DIR = REPO / "examples" / "yaml"
PROJECT_FILE = PROJECT_DIR / "Pulumi.yaml"
FLEET_DIR = REPO / "examples" / "fleet"
README = REPO / "README.md"
SECTION = "## YAML, other languages and `pulumi import`"
#: The plugin's executable: the engine runs `pulumi-<kind>-<name>` from a `plugins.providers` path.
PLUGIN_EXECUTABLE = "pulumi-resource-microvisor"
#: Where `pip install -e .` into the repository's virtualenv puts console scripts.
VENV = REPO / ".venv"

Problems = list[str]

# -- Pulumi.yaml rules, from the CLI and pulumi-yaml sources -----------------------------------------

#: Top-level keys: the project file's (project.json) and a YAML program's.
TOP_LEVEL_KEYS = {
    "name", "description", "author", "website", "license", "runtime", "main", "config",
    "stackConfigDir", "backend", "options", "template", "packages", "plugins",
    "resources", "variables", "outputs", "pulumi",
}  # fmt: skip
#: A project-namespaced config key's declaration (project.json, ConfigTypeDeclaration).
CONFIG_FIELDS = {"type", "items", "description", "secret", "default", "value"}
CONFIG_TYPES = {"string", "integer", "boolean", "array", "object"}
RESOURCE_FIELDS = {"type", "name", "defaultProvider", "properties", "options", "get"}
#: pulumi-yaml's ResourceOptionsDecl.
RESOURCE_OPTIONS = {
    "additionalSecretOutputs", "aliases", "customTimeouts", "deleteBeforeReplace", "dependsOn",
    "ignoreChanges", "import", "parent", "protect", "provider", "providers", "version",
    "pluginDownloadURL", "replaceOnChanges", "retainOnDelete", "replaceWith", "deletedWith",
    "hideDiffs", "replacementTrigger", "envVarMappings",
}  # fmt: skip
PLUGIN_FIELDS = {"name", "path", "version"}
#: The ``pulumi`` variable pulumi-yaml defines.
PULUMI_VARIABLE = {"cwd", "organization", "project", "rootDirectory", "stack"}
#: pulumi-yaml built-ins whose result is a string; fn::secret has its argument's type.
STRING_FUNCTIONS = {
    "fn::sha1", "fn::join", "fn::toJSON", "fn::toBase64", "fn::fromBase64", "fn::readFile",
    "fn::filebase64", "fn::filebase64sha256",
}  # fmt: skip
OTHER_FUNCTIONS = {"fn::secret", "fn::unsecret", "fn::select", "fn::split", "fn::length", "fn::invoke"}

_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")
_ACCESSOR = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]|\[\"((?:[^\"\\]|\\.)*)\"\]")


def venv_scripts_dir(venv: Path) -> Path:
    """Where pip installs console scripts in the virtualenv at `venv` (``bin``, ``Scripts`` on Windows)."""
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else sysconfig.get_default_scheme()
    return Path(sysconfig.get_path("scripts", scheme, vars={"base": str(venv), "platbase": str(venv)}))


def parse_access(text: str) -> list[str | int]:
    """``res.prop[0]`` -> ``["res", "prop", 0]`` (pulumi-yaml's property access, loosely as it parses it)."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _ACCESSOR.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"cannot parse the property access ${{{text}}}")
        name, index, quoted = match.groups()
        parts.append(name if name is not None else int(index) if index is not None else quoted)
        pos = match.end()
    if not parts:
        raise ValueError("empty interpolation ${}")
    return parts


def interpolations(text: str) -> list[list[str | int]]:
    """The property accesses in a string; ``$${`` is a literal ``${``."""
    return [parse_access(m.group(1)) for m in _INTERPOLATION.finditer(text) if text[: m.start()][-1:] != "$"]


def references(value: Any) -> Iterator[list[str | int]]:
    """Every property access anywhere in an expression."""
    if isinstance(value, str):
        yield from interpolations(value)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from references(item)


def is_function(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and str(next(iter(value))).startswith("fn::")


class ProjectChecker:
    """Checks one parsed Pulumi.yaml against the package schema; `problems` lists what is wrong."""

    def __init__(self, project: dict[str, Any], schema: dict[str, Any], project_dir: Path, scripts_dir: Path):
        self.project = project
        self.schema = schema
        self.project_dir = project_dir
        self.scripts_dir = scripts_dir
        self.problems: Problems = []
        self.name = str(project.get("name", ""))
        self.config: dict[str, dict[str, Any]] = {}
        self.resources: dict[str, dict[str, Any]] = project.get("resources") or {}
        self.variables: dict[str, Any] = project.get("variables") or {}

    def problem(self, where: str, text: str) -> None:
        self.problems.append(f"{where}: {text}")

    def check(self) -> Problems:
        for key in sorted(set(self.project) - TOP_LEVEL_KEYS):
            self.problem(key, "not a key of a Pulumi YAML project file")
        if self.project.get("runtime") != "yaml":
            self.problem("runtime", f"must be yaml, got {self.project.get('runtime')!r}")
        self.check_plugins()
        self.check_config()
        for name, resource in self.resources.items():
            self.check_resource(name, resource)
        for name, value in self.variables.items():
            self.check_expression(f"variables.{name}", value)
        for name, value in (self.project.get("outputs") or {}).items():
            self.check_expression(f"outputs.{name}", value)
        return self.problems

    # -- plugins and config ----------------------------------------------------------------------

    def check_plugins(self) -> None:
        providers = (self.project.get("plugins") or {}).get("providers") or []
        ours = [p for p in providers if isinstance(p, dict) and p.get("name") == self.schema["name"]]
        if len(ours) != 1:
            self.problem("plugins.providers", f"needs exactly one entry named {self.schema['name']!r}")
            return
        entry = ours[0]
        for key in sorted(set(entry) - PLUGIN_FIELDS):
            self.problem(
                "plugins.providers", f"{key!r} is not a plugin option ({', '.join(sorted(PLUGIN_FIELDS))})"
            )
        if "version" in entry and entry["version"] != self.schema["version"]:
            self.problem(
                "plugins.providers",
                f"version {entry['version']} is not the plugin's {self.schema['version']}",
            )
        # The engine joins a relative path to the project's folder (resolvePluginPath) and runs
        # `pulumi-resource-<name>` in it (getPluginPath).
        path = os.path.normpath(self.project_dir / str(entry.get("path", "")))
        if path != os.path.normpath(self.scripts_dir):
            self.problem(
                "plugins.providers",
                f"the plugin path resolves to {path}, not to {self.scripts_dir}, where pip installs "
                f"{PLUGIN_EXECUTABLE}",
            )

    def check_config(self) -> None:
        variables = self.schema["config"]["variables"]
        for key, decl in (self.project.get("config") or {}).items():
            where = f"config.{key}"
            if not isinstance(decl, dict):
                decl = {"default": decl}
            namespace, _, short = key.rpartition(":")
            if namespace and namespace != self.name:
                # Not the project's: the CLI takes a value only (project.go, Validate).
                if namespace != self.schema["name"]:
                    self.problem(
                        where,
                        f"namespace {namespace}: is not the plugin's; a default provider reads only "
                        f"{self.schema['name']}:* (e.g. {self.schema['name']}:{short})",
                    )
                elif short not in variables:
                    self.problem(
                        where, f"not a config variable of the plugin ({', '.join(sorted(variables))})"
                    )
                if set(decl) != {"value"}:
                    self.problem(where, "a key outside the project's namespace takes only 'value'")
                continue
            for field in sorted(set(decl) - CONFIG_FIELDS):
                self.problem(where, f"{field!r} is not a config field")
            typ = decl.get("type")
            if typ is None and "default" not in decl:
                self.problem(where, "needs a 'type' or a 'default' (pulumi-yaml cannot infer its type)")
            if typ is not None and typ not in CONFIG_TYPES:
                self.problem(where, f"type {typ!r} is not one of {', '.join(sorted(CONFIG_TYPES))}")
            if typ is not None and "default" in decl and json_type(decl["default"]) not in compatible(typ):
                self.problem(where, f"default {decl['default']!r} is not of type {typ}")
            if decl.get("secret") and "default" in decl:
                self.problem(
                    where,
                    "a secret with a default: the default is plain text in Pulumi.yaml, and the CLI "
                    "refuses a secret key whose value is not encrypted",
                )
            self.config[short] = {**decl, "type": typ or json_type(decl.get("default"))}

    # -- resources -------------------------------------------------------------------------------

    def check_resource(self, name: str, resource: dict[str, Any]) -> None:
        where = f"resources.{name}"
        for key in sorted(set(resource) - RESOURCE_FIELDS):
            self.problem(where, f"{key!r} is not a resource field")
        for key in sorted(set(resource.get("options") or {}) - RESOURCE_OPTIONS):
            self.problem(f"{where}.options", f"{key!r} is not a resource option")
        for key, value in (resource.get("options") or {}).items():
            self.check_expression(f"{where}.options.{key}", value)
        token = resource.get("type")
        spec = self.schema["resources"].get(token)
        if spec is None:
            self.problem(
                where,
                f"unknown type {token!r} (the schema has {', '.join(sorted(self.schema['resources']))})",
            )
            return
        properties: dict[str, Any] = resource.get("properties") or {}
        inputs: dict[str, Any] = spec["inputProperties"]
        for prop in spec.get("requiredInputs", []):
            if prop not in properties:
                self.problem(where, f"missing required input {prop} of {token}")
        for prop, value in properties.items():
            at = f"{where}.properties.{prop}"
            if prop not in inputs:
                self.problem(at, f"not an input of {token} (inputs: {', '.join(sorted(inputs))})")
                continue
            self.check_expression(at, value, inputs[prop])
            if inputs[prop].get("secret"):
                self.check_secret_input(at, value)

    def check_secret_input(self, where: str, value: Any) -> None:
        refs = list(references(value))
        if not refs:
            self.problem(
                where, "a literal value for a secret input: it would sit in plain text in Pulumi.yaml"
            )
        for ref in refs:
            root = str(ref[0])
            if root in self.config and not self.config[root].get("secret"):
                self.problem(where, f"config {root} feeds a secret input but is not declared secret: true")

    # -- expressions -----------------------------------------------------------------------------

    def check_expression(self, where: str, value: Any, expected: dict[str, Any] | None = None) -> None:
        """Check the references in `value` and, against the schema type `expected`, its type."""
        for ref in references(value):
            self.check_reference(where, ref)
        for fn in functions(value):
            if fn not in STRING_FUNCTIONS | OTHER_FUNCTIONS:
                self.problem(where, f"{fn} is not a pulumi-yaml built-in this check knows")
        if expected is not None:
            self.check_type(where, value, expected)

    def check_reference(self, where: str, ref: list[str | int]) -> None:
        root, rest = str(ref[0]), ref[1:]
        shown = "${" + ".".join(map(str, ref)) + "}"
        if root == "pulumi":
            if not rest or rest[0] not in PULUMI_VARIABLE:
                self.problem(where, f"{shown}: pulumi has only {', '.join(sorted(PULUMI_VARIABLE))}")
        elif root in self.resources:
            token = self.resources[root].get("type")
            spec = self.schema["resources"].get(token)
            if (
                rest
                and spec is not None
                and rest[0] not in {"id", "urn"}
                and rest[0] not in spec["properties"]
            ):
                self.problem(where, f"{shown}: {rest[0]} is not an output of {token}")
        elif root in self.config or root.removeprefix(f"{self.name}:") in self.config:
            decl = self.config[root.removeprefix(f"{self.name}:")]
            if rest and decl.get("type") not in {"object", "array"}:
                self.problem(where, f"{shown}: config {root} is a {decl.get('type')}, it has no {rest[0]}")
        elif root not in self.variables:
            self.problem(where, f"{shown}: {root} is an undeclared resource, config key or variable")

    def type_of(self, value: Any) -> dict[str, Any] | None:
        """The schema type of an expression, when it can be known without running it."""
        if isinstance(value, str):
            whole = _INTERPOLATION.fullmatch(value)
            if whole is None or value.startswith("$$"):
                return {"type": "string"}
            ref = parse_access(whole.group(1))
            root, rest = str(ref[0]), ref[1:]
            if root == "pulumi":
                return {"type": "string"}
            if root in self.resources:
                spec = self.schema["resources"].get(self.resources[root].get("type"))
                if spec is None or not rest:
                    return None
                return spec["properties"].get(rest[0]) if len(rest) == 1 else None
            decl = self.config.get(root.removeprefix(f"{self.name}:"))
            return {"type": decl["type"]} if decl is not None and not rest else None
        if is_function(value):
            fn, arg = next(iter(value.items()))
            if fn in STRING_FUNCTIONS:
                return {"type": "string"}
            return self.type_of(arg) if fn in {"fn::secret", "fn::unsecret"} else None
        return {"type": json_type(value)}

    def check_type(self, where: str, value: Any, expected: dict[str, Any]) -> None:
        expected = self.resolve(expected)
        if isinstance(value, list) and expected.get("type") == "array":
            for index, item in enumerate(value):
                self.check_type(f"{where}[{index}]", item, expected.get("items", {}))
            return
        if isinstance(value, dict) and not is_function(value) and expected.get("type") == "object":
            props = expected.get("properties", {})
            for key in sorted(set(value) - set(props)):
                self.problem(where, f"{key!r} is not a property of this object ({', '.join(sorted(props))})")
            for key in expected.get("required", []):
                if key not in value:
                    self.problem(where, f"missing required property {key}")
            for key, item in value.items():
                if key in props:
                    self.check_type(f"{where}.{key}", item, props[key])
            return
        if "enum" in expected and not is_function(value) and not list(references(value)):
            allowed = [e["value"] for e in expected["enum"]]
            if value not in allowed:
                self.problem(where, f"{value!r} is not one of {', '.join(map(repr, allowed))}")
            return
        actual = self.type_of(value)
        if actual is None or "type" not in expected:
            return
        actual = self.resolve(actual)
        if actual.get("type") not in compatible(str(expected["type"])):
            self.problem(where, f"{_a(actual.get('type'))} where the schema wants {_a(expected['type'])}")

    def resolve(self, spec: dict[str, Any]) -> dict[str, Any]:
        ref = spec.get("$ref")
        if ref is None:
            return spec
        token = ref.removeprefix("#/types/")
        if token not in self.schema.get("types", {}):
            self.problem("schema", f"{ref} is not a type of the schema")
            return {}
        return dict(self.schema["types"][token])


def functions(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).startswith("fn::"):
                yield str(key)
            yield from functions(item)
    elif isinstance(value, list):
        for item in value:
            yield from functions(item)


def _a(noun: Any) -> str:
    return f"{'an' if str(noun)[:1] in 'aeiou' else 'a'} {noun}"


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def compatible(expected: str) -> set[str]:
    """The value types a schema type accepts (an integer is a number)."""
    return {"number", "integer"} if expected == "number" else {expected}


def check_project(
    project: dict[str, Any], schema: dict[str, Any], scripts_dir: Path | None = None
) -> Problems:
    return ProjectChecker(project, schema, PROJECT_DIR, scripts_dir or venv_scripts_dir(VENV)).check()


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return dict(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return dict(yaml.safe_load(PROJECT_FILE.read_text(encoding="utf-8")))


# -- the example as it is ----------------------------------------------------------------------------


def test_the_yaml_example_satisfies_the_plugin_schema(project, schema):
    assert check_project(project, schema) == []


def test_the_yaml_example_declares_every_kind_it_can(project, schema):
    """Every resource kind the plugin serves is used, so the check covers each one's schema."""
    used = {r["type"] for r in project["resources"].values()}
    assert used == set(schema["resources"])


def test_the_plugin_path_is_where_pip_puts_console_scripts(project):
    (entry,) = project["plugins"]["providers"]
    resolved = os.path.normpath(PROJECT_DIR / entry["path"])
    assert resolved == os.path.normpath(venv_scripts_dir(VENV))
    assert resolved == os.path.normpath(REPO / ".venv" / ("Scripts" if os.name == "nt" else "bin"))
    # Run from the repository's own virtualenv (scripts/test.sh), the running interpreter agrees.
    if os.path.normpath(sys.prefix) == os.path.normpath(VENV):
        assert resolved == os.path.normpath(sysconfig.get_path("scripts"))


def test_the_readme_names_the_executable_the_engine_runs(project, schema):
    (entry,) = project["plugins"]["providers"]
    # getPluginPath runs `pulumi-<kind>-<name>` in the path; the name is the package's.
    assert entry["name"] == schema["name"] == "microvisor"
    assert f"pulumi-resource-{entry['name']}" == PLUGIN_EXECUTABLE
    assert PLUGIN_EXECUTABLE in readme_section()
    # The console script itself comes with the plugin's server: whichever the installed package
    # declares must have this name, or the engine finds nothing in the plugin path.
    scripts = {e.name for e in importlib.metadata.distribution("microvisor-pulumi").entry_points}
    assert {s for s in scripts if s.startswith("pulumi-resource-")} <= {PLUGIN_EXECUTABLE}


def test_the_yaml_example_reads_only_the_plugins_config_namespace():
    text = PROJECT_FILE.read_text(encoding="utf-8")
    assert "twilio:" not in text
    assert re.findall(r"\$\{(\w+):", text) == []  # no namespaced config read by the program itself


# -- deliberately broken copies: each rule can fail --------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(project: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = project
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(project: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node: Any = project
        for part in parents:
            node = node[part]
        del node[last]

    return mutate


def _provider(field: str, value: Any) -> Mutation:
    def mutate(project: dict[str, Any]) -> None:
        project["plugins"]["providers"][0][field] = value

    return mutate


DEV1 = f"{DEFAULT_DEVICES[0][0]}-device-token"

BROKEN: dict[str, tuple[Mutation, str]] = {
    "unknown property": (
        _set("resources/api-endpoint/properties/vlaue", "x"),
        "resources.api-endpoint.properties.vlaue: not an input of microvisor:index:AccountConfig",
    ),
    "missing required input": (
        _delete("resources/demo-device-2-report-interval/properties/device_sid"),
        "missing required input device_sid of microvisor:index:DeviceConfig",
    ),
    "wrong literal type": (
        _set("resources/log-level/properties/overwrite", "yes"),
        "properties.overwrite: a string where the schema wants a boolean",
    ),
    "wrong literal type in a string input": (
        _set("resources/log-level/properties/key", 7),
        "properties.key: an integer where the schema wants a string",
    ),
    "config of the wrong type": (
        _set("config/reportInterval", {"type": "integer", "default": 60}),
        "properties.value: an integer where the schema wants a string",
    ),
    "literal outside an enum": (
        _set("resources/fleet-api-key/properties/key_type", "main"),
        "properties.key_type: 'main' is not one of 'standard', 'restricted'",
    ),
    "unknown property of an object type": (
        _set("resources/fleet-api-key/properties/policy", {"allow": ["/twilio/x"], "deny": []}),
        "properties.policy: 'deny' is not a property of this object",
    ),
    "unknown type token": (
        _set("resources/log-level/type", "microvisor:index:AccountConfigs"),
        "resources.log-level: unknown type 'microvisor:index:AccountConfigs'",
    ),
    "dangling resource reference": (
        _set("outputs/api_endpoint", "${api-endpont.value}"),
        "${api-endpont.value}: api-endpont is an undeclared resource, config key or variable",
    ),
    "dangling config reference inside a function": (
        _set(f"resources/{DEV1}/properties/value", {"fn::secret": {"fn::sha1": "${deviceTokn}:d"}}),
        "${deviceTokn}: deviceTokn is an undeclared resource, config key or variable",
    ),
    "undeclared output property": (
        _set("outputs/api_key_sid", "${fleet-api-key.sid_}"),
        "${fleet-api-key.sid_}: sid_ is not an output of microvisor:index:ApiKey",
    ),
    "input-only name read as an output": (
        _set("outputs/log_level", "${log-level.device_sid}"),
        "device_sid is not an output of microvisor:index:AccountConfig",
    ),
    "plain config feeding a secret input": (
        _set("config/telemetryToken", {"type": "string"}),
        "config telemetryToken feeds a secret input but is not declared secret: true",
    ),
    "literal secret": (
        _set("resources/telemetry-token/properties/value", "hunter2"),
        "a literal value for a secret input",
    ),
    "secret config with a default": (
        _set("config/deviceToken/default", "demo"),
        "config.deviceToken: a secret with a default",
    ),
    "twilio config namespace": (
        _set("config/twilio:endpoint", {"value": "http://127.0.0.1:8080"}),
        "namespace twilio: is not the plugin's; a default provider reads only microvisor:*",
    ),
    "unknown plugin config variable": (
        _set("config/microvisor:endpoints", {"value": "http://127.0.0.1:8080"}),
        "config.microvisor:endpoints: not a config variable of the plugin",
    ),
    "unknown resource option": (
        _set("resources/fleet-api-key/options", {"protected": True}),
        "'protected' is not a resource option",
    ),
    "plugin path elsewhere": (
        _provider("path", "../../venv/bin"),
        "plugins.providers: the plugin path resolves to",
    ),
    "plugin under another name": (
        _provider("name", "twilio"),
        "plugins.providers: needs exactly one entry named 'microvisor'",
    ),
    "plugin version not the schema's": (
        _provider("version", "9.9.9"),
        "version 9.9.9 is not the plugin's",
    ),
    "unknown pulumi variable": (
        _set("resources/fleet-api-key/properties/friendly_name", "${pulumi.projectName} fleet"),
        "pulumi has only cwd, organization, project, rootDirectory, stack",
    ),
    "not a YAML program": (_set("runtime", "python"), "runtime: must be yaml"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_copy_is_caught(case, project, schema):
    mutate, expected = BROKEN[case]
    broken = copy.deepcopy(project)
    mutate(broken)
    problems = check_project(broken, schema)
    assert any(expected in p for p in problems), problems


# -- the same stack as examples/fleet ----------------------------------------------------------------


class RecordingMocks(pulumi.runtime.Mocks):
    """Records what a program registers; answers every resource with its inputs."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.registered.append((args.typ, args.name, dict(args.inputs)))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


@pytest.fixture(scope="module")
def python_fleet() -> tuple[list[tuple[str, str, dict[str, Any]]], set[str]]:
    """What examples/fleet registers and exports with no config (the emulator's devices, the defaults)."""
    spec = importlib.util.spec_from_file_location("yaml_test_fleet_program", FLEET_DIR / "fleet.py")
    assert spec is not None and spec.loader is not None
    fleet = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fleet)
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="microvisor-fleet", stack="dev", preview=False)
    pulumi.runtime.set_all_config({}, [])
    names: set[str] = set()

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        outputs = fleet.deploy()
        names.update(outputs)
        return pulumi.Output.all(*outputs.values())

    program()
    return mocks.registered, names


def _literal(checker: ProjectChecker, value: Any) -> Any:
    """A value with config references replaced by their defaults, as the program would see it with
    no stack config (``pulumi.project`` as the Python fleet's project); None when it depends on
    something else."""
    if not isinstance(value, str):
        return None
    unresolved = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal unresolved
        ref = parse_access(match.group(1))
        if ref == ["pulumi", "project"]:
            return "microvisor-fleet"
        if ref == ["pulumi", "stack"]:
            return "dev"
        decl = checker.config.get(str(ref[0]))
        if decl is None or "default" not in decl or len(ref) > 1:
            unresolved = True
            return ""
        return str(decl["default"])

    text = _INTERPOLATION.sub(substitute, value)
    return None if unresolved else text


def test_the_yaml_example_declares_what_the_python_fleet_does(project, schema, python_fleet):
    registered, _ = python_fleet
    checker = ProjectChecker(project, schema, PROJECT_DIR, venv_scripts_dir(VENV))
    checker.check_config()
    yaml_resources = project["resources"]
    assert set(yaml_resources) == {name for _, name, _ in registered}
    compared = 0
    for typ, name, inputs in registered:
        resource = yaml_resources[name]
        assert DYNAMIC_TYPES[resource["type"]] == typ, name
        # declared_by names the resource for the one-owner rule: a Python program sends it, and the
        # plugin makes it from the URN for a YAML one (plugin/server.py, declared_by).
        given = {k for k, v in inputs.items() if k not in ("__provider", "declared_by") and v is not None}
        assert set(resource["properties"]) == given, name
        for prop, value in resource["properties"].items():
            literal = _literal(checker, value)
            if literal is not None:
                assert literal == inputs[prop], f"{name}.{prop}"
                compared += 1
    # Every key, device and plain value, and the key's friendly name: all but the two kinds of token.
    assert compared == sum(len(r["properties"]) for r in yaml_resources.values()) - 1 - len(DEFAULT_DEVICES)
    # The devices are the emulator's seeded ones, the first by SID, the others by unique name.
    devices = [
        r["properties"]["device_sid"] for r in yaml_resources.values() if "device_sid" in r["properties"]
    ]
    expected = [DEFAULT_DEVICES[0][0]] + [name for _, name in DEFAULT_DEVICES[1:]]
    assert sorted(set(devices)) == sorted(expected)


def test_the_yaml_example_exports_what_the_python_fleet_does(project, python_fleet):
    _, exported = python_fleet
    assert set(project["outputs"]) == exported
    # The per-device outputs list the devices in one order: the emulator's.
    devices = [DEFAULT_DEVICES[0][0]] + [device for _, device in DEFAULT_DEVICES[1:]]
    for output in ("device_sids", "device_names", "device_token_rotated"):
        roots = [str(next(references(item))[0]) for item in project["outputs"][output]]
        assert [
            root.removesuffix("-report-interval").removesuffix("-device-token") for root in roots
        ] == devices


def test_device_tokens_differ_per_device_and_stay_secret(project):
    tokens = [
        r["properties"]["value"] for r in project["resources"].values() if r["type"].endswith("DeviceSecret")
    ]
    assert len(tokens) == len(DEFAULT_DEVICES)
    assert all(set(t) == {"fn::secret"} for t in tokens)
    derivations = [t["fn::secret"]["fn::sha1"] for t in tokens]
    assert len(set(derivations)) == len(derivations)
    assert all(d.startswith("${deviceToken}:") for d in derivations)


# -- the README's commands for running it ------------------------------------------------------------


def readme_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION + "\n")
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end != -1 else len(text)]


def readme_run_commands() -> list[list[str]]:
    """The shell commands of the README's block that runs examples/yaml, split into words."""
    blocks = re.findall(r"```bash\n(.*?)```", readme_section(), flags=re.S)
    (block,) = [b for b in blocks if "cd examples/yaml" in b]
    commands = []
    for line in block.splitlines():
        line = line.split(" #", 1)[0].strip()
        if line:
            commands.append(shlex.split(line.rstrip("&").strip()))
    return commands


def check_commands(commands: list[list[str]], project: dict[str, Any], schema: dict[str, Any]) -> Problems:
    """What is wrong with shell commands that should run the example against the emulator."""
    problems: Problems = []
    for needed in (["cd", "examples/yaml"], ["pulumi", "up", "--yes"]):
        if needed not in commands:
            problems.append(f"no `{' '.join(needed)}`")
    values: dict[str, tuple[str, bool]] = {}
    for command in commands:
        if command[:3] == ["pulumi", "config", "set"]:
            key, *rest = [a for a in command[3:] if a != "--secret"]
            values[key] = (rest[0] if rest else "", "--secret" in command)

    variables = schema["config"]["variables"]
    declared = project["config"]
    for key, (_, secret) in values.items():
        namespace, _, short = key.rpartition(":")
        if namespace and namespace != schema["name"]:
            problems.append(f"{key}: the plugin reads only {schema['name']}:*")
        elif namespace and short not in variables:
            problems.append(f"{key}: not a config variable of the plugin")
        elif not namespace and key not in declared:
            problems.append(f"{key}: not declared in the project's config")
        else:
            should = (variables[short] if namespace else declared[key]).get("secret", False)
            if secret != should:
                problems.append(f"{key}: {'needs' if should else 'takes no'} --secret")
    # Without these the CLI stops with "Stack 'dev' is missing configuration".
    for key, decl in declared.items():
        if ":" not in key and "default" not in decl and key not in values:
            problems.append(f"{key}: required by the project and never set")

    # Against the emulator: its fixed demo credentials and the port it is started on.
    emulators = [c for c in commands if any(w.endswith("microvisor-emulator") for w in c)]
    port = emulators[0][emulators[0].index("--port") + 1] if len(emulators) == 1 else "?"
    for key, expected in (
        ("microvisor:endpoint", f"http://127.0.0.1:{port}"),
        ("microvisor:accountSid", DEFAULT_ACCOUNT_SID),
        ("microvisor:authToken", DEFAULT_AUTH_TOKEN),
    ):
        if values.get(key, ("", False))[0] != expected:
            problems.append(f"{key}: not set to the emulator's {expected}")
    return problems


def test_the_readme_commands_set_the_config_the_example_needs(project, schema):
    assert check_commands(readme_run_commands(), project, schema) == []


def _replace(commands: list[list[str]], old: list[str], new: list[str] | None) -> list[list[str]]:
    """The commands with `old` replaced by `new`, or dropped when `new` is None."""
    assert old in commands
    changed = []
    for command in commands:
        if command != old:
            changed.append(command)
        elif new is not None:
            changed.append(new)
    return changed


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            ["pulumi", "config", "set", "--secret", "microvisor:authToken", DEFAULT_AUTH_TOKEN],
            ["pulumi", "config", "set", "microvisor:authToken", DEFAULT_AUTH_TOKEN],
            "microvisor:authToken: needs --secret",
        ),
        (
            ["pulumi", "config", "set", "microvisor:endpoint", "http://127.0.0.1:8080"],
            ["pulumi", "config", "set", "twilio:endpoint", "http://127.0.0.1:8080"],
            "twilio:endpoint: the plugin reads only microvisor:*",
        ),
        (
            ["pulumi", "config", "set", "microvisor:endpoint", "http://127.0.0.1:8080"],
            ["pulumi", "config", "set", "microvisor:endpoint", "http://127.0.0.1:8081"],
            "microvisor:endpoint: not set to the emulator's http://127.0.0.1:8080",
        ),
        (
            ["pulumi", "config", "set", "--secret", "deviceToken", "demo-device-token"],
            None,
            "deviceToken: required by the project and never set",
        ),
        (["pulumi", "up", "--yes"], None, "no `pulumi up --yes`"),
    ],
)
def test_broken_readme_commands_are_caught(old, new, expected, project, schema):
    problems = check_commands(_replace(readme_run_commands(), old, new), project, schema)
    assert expected in problems, problems
