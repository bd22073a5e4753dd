"""Time windows on GCP: the emitted IAM conditions (evaluated in a real CEL engine with request.time)
grant exactly while the path's window holds, where no binding can carry one the compile says so,
GCP's limits on conditional bindings are counted, and simulate agrees with the Terraform."""

import json
from datetime import datetime, timedelta, timezone

from hypothesis import assume, given, settings, strategies as st

from fake_gcp import State, apply, fake_gcp, fake_iam_grpc
from support.paths import ROOT
from support.specs import compiled_files, resources, spec_errors, write_spec
from test_fuzz import as_terraform_reads
from trust_eval import gcp_principals_accepting, gcp_roles_usable, iam_condition_holds
from wiam import registry, windows
from wiam.compile import load_model
from wiam.diagnostics import Report
from wiam.drift import drift
from wiam.model import Window
from wiam.planning import plan_model
from wiam.providers.gcp import live
from wiam.providers.gcp.plan import (CONDITIONAL_BINDINGS_PER_POLICY, CONDITIONS_PER_ROLE_AND_MEMBER,
                                     RESOURCE_KINDS, window_condition)
from wiam.simulate import simulate
from wiam.terraform import Module

ISSUER = "https://idp.example.com"
AT = datetime(2026, 12, 1, 21, 0, tzinfo=timezone.utc)  # the compile's moment
TOKEN = {"iss": ISSUER, "aud": "wiam", "sub": "svc"}
RESOURCES = {  # grant settings on each resource kind whose bindings take a condition
    "project": {"roles": ["roles/storage.objectViewer"]},
    "bucket": {"roles": ["roles/storage.objectViewer"], "resource": "projects/_/buckets/acme-artifacts"},
    "secret": {"roles": ["roles/secretmanager.secretAccessor"], "resource": "projects/acme-prod/secrets/db"},
}


def _document(workloads: dict[str, dict]) -> dict:
    return {"issuer": {"idp": {"kind": "generic_oidc", "url": ISSUER, "audience": "wiam"}},
            "target": {"gcp": {"prod": {"project_id": "acme-prod", "project_number": "123456789012"}}},
            "workload": workloads}


def _workload(grant: dict, identities=None, **fields) -> dict:
    return {**fields, "identity": identities or [{"issuer": "idp", "subject": "svc"}], "grant": {"gcp": {"prod": grant}}}


def _folder(tmp_path, workloads: dict[str, dict]):
    return write_spec(tmp_path, {"main.wiam.json": json.dumps(_document(workloads))})


def _fields(window: Window) -> dict:
    return windows.as_json(window)


# A window's bound: None (unbounded) or seconds from AT, before it (closed or open) and after (to come).
BOUNDS = st.one_of(st.none(), st.integers(-7200, 7200))


@st.composite
def _windows(draw):
    start, length = draw(BOUNDS), draw(st.one_of(st.none(), st.integers(1, 7200)))
    not_before = AT + timedelta(seconds=start) if start is not None else None
    expires = ((not_before or AT) + timedelta(seconds=length)) if length is not None else None
    return Window(not_before, expires)


def _edges(*found: Window) -> list[datetime]:
    """Probe times: each bound, a second either side, and the compile's moment (none before it)."""
    moments = {AT}
    for window in found:
        for bound in (window.not_before, window.expires):
            if bound is not None:
                moments |= {bound - timedelta(seconds=1), bound, bound + timedelta(seconds=1)}
    return sorted(m for m in moments if m >= AT)


@given(workload=_windows(), identity=_windows(), grant=_windows(), kind=st.sampled_from(sorted(RESOURCES)),
       mode=st.sampled_from(["service_account", "direct"]))
@settings(max_examples=30, deadline=None)
def test_the_terraform_grants_exactly_while_the_path_window_holds_and_simulate_agrees(
        tmp_path_factory, workload, identity, grant, kind, mode):
    path = windows.narrowest(workload, identity, grant)
    assume(not windows.empty(path))
    spec = _workload({**RESOURCES[kind], "mode": mode, **_fields(grant)},
                     [{"issuer": "idp", "subject": "svc", **_fields(identity)}], **_fields(workload))
    folder = _folder(tmp_path_factory.mktemp("w"), {"w": spec})
    assert spec_errors(folder, at=AT) == []
    module = as_terraform_reads(compiled_files(folder, at=AT)["main.tf.json"])
    for moment in _edges(workload, identity, grant):
        assert bool(gcp_roles_usable(module, TOKEN, moment)) == windows.holds(path, moment), moment
        accepted = [v for v in simulate(load_model(str(folder), at=moment), TOKEN) if v.accepted]
        assert bool(accepted) == windows.holds(path, moment), moment


