"""Semantic checks that the schema cannot express, and the model they build."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import date, timedelta

from . import bundles, registry, schema, windows
from .bundles import Bundle
from .analysis import all_rules
from .code_host import check_templates, management_problem
from .diagnostics import Pos, Report, printable, quote
from .document import Document, describe
from .issuers import BOOLEANS, CLAIM_TYPES, KINDS, TemplateError, carried, issuer_url
from .model import ALWAYS, Grant, Identity, Issuer, Model, Review, Settings, Target, Window, Workload
from .names import check_unique, split_dirs
from .suggest import closest, listed


KILL_SWITCH = ("disabled", "reason")
WINDOW = ("not_before", "expires", "ticket")  # the core's fields on workloads, identities and grants
GRANT_FIELDS = WINDOW + ("reason",)  # the core's part of a grant; the rest is its cloud's
NOT_KIND_FIELDS = frozenset({"issuer", "claims", *KILL_SWITCH, *WINDOW})  # an identity's fields every kind takes


def _did_you_mean(name: str, choices) -> str:
    close = closest(name, sorted(choices))
    return f"did you mean {close!r}?" if close else ""


def build_model(doc: Document, report: Report, checked: bool = False) -> Model:
    """Schema-check the document, then resolve references into a `Model`.

    Problems go to `report`; the model holds what could be built, so that one run finds all errors.
    `checked`: the document's blocks passed the schema and the character checks already (a slice of
    valid specs), so they are not checked again.
    """
    if not checked:
        schema.check(doc, report)
    if not report.diagnostics and not checked:  # else a pattern has told of the character already
        _check_visible(doc, doc.data, (), report)
    if report.diagnostics:
        return Model(document=doc)
    model = Model(document=doc, settings=_settings(doc, doc.data.get("settings", []), report))
    for name, body in sorted(doc.data.get("issuer", {}).items()):
        issuer = _issuer(doc, name, body, report)
        if issuer:
            model.issuers[name] = issuer
    for cloud, named in sorted(doc.data.get("target", {}).items()):
        for name, body in sorted(named.items()):
            path = ("target", cloud, name)
            model.targets[(cloud, name)] = Target(cloud, name, body, doc.where(path, key=True), path)
    shared = _check_places(doc, model, report)
    for name, body in sorted(doc.data.get("workload", {}).items()):
        model.workloads[name] = _workload(doc, model, name, body, report)
    check_templates(model, report)
    # Targets sharing a place would clash in every name they derive: that one error says it all.
    check_unique(split_dirs(model) + [name for target in model.targets.values() if target not in shared
                                      for name in registry.get(target.cloud).object_names(model, target)], report)
    return model


FREE_TEXT = ("description", "reason")  # may hold line breaks (CRLF too) and tabs; nothing else any control
INVISIBLE_CATEGORIES = ("Cc", "Cf", "Zl", "Zp")  # controls, bidi and zero-width formats, line and paragraph separators


def _invisible(text: str, free: bool) -> str | None:
    """The first control or invisible character of `text` (free text may hold line breaks and tabs)."""
    if text.isprintable():
        return None
    return next((c for c in text if unicodedata.category(c) in INVISIBLE_CATEGORIES
                 and not (free and c in "\n\r\t")), None)


def _shown(char: str) -> str:
    return f"{printable(char)} (U+{ord(char):04X})"


def _check_visible(doc: Document, value, path: tuple, report: Report) -> None:
    """No cloud name, subject or claim holds a control or invisible character, and text that shows
    one differently from what it is (bidi overrides) would mislead a reviewer of the spec."""
    if isinstance(value, dict):
        for key, item in value.items():
            bad = _invisible(key, free=False)
            if bad is not None:  # a condition key, say: IAM would compare what the reviewer cannot see
                report.error(doc.where(path + (key,), key=True), describe(path),
                             f"the key {quote(key)} holds {_shown(bad)}, a control or invisible character",
                             "remove it: write the key in visible characters")
            _check_visible(doc, item, path + (key,), report)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_visible(doc, item, path + (index,), report)
    elif isinstance(value, str):
        free = bool(path[-1:]) and path[-1] in FREE_TEXT
        bad = _invisible(value, free)
        if bad is not None:
            at = len(path) - 2 if isinstance(path[-1], int) else len(path) - 1  # the attribute: resources[0]
            name = path[at] + "".join(f"[{index}]" for index in path[at + 1:])
            report.error(doc.where(path), describe(path[:at]), f"{name} holds {_shown(bad)}, a control or invisible character",
                         "remove it: write the value in visible characters" + (" (line breaks and tabs may stay)" if free else ""))


def _check_places(doc: Document, model: Model, report: Report) -> list[Target]:
    """Two targets that manage one account, pool or resource group would create the same objects twice;
    the targets so refused, both of each pair."""
    owner: dict[tuple, Target] = {}
    shared: list[Target] = []
    in_file_order = sorted(model.targets.values(), key=lambda t: (t.pos, t.name))
    for target in in_file_order:  # the later of two targets is the one reported
        cloud = target.cloud
        for label, field, key in registry.get(cloud).places(target.settings):
            first = owner.setdefault((cloud, label, key), target)
            if first is not target:
                report.error(doc.where(target.path + (field,)), describe(target.path),
                             f"{cloud} target {target.name!r} is in the same {label} as target "
                             f"{first.name!r} ({first.pos}): {' '.join(key)}",
                             f"declare one target per {label} and grant on it, or point {target.name!r} "
                             f"at another {label}")
                shared += [first, target]
                break
    return shared


# issuer-block fields only some kinds take -> those kinds
ISSUER_FIELDS = {field_name: tuple(name for name, k in KINDS.items() if field_name in k.issuer_fields)
                 for kind in KINDS.values() for field_name in kind.issuer_fields}


def _issuer(doc: Document, name: str, body: dict, report: Report) -> Issuer | None:
    path = ("issuer", name)
    kind = body["kind"]
    slug = body.get("enterprise_slug")
    if slug and not KINDS[kind].enterprise:
        enterprise = ", ".join(name for name, k in KINDS.items() if k.enterprise)
        report.error(doc.where(path + ("enterprise_slug",), key=True), describe(path),
                     f"enterprise_slug applies to {enterprise} issuers only", "remove it")
    elif slug and body.get("url"):
        report.error(doc.where(path + ("enterprise_slug",), key=True), describe(path),
                     "set url or enterprise_slug, not both",
                     f"remove url; enterprise_slug gives {KINDS[kind].default_url}/{slug}")
    organization = body.get("organization_id")
    if organization and not KINDS[kind].organization:
        named = ", ".join(name for name, k in KINDS.items() if k.organization)
        report.error(doc.where(path + ("organization_id",), key=True), describe(path),
                     f"organization_id applies to {named} issuers only", "remove it")
    elif KINDS[kind].organization and not organization:
        report.error(doc.where(path, key=True), describe(path), f"a {kind} issuer needs organization_id",
                     "set organization_id to the organization's ID (a UUID; its tokens' aud and the end of their iss)")
        return None
    if body.get("url") and not KINDS[kind].takes_url:
        report.error(doc.where(path + ("url",), key=True), describe(path),
                     f"a {kind} issuer has no url: the cloud identifies these workloads itself", "remove url")
        return None
    fields = {}
    for field_name in sorted((ISSUER_FIELDS.keys() - set(KINDS[kind].issuer_fields)) & body.keys()):
        report.error(doc.where(path + (field_name,), key=True), describe(path),
                     f"{field_name} applies to {', '.join(ISSUER_FIELDS[field_name])} issuers only", "remove it")
        return None
    for field_name in KINDS[kind].issuer_fields:
        if field_name not in body:
            report.error(doc.where(path, key=True), describe(path), f"a {kind} issuer needs {field_name}",
                         f"set {field_name} (see the {kind} kind in docs/language.md)")
            return None
        fields[field_name] = body[field_name]
    if KINDS[kind].audience_hint and "audience" not in body:
        report.error(doc.where(path, key=True), describe(path), f"a {kind} issuer needs audience",
                     f"set audience to {KINDS[kind].audience_hint}")
        return None
    url = issuer_url(kind, body.get("url"), slug, organization, fields)
    if url is None:
        report.error(doc.where(path, key=True), describe(path), f"a {kind} issuer needs a url",
                     "set url to the issuer's https URL (the iss claim of its tokens)")
        return None
    problem = KINDS[kind].url_problem(url)
    if problem:
        report.error(doc.where(path + ("url",)), describe(path), *problem)
        return None
    template = tuple(body.get("subject_claims", ()))
    if template and KINDS[kind].templated is None:
        templated = ", ".join(name for name, k in KINDS.items() if k.templated)
        report.error(doc.where(path + ("subject_claims",), key=True), describe(path),
                     f"subject_claims applies to {templated} issuers only", "remove it")
        return None
    # CircleCI tokens' aud is the organization ID (unless custom claims set others)
    audience = body.get("audience") or (organization if KINDS[kind].organization else None)
    bundle = None
    if bundles.FIELD in fields:
        bundle = _bundle(doc, name, fields[bundles.FIELD], report)
        if bundle is None:
            return None
        url = bundles.issuer_label(url, bundle)
    issuer = Issuer(name, kind, url, audience, doc.where(path, key=True),
                    _disabled(doc, path, body, report), template, body.get("manage_subject_claims") is True, bundle)
    problem = management_problem(issuer)
    if problem:
        report.error(doc.where(path + ("manage_subject_claims",), key=True), describe(path), *problem)
        return None
    return issuer


def _bundle(doc: Document, name: str, relative: str, report: Report) -> Bundle | None:
    """The issuer's trust bundle as load read it, parsed; each problem reported where it is."""
    path = ("issuer", name)
    where = doc.where(path + (bundles.FIELD,))
    if not relative.endswith(bundles.SUFFIX):
        report.error(where, describe(path), f"{bundles.FIELD} {quote(relative)} is not a {bundles.SUFFIX} file",
                     f"name the bundle *{bundles.SUFFIX}, the PEM file of the trust domain's CA certificates")
        return None
    file, content = doc.bundles.get(name, (relative, "not read"))
    if isinstance(content, str):
        report.error(where, describe(path), f"the trust bundle cannot be read: {content}",
                     "put the PEM file inside the spec folder, at this path relative to this spec file")
        return None
    try:
        return bundles.parse(content, file)
    except bundles.BundleError as error:
        report.error(Pos(file, error.line, 1), describe(path), f"trust bundle {quote(relative)}: {error.message}",
                     error.fix)
        return None


