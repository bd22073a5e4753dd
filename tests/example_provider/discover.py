"""The example cloud's discovery: the credentials an account of the in-memory Connection holds, but
those of the principals the plan makes (which are wiam's)."""

from __future__ import annotations

from dataclasses import replace

from wiam.live import WRONG_ACCOUNT, Unreadable
from wiam.secretless import Credential

from .live import Connection
from .plan import ExamplePlan


def find(plan: ExamplePlan, connection: Connection) -> list[Credential]:
    account = plan.settings.account
    if account not in connection.accounts:
        raise Unreadable(f"account {account!r} is not one this connection reaches", WRONG_ACCOUNT)
    ours = {principal.name for principal in plan.principals.values()}
    return [replace(c, target=plan.block.name) for c in connection.credentials.get(account, []) if c.owner not in ours]
