"""The Azure provider: typed settings and names (settings), the plan (plan), its Terraform (terraform),
access graph (graph), simulation (simulate), permissions and catalog (permissions, catalog), rules
(rules), live state for drift (live), discovery (discover)."""

import functools

import wiam.schema
from wiam.issuers import OIDC_KINDS
from wiam.provider import Endpoint, Example

from . import discover, federation, live, permissions
from .graph import graph, link_principals, reach
from .plan import object_names, places, plan
from .rules import RULES
from .settings import CLOUD, TERRAFORM_PROVIDER
from .simulate import simulate
from .terraform import emit

ENDPOINTS = (Endpoint("endpoint", "--azure-endpoint", "WIAM_AZURE_ENDPOINT",
                      "Another Azure Resource Manager URL (a sovereign cloud or an emulator)."),
             Endpoint("graph", "--azure-graph-endpoint", "WIAM_AZURE_GRAPH_ENDPOINT",
                      "Another Microsoft Graph URL for discover (a national cloud or an emulator)."))
_SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
EXAMPLE = Example(
    target={"tenant_id": "00000000-0000-0000-0000-000000000000", "subscription_id": _SUBSCRIPTION,
            "resource_group": "identities", "location": "eastus"},
    grant={"roles": ["Storage Blob Data Reader"], "scope": f"/subscriptions/{_SUBSCRIPTION}/resourceGroups/data"})
DATA_PACKAGES: tuple[str, ...] = ()
KINDS = OIDC_KINDS  # the issuer kinds its trust accepts
KINDS = KINDS | federation.KINDS  # other clouds' workloads
CHAINS = federation.CHAINS
schema = functools.partial(wiam.schema.packaged, __name__)

__all__ = ["CHAINS", "CLOUD", "DATA_PACKAGES", "ENDPOINTS", "EXAMPLE", "RULES", "TERRAFORM_PROVIDER", "discover", "emit", "graph",
           "link_principals", "live", "object_names", "permissions", "places", "plan", "reach", "schema", "simulate"]
