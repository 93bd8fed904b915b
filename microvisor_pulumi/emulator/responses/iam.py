"""IAM v1 Keys: ``/v1/Keys`` and ``/v1/Keys/{Sid}``, Standard and Restricted keys."""

from __future__ import annotations

from typing import Any

from microvisor_pulumi.emulator.responses import Responses, key_json
from microvisor_pulumi.emulator.store import (
    ACCOUNT_SID_RE,
    InvalidParameter,
    Record,
    StoreError,
    parse_policy,
)
from microvisor_pulumi.emulator.wire import Request, Response, json_response, meta_list, paginate


class _Forbidden(StoreError):
    """The credentials are valid but may not do this (403, code 20403)."""

    status = 403
    code = 20403


class IamResponses(Responses):
    """API keys named by an ``AccountSid`` parameter, with a ``Policy`` when restricted."""

    def _account(self, value: str | None, where: str) -> str:
        if value is None:
            raise InvalidParameter(f"Missing required parameter AccountSid in the {where}")
        if not ACCOUNT_SID_RE.match(value):
            raise InvalidParameter("AccountSid must match ^AC[0-9a-fA-F]{32}$")
        if value != self.store.account_sid:
            raise _Forbidden("AccountSid is not the authenticated account")
        return value

    @staticmethod
    def _key_json(record: Record) -> dict[str, Any]:
        return {**key_json(record), "policy": record["policy"]}

    @staticmethod
    def _policy_param(form: dict[str, str]) -> dict[str, Any] | None:
        raw = form.get("Policy")
        return None if raw is None else parse_policy(raw)

    def list_keys(self, req: Request) -> Response:
        account = self._account(req.args.get("AccountSid"), "query string")
        page = paginate(req, self.store.list_keys(), [("AccountSid", account)], self.page_size)
        items = [{**key_json(r), "flags": r["flags"]} for r in page.records]
        return meta_list(req, "keys", page, items)

    def create_key(self, req: Request) -> Response:
        form = req.form
        self._account(form.get("AccountSid"), "post body")
        key_type = form.get("KeyType")
        if key_type not in (None, "restricted"):
            raise InvalidParameter("KeyType must be restricted (or omitted for a standard key)")
        record, secret = self.store.create_key(
            form.get("FriendlyName"),
            key_type="restricted" if key_type else "standard",
            policy=self._policy_param(form),
        )
        return json_response(201, {**self._key_json(record), "secret": secret})

    def fetch_key(self, req: Request, *, sid: str) -> Response:
        return json_response(200, self._key_json(self.store.get_key(sid)))

    def update_key(self, req: Request, *, sid: str) -> Response:
        form = req.form
        record = self.store.update_key(
            sid, friendly_name=form.get("FriendlyName"), policy=self._policy_param(form)
        )
        return json_response(200, self._key_json(record))

    def delete_key(self, req: Request, *, sid: str) -> Response:
        self.store.delete_key(sid)
        return Response(204)
