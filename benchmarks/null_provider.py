"""A provider that does nothing, to measure what the provider host costs before any of our code runs.

It answers every method from its inputs alone (no HTTP, no validation), so the time a call takes
through the host is the SDK's floor: gRPC, property (de)serialization and unpickling the provider.
It imports only pulumi, so a host using it also gives the cold-start baseline.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult


class NullProvider(ResourceProvider):
    """Echoes its inputs; the id is the ``key`` input."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [k for k, v in news.items() if k != "__provider" and olds.get(k) != v]
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=None)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(str(props.get("key", "null")), props)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props, props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None
