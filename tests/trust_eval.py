"""Evaluate compiled trust the way each cloud does, for tokens given as claims.

AWS: EKS Pod Identity's association of a pod's cluster, namespace and service account, and the session tags
its AssumeRole carries; the role's trust policy (Federated principal by issuer, or STS's own accounts.google.com, whose :aud is a
Google token's azp and :oaud its aud; StringEquals on aud, sub and other claims, Date operators on aws:CurrentTime;
Deny wins), and its inline policies and attachments for one action at one time.
GCP: a provider that is not disabled, its issuer and audience (an aws one: the caller's account and the provider
as audience), then its attribute_condition in a real CEL engine (cel-python, with Google's extract), then the principal:// binding of the google.subject its attribute_mapping gives on the service account or the granted resource,
each binding's IAM condition evaluated in the same engine with `request.time` the moment the token is used.
GKE: a cluster's Kubernetes service account token is the principal of its project's Google-managed pool
(PROJECT.svc.id.goog) and a member of its namespace's principal set; no provider of the module is involved.
Azure: a federated credential whose issuer, subject and audience match exactly, or a flexible one
whose issuer and audience match and whose claimsMatchingExpression (parsed here, `eq` and `and` only) holds.
"""

import json
import operator
import re
from datetime import datetime, timezone
from fnmatch import fnmatchcase

import celpy
from celpy import celtypes
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

_CEL = celpy.Environment()


def _iam_value(text: str) -> str | None:
    """A condition value as IAM reads it: `${$}`, `${*}` and `${?}` are those characters; any other
    policy variable has no value for a web identity token here (None: it matches nothing)."""
    if re.search(r"\$\{(?![$*?]\})", text):
        return None
    return re.sub(r"\$\{([$*?])\}", r"\1", text)


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


# IAM's Date operators: the request's time against each value (any value may match), ISO 8601 or epoch seconds.
_DATES = {"DateEquals": operator.eq, "DateNotEquals": operator.ne, "DateLessThan": operator.lt,
          "DateLessThanEquals": operator.le, "DateGreaterThan": operator.gt, "DateGreaterThanEquals": operator.ge}


def _aws_date(value) -> datetime:
    if isinstance(value, (int, float)) or re.fullmatch(r"\d+", value):
        return datetime.fromtimestamp(int(value), timezone.utc)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _aws_dates_hold(condition: dict, at: datetime | None) -> bool:
    """Every Date operator of a condition on the request context {aws:CurrentTime: at} (keys ignore case);
    a key the request lacks (any other, or the time when none is given) matches nothing."""
    for name, compare in _DATES.items():
        for key, values in condition.get(name, {}).items():
            if key.lower() != "aws:currenttime" or at is None:
                return False
            if not any(compare(at, _aws_date(v)) for v in _listed(values)):
                return False
    return True


# STS's own Google provider: with an azp claim (a service account's ID token), accounts.google.com:aud
# is the token's azp and accounts.google.com:oaud its aud (IAM User Guide, condition keys for web identity).
_GOOGLE = "accounts.google.com"


def _aws_key_claims(host: str, claims: dict) -> dict:
    """Each string claim as the condition key `<host>:<claim>`, as STS reads the token."""
    keys = {f"{host}:{claim}": value for claim, value in claims.items() if isinstance(value, str)}
    if host == _GOOGLE and "azp" in claims:
        keys[f"{_GOOGLE}:aud"], keys[f"{_GOOGLE}:oaud"] = claims["azp"], claims["aud"]
    return keys


def _aws_statement_matches(statement: dict, host: str, claims: dict, at: datetime | None) -> bool:
    federated = statement["Principal"].get("Federated", "")
    if not (federated.endswith(f":oidc-provider/{host}") or federated == host == _GOOGLE):
        return False
    if statement["Action"] != "sts:AssumeRoleWithWebIdentity":
        return False
    condition = statement.get("Condition", {})
    if set(condition) - {"StringEquals", *_DATES}:
        return False  # only the operators wiam writes are modelled here
    equals = {k: [_iam_value(x) for x in _listed(v)] for k, v in condition.get("StringEquals", {}).items()}
    # Each string claim is the key `<host>:<claim>`; a key the token lacks matches nothing.
    keys = _aws_key_claims(host, claims)
    return all(key in keys and keys[key] in values for key, values in equals.items()) and _aws_dates_hold(condition, at)


