"""Every command answers for one moment (--at): who-can, blast-radius, simulate, analyze, report and
diff on specs with time windows; the window rules (WIAM020-025) and diff's classing of windows at
their boundaries, over generated windows."""

import json
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import given, settings, strategies as st

from support.cli import run_wiam
from test_report import Page, browser, embedded, make_report  # noqa: F401 (browser: the report tests' fixture)
from support.specs import AT, BASE_HCL, write_spec
from wiam import windows
from wiam.analysis import Limits, analyze
from wiam.analysis.jit import expiring_soon, too_long
from wiam.compile import load_planned
from wiam.diff import bound_changes
from wiam.graph import build_graph
from wiam.model import Window
from wiam.query import exposure, who_can
from wiam.report import workload_windows
from wiam.simulate import outside_window
from wiam.verdict import Check, Verdict

BEFORE, INSIDE, AFTER = "2026-12-01T19:00:00Z", "2026-12-01T21:00:00Z", "2026-12-02T03:00:00Z"
RESTORE_SUBJECT = "repo:acme/orders:environment:production"


def identity(repository: str, extra: str = "") -> str:
    return f'  identity {{\n    issuer = "github"\n    repository = "{repository}"\n    ref = "refs/heads/main"\n{extra}  }}\n'


def grant(actions: str, resources: str, extra: str = "") -> str:
    return f'  grant "aws" "prod" {{\n    actions = {actions}\n    resources = {resources}\n{extra}  }}\n'


RESTORE = ('workload "restore" {\n  environment = "prod"\n  break_glass = true\n'
           '  identity {\n    issuer = "github"\n    repository = "acme/orders"\n    environment = "production"\n  }\n'
           + grant('["s3:DeleteObject"]', '["arn:aws:s3:::orders/*"]',
                   '    not_before = "2026-12-01T20:00:00Z"\n    expires = "2026-12-02T02:00:00Z"\n'
                   '    reason = "restore after the incident"\n    ticket = "INC-4521"\n') + "}\n")
LATER = ('workload "later" {\n'
         + identity("acme/later", '    not_before = "2026-12-05T00:00:00Z"\n    reason = "starts with the migration"\n')
         + grant('["s3:PutObject"]', '["arn:aws:s3:::later/*"]') + "}\n")


def jit_spec(folder: Path, *workloads: str) -> Path:
    return write_spec(folder, {"main.wiam.hcl": BASE_HCL + "".join(workloads or (RESTORE, LATER))})


