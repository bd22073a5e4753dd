"""What a provider plans for one target: the cloud objects it will write, once, with their names and
addresses and each principal's trust exactly as the cloud will hold it. Terraform emission, the
access graph, simulation, drift's expected state and the diff all read this plan, so they cannot
disagree about what is deployed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .access import principal_id


@dataclass(slots=True)  # not frozen: a plan holds one per workload, and frozen ones cost 4x to build
class Principal:
    """A workload's principal on a target: what a token becomes there."""

    cloud: str
    target: str
    workload: str
    kind: str  # the provider's word: "role", "service_account", "direct", "identity"
    name: str  # as people read it: role name, service account email, identity name
    trust: dict  # the exact conditions the cloud checks, as written (a policy, members, credentials)
    attributes: dict = field(default_factory=dict)  # what the graph shows of it: ARN, email, resource ID

    @property
    def node(self) -> str:
        return principal_id(self.cloud, self.kind, self.target, self.workload)


@dataclass
class TargetPlan:
    """The part of a plan the core reads; each provider extends it with its cloud's objects."""

    cloud: str
    target: str
    principals: dict[str, Principal] = field(default_factory=dict)  # by workload
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # by workload: what it needs to use them
    # by workload: the windows the cloud itself cannot enforce ("trust window", "grant window")
    unenforced: dict[str, list[str]] = field(default_factory=dict)
    # by named workload (kind, name): the other workload's principal, as the trust pins it (chains.py)
    references: dict[tuple[str, str], str] = field(default_factory=dict)
    # with --split: the data sources its trust reads other root modules' principals with, (kind, source plan, workload)
    lookups: list[tuple[str, TargetPlan, str]] = field(default_factory=list)


Plans = dict[tuple[str, str], TargetPlan]  # by (cloud, target)
