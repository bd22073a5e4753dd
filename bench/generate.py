"""A synthetic but realistic organisation: issuers of every kind, targets across the three clouds,
workloads with 1 to 4 identities and 1 to 4 grants, spread over many files. Seeded: the same
arguments always write the same files.

    python bench/generate.py --workloads 10000 --format mixed --out /tmp/org-10k
"""

from __future__ import annotations

import argparse
import json
import os
import random

import yaml

WORKLOADS_PER_FILE = 100
WORKLOADS_PER_TARGET = 50  # keeps every account, project and subscription within its cloud limits
AWS_ACTIONS = {
    "s3": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteObject"],
    "sqs": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
    "dynamodb": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"],
    "sns": ["sns:Publish"],
    "secretsmanager": ["secretsmanager:GetSecretValue"],
}
GCP_ROLES = [
    ("roles/storage.objectViewer", "projects/_/buckets/{name}"),
    ("roles/storage.objectAdmin", "projects/_/buckets/{name}"),
    ("roles/pubsub.publisher", "projects/{project}/topics/{name}"),
    ("roles/pubsub.subscriber", "projects/{project}/subscriptions/{name}"),
    ("roles/secretmanager.secretAccessor", "projects/{project}/secrets/{name}"),
    ("roles/bigquery.dataViewer", "projects/{project}/datasets/{dataset}"),
]
AZURE_ROLES = ["Storage Blob Data Reader", "Storage Blob Data Contributor", "Key Vault Secrets User", "Reader",
               "Azure Service Bus Data Sender"]
# The claims a conditioned organisation pins: its deploy workflow (in another repository) and the repository's ID.
WORKFLOW = "acme/ci/.github/workflows/d.yml@refs/heads/main"
PINNED_KEYS = ["repo", "context", "job_workflow_ref", "repository_id"]
GCP_SUBJECT_MAX = 127  # bytes of google.subject
RISKY = [("aws", {"actions": ["s3:*"]}), ("gcp", {"roles": ["roles/editor"]}), ("azure", {"roles": ["Contributor"]})]


def issuers(clusters: int) -> dict:
    found = {
        "github": {"kind": "github_actions"},
        "github-enterprise": {"kind": "github_actions", "enterprise_slug": "acme"},
        "gitlab": {"kind": "gitlab_ci"},
        "tfc": {"kind": "terraform_cloud"},
        "spire": {"kind": "spiffe", "url": "https://oidc-discovery.mesh.acme.example", "audience": "wiam-mesh"},
        "keycloak": {"kind": "generic_oidc", "url": "https://sso.acme.example/realms/platform"},
    }
    for n in range(clusters):
        found[f"eks-{n}"] = {"kind": "kubernetes", "url": f"https://oidc.eks.us-east-1.amazonaws.com/id/{n:032X}"}
    return found


def targets(count: int) -> dict:
    return {
        "aws": {f"acct-{n}": {"account_id": f"{100000000000 + n}"} for n in range(count)},
        "gcp": {f"proj-{n}": {"project_id": f"acme-proj-{n}", "project_number": f"{200000000000 + n}"}
                for n in range(count)},
        "azure": {f"sub-{n}": {"tenant_id": "00000000-0000-0000-0000-000000000000",
                               "subscription_id": f"{n:08x}-1111-1111-1111-111111111111",
                               "resource_group": "workload-identities", "location": "eastus"}
                  for n in range(count)},
    }