def _disabled(doc: Document, path: tuple, body: dict, report: Report) -> str | None:
    """The kill switch of a block: its reason when disabled = true, else None."""
    reason = (body.get("reason") or "").strip()
    if body.get("disabled") is True and not reason:
        report.error(doc.where(path + ("disabled",), key=True), describe(path), "disabled = true needs a reason",
                     'add reason = "..." (the incident or ticket), so the change explains itself')
    explained = ("disabled", "break_glass", "not_before", "expires")
    if "reason" in body and not any(body.get(key) not in (None, False) for key in explained):
        report.error(doc.where(path + ("reason",), key=True), describe(path),
                     "reason applies to disabled = true, break_glass = true or a time window",
                     "set one of them, or remove reason")
    return reason if body.get("disabled") is True else None


def _window(doc: Document, path: tuple, body: dict, report: Report, within: Window = ALWAYS) -> Window:
    """A block's own time window; a bound that is no real time, a window that ends before it begins,
    or one that never meets `within` (its workload's) is an error."""
    if "not_before" not in body and "expires" not in body:
        return ALWAYS  # most blocks: nothing to parse or check
    bounds = {}
    for key in ("not_before", "expires"):
        if key in body:
            try:
                bounds[key] = windows.parse(body[key])
            except ValueError:
                report.error(doc.where(path + (key,)), describe(path), f"{key} {body[key]!r} is no real time",
                             "write an existing UTC time as YYYY-MM-DDTHH:MM:SSZ, e.g. 2026-12-02T02:00:00Z")
    own = Window(bounds.get("not_before"), bounds.get("expires"))
    if windows.empty(own):
        report.error(doc.where(path + ("expires",)), describe(path), "expires is not after not_before",
                     "set expires later than not_before")
        return own
    if own and within and windows.empty(windows.narrowest(within, own)):
        report.error(doc.where(path + (next(iter(bounds)),)), describe(path),
                     f"this window ({windows.described(own)}) never meets its workload's ({windows.described(within)})",
                     "move the window inside the workload's, or change the workload's")
    return own


