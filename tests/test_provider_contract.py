"""The provider contract: every registered cloud, and the example skeleton of a fourth one
(tests/example_provider), offers the written interface (wiam.provider), and its parts agree on one
spec built from the cloud's EXAMPLE: plan, access graph, simulation, Terraform and drift's expected
state describe the same principals with the same trust."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from wiam import analysis, cache, registry, schema
from wiam.compile import build_modules, load_valid_model
from wiam.diagnostics import SpecError
from wiam.drift import drift
from wiam.findings import Rule
from wiam.graph import build_graph
from wiam.live import WRONG_ACCOUNT, LiveObject
from wiam.planning import plan_model
from wiam.provider import Discover, Endpoint, Live, Permissions, Provider
from wiam.simulate import simulate
from wiam.terraform import render, versions_tf

TESTS = Path(__file__).resolve().parent
SKELETON = ("example", "example_provider")  # the cloud's name and its package, importable from tests/
CLOUDS = [*registry.names(), SKELETON[0]]
ISSUER = "https://token.actions.githubusercontent.com"
CACHES = (schema.schema, schema._validator, schema._fast_validator, analysis.all_rules, cache._checks_digest)


def _forget() -> None:
    """Caches composed from the registry: the schema, its validators, the rules, validity markers."""
    for cached in CACHES:
        cached.cache_clear()


@pytest.fixture(scope="module", autouse=True)
def skeleton_registered():
    """The skeleton as a newcomer adds a cloud: one entry in registry.CLOUDS, nothing else."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(registry.CLOUDS, *SKELETON)
        _forget()
        yield
    _forget()


def _provider(cloud: str) -> Provider:
    return registry.get(cloud)


def _example(cloud: str):
    """The cloud's EXAMPLE; every test of a cloud starts here, so an unconverted one fails saying so."""
    example = _provider(cloud).EXAMPLE
    if example is None:
        pytest.fail(f"provider {cloud!r} has no EXAMPLE: it still runs through providers/_legacy.py; "
                    f"converting it to the interface of wiam.provider (issue 17) gives it one")
    return example


def _members(protocol: type) -> tuple[list[str], dict[str, inspect.Signature]]:
    """A protocol's data members and its methods' signatures (without self)."""
    methods = {name: inspect.signature(value) for name, value in vars(protocol).items()
               if inspect.isfunction(value) and not name.startswith("_")}
    return [name for name in protocol.__annotations__ if name not in methods], methods


def _parameters(signature: inspect.Signature) -> list[str]:
    return [name for name, p in signature.parameters.items() if name != "self" and p.kind != p.VAR_KEYWORD]


def _keywords(signature: inspect.Signature) -> set[str] | None:
    """The keywords a function takes beyond its positional ones, all optional; None for **kwargs."""
    found = set()
    for name, parameter in signature.parameters.items():
        if parameter.kind == parameter.VAR_KEYWORD:
            return None
        assert parameter.default is not parameter.empty, f"{name} has no default"
        found.add(name)
    return found


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize("protocol, part", [(Provider, None), (Permissions, "permissions"), (Live, "live"),
                                            (Discover, "discover")])
def test_it_offers_the_written_interface(cloud, protocol, part):
    _example(cloud)
    provider = _provider(cloud)
    implementation = getattr(provider, part) if part else provider
    assert isinstance(implementation, protocol)
    data, methods = _members(protocol)
    assert all(hasattr(implementation, name) for name in data)
    for name, signature in methods.items():
        offered = inspect.signature(getattr(implementation, name))
        if any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):  # live.connect(**endpoints)
            assert _keywords(offered) in (None, {e.keyword for e in provider.ENDPOINTS}), f"{cloud} {part}.{name}"
        else:  # the protocol's parameters by name; more only with defaults (schema = partial(packaged, ...))
            wanted = _parameters(signature)
            assert _parameters(offered)[:len(wanted)] == wanted, \
                f"{cloud} {part or 'provider'}.{name}{offered}: wiam.provider names its parameters {wanted}"
            assert _keywords(offered.replace(parameters=list(offered.parameters.values())[len(wanted):])) is not None