def json_of(*args) -> dict:
    result = run_wiam(*args, "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def findings_at(folder: Path, at, limits: Limits = Limits()) -> list:
    model, plans = load_planned(str(folder), at=at)
    return analyze(model, plans=plans, limits=limits)


# who-can, blast-radius, simulate: a path whose window does not hold is no answer at that moment


def test_who_can_counts_a_grant_only_inside_its_window(tmp_path):
    folder = jit_spec(tmp_path)
    subjects = {at: [a["subject"] for a in json_of("who-can", folder, "--action", "s3:DeleteObject", "--at", at)["answers"]]
                for at in (BEFORE, INSIDE, AFTER)}
    assert subjects == {BEFORE: [], INSIDE: [RESTORE_SUBJECT], AFTER: []}
    inside = json_of("who-can", folder, "--action", "s3:DeleteObject", "--at", INSIDE)
    assert inside["at"] == INSIDE
    assert inside["answers"][0]["window"] == {"not_before": "2026-12-01T20:00:00Z", "expires": "2026-12-02T02:00:00Z"}
    shown = run_wiam("who-can", folder, "--action", "s3:DeleteObject", "--at", INSIDE).stdout
    assert "directly, from 2026-12-01T20:00:00Z until 2026-12-02T02:00:00Z:" in shown
    text = run_wiam("who-can", folder, "--action", "s3:DeleteObject", "--at", BEFORE)
    assert text.returncode == 0 and f"no subject reaches it at {BEFORE}" in text.stdout


def test_who_can_drops_an_identity_whose_window_has_not_opened(tmp_path):
    folder = jit_spec(tmp_path)
    ask = ("who-can", folder, "--action", "s3:PutObject", "--resource", "arn:aws:s3:::later/x")
    assert json_of(*ask, "--at", INSIDE)["answers"] == []
    (answer,) = json_of(*ask, "--at", "2026-12-05T00:00:00Z")["answers"]
    assert answer["workload"] == "later"


def test_blast_radius_reaches_a_grant_only_inside_its_window(tmp_path):
    folder = jit_spec(tmp_path)
    reached = {}
    for at in (BEFORE, INSIDE, AFTER):
        data = json_of("blast-radius", folder, "--workload", "restore", "--at", at)
        assert data["at"] == at
        reached[at] = [p["label"] for p in data["permissions"]]
    assert reached == {BEFORE: [], INSIDE: ["s3:DeleteObject"], AFTER: []}
    # from its subject, the identity's window (open on 12-05) is on the path; from the workload (its
    # principal compromised) only the grant's is, like the kill switch, which stops subjects alone
    later = {at: [[p["label"] for p in json_of("blast-radius", folder, start, value, "--at", at)["permissions"]]
                  for start, value in (("--subject", "repo:acme/later:ref:refs/heads/main"), ("--workload", "later"))]
             for at in (INSIDE, "2026-12-05T00:00:00Z")}
    assert later == {INSIDE: [[], ["s3:PutObject"]], "2026-12-05T00:00:00Z": [["s3:PutObject"], ["s3:PutObject"]]}
    inside = run_wiam("blast-radius", folder, "--subject", RESTORE_SUBJECT, "--at", INSIDE).stdout
    assert f"at {INSIDE}" in inside and "s3:DeleteObject" in inside


def test_simulate_reaches_only_the_grants_open_when_the_token_is_presented(tmp_path):
    folder = jit_spec(tmp_path)
    claims = write_spec(tmp_path / "claims", {"t.json": json.dumps({
        "iss": "https://token.actions.githubusercontent.com", "sub": RESTORE_SUBJECT, "aud": "sts.amazonaws.com"})})
    for at, reaches in ((BEFORE, []), (INSIDE, ["s3:DeleteObject"])):
        data = json_of("simulate", folder, "--claims", claims / "t.json", "--at", at)
        assert data["at"] == at and [r["permission"] for r in data["reaches"]] == reaches


def test_simulate_names_the_identity_window_that_refuses_a_token(tmp_path):
    model, _ = load_planned(str(jit_spec(tmp_path)), at=AT)
    claims = {"iss": "https://token.actions.githubusercontent.com", "sub": "repo:acme/later:ref:refs/heads/main"}
    refused = [Verdict("aws", "prod", "later", "wiam-later", "aws:role:prod:later", (Check("time", False, "window"),)),
               Verdict("aws", "prod", "restore", "wiam-restore", "aws:role:prod:restore", (Check("sub", False, "x"),))]
    (line,) = outside_window(model, claims, refused)
    assert "workload later" in line and "from 2026-12-05T00:00:00Z" in line and windows.text(AT) in line
    model_later, _ = load_planned(str(tmp_path), at=windows.parse("2026-12-06T00:00:00Z"))
    assert outside_window(model_later, claims, refused) == []


OFFSET = st.one_of(st.none(), st.integers(-3, 3))  # hours from AT; None: unbounded


def bounds(start, end) -> str:
    """not_before/expires lines for hours from AT (a window that would end before it begins is swapped)."""
    if start is not None and end is not None and end <= start:
        start, end = end, start + 1
    lines = [f'    {key} = "{windows.text(AT + timedelta(hours=h))}"\n'
             for key, h in (("not_before", start), ("expires", end)) if h is not None]
    return "".join(lines) + ('    reason = "r"\n' if lines else "")


@given(identity_window=st.tuples(OFFSET, OFFSET), grant_window=st.tuples(OFFSET, OFFSET), probe=st.integers(-4, 4))
@settings(max_examples=25, deadline=None)
def test_who_can_and_blast_radius_answer_exactly_where_the_path_window_holds(identity_window, grant_window, probe):
    """Over generated identity and grant windows: at each probe moment, who-can answers and the
    subject's blast radius reaches the grant exactly when both windows hold then."""
    workload = ('workload "app" {\n' + identity("acme/app", bounds(*identity_window))
                + grant('["s3:GetObject"]', '["arn:aws:s3:::b/*"]', bounds(*grant_window)) + "}\n")
    at = AT + timedelta(hours=probe, seconds=probe % 2)  # on a bound, and a second past one
    with tempfile.TemporaryDirectory() as folder:
        model, plans = load_planned(str(jit_spec(Path(folder), workload)), at=at)
    access = build_graph(model, plans)
    app = model.workloads["app"]
    (identity_model,), grants = app.identities, app.grants + app.closed
    expected = windows.holds(windows.narrowest(identity_model.window, grants[0].window), at)
    assert bool(who_can(access, action="s3:GetObject", at=at)) == expected
    assert bool(exposure(access, {"subject": identity_model.subject}, at).permissions) == expected
    # from the workload (its principal compromised), the grant's window alone is on the path
    assert bool(exposure(access, {"workload": "app"}, at).permissions) == windows.holds(grants[0].window, at)


# analyze: the window rules at the moment analysed


def test_analyze_judges_windows_at_the_moment_given(tmp_path):
    folder = jit_spec(tmp_path / "spec")
    rules_at = {at: sorted({f["rule"] for f in json_of("analyze", folder, "--at", at)["findings"]
                            if f["rule"].startswith("WIAM02")}) for at in (INSIDE, AFTER)}
    assert rules_at[INSIDE] == ["WIAM021"]  # closes at 02:00, within 24h; 6h long, under 12h
    assert rules_at[AFTER] == ["WIAM022"]  # closed: still in the spec
    assert json_of("analyze", folder, "--at", AFTER)["at"] == AFTER
    sarif = json.loads(run_wiam("analyze", folder, "--at", AFTER, "--format", "sarif").stdout)
    assert sarif["runs"][0]["properties"] == {"at": AFTER}
    tight = json_of("analyze", folder, "--at", INSIDE, "--max-break-glass", "5h", "--expiring-within", "1h")
    assert sorted({f["rule"] for f in tight["findings"] if f["rule"].startswith("WIAM02")}) == ["WIAM023"]
    for command in (("validate", folder), ("compile", folder, "--out", tmp_path / "out")):
        assert json_of(*command, "--at", AFTER)["at"] == AFTER
    bad = run_wiam("analyze", folder, "--max-break-glass", "twelve hours")
    assert bad.returncode == 2 and "--max-break-glass" in bad.stderr and "Traceback" not in bad.stderr


def test_standing_privileged_production_access_needs_an_expiry(tmp_path):
    privileged = grant('["iam:PassRole"]', '["arn:aws:iam::123456789012:role/deploy"]')
    standing = 'workload "deploy" {\n  environment = "prod"\n' + identity("acme/deploy") + privileged + "}\n"
    (finding,) = [f for f in findings_at(jit_spec(tmp_path / "a", standing), AT) if f.rule == "WIAM020"]
    assert finding.workload == "deploy" and "no expiry" in finding.message and finding.pos.line > 0
    ended = standing.replace('  environment = "prod"\n', '  environment = "prod"\n  expires = "2027-01-01T00:00:00Z"\n'
                                                       '  reason = "deploys until the platform move"\n')
    staging = standing.replace('"prod"\n', '"staging"\n', 1)
    for text in (ended, staging):
        assert "WIAM020" not in {f.rule for f in findings_at(jit_spec(tmp_path / str(len(text)), text), AT)}


def test_break_glass_without_a_ticket_is_reported(tmp_path):
    folder = jit_spec(tmp_path / "a", RESTORE.replace('    ticket = "INC-4521"\n', ""))
    (finding,) = [f for f in findings_at(folder, AT) if f.rule == "WIAM024"]
    assert finding.workload == "restore" and "aws prod" in finding.message
    on_workload = RESTORE.replace('    ticket = "INC-4521"\n', "").replace("break_glass = true\n",
                                                                        'break_glass = true\n  ticket = "INC-1"\n')
    assert "WIAM024" not in {f.rule for f in findings_at(jit_spec(tmp_path / "b", on_workload), AT)}


def test_a_window_the_cloud_cannot_enforce_is_reported_from_the_plan(tmp_path):
    model, plans = load_planned(str(jit_spec(tmp_path)), at=AT)
    assert "WIAM025" not in {f.rule for f in analyze(model, plans=plans)}
    plans[("aws", "prod")].unenforced = {"restore": ["trust window"]}  # what a provider that cannot enforce it says
    (finding,) = [f for f in analyze(model, plans=plans) if f.rule == "WIAM025"]
    assert finding.workload == "restore" and "trust window" in finding.message
    assert finding.block == 'grant "aws" "prod" in workload "restore"'


WINDOW_OFFSETS = st.one_of(st.integers(-3 * 86400, 3 * 86400), st.sampled_from([-1, 0, 1, 86399, 86400, 86401]))


@given(offset=WINDOW_OFFSETS, hours=st.integers(1, 48))
@settings(max_examples=20, deadline=None)
def test_expiring_soon_and_closed_at_their_boundaries(offset, hours):
    """Through the whole pipeline: a grant expiring `offset` seconds after --at is WIAM021 exactly when
    it closes within the duration, and WIAM022 exactly when it has closed."""
    expires = windows.text(AT + timedelta(seconds=offset))
    workload = ('workload "app" {\n  environment = "staging"\n' + identity("acme/app") +
                grant('["s3:GetObject"]', '["arn:aws:s3:::b/*"]', f'    expires = "{expires}"\n    reason = "r"\n') + "}\n")
    with tempfile.TemporaryDirectory() as folder:
        found = {f.rule for f in findings_at(jit_spec(Path(folder), workload), AT, Limits(timedelta(hours=hours)))}
    assert ("WIAM021" in found) == (0 < offset <= hours * 3600)
    assert ("WIAM022" in found) == (offset <= 0)


@given(start=st.one_of(st.none(), st.integers(-7200, 7200)), span=st.integers(1, 20 * 3600),
       maximum=st.sampled_from([3600, 12 * 3600, 12 * 3600 + 1]))
@settings(max_examples=20, deadline=None)
def test_long_break_glass_at_its_boundary(start, span, maximum):
    """A break-glass window holding longer than the maximum (from not_before, else from --at) is WIAM023."""
    begins = AT + timedelta(seconds=start or 0)
    bounds = (f'    not_before = "{windows.text(begins)}"\n' if start is not None else "")
    bounds += f'    expires = "{windows.text(begins + timedelta(seconds=span))}"\n    reason = "incident"\n    ticket = "INC-1"\n'
    workload = ('workload "glass" {\n  break_glass = true\n' + identity("acme/glass") +
                grant('["s3:GetObject"]', '["arn:aws:s3:::b/*"]', bounds) + "}\n")
    with tempfile.TemporaryDirectory() as folder:
        found = {f.rule for f in findings_at(jit_spec(Path(folder), workload), AT,
                                              Limits(max_break_glass=timedelta(seconds=maximum)))}
    closed = (start or 0) + span <= 0
    assert ("WIAM023" in found) == (not closed and span > maximum)


@given(st.integers(-10**6, 10**6), st.integers(1, 10**6), st.integers(-10**6, 10**6))
@settings(max_examples=60, deadline=None)
def test_the_rule_predicates_at_their_boundaries(expires_in, within, start):
    window = Window(None, AT + timedelta(seconds=expires_in))
    assert expiring_soon(window, AT, timedelta(seconds=within)) == (0 < expires_in <= within)
    later = Window(AT + timedelta(seconds=start), AT + timedelta(seconds=max(start + 1, expires_in)))
    assert expiring_soon(later, AT, timedelta(seconds=within)) == (
        start <= 0 < max(start + 1, expires_in) <= within)  # a window not yet open is not closing
    held = Window(AT + timedelta(seconds=start), AT + timedelta(seconds=start + within))
    for maximum in (within - 1, within, within + 1):
        assert too_long(held, AT, timedelta(seconds=maximum)) == (start + within > 0 and within > maximum)


# diff: windows widen or narrow bound by bound


BOUND = st.one_of(st.none(), st.integers(-5, 5).map(lambda h: AT + timedelta(hours=h)))


def nonempty_windows():
    return st.tuples(BOUND, BOUND).filter(lambda b: None in b or b[0] < b[1]).map(lambda b: Window(*b))


@given(nonempty_windows(), nonempty_windows())
@settings(max_examples=200, deadline=None)
def test_a_bound_widens_exactly_when_the_new_window_admits_a_moment_the_old_refused(old, new):
    bounds = {b for w in (old, new) for b in (w.not_before, w.expires) if b is not None} | {AT}
    probes = bounds | {b - timedelta(seconds=1) for b in bounds}
    changes = bound_changes(old, new)
    assert any(wider for _, wider in changes) == any(windows.holds(new, t) and not windows.holds(old, t) for t in probes)
    assert any(not wider for _, wider in changes) == any(windows.holds(old, t) and not windows.holds(new, t)
                                                         for t in probes)
    assert (changes == []) == (old == new)


def test_diff_classes_window_changes_at_one_moment(tmp_path):
    base = jit_spec(tmp_path / "base")
    extended = jit_spec(tmp_path / "extended", RESTORE.replace("2026-12-02T02:00:00Z", "2026-12-02T08:00:00Z"), LATER)
    removed = jit_spec(tmp_path / "removed", RESTORE, LATER.replace(
        '    not_before = "2026-12-05T00:00:00Z"\n    reason = "starts with the migration"\n', ""))
    shortened = jit_spec(tmp_path / "shortened", RESTORE.replace("2026-12-02T02:00:00Z", "2026-12-01T23:00:00Z"), LATER)
    for head, widened in ((extended, True), (removed, True), (shortened, False)):
        data = json_of("diff", base, head, "--at", INSIDE)
        assert data["at"] == INSIDE
        assert data["classification"] == ("widening" if widened else "narrowing")
        assert bool(data["windows"]["widened"]) == widened and bool(data["windows"]["narrowed"]) != widened
        assert run_wiam("diff", base, head, "--at", INSIDE, "--fail-on", "widening").returncode == (1 if widened else 0)
    text = run_wiam("diff", base, extended, "--at", INSIDE).stdout
    assert "grant aws prod of workload restore: expires 2026-12-02T02:00:00Z extended to 2026-12-02T08:00:00Z" in text
    # after the base's window closed, both sides at that one moment: the extension reopens access
    later = json_of("diff", base, extended, "--at", AFTER)
    assert later["classification"] == "widening" and [a["permission"] for a in later["added"]] == ["s3:DeleteObject"]


# report: each workload's windows and whether they hold


def test_report_shows_each_workloads_windows_at_the_moment(tmp_path):
    folder = jit_spec(tmp_path)
    states = {}
    for at in (BEFORE, INSIDE, AFTER):
        model, _ = load_planned(str(folder), at=windows.parse(at))
        states[at] = {name: [(w["block"], w["state"]) for w in rows] for name, rows in workload_windows(model).items()}
    assert states[BEFORE] == {"restore": [("grant aws prod", "pending")], "later": [("identity #1", "pending")]}
    assert states[INSIDE]["restore"] == [("grant aws prod", "holds")]
    assert states[AFTER]["restore"] == [("grant aws prod", "closed")]
    page = tmp_path / "report.html"
    assert run_wiam("report", folder, "--out", page, "--at", INSIDE).returncode == 0
    data = embedded(page.read_bytes())
    assert data["meta"]["at"] == INSIDE
    (restore,) = [n for n in data["nodes"] if n["id"] == "workload:restore"]
    assert restore["windows"] == [{"block": "grant aws prod", "window": "from 2026-12-01T20:00:00Z until "
                                   "2026-12-02T02:00:00Z", "not_before": "2026-12-01T20:00:00Z",
                                   "expires": "2026-12-02T02:00:00Z", "state": "holds"}]


def test_the_report_page_shows_the_windows_of_an_opened_workload(browser, tmp_path):
    page = Page(browser, make_report(jit_spec(tmp_path), tmp_path / "r.html", WIAM_AT=AFTER))
    page.js("location.hash = '#workload-restore'")
    page.page.wait_for_selector("#workload-restore[open]")
    shown = page.page.locator("#workload-restore").text_content()
    assert f"Time windows at {AFTER}" in shown and "closed (no access)" in shown and "2026-12-02T02:00:00Z" in shown
    assert f"time windows at {AFTER}" in page.page.locator("#meta").text_content()
    assert page.problems == [] and page.requests == []
    page.close()
