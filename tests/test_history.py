"""wiam history: over generated git histories (adds, removals, renames of workloads and files, kill
switches, time windows, an invalid commit, a force push) the record's intervals are those found by
compiling every revision whole; an incremental record is the full one; SQLite and PostgreSQL hold the
same rows; a run that fails leaves the record as it was."""

import io
import json
import os
import random
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from wiam import record as record_module
from wiam.compile import load_valid_model
from wiam.diagnostics import SpecError
from wiam.loader import UsageError
from wiam.cache import remember_valid
from wiam.diff import Source, access_tuples, compare
from wiam.graph import build_graph
from wiam.record import record
from wiam.store import VERSION, open_store
from wiam.windows import text
from support.cli import run_wiam
from support.git import commit_all, git, init_repo
from support.paths import ROOT
from support.postgres import binaries, server
from support.specs import write_spec

TABLES = {"specs": "id", "commits": "spec, seq", "workloads": "spec, id", "tuples": "spec, id",
          "intervals": "spec, id", "findings": "spec, seq, rule, workload, file, line, col, message",
          "reviews": "spec, lineage, reviewer, day"}
HEADER = '''issuer "github" {
  kind = "github_actions"
}

target "aws" "prod" {
  account_id = "123456789012"
}

target "aws" "dev" {
  account_id = "210987654321"
}
'''
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:*", "sqs:SendMessage", "dynamodb:GetItem"]
START = datetime(2026, 1, 1, 12, tzinfo=timezone.utc)


class History:
    """A spec folder's git history, written one change a commit, that knows the truth about it: each
    commit's workload names, by the lineage (first name) each belongs to."""

    def __init__(self, root: Path, seed: int, monkeypatch):
        self.root, self.rng, self.monkeypatch = init_repo(root), random.Random(seed), monkeypatch
        self.specs = root / "specs"
        self.workloads: dict[str, dict] = {}  # lineage -> its workload as it is now
        self.lineage: dict[str, dict[str, str]] = {}  # commit -> workload name -> lineage
        self.reviews: dict[tuple, str] = {}  # (lineage, name, by, on) -> the first valid commit holding it
        self.day, self.fresh, self.broken = 0, 0, False
        self.commit("outside the spec folder", spec=False)  # before the folder exists: not recorded
        for _ in range(4):
            self.add()
        self.commit("first workloads")

    def commit(self, message: str, spec: bool = True) -> str:
        self.day += 1
        when = (START + timedelta(days=self.day)).strftime("%Y-%m-%dT%H:%M:%S+0000")
        self.monkeypatch.setenv("GIT_COMMITTER_DATE", when)
        self.monkeypatch.setenv("GIT_AUTHOR_DATE", when)
        if spec:
            self.write()
        (self.root / "README").write_text(f"day {self.day}\n")  # every commit changes something
        sha = commit_all(self.root, message)
        self.lineage[sha] = {w["name"]: lineage for lineage, w in self.workloads.items()}
        for lineage, w in self.workloads.items() if spec and not self.broken else ():
            for by, on in w.get("reviews", []):
                if not any(key[0] == lineage and key[2:] == (by, on) for key in self.reviews):
                    self.reviews[(lineage, w["name"], by, on)] = sha
        return sha

    def write(self) -> None:
        self.specs.mkdir(exist_ok=True)
        for old in self.specs.glob("*.wiam.hcl"):
            old.unlink()
        files: dict[str, str] = {"base.wiam.hcl": HEADER}
        for lineage in sorted(self.workloads):
            w = self.workloads[lineage]
            files[w["file"]] = files.get(w["file"], "") + _workload_hcl(lineage, w)
        if self.broken:
            files["broken.wiam.hcl"] = 'workload "half" {\n'
        for name, content in files.items():
            (self.specs / name).write_text(content, encoding="utf-8")

    def add(self) -> None:
        self.fresh += 1
        lineage = f"w{self.fresh}"
        assume = self.rng.random() < 0.2  # a workload that may act as the others: indirect access
        self.workloads[lineage] = {
            "name": lineage, "file": f"{self.rng.choice('abc')}.wiam.hcl", "target": self.rng.choice(["prod", "dev"]),
            "actions": ["sts:AssumeRole"] if assume else sorted(self.rng.sample(ACTIONS, 2)),
            "resource": "arn:aws:iam::210987654321:role/*" if assume else f"arn:aws:s3:::{lineage}/*",
            "disabled": False, "expires": None, "env": self.rng.choice([None, "production"]), "claims": False}

    def step(self) -> str:
        """One random change, committed."""
        if self.broken:
            self.broken = False
            return self.commit("fix the broken file")
        names = sorted(self.workloads)
        kind = self.rng.choice(["add", "remove", "rename", "move", "kill", "window", "actions", "claims", "broken",
                                "review", "readme"])
        pick = self.workloads[self.rng.choice(names)] if names else None
        if kind == "add" or pick is None:
            self.add()
        elif kind == "remove" and len(names) > 1:
            del self.workloads[self.rng.choice(names)]
        elif kind == "rename":
            pick["name"] = f"{pick['name']}-r{self.day}"
        elif kind == "move":
            pick["file"] = f"{self.rng.choice('abcd')}.wiam.hcl"
        elif kind == "kill":
            pick["disabled"] = not pick["disabled"]
        elif kind == "window":  # closes before the next commit, or a week later
            pick["expires"] = None if pick["expires"] else text(START + timedelta(days=self.day + self.rng.choice([1, 7]),
                                                                                    hours=-1))
        elif kind == "actions":
            pick["actions"] = sorted(self.rng.sample(ACTIONS, self.rng.choice([1, 2, 3])))
        elif kind == "claims":  # pinned or unpinned: its direct tuples end and begin under the new claims
            pick["claims"] = not pick["claims"]
        elif kind == "broken":
            self.broken = True
        elif kind == "review":  # a review block added, or the last one taken out
            reviews = pick.setdefault("reviews", [])
            reviews[:] = reviews[:-1] if reviews and self.rng.random() < 0.3 else reviews + [
                (self.rng.choice(["alice", "bob"]), (START + timedelta(days=self.rng.randrange(self.day + 1))).date().isoformat())]
        return self.commit(kind)  # "readme" changes nothing in the spec folder

    def break_spec(self) -> None:
        self.broken = True
        self.commit("broken")


