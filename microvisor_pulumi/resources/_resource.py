"""The program side shared by every resource kind: type tokens, typed outputs, secret inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi.dynamic import Resource, ResourceProvider

from microvisor_pulumi.resources._schema import encode_value


def encoded_input(value: Any) -> Any:
    """A config or secret value as the program sends it: bytes become base64 text, and a value that
    is None stays None so that check can name the missing field."""
    if value is None:
        return None
    if isinstance(value, pulumi.Output):
        return value.apply(encode_value)
    return encode_value(value)


class TwilioResource(Resource):
    """Base of the five resource kinds; not a resource kind itself."""

    def __init__(
        self,
        provider: ResourceProvider,
        resource_name: str,
        inputs: dict[str, Any],
        outputs: Sequence[str],
        opts: pulumi.ResourceOptions | None,
        secret_outputs: Sequence[str] = (),
    ) -> None:
        # Output-only names are seeded with None so that the typed attributes exist.
        props: dict[str, Any] = {name: None for name in outputs}
        props.update(inputs)
        if secret_outputs:
            # The engine then keeps these outputs secret whatever the provider returns.
            opts = pulumi.ResourceOptions.merge(
                pulumi.ResourceOptions(additional_secret_outputs=list(secret_outputs)), opts
            )
        super().__init__(provider, resource_name, props, opts)
