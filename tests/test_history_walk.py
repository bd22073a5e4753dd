"""The history walk's shortcuts are invisible: copies that link the files their previous copy holds
alike, the forked process that parses coming commits into the cache, tuple ids looked up one by
one, a walk that trusts the heads it compared (so it slices with the cache off), a slice's subjects
read from the record (on either database), and the commit log's grouped counts."""

import json
import os
import time
from pathlib import Path

from wiam import cache, record as record_module
from wiam.cache import text_digest
from wiam.diagnostics import Report
from wiam.diff import copy_revision, repository_of, update_copy
from wiam.loader import load
from wiam.readers import read
from wiam.record import commit_log, parsing_ahead, record, spec_of
from wiam.store import open_store
from support.git import commit_all, git, init_repo
from support.paths import EXAMPLES
from test_history import History, _grow, every_row, expected_intervals, postgres_url, recorded_intervals  # noqa: F401


def _repository(tmp_path):
    root = init_repo(tmp_path / "repo")
    specs = root / "specs"
    specs.mkdir()
    for name, text in {"same.wiam.hcl": "# alike\n", "changed.wiam.hcl": "# before\n", "gone.wiam.hcl": "# x\n"}.items():
        (specs / name).write_text(text)
    first = commit_all(root, "first")
    (specs / "changed.wiam.hcl").write_text("# after\n")
    (specs / "gone.wiam.hcl").unlink()
    (specs / "new.wiam.hcl").write_text("# new\n")
    return root, specs, first, commit_all(root, "second")


