"""AWS time windows: each identity's window in its role's trust policy and the grant's (within its
workload's) on the role's permissions, read back from the emitted Terraform by an evaluator independent
of wiam (trust_eval) at probe times around the windows' bounds; simulate agrees and names the window."""

import json
from dataclasses import replace
from datetime import timedelta

from hypothesis import assume, given, settings, strategies as st

from support.specs import AT, compiled_files, spec_errors, write_spec
from test_fuzz import as_terraform_reads
from trust_eval import aws_role_may, aws_roles_accepting
from wiam import registry, windows
from wiam.compile import load_model
from wiam.diagnostics import SpecError
from wiam.drift import compare
from wiam.model import Window
from wiam.planning import plan_model
from wiam.providers.aws import live
from wiam.providers.aws.plan import INLINE_POLICY_MAX

GITHUB = "https://token.actions.githubusercontent.com"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
OBJECT = "arn:aws:s3:::b/x"
SECOND = timedelta(seconds=1)

hours = st.none() | st.integers(-4, 4)
window = st.tuples(hours, hours).filter(lambda w: None in w or w[0] < w[1])


def _window(bounds) -> Window:
    start, end = (None if h is None else AT + timedelta(hours=h) for h in bounds)
    return Window(start, end)


def _fields(w: Window) -> dict:
    return windows.as_json(w)


def _sub(i: int) -> str:
    return f"repo:acme/app:ref:refs/heads/b{i}"


def _token(i: int) -> dict:
    return {"iss": GITHUB, "aud": "sts.amazonaws.com", "sub": _sub(i)}


def _spec(workload: Window, identities: list[Window], grant: Window, grant_settings: dict) -> dict:
    blocks = [{"issuer": "github", "repository": "acme/app", "ref": f"refs/heads/b{i}", **_fields(w)}
              for i, w in enumerate(identities)]
    body = {"identity": blocks, "grant": {"aws": {"prod": {**grant_settings, **_fields(grant)}}}, **_fields(workload)}
    return {"issuer": {"github": {"kind": "github_actions"}},
            "target": {"aws": {"prod": {"account_id": "123456789012", "trust_policy_quota": 4096}}},
            "workload": {"app": body}}


def _compiled(tmp_path_factory, spec: dict):
    """(module as Terraform reads it, model at AT), or None if the generated windows never meet."""
    folder = write_spec(tmp_path_factory.mktemp("spec"), {"main.wiam.json": json.dumps(spec)})
    try:
        return as_terraform_reads(compiled_files(folder, at=AT)["main.tf.json"]), load_model(str(folder), at=AT)
    except SpecError:
        return None


def _probes(*ws: Window) -> list:
    """AT and each bound, a second either side."""
    bounds = {m for w in ws for m in (w.not_before, w.expires) if m is not None} | {AT}
    return sorted({m + d for m in bounds for d in (-SECOND, timedelta(0), SECOND)})


def _acts(module: dict, i: int, at) -> bool:
    """Whether identity i's token, presented at `at`, becomes the role and may read the object then."""
    return ("prod__app" in aws_roles_accepting(module, _token(i), at)
            and aws_role_may(module, "prod__app", "s3:GetObject", OBJECT, at))


def _unique_keys(pairs):
    keys = [k.lower() for k, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys {keys}"  # IAM condition keys ignore case
    return dict(pairs)


grant_kinds = st.sampled_from([
    {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]},
    {"managed_policies": [READ_ONLY]},
    {"actions": ["s3:PutObject"], "resources": ["arn:aws:s3:::b/*"], "managed_policies": [READ_ONLY]},
])


@settings(max_examples=25, deadline=None)
@given(window, st.lists(window, min_size=1, max_size=3), window, grant_kinds)
def test_emitted_policies_admit_exactly_inside_the_path_window(tmp_path_factory, workload, identities, grant, kind):
    workload, grant = _window(workload), _window(grant)
    identities = [_window(w) for w in identities]
    compiled = _compiled(tmp_path_factory, _spec(workload, identities, grant, kind))
    assume(compiled is not None)
    module, model = compiled
    plan = plan_model(model)[("aws", "prod")]
    for i, own in enumerate(identities):
        path = windows.narrowest(workload, own, grant)
        for at in _probes(workload, own, grant):
            expected = windows.holds(path, at) and not windows.closed(path, AT)  # closed at AT: compiled away
            assert _acts(module, i, at) == expected, (i, windows.text(at))
            if len(identities) == 1 and not windows.holds(path, at):  # a session begun earlier cannot act now
                assert not aws_role_may(module, "prod__app", "s3:GetObject", OBJECT, at) or "prod__app" not in \
                    module["resource"].get("aws_iam_role", {})
            verdict, = registry.get("aws").simulate(replace(plan, at=at), _token(i)) if plan.roles else [None]
            assert (verdict is not None and verdict.accepted) == expected
            if verdict is not None and not expected and not windows.closed(path, AT):
                assert any(r.startswith("time: ") for r in verdict.reasons), verdict.reasons