def _workload(doc: Document, model: Model, name: str, body: dict, report: Report) -> Workload:
    path = ("workload", name)
    disabled = _disabled(doc, path, body, report)
    window = _window(doc, path, body, report)
    identities = []
    seen: dict[tuple, int] = {}
    for index, fields in enumerate(body["identity"]):
        identity = _identity(doc, model, name, index, fields, report, window)
        if identity is None:
            continue
        if disabled and not identity.disabled:
            identity = replace(identity, disabled=disabled)
        key = (identity.issuer.name, identity.subject, identity.audience)
        if key in seen:
            report.error(identity.pos, describe(path + ("identity", index)),
                         f"the same subject {identity.subject!r} is already named by identity #{seen[key] + 1}",
                         "remove the repeated identity block")
            continue
        seen[key] = index
        identities.append(identity)
    grants = []
    for cloud, per_target in sorted(body["grant"].items()):
        for target_name, settings in sorted(per_target.items()):
            grant_path = path + ("grant", cloud, target_name)
            if (cloud, target_name) not in model.targets:
                names = [t for c, t in model.targets if c == cloud]
                hint = _did_you_mean(target_name, names) or (
                    f"declare target \"{cloud}\" \"{target_name}\" {{ ... }}" if not names
                    else f"{cloud} targets are: {listed(sorted(names))}")
                report.error(doc.where(grant_path, key=True), describe(grant_path),
                             f"no {cloud} target named {target_name!r}", hint)
                continue
            own = {key: value for key, value in settings.items() if key not in GRANT_FIELDS}
            grant = Grant(name, cloud, target_name, own, doc.where(grant_path, key=True), grant_path,
                          _window(doc, grant_path, settings, report, window), settings.get("reason"), settings.get("ticket"))
            _check_catalog(doc, grant, report)
            grants.append(grant)
    suppress = {rule: entry["reason"] for rule, entry in body.get("suppress", {}).items()}
    for rule in sorted(set(suppress) - set(all_rules())):
        report.error(doc.where(path + ("suppress", rule), key=True), describe(path + ("suppress", rule)),
                     f"no analysis rule {rule!r}", _did_you_mean(rule, all_rules()) or "see docs/rules.md for rule IDs")
    break_glass = body.get("break_glass") is True
    if break_glass:
        _check_break_glass(doc, path, body, window, grants, report)
    return Workload(name, body.get("description", ""), body.get("owner", ""), body.get("environment", ""),
                    identities, grants, doc.where(path, key=True), suppress, disabled, window, break_glass,
                    body.get("reason"), body.get("ticket"), reviews=_reviews(doc, path, body.get("review", []), report))


