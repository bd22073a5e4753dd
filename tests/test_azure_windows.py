"""Time windows on Azure: federated credentials carry none, so a credential exists only while its
identity's window holds at --at; role assignments are PIM schedules equal to the window with
pim = true, else plain ones present only while it holds; what Azure cannot end itself is in the
plan's `unenforced` and one note. Windows are generated around one fixed moment, never the clock."""

import json
import re
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import assume, given, settings, strategies as st

from fake_azure import State, apply, fake_azure
from support.cli import run_wiam
from support.specs import spec_errors, write_spec
from wiam import registry
from wiam.compile import compile_model, load_model
from wiam.diagnostics import Report
from wiam.drift import drift
from wiam.graph import build_graph
from wiam.planning import plan_model
from wiam.providers.azure import live
from wiam.simulate import simulate
from wiam.terraform import Module

T0 = datetime(2026, 12, 1, 21, 0, tzinfo=timezone.utc)
SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
READER = f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"
ISSUER = "https://issuer.example"
PIM = "azurerm_pim_active_role_assignment"
PLAIN = "azurerm_role_assignment"
CREDENTIAL = "azurerm_federated_identity_credential"


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _target(pim: bool) -> dict:
    target = {"tenant_id": "00000000-0000-0000-0000-000000000000", "subscription_id": SUBSCRIPTION,
              "resource_group": "ids", "location": "eastus"}
    return {**target, "pim": True} if pim else target


def _spec(pim: bool, grant: dict, workload: dict | None = None, identities: list[dict] | None = None) -> dict:
    identities = identities if identities is not None else [{"subject": "main"}]
    return {"issuer": {"ci": {"kind": "generic_oidc", "url": ISSUER}},
            "target": {"azure": {"prod": _target(pim)}},
            "workload": {"app": {**(workload or {}), "identity": [{"issuer": "ci", **i} for i in identities],
                                 "grant": {"azure": {"prod": {"roles": ["Reader", "Storage Blob Data Reader"],
                                                              **grant}}}}}}


def _load(folder: Path, spec: dict, at: datetime):
    write_spec(folder, {"spec.wiam.json": json.dumps(spec)})
    return load_model(str(folder), at=at)


def _compiled(spec: dict, at: datetime):
    """The model, its plan, the notes planning made and the emitted Terraform resources."""
    with tempfile.TemporaryDirectory() as folder:
        model = _load(Path(folder), spec, at)
    report = Report()
    plans = plan_model(model, report)
    module = Module()
    plan = plans[("azure", "prod")]
    registry.get("azure").emit(plan, module)
    return model, plan, report.notes, json.loads(json.dumps(module.to_json().get("resource", {})))


# A window's bounds in whole hours around T0, each optional; the probe in minutes around it.
bounds = st.tuples(st.none() | st.integers(-6, 6), st.none() | st.integers(1, 6))


def _window(bound) -> dict:
    start, length = bound
    found = {}
    if start is not None:
        found["not_before"] = _text(T0 + timedelta(hours=start))
    if length is not None:
        found["expires"] = _text(T0 + timedelta(hours=(start or 0) + length))
    return found


