"""Time windows in the language: validation, narrowing, and what a compile at one moment keeps."""

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from support.cli import run_wiam
from support.paths import ROOT
from support.specs import BASE_HCL, compiled_files, resources, spec_errors, workload_hcl, write_spec
from wiam import windows
from wiam.analysis.jit import expiring_soon
from wiam.compile import load_model
from wiam.model import Window

REFERENCE = ROOT / "examples" / "spec-reference"
T0 = datetime(2026, 12, 1, 20, 0, tzinfo=timezone.utc)


def _at(text: str) -> datetime:
    return windows.parse(text)


def _spec(tmp_path, workload_extra="", grant_extra="", identity_extra=""):
    identity = f'issuer = "github"\n    repository = "acme/app"\n    ref = "refs/heads/main"\n    {identity_extra}'
    grant = f'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]\n    {grant_extra}'
    return write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + workload_hcl(
        identities=[identity], grants=[("aws", "prod", grant)], extra=workload_extra)})


def test_the_contract_example_compiles_its_grant_until_the_window_closes():
    inside = compiled_files(REFERENCE, at=_at("2026-12-01T21:00:00Z"))["main.tf.json"]
    after = compiled_files(REFERENCE, at=_at("2026-12-02T02:00:00Z"))["main.tf.json"]
    assert "prod__orders-db-restore" in resources(inside, "aws_iam_role")
    assert "prod__orders-db-restore" not in resources(after, "aws_iam_role")
    assert "orders-db-restore" not in after.get("output", {})


def test_validity_never_depends_on_the_time(tmp_path):
    folder = _spec(tmp_path, grant_extra='expires = "2026-12-01T21:00:00Z"\n    reason = "x"')
    for at in ("2026-01-01T00:00:00Z", "2026-12-01T21:00:00Z", "2030-01-01T00:00:00Z"):
        assert spec_errors(folder, at=_at(at)) == []


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)),
       st.integers(0, 10**6), st.integers(0, 10**6))