def _conditions(module: dict) -> list[dict]:
    return [b["condition"] for kind, bindings in module.get("resource", {}).items() if kind.endswith("_iam_member")
            for b in bindings.values() if "condition" in b]


def test_no_window_no_condition_and_a_window_on_every_binding_of_its_path(tmp_path):
    plain = compiled_files(_folder(tmp_path / "a", {"w": _workload(RESOURCES["bucket"])}), at=AT)["main.tf.json"]
    assert _conditions(plain) == []
    spec = _workload({**RESOURCES["bucket"], "expires": "2026-12-02T02:00:00Z"}, expires="2026-12-02T05:00:00Z")
    module = compiled_files(_folder(tmp_path / "b", {"w": spec}), at=AT)["main.tf.json"]
    (trust,) = resources(module, "google_service_account_iam_member").values()
    (role,) = resources(module, "google_storage_bucket_iam_member").values()
    assert trust["condition"]["expression"] == 'request.time < timestamp("2026-12-02T05:00:00Z")'
    assert role["condition"]["expression"] == 'request.time < timestamp("2026-12-02T02:00:00Z")'


@given(st.lists(_windows().filter(bool), min_size=2, max_size=6, unique=True))
@settings(max_examples=40, deadline=None)
def test_conditions_are_short_hold_exactly_in_their_window_and_distinct_windows_have_distinct_titles(found):
    conditions = [window_condition(w) for w in found]
    assert len({c.title for c in conditions}) == len({c.expression for c in conditions}) == len(found)
    for window, condition in zip(found, conditions):
        assert len(condition.title) <= 57 and len(condition.description) <= 100
        for moment in _edges(window) + [AT - timedelta(days=1)]:
            assert iam_condition_holds(condition.expression, moment) == windows.holds(window, moment)


def _errors(folder):
    return spec_errors(folder, at=AT)


def test_a_window_no_binding_can_carry_is_an_error_with_its_place_and_a_fix(tmp_path):
    cases = {
        "topic": {"roles": ["roles/pubsub.publisher"], "resource": "projects/acme-prod/topics/deploys",
                  "expires": "2026-12-02T02:00:00Z"},
        "key": {"roles": ["roles/cloudkms.signer"], "expires": "2026-12-02T02:00:00Z",
                "resource": "projects/acme-prod/locations/global/keyRings/ci/cryptoKeys/signing"},
        "basic": {"roles": ["roles/viewer"], "not_before": "2026-12-02T00:00:00Z"},
        "direct": {"roles": ["roles/artifactregistry.reader"], "mode": "direct",
                   "resource": "projects/acme-prod/locations/europe-west1/repositories/images"},
    }
    for name, grant in cases.items():
        extra = {"expires": "2026-12-02T02:00:00Z"} if name == "direct" else {}
        (error,) = _errors(_folder(tmp_path / name, {"w": _workload(grant, **extra)}))
        assert error.pos.line > 0 and "cannot be enforced" in error.message and error.hint, (name, error)
        assert ("basic roles" in error.message) == (name == "basic")
        assert ("not_before" in error.hint) == (name != "direct")


def test_a_workload_window_on_a_topic_in_service_account_mode_is_held_by_trust_and_said(tmp_path):
    grant = {"roles": ["roles/pubsub.publisher"], "resource": "projects/acme-prod/topics/deploys"}
    folder = _folder(tmp_path, {"w": _workload(grant, expires="2026-12-02T02:00:00Z")})
    assert _errors(folder) == []
    module = as_terraform_reads(compiled_files(folder, at=AT)["main.tf.json"])
    assert "condition" not in next(iter(resources(module, "google_pubsub_topic_iam_member").values()))
    assert gcp_principals_accepting(module, TOKEN, windows.parse("2026-12-02T01:59:59Z")) == {"prod__w"}
    assert gcp_principals_accepting(module, TOKEN, windows.parse("2026-12-02T02:00:00Z")) == set()
    report = Report()
    plan = plan_model(load_model(str(folder), at=AT), report)[("gcp", "prod")]
    assert list(plan.unenforced) == ["w"]
    assert any(n.startswith("workload 'w' on gcp target 'prod': ") and "1 hour" in n for n in report.notes)


