"""Shared fixtures: an in-process emulator whose every response is validated against the specs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from _openapi import SpecValidator

from microvisor_pulumi.emulator import Emulator


class ApiSession(requests.Session):
    """A requests Session with a base URL: ``api.get("/v1/Configs")``."""

    def __init__(self, base_url: str, auth: tuple[str, str]) -> None:
        super().__init__()
        self.base_url = base_url
        self.auth = auth

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(url, str) and url.startswith("/"):
            url = self.base_url + url
        return super().request(method, url, *args, **kwargs)


@pytest.fixture(scope="session")
def spec_validator() -> Iterator[SpecValidator]:
    """Collects OpenAPI violations from every emulator the suite starts; fails the session on any."""
    validator = SpecValidator()
    yield validator
    assert not validator.violations, "emulator responses violate the Twilio specs:\n" + validator.report()


@pytest.fixture(scope="session")
def emulator(spec_validator: SpecValidator) -> Iterator[Emulator]:
    """One in-process emulator for the session, on a free loopback port, validated by the specs."""
    emu = Emulator(observer=spec_validator.observe).start()
    yield emu
    emu.stop()


@pytest.fixture
def emu(emulator: Emulator, spec_validator: SpecValidator) -> Iterator[Emulator]:
    """The session emulator, reset (no configs/secrets/keys, seeded devices, empty log and faults).

    On teardown, fails the test if any response it caused broke the specs.
    """
    emulator.reset()
    before = len(spec_validator.violations)
    yield emulator
    new = spec_validator.violations[before:]
    assert not new, "emulator responses violate the Twilio specs:\n" + "\n".join(map(str, new))


@pytest.fixture
def api(emu: Emulator) -> Iterator[ApiSession]:
    """A Session authenticated as the emulator's account, taking paths relative to its URL."""
    with ApiSession(emu.url, (emu.account_sid, emu.auth_token)) as session:
        yield session


@pytest.fixture
def make_emulator(spec_validator: SpecValidator) -> Iterator[Callable[..., Emulator]]:
    """Start extra emulators (own devices, a data file) with the spec observer; all stopped after."""
    started: list[Emulator] = []

    def factory(**kwargs: Any) -> Emulator:
        kwargs.setdefault("observer", spec_validator.observe)
        emu = Emulator(**kwargs).start()
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        emu.stop()  # idempotent: a test may already have stopped it


@pytest.fixture(scope="module")
def host(emulator: Emulator) -> Iterator[Any]:
    """A real provider host (`python -m pulumi.dynamic`) per test module, configured for the
    session emulator with 3 retries. Modules that need other settings define their own."""
    from _reliability import host_config, start_host

    h = start_host(host_config(emulator, maxRetries="3"))
    yield h
    h.close()


@pytest.fixture(scope="module")
def plugin(emulator: Emulator) -> Iterator[Any]:
    """The provider plugin (`pulumi-resource-microvisor`) per test module, configured as the engine
    configures it for the session emulator with 3 retries, like `host` for the dynamic host."""
    from _plugin import Plugin, plugin_config

    p = Plugin()
    p.configure(plugin_config(emulator, maxRetries="3"))
    yield p
    p.close()


@pytest.fixture
def calls(emu: Emulator) -> Any:
    """The API calls the emulator saw since the last `calls.reset()`: (method, path, status)."""

    class Calls:
        def reset(self) -> None:
            emu.clear_request_log()

        def __call__(self) -> list[tuple[str, str, int | None]]:
            return [(r["method"], r["path"], r["status"]) for r in emu.request_log()]

    c = Calls()
    c.reset()
    return c