@pytest.mark.parametrize("cloud", CLOUDS)
def test_its_constants_name_it(cloud):
    _example(cloud)
    provider = _provider(cloud)
    assert provider.CLOUD == cloud
    assert isinstance(provider.TERRAFORM_PROVIDER, tuple) and all(isinstance(p, str) for p in provider.TERRAFORM_PROVIDER)
    local, source, constraint = provider.TERRAFORM_PROVIDER
    # Terraform's forms: a local name, [HOSTNAME/]NAMESPACE/TYPE, and comma-separated version constraints.
    assert re.fullmatch(r"[a-z][a-z0-9_-]*", local) and re.fullmatch(r"([a-z0-9.-]+/)?[a-z0-9-]+/[a-z0-9-]+", source)
    assert re.fullmatch(r"(?:[<>=~!]+ ?)?\d[\w.-]*(?:, *(?:[<>=~!]+ ?)?\d[\w.-]*)*", constraint)
    connect = inspect.signature(provider.live.connect).parameters
    for endpoint in provider.ENDPOINTS:
        assert isinstance(endpoint, Endpoint)
        assert endpoint.option.startswith(f"--{cloud}-") and endpoint.envvar.startswith(f"WIAM_{cloud.upper()}_")
        assert endpoint.keyword in connect and endpoint.help
    assert all(isinstance(package, str) for package in provider.DATA_PACKAGES)
    assert all(isinstance(rule, Rule) for rule in provider.RULES)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_its_schema_part_composes_with_the_core(cloud):
    _example(cloud)
    part = _provider(cloud).schema()
    assert {"target", "grant"} <= set(part)
    core = schema.packaged("wiam.schemas", schema.CORE_FILE)["$defs"]
    assert not set(part.get("$defs", {})) & set(core)
    assert not {f"{cloud}_target", f"{cloud}_grant"} & set(core)
    assert schema.schema()["$defs"][f"{cloud}_target"] == part["target"]


def _spec(cloud: str, example, identities: list[dict], audience: str | None) -> dict:
    issuer = {"kind": "github_actions", **({"audience": audience} if audience else {})}
    return {"issuer": {"github": issuer},
            "target": {cloud: {"x": example.target}},
            "workload": {"app": {"identity": [{"issuer": "github", "repository": "acme/app", **fields}
                                              for fields in identities],
                                 "grant": {cloud: {"x": example.grant}}}}}