def test_identities_that_are_one_principal_must_share_a_window(tmp_path):
    identities = [{"issuer": "idp", "subject": "svc", "expires": "2026-12-02T02:00:00Z"},
                  {"issuer": "idp", "subject": "svc", "audience": "other"}]
    errors = _errors(_folder(tmp_path, {"w": _workload(RESOURCES["project"], identities)}))
    assert len(errors) == 1 and "cannot tell apart" in errors[0].message and errors[0].pos.line > 0


def _windowed_workloads(count: int, mode: str) -> dict[str, dict]:
    """`count` workloads of one subject, each granted the same role on the project until another minute."""
    return {f"w{index:03}": _workload({**RESOURCES["project"], "mode": mode,
                                       "expires": windows.text(AT + timedelta(minutes=index + 1))})
            for index in range(count)}


def test_conditional_bindings_per_policy_are_counted(tmp_path):
    limit = CONDITIONAL_BINDINGS_PER_POLICY
    assert _errors(_folder(tmp_path / "fits", _windowed_workloads(limit, "service_account"))) == []
    (error,) = _errors(_folder(tmp_path / "over", _windowed_workloads(limit + 1, "service_account")))
    assert f"{limit + 1} conditional role bindings" in error.message and str(limit) in error.message and error.hint


def test_conditions_per_role_and_member_are_counted(tmp_path):
    limit = CONDITIONS_PER_ROLE_AND_MEMBER
    assert _errors(_folder(tmp_path / "fits", _windowed_workloads(limit, "direct"))) == []
    (error,) = _errors(_folder(tmp_path / "over", _windowed_workloads(limit + 1, "direct")))
    assert f"under {limit + 1} conditions" in error.message and error.hint


def test_simulate_names_the_window_that_refuses(tmp_path):
    spec = _workload({**RESOURCES["bucket"], "not_before": "2026-12-01T22:00:00Z"}, expires="2026-12-02T05:00:00Z")
    folder = _folder(tmp_path, {"w": spec})
    (verdict,) = simulate(load_model(str(folder), at=AT), TOKEN)
    assert not verdict.accepted and [r.split(":")[0] for r in verdict.reasons] == ["grant window"]
    assert "2026-12-01T22:00:00Z" in verdict.reasons[0] and windows.text(AT) in verdict.reasons[0]
    (verdict,) = simulate(load_model(str(folder), at=windows.parse("2026-12-01T22:00:00Z")), TOKEN)
    assert verdict.accepted


def test_every_kind_that_takes_a_window_is_documented():
    text = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    section = text[text.index("### Windows on GCP"):]
    section = section[:section.index("\n## ")]
    for kind in RESOURCE_KINDS:
        assert kind.label in section, kind.label


def test_drift_compares_each_bindings_condition(tmp_path):
    """Applied as planned there is no drift (conditional bindings read at policy version 3); a
    window widened in the console is a changed binding, the old and new condition named."""
    spec = _workload({"roles": ["roles/run.developer"], "expires": "2026-12-02T02:00:00Z"},
                     expires="2026-12-02T05:00:00Z")
    model = load_model(str(_folder(tmp_path, {"w": spec})), at=AT)
    state = State()
    for (cloud, _), plan in plan_model(model).items():
        module = Module()
        registry.get(cloud).emit(plan, module)
        apply(state, module.resources, plan.settings.project_id, plan.settings.project_number)
    with fake_gcp(state) as rest, fake_iam_grpc(state) as grpc:
        connection = live.connect(rest=rest, grpc=grpc)
        (result,) = drift(model, {"gcp": connection})
        assert not result.drifted and result.unreadable is None
        project = state.projects["acme-prod"]
        (role,) = [b for b in project["policy"]["bindings"] if b["role"] == "roles/run.developer"]
        role["condition"] = {**role["condition"], "expression": 'request.time < timestamp("2027-01-01T00:00:00Z")'}
        (account,) = project["accounts"].values()
        (trust,) = account["policy"]["bindings"]
        del trust["condition"]  # the window dropped from trust: always
        (result,) = drift(model, {"gcp": connection})
    changed = {(expected.kind, difference["field"]): difference for expected, _, found in result.changed
               for difference in found}
    roles = changed[("project_member", "roles")]
    assert roles["removed"] == ['roles/run.developer when request.time < timestamp("2026-12-02T02:00:00Z")']
    assert roles["added"] == ['roles/run.developer when request.time < timestamp("2027-01-01T00:00:00Z")']
    fields = {field for kind, field in changed if kind == "service_account"}
    assert fields == {"iam_policy.roles/iam.workloadIdentityUser",
                      'iam_policy.roles/iam.workloadIdentityUser when request.time < timestamp("2026-12-02T05:00:00Z")'}
