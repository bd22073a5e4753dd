"""Hostile specs, generated: every command exits 0, 1 or 2 without a traceback; the cache and the
file format never change a result; compiled Terraform holds no live template; every graph export
reads back; compiled trust (and `wiam simulate`) admits exactly the named subjects.

Seeded and small by default (profile "ci"). A longer, random run:

    WIAM_FUZZ=long python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from pathlib import Path

import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import test_export
from support.cli import run_wiam
from support.specs import all_strings
from trust_eval import aws_roles_accepting, azure_identities_accepting, cel_admits, gcp_principals_accepting
from wiam.cli import app
from wiam.compile import compile_folder, load_model
from wiam.diagnostics import SpecError
from wiam.graph import build_graph
from wiam.simulate import simulate as simulate_token
from wiam.validate import INVISIBLE_CATEGORIES

settings.register_profile("ci", max_examples=30, derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=400, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings.get_profile(os.environ.get("WIAM_FUZZ", "ci"))

# Strings an attacker writes into a pull request: template openers and their escapes, quotes,
# backslashes, line breaks, CEL and JSON metacharacters, wildcards, non-ASCII.
FRAGMENTS = ["${", "%{", "$${", "%%{", "$$", "$", "%", "}", "{", '"', "'", "\\", "\\n", "\n", "\r", "\t", "]", "[",
             ") || true || (", "*", "?", ":", "/", " ", "é", "漢", "😀", "\u2028", "\u0000", "${aws_iam_role.x.arn}",
             "%{ if true }x%{ endif }", "${*}", "${?}", "${$}", "a", "Z", "0", "-", "main"]
BREAKS = {"\n", "\r", "\u2028", "\u2029", "\u0085"}

unicode_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=3)  # valid Unicode only
raw_hostile = st.lists(st.sampled_from(FRAGMENTS) | unicode_text, min_size=1, max_size=5).map("".join).filter(bool)
# Validation refuses controls and invisible characters in values (test_validation): here they become
# visible stand-ins so that specs compile; RAW_CONTROLS below keeps them raw, so refusals are compared too.
hostile = raw_hostile.map(lambda s: "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) in INVISIBLE_CATEGORIES
                                            else c for c in s))
hostile_line = hostile.map(lambda s: "".join(" " if c in BREAKS else c for c in s)).filter(lambda s: s.strip())
url_path = hostile_line.map(lambda s: re.sub(r"[\s?#]", "-", s))
names = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True) | st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,4}(_[A-Za-z0-9-]{1,3})?",
                                                                                fullmatch=True)

KINDS = ["github_actions", "gitlab_ci", "kubernetes", "spiffe", "terraform_cloud", "generic_oidc"]
DEFAULT_URLS = {"github_actions": "https://token.actions.githubusercontent.com", "gitlab_ci": "https://gitlab.com",
                "terraform_cloud": "https://app.terraform.io"}
TARGETS = {
    "aws": {"account_id": "123456789012"},
    "gcp": {"project_id": "acme-prod", "project_number": "123456789012"},
    "azure": {"tenant_id": "00000000-0000-0000-0000-000000000000",
              "subscription_id": "11111111-1111-1111-1111-111111111111",
              "resource_group": "workload-identities", "location": "eastus"},
}


def kill_switch(draw, body: dict) -> dict:
    if draw(st.integers(0, 7)) == 0:
        body.update(disabled=True, reason=draw(hostile_line))
    return body


@st.composite
def issuers(draw) -> dict:
    found = {}
    for index, kind in enumerate(draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True))):
        body = {"kind": kind}
        if kind not in DEFAULT_URLS:  # a host of its own: one issuer per URL
            body["url"] = f"https://{kind.replace('_', '-')}.example.com/" + draw(url_path)
        if draw(st.booleans()):
            body["audience"] = draw(hostile)
        if draw(st.booleans()):
            body["description"] = draw(hostile)
        found[f"{kind.split('_')[0]}-{index}"] = kill_switch(draw, body)
    return found


def identity_fields(draw, kind: str) -> dict:
    """The fields of one identity of `kind`, its free-text ones hostile."""
    if kind == "github_actions":
        fields = {"repository": draw(st.from_regex(r"[A-Za-z0-9_.-]{1,6}/[A-Za-z0-9_.-]{1,6}", fullmatch=True))}
        pin = draw(st.sampled_from(["ref", "environment", "pull_request"]))
        fields[pin] = {"ref": "refs/heads/" + draw(hostile), "environment": draw(hostile), "pull_request": True}[pin]
        if draw(st.booleans()):
            fields.update(owner_id=str(draw(st.integers(1, 10**9))), repository_id=str(draw(st.integers(1, 10**9))))
        return fields
    if kind == "gitlab_ci":
        return {"project_path": draw(st.from_regex(r"[a-z0-9]{1,5}(/[a-z0-9_.-]{1,5}){1,2}", fullmatch=True)),
                "ref_type": draw(st.sampled_from(["branch", "tag"])),
                "ref": draw(hostile.filter(lambda s: not s.startswith("refs/")))}
    if kind == "kubernetes":
        return {"namespace": draw(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?", fullmatch=True)),
                "service_account": draw(st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,6}[a-z0-9])?", fullmatch=True))}
    if kind == "spiffe":  # its path may hold $ ' ( ) * + , ; = : @ % but no braces
        return {"spiffe_id": "spiffe://td.example/" + draw(st.from_regex(r"[A-Za-z0-9._~!$&'()*+,;=:@%-]{1,10}",
                                                                        fullmatch=True))}
    if kind == "terraform_cloud":
        return {"organization": draw(hostile), "project": draw(hostile), "workspace": draw(hostile),
                "run_phase": draw(st.sampled_from(["plan", "apply"]))}
    return {"subject": draw(hostile)}


def expected_subject(kind: str, fields: dict) -> str:
    """The subject claim each issuer puts in its tokens, written from the issuers' documentation."""
    if kind == "github_actions":
        owner, repo = fields["repository"].split("/")
        if "owner_id" in fields:
            owner, repo = f"{owner}@{fields['owner_id']}", f"{repo}@{fields['repository_id']}"
        pin = next(f"{k}:{fields[k]}" for k in ("ref", "environment") if k in fields) if (
            "pull_request" not in fields) else "pull_request"
        return f"repo:{owner}/{repo}:{pin}"
    if kind == "gitlab_ci":
        return f"project_path:{fields['project_path']}:ref_type:{fields['ref_type']}:ref:{fields['ref']}"
    if kind == "kubernetes":
        return f"system:serviceaccount:{fields['namespace']}:{fields['service_account']}"
    if kind == "terraform_cloud":
        return (f"organization:{fields['organization']}:project:{fields['project']}:workspace:{fields['workspace']}"
                f":run_phase:{fields['run_phase']}")
    return fields["spiffe_id" if kind == "spiffe" else "subject"]