def identity(rng: random.Random, name: str, clusters: int, index: int) -> dict:
    kind = rng.choices(["github", "gitlab", "eks", "tfc", "spire", "keycloak"], [40, 15, 25, 8, 7, 5])[0]
    if kind == "github":
        found = {"issuer": rng.choice(["github", "github", "github-enterprise"]), "repository": f"acme/{name}"}
        if rng.random() < 0.3:
            found.update(owner_id="1234567", repository_id=str(1000000 + rng.randrange(9000000)))
        pin = rng.choice(["ref", "ref", "environment"])
        found[pin] = ("refs/heads/main" if index == 0 else f"refs/tags/v{index}") if pin == "ref" else \
            rng.choice(["production", "staging"]) + (f"-{index}" if index else "")
        return found
    if kind == "gitlab":
        return {"issuer": "gitlab", "project_path": f"acme/group-{rng.randrange(50)}/{name}", "ref_type": "branch",
                "ref": "main" if index == 0 else f"release-{index}"}
    if kind == "eks":
        return {"issuer": f"eks-{rng.randrange(clusters)}", "namespace": name[:63].rstrip("-"),
                "service_account": f"sa-{index}"}
    if kind == "tfc":
        return {"issuer": "tfc", "organization": "acme", "project": f"p{rng.randrange(20)}", "workspace": name,
                "run_phase": "plan" if index % 2 else "apply"}
    if kind == "spire":
        return {"issuer": "spire", "spiffe_id": f"spiffe://mesh.acme.example/ns/{name}/sa/s{index}"}
    return {"issuer": "keycloak", "subject": f"{rng.getrandbits(128):032x}", "audience": "wiam-batch"}


def grant(rng: random.Random, cloud: str, name: str, target: dict) -> dict:
    if cloud == "aws":
        service = rng.choice(sorted(AWS_ACTIONS))
        actions = rng.sample(AWS_ACTIONS[service], rng.randrange(1, len(AWS_ACTIONS[service]) + 1))
        account = target["account_id"]
        resource = {"s3": f"arn:aws:s3:::acme-{name}/*", "sqs": f"arn:aws:sqs:us-east-1:{account}:{name}",
                    "dynamodb": f"arn:aws:dynamodb:us-east-1:{account}:table/{name}",
                    "sns": f"arn:aws:sns:us-east-1:{account}:{name}",
                    "secretsmanager": f"arn:aws:secretsmanager:us-east-1:{account}:secret:{name}-AbCdEf"}[service]
        return {"actions": sorted(actions), "resources": [resource]}
    if cloud == "gcp":
        role, resource = rng.choice(GCP_ROLES)
        return {"roles": [role], "resource": resource.format(name=f"acme-{name}", project=target["project_id"],
                                                                dataset=name.replace("-", "_"))}
    return {"roles": [rng.choice(AZURE_ROLES)],
            "scope": f"/subscriptions/{target['subscription_id']}/resourceGroups/{name}"}


