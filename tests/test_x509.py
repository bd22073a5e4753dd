"""spiffe_x509 identities: the trust bundle as read (public CA certificates only, from inside the spec
folder, in the spec's digest) and the compiled trust judged as AWS IAM Roles Anywhere and GCP's X.509
federation judge a certificate chain: exactly the named SPIFFE ID, of a CA in the bundle, is accepted."""

import json
import os

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings, strategies as st

from support.certs import START, authority, pem, svid
from support.specs import BASE_HCL, compiled_files, spec_errors, workload_hcl, write_spec
from trust_eval import aws_roles_accepting_certificate, gcp_principals_accepting_certificate
from wiam import bundles
from wiam.bundles import svid_claims
from wiam.compile import compile_model, load_model
from wiam.diagnostics import Report
from wiam.loader import load
from wiam.simulate import simulate

AT = START.replace(month=6)
ROOT = authority("mesh root")
INTERMEDIATE = authority("mesh intermediate", ROOT)
OTHER = authority("another root")
ISSUER = 'issuer "mesh" {\n  kind              = "spiffe_x509"\n  trust_bundle_file = "bundles/mesh.pem"\n}\n'
AWS_GRANT = ("aws", "prod", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]')
GCP_GRANT = ("gcp", "prod", 'roles = ["roles/storage.objectViewer"]\n    resource = "projects/_/buckets/acme-data"\n'
                            '    mode = "direct"')


def _spec(folder, workloads: dict[str, str], bundle: str | bytes = ROOT.pem + INTERMEDIATE.pem, extra: str = ""):
    text = BASE_HCL + ISSUER + extra + "".join(
        workload_hcl(name, identities=[f'issuer = "mesh"\n    spiffe_id = "{spiffe_id}"'], grants=[AWS_GRANT, GCP_GRANT])
        for name, spiffe_id in workloads.items())
    write_spec(folder, {"main.wiam.hcl": text})
    (folder / "bundles").mkdir(exist_ok=True)
    (folder / "bundles" / "mesh.pem").write_bytes(bundle.encode() if isinstance(bundle, str) else bundle)
    return folder


def _errors(folder):
    return [(e.pos.file, e.pos.line, e.message, e.hint) for e in spec_errors(folder)]


_KEY = authority("k").key
PRIVATE = {
    "PRIVATE KEY": _KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()),
    "EC PRIVATE KEY": _KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption()),
    "ENCRYPTED PRIVATE KEY": _KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.BestAvailableEncryption(b"secret")),
}


@pytest.mark.parametrize("label", sorted(PRIVATE))
def test_a_private_key_in_the_bundle_is_an_error_at_its_line_that_never_shows_it(tmp_path, label):
    key = PRIVATE[label]
    folder = _spec(tmp_path, {"api": "spiffe://acme.example/api"}, ROOT.pem.encode() + b"\n" + key)
    ((file, line, message, hint),) = _errors(folder)
    assert (file, line) == (str(folder / "bundles" / "mesh.pem"), ROOT.pem.count("\n") + 2)
    assert f"a private key ({label} block, not shown)" in message and "remove the key" in hint
    body = key.decode().splitlines()[1]
    assert body not in message + hint