def grant(draw, cloud: str) -> dict:
    if cloud == "aws":
        body = {"actions": draw(st.lists(st.sampled_from(["s3:GetObject", "s3:PutObject", "sqs:SendMessage"]),
                                         min_size=1, max_size=2, unique=True)),
                "resources": ["arn:aws:s3:::" + draw(hostile_line)]}
        if draw(st.booleans()):
            body["conditions"] = {"StringEquals": {draw(hostile_line): draw(hostile)}}
        return body
    if cloud == "gcp":
        body = {"roles": ["roles/pubsub.publisher"], "mode": draw(st.sampled_from(["service_account", "direct"]))}
        if draw(st.booleans()):
            body["resource"] = "projects/acme-prod/topics/" + draw(hostile_line.map(lambda s: s.replace("/", "-")))
        return body
    body = {"roles": [draw(st.sampled_from(["Reader", "Storage Blob Data Reader"]))]}
    if draw(st.booleans()):
        body["scope"] = f"/subscriptions/{TARGETS['azure']['subscription_id']}/resourceGroups/" + draw(
            hostile_line.map(lambda s: s.replace("/", "-")))
    return body


@st.composite
def documents(draw) -> dict:
    """A spec as the data all three formats read into."""
    found_issuers = draw(issuers())
    clouds = draw(st.lists(st.sampled_from(sorted(TARGETS)), min_size=1, max_size=3, unique=True))
    target_names = {cloud: draw(names) for cloud in clouds}
    workloads = {}
    for name in draw(st.lists(names, min_size=1, max_size=3, unique=True)):
        identities = []
        for _ in range(draw(st.integers(1, 3))):
            issuer = draw(st.sampled_from(sorted(found_issuers)))
            fields = {"issuer": issuer, **identity_fields(draw, found_issuers[issuer]["kind"])}
            if found_issuers[issuer]["kind"] == "generic_oidc" and draw(st.booleans()):
                fields["audience"] = draw(hostile)
            identities.append(kill_switch(draw, fields))
        granted = draw(st.lists(st.sampled_from(clouds), min_size=1, max_size=len(clouds), unique=True))
        body = {"identity": identities,
                "grant": {cloud: {target_names[cloud]: grant(draw, cloud)} for cloud in granted}}
        if draw(st.booleans()):
            body["description"] = draw(hostile)
        if draw(st.booleans()):
            body["owner"] = draw(st.from_regex(r"[A-Za-z0-9 _.:/=+@-]{1,12}", fullmatch=True))
        if draw(st.integers(0, 3)) == 0:
            body["suppress"] = {"WIAM003": {"reason": draw(hostile_line)}}
        workloads[name] = kill_switch(draw, body)
    return {"issuer": found_issuers, "target": {c: {target_names[c]: dict(TARGETS[c])} for c in clouds},
            "workload": workloads}