@contextmanager
def _loaded(spec: dict):
    """The spec written as JSON into a fresh folder, loaded valid, and its plans."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "main.wiam.json").write_text(json.dumps(spec), encoding="utf-8")
        model = load_valid_model(folder)
        yield model, plan_model(model)


def _token(identity, audience: str | None, subject: str | None = None) -> dict:
    claims = {"iss": identity.issuer.url, "sub": subject or identity.subject}
    return {**claims, "aud": audience} if audience else claims


def _refused(verdict) -> bool:
    return not verdict.accepted and "sub" not in verdict.passed


BRANCHES = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12).map(lambda b: f"refs/heads/{b}")


@pytest.mark.parametrize("cloud", CLOUDS)
@settings(max_examples=8, deadline=None)
@given(refs=st.lists(BRANCHES, min_size=1, max_size=3, unique=True),
       audience=st.sampled_from([None, "wiam-contract"]))
def test_plan_graph_simulation_terraform_and_live_agree(cloud, refs, audience):
    provider, example = _provider(cloud), _example(cloud)
    with _loaded(_spec(cloud, example, [{"ref": ref} for ref in refs], audience)) as (model, plans):
        plan = plans[(cloud, "x")]
        assert plan.cloud == cloud and plan.target == "x" and set(plan.principals) == {"app"}
        access = build_graph(model, plans)
        for principal in plan.principals.values():
            node = access.graph.nodes[principal.node]
            assert node["type"] == "principal" and node["cloud"] == cloud and node["workload"] == principal.workload
            assert access.graph.edges["workload:app", principal.node, "federates"]["trust"] == principal.trust

        nodes = sorted(p.node for p in plan.principals.values())
        for identity in model.workloads["app"].identities:
            verdicts = simulate(model, _token(identity, audience), plans)
            assert sorted(v.node for v in verdicts) == nodes  # one verdict per principal
            for verdict in verdicts:
                # Without an audience in the spec the token cannot know the cloud's default: only aud may fail.
                assert verdict.accepted if audience else {r.split(":")[0] for r in verdict.reasons} <= {"aud"}
            # One character off the exact subject (no branch holds a '#'): refused everywhere.
            near = simulate(model, _token(identity, audience, identity.subject[:-1] + "#"), plans)
            assert len(near) == len(nodes) and all(_refused(v) for v in near)

        def emitted(plans) -> list[bytes]:
            modules = build_modules(plans, False)
            return [part for _, module in sorted(modules.items())
                    for part in (render(module.to_json()), versions_tf(module.required_providers))]
        first = emitted(plans)
        assert first == emitted(plans) == emitted(plan_model(model))  # deterministic, planned again too
        module = build_modules(plans, False)["main.tf.json"]
        local, source, constraint = provider.TERRAFORM_PROVIDER
        assert module.required_providers[local] == {"source": source, "version": constraint}
        document = json.loads(first[0])
        for workload, values in plan.outputs.items():
            shown = document["output"][workload]["value"]
            assert all(shown[f"{cloud}_x_{name}"] == value for name, value in values.items())

        expected = provider.live.expected(plan)
        assert expected and all(isinstance(o, LiveObject) for o in expected)
        assert len({(o.kind, o.name) for o in expected}) == len(expected)
        unchecked = provider.live.unchecked(plan)
        assert isinstance(unchecked, int) and unchecked >= 0

        reached = provider.reach(example.grant, example.target, {"x": example.target, "y": example.target})
        assert isinstance(reached, set) and reached <= {"x", "y"}


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_disabled_identity_is_refused_and_the_others_still_accepted(cloud):
    example = _example(cloud)
    identities = [{"ref": "refs/heads/main"},
                  {"ref": "refs/heads/release", "disabled": True, "reason": "INC-7: runner compromised"}]
    with _loaded(_spec(cloud, example, identities, "wiam-contract")) as (model, plans):
        active, disabled = model.workloads["app"].identities
        assert disabled.disabled and not active.disabled
        assert all(_refused(v) for v in simulate(model, _token(disabled, "wiam-contract"), plans))
        accepted = simulate(model, _token(active, "wiam-contract"), plans)
        assert accepted and all(v.accepted for v in accepted)


def test_the_skeleton_compiles_end_to_end_through_wiam_compile(tmp_path):
    """A newcomer's cloud through the command line, in a process of its own: the skeleton importable
    and one line in the registry, as a package under providers/ would be."""
    example = _example(SKELETON[0])
    spec, out = tmp_path / "spec", tmp_path / "out"
    spec.mkdir()
    (spec / "main.wiam.json").write_text(json.dumps(_spec(SKELETON[0], example, [{"ref": "refs/heads/main"}], None)),
                                         encoding="utf-8")
    program = ("import runpy, sys; from wiam import registry; registry.CLOUDS[sys.argv[1]] = sys.argv[2]; "
               "sys.argv = ['wiam', *sys.argv[3:]]; runpy.run_module('wiam', run_name='__main__')")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
                   "WIAM_CACHE": "0"}
    result = subprocess.run([sys.executable, "-c", program, *SKELETON, "compile", str(spec), "--out", str(out)],
                            capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    main = json.loads((out / "main.tf.json").read_text(encoding="utf-8"))
    principal = main["resource"]["example_principal"]["x__app"]
    assert principal["trusted_subjects"] == [{"issuer": ISSUER, "subject": "repo:acme/app:ref:refs/heads/main",
                                              "audience": "example:wiam"}]
    assert main["resource"]["example_binding"]["x__app"]["permissions"] == ["read"]
    assert main["output"]["app"]["value"] == {"example_x_principal_id": "${example_principal.x__app.id}"}
    assert 'source  = "example-corp/example"' in (out / "versions.tf").read_text(encoding="utf-8")


def test_the_skeleton_drifts_through_the_core():
    """wiam.drift over a cloud it has never heard of: an account in memory holding the plan's
    objects, one changed, none, or another account."""
    from example_provider.live import Connection

    example = _example(SKELETON[0])
    with _loaded(_spec(SKELETON[0], example, [{"ref": "refs/heads/main"}], None)) as (model, plans):
        expected = _provider(SKELETON[0]).live.expected(plans[(SKELETON[0], "x")])
        account = example.target["account"]

        def against(connection):
            (result,) = drift(model, {SKELETON[0]: connection}, plans=plans)
            return result

        assert not against(Connection(accounts={account: expected})).drifted
        edited = replace(expected[0], state={**expected[0].state, "trusted_subjects": []})
        changed = against(Connection(accounts={account: [edited, *expected[1:]]}))
        assert [(e.kind, e.name) for e, _, _ in changed.changed] == [(edited.kind, edited.name)]
        empty = against(Connection(accounts={account: []}))
        assert sorted((o.kind, o.name) for o in empty.missing) == sorted((o.kind, o.name) for o in expected)
        assert against(Connection()).reason == WRONG_ACCOUNT


def test_the_skeleton_discovers_through_the_core():
    """wiam.discovery over a cloud it has never heard of: the account's credentials but its own
    principals', with the target named; an account the connection does not reach is unread."""
    from example_provider.live import Connection
    from wiam import discovery
    from wiam.secretless import Credential

    example = _example(SKELETON[0])
    with _loaded(_spec(SKELETON[0], example, [{"ref": "refs/heads/main"}], None)) as (model, plans):
        plan = plans[(SKELETON[0], "x")]
        account = example.target["account"]
        ours = next(iter(plan.principals.values())).name
        held = [Credential("aws-access-key", SKELETON[0], owner="legacy-bot", id="k1"),
                Credential("aws-access-key", SKELETON[0], owner=ours, id="k2")]
        found = discovery.find(model, None, lambda cloud: Connection(accounts={account: []},
                                                                     credentials={account: held}), plans)
        assert [(c.id, c.target) for c in found.credentials] == [("k1", "x")] and not found.unread
        unread = discovery.find(model, {SKELETON[0]}, lambda cloud: Connection(), plans)
        assert not unread.credentials and [(u.target, u.reason) for u in unread.unread] == [("x", WRONG_ACCOUNT)]


