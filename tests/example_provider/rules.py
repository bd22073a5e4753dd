"""The example cloud's analysis rules."""

from __future__ import annotations

from wiam.document import describe
from wiam.findings import Context, Rule, rule

from .settings import CLOUD, GrantSettings

RULES: list[Rule] = []


@rule(RULES, "EX101", "admin-permission", "critical", "Administrative permission",
      """The grant holds admin, which includes every other permission of the account.""",
      """Grant read or write, whichever the workload needs.""")
def _admin_grants(rule: Rule, context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        for grant in workload.grants:
            if grant.cloud == CLOUD and "admin" in GrantSettings.of(grant.settings).permissions:
                yield rule.finding(grant.pos, describe(grant.path), f"workload {name!r} holds admin on "
                                   f"{CLOUD} target {grant.target!r}", workload=name)