def _workload_hcl(lineage: str, w: dict) -> str:
    extra = '  disabled = true\n  reason   = "INC-1: token leaked"\n' if w["disabled"] else ""
    window = f'\n    expires   = "{w["expires"]}"' if w["expires"] else ""
    pin = f'environment = "{w["env"]}"' if w["env"] else 'ref        = "refs/heads/main"'
    if w.get("claims"):
        pin += '\n    claims = {\n      job_workflow_ref = "acme/ci/.github/workflows/d.yml@refs/heads/main"\n    }'
    extra += "".join(f'  review {{\n    by = "{by}"\n    on = "{on}"\n  }}\n' for by, on in w.get("reviews", []))
    return (f'workload "{w["name"]}" {{\n{extra}  identity {{\n    issuer     = "github"\n'
            f'    repository = "acme/{lineage}"\n    {pin}\n  }}\n'
            f'  grant "aws" "{w["target"]}" {{\n    actions   = {json.dumps(w["actions"])}\n'
            f'    resources = ["{w["resource"]}"]{window}\n  }}\n}}\n')


def expected_intervals(history: History, tmp_path: Path) -> set[tuple]:
    """The intervals found by compiling every first-parent revision whole (from `git archive`), each
    at its commit date, and following the lineages the history knows."""
    shas = git(history.root, "rev-list", "--first-parent", "--reverse", "HEAD").split()
    open_since: dict[tuple, str] = {}
    found, last_tree = set(), None
    for sha in shas:
        tree = git(history.root, "ls-tree", sha, "specs").strip() or None
        if tree == last_tree:
            continue
        last_tree = tree
        if tree is None:  # the folder removed: every tuple ends
            for key in list(open_since):
                found.add((*key, open_since.pop(key), sha))
            continue
        folder = tmp_path / "revisions" / sha
        folder.mkdir(parents=True)
        tarfile.open(fileobj=io.BytesIO(_archive(history.root, sha))).extractall(folder, filter="data")
        moment = datetime.fromtimestamp(int(git(history.root, "log", "-1", "--format=%ct", sha)), timezone.utc)
        try:
            model = load_valid_model(str(folder / "specs"), at=moment)
        except SpecError:
            continue  # access carried from the last valid revision
        names = history.lineage[sha]
        conditions = {(w.name, f"{i.issuer.url} {i.subject}"): i.conditions
                      for w in model.workloads.values() for i in w.active_identities}
        now = set()
        for a in access_tuples(model, build_graph(model)):
            pins = () if a.indirect else conditions.get((a.workload, f"{a.issuer} {a.subject}"), ())
            now.add((a.issuer, a.subject, a.cloud, a.target, names[a.workload], a.permission, a.resource, a.indirect,
                     json.dumps(dict(pins), sort_keys=True) if pins else ""))
        for key in set(open_since) - now:
            found.add((*key, open_since.pop(key), sha))
        for key in now - set(open_since):
            open_since[key] = sha
    return found | {(*key, began, None) for key, began in open_since.items()}