# No negative numbers: the HCL reader takes `-1` for an expression (a reader bug, reported).
WRONG_VALUES = st.sampled_from([0, 2**53, 1.5, True, False, [], ["x"], {}, {"k": "v"}, "", "x"]) | hostile


def block_bodies(document: dict):
    """Path and body of every block: what HCL writes as `name = value` lines."""
    for name, body in document["issuer"].items():
        yield ("issuer", name), body
    for cloud, named in document["target"].items():
        for name, body in named.items():
            yield ("target", cloud, name), body
    for name, body in document["workload"].items():
        yield ("workload", name), body
        for index, identity in enumerate(body["identity"]):
            yield ("workload", name, "identity", index), identity
        for cloud, per_target in body["grant"].items():
            for target, settings in per_target.items():
                yield ("workload", name, "grant", cloud, target), settings
        for rule, entry in body.get("suppress", {}).items():
            yield ("workload", name, "suppress", rule), entry


@st.composite
def broken_documents(draw) -> dict:
    """A spec with attributes of the wrong type or value, dropped, or unknown: errors to compare."""
    document = draw(documents())
    for _ in range(draw(st.integers(1, 3))):
        _, body = draw(st.sampled_from(list(block_bodies(document))))
        attributes = [k for k in body if k not in ("identity", "grant", "suppress")]
        action = draw(st.sampled_from(["retype", "drop", "unknown"]))
        if action == "unknown" or not attributes:
            body[draw(st.sampled_from(["bogus", "kind", "subject", "roles", "url"]))] = draw(WRONG_VALUES)
        elif action == "retype":
            body[draw(st.sampled_from(attributes))] = draw(WRONG_VALUES)
        else:
            del body[draw(st.sampled_from(attributes))]
    return document


# The same spec in each format