def aws_roles_accepting(module: dict, claims: dict, at: datetime | None = None) -> set[str]:
    """Roles whose trust policy allows the token presented at `at`: an Allow matches and no Deny does."""
    accepted = set()
    host = claims["iss"].removeprefix("https://").rstrip("/")
    for name, role in module.get("resource", {}).get("aws_iam_role", {}).items():
        statements = json.loads(role["assume_role_policy"])["Statement"]
        matching = [s["Effect"] for s in statements if _aws_statement_matches(s, host, claims, at)]
        if "Allow" in matching and "Deny" not in matching:
            accepted.add(name)
    return accepted


def _pod_statement_matches(statement: dict, tags: dict, at: datetime | None) -> bool:
    """A statement of the service pods.eks.amazonaws.com for EKS's AssumeRole with its session tags: each
    StringEquals key is aws:RequestTag/TAG (a tag the session lacks matches nothing) and both actions EKS
    calls are allowed."""
    if statement["Principal"].get("Service") != "pods.eks.amazonaws.com":
        return False
    if not {"sts:AssumeRole", "sts:TagSession"} <= set(_listed(statement["Action"])):
        return False
    condition = statement.get("Condition", {})
    if set(condition) - {"StringEquals", *_DATES}:
        return False  # only the operators wiam writes are modelled here
    context = {f"aws:requesttag/{tag}": value for tag, value in tags.items()}  # condition keys ignore case
    return all(context.get(key.lower()) in _listed(values) for key, values in condition.get("StringEquals", {}).items()
               ) and _aws_dates_hold(condition, at)


def aws_roles_for_pod(module: dict, cluster_arn: str, namespace: str, service_account: str,
                      at: datetime | None = None) -> set[str]:
    """Roles EKS Pod Identity gives a pod of this cluster (arn:PARTITION:eks:REGION:ACCOUNT:cluster/NAME),
    namespace and service account: an association of the cluster (made through a provider of that
    account and region) names the role, and the role's trust allows EKS's AssumeRole with the session
    tags it sets, no Deny matching."""
    _, partition, _, region, account, resource = cluster_arn.split(":", 5)
    resources = module.get("resource", {})
    providers = {f"aws.{p['alias']}": p for p in module.get("provider", {}).get("aws", [])}
    tags = {"eks-cluster-arn": cluster_arn, "eks-cluster-name": resource.removeprefix("cluster/"),
            "kubernetes-namespace": namespace, "kubernetes-service-account": service_account}
    accepted = set()
    for association in resources.get("aws_eks_pod_identity_association", {}).values():
        provider = providers[association["provider"]]
        if (provider["region"], provider["allowed_account_ids"]) != (region, [account]):
            continue
        if (association["cluster_name"], association["namespace"], association["service_account"]) != (
                tags["eks-cluster-name"], namespace, service_account):
            continue
        name = re.fullmatch(r"\$\{aws_iam_role\.([^.]+)\.arn\}", association["role_arn"])[1]
        statements = json.loads(resources["aws_iam_role"][name]["assume_role_policy"])["Statement"]
        matching = [s["Effect"] for s in statements if _pod_statement_matches(s, tags, at)]
        if "Allow" in matching and "Deny" not in matching:
            first = f"arn:{partition}:iam::{account}:role/{resources['aws_iam_role'][name]['name']}"
            target = association.get("target_role_arn")
            chained = name if target is None else _role_trusting(resources, providers, target, first, at)
            if chained is not None:
                accepted.add(chained)
    return accepted


