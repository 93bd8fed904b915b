"""Microvisor v1: Configs, Secrets, Devices, Device Configs and Device Secrets."""

from __future__ import annotations

from typing import Any

from microvisor_pulumi.emulator.responses import Responses
from microvisor_pulumi.emulator.store import ItemKind, Record
from microvisor_pulumi.emulator.wire import (
    Request,
    Response,
    bool_param,
    iso8601,
    json_response,
    meta_list,
    paginate,
    quote_segment,
)


class MicrovisorResponses(Responses):
    """Account and device configs and secrets (``kind``), and devices."""

    # -- configs and secrets -------------------------------------------------------------------

    @staticmethod
    def _item_json(req: Request, kind: ItemKind, record: Record) -> dict[str, Any]:
        noun = "Configs" if kind == "config" else "Secrets"
        device = record.get("device_sid")
        parent = f"{req.base_url}/v1/Devices/{device}" if device else f"{req.base_url}/v1"
        out: dict[str, Any] = {}
        if device:
            out["device_sid"] = device
        out["key"] = record["key"]
        if kind == "config":
            out["value"] = record["value"]
            out["date_updated"] = iso8601(record["date_updated"])
        else:
            out["date_rotated"] = iso8601(record["date_rotated"])
        out["url"] = f"{parent}/{noun}/{quote_segment(record['key'])}"
        return out

    def list_items(self, req: Request, *, kind: ItemKind, device: str | None = None) -> Response:
        page = paginate(req, self.store.list_items(kind, device), default_size=self.page_size)
        items = [self._item_json(req, kind, r) for r in page.records]
        return meta_list(req, "configs" if kind == "config" else "secrets", page, items)

    def create_item(self, req: Request, *, kind: ItemKind, device: str | None = None) -> Response:
        record = self.store.create_item(kind, req.form.get("Key"), req.form.get("Value"), device)
        return json_response(201, self._item_json(req, kind, record))

    def fetch_item(self, req: Request, *, kind: ItemKind, key: str, device: str | None = None) -> Response:
        return json_response(200, self._item_json(req, kind, self.store.get_item(kind, key, device)))

    def update_item(self, req: Request, *, kind: ItemKind, key: str, device: str | None = None) -> Response:
        record = self.store.update_item(kind, key, req.form.get("Value"), device)
        return json_response(200, self._item_json(req, kind, record))

    def delete_item(self, req: Request, *, kind: ItemKind, key: str, device: str | None = None) -> Response:
        self.store.delete_item(kind, key, device)
        return Response(204)

    # -- devices -------------------------------------------------------------------------------

    @staticmethod
    def _device_json(req: Request, record: Record) -> dict[str, Any]:
        url = f"{req.base_url}/v1/Devices/{record['sid']}"
        return {
            "sid": record["sid"],
            "unique_name": record["unique_name"],
            "account_sid": record["account_sid"],
            "app": {
                "target_sid": record["target_sid"],
                "target_hash": None,
                "date_targeted": iso8601(record["date_targeted"]),
                "update_status": "up-to-date",
                "update_error_code": 0,
                "reported_sid": record["target_sid"],
                "date_reported": iso8601(record["date_targeted"]),
            },
            "logging": {
                "enabled": record["logging_enabled"],
                "date_expires": iso8601(record["logging_expires"]) if record["logging_enabled"] else None,
            },
            "date_created": iso8601(record["date_created"]),
            "date_updated": iso8601(record["date_updated"]),
            "url": url,
            "links": {"device_configs": f"{url}/Configs", "device_secrets": f"{url}/Secrets"},
        }

    def list_devices(self, req: Request) -> Response:
        page = paginate(req, self.store.list_devices(), default_size=self.page_size)
        return meta_list(req, "devices", page, [self._device_json(req, r) for r in page.records])

    def fetch_device(self, req: Request, *, device: str) -> Response:
        return json_response(200, self._device_json(req, self.store.get_device(device)))

    def update_device(self, req: Request, *, device: str) -> Response:
        form = req.form
        record = self.store.update_device(
            device,
            unique_name=form.get("UniqueName"),
            target_app=form.get("TargetApp"),
            logging_enabled=bool_param(form, "LoggingEnabled"),
            restart_app=bool_param(form, "RestartApp"),
        )
        return json_response(200, self._device_json(req, record))