def test_the_token_is_refused_before_not_before_and_at_expires(tmp_path_factory):
    identity = Window(AT + timedelta(hours=1), AT + timedelta(hours=3))
    module, model = _compiled(tmp_path_factory, _spec(Window(), [identity], Window(), {
        "actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}))
    start, end = identity.not_before, identity.expires
    assert [_acts(module, 0, t) for t in (start - SECOND, start, end - SECOND, end)] == [False, True, True, False]
    plan = plan_model(model)[("aws", "prod")]
    verdict, = registry.get("aws").simulate(replace(plan, at=start - SECOND), _token(0))
    said = f"from {windows.text(start)} until {windows.text(end)}; the token is presented at {windows.text(start - SECOND)}"
    assert verdict.reasons == (f"time: the role admits this subject {said}", f"time: the role's permissions hold {said}")
    statement, = json.loads(module["resource"]["aws_iam_role"]["prod__app"]["assume_role_policy"])["Statement"]
    assert statement["Condition"]["DateGreaterThanEquals"] == {"aws:CurrentTime": windows.text(start)}
    assert statement["Condition"]["DateLessThan"] == {"aws:CurrentTime": windows.text(end)}


def test_identities_with_different_windows_get_their_own_statements(tmp_path_factory):
    later = Window(AT + timedelta(hours=2), None)
    module, _ = _compiled(tmp_path_factory, _spec(Window(), [Window(), later, Window()], Window(), {
        "actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}))
    statements = json.loads(module["resource"]["aws_iam_role"]["prod__app"]["assume_role_policy"])["Statement"]
    subjects = [s["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"] for s in statements]
    assert subjects == [[_sub(0), _sub(2)], _sub(1)]
    assert [set(s["Condition"]) for s in statements] == [{"StringEquals"}, {"StringEquals", "DateGreaterThanEquals"}]


user_bound = st.tuples(st.sampled_from(["DateLessThan", "DateGreaterThanEquals"]),
                       st.sampled_from(["aws:CurrentTime", "aws:currenttime"]), st.integers(-4, 4),
                       st.sampled_from(["text", "epoch", "list"]))


def _user_value(offset: int, form: str):
    moment = AT + timedelta(hours=offset)
    if form == "epoch":
        return int(moment.timestamp())
    return windows.text(moment) if form == "text" else [windows.text(moment), windows.text(moment - timedelta(hours=9))]


def _user_window(bounds) -> Window:
    """The window the user's conditions alone hold in (a list's values: any may hold)."""
    start = [AT + timedelta(hours=o - (9 if form == "list" else 0)) for op, _, o, form in bounds if op != "DateLessThan"]
    end = [AT + timedelta(hours=o) for op, _, o, form in bounds if op == "DateLessThan"]
    return windows.narrowest(*(Window(s, None) for s in start), *(Window(None, e) for e in end))


@settings(max_examples=25, deadline=None)
@given(window, st.lists(user_bound, max_size=2, unique_by=lambda b: b[0]))
def test_user_time_conditions_merge_with_the_grant_window(tmp_path_factory, grant, bounds):
    grant = _window(grant)
    conditions = {op: {key: _user_value(offset, form)} for op, key, offset, form in bounds}
    kind = {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"], **({"conditions": conditions} if conditions else {})}
    compiled = _compiled(tmp_path_factory, _spec(Window(), [Window()], grant, kind))
    assume(compiled is not None)
    module, _ = compiled
    policy = module["resource"]["aws_iam_role_policy"]["prod__app"]["policy"] if not windows.closed(grant, AT) else None
    if policy is not None:
        statement, = json.loads(policy, object_pairs_hook=_unique_keys)["Statement"]
        for op in set(statement.get("Condition", {})) & {op for op, *_ in bounds}:
            assert len(statement["Condition"][op]) == 1  # one aws:CurrentTime key per operator
    both = windows.narrowest(grant, _user_window(bounds))
    for at in _probes(grant, _user_window(bounds)):
        expected = windows.holds(both, at) and not windows.closed(grant, AT)
        assert _acts(module, 0, at) == expected, windows.text(at)


def test_a_user_time_bound_iam_cannot_read_is_an_error(tmp_path):
    spec = _spec(Window(), [Window()], Window(None, AT + timedelta(hours=1)), {
        "actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"],
        "conditions": {"DateLessThan": {"aws:CurrentTime": "tomorrow"}}})
    error, = spec_errors(write_spec(tmp_path, {"main.wiam.json": json.dumps(spec, indent=1)}), at=AT)
    assert "DateLessThan on aws:CurrentTime, whose value IAM cannot read as a date" in error.message
    assert error.pos.line > 1 and "2026-12-02T02:00:00Z" in error.hint and error.block.startswith("grant")


def test_managed_policies_are_bounded_by_denies_outside_the_window(tmp_path_factory):
    grant = Window(AT + timedelta(hours=1), AT + timedelta(hours=2))
    module, _ = _compiled(tmp_path_factory, _spec(Window(), [Window()], grant, {"managed_policies": [READ_ONLY]}))
    statements = json.loads(module["resource"]["aws_iam_role_policy"]["prod__app"]["policy"])["Statement"]
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in statements] == [("Deny", "*", "*")] * 2
    outside = [grant.not_before - SECOND, grant.expires]
    assert not any(aws_role_may(module, "prod__app", "ec2:DescribeInstances", "*", t) for t in outside)
    assert aws_role_may(module, "prod__app", "ec2:DescribeInstances", "*", grant.not_before)


def test_size_limits_count_the_window_conditions(tmp_path):
    # Eight identities share one trust statement; with eight windows they need eight.
    spread = [Window(AT + timedelta(hours=h), None) for h in range(8)]
    grant = {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}
    quota = lambda spec: spec | {"target": {"aws": {"prod": {"account_id": "123456789012"}}}}  # noqa: E731
    plain = spec_errors(write_spec(tmp_path / "plain", {"main.wiam.json": json.dumps(
        quota(_spec(Window(), [Window()] * 8, Window(), grant)))}), at=AT)
    windowed = spec_errors(write_spec(tmp_path / "windowed", {"main.wiam.json": json.dumps(
        quota(_spec(Window(), spread, Window(), grant)))}), at=AT)
    assert plain == [] and ["the trust policy for target" in e.message for e in windowed] == [True]
    # Resources that fill the inline policy to within a few characters of IAM's limit without a window.
    resources = [f"arn:aws:s3:::bucket-{n:05}/*" for n in range((INLINE_POLICY_MAX - 115) // 30)]  # 30 with quotes, comma
    grant = {"actions": ["s3:GetObject"], "resources": resources}
    fits = spec_errors(write_spec(tmp_path / "fits", {"main.wiam.json": json.dumps(
        _spec(Window(), [Window()], Window(), grant))}), at=AT)
    over = spec_errors(write_spec(tmp_path / "over", {"main.wiam.json": json.dumps(
        _spec(Window(), [Window()], Window(AT, AT + timedelta(hours=1)), grant))}), at=AT)
    assert fits == [] and ["the inline policy is" in e.message for e in over] == [True]


def test_a_live_trust_policy_without_the_window_is_drift(tmp_path):
    grant = {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}
    identity = Window(None, AT + timedelta(hours=1))

    def expected(identities):
        folder = write_spec(tmp_path / str(len(list(tmp_path.iterdir()))), {"main.wiam.json": json.dumps(
            _spec(Window(), identities, Window(), grant))})
        return live.expected(plan_model(load_model(str(folder), at=AT))[("aws", "prod")])

    windowed, applied_without = expected([identity]), expected([Window()])
    assert not compare("aws", "prod", windowed, windowed).drifted
    result = compare("aws", "prod", windowed, applied_without)
    (changed, _, found), = result.changed
    fields = {d["field"]: d for d in found}
    assert changed.kind == "role" and set(fields) == {"trust.Statement", "inline_policies.wiam-grant.Statement"}
    removed, = fields["trust.Statement"]["removed"]
    assert removed["Condition"]["DateLessThan"] == {"aws:currenttime": [windows.text(identity.expires)]}
