"""What a program written by `microvisor-pulumi inventory` checks before it declares anything.

Every resource of such a program says ``overwrite=True``, meant for the account the inventory read:
run with credentials of another account (a CI variable, a stray ``TWILIO_ACCOUNT_SID``) it would
take over that account's items of the same keys. Both layouts, the single-stack program and the
sharded one, call `check_account` first.
"""

from __future__ import annotations

from microvisor_pulumi.resources._schema import ACCOUNT_SID_RE


class AccountMismatch(ValueError):
    """The stack's credentials are of another account than the one the program adopts."""


def check_account(account_sid: str) -> None:
    """Refuse to run with credentials of another account than ``account_sid``.

    The account is resolved as the provider resolves it (``twilio:*`` stack config first, then the
    ``TWILIO_*`` environment); none at all is left to the provider's own error. Case does not matter.
    """
    from pulumi.runtime import get_config

    from microvisor_pulumi._twilio import CONFIG_KEYS, Settings
    from microvisor_pulumi.inventory.render import shown

    config = {key: str(get_config(key)) for key in CONFIG_KEYS if get_config(key) not in (None, "")}
    resolved = Settings.resolve(config=config).account_sid
    if resolved and resolved.lower() != account_sid.lower():
        which = resolved if ACCOUNT_SID_RE.match(resolved) else shown(resolved)
        raise AccountMismatch(
            f"this stack's credentials are of account {which}, but this program adopts the items of "
            f"account {account_sid} (every resource says overwrite=True): set twilio:accountSid (or "
            f"TWILIO_ACCOUNT_SID) and the credentials of {account_sid}"
        )
