"""A provider that makes our provider's HTTP requests with a bare ``requests.Session``, nothing else.

Run through the provider host it costs the host's floor plus the HTTP request plus whatever running
HTTP inside a second process costs (one more process to wake per call on loopback). Our provider
minus this one is then what our own code adds: validation, the HTTP layer's retries and error
mapping, output shaping. Same requests as DeviceConfigProvider, one Session per host worker thread.
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from pulumi.dynamic import ConfigureRequest, CreateResult, ReadResult, UpdateResult

from benchmarks.null_provider import NullProvider

_local = threading.local()


class RawHttpProvider(NullProvider):
    """DeviceConfig's four requests (create, fetch, update, delete) with nothing around them."""

    collection = "Configs"

    def configure(self, req: ConfigureRequest) -> None:
        self._base = str(req.config.get("twilio:endpoint")).rstrip("/")
        self._auth = (str(req.config.get("twilio:accountSid")), str(req.config.get("twilio:authToken")))

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(_local, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = self._auth
            _local.session = session
        return session

    def _collection(self, props: dict[str, Any]) -> str:
        return f"{self._base}/v1/Devices/{props['device_sid']}/{self.collection}"

    def create(self, props: dict[str, Any]) -> CreateResult:
        response = self._session().post(
            self._collection(props), data={"Key": props["key"], "Value": props["value"]}
        )
        response.raise_for_status()
        return CreateResult(str(props["key"]), {**props, **response.json()})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        response = self._session().get(f"{self._collection(props)}/{props['key']}")
        response.raise_for_status()
        return ReadResult(id_, {**props, **response.json()}, props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        response = self._session().post(
            f"{self._collection(olds)}/{news['key']}", data={"Value": news["value"]}
        )
        response.raise_for_status()
        return UpdateResult({**news, **response.json()})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self._session().delete(f"{self._collection(props)}/{props['key']}").raise_for_status()


class RawHttpSecretProvider(RawHttpProvider):
    """The same for DeviceSecrets (the throughput benchmark creates secrets)."""

    collection = "Secrets"
