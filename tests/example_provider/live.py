"""The example cloud, read-only. It has no API: a connection is an account's objects held in
memory (`Connection`), which is what a test or a dry run on paper reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from wiam.live import WRONG_ACCOUNT, Adoptable, LiveObject, Unreadable
from wiam.model import Model, Target

from .plan import ExamplePlan


@dataclass
class Connection:
    endpoint: str | None = None
    accounts: dict[str, list[LiveObject]] = field(default_factory=dict)  # what each account holds
    credentials: dict[str, list] = field(default_factory=dict)  # each account's secretless.Credential


def connect(endpoint: str | None = None) -> Connection:
    return Connection(endpoint)


def expected(plan: ExamplePlan) -> list[LiveObject]:
    found = []
    for workload, binding in plan.bindings.items():
        principal = plan.principals[workload]
        found.append(LiveObject("principal", principal.name, {"trusted_subjects": principal.trust["subjects"]}))
        found.append(LiveObject("binding", principal.name, {"permissions": sorted(binding.settings.permissions),
                                                            "resources": sorted(binding.settings.resources)}))
    return found


def read(plan: ExamplePlan, expected: list[LiveObject], connection: Connection) -> list[LiveObject]:
    if plan.settings.account not in connection.accounts:
        raise Unreadable(f"account {plan.settings.account!r} is not one this connection reaches", WRONG_ACCOUNT)
    return list(connection.accounts[plan.settings.account])


def unchecked(plan: ExamplePlan) -> int:
    """read() reads every kind of object a plan makes."""
    return 0


def importable(model: Model, target: Target, connection: Any) -> dict[str, dict[str, str]]:
    """The example cloud has no shared objects a target could reuse."""
    return {}


def adoptable(model: Model, target: Target, connection: Any) -> list[Adoptable]:
    """Its principals are named after their workloads, with no setting to keep another name: none to adopt."""
    return []


def refresh_catalog(connect: Callable[[], Any], folder: str | None, date: str) -> str:
    """Its permissions are fixed (permissions.INCLUDES): no catalog to rebuild."""
    return "nothing to refresh: the example cloud's permissions are fixed"
