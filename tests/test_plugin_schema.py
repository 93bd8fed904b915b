"""The provider plugin's package schema: committed, valid, and derived from the kinds' declarations."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pulumi
import pytest
from _mocks import ProviderMocks
from pulumi.dynamic import Config, ConfigureRequest

from microvisor_pulumi import AccountConfig, AccountSecret, ApiKey, DeviceConfig, DeviceSecret
from microvisor_pulumi._twilio import CONFIG_KEYS
from microvisor_pulumi.emulator import DEFAULT_DEVICES
from microvisor_pulumi.plugin import schema as plugin_schema
from microvisor_pulumi.plugin.schema import (
    PROVIDERS,
    SCHEMA_FILE,
    package_schema,
    resource_spec,
    schema_text,
)
from microvisor_pulumi.plugin.tokens import CONFIG_VARIABLES, DYNAMIC_TYPES, config_key
from microvisor_pulumi.resources._provider import SchemaProvider
from microvisor_pulumi.resources.api_key import ApiKeyProvider
from microvisor_pulumi.resources.microvisor import (
    AccountConfigProvider,
    AccountSecretProvider,
    DeviceConfigProvider,
    DeviceSecretProvider,
)

METASCHEMA = Path(__file__).parent / "specs" / "pulumi-schema" / "pulumi.json"
TOKENS = {
    "microvisor:index:AccountConfig": AccountConfigProvider,
    "microvisor:index:DeviceConfig": DeviceConfigProvider,
    "microvisor:index:AccountSecret": AccountSecretProvider,
    "microvisor:index:DeviceSecret": DeviceSecretProvider,
    "microvisor:index:ApiKey": ApiKeyProvider,
}
DEV_SID, DEV_NAME = DEFAULT_DEVICES[0]


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return package_schema()


def _validator() -> jsonschema.Draft202012Validator:
    # Python's re spells a named group (?P<name>...); the metaschema's version pattern uses (?<name>...).
    meta = json.loads(re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", METASCHEMA.read_text(encoding="utf-8")))
    jsonschema.Draft202012Validator.check_schema(meta)
    return jsonschema.Draft202012Validator(meta)


def test_the_committed_schema_is_the_generated_one():
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == schema_text(), (
        "microvisor_pulumi/plugin/schema.json is stale: regenerate it with "
        "`python -m microvisor_pulumi.plugin.schema > microvisor_pulumi/plugin/schema.json`"
    )
    # Deterministic: sorted keys, the same text twice.
    assert schema_text() == schema_text()
    assert json.dumps(json.loads(committed), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == committed


def test_the_module_prints_the_schema(capsysbinary):
    plugin_schema.main()
    assert capsysbinary.readouterr().out.decode("utf-8") == schema_text()


def test_the_schema_satisfies_pulumis_metaschema(schema):
    validator = _validator()
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(schema)]
    assert problems == []
    # The validator does look: a broken copy fails it.
    broken = json.loads(json.dumps(schema))
    broken["version"] = "one"
    broken["resources"]["microvisor:index:ApiKey"]["inputProperties"]["policy"]["secret"] = "yes"
    broken["resources"]["not a token"] = {}
    found = {e.json_path for e in validator.iter_errors(broken)}
    assert found == {
        "$.version",
        "$.resources['microvisor:index:ApiKey'].inputProperties.policy.secret",
        "$.resources",
    }


def test_references_and_required_names_resolve(schema):
    """What the metaschema cannot say and the Pulumi CLI would check: every $ref names a type of the
    package, and every required name is a property."""
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert sorted(set(refs)) == [
        "#/types/microvisor:index:ApiKeyPolicy",
        "#/types/microvisor:index:ApiKeyType",
    ]
    assert {ref.removeprefix("#/types/") for ref in refs} == set(schema["types"])
    for token, spec in schema["resources"].items():
        assert set(spec["requiredInputs"]) <= set(spec["inputProperties"]), token
        assert set(spec["required"]) <= set(spec["properties"]), token
        # Every input is an output of the same name: the providers return what they were given.
        assert set(spec["inputProperties"]) <= set(spec["properties"]), token
    for token, spec in schema["types"].items():
        assert set(spec.get("required", [])) <= set(spec.get("properties", {})), token
    # Names the schema binder refuses (pkg/codegen/schema/reserved_keywords.go).
    for token, spec in schema["resources"].items():
        names = set(spec["inputProperties"]) | set(spec["properties"])
        assert not names & {"id", "urn", "pulumi"}, token
    assert not set(schema["provider"]["inputProperties"]) & {"version", "pulumi"}


def test_tokens_and_provider_classes(schema):
    assert PROVIDERS == TOKENS
    assert set(schema["resources"]) == set(TOKENS)
    assert schema["name"] == "microvisor"
    for token, provider in TOKENS.items():
        assert token == "microvisor:index:" + provider.schema.kind


@pytest.fixture
def mocks(emu):
    config = {
        "twilio:accountSid": emu.account_sid,
        "twilio:authToken": emu.auth_token,
        "twilio:endpoint": emu.url,
    }
    return ProviderMocks(config).install()


@pulumi.runtime.test
def test_aliases_are_the_types_the_dynamic_resources_register(mocks, schema):
    """A stack made with the dynamic resources keeps its resources under the plugin: each plugin type
    is aliased to the very type its dynamic resource registers, whose outputs are the declared ones."""
    registered = {
        "microvisor:index:AccountConfig": AccountConfig("c", key="k1", value="v"),
        "microvisor:index:DeviceConfig": DeviceConfig("dc", device_sid=DEV_SID, key="k1", value="v"),
        "microvisor:index:AccountSecret": AccountSecret("s", key="k1", value="v"),
        "microvisor:index:DeviceSecret": DeviceSecret("ds", device_sid=DEV_SID, key="k1", value="v"),
        "microvisor:index:ApiKey": ApiKey("key", friendly_name="mocked"),
    }

    # The dynamic face takes its outputs from the same declaration: each is a typed attribute.
    for token, resource in registered.items():
        for name in TOKENS[token].schema.output_names():
            assert isinstance(getattr(resource, name, None), pulumi.Output), f"{token}.{name}"

    def verify(_: Any) -> None:
        by_name = {name: typ for typ, name, _ in mocks.created}
        for token, resource in registered.items():
            typ = by_name[resource._name]  # type: ignore[attr-defined]
            assert schema["resources"][token]["aliases"] == [{"type": typ}]
            assert DYNAMIC_TYPES[token] == typ
        # State written before the plugin names these types, so they must never change.
        assert (
            DYNAMIC_TYPES["microvisor:index:AccountConfig"]
            == "pulumi-python:dynamic/microvisor:AccountConfig"
        )
        assert DYNAMIC_TYPES["microvisor:index:ApiKey"] == "pulumi-python:dynamic/twilio:ApiKey"

    return pulumi.Output.all(*(r.urn for r in registered.values())).apply(verify)


@pytest.mark.parametrize("token", sorted(TOKENS))
def test_flags_follow_the_declaration(schema, token):
    spec = schema["resources"][token]
    declared = TOKENS[token].schema
    assert spec["description"] == declared.description != ""
    assert spec["requiredInputs"] == [p.name for p in declared.props if p.required]
    assert list(spec["inputProperties"]) == [p.name for p in declared.props]
    for prop in declared.props:
        entry = spec["inputProperties"][prop.name]
        assert entry.get("secret", False) is prop.secret, prop.name
        assert entry.get("willReplaceOnChanges", False) is prop.replaces, prop.name
        assert spec["properties"][prop.name].get("secret", False) is prop.secret, prop.name
    for out in declared.outputs:
        assert spec["properties"][out.name].get("secret", False) is out.secret, out.name
        assert (out.name in spec["required"]) is out.always, out.name
    for name, entry in [*spec["inputProperties"].items(), *spec["properties"].items()]:
        assert entry["description"], f"{token}.{name} has no description"


def test_the_readme_facts_hold():
    """The README's tables, property by property: what replaces and what is secret."""
    resources = package_schema()["resources"]

    def flagged(token: str, flag: str, where: str = "inputProperties") -> set[str]:
        return {name for name, entry in resources[token][where].items() if entry.get(flag)}

    assert flagged("microvisor:index:AccountConfig", "willReplaceOnChanges") == {"key"}
    assert flagged("microvisor:index:DeviceConfig", "willReplaceOnChanges") == {"device_sid", "key"}
    assert flagged("microvisor:index:AccountSecret", "willReplaceOnChanges") == {"key", "value"}
    assert flagged("microvisor:index:DeviceSecret", "willReplaceOnChanges") == {"device_sid", "key", "value"}
    assert flagged("microvisor:index:ApiKey", "willReplaceOnChanges") == {"account_sid", "key_type"}
    for token in ("microvisor:index:AccountConfig", "microvisor:index:DeviceConfig"):
        assert flagged(token, "secret") == flagged(token, "secret", "properties") == set()
    for token in ("microvisor:index:AccountSecret", "microvisor:index:DeviceSecret"):
        assert flagged(token, "secret") == flagged(token, "secret", "properties") == {"value"}
    assert flagged("microvisor:index:ApiKey", "secret") == set()
    assert flagged("microvisor:index:ApiKey", "secret", "properties") == {"secret"}
    api_key = resources["microvisor:index:ApiKey"]
    assert api_key["requiredInputs"] == []
    assert api_key["inputProperties"]["key_type"] == {
        "$ref": "#/types/microvisor:index:ApiKeyType",
        "description": api_key["inputProperties"]["key_type"]["description"],
        "willReplaceOnChanges": True,
    }
    assert api_key["inputProperties"]["policy"]["$ref"] == "#/types/microvisor:index:ApiKeyPolicy"
    types = package_schema()["types"]
    assert [v["value"] for v in types["microvisor:index:ApiKeyType"]["enum"]] == ["standard", "restricted"]
    assert types["microvisor:index:ApiKeyPolicy"]["properties"]["allow"]["items"] == {"type": "string"}
    assert types["microvisor:index:ApiKeyPolicy"]["required"] == ["allow"]