def _reviews(doc: Document, path: tuple, bodies: list[dict], report: Report) -> tuple[Review, ...]:
    reviews = []
    for index, body in enumerate(bodies):
        where = path + ("review", index)
        try:
            reviews.append(Review(body["by"], date.fromisoformat(body["on"]), doc.where(where, key=True)))
        except ValueError:
            report.error(doc.where(where + ("on",)), describe(where), f"on {body['on']!r} is no real day",
                         "write an existing day as YYYY-MM-DD, e.g. 2026-12-02")
    return tuple(reviews)


def _settings(doc: Document, blocks: list[dict], report: Report) -> Settings:
    """The one settings block (the loader refuses a second in another file; here, in the same one)."""
    if not blocks:
        return Settings()
    for index in range(1, len(blocks)):
        report.error(doc.where(("settings", index), key=True), "settings",
                     f"settings is defined twice: here and at {doc.where(('settings', 0), key=True)}",
                     "keep one settings block for all the files: merge the two")
    body, pos = blocks[0], doc.where(("settings", 0), key=True)
    every = body.get("review_every")
    owners = body.get("owners", {})
    members = {handle: tuple(emails) for handle, emails in body.get("members", {}).items()}
    for handle in sorted(set(members) - set(owners.values())):
        report.error(doc.where(("settings", 0, "members", handle), key=True), "settings",
                     f"members lists {handle}, which no owner maps to",
                     f"map an owner to it in owners, or remove {handle} from members")
    unit = {"d": 1, "w": 7}
    return Settings(timedelta(days=int(every[:-1]) * unit[every[-1]]) if every else None, dict(owners), members, pos)


