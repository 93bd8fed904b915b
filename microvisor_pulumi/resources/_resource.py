"""The program side shared by every resource kind: type tokens, typed outputs, secret inputs."""

from __future__ import annotations

import pickle
from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import Resource
from pulumi.runtime.config import get_config

from microvisor_pulumi._twilio import CONFIG_KEYS
from microvisor_pulumi.plugin import MODULE as PLUGIN_MODULE
from microvisor_pulumi.plugin import PACKAGE as PLUGIN_PACKAGE
from microvisor_pulumi.resources._provider import MicrovisorPulumiError, SchemaProvider
from microvisor_pulumi.resources._schema import encode_value


def encoded_input(value: Any) -> Any:
    """A config or secret value as the program sends it: bytes become base64 text, and a value that
    is None stays None so that check can name the missing field."""
    if value is None:
        return None
    if isinstance(value, pulumi.Output):
        return value.apply(encode_value)
    return encode_value(value)


def _unwrap_pickler() -> None:
    """Undo what pulumi's ``serialize_provider`` leaves behind in ``pickle``.

    pulumi 3.272 wraps ``pickle._Pickler._batch_setitems`` in a sorting wrapper on every call and
    never restores it, so each dynamic resource adds one more nested wrapper: past about 980
    resources in one program, pickling the next provider raises RecursionError (a 300-device fleet
    has 1,800). Restoring the innermost function after each registration keeps the nesting at one.
    """
    fn = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    while getattr(fn, "__name__", "").startswith("batch_set_items_sorted") and fn.__closure__:
        cells = dict(zip(fn.__code__.co_freevars, fn.__closure__, strict=False))
        if "unsorted_batch_setitems" not in cells:
            break  # not the wrapper this undoes: leave it alone
        fn = cells["unsorted_batch_setitems"].cell_contents
    pickle._Pickler._batch_setitems = fn  # type: ignore[attr-defined]


class TwilioResource(Resource):
    """Base of the five resource kinds; not a resource kind itself.

    Which outputs exist and which are secret comes from the provider's schema, the declaration the
    provider plugin's package schema is generated from as well.
    """

    # The kind's provider; the provider plugin serves the same class under the kind's type token.
    provider_class: ClassVar[type[SchemaProvider]]

    def __init__(
        self,
        provider: SchemaProvider,
        resource_name: str,
        inputs: dict[str, Any],
        opts: pulumi.ResourceOptions | None,
    ) -> None:
        schema = provider.schema
        # Output-only names are seeded with None so that the typed attributes exist (a None input is
        # not sent to the engine).
        props: dict[str, Any] = {out.name: None for out in schema.outputs}
        props.update(inputs)
        # Inputs the kind's schema calls secret are secret even when the program passes plain text,
        # and so are the outputs of the same name.
        for prop in schema.props:
            if prop.secret and props.get(prop.name) is not None:
                props[prop.name] = pulumi.Output.secret(props[prop.name])
        secret_outputs = schema.secret_outputs()
        if secret_outputs:
            # The engine then keeps these outputs secret whatever the provider returns.
            opts = pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(additional_secret_outputs=list(secret_outputs)), opts
            )
        if uses_plugin():
            check_settings_moved()
            # The same resource, served by the provider plugin: its own type token, and an alias to
            # the dynamic one so that a stack moves over without a call to Twilio (the plugin's diff
            # of the dynamic state, `__provider` and all, is no change).
            alias = pulumi.Alias(type_=f"pulumi-python:{self._resource_type_name}")
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=[alias]))
            token = f"{PLUGIN_PACKAGE}:{PLUGIN_MODULE}:{provider.schema.kind}"
            pulumi.CustomResource.__init__(self, token, resource_name, props, opts)
            return
        try:
            super().__init__(provider, resource_name, props, opts)
        finally:
            _unwrap_pickler()


def uses_plugin() -> bool:
    """Whether this stack's resources go to the provider plugin (stack config ``microvisor:plugin``)
    instead of the dynamic provider host; see README, "YAML, other languages and `pulumi import`".

    A stack setting rather than a class or an argument: a program keeps one set of declarations,
    the choice is made per stack (one stack moves while another stays), flipping it back is one
    command, and every resource of a stack then has the same provider and the same settings.
    """
    return bool(pulumi.Config(PLUGIN_PACKAGE).get_bool("plugin"))


def check_settings_moved() -> None:
    """Stop a stack on the plugin whose ``twilio:*`` settings were not copied to ``microvisor:*``.

    The plugin sees only its own namespace (README, "A Python program on the plugin"); a setting
    left behind is silently not used, and the plugin falls back to the ``TWILIO_*`` environment:
    another account or the real Twilio instead of the emulator. Nothing fails then, yet a refresh
    finds every item "gone" and drops it from the state. Values are read raw (never shown, and no
    warning about reading a secret with ``get``).
    """
    left = [
        key
        for key in CONFIG_KEYS
        if get_config(key) is not None and get_config(f"{PLUGIN_PACKAGE}:{key.partition(':')[2]}") is None
    ]
    if left:
        ours = [f"{PLUGIN_PACKAGE}:{key.partition(':')[2]}" for key in left]
        first = left[0].partition(":")[2]
        raise MicrovisorPulumiError(
            f"{PLUGIN_PACKAGE}:plugin is true, so this stack's resources are served by the provider plugin, "
            f"which reads only {PLUGIN_PACKAGE}:* settings: {', '.join(left)} "
            f"{'is' if len(left) == 1 else 'are'} set but {', '.join(ours)} "
            f"{'is' if len(left) == 1 else 'are'} not, so the plugin would fall back to the TWILIO_* "
            "environment variables (another account, or real Twilio instead of an emulator). Copy each "
            f'one, e.g. pulumi config set {PLUGIN_PACKAGE}:{first} "$(pulumi config get twilio:{first})" '
            "(with --secret for authToken and apiSecret), or remove the twilio:* ones if the "
            "environment is meant."
        )