def _archive(root: Path, sha: str) -> bytes:
    return subprocess.run(["git", "archive", "--format=tar", sha, "specs"], cwd=root, check=True,
                          capture_output=True).stdout


def recorded_intervals(store) -> set[tuple]:
    rows = store.rows(
        "SELECT t.issuer, t.subject, t.cloud, t.target, "
        "(SELECT w.name FROM workloads w WHERE w.spec = t.spec AND w.lineage = t.lineage ORDER BY w.began, w.id "
        "LIMIT 1), t.permission, t.resource, t.indirect, i.conditions, b.sha, e.sha "
        "FROM intervals i JOIN tuples t ON t.spec = i.spec AND t.id = i.tuple "
        "JOIN commits b ON b.spec = i.spec AND b.seq = i.began LEFT JOIN commits e ON e.spec = i.spec AND e.seq = i.ended")
    return {(*row[:7], bool(row[7]), *row[8:]) for row in rows}


def recorded_reviews(store) -> dict[tuple, str]:
    rows = store.rows("SELECT (SELECT w.name FROM workloads w WHERE w.spec = r.spec AND w.lineage = r.lineage "
                      "ORDER BY w.began, w.id LIMIT 1), r.workload, r.reviewer, r.day, c.sha FROM reviews r "
                      "JOIN commits c ON c.spec = r.spec AND c.seq = r.seq")
    return {tuple(row[:4]): row[4] for row in rows}


def every_row(store) -> dict[str, list[tuple]]:
    return {table: store.rows(f"SELECT * FROM {table} ORDER BY {order}") for table, order in TABLES.items()}


def _grow(history: History, steps: int) -> None:
    for _ in range(steps):
        history.step()
    if history.broken:
        history.step()


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), steps=st.integers(3, 8))
def test_the_record_is_every_revision_compiled_whole_and_an_incremental_record_is_the_full_one(seed, steps):
    with tempfile.TemporaryDirectory(prefix="wiam-test-history-") as folder, pytest.MonkeyPatch.context() as patch:
        tmp_path = Path(folder)
        history = History(tmp_path / "repo", seed, patch)
        incremental = open_store(str(tmp_path / "incremental.sqlite"))
        for _ in range(3):  # a run every few commits
            _grow(history, steps)
            record(str(history.specs), incremental)
        history.break_spec()
        history.step()  # its fix
        outcome = record(str(history.specs), incremental)
        assert len(outcome.invalid) == 1 and len(outcome.recorded) == 2
        full = open_store(str(tmp_path / "full.sqlite"))
        record(str(history.specs), full)
        assert recorded_intervals(full) == expected_intervals(history, tmp_path)
        assert recorded_reviews(full) == history.reviews
        assert every_row(incremental) == every_row(full)
        invalid = full.rows("SELECT count(*) FROM commits WHERE valid = 0")[0][0]
        assert invalid == git(history.root, "log", "--format=%s").split("\n").count("broken")


def test_a_spec_folder_removed_and_brought_back_ends_and_begins_its_access(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 11, monkeypatch)
    _grow(history, 4)
    store = open_store(str(tmp_path / "record.sqlite"))
    record(str(history.specs), store)
    for old in history.specs.glob("*"):
        old.unlink()
    history.specs.rmdir()
    removed = history.commit("remove the folder", spec=False)
    history.workloads = {w["name"]: w for w in history.workloads.values()}  # new workloads, as far as git knows
    history.commit("bring it back")
    _grow(history, 3)
    record(str(history.specs), store)
    assert store.rows("SELECT classification FROM commits WHERE sha = ?", (removed,)) == [("narrowing",)]
    assert recorded_intervals(store) == expected_intervals(history, tmp_path)
    fresh = open_store(str(tmp_path / "fresh.sqlite"))
    record(str(history.specs), fresh)
    assert every_row(fresh)["intervals"] == every_row(store)["intervals"]