def _check_break_glass(doc: Document, path: tuple, body: dict, window: Window, grants: list[Grant],
                       report: Report) -> None:
    """Emergency access ends by itself and says why: expires and reason on the workload, or on each grant."""
    if window.expires is not None and body.get("reason"):
        return
    for grant in grants:
        if grant.window.expires is None or not grant.reason:
            missing = " and ".join(key for key, ok in (("expires", window.expires or grant.window.expires),
                                                        ("reason", body.get("reason") or grant.reason)) if not ok)
            report.error(doc.where(path + ("break_glass",), key=True), describe(path),
                         f"break_glass = true needs expires and reason on the workload or on every grant; "
                         f"grant {grant.cloud!r} {grant.target!r} has no {missing}",
                         'set expires = "YYYY-MM-DDTHH:MM:SSZ" and reason = "..." on the workload (or on each grant)')
            return


def _check_catalog(doc: Document, grant: Grant, report: Report) -> None:
    """Every action or role is in the cloud's catalog, unless the grant lists it in custom."""
    permissions = registry.get(grant.cloud).permissions
    entries = grant.settings.get(permissions.FIELD, [])
    custom = grant.settings.get("custom", [])
    for index, entry in enumerate(entries):
        found = None if entry in custom else permissions.problem(entry)
        if found:
            report.error(doc.where(grant.path + (permissions.FIELD, index)), describe(grant.path), *found)
    for index, entry in enumerate(custom):
        if entry not in entries:
            report.error(doc.where(grant.path + ("custom", index)), describe(grant.path),
                         f"custom lists {entry!r}, which is not in {permissions.FIELD}",
                         f"custom names entries of {permissions.FIELD}; remove {entry!r} or add it there")


