"""The Azure dialect: Terraform resources (terraform), catalog (catalog), access graph (graph), rules (rules),
simulation (simulate), live state for drift (live)."""

from . import live
from .catalog import problem as catalog_problem
from .graph import allows, covers, graph_target, impact, link_principals, permission_set, reach
from .rules import RULES, writes
from .simulate import simulate
from .terraform import CLOUD, TERRAFORM_PROVIDER, compile_target, object_names, places, identity_name, role_reference

CATALOG_FIELD = "roles"  # the grant field whose entries the catalog checks

__all__ = ["CATALOG_FIELD", "CLOUD", "live", "RULES", "TERRAFORM_PROVIDER", "catalog_problem", "compile_target", "object_names", "places",
           "allows", "covers", "graph_target", "impact", "link_principals", "permission_set", "reach", "simulate", "writes",
           "identity_name", "role_reference"]

from .._legacy import adapt

adapt(globals())
