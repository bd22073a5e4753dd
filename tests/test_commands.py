"""The command layer knows no cloud: endpoint options come from each provider's ENDPOINTS, import
asks every provider what to reuse, and the run's side effects (valid marks) happen in the commands."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from support.paths import EXAMPLES
from wiam import cache, registry
from wiam.cli import app
from wiam.commands.common import with_endpoints
from wiam.compile import load_valid_model
from wiam.diagnostics import SpecError
from wiam.importing import Imported, find, to_text, write
from wiam.live import Unreadable
from wiam.loader import UsageError
from wiam.provider import Endpoint

runner = CliRunner()
MULTI = EXAMPLES / "multi-cloud"


def _fake_clouds(monkeypatch, providers: dict) -> None:
    monkeypatch.setattr(registry, "names", lambda: sorted(providers))
    monkeypatch.setattr(registry, "providers", lambda: sorted(providers.items()))
    monkeypatch.setattr(registry, "get", lambda cloud: providers[cloud])


def _run(command, *args, env=None):
    app = typer.Typer()
    app.command()(command)
    app.command("other")(lambda: None)  # two commands: the first is then named, as in wiam
    return runner.invoke(app, ["endpoints", *args], env=env)


option = st.from_regex(r"[a-z]{1,8}(-[a-z]{1,8}){0,2}", fullmatch=True)


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.sampled_from(["north", "south"]), st.lists(option, min_size=1, max_size=3, unique=True),
                       min_size=1), st.data())
def test_endpoint_options_are_each_providers_and_reach_connect_by_keyword(declared, data):
    """Whatever providers declare becomes an option and an environment variable, and each value
    arrives under its cloud and keyword; the rest are None."""
    names = {f"{cloud}-{name}" for cloud, names in declared.items() for name in names}
    providers = {cloud: SimpleNamespace(ENDPOINTS=tuple(
        Endpoint(f"kw_{name.replace('-', '_')}", f"--{cloud}-{name}", f"WIAM_{cloud}_{name}".upper().replace("-", "_"),
                 f"help {name}") for name in names_)) for cloud, names_ in declared.items()}
    chosen = data.draw(st.lists(st.sampled_from(sorted(names)), unique=True))
    by_env = data.draw(st.sets(st.sampled_from(chosen))) if chosen else set()
    seen = {}
    with pytest.MonkeyPatch.context() as patch:
        _fake_clouds(patch, providers)

        @with_endpoints
        def endpoints(flag: bool = typer.Option(False, "--flag"), endpoints: dict = None) -> None:
            seen.update(endpoints, flag=flag)

        args = [a for name in chosen if name not in by_env for a in (f"--{name}", f"value-{name}")]
        env = {f"WIAM_{name}".upper().replace("-", "_"): f"value-{name}" for name in by_env}
        result = _run(endpoints, "--flag", *args, env=env)
    assert result.exit_code == 0, result.output
    assert seen.pop("flag") is True
    assert seen == {cloud: {f"kw_{name.replace('-', '_')}": f"value-{cloud}-{name}" if f"{cloud}-{name}" in chosen
                            else None for name in names_} for cloud, names_ in declared.items()}


def test_a_cloud_without_endpoints_has_no_options(monkeypatch):
    _fake_clouds(monkeypatch, {"north": SimpleNamespace(ENDPOINTS=())})

    @with_endpoints
    def endpoints(endpoints: dict = None) -> None:
        typer.echo(json.dumps(endpoints))

    assert json.loads(_run(endpoints).output) == {"north": {}}
    result = _run(endpoints, "--north-endpoint", "x")
    assert result.exit_code == 2 and "No such option" in result.output


class _Live:
    """A provider's live part that imports into one setting, nothing, or cannot read."""

    def __init__(self, found=None, unreadable=False):
        self.found, self.unreadable, self.asked = found, unreadable, []

    def importable(self, model, target, connection):
        self.asked.append((target.name, connection))
        if self.unreadable:
            raise Unreadable("denied for key AKIAABCDEFGHIJKLMNOP")
        return self.found


@pytest.fixture
def multi(monkeypatch):
    model = load_valid_model(str(MULTI))
    lives = {"aws": _Live({"existing_oidc_providers": {"github": "arn:x"}}), "azure": _Live(unreadable=True),
             "gcp": _Live({})}
    _fake_clouds(monkeypatch, {cloud: SimpleNamespace(live=live) for cloud, live in lives.items()})
    return model, lives