def _flipped(schema_: Any, name: str, **changes: Any) -> Any:
    props = tuple(dataclasses.replace(p, **changes) if p.name == name else p for p in schema_.props)
    return dataclasses.replace(schema_, props=props)


def test_the_schema_is_derived_not_restated():
    """Flip one declaration in a copy and the generated schema follows, in that one place."""
    token = "microvisor:index:AccountConfig"
    original = AccountConfigProvider.schema
    before = resource_spec(original)
    after = resource_spec(_flipped(original, "value", replaces=True))
    assert before["inputProperties"]["value"].get("willReplaceOnChanges") is None
    assert after["inputProperties"]["value"]["willReplaceOnChanges"] is True
    after["inputProperties"]["value"].pop("willReplaceOnChanges")
    assert after == before

    secret = resource_spec(_flipped(original, "value", secret=True))
    assert secret["inputProperties"]["value"]["secret"] is True
    assert secret["properties"]["value"]["secret"] is True

    optional = resource_spec(_flipped(original, "key", required=False))
    assert optional["requiredInputs"] == ["value"]
    assert "key" not in optional["required"]

    # Through the whole package too, with a provider class that carries the flipped declaration.
    flipped = type(
        "FlippedProvider", (SchemaProvider,), {"schema": _flipped(original, "value", replaces=True)}
    )
    whole = package_schema({**PROVIDERS, token: flipped})
    assert whole["resources"][token]["inputProperties"]["value"]["willReplaceOnChanges"] is True
    assert whole["resources"][token]["aliases"] == package_schema()["resources"][token]["aliases"]
    assert original.props[1].replaces is False  # the real declaration is untouched