def _within(*windows: dict) -> tuple[datetime | None, datetime | None]:
    """The narrowest window, computed here from the spec's text (independently of wiam.windows)."""
    starts = [datetime.strptime(w["not_before"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
              for w in windows if "not_before" in w]
    ends = [datetime.strptime(w["expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            for w in windows if "expires" in w]
    return max(starts, default=None), min(ends, default=None)


def _holds(window, at) -> bool:
    start, end = window
    return (start is None or start <= at) and (end is None or at < end)


def _left_to_enforce(window, at) -> bool:
    """Whether a window still has to begin or end after `at`: what a cloud without it must leave to re-applies."""
    start, end = window
    return (end is not None and at < end) or (end is None and start is not None and at < start)


@settings(max_examples=60, deadline=None)
@given(pim=st.booleans(), workload=bounds, grant=bounds, identity=bounds, probe=st.integers(-8 * 60, 14 * 60))
def test_assignments_and_credentials_follow_the_path_window_at_the_moment(pim, workload, grant, identity, probe):
    at = T0 + timedelta(minutes=probe)
    own = {"workload": _window(workload), "grant": _window(grant), "identity": _window(identity)}
    path, trust = _within(own["workload"], own["grant"]), _within(own["workload"], own["identity"])
    for start, end in (path, trust):
        assume(start is None or end is None or start < end)  # a window that never meets its workload's is an error
    reason = {"reason": "restore after INC-1"} if own["grant"] else {}
    spec = _spec(pim, {**own["grant"], **reason}, {**own["workload"], **({"reason": "jit"} if own["workload"] else {})},
                 [{"subject": "main", **own["identity"], **({"reason": "jit"} if own["identity"] else {})}])
    model, plan, notes, resources = _compiled(spec, at)

    closed = path[1] is not None and path[1] <= at
    bounded = path != (None, None)
    if closed:  # the core leaves a closed grant out: nothing is planned for the workload
        assert not resources.get(PIM) and not resources.get(PLAIN) and "app" not in plan.unenforced
        return
    if pim and bounded:
        schedules = list(resources[PIM].values())
        assert len(schedules) == 2 and not resources.get(PLAIN)
        for body in schedules:
            expected = {}
            if path[0] is not None:
                expected["start_date_time"] = _text(path[0])
            if path[1] is not None:
                expected["expiration"] = {"end_date_time": _text(path[1])}
            assert body["schedule"] == expected
            assert body["justification"] == ("restore after INC-1" if reason else "jit")
    else:
        assert not resources.get(PIM)
        assert len(resources.get(PLAIN, {})) == (2 if _holds(path, at) else 0)
    assert len(resources.get(CREDENTIAL, {})) == (1 if _holds(trust, at) else 0)

    expected = ["trust window"] * _left_to_enforce(trust, at) + ["grant window"] * (not pim and _left_to_enforce(path, at))
    assert plan.unenforced.get("app", []) == expected
    mine = [n for n in notes if n.startswith("workload 'app' on azure target 'prod': ")]
    assert len(mine) == (1 if expected else 0)
    if expected:
        assert "holds only as long as the spec is compiled and applied again" in mine[0]


@settings(max_examples=30, deadline=None)
@given(start=st.integers(-6, 6), length=st.integers(1, 6), probes=st.lists(st.integers(-8 * 60, 14 * 60), min_size=2,
                                                                          max_size=2))
def test_a_pim_schedule_is_the_same_bytes_at_every_moment_it_is_planned(start, length, probes):
    window = {"not_before": _text(T0 + timedelta(hours=start)), "expires": _text(T0 + timedelta(hours=start + length))}
    spec = _spec(True, {**window, "reason": "jit"})
    end = T0 + timedelta(hours=start + length)
    moments = [T0 + timedelta(minutes=p) for p in probes]
    assume(all(m < end for m in moments))
    outputs = set()
    with tempfile.TemporaryDirectory() as folder:
        for moment in moments:
            outputs.add(compile_model(_load(Path(folder), spec, moment))["main.tf.json"])
    assert len(outputs) == 1


def test_justification_is_escaped_for_terraform_and_the_ticket_kept():
    grant = {"expires": _text(T0 + timedelta(hours=2)), "reason": "restore ${var.x} %{ if 1 }", "ticket": "JIRA:OPS-12 #2"}
    _, _, _, resources = _compiled(_spec(True, grant), T0)
    for body in resources[PIM].values():
        assert body["justification"] == "restore $${var.x} %%{ if 1 }"
        assert body["ticket"] == {"number": "JIRA:OPS-12 #2", "system": "wiam"}
        assert body["role_definition_id"].startswith(f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/")
        assert "name" not in body and "description" not in body and "principal_type" not in body


def test_a_workload_reason_and_ticket_fill_in_for_the_grant():
    workload = {"expires": _text(T0 + timedelta(hours=2)), "reason": "incident", "ticket": "INC-7"}
    _, _, _, resources = _compiled(_spec(True, {}, workload), T0)
    assert {(b["justification"], b["ticket"]["number"]) for b in resources[PIM].values()} == {("incident", "INC-7")}


def test_a_grant_without_a_window_stays_a_plain_assignment_under_pim():
    _, plan, notes, resources = _compiled(_spec(True, {}), T0)
    assert len(resources[PLAIN]) == 2 and PIM not in resources and plan.unenforced == {} and notes == []


def test_a_custom_role_name_under_pim_is_an_error_and_its_definition_id_is_not(tmp_path):
    grant = {"roles": ["Orders Restorer"], "custom": ["Orders Restorer"], "expires": _text(T0 + timedelta(hours=1)),
             "reason": "jit"}
    folder = write_spec(tmp_path / "a", {"spec.wiam.json": json.dumps(_spec(True, grant), indent=1)})
    (error,) = spec_errors(folder, at=T0)
    assert error.pos.line > 1 and "definition ID" in error.message and "roleDefinitions/<GUID>" in error.hint
    grant["roles"] = grant["custom"] = [READER.replace("acdd72a7-3385-48ef-bd42-f606fba81ae7",
                                                       "0a0a0a0a-1111-2222-3333-444444444444")]
    assert spec_errors(write_spec(tmp_path / "b", {"spec.wiam.json": json.dumps(_spec(True, grant))}), at=T0) == []
    assert spec_errors(write_spec(tmp_path / "c", {"spec.wiam.json": json.dumps(_spec(False, {
        **grant, "roles": ["Orders Restorer"], "custom": ["Orders Restorer"]}))}), at=T0) == []


@pytest.mark.parametrize("minutes, errors", [(4, 1), (5, 0)])
def test_pim_takes_no_window_shorter_than_five_minutes(tmp_path, minutes, errors):
    grant = {"not_before": _text(T0), "expires": _text(T0 + timedelta(minutes=minutes)), "reason": "jit"}
    found = spec_errors(write_spec(tmp_path, {"spec.wiam.json": json.dumps(_spec(True, grant))}), at=T0)
    assert len(found) == errors and all("five minutes" in e.message for e in found)


def test_the_twenty_credential_limit_counts_identities_whose_window_is_to_come(tmp_path):
    later = {"not_before": _text(T0 + timedelta(hours=1)), "reason": "later"}
    identities = [{"subject": f"s{i}", **(later if i % 2 else {})} for i in range(21)]
    model, plan, _, resources = _compiled(_spec(False, {}, identities=identities[:20]), T0)
    assert len(resources[CREDENTIAL]) == 10 and len(plan.identities[0].pending) == 10
    folder = write_spec(tmp_path, {"spec.wiam.json": json.dumps(_spec(False, {}, identities=identities))})
    assert [e.message for e in spec_errors(folder, at=T0)] == [
        "21 subjects; an Azure managed identity takes at most 20 federated credentials"]


def test_simulate_refuses_a_pending_identity_naming_its_window_and_accepts_an_open_one():
    identities = [{"subject": "later", "not_before": _text(T0 + timedelta(hours=1)), "reason": "jit"},
                  {"subject": "now", "expires": _text(T0 + timedelta(hours=1)), "reason": "jit"}]
    model, plan, _, _ = _compiled(_spec(False, {}, identities=identities), T0)
    plans = {("azure", "prod"): plan}
    claims = {"iss": ISSUER, "aud": "api://AzureADTokenExchange"}
    (refused,) = simulate(model, {**claims, "sub": "later"}, plans)
    assert not refused.accepted and refused.reasons == (
        f"window: the identity's window opens at {_text(T0 + timedelta(hours=1))}; its credential is written by the "
        f"first compile applied from then on",)
    (accepted,) = simulate(model, {**claims, "sub": "now"}, plans)
    assert accepted.accepted


def test_the_graph_shows_the_schedule_and_what_azure_cannot_enforce():
    window = {"not_before": _text(T0 - timedelta(hours=1)), "expires": _text(T0 + timedelta(hours=1))}
    for pim, schedule, unenforced in ((True, window, ["trust window"]), (False, None, ["trust window", "grant window"])):
        model, plan, _, _ = _compiled(_spec(pim, {}, {**window, "reason": "jit"}), T0)
        grant = build_graph(model, {("azure", "prod"): plan}).graph.nodes["grant:azure:prod:app"]
        assert grant.get("schedule") == schedule and grant["unenforced"] == unenforced


@pytest.fixture
def applied(tmp_path):
    """A PIM spec applied to a fake ARM, which serves the schedules and the role assignments they hold."""
    grant = {"not_before": _text(T0 - timedelta(hours=1)), "expires": _text(T0 + timedelta(hours=3)), "reason": "jit"}
    model = _load(tmp_path, _spec(True, grant), T0)
    state = State()
    plan = plan_model(model)[("azure", "prod")]
    registry.get("azure").emit(plan, module := Module())
    apply(state, json.loads(json.dumps(module.to_json()["resource"])), SUBSCRIPTION)
    with fake_azure(state) as endpoint:
        yield model, state, live.connect(endpoint)


def test_an_applied_pim_schedule_is_in_sync_and_its_role_assignment_is_no_extra(applied):
    model, state, connection = applied
    assert len(state.subscriptions[SUBSCRIPTION]["assignments"]) == 2  # Azure's, while the schedules hold
    (result,) = drift(model, {"azure": connection})
    assert result.unreadable is None and not result.drifted and result.unchecked == 0


def test_a_schedule_ended_early_or_removed_is_drift(applied):
    model, state, connection = applied
    schedules = state.subscriptions[SUBSCRIPTION]["schedules"]
    schedules[0]["properties"]["endDateTime"] = _text(T0 + timedelta(hours=30))
    removed = schedules.pop()
    (result,) = drift(model, {"azure": connection})
    (changed, _, found), = result.changed
    assert changed.kind == "pim_assignment" and found == [
        {"field": "end", "expected": _text(T0 + timedelta(hours=3)), "actual": _text(T0 + timedelta(hours=30))}]
    (missing,) = result.missing
    assert missing.kind == "pim_assignment" and missing.state["role"] in removed["properties"]["roleDefinitionId"]
    # the role assignment the removed schedule held now stands alone: a plain assignment wiam did not plan
    assert [o.kind for o in result.extra] == ["role_assignment"]


def test_compile_says_what_azure_cannot_enforce_and_refuses_a_custom_role_name_under_pim(tmp_path):
    window = {"expires": _text(T0 + timedelta(hours=1)), "reason": "jit"}
    good = write_spec(tmp_path / "good", {"spec.wiam.json": json.dumps(_spec(False, window))})
    done = run_wiam("compile", good, "--out", tmp_path / "out", "--at", _text(T0))
    assert done.returncode == 0, done.stderr
    assert "workload 'app' on azure target 'prod': Azure cannot enforce its time window" in done.stdout + done.stderr
    bad = write_spec(tmp_path / "bad", {"spec.wiam.json": json.dumps(
        _spec(True, {**window, "roles": ["Orders Restorer"], "custom": ["Orders Restorer"]}), indent=1)})
    failed = run_wiam("compile", bad, "--out", tmp_path / "out2", "--at", _text(T0))
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert re.search(re.escape(str(bad / "spec.wiam.json")) + r':\d+:\d+: error in grant "azure" "prod" in workload "app"',
                     failed.stderr)
    assert "fix: write the custom role as its role definition ID" in failed.stderr
    assert not (tmp_path / "out2").exists()