def test_import_asks_every_target_connecting_once_per_cloud(multi):
    model, lives = multi
    connected = []
    found = find(model, None, lambda cloud: connected.append(cloud) or f"to {cloud}")
    assert connected == sorted({cloud for cloud, _ in model.targets})
    for cloud, live in lives.items():
        assert live.asked == [(name, f"to {cloud}") for c, name in sorted(model.targets) if c == cloud]
    shown = {(i.cloud, i.target): i for i in found}
    assert {cloud for cloud, _ in shown} == {"aws", "azure"}  # gcp imports nothing: left out
    for (cloud, name), item in shown.items():
        if cloud == "aws":
            assert (item.setting, item.added, item.error) == ("existing_oidc_providers", {"github": "arn:x"}, None)
        else:
            assert item.setting is None and item.error == "denied for key [redacted]"


def test_a_name_that_leaves_only_targets_importing_nothing_is_a_usage_error(multi):
    """Every multi-cloud target is named prod: prod reads the AWS one (and the unreadable Azure one),
    gcp.prod is refused, as is a name no target has."""
    model, lives = multi
    assert {(i.cloud, i.target) for i in find(model, ["prod"], lambda cloud: None)} == {("aws", "prod"), ("azure", "prod")}
    with pytest.raises(UsageError, match=r"^--target gcp\.prod: wiam imports nothing into gcp targets$"):
        find(model, ["aws.prod", "gcp.prod"], lambda cloud: None)
    with pytest.raises(UsageError, match=r"^no target named 'nope' \(targets: aws.prod, azure.prod, gcp.prod\)$"):
        find(model, ["nope"], lambda cloud: None)


def test_import_text_names_issuers_and_what_to_do():
    model = load_valid_model(str(MULTI))
    issuer = sorted(model.issuers)[0]
    found = [Imported("aws", "a", "existing_oidc_providers", {issuer: "arn:\x1b[31m"}),
             Imported("aws", "b", "existing_oidc_providers", {"other": "v"}, file="f.wiam.hcl"),
             Imported("aws", "c", None, error="no credentials"), Imported("aws", "d", "s", {})]
    assert to_text(found, model).splitlines() == [
        f"aws a: issuer {issuer} -> arn:\\x1b[31m", "  run again with --write to add them to the spec",
        "aws b: other -> v", "  written to f.wiam.hcl", "aws c: not read: no credentials", "aws d: nothing to import"]


def test_commands_mark_the_spec_known_valid_and_loading_alone_does_not(tmp_path, monkeypatch):
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WIAM_CACHE", "1")
    digest = load_valid_model(str(MULTI)).document.digest
    assert not cache.known_valid(digest)
    for args in (["validate", str(MULTI)], ["compile", str(MULTI), "--out", str(tmp_path / "out")]):
        assert runner.invoke(app, args).exit_code == 0
        assert cache.known_valid(digest)
        monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / args[0]))
    assert runner.invoke(app, ["diff", str(MULTI), str(MULTI)]).exit_code == 0
    assert cache.known_valid(digest)


def test_catalog_refresh_says_where_it_could_not_write(monkeypatch):
    def refresh(connect, folder, date):
        raise PermissionError(13, "Permission denied")
    _fake_clouds(monkeypatch, {"aws": SimpleNamespace(live=SimpleNamespace(refresh_catalog=refresh))})
    result = runner.invoke(app, ["catalog", "refresh", "--cloud", "aws"])
    assert result.exit_code == 2
    assert "cannot write the catalogs into the installed package's catalog folder: Permission denied (use --out)" in (
        result.output)


def test_import_writes_each_edit_and_puts_every_file_back_when_the_spec_breaks(tmp_path):
    text = (EXAMPLES / "github-actions-aws" / "main.wiam.hcl").read_text()
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "main.wiam.hcl").write_text(text)
    arn = "arn:aws:iam::210987654321:oidc-provider/token.actions.githubusercontent.com"
    good = [Imported("aws", "prod", "existing_oidc_providers", {"github": arn}), Imported("aws", "staging", "s", {})]
    write(load_valid_model(str(spec)), good, str(spec), False)
    assert good[0].file == str(spec / "main.wiam.hcl") and good[1].file is None
    edited = (spec / "main.wiam.hcl").read_text()
    assert load_valid_model(str(spec)).targets[("aws", "prod")].settings["existing_oidc_providers"] == {"github": arn}

    (spec / "main.wiam.hcl").write_text(text)
    broken = [Imported("aws", "prod", "existing_oidc_providers", {"github": arn}),
              Imported("aws", "staging", "existing_oidc_providers", {"github": "not-an-arn"})]
    with pytest.raises(SpecError):
        write(load_valid_model(str(spec)), broken, str(spec), False)
    assert (spec / "main.wiam.hcl").read_text() == text != edited