def _role_trusting(resources: dict, providers: dict, target_arn: str, caller: str, at: datetime | None) -> str | None:
    """The role of ARN target_arn (a role of a provider of its account) if its trust lets the role `caller`
    AssumeRole and TagSession (EKS's second hop: its conditions pin aws:PrincipalArn only), no Deny matching."""
    account, role = target_arn.split(":")[4], target_arn.split(":role/", 1)[1]
    for name, body in resources.get("aws_iam_role", {}).items():
        if body["name"] != role or providers[body["provider"]]["allowed_account_ids"] != [account]:
            continue
        effects = []
        for statement in json.loads(body["assume_role_policy"])["Statement"]:
            condition = statement.get("Condition", {})
            if (statement["Principal"].get("AWS") == caller and set(condition) <= {"StringEquals", *_DATES}
                    and {"sts:AssumeRole", "sts:TagSession"} <= set(_listed(statement["Action"]))
                    and all(k.lower() == "aws:principalarn" and caller in _listed(v)
                            for k, v in condition.get("StringEquals", {}).items())
                    and _aws_dates_hold(condition, at)):
                effects.append(statement["Effect"])
        return name if "Allow" in effects and "Deny" not in effects else None
    return None


def _aws_permits(statement: dict, action: str, resource: str, at: datetime) -> bool:
    condition = statement.get("Condition", {})
    if set(condition) - set(_DATES):
        raise AssertionError(f"the evaluator models Date conditions only, not {sorted(condition)}: extend it")
    return (any(fnmatchcase(action.lower(), a.lower()) for a in _listed(statement["Action"]))
            and any(fnmatchcase(resource, r) for r in _listed(statement["Resource"]))
            and _aws_dates_hold(condition, at))


def aws_role_may(module: dict, role: str, action: str, resource: str, at: datetime) -> bool:
    """Whether the role's identity policies allow `action` on `resource` at `at`: a statement of its inline
    policies matches, or any managed policy is attached (taken to allow everything: its text is not in the
    module), and no Deny matches."""
    resources = module.get("resource", {})
    mine = lambda body: f"aws_iam_role.{role}." in body["role"]  # noqa: E731
    statements = [s for body in resources.get("aws_iam_role_policy", {}).values() if mine(body)
                  for s in json.loads(body["policy"])["Statement"]]
    matching = {s["Effect"] for s in statements if _aws_permits(s, action, resource, at)}
    managed = any(mine(body) for body in resources.get("aws_iam_role_policy_attachment", {}).values())
    return "Deny" not in matching and ("Allow" in matching or managed)


def _extract(text, template):
    """Google's CEL extract: the text between the template's part before `{...}` and the next occurrence
    of its part after (the empty string when they are not found)."""
    match = re.match(r"(.*?)\{[^}]*\}(.*)", str(template))
    before, after = match[1], match[2]
    text = str(text)
    if before not in text:
        return celtypes.StringType("")
    rest = text[text.index(before) + len(before):]
    if after and after not in rest:
        return celtypes.StringType("")
    return celtypes.StringType(rest[:rest.index(after)] if after else rest)


def _cel_value(expression: str, claims: dict):
    program = _CEL.program(_CEL.compile(expression), functions={"extract": _extract})
    return program.evaluate({"assertion": celpy.json_to_cel(claims)})


def cel_admits(condition: str, claims: dict) -> bool:
    try:
        return bool(_cel_value(condition, claims))
    except celpy.CELEvalError:  # e.g. a claim the token lacks: GCP refuses the token
        return False


def iam_condition_holds(expression: str, at: datetime) -> bool:
    """An IAM condition at the moment `at`: `request.time` is a CEL timestamp; an error denies."""
    request = celtypes.MapType({celtypes.StringType("time"): celtypes.TimestampType(at)})
    try:
        return bool(_CEL.program(_CEL.compile(expression)).evaluate({"request": request}))
    except celpy.CELEvalError:
        return False


def _binding_holds(binding: dict, at: datetime | None) -> bool:
    condition = binding.get("condition")
    if condition is None:
        return True
    assert at is not None, "a conditional binding needs the moment it is used at"
    return iam_condition_holds(condition["expression"], at)