@pytest.mark.parametrize("content, expected", [
    (_KEY.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
     "not PEM text"),
    (b"\x00\xff" * 50, "not PEM text"),
    (b"", "holds no certificate"),
    (b"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC\n", "text outside a certificate block"),
    (b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n", "not a readable X.509 certificate"),
    (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "a PUBLIC KEY block, not a certificate"),
    (b"-----BEGIN CERTIFICATE-----\nAAAA\n", "without its END line"),
    (b"x" * (bundles.MAX_BYTES + 1), "larger than 256 KiB"),
    ((ROOT.pem * (bundles.MAX_CERTIFICATES + 1)).encode(), f"more than {bundles.MAX_CERTIFICATES} PEM blocks"),
    ((ROOT.pem * 2).encode(), "the same certificate as at line 1"),
    (authority("leaf", ROOT, ca=False).pem.encode(), "is not a CA"),
])
def test_a_bundle_of_anything_but_ca_certificates_is_an_error_in_the_bundle(tmp_path, content, expected):
    folder = _spec(tmp_path, {"api": "spiffe://acme.example/api"}, content)
    ((file, line, message, hint),) = _errors(folder)
    assert file == str(folder / "bundles" / "mesh.pem") and line >= 1 and expected in message and hint


def test_ten_thousand_certificates_are_refused_before_any_is_parsed(tmp_path):
    block = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
    with pytest.raises(bundles.BundleError, match="more than 50 PEM blocks"):
        bundles.parse((block * 10_000).encode()[:bundles.MAX_BYTES], "b.pem")


def test_a_bundle_outside_the_spec_folder_is_not_read(tmp_path):
    secret = tmp_path / "outside.pem"
    secret.write_text(ROOT.pem)
    folder = _spec(tmp_path / "spec", {"api": "spiffe://acme.example/api"})
    (folder / "bundles" / "mesh.pem").unlink()
    os.symlink(secret, folder / "bundles" / "mesh.pem")
    ((_, _, message, _),) = _errors(folder)
    assert "cannot be read" in message and "outside the spec folder" in message
    text = (folder / "main.wiam.hcl").read_text().replace("bundles/mesh.pem", "../outside.pem")
    (folder / "main.wiam.hcl").write_text(text)
    ((_, _, message, _),) = _errors(folder)
    assert "cannot be read" in message


def test_a_bundle_must_be_named_pem(tmp_path):
    folder = _spec(tmp_path, {"api": "spiffe://acme.example/api"})
    (folder / "main.wiam.hcl").write_text((folder / "main.wiam.hcl").read_text().replace("mesh.pem", "mesh.crt"))
    ((_, _, message, hint),) = _errors(folder)
    assert "is not a .pem file" in message and "*.pem" in hint


def test_editing_the_bundle_changes_the_spec_digest(tmp_path):
    folder = _spec(tmp_path, {"api": "spiffe://acme.example/api"})
    before = load(str(folder), Report()).digest
    (folder / "bundles" / "mesh.pem").write_text(OTHER.pem)
    assert load(str(folder), Report()).digest != before


def _compiled(folder):
    model = load_model(str(folder), at=AT)
    return model, json.loads(compile_model(model)["main.tf.json"])


def _trust(compiled, *uris, issuer=INTERMEDIATE, chain_extra=(INTERMEDIATE,)):
    """(AWS roles, GCP principals) accepting an SVID of these URI SANs, by the independent evaluators;
    wiam simulate must say the same."""
    model, module = compiled
    chain = [svid(issuer, *uris)] + [a.certificate for a in chain_extra]
    aws = {name.split("__")[1] for name in aws_roles_accepting_certificate(module, chain, AT)}
    gcp = {name.split(":")[1] for name in gcp_principals_accepting_certificate(module, chain, AT)}
    verdicts = simulate(model, svid_claims([pem(c) for c in chain]))
    assert {(v.cloud, v.workload) for v in verdicts if v.accepted} == {("aws", w) for w in aws} | {("gcp", w) for w in gcp}
    return aws, gcp


_SEGMENT = st.text("abcdefghijklmnopqrstuvwxyz0123456789-._", min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(_SEGMENT, min_size=1, max_size=4), neighbour=st.sampled_from(["sibling", "child", "parent", "case"]))
def test_exactly_the_named_spiffe_id_of_the_bundle_ca_is_accepted(tmp_path_factory, path, neighbour):
    spiffe_id = "spiffe://acme.example/" + "/".join(path)
    other = {"sibling": spiffe_id + "x", "child": spiffe_id + "/x", "case": "spiffe://acme.example/" + "/".join(path).upper(),
             "parent": "spiffe://acme.example/" + "/".join(path[:-1] or ["root"])}[neighbour]
    folder = _spec(tmp_path_factory.mktemp("x509"), {"api": spiffe_id, "near": other} if other != spiffe_id else {"api": spiffe_id})
    module = _compiled(folder)
    assert _trust(module, spiffe_id) == ({"api"}, {"api"})
    if other != spiffe_id:
        assert _trust(module, other) == ({"near"}, {"near"})
        assert _trust(module, other, spiffe_id) == ({"near"}, {"near"})  # the first URI SAN is the one compared
    assert _trust(module, spiffe_id, issuer=OTHER, chain_extra=()) == (set(), set())  # another CA
    assert _trust(module, spiffe_id + "/x") == (set(), set()) or other == spiffe_id + "/x"


def test_a_disabled_identity_or_issuer_is_refused(tmp_path):
    folder = _spec(tmp_path, {"api": "spiffe://acme.example/api"})
    assert _trust(_compiled(folder), "spiffe://acme.example/api") == ({"api"}, {"api"})
    text = (folder / "main.wiam.hcl").read_text()
    (folder / "main.wiam.hcl").write_text(text.replace('kind              = "spiffe_x509"',
                                                       'kind = "spiffe_x509"\n  disabled = true\n  reason = "INC-1"'))
    assert _trust(_compiled(folder), "spiffe://acme.example/api") == (set(), set())
    (folder / "main.wiam.hcl").write_text(text.replace('spiffe_id = "spiffe://acme.example/api"',
                                                       'spiffe_id = "spiffe://acme.example/api"\n    disabled = true\n'
                                                       '    reason = "INC-2"'))
    assert _trust(_compiled(folder), "spiffe://acme.example/api") == (set(), set())


def test_an_intermediate_in_the_bundle_need_not_be_presented_to_gcp(tmp_path):
    aws, gcp = _trust(_compiled(_spec(tmp_path, {"api": "spiffe://acme.example/api"})), "spiffe://acme.example/api", chain_extra=())
    assert gcp == {"api"} and aws == {"api"}  # AWS: the intermediate is a trust anchor of its own


def test_azure_refuses_a_spiffe_x509_identity_naming_azure_and_the_kind(tmp_path):
    folder = _spec(tmp_path, {})
    text = (folder / "main.wiam.hcl").read_text() + workload_hcl("az", identities=[
        'issuer = "mesh"\n    spiffe_id = "spiffe://acme.example/api"'], grants=[
        ("azure", "prod", 'roles = ["Reader"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111"')])
    (folder / "main.wiam.hcl").write_text(text)
    ((_, _, message, hint),) = _errors(folder)
    assert message.startswith("azure target 'prod' cannot accept a spiffe_x509 identity") and "aws or gcp" in hint


def _rule_ids(folder, at):
    from wiam.analysis import analyze
    from wiam.compile import load_model

    return [(f.rule, f.message) for f in analyze(load_model(str(folder), at=at))]


def test_a_bare_trust_domain_id_and_an_expiring_bundle_ca_are_findings(tmp_path):
    short = authority("short-lived root", days=200)
    folder = _spec(tmp_path, {"api": "spiffe://acme.example"}, ROOT.pem + short.pem)
    findings = _rule_ids(folder, AT)
    assert [m for r, m in findings if r == "WIAM040"] == ["spiffe_id 'spiffe://acme.example' names the trust domain, not a workload"]
    assert not [r for r, _ in findings if r == "WIAM041"]  # 200 days from 2026-01-01: after June 1st
    later = _rule_ids(folder, START.replace(month=7, day=19, hour=12))  # within 24 hours of its end
    assert [m for r, m in later if r == "WIAM041"] == [
        f"the CA certificate 'CN=short-lived root' at {folder}/bundles/mesh.pem:{ROOT.pem.count(chr(10)) + 1} "
        "expires at 2026-07-20T00:00:00Z"]
    expired = _rule_ids(folder, START.replace(month=9))
    assert [m.split(" ")[-3] for r, m in expired if r == "WIAM041"] == ["expired"]


def test_a_revision_is_read_with_its_own_bundle(tmp_path, monkeypatch):
    from support.git import commit_all, init_repo
    from wiam.diff import source

    repo = init_repo(tmp_path / "repo")
    folder = _spec(repo / "spec", {"api": "spiffe://acme.example/api"}, ROOT.pem)
    first = commit_all(repo, "mesh")
    (folder / "bundles" / "mesh.pem").write_text(OTHER.pem)
    commit_all(repo, "another CA")
    monkeypatch.chdir(repo)
    old = source(f"{first}:spec", ".", False, str(tmp_path))
    module = compiled_files(type(folder)(old.folder))["main.tf.json"]
    pems = [a["source"]["source_data"]["x509_certificate_data"]
            for a in module["resource"]["aws_rolesanywhere_trust_anchor"].values()]
    assert pems == [ROOT.pem]


@pytest.mark.parametrize("x5c, expected", [
    ([], "a list of 1 to 10 PEM certificates"), ("one", "a list of 1 to 10 PEM certificates"),
    (["not a certificate"], "not a PEM certificate"), ([ROOT.pem], "has no URI SAN"),
])
def test_simulate_refuses_a_malformed_svid_chain_as_a_usage_error(tmp_path, x5c, expected):
    from wiam.loader import UsageError
    from wiam.simulate import read_claims

    (tmp_path / "svid.json").write_text(json.dumps({"x5c": x5c}))
    with pytest.raises(UsageError, match=expected):
        read_claims(str(tmp_path / "svid.json"))


def test_simulate_reads_an_svid_chain_as_the_clouds_read_it(tmp_path):
    from wiam.simulate import read_claims

    chain = [pem(svid(INTERMEDIATE, "spiffe://acme.example/api", "spiffe://acme.example/other")), INTERMEDIATE.pem]
    (tmp_path / "svid.json").write_text(json.dumps({"x5c": chain}))
    assert read_claims(str(tmp_path / "svid.json")) == {
        "iss": "x509", "sub": "spiffe://acme.example/api", "san": {"uri": "spiffe://acme.example/api"}, "x5c": chain}


@pytest.mark.parametrize("value", ["a\u0000b.pem", "/etc/ssl/ca.pem", "../../../etc/ssl/ca.pem", "a\u202eb.pem",
                                   "x/" * 200 + "b.pem", "bundles\\mesh.pem"])
def test_a_hostile_bundle_path_is_one_spec_error_at_the_field(tmp_path, value):
    spec = {"issuer": {"mesh": {"kind": "spiffe_x509", "trust_bundle_file": value}},
            "target": {"aws": {"prod": {"account_id": "123456789012"}}}}
    folder = write_spec(tmp_path / "spec", {"main.wiam.json": json.dumps(spec)})
    ((file, line, message, hint),) = _errors(folder)
    assert file.endswith("main.wiam.json") and message and hint


def test_a_bundle_trusting_another_ca_is_a_widening_in_diff(tmp_path):
    from wiam.diff import diff

    base = _spec(tmp_path / "base", {"api": "spiffe://acme.example/api"}, ROOT.pem)
    same = _spec(tmp_path / "same", {"api": "spiffe://acme.example/api"}, ROOT.pem)
    other = _spec(tmp_path / "other", {"api": "spiffe://acme.example/api"}, ROOT.pem + OTHER.pem)
    assert diff(str(base), str(same), at=AT).classification == "neutral"
    widened = diff(str(base), str(other), at=AT)
    assert widened.classification == "widening" and {a.subject for a in widened.added} == {"spiffe://acme.example/api"}


def test_a_ca_certificate_over_aws_trust_anchor_size_is_an_error_naming_the_issuer(tmp_path):
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes

    key = authority("k").key
    name = cx509.Name([cx509.NameAttribute(cx509.oid.NameOID.COMMON_NAME, "big root")])
    permitted = [cx509.UniformResourceIdentifier(f"service-{n:04d}.acme.example") for n in range(300)]
    big = (cx509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
           .serial_number(1).not_valid_before(START).not_valid_after(START.replace(year=2030))
           .add_extension(cx509.BasicConstraints(ca=True, path_length=None), critical=True)
           .add_extension(cx509.NameConstraints(permitted, None), critical=True).sign(key, hashes.SHA256()))
    assert len(pem(big)) > 8000
    folder = _spec(tmp_path, {"api": "spiffe://acme.example/api"}, pem(big))
    ((file, line, message, hint),) = _errors(folder)
    assert file.endswith("main.wiam.hcl") and "an AWS trust anchor takes at most 8000" in message and "gcp" in hint


def test_with_the_parse_cache_on_an_edited_bundle_recompiles_and_is_not_known_valid(tmp_path, monkeypatch):
    from wiam.cache import known_valid, remember_valid

    monkeypatch.setenv("WIAM_CACHE", "1")
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "cache"))
    folder = _spec(tmp_path / "spec", {"api": "spiffe://acme.example/api"}, ROOT.pem)
    anchors = lambda: [a["source"]["source_data"]["x509_certificate_data"]  # noqa: E731
                       for a in compiled_files(folder)["main.tf.json"]["resource"]["aws_rolesanywhere_trust_anchor"].values()]
    assert anchors() == [ROOT.pem] == anchors()  # the second from the cache
    remember_valid(load(str(folder), Report()).digest)
    (folder / "bundles" / "mesh.pem").write_text(OTHER.pem)
    assert anchors() == [OTHER.pem]
    assert not known_valid(load(str(folder), Report()).digest)


def test_more_trust_anchors_than_an_aws_region_takes_is_an_error_naming_the_target(tmp_path):
    cas = [authority(f"root {n}") for n in range(26)]
    extra = 'issuer "mesh2" {\n  kind              = "spiffe_x509"\n  trust_bundle_file = "bundles/two.pem"\n}\n'
    folder = _spec(tmp_path, {}, "".join(c.pem for c in cas[:25]), extra)
    (folder / "bundles" / "two.pem").write_text("".join(c.pem for c in cas))  # 25 + 26 anchors
    text = (folder / "main.wiam.hcl").read_text() + "".join(workload_hcl(
        name, identities=[f'issuer = "{issuer}"\n    spiffe_id = "spiffe://acme.example/{name}"'], grants=[AWS_GRANT])
        for name, issuer in (("one", "mesh"), ("two", "mesh2")))
    (folder / "main.wiam.hcl").write_text(text)
    assert [m for _, _, m, _ in _errors(folder) if "Roles Anywhere" in m] == [
        "51 Roles Anywhere trust anchors (one per CA certificate of the spiffe_x509 issuers' bundles) in one account "
        "and Region; the default quota is 50"]
