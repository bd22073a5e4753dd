"""What the core decides for every issuer kind, whatever cloud implements it: kinds without a URL
refuse one, issuer-block fields belong to their kinds, per-kind field forms, and a cloud that has
no way to trust a kind refuses it with an error naming the cloud and the kind."""

import re

import pytest
from hypothesis import given, settings, strategies as st

from support.specs import BASE_HCL, spec_errors, workload_hcl, write_spec
from wiam import registry
from wiam.issuers import KINDS, OIDC_KINDS

ISSUER_VALUES = {"tenant_id": "00000000-0000-0000-0000-000000000000", "trust_bundle_file": "bundle.pem"}
URLLESS = sorted(name for name, kind in KINDS.items() if not kind.takes_url)


def _errors(tmp_path, text):
    return spec_errors(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + text}))


@pytest.mark.parametrize("kind", URLLESS)
def test_a_kind_the_clouds_identify_refuses_a_url(tmp_path, kind):
    fields = "".join(f'  {f} = "{ISSUER_VALUES[f]}"\n' for f in KINDS[kind].issuer_fields)
    (error,) = _errors(tmp_path, f'issuer "own" {{\n  kind = "{kind}"\n  url = "https://idp.example"\n{fields}}}\n')
    assert "has no url" in error.message and error.hint == "remove url"
    assert (error.pos.line, error.block) == (BASE_HCL.count("\n") + 3, 'issuer "own"')


@pytest.mark.parametrize("kind", [name for name, k in KINDS.items() if k.issuer_fields])
def test_a_kind_needs_its_issuer_fields(tmp_path, kind):
    (error,) = _errors(tmp_path, f'issuer "own" {{\n  kind = "{kind}"\n}}\n')
    assert error.message == f"a {kind} issuer needs {KINDS[kind].issuer_fields[0]}" and error.hint


@pytest.mark.parametrize("field", sorted({f for k in KINDS.values() for f in k.issuer_fields}))
def test_another_kind_refuses_an_issuer_field(tmp_path, field):
    (error,) = _errors(tmp_path, f'issuer "own" {{\n  kind = "generic_oidc"\n  url = "https://idp.example"\n'
                                 f'  {field} = "00000000-0000-0000-0000-000000000000"\n}}\n')
    assert error.message.startswith(f"{field} applies to ") and error.hint == "remove it"


@settings(max_examples=30, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40))
def test_a_circleci_project_id_is_a_uuid_and_nothing_else(tmp_path_factory, value):
    folder = tmp_path_factory.mktemp("spec")
    issuer = 'issuer "cci" {\n  kind = "circleci"\n  organization_id = "0b4c8f6e-5d2a-4e1b-9c3f-7a6d5e4c3b2a"\n}\n'
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "$${").replace("%{", "%%{")
    errors = spec_errors(write_spec(folder, {"main.wiam.hcl": BASE_HCL + issuer + workload_hcl(
        identities=[f'issuer = "cci"\n    project_id = "{escaped}"'])}))
    is_uuid = re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", value)
    assert bool(is_uuid) == (not errors)


REFUSED = sorted(kind for kind in set(KINDS) - OIDC_KINDS
                 if any(kind not in provider.KINDS for _, provider in registry.providers()))


def test_every_kind_the_clouds_identify_is_refused_somewhere():
    assert REFUSED == sorted(set(KINDS) - OIDC_KINDS)  # each is one or two clouds' own


@pytest.mark.parametrize("kind", REFUSED)
def test_a_cloud_without_a_way_to_trust_a_kind_refuses_it(tmp_path, kind):
    cloud = next(cloud for cloud, provider in registry.providers() if kind not in provider.KINDS)
    spec = KINDS[kind]
    issuer_fields = "".join(f'  {f} = "{ISSUER_VALUES[f]}"\n' for f in spec.issuer_fields)
    issuer_fields += '  audience = "api://wiam"\n' if spec.audience_hint else ""
    values = {"cluster": "prod", "namespace": "orders", "service_account": "api", "project_id": "acme-prod",
              "unique_id": "1" * 21, "principal_id": "00000000-0000-0000-0000-000000000001",
              "role_arn": "arn:aws:iam::123456789012:role/app", "spiffe_id": "spiffe://acme.example/api"}
    fields = [f for f in spec.required] + ([spec.one_of[-1]] if spec.one_of else [])
    identity = "\n    ".join([f'issuer = "own"'] + [f'{f} = "{values[f]}"' for f in fields])
    grant = {"aws": 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]',
             "gcp": 'roles = ["roles/storage.objectViewer"]\n    resource = "projects/_/buckets/acme-data"',
             "azure": 'roles = ["Reader"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111"'}[cloud]
    text = (f'issuer "own" {{\n  kind = "{kind}"\n{issuer_fields}}}\n'
            + workload_hcl(identities=[identity], grants=[(cloud, "prod", grant)]))
    errors = [e for e in _errors(tmp_path, text) if "cannot accept" in e.message]
    assert [e.message.split(":")[0] for e in errors] == [f"{cloud} target 'prod' cannot accept a {kind} identity (issuer 'own')"]
    assert (errors[0].block, errors[0].pos.line) == ('identity #1 in workload "app"', text.count("\n", 0, text.index("identity {")) + BASE_HCL.count("\n") + 1)


@pytest.mark.parametrize("url", ["https://user:pass@idp.example", "https://token@idp.example/tenant",
                                 "https://idp.example@evil.example"])
def test_an_issuer_url_with_credentials_is_refused(tmp_path, url):
    (error,) = _errors(tmp_path, f'issuer "own" {{\n  kind = "generic_oidc"\n  url = "{url}"\n}}\n')
    assert "no credentials" in error.hint and error.block == 'issuer "own"'