def _gcp_members(module: dict, claims: dict) -> set[str]:
    """The principal:// members the token becomes: through each provider that admits it, the
    google.subject its attribute_mapping gives."""
    resources = module.get("resource", {})
    pools = resources.get("google_iam_workload_identity_pool", {})
    subjects = set()
    for provider in resources.get("google_iam_workload_identity_pool_provider", {}).values():
        if provider.get("disabled"):
            continue
        if "aws" in provider:  # a signed GetCallerIdentity of that account, for this provider (its aud)
            if (claims.get("account") == provider["aws"]["account_id"]
                    and claims["aud"].endswith(provider["workload_identity_pool_provider_id"])
                    and cel_admits(provider["attribute_condition"], claims)):
                subjects.add(str(_cel_value(provider["attribute_mapping"]["google.subject"], claims)))
            continue
        if "oidc" not in provider or provider["oidc"]["issuer_uri"] != claims["iss"]:
            continue
        audiences = provider["oidc"].get("allowed_audiences")
        if audiences is not None and claims["aud"] not in audiences:
            continue
        if audiences is None and not claims["aud"].endswith(provider["workload_identity_pool_provider_id"]):
            continue  # default audience: the provider's own resource name
        if cel_admits(provider["attribute_condition"], claims):
            subjects.add(str(_cel_value(provider["attribute_mapping"]["google.subject"], claims)))
    return {f"principal://iam.googleapis.com/projects/{_number(module)}/locations/global/workloadIdentityPools/"
            f"{pool['workload_identity_pool_id']}/subject/{subject}" for pool in pools.values() for subject in subjects}


def _member_bindings(module: dict):
    for kind, bindings in module.get("resource", {}).items():
        if kind.endswith("_iam_member"):
            for name, binding in bindings.items():
                yield kind, name, binding


def gke_members(claims: dict, numbers: dict[str, str]) -> set[str]:
    """What a GKE cluster's Kubernetes service account token is to IAM: its project's Google-managed pool
    PROJECT.svc.id.goog (by the project's number) names the service account, also in the older form
    serviceAccount:PROJECT.svc.id.goog[NS/SA] that service accounts' workloadIdentityUser bindings use, and
    the namespace's principal set holds it. iss is the cluster's URL, .../v1/projects/PROJECT/locations/L/clusters/C."""
    project = claims["iss"].split("/v1/projects/", 1)[1].split("/", 1)[0]
    namespace, account = claims["sub"].removeprefix("system:serviceaccount:").split(":")
    pool = f"iam.googleapis.com/projects/{numbers[project]}/locations/global/workloadIdentityPools/{project}.svc.id.goog"
    return {f"principal://{pool}/subject/ns/{namespace}/sa/{account}", f"principalSet://{pool}/namespace/{namespace}",
            f"serviceAccount:{project}.svc.id.goog[{namespace}/{account}]"}


def gcp_principals_accepting(module: dict, claims: dict, at: datetime | None = None,
                             members: set[str] | None = None) -> set[str]:
    """Service accounts (by resource name) and direct principals the token can act as (at `at`,
    where bindings carry conditions); `members`: what the token is, if not through the module's providers."""
    members = _gcp_members(module, claims) if members is None else members
    return _gcp_principals(module, members, at)


def _gcp_principals(module: dict, members: set[str], at: datetime | None) -> set[str]:
    accepted = set()
    for kind, name, binding in _member_bindings(module):
        if binding["member"] in members and _binding_holds(binding, at):
            if kind == "google_service_account_iam_member" and binding["role"] == "roles/iam.workloadIdentityUser":
                accepted.add(binding["service_account_id"].split(".")[1])
            else:
                accepted.add(f"direct:{name.split('__')[1]}")
    return accepted


_ACCOUNT_MEMBER = re.compile(r"serviceAccount:\$\{google_service_account\.([^.]+)\.email\}")