def _identity(doc: Document, model: Model, workload: str, index: int, fields: dict, report: Report,
              within: Window = ALWAYS):
    path = ("workload", workload, "identity", index)
    block = describe(path)
    issuer_name = fields["issuer"]
    issuer = model.issuers.get(issuer_name)
    if issuer is None:
        if issuer_name not in doc.data.get("issuer", {}):  # a broken issuer was reported already
            report.error(doc.where(path + ("issuer",)), block, f"no issuer named {issuer_name!r}",
                         _did_you_mean(issuer_name, model.issuers) or "declare it with issuer \"NAME\" { kind = ... }")
        return None
    kind = KINDS[issuer.kind]
    ok = True
    for field_name in sorted(fields.keys() - NOT_KIND_FIELDS - set(kind.fields)):
        report.error(doc.where(path + (field_name,), key=True), block,
                     f"{field_name!r} does not apply to a {kind.name} issuer ({issuer_name!r})",
                     dict(kind.refused).get(field_name) or f"a {kind.name} identity takes: {', '.join(kind.fields)}")
        ok = False
    for field_name in kind.required:
        if field_name not in fields:
            report.error(doc.where(path, key=True), block, f"missing {field_name!r} for a {kind.name} identity",
                         f"a {kind.name} identity takes: {', '.join(kind.fields)}")
            ok = False
    if kind.one_of and sum(f in fields for f in kind.one_of) != 1:
        report.error(doc.where(path, key=True), block,
                     f"a {kind.name} identity pins exactly one of {', '.join(kind.one_of)}",
                     "set one of them (for example ref = \"refs/heads/main\"); use several identity blocks for several")
        ok = False
    for field_name, pattern, hint in kind.patterns:
        value = fields.get(field_name)
        if isinstance(value, str) and not re.fullmatch(pattern, value):
            report.error(doc.where(path + (field_name,)), block, f"{field_name} {quote(value)} is not of its form for a {kind.name} identity", hint)
            ok = False
    ids = kind.immutable_ids
    if ids and 0 < sum(f in fields for f in ids) < len(ids):
        report.error(doc.where(path + (next(f for f in ids if f in fields),), key=True), block, f"{' and '.join(ids)} go together",
                     "set both (the immutable subject carries both IDs) or neither")
        ok = False
    ref = fields.get("ref")
    problem = kind.ref_problem(ref) if isinstance(ref, str) else None
    if problem:
        report.error(doc.where(path + ("ref",)), block, *problem)
        ok = False
    pinned = fields.get("claims", {})
    ok = _check_claims(doc, path, kind, issuer_name, fields, pinned, report) and ok
    if not ok:
        return None
    subject, conditions = kind.subject(fields), dict(pinned)
    if issuer.subject_claims:
        try:
            subject = kind.templated(issuer.subject_claims, fields, pinned)
        except TemplateError as missing:
            report.error(doc.where(path, key=True), block,
                         f"issuer {issuer_name!r} puts {str(missing)!r} in its subjects (subject_claims), "
                         "and this identity gives it no value",
                         f"add claims = {{ {missing} = \"...\" }}, or remove {str(missing)!r} from subject_claims")
            return None
        conditions = {k: v for k, v in pinned.items() if k not in carried(issuer.subject_claims)}
    if kind.pinned_by:
        conditions[kind.pinned_by[0]] = fields[kind.required[0]]
    claims = tuple(sorted((k, v) for k, v in fields.items() if k not in NOT_KIND_FIELDS))
    disabled = _disabled(doc, path, fields, report)
    return Identity(workload, index, issuer, subject, fields.get("audience"), claims,
                    doc.where(path, key=True), disabled, switched_off=disabled,
                    conditions=tuple(sorted(conditions.items())), pinned=tuple(sorted(pinned.items())),
                    window=windows.narrowest(within, _window(doc, path, fields, report, within)),
                    pinned_by=kind.pinned_by and kind.pinned_by[0])


def _check_claims(doc: Document, path: tuple, kind, issuer_name: str, fields: dict, pinned: dict[str, str],
                  report: Report) -> bool:
    """Each pinned claim is one the kind's tokens carry, and not one the identity pins already."""
    ok = True
    for claim in sorted(pinned):
        where, block = doc.where(path + ("claims", claim), key=True), describe(path)
        if claim in fields and claim in kind.fields:
            report.error(where, block, f"{claim!r} is pinned twice: as a field of this identity and as a claim",
                         f"keep {claim} = ... and remove it from claims")
            ok = False
        elif claim in kind.required:
            report.error(where, block, f"{claim!r} is pinned by the subject already",
                         f"set it with {claim} = ... and remove it from claims")
            ok = False
        elif kind.pinned_by and claim == kind.pinned_by[0]:
            report.error(where, block, f"{claim!r} is pinned by {kind.required[0]} already",
                         f"set {kind.required[0]} = ... and remove it from claims")
            ok = False
        elif kind.claims is not None and claim not in kind.claims:
            report.error(where, block, f"{kind.name} tokens carry no claim {claim!r} (issuer {issuer_name!r})",
                         _did_you_mean(claim, kind.claims) or (f"{kind.name} tokens carry: {listed(sorted(kind.claims))}"
                                                               if kind.claims else
                                                               f"remove claims: a {kind.name} identity pins its subject only"))
            ok = False
        elif CLAIM_TYPES.get(claim) == "bool" and pinned[claim] not in BOOLEANS:
            report.error(doc.where(path + ("claims", claim)), block,
                         f"{claim!r} is a boolean in the tokens, never {pinned[claim]!r}", 'pin "true" or "false"')
            ok = False
    return ok