def test_an_output_declared_twice_is_refused():
    original = ApiKeyProvider.schema
    twice = dataclasses.replace(original, outputs=(*original.outputs, original.outputs[0]))
    with pytest.raises(ValueError, match="ApiKey: declared twice: sid"):
        resource_spec(twice)


def test_config_variables_are_the_settings_with_credentials_secret(schema):
    variables = schema["config"]["variables"]
    assert set(variables) == {key.removeprefix("twilio:") for key in CONFIG_KEYS}
    assert {name for name, v in variables.items() if v.get("secret")} == {"authToken", "apiSecret"}
    assert schema["provider"]["inputProperties"] == variables
    assert variables["maxRetries"]["type"] == variables["maxConcurrency"]["type"] == "integer"
    assert variables["readTimeout"]["type"] == "number"
    assert "TWILIO_AUTH_TOKEN" in variables["authToken"]["description"]
    # The plugin's microvisor:* keys are the providers' twilio:* settings.
    assert config_key("microvisor:accountSid") == "twilio:accountSid"
    assert config_key("apiSecret") == "twilio:apiSecret"
    assert sorted(CONFIG_VARIABLES.values()) == sorted(CONFIG_KEYS)
    with pytest.raises(KeyError):
        config_key("twilio:accountSid")


def test_a_setting_with_no_description_stops_the_generation(monkeypatch):
    monkeypatch.setitem(plugin_schema.CONFIG_VARIABLES, "newSetting", "twilio:newSetting")
    with pytest.raises(ValueError, match="newSetting"):
        package_schema()