def gcp_roles_usable(module: dict, claims: dict, at: datetime, members: set[str] | None = None) -> set[tuple[str, str]]:
    """The role bindings (type, name) the token can use at `at`: its own (direct) and those of the
    service accounts it can act as then, whose conditions hold then too."""
    members = _gcp_members(module, claims) if members is None else members
    accounts = gcp_principals_accepting(module, claims, at, members)
    usable = set()
    for kind, name, binding in _member_bindings(module):
        if binding["role"] == "roles/iam.workloadIdentityUser" or not _binding_holds(binding, at):
            continue
        account = _ACCOUNT_MEMBER.fullmatch(binding["member"])
        if (account[1] in accounts) if account else binding["member"] in members:
            usable.add((kind, name))
    return usable


def _number(module: dict) -> str:
    for binding in module["resource"].get("google_service_account_iam_member", {}).values():
        return binding["member"].split("/projects/")[1].split("/")[0]
    for kind, bindings in module["resource"].items():
        for binding in bindings.values():
            if isinstance(binding, dict) and str(binding.get("member", "")).startswith("principal://"):
                return binding["member"].split("/projects/")[1].split("/")[0]
    return ""


def azure_identities_accepting(module: dict, claims: dict) -> set[str]:
    accepted = set()
    for credential in module.get("resource", {}).get("azurerm_federated_identity_credential", {}).values():
        if (credential["issuer"] == claims["iss"] and credential["subject"] == claims["sub"]
                and claims["aud"] in credential["audience"]):
            accepted.add(credential["user_assigned_identity_id"].split(".")[1])
    return accepted


# Entra's flexible credential language, the part wiam writes: claims['NAME'] eq 'VALUE', joined by " and "
# (single spaces; a comparand holds no quote). Anything else fails to parse.
_CME_TERM = re.compile(r"claims\['([^']+)'\] eq '([^']*)'")


def parse_claims_expression(text: str) -> list[tuple[str, str]]:
    """The (claim, value) pairs of an expression, in order; ValueError if it is not term (and term)*."""
    terms, position = [], 0
    while True:
        term = _CME_TERM.match(text, position)
        if term is None:
            raise ValueError(f"no term at {position} of {text!r}")
        terms.append((term[1], term[2]))
        position = term.end()
        if position == len(text):
            return terms
        if not text.startswith(" and ", position):
            raise ValueError(f"no ' and ' at {position} of {text!r}")
        position += len(" and ")


def _terraform_reads(text: str) -> str:
    """A Terraform JSON string as Terraform reads it: `$${` and `%%{` are the literals `${` and `%{`."""
    return re.sub(r"([$%])\1\{", r"\1{", text)


def azure_flexible_accepting(module: dict, claims: dict) -> set[str]:
    """Identities (by resource name) with a flexible credential admitting the token."""
    accepted = set()
    for credential in module.get("resource", {}).get("azapi_resource", {}).values():
        if not credential["type"].startswith("Microsoft.ManagedIdentity/userAssignedIdentities/"
                                             "federatedIdentityCredentials@"):
            continue
        properties = credential["body"]["properties"]
        assert "subject" not in properties  # Entra takes a subject or an expression, never both
        expression = properties["claimsMatchingExpression"]
        assert expression["languageVersion"] == 1
        terms = parse_claims_expression(_terraform_reads(expression["value"]))
        if (_terraform_reads(properties["issuer"]) == claims["iss"] and claims["aud"] in properties["audiences"]
                and all(claims.get(name) == value for name, value in terms)):
            accepted.add(credential["parent_id"].split(".")[1])
    return accepted


# X.509: a certificate chain (leaf first) judged as Roles Anywhere and GCP's X.509 federation do. The chain
# must verify to a trust anchor (cryptography's client verifier: signatures, validity at `at`, CA
# constraints), and the first URI SAN is what each cloud compares.

def _chain_verifies(anchors: list[x509.Certificate], chain: list[x509.Certificate], at: datetime) -> bool:
    if not anchors:
        return False
    verifier = PolicyBuilder().store(Store(anchors)).time(at).build_client_verifier()
    try:
        verifier.verify(chain[0], chain[1:])
    except VerificationError:
        return False
    return True