def organisation(workloads: int, seed: int) -> dict:
    rng = random.Random(seed)
    clusters = max(2, workloads // 2000)
    per_cloud = max(3, workloads // WORKLOADS_PER_TARGET)
    document = {"issuer": issuers(clusters), "target": targets(per_cloud), "workload": {}}
    for n in range(workloads):
        name = f"svc-{n:06d}"
        identities = []
        for index in range(rng.choices([1, 2, 3, 4], [50, 30, 15, 5])[0]):
            candidate = identity(rng, name, clusters, index)
            if candidate not in identities:
                identities.append(candidate)
        grants: dict = {}
        for cloud in rng.sample(["aws", "gcp", "azure"], rng.choices([1, 2, 3], [60, 30, 10])[0]):
            # One target per cloud and workload (a workload has one grant per target), chosen so that
            # each target holds about WORKLOADS_PER_TARGET workloads.
            target_name = sorted(document["target"][cloud])[n * per_cloud // workloads]
            body = grant(rng, cloud, name, document["target"][cloud][target_name])
            if rng.random() < 0.01:
                body.update(next(b for c, b in RISKY if c == cloud))
                body.pop("resource", None) if cloud == "gcp" else None
            grants.setdefault(cloud, {})[target_name] = body
        document["workload"][name] = {"owner": f"team-{rng.randrange(200)}",
                                      "environment": rng.choice(["prod", "staging", "dev"]),
                                      "identity": identities, "grant": grants}
    return document


def _context(found: dict) -> str:
    return f"ref:{found['ref']}" if "ref" in found else f"environment:{found['environment']}"


def with_conditions(document: dict, fraction: float, seed: int) -> tuple[dict, int]:
    """The same organisation with job_workflow_ref and repository_id pinned on `fraction` of all its
    identities (GitHub ones by name, chosen by `seed`), and how many. An identity of a workload granted
    on Azure, which checks no claim beyond the subject, moves to a copy of its issuer whose subjects
    carry them (`<issuer>-pinned`), so it is chosen only if that subject fits GCP where the workload is
    granted there too."""
    rng = random.Random(seed)
    conditioned = json.loads(json.dumps(document))
    github = sorted(n for n, issuer in conditioned["issuer"].items() if issuer["kind"] == "github_actions")
    candidates, total = [], 0
    for _, body in sorted(conditioned["workload"].items()):
        for item in body["identity"]:
            total += 1
            if item["issuer"] not in github or "repository_id" in item:
                continue
            claims = {"job_workflow_ref": WORKFLOW, "repository_id": str(1000000 + rng.randrange(9000000))}
            templated = "azure" in body["grant"]
            subject = (f"repo:{item['repository']}:{_context(item)}:job_workflow_ref:{WORKFLOW}:"
                       f"repository_id:{claims['repository_id']}")
            if not (templated and "gcp" in body["grant"] and len(subject.encode()) > GCP_SUBJECT_MAX):
                candidates.append((item, claims, templated))
    chosen = rng.sample(candidates, min(len(candidates), round(total * fraction)))
    for item, claims, templated in chosen:
        item["claims"] = claims
        if templated:
            item["issuer"] += "-pinned"
    for name in github:
        conditioned["issuer"][f"{name}-pinned"] = {**conditioned["issuer"][name], "subject_claims": PINNED_KEYS}
    return conditioned, len(chosen)


def _hcl_value(value) -> str:
    if isinstance(value, str):
        return json.dumps(value).replace("${", "$${").replace("%{", "%%{")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_hcl_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_hcl_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def _hcl_body(body: dict, indent: str) -> str:
    return "".join(f"{indent}{key} = {_hcl_value(value)}\n" for key, value in body.items())


def to_hcl(document: dict) -> str:
    out = []
    for name, body in document.get("issuer", {}).items():
        out.append(f'issuer "{name}" {{\n{_hcl_body(body, "  ")}}}\n')
    for cloud, named in document.get("target", {}).items():
        for name, body in named.items():
            out.append(f'target "{cloud}" "{name}" {{\n{_hcl_body(body, "  ")}}}\n')
    for name, body in document.get("workload", {}).items():
        text = f'workload "{name}" {{\n' + _hcl_body({k: v for k, v in body.items() if k not in ("identity", "grant")}, "  ")
        for item in body["identity"]:
            text += "  identity {\n" + _hcl_body(item, "    ") + "  }\n"
        for cloud, named in body["grant"].items():
            for target, grant_body in named.items():
                text += f'  grant "{cloud}" "{target}" {{\n' + _hcl_body(grant_body, "    ") + "  }\n"
        out.append(text + "}\n")
    return "\n".join(out)


class _NoAliases(yaml.SafeDumper):
    """Shared lists written out in full at each place: wiam refuses YAML anchors and aliases."""

    def ignore_aliases(self, data) -> bool:
        return True


def write(document: dict, out: str, fmt: str) -> list[str]:
    """Spread the organisation over files: shared blocks in one, workloads in files of 100."""
    os.makedirs(out, exist_ok=True)
    names = sorted(document["workload"])
    chunks = [{"issuer": document["issuer"], "target": document["target"]}]
    chunks += [{"workload": {n: document["workload"][n] for n in names[i:i + WORKLOADS_PER_FILE]}}
               for i in range(0, len(names), WORKLOADS_PER_FILE)]
    written = []
    for index, chunk in enumerate(chunks):
        kind = fmt if fmt != "mixed" else ("hcl", "hcl", "hcl", "yaml", "json")[index % 5]
        path = os.path.join(out, f"{index:05d}.wiam.{kind}")
        with open(path, "w", encoding="utf-8") as handle:
            if kind == "hcl":
                handle.write(to_hcl(chunk))
            elif kind == "yaml":
                yaml.dump(chunk, handle, Dumper=_NoAliases, sort_keys=False, width=1000)
            else:
                json.dump(chunk, handle, indent=1)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=["hcl", "yaml", "json", "mixed"], default="mixed")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    files = write(organisation(args.workloads, args.seed), args.out, args.format)
    print(f"wrote {len(files)} files to {args.out}")


if __name__ == "__main__":
    main()
