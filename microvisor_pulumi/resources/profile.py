"""`DeviceProfile`: one declaration that applies a set of Configs and Secrets to many devices."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import pulumi

from microvisor_pulumi.resources.microvisor import DeviceConfig, DeviceSecret

TYPE_TOKEN = "microvisor:index:DeviceProfile"

#: A value: plain text, bytes (stored base64-encoded), an Output of either, or a function of the
#: device (as listed in ``devices``) returning any of those.
Value = Union[
    str, bytes, "pulumi.Output[str]", "pulumi.Output[bytes]", Callable[[str], "pulumi.Input[str | bytes]"]
]


@dataclass
class ProfileDevice:
    """What a profile made for one device: its resolved SID and unique name, and its resources by key."""

    sid: pulumi.Output[str]
    name: pulumi.Output[str | None]
    configs: dict[str, DeviceConfig] = field(default_factory=dict)
    secrets: dict[str, DeviceSecret] = field(default_factory=dict)


def _check(profile: str, devices: Any, configs: Any, secrets: Any, renamed: Any = None) -> None:
    """Bad input fails at declaration with the field and the rule, before anything is registered."""
    where = f"DeviceProfile {profile!r}"
    if isinstance(devices, (str, bytes)) or not isinstance(devices, Sequence):
        kind = type(devices).__name__
        raise TypeError(f"{where}: devices must be a list of device SIDs or unique names, got {kind}")
    if not devices:
        raise ValueError(f"{where}: devices must name at least one device")
    seen: set[str] = set()
    for i, device in enumerate(devices):
        if not isinstance(device, str) or not device:
            raise ValueError(f"{where}: devices[{i}] must be a non-empty SID or unique name, got {device!r}")
        if device in seen:
            raise ValueError(f"{where}: devices[{i}] {device!r} is listed twice")
        seen.add(device)
    for what, items in (("configs", configs), ("secrets", secrets)):
        if not isinstance(items, Mapping):
            raise TypeError(f"{where}: {what} must be a mapping of key to value, got {type(items).__name__}")
        for key, value in items.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"{where}: {what} keys must be non-empty strings, got {key!r}")
            if value is None:
                raise ValueError(f"{where}: {what}[{key!r}] has no value")
    if not configs and not secrets:
        raise ValueError(f"{where}: give at least one of configs or secrets")
    if renamed is None:
        return
    if not isinstance(renamed, Mapping):
        kind = type(renamed).__name__
        raise TypeError(f"{where}: renamed must map a device as listed now to how it was listed, got {kind}")
    for device, former in renamed.items():
        if device not in seen:
            raise ValueError(f"{where}: renamed[{device!r}] names no device of devices")
        if not isinstance(former, str) or not former:
            raise ValueError(f"{where}: renamed[{device!r}] must be the device as listed before: {former!r}")
        if former in seen:
            # Its children still exist under that name: an alias to them would merge two devices.
            raise ValueError(f"{where}: renamed[{device!r}] {former!r} is listed in devices too")
    formers = list(renamed.values())
    for former in formers:
        if formers.count(former) > 1:
            raise ValueError(f"{where}: renamed gives {former!r} as the former name of two devices")


def _value_for(source: Any, device: str) -> Any:
    # An Output is not a function of the device, even though it supports attribute lifting.
    if callable(source) and not isinstance(source, pulumi.Output):
        return source(device)
    return source


class DeviceProfile(pulumi.ComponentResource):
    """The same Microvisor Configs and Secrets on many devices, from one declaration.

    ``devices`` are ``UV…`` SIDs or unique names. ``configs`` and ``secrets`` map a key to a value:
    text, bytes (stored base64-encoded), an Output, or a function called with each device (as
    listed) that returns one of those. Secret values are always Pulumi secrets. ``overwrite=True``
    takes over items that already exist.

    One item, one resource per stack: listing one device twice, even once by SID and once by unique
    name, is refused (the second child stops before it writes anything, naming both).

    Each (device, key) gets its own child named ``<device>/<key>``, so adding or removing a device
    touches only its children and reordering ``devices`` changes nothing. The children alias the
    same name at the stack root: the ``<SID>/<key>`` resources of a program written by
    ``microvisor-pulumi inventory`` move into a profile listing devices by SID without being
    replaced (a replacement would create the new item, then delete the key it had just adopted).

    A child's name holds the device as listed, so listing a device as another string (its new unique
    name after a rename, or its SID instead of its name) names other children. ``renamed`` maps the
    device as listed now to the device as listed before: the children then alias their former names
    and the change is no change at all. Without it the new children find the items taken and stop
    with an error that says to write ``renamed``. The entry can go after one ``pulumi up``.

    Outputs: ``devices[device]`` (:class:`ProfileDevice`: ``sid``, ``name``, ``configs[key]``,
    ``secrets[key]``) and ``device_sids`` (device as listed -> resolved SID).
    Type token ``microvisor:index:DeviceProfile``.
    """

    devices: dict[str, ProfileDevice]
    device_sids: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        resource_name: str,
        *,
        devices: Sequence[str],
        configs: Mapping[str, Value] | None = None,
        secrets: Mapping[str, Value] | None = None,
        overwrite: bool = False,
        renamed: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        configs = {} if configs is None else configs
        secrets = {} if secrets is None else secrets
        _check(resource_name, devices, configs, secrets, renamed)
        renamed = renamed or {}
        super().__init__(TYPE_TOKEN, resource_name, None, opts)
        root = pulumi.ROOT_STACK_RESOURCE
        self.devices = {}
        for device in devices:

            def declare(kind: type[Any], sources: Mapping[str, Any], device: str = device) -> dict[str, Any]:
                # Children named <device>/<key>: stable per (device, key), whatever the list order.
                made = {}
                for key, source in sources.items():
                    aliases = [pulumi.Alias(parent=root)]
                    former = renamed.get(device)
                    if former is not None:
                        # The children this profile made when it listed the device as `former`.
                        before = f"{former}/{key}"
                        aliases += [pulumi.Alias(name=before), pulumi.Alias(name=before, parent=root)]
                    made[key] = kind(
                        f"{device}/{key}",
                        device_sid=device,
                        key=key,
                        value=_value_for(source, device),
                        overwrite=overwrite,
                        opts=pulumi.ResourceOptions(parent=self, aliases=aliases),
                    )
                return made

            made_configs = declare(DeviceConfig, configs)
            made_secrets = declare(DeviceSecret, secrets)
            first = next(iter({**made_configs, **made_secrets}.values()))
            made = ProfileDevice(first.device_sid, first.device_name, made_configs, made_secrets)
            self.devices[device] = made
        self.device_sids = pulumi.Output.all(**{d: p.sid for d, p in self.devices.items()})
        self.register_outputs({"device_sids": self.device_sids})