def test_the_skeletons_rules_run_and_are_suppressed_by_their_id():
    """Registering a cloud registers its rules: analysis runs them, and a spec may suppress them."""
    example = _example(SKELETON[0])
    spec = _spec(SKELETON[0], example, [{"ref": "refs/heads/main"}], None)
    grant = spec["workload"]["app"]["grant"][SKELETON[0]]["x"]
    grant["permissions"] = ["admin"]
    with _loaded(spec) as (model, _):
        assert [(f.rule, f.suppressed) for f in analysis.analyze(model) if f.rule.startswith("EX")] == [("EX101", None)]
    spec["workload"]["app"]["suppress"] = {"EX101": {"reason": "break-glass account"}}
    with _loaded(spec) as (model, _):
        assert [(f.rule, f.suppressed) for f in analysis.analyze(model) if f.rule.startswith("EX")] == \
            [("EX101", "break-glass account")]
    spec["workload"]["app"]["suppress"] = {"EX102": {"reason": "no such rule"}}
    with pytest.raises(SpecError, match="no analysis rule 'EX102'"):
        with _loaded(spec):
            pass


def test_the_skeletons_limit_is_checked_while_planning():
    """Valid means planned without errors: past its subject limit, the skeleton's spec is refused
    at the workload, with a fix."""
    from example_provider.plan import MAX_SUBJECTS

    refs = [{"ref": f"refs/heads/b{n}"} for n in range(MAX_SUBJECTS + 1)]
    with pytest.raises(SpecError) as raised:
        with _loaded(_spec(SKELETON[0], _example(SKELETON[0]), refs, None)):
            pass
    (error,) = raised.value.diagnostics
    assert error.block == 'workload "app"' and error.pos.file.endswith("main.wiam.json") and error.pos.line
    assert f"at most {MAX_SUBJECTS}" in error.message and "fix: split" in error.render()


def test_the_skeletons_schema_refuses_a_bad_setting_with_its_hint():
    """A newcomer's schema.json is the spec's: its x-hint is the fix, at the setting."""
    example = _example(SKELETON[0])
    spec = _spec(SKELETON[0], example, [{"ref": "refs/heads/main"}], None)
    spec["target"][SKELETON[0]]["x"] = {**example.target, "account": "Not an account!"}
    with pytest.raises(SpecError) as raised:
        with _loaded(spec):
            pass
    (error,) = raised.value.diagnostics
    hint = _provider(SKELETON[0]).schema()["target"]["properties"]["account"]["x-hint"]
    assert error.block == f'target "{SKELETON[0]}" "x"' and error.pos.line and error.hint == hint
