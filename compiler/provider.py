"""What a cloud's provider package must offer: the Provider protocol and its parts. Each package
under providers/ implements it as module-level names (a module is the provider); the contract test
(tests/test_provider_contract.py) checks every registered provider against it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, runtime_checkable

from .access import AccessGraph
from .diagnostics import Report
from .findings import Rule
from .live import Adoptable, LiveObject, Proposed
from .model import Grant, Model, Target
from .names import ObjectName
from .plan import TargetPlan
from .terraform import Module
from .verdict import Verdict

if TYPE_CHECKING:
    from .secretless import Credential  # it renders through analysis.output, which the types do not import


@dataclass(frozen=True)
class Endpoint:
    """A command-line option that points one cloud's live reads elsewhere (an emulator, a private endpoint)."""

    keyword: str  # the argument of live.connect it sets
    option: str  # e.g. "--gcp-endpoint"
    envvar: str  # e.g. "WIAM_GCP_ENDPOINT"
    help: str


@dataclass(frozen=True)
class Chain:
    """How a cloud's principals carry tokens of one issuer kind to other clouds (chains.py): the identity
    field that pins the ID instead of a workload, and the value the trust pins for a workload's principal
    on a target (a Terraform reference, Expr, when the cloud assigns the ID on creation)."""

    id_field: str
    value: Callable[[Model, Target, str], str]
    # (message, fix) when the workload's principal on the target carries no such tokens, else None
    refusal: Callable[[Model, Target, str], tuple[str, str] | None] = lambda model, target, workload: None
    # Where the value is a reference: reading it from another root module (--split) as a data source,
    # (type, name, body, attribute) for the workload on the plan's target; configure writes that
    # target's provider configuration into a module.
    lookup: Callable[[TargetPlan, str], tuple[str, str, dict, str]] | None = None
    configure: Callable[[TargetPlan, Module], None] | None = None


@dataclass(frozen=True)
class Example:
    """The shared test vocabulary: one target and one grant of this cloud, as a spec writes them
    (settings only), which every contract test plans, emits, graphs and simulates."""

    target: dict[str, Any]
    grant: dict[str, Any]


@runtime_checkable
class Permissions(Protocol):
    """The cloud's permission vocabulary: how grants name permissions and what they include."""

    FIELD: str  # the grant field whose entries the catalog checks ("actions", "roles")

    def problem(self, entry: str) -> tuple[str, str] | None:
        """(message, fix) when the catalog does not know an entry of FIELD, else None."""

    def allows(self, node: dict, action: str) -> bool:
        """Whether an action or role node of the graph allows a permission (who-can)."""

    def covers(self, grant: dict, resource: str) -> bool:
        """Whether a grant node applies to a resource (who-can)."""

    def impact(self, node: dict) -> str:
        """The severity of holding an action or role node (blast radius)."""

    def permission_set(self, label: str) -> frozenset[str] | None:
        """What an action or role label allows, to compare two of them; None when unknown."""

    def writes(self, grant: Grant) -> bool:
        """Whether a grant allows more than reading."""


@runtime_checkable
class Live(Protocol):
    """Read-only access to the running cloud: drift, import and catalog refresh."""

    def connect(self, **endpoints: str | None) -> Any:
        """A connection through the SDK's default credential chain (Endpoint keywords point it elsewhere)."""

    def expected(self, plan: TargetPlan) -> list[LiveObject]:
        """The objects a plan creates, in the canonical state read() gives the running ones."""

    def read(self, plan: TargetPlan, expected: list[LiveObject], connection: Any) -> list[LiveObject]:
        """The same kinds of objects as they run; raises live.Unreadable when the target cannot be read."""

    def unchecked(self, plan: TargetPlan) -> int:
        """How many planned objects are of kinds read() does not read."""

    def importable(self, model: Model, target: Target, connection: Any) -> dict[str, dict[str, str] | bool | Proposed]:
        """Objects that exist outside wiam and that the target should reuse: {setting: {key: value}}
        for a map setting, {setting: True} for a boolean one (False: nothing to set); either as a
        live.Proposed with notes for the person running import."""

    def adoptable(self, model: Model, target: Target, connection: Any) -> list[Adoptable]:
        """The target's principals that wiam did not create and that no grant adopts yet, by name."""

    def refresh_catalog(self, connect: Callable[[], Any], folder: str, date: str) -> str:
        """Rebuild the cloud's shipped permission catalog from its API into `folder`; what was written."""


@runtime_checkable
class Discover(Protocol):
    """Read-only discovery (wiam discover): what a target's account holds outside the spec."""

    def find(self, plan: TargetPlan, connection: Any) -> list[Credential]:
        """Its long-lived credentials and the identities the spec does not manage, through live.connect's
        connection; raises live.Unreadable when the target cannot be read."""


@runtime_checkable
class Provider(Protocol):
    CLOUD: str  # the cloud's name in the spec
    KINDS: frozenset[str]  # the issuer kinds whose identities its trust accepts (issuers.KINDS names them)
    CHAINS: dict[str, Chain]  # by issuer kind: the kinds whose tokens its principals carry to other clouds
    TERRAFORM_PROVIDER: tuple[str, str, str]  # (local name, source, version constraint)
    ENDPOINTS: tuple[Endpoint, ...]
    EXAMPLE: Example
    DATA_PACKAGES: tuple[str, ...]  # distributions whose data decides validity (catalogs), by name
    RULES: list[Rule]
    permissions: Permissions
    live: Live
    discover: Discover

    def schema(self) -> dict:
        """The cloud's part of the spec's JSON Schema: {"target": ..., "grant": ..., "$defs": ...}."""

    def places(self, settings: dict) -> list[tuple[str, str, tuple]]:
        """(label, field, key) of the cloud objects a target manages alone; two targets sharing a key are refused."""

    def object_names(self, model: Model, target: Target) -> list[ObjectName]:
        """The names it gives cloud objects, with where and how the cloud compares them."""

    def plan(self, model: Model, target: Target, report: Report) -> TargetPlan:
        """Everything the target will hold, with the cloud's documented limits checked into `report`."""

    def emit(self, plan: TargetPlan, module: Module) -> None:
        """The plan's Terraform: provider configuration and resources, a mapping without decisions."""

    def graph(self, plan: TargetPlan, access: AccessGraph) -> None:
        """The plan's principals, grants and permissions in the access graph."""

    def link_principals(self, model: Model, access: AccessGraph) -> None:
        """Indirect edges (can_act_as) between the cloud's principals, once every target is graphed."""

    def reach(self, grant: dict, target: dict, targets: dict[str, dict]) -> set[str]:
        """From settings alone: the targets (by name) whose principals a grant may act as, a superset of
        link_principals' edges (incremental diffs)."""

    def simulate(self, plan: TargetPlan, claims: dict) -> list[Verdict]:
        """For each principal of the plan: whether the cloud accepts a token with these claims, and why not."""