def hcl_string(text: str) -> str:
    """An HCL quoted string holding exactly `text`."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif ord(char) < 0x20 or char in BREAKS or ord(char) == 0x7f:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return _TEMPLATE_OPENER.sub(_escape_opener, "".join(out))


_TEMPLATE_OPENER = re.compile(r"([$%]+)(?=\{)")


def _escape_opener(match: re.Match) -> str:
    """`${` is written `$${`; a longer run such as `$${` as \\u escapes, which python-hcl2 cannot
    read doubled (`"$$${"` is a syntax error there, though HCL reads it as `$${`)."""
    run = match[1]
    return run * 2 if len(run) == 1 else "".join(f"\\u{ord(c):04x}" for c in run)


def hcl_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{hcl_string(value)}"'
    if isinstance(value, list):
        return "[" + ", ".join(hcl_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f'"{hcl_string(k)}" = {hcl_value(v)}' for k, v in value.items()) + " }"
    return json.dumps(value)


def hcl_block(header: str, body: dict, blocks: tuple = (), indent: str = "") -> str:
    inner = indent + "  "
    text = f"{indent}{header} {{\n"
    for key, value in body.items():
        if key == "identity" and "identity" in blocks:
            text += "".join(hcl_block("identity", item, indent=inner) for item in value)
        elif key == "grant" and "grant" in blocks:
            text += "".join(hcl_block(f'grant "{cloud}" "{target}"', settings, indent=inner)
                            for cloud, per_target in value.items() for target, settings in per_target.items())
        elif key == "suppress" and "suppress" in blocks:
            text += "".join(hcl_block(f'suppress "{rule}"', entry, indent=inner) for rule, entry in value.items())
        else:
            text += f"{inner}{key} = {hcl_value(value)}\n"
    return text + f"{indent}}}\n"


def to_hcl(document: dict) -> str:
    parts = [hcl_block(f'issuer "{name}"', body) for name, body in document["issuer"].items()]
    parts += [hcl_block(f'target "{cloud}" "{name}"', body)
              for cloud, named in document["target"].items() for name, body in named.items()]
    parts += [hcl_block(f'workload "{name}"', body, ("identity", "grant", "suppress"))
              for name, body in document["workload"].items()]
    return "\n".join(parts)


class _YamlDumper(yaml.SafeDumper):
    """Double quotes for text with line breaks: PyYAML writes a NEL (U+0085) raw into a single-quoted
    scalar, which then reads back as a space. No anchors: a value generated once and used twice is
    written out at each place, as people write it (wiam refuses aliases)."""

    def ignore_aliases(self, data) -> bool:
        return True


_YamlDumper.add_representer(str, lambda dumper, text: dumper.represent_scalar(
    "tag:yaml.org,2002:str", text, style='"' if BREAKS & set(text) else None))

RENDER = {
    "hcl": to_hcl,
    "yaml": lambda d: yaml.dump(d, Dumper=_YamlDumper, sort_keys=False, allow_unicode=True, width=10**6),
    "json": lambda d: json.dumps(d, indent=2, ensure_ascii=False),
}


def write_formats(document: dict, root: Path) -> dict[str, Path]:
    """One folder per format, each holding the spec as main.wiam.<format>."""
    folders = {}
    for fmt, render in RENDER.items():
        folder = root / fmt
        folder.mkdir(parents=True)
        (folder / f"main.wiam.{fmt}").write_text(render(document), encoding="utf-8")
        folders[fmt] = folder
    return folders


def compiled(folder: Path):
    """(Terraform files, None) or (None, the error list without file names and positions)."""
    try:
        return compile_folder(str(folder)), None
    except SpecError as error:
        place = re.compile(re.escape(str(next(folder.iterdir()))) + r"(:\d+:\d+)?")  # a place named in a message
        return None, sorted((d.block, place.sub("FILE", d.message), place.sub("FILE", d.hint))
                            for d in error.diagnostics)


# Invariants on compiled Terraform

def read_template(text: str) -> tuple[str, list[int]]:
    """What Terraform makes of a JSON string, and where its live `${` and `%{` start. Read left to
    right, `$${` and `%%{` are a literal `${` and `%{` (so `$$${` is `$` then `${`), like HCL's
    template scanner."""
    out, live, i = [], [], 0
    while i < len(text):
        if text.startswith(("$${", "%%{"), i):
            out.append(text[i + 1:i + 3])
            i += 3
        else:
            if text.startswith(("${", "%{"), i):
                live.append(i)
            out.append(text[i])
            i += 1
    return "".join(out), live


def as_terraform_reads(value):
    """The module with every string as Terraform reads it (references stay as written)."""
    if isinstance(value, str):
        return read_template(value)[0]
    if isinstance(value, dict):
        return {as_terraform_reads(k): as_terraform_reads(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_terraform_reads(v) for v in value]
    return value


REFERENCE = re.compile(r"^(serviceAccount:)?\$\{[a-z_]+\.[A-Za-z0-9_-]+\.[a-z_]+\}$")


def assert_inert(files: dict[str, bytes]) -> None:
    """Every template in the output is one of wiam's own references; user text is all escaped."""
    for name, content in files.items():
        if not name.endswith(".json"):  # versions.tf holds wiam's own settings, no user text
            continue
        for text in all_strings(json.loads(content)):
            for offset in read_template(text)[1]:
                assert REFERENCE.match(text) and offset == text.index("${"), (name, text)