def test_a_force_push_rebuilds_the_record_from_the_last_shared_commit(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 3, monkeypatch)
    _grow(history, 8)
    shared = git(history.root, "rev-parse", "HEAD").strip()
    kept = dict(history.workloads)
    _grow(history, 5)
    store = open_store(str(tmp_path / "record.sqlite"))
    record(str(history.specs), store)
    git(history.root, "reset", "-q", "--hard", shared)
    history.workloads = {k: dict(v) for k, v in kept.items()}
    _grow(history, 5)
    outcome = record(str(history.specs), store)
    assert outcome.rebuilt_from is not None
    assert git(history.root, "merge-base", "--is-ancestor", outcome.rebuilt_from, shared, check=False) == ""
    fresh = open_store(str(tmp_path / "fresh.sqlite"))
    record(str(history.specs), fresh)
    assert every_row(store) == every_row(fresh)
    assert recorded_intervals(store) == expected_intervals(history, tmp_path)


def test_a_renamed_workload_keeps_its_tuples_intervals_and_the_commit_is_neutral(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 4, monkeypatch)
    lineage, *others = sorted(history.workloads)
    history.workloads[lineage].update(actions=["s3:GetObject"], resource=f"arn:aws:s3:::{lineage}/*", disabled=False)
    for other in others:  # each can assume the renamed one's role: WIAM001 names its principal
        history.workloads[other].update(actions=["sts:AssumeRole"], resource="arn:aws:iam::210987654321:role/*",
                                        target=history.workloads[lineage]["target"])
    history.commit("role chains to the workload renamed next")
    history.workloads[lineage]["name"] = "renamed"
    history.workloads[lineage]["file"] = "moved.wiam.hcl"  # the file renamed too
    renaming = history.commit("rename")
    store = open_store(str(tmp_path / "record.sqlite"))
    record(str(history.specs), store)
    assert store.rows("SELECT classification FROM commits WHERE sha = ?", (renaming,)) == [("neutral",)]
    assert store.rows("SELECT count(*) FROM intervals WHERE ended = 3")[0][0] == 0
    names = store.rows("SELECT name, ended IS NULL FROM workloads WHERE lineage = "
                       "(SELECT lineage FROM workloads WHERE name = 'renamed') ORDER BY began")
    assert names == [(lineage, 0), ("renamed", 1)]