def first_uri(certificate: x509.Certificate) -> str | None:
    try:
        sans = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def _anchor_arn(name: str) -> str:
    return f"arn:aws:rolesanywhere:eu-west-1:123456789012:trust-anchor/{name}"


def _resolved(policy: str) -> str:
    """The policy as AWS receives it: each trust anchor reference replaced by that anchor's ARN."""
    return re.sub(r"\$\{aws_rolesanywhere_trust_anchor\.([^.}]+)\.arn\}", lambda m: _anchor_arn(m[1]),
                  policy).replace("$${", "${")


def _roles_anywhere_matches(statement: dict, san: str | None, source: str) -> bool:
    if statement["Principal"].get("Service") != "rolesanywhere.amazonaws.com":
        return False
    if not {"sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"} <= set(_listed(statement["Action"])):
        return False
    condition = statement.get("Condition", {})
    if set(condition) - {"StringEquals", "ArnEquals"}:
        return False
    context = {"aws:principaltag/x509san/uri": san, "aws:sourcearn": source}
    for block in ("StringEquals", "ArnEquals"):
        for key, values in condition.get(block, {}).items():
            if context.get(key.lower()) not in [_iam_value(v) for v in _listed(values)]:
                return False
    return True


def aws_roles_accepting_certificate(module: dict, chain: list[x509.Certificate], at: datetime) -> set[str]:
    """Roles a CreateSession with this chain obtains: through an enabled trust anchor the chain verifies
    to, a profile listing the role, and the role's trust policy (an Allow matches, no Deny does) with
    aws:SourceArn that anchor and the x509SAN/URI tag the leaf's first URI SAN."""
    resources = module.get("resource", {})
    profiled = {m for p in resources.get("aws_rolesanywhere_profile", {}).values() if p.get("enabled", True)
                for r in p["role_arns"] for m in re.findall(r"aws_iam_role\.([^.]+)\.arn", r)}
    accepted = set()
    san = first_uri(chain[0])
    for anchor_name, anchor in resources.get("aws_rolesanywhere_trust_anchor", {}).items():
        data = anchor["source"]["source_data"]["x509_certificate_data"]
        if not anchor.get("enabled", True) or not _chain_verifies([x509.load_pem_x509_certificate(data.encode())],
                                                                 chain, at):
            continue
        for name, role in resources.get("aws_iam_role", {}).items():
            statements = json.loads(_resolved(role["assume_role_policy"]))["Statement"]
            matching = [s["Effect"] for s in statements if _roles_anywhere_matches(s, san, _anchor_arn(anchor_name))]
            if name in profiled and "Allow" in matching and "Deny" not in matching:
                accepted.add(name)
    return accepted


def _gcp_certificate_members(module: dict, chain: list[x509.Certificate], at: datetime) -> set[str]:
    resources = module.get("resource", {})
    pools = resources.get("google_iam_workload_identity_pool", {})
    subjects = set()
    assertion = {"san": {"uri": first_uri(chain[0])}}
    for provider in resources.get("google_iam_workload_identity_pool_provider", {}).values():
        if "x509" not in provider or provider.get("disabled"):
            continue
        store = provider["x509"]["trust_store"]
        load = lambda entries: [x509.load_pem_x509_certificate(e["pem_certificate"].encode()) for e in entries]  # noqa: E731
        if not _chain_verifies(load(store["trust_anchors"]), chain + load(store.get("intermediate_cas", [])), at):
            continue
        if assertion["san"]["uri"] is not None and cel_admits(provider["attribute_condition"], assertion):
            subjects.add(str(_cel_value(provider["attribute_mapping"]["google.subject"], assertion)))
    return {f"principal://iam.googleapis.com/projects/{_number(module)}/locations/global/workloadIdentityPools/"
            f"{pool['workload_identity_pool_id']}/subject/{subject}" for pool in pools.values() for subject in subjects}


def gcp_principals_accepting_certificate(module: dict, chain: list[x509.Certificate], at: datetime) -> set[str]:
    """What gcp_principals_accepting gives for a token, for an mTLS exchange with this chain."""
    return _gcp_principals(module, _gcp_certificate_members(module, chain, at), at)