# Properties

RAW_CONTROLS = {  # refused in every format alike, at the same attributes
    "issuer": {"generic-0": {"kind": "generic_oidc", "url": "https://generic-oidc.example.com/x"}},
    "target": {"aws": {"a": TARGETS["aws"]}},
    "workload": {"a": {"description": "ok\r\n\tstill ok\u0085", "identity": [
        {"issuer": "generic-0", "subject": "s\u202e\u0000\u2028"}],
        "grant": {"aws": {"a": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/\u200b*"]}}}}}}


@FUZZ
@example(document=RAW_CONTROLS)
@given(document=documents() | broken_documents())
def test_formats_agree_and_output_is_inert(document):
    """HCL, YAML and JSON of one spec compile to the same bytes, or fail with the same errors."""
    with tempfile.TemporaryDirectory() as root:
        folders = write_formats(document, Path(root))
        results = {fmt: compiled(folder) for fmt, folder in folders.items()}
        assert results["hcl"] == results["yaml"] == results["json"]
        if results["json"][0] is not None:
            assert_inert(results["json"][0])
            assert_inert(compile_folder(str(folders["json"]), split=True))  # one module per target


def invoke(args: list[str], env: dict | None = None):
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=True)
    assert result.exit_code in (0, 1, 2), (args, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "Traceback" not in result.output, (args, result.output)
    return result


def command_lines(document: dict, folder: Path, scratch: Path) -> list[list[str]]:
    """The commands to run; simulate with a token of the spec's first subject, and of a near miss."""
    cloud, issuer, subject, audience = next(iter(expected_admissions(document)))
    tokens = []
    for name, sub in (("named.json", subject), ("miss.json", subject[:-1] + "*")):
        (scratch / name).write_text(json.dumps({"iss": issuer, "sub": sub, "aud": audience or "x"}))
        tokens.append(["simulate", str(folder), "--claims", str(scratch / name), "--format", "json"])
    return [["validate", str(folder)], ["validate", str(folder), "--format", "json"],
            ["compile", str(folder), "--out", str(scratch / "out")],
            ["analyze", str(folder), "--format", "json"], ["analyze", str(folder), "--format", "sarif"],
            ["graph", str(folder), "--format", "json"], ["simulate", str(folder), "--claims", str(scratch / "named.json")],
            *tokens]


def mutate(text: str, data) -> str:
    """Break the text where an attacker would: insert, drop or replace a character or a fragment."""
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 2))
    return text[:at] + data.draw(st.sampled_from(FRAGMENTS + ["=", ",", "#", "\n}", "- ", ": "])) + text[at + cut:]


@FUZZ
@given(document=documents(), fmt=st.sampled_from(sorted(RENDER)), broken=st.booleans(), data=st.data())
def test_every_command_exits_0_1_or_2_without_traceback(document, fmt, broken, data):
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "spec"
        folder.mkdir()
        text = RENDER[fmt](document)
        (folder / f"main.wiam.{fmt}").write_text(mutate(text, data) if broken else text, encoding="utf-8")
        for args in command_lines(document, folder, Path(root)):
            result = invoke(args)
            if "json" in args or "sarif" in args:
                json.loads(result.stdout)  # machine formats stay parseable, errors included


@FUZZ
@given(document=documents(), fmt=st.sampled_from(sorted(RENDER)))
def test_cache_cold_warm_and_off_give_the_same_bytes(document, fmt):
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "spec"
        folder.mkdir()
        (folder / f"main.wiam.{fmt}").write_text(RENDER[fmt](document), encoding="utf-8")
        runs = []
        for env in ({"WIAM_CACHE_DIR": f"{root}/cache"}, {"WIAM_CACHE_DIR": f"{root}/cache"}, {"WIAM_CACHE": "0"}):
            out = Path(root) / f"out{len(runs)}"
            compiled_run = invoke(["compile", str(folder), "--out", str(out), "--format", "json"], env)
            files = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
            analysis = invoke(["analyze", str(folder), "--format", "json"], env)
            runs.append((compiled_run.exit_code, compiled_run.stdout.replace(str(out), "OUT"), files,
                         analysis.exit_code, analysis.stdout_bytes))
    assert runs[0] == runs[1] == runs[2]


# Trust: exactly the named subjects, evaluated the way each cloud does

def near_misses(subject: str) -> set[str]:
    return {subject + "x", subject[:-1], "x" + subject, subject.swapcase(), subject.upper(), subject + "*",
            subject[:-1] + "*", subject[:-1] + "?", "*", subject + "\n", " " + subject, subject + "/",
            subject.replace(":", "::", 1), subject + '"', subject + "\\",
            re.sub(r"\$\{(.)\}", r"\1", subject)}  # as IAM would read `${*}` unescaped


def default_audience(cloud: str) -> str | None:
    return {"aws": "sts.amazonaws.com", "azure": "api://AzureADTokenExchange", "gcp": None}[cloud]


def accepting(module: dict, cloud: str, claims: dict) -> set[str]:
    """The workloads whose principals on `cloud` accept the token."""
    if cloud == "aws":
        return {name.split("__")[1] for name in aws_roles_accepting(module, claims)}
    if cloud == "azure":
        return {name.split("__")[1] for name in azure_identities_accepting(module, claims)}
    reached = set()
    for audience in gcp_audiences(module, claims):
        reached |= {name.split("__")[-1].removeprefix("direct:")
                    for name in gcp_principals_accepting(module, dict(claims, aud=audience))}
    return reached


def gcp_audiences(module: dict, claims: dict) -> list[str]:
    """The audience as given, or each provider's default one (its resource name)."""
    if claims["aud"] is not None:
        return [claims["aud"]]
    providers = module.get("resource", {}).get("google_iam_workload_identity_pool_provider", {}).values()
    return [f"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/"
            f"{p['workload_identity_pool_provider_id']}" for p in providers if "allowed_audiences" not in p["oidc"]]


def expected_admissions(document: dict) -> dict[tuple, set[str]]:
    """(cloud, issuer URL, subject, audience) -> the workloads that token may act as, from the spec.
    On GCP a principal is the pool's `principal://.../subject/SUB`, whatever the audience: a token
    one provider admits acts as every workload naming that issuer and subject (a README limit)."""
    issuers = document["issuer"]
    admitted: dict[tuple, set[str]] = {}
    for name, workload in document["workload"].items():
        for fields in workload["identity"]:
            issuer = issuers[fields["issuer"]]
            live = not (workload.get("disabled") or fields.get("disabled") or issuer.get("disabled"))
            for cloud in workload["grant"]:
                audience = fields.get("audience") or issuer.get("audience") or default_audience(cloud)
                key = (cloud, issuer.get("url", DEFAULT_URLS.get(issuer["kind"])),
                       expected_subject(issuer["kind"], fields), audience)
                admitted.setdefault(key, set())
                if live:
                    admitted[key].add(name)
    pooled: dict[tuple, set[str]] = {}
    for (cloud, issuer, subject, _), workloads in admitted.items():
        if cloud == "gcp":
            pooled.setdefault((issuer, subject), set()).update(workloads)
    return {key: pooled[key[1:3]] if key[0] == "gcp" and workloads else workloads
            for key, workloads in admitted.items()}


IAM_POLICY_VARIABLE = {  # the trust policy held `x${*}`, which IAM reads as `x*`: a token for `x*` was let in
    "issuer": {"generic-0": {"kind": "generic_oidc", "url": "https://generic-oidc.example.com/x"}},
    "target": {"aws": {"a": TARGETS["aws"]}},
    "workload": {"a": {"identity": [{"issuer": "generic-0", "subject": "x${*}"}],
                       "grant": {"aws": {"a": {"actions": ["s3:GetObject"], "resources": ["*"]}}}}}}
KILLED_BESIDE_OTHER_AUDIENCE = {  # a's disabled identity stayed in its provider's condition, since b's
    # identity (same issuer and subject, another audience) was live: a token for a's audience acted as b
    "issuer": {"generic-0": {"kind": "generic_oidc", "url": "https://generic-oidc.example.com/x"}},
    "target": {"gcp": {"a": TARGETS["gcp"]}},
    "workload": {"a": {"identity": [{"issuer": "generic-0", "subject": "s", "disabled": True, "reason": "r"}],
                       "grant": {"gcp": {"a": {"roles": ["roles/pubsub.publisher"]}}}},
                 "b": {"identity": [{"issuer": "generic-0", "subject": "s", "audience": "aud-b"}],
                       "grant": {"gcp": {"a": {"roles": ["roles/pubsub.publisher"]}}}}}}


@FUZZ
@example(document=KILLED_BESIDE_OTHER_AUDIENCE)
@example(document=IAM_POLICY_VARIABLE)
@example(document={"issuer": {"generic-0": {"kind": "generic_oidc", "url": "https://generic-oidc.example.com/x"}},
                   "target": {"gcp": {"p": TARGETS["gcp"]}},
                   "workload": {"a": {"identity": [{"issuer": "generic-0", "subject": 'x"] || true || ["'}],
                                      "grant": {"gcp": {"p": {"roles": ["roles/storage.objectViewer"]}}}}}})
@given(document=documents())
def test_compiled_trust_admits_exactly_the_named_subjects(document):
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root)
        (folder / "main.wiam.json").write_text(json.dumps(document), encoding="utf-8")
        try:
            module = as_terraform_reads(json.loads(compile_folder(str(folder))["main.tf.json"]))
        except SpecError:
            assume(False)  # cloud limits refuse some hostile text (an IAM role description is Latin-1)
        model = load_model(root)
    admitted = expected_admissions(document)
    for (cloud, issuer, subject, audience), workloads in admitted.items():
        claims = {"iss": issuer, "sub": subject, "aud": audience}
        assert accepting(module, cloud, claims) == workloads, (cloud, claims)
        # `wiam simulate` judges the same token the same way, from the values the cloud will hold.
        if audience is not None:
            verdicts = simulate_token(model, claims)
            assert {v.workload for v in verdicts if v.accepted and v.cloud == cloud} == workloads, (cloud, claims)
        named = {key[2] for key in admitted if key[:2] == (cloud, issuer)}
        for miss in near_misses(subject) - named:
            assert accepting(module, cloud, dict(claims, sub=miss)) == set(), (cloud, miss)
        if cloud == "gcp":  # the condition itself, whatever the audience
            for provider in module["resource"].get("google_iam_workload_identity_pool_provider", {}).values():
                for miss in near_misses(subject) - named:
                    assert not cel_admits(provider["attribute_condition"], dict(claims, sub=miss)), miss


EXPORT_BREAKERS = {  # XML-forbidden characters, a CR (CSV), line separators (Cypher, Mermaid), a backtick
    "issuer": {"generic-0": {"kind": "generic_oidc", "url": "https://generic-oidc.example.com/x"}},
    "target": {"aws": {"a": TARGETS["aws"]}},
    "workload": {"a": {"identity": [{"issuer": "generic-0", "subject": "s\u0000\u0001\r\n\u2028\u0085`: \"q\""}],
                       "grant": {"aws": {"a": {"actions": ["s3:GetObject"], "resources": ["*"]}}}}}}


@FUZZ
@example(document=EXPORT_BREAKERS)
@given(document=documents())
def test_graph_exports_read_back_whatever_the_text(document):
    """Each export parses back to the same graph (the export tests' readers, on hostile text)."""
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "main.wiam.json").write_text(json.dumps(document), encoding="utf-8")
        try:
            graph = build_graph(load_model(root)).graph
        except SpecError:
            assume(False)
    for check in (test_export.test_json_round_trip, test_export.test_graphml_round_trip,
                  test_export.test_gexf_round_trip, test_export.test_dot_round_trip,
                  test_export.test_mermaid_carries_every_node_and_edge, test_export.test_cypher_script_recreates_the_graph,
                  test_export.test_csv_pair_for_neo4j_admin_import):
        check(graph)


def test_cloud_names_that_differ_only_in_case_are_refused(tmp_path):
    """Found by the harness: workloads `App` and `app` compiled to an IAM role and an Azure identity
    each, which AWS and Azure take for the same name."""
    document = {"issuer": {"g": {"kind": "generic_oidc", "url": "https://idp.example.com"}},
                "target": {"aws": {"a": TARGETS["aws"]}, "azure": {"z": TARGETS["azure"]}},
                "workload": {name: {"identity": [{"issuer": "g", "subject": name}],
                                    "grant": {"aws": {"a": {"actions": ["s3:GetObject"], "resources": ["*"]}},
                                              "azure": {"z": {"roles": ["Reader"]}}}}
                             for name in ("App", "app")}}
    (tmp_path / "main.wiam.json").write_text(json.dumps(document), encoding="utf-8")
    output, errors = compiled(tmp_path)
    assert output is None
    assert [(block, message.split(" equals ")[0]) for block, message, _ in errors] == [
        ('grant "aws" "a" in workload "app"', "IAM role name 'wiam-app' of workload 'app' on aws target 'a'"),
        ('grant "azure" "z" in workload "app"', "managed identity name 'wiam-app' of workload 'app' on azure target 'z'")]
    assert all("ignoring case" in message for _, message, _ in errors)


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 3))
@given(document=documents(), fmt=st.sampled_from(sorted(RENDER)))
def test_real_process_exits_cleanly(document, fmt):
    """The installed entry point, in a real process: no traceback reaches the terminal."""
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root)
        (folder / f"main.wiam.{fmt}").write_text(RENDER[fmt](document), encoding="utf-8")
        for args in (["validate", root], ["analyze", root, "--format", "sarif"]):
            result = run_wiam(*args, env={"WIAM_CACHE": "0"})
            assert result.returncode in (0, 1, 2) and "Traceback" not in result.stderr, result.stderr
