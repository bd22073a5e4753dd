"""The code host's side of subject templates: a repository has one template on its host, which the
clouds' pinned subjects must agree with. Checks that issuers sharing a repository agree, and plans,
for issuers with manage_subject_claims, one template resource per repository under a provider per
owner. What a host's provider and resource look like is its kind's (issuers.CodeHost)."""

from __future__ import annotations

from dataclasses import dataclass

from .diagnostics import Report
from .document import describe
from .issuers import KINDS, CodeHost
from .model import Identity, Issuer, Model, normalised_url
from .names import free_name, module_dir, slug, terraform_name
from .terraform import Module, provider_alias


@dataclass(frozen=True)
class Named:
    """An identity naming a repository of a kind with a code host."""

    identity: Identity
    host: CodeHost
    served: bool  # whether its issuer's tokens come from the host (see serves)
    owner: str
    repository: str  # without the owner

    @property
    def scope(self) -> tuple[str, str, str]:
        """Where the repository is one: on the host for issuers it serves, else at the issuer's URL.
        Names are compared without case, as GitHub compares them."""
        where = self.host.title if self.served else normalised_url(self.identity.issuer.url)
        return where, self.owner.lower(), self.repository.lower()

    @property
    def template(self) -> tuple[str, ...]:
        return self.identity.issuer.subject_claims or self.host.default_template


@dataclass(frozen=True)
class Template:
    name: str  # its Terraform resource name
    repository: str
    keys: tuple[str, ...]  # the issuer's subject_claims; (): the host's default


@dataclass(frozen=True)
class OwnerSide:
    """What one owner's provider configuration manages."""

    host: CodeHost
    owner: str
    alias: str
    templates: tuple[Template, ...]
    workloads: tuple[str, ...]

    @property
    def dir(self) -> str:
        """Its root module's folder under compile --split target."""
        return module_dir(self.host.provider[0], self.owner)


def serves(issuer: Issuer) -> bool:
    """Whether the issuer's tokens come from its kind's code host: its default URL or a path under it
    (an enterprise slug). A self-hosted server's API is elsewhere."""
    default = KINDS[issuer.kind].default_url
    url = normalised_url(issuer.url)
    return default is not None and (url == default or url.startswith(default + "/"))


def management_problem(issuer: Issuer) -> tuple[str, str] | None:
    """(message, fix) when manage_subject_claims cannot apply to the issuer, else None."""
    if not issuer.manage_subject_claims:
        return None
    hosted = [name for name, kind in KINDS.items() if kind.code_host]
    if KINDS[issuer.kind].code_host is None:
        return f"manage_subject_claims applies to {', '.join(hosted)} issuers only", "remove it"
    if not serves(issuer):
        title = KINDS[issuer.kind].code_host.title
        return (f"manage_subject_claims manages repositories on {title}, and url {issuer.url!r} is not "
                f"{title}'s token URL", f"remove url (keep the default or use enterprise_slug), or remove "
                f"manage_subject_claims: a self-hosted server is not supported")
    return None


def named(model: Model) -> list[Named]:
    """Every identity naming a repository of a kind with a code host, in workload order."""
    served = {name: serves(issuer) for name, issuer in model.issuers.items()}
    found = []
    for name in sorted(model.workloads):
        for identity in model.workloads[name].identities:
            kind = KINDS[identity.issuer.kind]
            if kind.code_host is None or kind.repository is None:
                continue
            owner, repository = dict(identity.claims)[kind.repository].split("/", 1)
            found.append(Named(identity, kind.code_host, served[identity.issuer.name], owner, repository))
    return found


def check_templates(model: Model, report: Report) -> None:
    """A repository has one subject template: active identities naming it through issuers of
    different templates cannot all get tokens. The later of each pair (in file order) is reported: an
    error where either issuer manages the template (wiam would write one and break the other), else
    a note (the contract example of conditions does this)."""
    first: dict[tuple, Named] = {}
    for entry in sorted(named(model), key=lambda n: (n.identity.pos, n.identity.workload, n.identity.index)):
        if not entry.identity.active:
            continue
        seen = first.setdefault(entry.scope, entry)
        if seen.template == entry.template:
            continue
        this, other = entry.identity, seen.identity
        message = (f"repository {entry.owner}/{entry.repository} has one subject template on {entry.host.title}, "
                   f"but issuer {this.issuer.name!r} (workload {this.workload!r}) pins subjects of "
                   f"[{', '.join(entry.template)}] and issuer {other.issuer.name!r} (workload {other.workload!r}, "
                   f"at {other.pos}) pins subjects of [{', '.join(seen.template)}]")
        fix = "give both issuers the same subject_claims, name the repository through one of them, or disable one"
        if this.issuer.manage_subject_claims or other.issuer.manage_subject_claims:
            report.error(this.pos, describe(("workload", this.workload, "identity", this.index)), message, fix)
        else:
            report.notes.append(f"{this.pos}: {message}: tokens reach one of them only; {fix}")


def plan(model: Model) -> list[OwnerSide]:
    """Per owner, one template for each repository that an identity of a managing issuer names: the
    template of its active identities (which check_templates made agree), else of the first disabled
    one by issuer name. Sorted by owner; names unique across all owners (one module may hold them all)."""
    if not any(issuer.manage_subject_claims for issuer in model.issuers.values()):
        return []
    by_repository: dict[tuple, list[Named]] = {}
    for entry in named(model):
        if entry.served:
            by_repository.setdefault(entry.scope, []).append(entry)
    owners: dict[tuple[str, str], list[list[Named]]] = {}
    for (where, owner, _), entries in sorted(by_repository.items()):
        if any(e.identity.issuer.manage_subject_claims for e in entries):
            owners.setdefault((where, owner), []).append(entries)
    sides, aliases, names = [], set(), set()
    for (_, owner_key), repositories in sorted(owners.items()):
        templates = []
        for entries in repositories:
            chosen = min(entries, key=lambda e: (not e.identity.active, not e.identity.issuer.manage_subject_claims,
                                                 e.identity.issuer.name, e.identity.workload, e.identity.index))
            repository = min(e.repository for e in entries)  # one spelling of a name compared without case
            name = free_name(terraform_name("repo", slug(owner_key), slug(repository.lower())), names,
                             owner_key, repository.lower())
            names.add(name)
            templates.append(Template(name, repository, chosen.identity.issuer.subject_claims))
        flat = [e for entries in repositories for e in entries]
        alias = free_name(f"owner_{slug(owner_key)}", aliases, owner_key)
        aliases.add(alias)
        sides.append(OwnerSide(flat[0].host, min(e.owner for e in flat), alias, tuple(templates),
                               tuple(sorted({e.identity.workload for e in flat}))))
    return sides


def emit(side: OwnerSide, module: Module, aliased: bool) -> None:
    """The owner's provider configuration and its templates; `aliased` where one module holds several owners."""
    local, source, version = side.host.provider
    module.require(local, source, version)
    config = side.host.config(side.owner)
    module.provider(local, {"alias": side.alias, **config} if aliased else config)
    for template in side.templates:
        body = side.host.template(template.repository, template.keys)
        if aliased:
            body["provider"] = provider_alias(local, side.alias)
        module.resource(side.host.resource, template.name, body)