def test_languages_and_version(schema):
    from microvisor_pulumi._version import __version__

    assert schema["version"] == __version__
    assert schema["language"]["python"]["packageName"] == "pulumi_microvisor"
    assert set(schema["language"]) == {"python", "nodejs", "go", "csharp"}


def _provider(cls: type[SchemaProvider], emu: Any) -> SchemaProvider:
    provider = cls()
    config = {
        "twilio:accountSid": emu.account_sid,
        "twilio:authToken": emu.auth_token,
        "twilio:endpoint": emu.url,
    }
    provider.configure(ConfigureRequest(Config(config, "proj")))
    return provider


def _plain(outs: dict[str, Any]) -> dict[str, Any]:
    from pulumi.runtime import rpc

    return {k: rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v for k, v in outs.items()}


CASES = [
    ("microvisor:index:AccountConfig", {"key": "k", "value": "v"}, {"value": "w"}),
    ("microvisor:index:DeviceConfig", {"device_sid": DEV_NAME, "key": "k", "value": "v"}, {"value": "w"}),
    ("microvisor:index:AccountSecret", {"key": "k", "value": "v"}, {"overwrite": True}),
    ("microvisor:index:DeviceSecret", {"device_sid": DEV_SID, "key": "k", "value": "v"}, {"overwrite": True}),
    ("microvisor:index:ApiKey", {"friendly_name": "n"}, {"friendly_name": "m"}),
    (
        "microvisor:index:ApiKey",
        {"key_type": "restricted", "policy": {"allow": ["/twilio/messaging/messages/read"]}},
        {"friendly_name": "m"},
    ),
]


@pytest.mark.parametrize(("token", "inputs", "change"), CASES)
def test_every_output_a_provider_returns_is_declared(emu, schema, token, inputs, change):
    """The declaration is complete: what create, update and read really return against the
    emulator is in the schema's outputs, and the outputs it calls required are always there."""
    spec = schema["resources"][token]
    provider = _provider(PROVIDERS[token], emu)
    checked = provider.check({}, inputs)
    assert not checked.failures
    news = _plain(checked.inputs)
    created = provider.create(news)
    state = {**news, **_plain(created.outs)}
    updated = {**state, **_plain(provider.update(created.id, state, {**news, **change}).outs)}
    read = provider.read(created.id, updated)
    for outs in (state, updated, _plain(read.outs)):
        named = {k for k, v in outs.items() if v is not None}
        assert named <= set(spec["properties"]), token
        assert set(spec["required"]) <= named, token
    assert set(_plain(read.inputs)) <= set(spec["inputProperties"])
    provider.delete(created.id, read.outs)
