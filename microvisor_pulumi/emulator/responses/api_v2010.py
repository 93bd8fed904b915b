"""API v2010 Keys: ``/2010-04-01/Accounts/{AccountSid}/Keys.json`` and ``.../Keys/{Sid}.json``."""

from __future__ import annotations

from microvisor_pulumi.emulator.responses import Responses, key_json
from microvisor_pulumi.emulator.wire import Request, Response, json_response, not_found, paginate


class ApiV2010Responses(Responses):
    """Standard API keys under the account path, with v2010's relative ``*_uri`` paging."""

    def _check_account(self, req: Request, account: str) -> None:
        # Only the emulator's own account exists; any other AccountSid in the path is not found.
        if account != self.store.account_sid:
            raise not_found(req.raw_path)

    def list_keys(self, req: Request, *, account: str) -> Response:
        self._check_account(req, account)
        page = paginate(req, self.store.list_keys(), default_size=self.page_size)
        base = req.raw_path
        end = page.start + len(page.records) - 1 if page.records else page.start
        return json_response(
            200,
            {
                "keys": [key_json(r) for r in page.records],
                "first_page_uri": f"{base}?{page.first_query}",
                "next_page_uri": f"{base}?{page.next_query}" if page.next_query else None,
                "previous_page_uri": f"{base}?{page.previous_query}" if page.previous_query else None,
                "uri": f"{base}?{page.query}",
                "page": page.page,
                "page_size": page.size,
                "start": page.start,
                "end": end,
            },
        )

    def create_key(self, req: Request, *, account: str) -> Response:
        self._check_account(req, account)
        # API v2010 only ever creates Standard keys.
        record, secret = self.store.create_key(req.form.get("FriendlyName"))
        return json_response(201, {**key_json(record), "secret": secret})

    def fetch_key(self, req: Request, *, account: str, sid: str) -> Response:
        self._check_account(req, account)
        return json_response(200, key_json(self.store.get_key(sid)))

    def update_key(self, req: Request, *, account: str, sid: str) -> Response:
        self._check_account(req, account)
        record = self.store.update_key(sid, friendly_name=req.form.get("FriendlyName"))
        return json_response(200, key_json(record))

    def delete_key(self, req: Request, *, account: str, sid: str) -> Response:
        self._check_account(req, account)
        self.store.delete_key(sid)
        return Response(204)