def _files(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def test_a_folder_updated_to_a_revision_holds_what_a_fresh_copy_holds_and_only_its_changes_are_written(tmp_path):
    root, specs, first, second = _repository(tmp_path)
    top, prefix = repository_of(str(specs), str(specs))
    work = tmp_path / "work"
    work.mkdir()
    before = copy_revision(first, top, prefix, False, str(work))
    folder = Path(before.folder)
    kept = os.stat(folder / "same.wiam.hcl")
    after = update_copy(second, top, prefix, False, before.folder, before.blobs, before)
    fresh = copy_revision(second, top, prefix, False, str(work))
    assert _files(folder) == _files(Path(fresh.folder)) == {
        "changed.wiam.hcl": b"# after\n", "new.wiam.hcl": b"# new\n", "same.wiam.hcl": b"# alike\n"}
    assert after.blobs == fresh.blobs and after.folder == before.folder
    assert after.alike == (before.label, frozenset({"same.wiam.hcl"}))
    unchanged = os.stat(folder / "same.wiam.hcl")
    assert (unchanged.st_ino, unchanged.st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)
    assert fresh.alike is None and update_copy(second, top, prefix, False, fresh.folder, fresh.blobs, before).alike is None


def test_a_load_that_keeps_the_documents_of_files_alike_equals_a_fresh_load(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 12, monkeypatch)
    _grow(history, 3)
    top, prefix = repository_of(str(history.specs), str(history.specs))
    shas = git(history.root, "rev-list", "--first-parent", "--reverse", "HEAD").split()
    work = tmp_path / "work"
    work.mkdir()
    for cache_on in ("1", "0"):
        monkeypatch.setenv("WIAM_CACHE", cache_on)
        base = copy_revision(shas[-2], top, prefix, False, str(work))
        kept = load(base.folder, Report())
        head = update_copy(shas[-1], top, prefix, False, base.folder, base.blobs, base)
        alike = head.alike[1]
        reused = load(head.folder, Report(), kept=kept, alike=alike)
        fresh = load(copy_revision(shas[-1], top, prefix, False, str(work)).folder, Report())
        assert alike and reused.data == fresh.data and reused.digest == fresh.digest
        assert all(reused.outlines[os.path.join(head.folder, name)] is kept.outlines[os.path.join(base.folder, name)]
                   for name in alike)
        for name, body in fresh.data["workload"].items():  # every attribute's place, from either side's text
            for path in [("workload", name, "identity", 0, "issuer"), ("workload", name, "owner")]:
                assert reused.where(path)[1:] == fresh.where(path)[1:]


def test_parsing_ahead_puts_every_file_the_coming_commits_bring_in_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(record_module, "can_fork_workers", lambda: True)
    history = History(tmp_path / "repo", 3, monkeypatch)
    _grow(history, 4)
    shas = git(history.root, "rev-list", "--first-parent", "--reverse", "HEAD").split()
    top, prefix = repository_of(str(history.specs), str(history.specs))
    texts = {(path.split("/", 1)[1], git(history.root, "show", f"{sha}:{path}"))
             for sha in shas for path in git(history.root, "ls-tree", "-r", "--name-only", sha, "specs").split()}
    wanted = {(name, text) for name, text in texts if not _fails(name, text)}  # a file with errors is not kept
    assert len(wanted) > 4 and not any(cache.cached(name, text_digest(text)) for name, text in wanted)
    with parsing_ahead(shas, None, top, prefix, False):
        deadline = time.monotonic() + 60
        while not all(cache.cached(name, text_digest(text)) for name, text in wanted):
            assert time.monotonic() < deadline, "the files were not parsed ahead"
            time.sleep(0.05)


def _fails(name, text):
    report = Report()
    read(name, text, report)
    return bool(report.diagnostics)


def test_tuple_ids_looked_up_one_by_one_or_read_at_once_give_the_same_record(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 8, monkeypatch)
    records = {}
    for at_most in (0, record_module.LOOKUPS_AT_MOST):
        monkeypatch.setattr(record_module, "LOOKUPS_AT_MOST", at_most)
        records[at_most] = open_store(str(tmp_path / f"{at_most}.sqlite"))
    for _ in range(3):  # later runs look up the tuples earlier ones wrote
        _grow(history, 4)
        for at_most, store in records.items():
            monkeypatch.setattr(record_module, "LOOKUPS_AT_MOST", at_most)
            record(str(history.specs), store)
    first, second = records.values()
    assert every_row(first) == every_row(second)
    assert recorded_intervals(first) == expected_intervals(history, tmp_path)


def _spread_repository(tmp_path):
    """Twelve workloads on six targets, then four commits that each change one's actions: each commit
    can be sliced (its slice is a quarter of the workloads)."""
    root = init_repo(tmp_path / "repo")
    specs = root / "specs"
    specs.mkdir()
    head = 'issuer "github" {\n  kind = "github_actions"\n}\n' + "".join(
        f'target "aws" "t{n}" {{\n  account_id = "{100000000000 + n}"\n}}\n' for n in range(6))
    actions = {n: ["s3:GetObject"] for n in range(12)}

    def write(message):
        workloads = "".join(
            f'workload "w{n}" {{\n  identity {{\n    issuer     = "github"\n    repository = "acme/w{n}"\n'
            f'    ref        = "refs/heads/main"\n  }}\n  grant "aws" "t{n % 6}" {{\n'
            f'    actions   = {json.dumps(actions[n])}\n    resources = ["arn:aws:s3:::w{n}/*"]\n  }}\n}}\n'
            for n in range(12))
        (specs / "spec.wiam.hcl").write_text(head + workloads)
        commit_all(root, message)
    write("first")
    for n in range(4):
        actions[n] = ["s3:GetObject", "s3:PutObject"]
        write(f"widen w{n}")
    return specs


def test_with_the_cache_off_the_walk_slices_every_commit_after_the_first(tmp_path, monkeypatch):
    specs = _spread_repository(tmp_path)
    cached = open_store(str(tmp_path / "cached.sqlite"))
    record(str(specs), cached)
    monkeypatch.setenv("WIAM_CACHE", "0")
    whole = []
    advance = record_module.advance
    monkeypatch.setattr(record_module, "advance", lambda state, compared, recorded: whole.append(compared.whole) or
                        advance(state, compared, recorded))
    uncached = open_store(str(tmp_path / "uncached.sqlite"))
    outcome = record(str(specs), uncached)
    assert len(outcome.recorded) == 5 and whole == [True, False, False, False, False]  # the first: against nothing
    assert every_row(uncached) == every_row(cached)


def test_postgresql_reads_a_slice_s_subjects_from_the_record_as_sqlite_does(tmp_path, monkeypatch, postgres_url):
    specs = _spread_repository(tmp_path)
    whole = []
    advance = record_module.advance
    monkeypatch.setattr(record_module, "advance", lambda state, compared, recorded: whole.append(compared.whole) or
                        advance(state, compared, recorded))
    lite, pg = open_store(str(tmp_path / "record.sqlite")), open_store(postgres_url)
    for store in (lite, pg):
        record(str(specs), store)
    assert whole == [True, False, False, False, False] * 2  # each slice's subjects read from the record
    assert every_row(lite) == every_row(pg) and every_row(pg)["intervals"]


def test_the_commit_log_counts_each_commit_s_intervals_and_findings(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 9, monkeypatch)
    _grow(history, 8)
    store = open_store(str(tmp_path / "record.sqlite"))
    record(str(history.specs), store)
    spec = spec_of(store, store.rows("SELECT name FROM specs")[0][0])
    log = commit_log(store, spec)
    assert [row["seq"] for row in log] == list(range(1, len(log) + 1)) and any(row["findings"] for row in log)
    for row in log:
        counted = [store.rows(query, (spec, row["seq"]))[0][0] for query in (
            "SELECT count(*) FROM intervals WHERE spec = ? AND began = ?",
            "SELECT count(*) FROM intervals WHERE spec = ? AND ended = ?",
            "SELECT count(*) FROM findings WHERE spec = ? AND seq = ?")]
        assert [row["began"], row["ended"], row["findings"]] == counted
    assert sum(row["began"] for row in log) == store.rows("SELECT count(*) FROM intervals")[0][0]


def test_a_spec_file_where_the_last_commit_had_a_folder_of_its_name_is_recorded(tmp_path):
    """The walk writes each head over the last; a file that takes the name of a folder is written afresh."""
    root = init_repo(tmp_path / "repo")
    specs = root / "specs"
    spec = (EXAMPLES / "github-actions-aws" / "main.wiam.hcl").read_text()
    (specs / "main.wiam.hcl").mkdir(parents=True)
    (specs / "main.wiam.hcl" / "inner.wiam.hcl").write_text(spec)
    folder_commit = commit_all(root, "a folder named like a spec file")
    (specs / "main.wiam.hcl" / "inner.wiam.hcl").unlink()
    (specs / "main.wiam.hcl").rmdir()
    (specs / "main.wiam.hcl").write_text(spec)
    file_commit = commit_all(root, "a spec file of that name")
    store = open_store(str(tmp_path / "record.sqlite"))
    outcome = record(str(specs), store, recursive=True)
    assert outcome.recorded == [folder_commit, file_commit] and outcome.invalid == [folder_commit]
    (errors,), = store.rows("SELECT errors FROM commits WHERE sha = ?", (folder_commit,))
    assert errors.startswith(f"{folder_commit}:specs/main.wiam.hcl: a folder")  # its place in git, no temporary one


def test_a_spec_file_s_folder_the_next_commit_removes_leaves_no_empty_folder_in_the_head(tmp_path):
    """A folder named like a spec file makes a commit invalid; the next, without it, is valid."""
    root = init_repo(tmp_path / "repo")
    specs = root / "specs"
    specs.mkdir()
    (specs / "main.wiam.hcl").write_text((EXAMPLES / "github-actions-aws" / "main.wiam.hcl").read_text())
    (specs / "x.wiam.hcl").mkdir()
    (specs / "x.wiam.hcl" / "inner.wiam.hcl").write_text("# a file in a folder named like a spec file\n")
    folder_commit = commit_all(root, "a folder named like a spec file")
    (specs / "x.wiam.hcl" / "inner.wiam.hcl").unlink()
    (specs / "x.wiam.hcl").rmdir()
    removed = commit_all(root, "the folder removed")
    outcome = record(str(specs), open_store(str(tmp_path / "record.sqlite")), recursive=True)
    assert outcome.recorded == [folder_commit, removed] and outcome.invalid == [folder_commit]