def test_a_failed_run_leaves_the_previous_record_as_it_was(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 5, monkeypatch)
    store = open_store(str(tmp_path / "record.sqlite"))
    record(str(history.specs), store)
    before = every_row(store)
    _grow(history, 4)
    calls = []

    def failing(self, *args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as a kill would, halfway through
        return writes(self, *args)
    writes = record_module.Writer.changes
    monkeypatch.setattr(record_module.Writer, "changes", failing)
    with pytest.raises(KeyboardInterrupt):
        record(str(history.specs), store)
    assert every_row(store) == before
    again = open_store(str(tmp_path / "record.sqlite"))
    assert every_row(again) == before


def readme_queries(resource: str, on: str, quarter: tuple[str, str]) -> tuple[str, str]:
    """The README's two auditor queries, with its example values replaced by these."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("### The system of record")[1]
    reach, changes = [block.split("```")[0] for block in section.split("```sql\n")[1:3]]
    reach = reach.replace("arn:aws:s3:::acme-payments-artifacts/*", resource).replace("2026-03-01T00:00:00Z", on)
    return reach, changes.replace("2026-07-01T00:00:00Z", quarter[0]).replace("2026-10-01T00:00:00Z", quarter[1])


def _dates(history: History) -> dict[str, str]:
    log = git(history.root, "log", "--format=%H %ct").split()
    return {sha: text(datetime.fromtimestamp(int(when), timezone.utc)) for sha, when in zip(log[::2], log[1::2])}


def test_the_readme_queries_answer_who_could_reach_it_then_and_every_change_in_a_quarter(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 9, monkeypatch)
    _grow(history, 12)
    store = open_store(str(tmp_path / "record.sqlite"))
    record(str(history.specs), store)
    expected, dates = expected_intervals(history, tmp_path), _dates(history)
    shas = git(history.root, "rev-list", "--first-parent", "--reverse", "HEAD").split()
    on = text(START + timedelta(days=7, hours=1))  # an hour after the 7th day's commit
    then = [sha for sha in shas if dates[sha] <= on][-1]
    name_of = {lineage: name for name, lineage in history.lineage[then].items()}
    held = [row for row in expected if dates[row[9]] <= on and (row[10] is None or dates[row[10]] > on)]
    resource = sorted(row[6] for row in held)[0]
    quarter = text(START + timedelta(days=2)), text(START + timedelta(days=12))
    reach, changes = readme_queries(resource, on, quarter)
    answered = {(row[1], row[2], row[5], row[8], row[7]) for row in store.rows(reach)}
    assert answered == {(row[1], name_of[row[4]], row[5], row[9], row[8]) for row in held if row[6] == resource}
    assert all(row[9] == "T" for row in store.rows(reach))  # who granted it: the history's one author
    inside = {sha for sha in dates if quarter[0] <= dates[sha] < quarter[1]}
    events = {(row[9], "began", *row[:2], *row[5:7]) for row in expected if row[9] in inside and row[3] == "prod"}
    events |= {(row[10], "ended", *row[:2], *row[5:7]) for row in expected if row[10] in inside and row[3] == "prod"}
    assert {(row[1], row[6], *row[7:9], *row[11:13]) for row in store.rows(changes)} == events and events


def _postgres_available() -> bool:
    if binaries():
        return True
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL's binaries (Debian's postgresql package) are missing; .ci/run installs them")
    return False


@pytest.fixture(scope="module")
def postgres_url():
    if not _postgres_available():
        pytest.skip("PostgreSQL's binaries are not installed (/usr/lib/postgresql/*/bin): apt-get install postgresql")
    with server() as url:
        yield url


def test_sqlite_and_postgresql_hold_the_same_rows(tmp_path, monkeypatch, postgres_url):
    history = History(tmp_path / "repo", 6, monkeypatch)
    lite, pg = open_store(str(tmp_path / "record.sqlite")), open_store(postgres_url)
    history.workloads[sorted(history.workloads)[0]]["reviews"] = [("O'Brien; DROP TABLE reviews", "2026-01-02")]
    for _ in range(2):
        _grow(history, 5)
        for store in (lite, pg):
            record(str(history.specs), store)
    assert every_row(lite) == every_row(pg) and every_row(pg)["intervals"] and every_row(pg)["reviews"]
    resource = lite.rows("SELECT resource FROM tuples ORDER BY id")[0][0]
    for query in readme_queries(resource, text(START + timedelta(days=4)), (text(START), text(START + timedelta(days=9)))):
        assert lite.rows(query) == pg.rows(query) != []
    pg.close()
    assert every_row(open_store(postgres_url)) == every_row(lite)  # committed, and read back the same


def test_the_command_prints_commits_and_timelines_and_escapes_what_authors_wrote(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 7, monkeypatch)
    lineage = sorted(history.workloads)[0]
    history.workloads[lineage]["name"] = "renamed"
    history.commit("=HYPERLINK(\"http://x\") \x1b[31m")
    db = tmp_path / "record.sqlite"
    done = run_wiam("history", history.specs, "--db", db, "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert "'=HYPERLINK" in done.stdout and "\x1b" not in done.stdout and "\\x1b[31m" in done.stdout
    shown = run_wiam("history", history.specs, "--db", db, "--workload", "renamed")
    assert shown.returncode == 0 and "0 new commits recorded" in shown.stderr
    assert f"aws {history.workloads[lineage]['target']} {lineage} -> " in shown.stdout
    assert "still held" in shown.stdout and "\x1b" not in shown.stdout
    timeline = json.loads(run_wiam("history", history.specs, "--db", db, "--workload", "renamed", "-f", "json").stdout)
    assert {i["workload"] for i in timeline["intervals"]} == {lineage}  # under its name when each began
    assert all(i["ended_sha"] is None for i in timeline["intervals"])


def test_the_default_record_lives_in_the_git_folder_and_misuse_exits_2(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 8, monkeypatch)
    done = run_wiam("history", history.specs)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(history.root / ".git" / "wiam" / "history.sqlite") as db:
        assert db.execute("SELECT count(*) FROM commits").fetchone()[0] == 1
    assert run_wiam("history", history.specs, "--db", history.specs / "a.wiam.hcl").returncode == 2
    (tmp_path / "plain").mkdir()
    outside = run_wiam("history", tmp_path / "plain", "--db", tmp_path / "x.sqlite")
    assert outside.returncode == 2 and "Traceback" not in outside.stderr
    not_a_record = tmp_path / "junk.sqlite"
    not_a_record.write_bytes(b"not sqlite" * 100)
    junk = run_wiam("history", history.specs, "--db", not_a_record)
    assert junk.returncode == 2 and "not a wiam record" in junk.stderr


def test_rev_reads_the_spec_as_it_stood_then_with_its_windows_evaluated_then(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 10, monkeypatch)
    lineage = next(n for n, w in sorted(history.workloads.items()) if "sts:AssumeRole" not in w["actions"])
    resource = f"arn:aws:s3:::{lineage}/*"
    history.workloads[lineage]["expires"] = text(START + timedelta(days=history.day + 7))  # open then, closed now
    windowed = history.commit("a window")
    del history.workloads[lineage]
    history.commit("removed")
    subject = f"repo:acme/{lineage}:"

    def who_can(*args):
        return run_wiam("who-can", history.specs, "--resource", resource, *args)
    assert subject not in who_can().stdout  # the working tree: removed
    assert subject in who_can("--rev", windowed).stdout  # at its commit's time, the window is open
    assert subject in who_can("--rev", text(START + timedelta(days=history.day - 1, hours=1))).stdout
    assert subject not in who_can("--rev", windowed, "--at", "2026-12-01T21:00:00Z").stdout  # closed by then
    history.break_spec()
    broken = who_can("--rev", "HEAD")
    assert broken.returncode == 1 and f"{git(history.root, 'rev-parse', 'HEAD').strip()}:specs/broken.wiam.hcl:" in broken.stderr
    assert who_can("--rev", "no-such-branch").returncode == 2
    assert who_can("--rev", "2000-01-01").returncode == 2


def test_the_history_benchmark_runs_and_reports_both_ratios():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "history.py"), "--workloads", "100", "--commits", "3"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout.rsplit("}", 1)[0] + "}")
    assert row["commits"] == 3 and row["full_ratio"] > 0 and row["incremental_ratio"] > 0
    assert "target at most 20x" in done.stdout and "target at most 2x" in done.stdout


def test_a_shallow_clone_is_refused_rather_than_taken_for_a_force_push(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 12, monkeypatch)
    _grow(history, 3)
    full, shallow = tmp_path / "full", tmp_path / "shallow"
    source = f"file://{history.root}"
    git(tmp_path, "clone", "-q", source, full)
    store = open_store(str(tmp_path / "record.sqlite"))
    record(str(full / "specs"), store)
    _grow(history, 2)  # the next CI run's checkout holds only the newest commit
    git(tmp_path, "clone", "-q", "--depth", "1", source, shallow)
    before = every_row(store)
    with pytest.raises(UsageError, match="shallow clone"):
        record(str(shallow / "specs"), store)
    assert every_row(store) == before


def test_what_a_crafted_commit_holds_is_recorded_as_data_and_no_token_of_the_origin_url(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 13, monkeypatch)
    git(history.root, "remote", "add", "origin", "https://x-access-token:ghs_SECRET@github.com/acme/specs.git")
    history.workloads.popitem()  # the crafted commit changes the spec: it is recorded
    history.write()
    git(history.root, "add", "-A")
    tree = git(history.root, "write-tree").strip()
    crafted = (f"tree {tree}\nparent {git(history.root, 'rev-parse', 'HEAD').strip()}\n"
               "author Eve\0 <e@x> 99999999999999999999 +0000\ncommitter Eve <e@x> 99999999999999999999 +0000\n\n"
               "=cmd|' /C calc'!A0\0 \x1b]8;;http://x\x07\n").encode()
    sha = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--literally", "--stdin"], cwd=history.root,
                         input=crafted, capture_output=True, check=True).stdout.decode().strip()
    git(history.root, "reset", "-q", "--soft", sha)
    history.step()
    store = open_store(str(tmp_path / "record.sqlite"))
    outcome = record(str(history.specs), store)
    assert outcome.spec == "https://github.com/acme/specs.git:specs" and sha in outcome.recorded
    assert store.rows("SELECT author, date FROM commits WHERE sha = ?", (sha,)) == [("Eve\ufffd", "1970-01-01T00:00:00Z")]
    rows = json.dumps(every_row(store))
    assert "SECRET" not in rows and "\\u0000" not in rows
    done = run_wiam("history", history.specs, "--db", tmp_path / "record.sqlite", "--format", "csv")
    assert done.returncode == 0 and "\x1b" not in done.stdout and "\x07" not in done.stdout


def test_the_slice_and_the_whole_read_agree_on_a_window_closed_at_the_moment_of_the_diff(tmp_path):
    workloads = {f"w{n}": {"name": f"w{n}", "file": "a.wiam.hcl", "target": "prod", "actions": ["s3:GetObject"],
                               "resource": f"arn:aws:s3:::w{n}/*", "disabled": False, "expires": None, "env": None}
                     for n in range(1, 5)}
    # the changed workload, alone on its target, with a window closed at the tests' moment ($WIAM_AT)
    workloads["w1"].update(expires="2026-06-01T00:00:00Z", target="dev")
    texts = []
    for change in (False, True):
        workloads["w1"]["actions"] = ["s3:GetObject", "s3:PutObject"] if change else ["s3:GetObject"]
        texts.append(HEADER + "".join(_workload_hcl(n, w) for n, w in sorted(workloads.items())))
    base, head = (write_spec(tmp_path / side, {"main.wiam.hcl": t}) for side, t in zip(("base", "head"), texts))
    remember_valid(load_valid_model(str(base)).document.digest)
    sources = [Source(str(folder), str(folder), None) for folder in (base, head)]
    sliced, whole = compare(*sources, False), compare(*sources, False, incremental=False)
    assert not sliced.whole and whole.whole
    assert sliced.diff.as_json() == whole.diff.as_json() and sliced.diff.classification == "neutral"
    assert not any(a.workload == "w1" for a in sliced.old.tuples | sliced.new.tuples)


def test_a_record_of_schema_1_is_emptied_when_opened_and_rebuilt_whole_with_its_reviews(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 14, monkeypatch)
    history.workloads[sorted(history.workloads)[0]]["reviews"] = [("alice", "2026-01-02")]
    _grow(history, 4)
    path = str(tmp_path / "old.sqlite")
    record(str(history.specs), open_store(path))
    with sqlite3.connect(path) as old:  # as wiam's schema 1 left it: no reviews table
        old.executescript("DROP TABLE reviews; DROP INDEX intervals_tuple; UPDATE wiam_schema SET version = 1;")
    upgraded = open_store(path)
    assert upgraded.rows("SELECT version FROM wiam_schema") == [(VERSION,)]
    assert upgraded.rows("SELECT count(*) FROM commits") == [(0,)] and upgraded.rows("SELECT head FROM specs") == [(None,)]
    record(str(history.specs), upgraded)
    fresh = open_store(str(tmp_path / "fresh.sqlite"))
    record(str(history.specs), fresh)
    assert every_row(upgraded) == every_row(fresh) and every_row(fresh)["reviews"]
    assert recorded_reviews(upgraded) == history.reviews


def test_a_record_of_schema_2_keeps_every_row_and_gains_the_index_of_intervals_by_tuple(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 15, monkeypatch)
    _grow(history, 4)
    path = str(tmp_path / "old.sqlite")
    record(str(history.specs), open_store(path))
    before = every_row(open_store(path))
    with sqlite3.connect(path) as old:  # as wiam's schema 2 left it
        old.executescript("DROP INDEX intervals_tuple; UPDATE wiam_schema SET version = 2;")
    upgraded = open_store(path)
    assert upgraded.rows("SELECT version FROM wiam_schema") == [(VERSION,)] and every_row(upgraded) == before
    assert upgraded.rows("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'intervals_tuple'") == [(1,)]
    _grow(history, 3)
    record(str(history.specs), open_store(path))
    fresh = open_store(str(tmp_path / "fresh.sqlite"))
    record(str(history.specs), fresh)
    assert every_row(open_store(path)) == every_row(fresh)
