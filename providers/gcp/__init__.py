"""The GCP provider (wiam.provider.Provider): typed settings and names (settings), the plan with its
limits (plan), Terraform (terraform), access graph (graph), permissions and catalog (permissions,
catalog), rules (rules), simulation (simulate), live state for drift (live), discovery (discover)."""

import functools

import wiam.schema
from wiam.issuers import OIDC_KINDS
from wiam.provider import Endpoint, Example

from . import discover, federation, gke, live, permissions
from .graph import graph, link_principals, reach
from .plan import CLOUD, plan
from .rules import RULES
from .settings import TERRAFORM_PROVIDER, object_names, places
from .simulate import simulate
from .terraform import emit

ENDPOINTS = (
    Endpoint("rest", "--gcp-endpoint", "WIAM_GCP_ENDPOINT",
             "Another base URL for GCP's REST APIs (a private endpoint or an emulator)."),
    Endpoint("grpc", "--gcp-grpc-endpoint", "WIAM_GCP_GRPC_ENDPOINT",
             "Another host:port for the IAM Admin API, which is gRPC only."),
)
EXAMPLE = Example(target={"project_id": "acme-prod", "project_number": "123456789012"},
                  grant={"roles": ["roles/storage.objectViewer"], "resource": "projects/_/buckets/acme-artifacts"})
DATA_PACKAGES: tuple[str, ...] = ()
KINDS = OIDC_KINDS  # the issuer kinds its trust accepts
KINDS = KINDS | {gke.KIND}  # Workload Identity Federation for GKE
KINDS = KINDS | {"spiffe_x509"}  # X.509 workload identity federation (x509)
KINDS = KINDS | federation.KINDS  # other clouds' workloads
CHAINS = federation.CHAINS
schema = functools.partial(wiam.schema.packaged, __name__)

__all__ = ["CHAINS", "CLOUD", "DATA_PACKAGES", "ENDPOINTS", "EXAMPLE", "RULES", "TERRAFORM_PROVIDER", "discover", "emit", "graph",
           "link_principals", "live", "object_names", "permissions", "places", "plan", "reach", "schema", "simulate"]