@settings(max_examples=60, deadline=None)
def test_narrowest_is_within_each_window_and_holds_exactly_where_all_do(start, length, probe):
    start = start.replace(microsecond=0, tzinfo=timezone.utc)
    a = Window(start, start + timedelta(seconds=length))
    b = Window(start + timedelta(seconds=length // 3), None)
    both = windows.narrowest(a, b)
    at = start + timedelta(seconds=probe)
    assert windows.holds(both, at) == (windows.holds(a, at) and windows.holds(b, at))
    assert windows.parse(windows.text(at)) == at


def test_a_closed_identity_is_refused_and_a_closed_grant_compiles_to_nothing(tmp_path):
    folder = _spec(tmp_path, identity_extra='expires = "2026-12-01T21:00:00Z"\n    reason = "migration"')
    model = load_model(str(folder), at=_at("2026-12-01T21:00:00Z"))
    (identity,) = model.workloads["app"].identities
    assert identity.disabled and "window closed" in identity.disabled and not identity.active
    folder = _spec(tmp_path, grant_extra='expires = "2026-12-01T21:00:00Z"')
    model = load_model(str(folder), at=_at("2026-12-01T21:00:00Z"))
    assert model.workloads["app"].grants == [] and [g.target for g in model.workloads["app"].closed] == ["prod"]
    assert load_model(str(folder), at=_at("2026-12-01T20:59:59Z")).workloads["app"].grants


def test_an_identity_window_is_narrowed_by_its_workloads(tmp_path):
    folder = _spec(tmp_path, workload_extra='  expires = "2026-12-02T00:00:00Z"\n  reason = "jit"\n',
                   identity_extra='not_before = "2026-12-01T20:00:00Z"\n    expires = "2026-12-03T00:00:00Z"')
    (identity,) = load_model(str(folder), at=T0).workloads["app"].identities
    assert identity.window == Window(_at("2026-12-01T20:00:00Z"), _at("2026-12-02T00:00:00Z"))


def _errors(folder):
    return [(d.pos.line > 0, d.message, d.hint) for d in spec_errors(folder, at=T0)]


def test_bad_windows_are_errors_with_a_place_and_a_fix(tmp_path):
    cases = {
        'expires = "2026-02-30T00:00:00Z"': "no real time",
        'not_before = "2026-12-02T00:00:00Z"\n    expires = "2026-12-01T00:00:00Z"': "not after not_before",
        'expires = "2026-12-01T20:00:00+01:00"': "RFC 3339",
    }
    for index, (extra, expected) in enumerate(cases.items()):
        errors = _errors(_spec(tmp_path / str(index), grant_extra=extra))
        assert len(errors) == 1 and errors[0][0] and errors[0][2], (extra, errors)
        assert expected in errors[0][1] + errors[0][2], (extra, errors)


def test_a_window_outside_its_workloads_never_opens(tmp_path):
    folder = _spec(tmp_path, workload_extra='  expires = "2026-12-02T00:00:00Z"\n  reason = "jit"\n',
                   grant_extra='not_before = "2026-12-03T00:00:00Z"')
    (error,) = _errors(folder)
    assert "never meets" in error[1]


def test_break_glass_needs_expires_and_reason_on_the_workload_or_every_grant(tmp_path):
    assert "break_glass" in _errors(_spec(tmp_path / "a", workload_extra="  break_glass = true\n"))[0][1]
    missing_reason = _spec(tmp_path / "b", workload_extra="  break_glass = true\n",
                           grant_extra='expires = "2026-12-02T00:00:00Z"')
    assert "has no reason" in _errors(missing_reason)[0][1]
    assert _errors(_spec(tmp_path / "c", workload_extra=('  break_glass = true\n  expires = "2026-12-02T00:00:00Z"\n'
                                                         '  reason = "INC-1"\n'))) == []
    assert _errors(_spec(tmp_path / "d", workload_extra="  break_glass = true\n",
                         grant_extra='expires = "2026-12-02T00:00:00Z"\n    reason = "INC-1"')) == []


def test_reason_needs_something_to_explain(tmp_path):
    (error,) = _errors(_spec(tmp_path, workload_extra='  reason = "why"\n'))
    assert "reason applies to" in error[1]


def test_at_is_a_utc_time_or_a_usage_error(tmp_path):
    result = run_wiam("compile", REFERENCE, "--out", tmp_path / "out", "--at", "tomorrow")
    assert result.returncode == 2 and "--at" in result.stderr and "Traceback" not in result.stderr
    result = run_wiam("compile", REFERENCE, "--out", tmp_path / "out", "--at", "2026-12-02T03:00:00Z")
    assert result.returncode == 0 and "its window closed at 2026-12-02T02:00:00Z" in result.stderr


def test_wiam_at_sets_the_default_moment_and_a_bad_one_is_a_usage_error(tmp_path):
    after = run_wiam("compile", REFERENCE, "--out", tmp_path / "a", env={"WIAM_AT": "2026-12-02T03:00:00Z"})
    assert after.returncode == 0 and "its window closed" in after.stderr
    bad = run_wiam("compile", REFERENCE, "--out", tmp_path / "b", env={"WIAM_AT": "soon"})
    assert bad.returncode == 2 and "WIAM_AT" in bad.stderr and "Traceback" not in bad.stderr


@settings(max_examples=60)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_every_moment_is_written_as_the_rfc_3339_the_spec_takes(moment):
    written = windows.text(moment.replace(microsecond=0, tzinfo=timezone.utc))
    assert windows.parse(written) == moment.replace(microsecond=0, tzinfo=timezone.utc)
    assert len(written) == len("2026-12-02T02:00:00Z")  # what AWS and GCP conditions read


def test_a_window_closing_past_the_last_representable_time_is_no_traceback(tmp_path):
    last = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert expiring_soon(Window(None, last), last - timedelta(hours=1), timedelta(days=2))
    assert not expiring_soon(Window(None, last), last, timedelta(days=2))
    spec = _spec(tmp_path / "spec", grant_extra='expires = "9999-12-31T23:59:59Z"')
    done = run_wiam("analyze", spec, "--at", "9999-12-31T23:00:00Z", "--expiring-within", "7d")
    assert "Traceback" not in done.stderr and "WIAM021" in done.stdout, done.stderr
    grant = run_wiam("grant", "app", spec, "--cloud", "aws", "--target", "prod", "--actions", "s3:PutObject",
                     "--resources", "arn:aws:s3:::c/*", "--for", "2h", "--reason", "r", "--at", "9999-12-31T23:00:00Z")
    assert grant.returncode == 2 and "--for" in grant.stderr and "Traceback" not in grant.stderr


@settings(max_examples=30)
@given(st.integers(0, 10 ** 30), st.sampled_from("dhms"))
def test_a_duration_is_a_timedelta_or_a_value_error(count, unit):
    try:
        length = windows.duration(f"{count}{unit}")
    except ValueError:
        return
    assert length == timedelta(**{{"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}[unit]: count})


def test_an_absurd_analyze_duration_is_a_usage_error(tmp_path):
    done = run_wiam("analyze", REFERENCE, "--expiring-within", "9999999999d")
    assert done.returncode == 2 and "--expiring-within" in done.stderr and "Traceback" not in done.stderr
