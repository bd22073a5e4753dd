"""aws: compile (terraform), catalog checks (catalog), access graph (graph) and rules (rules)."""

from .terraform import *  # noqa: F401,F403
from .terraform import CLOUD, TERRAFORM_PROVIDER, compile_target  # noqa: F401
from .catalog import problem as catalog_problem  # noqa: F401

CATALOG_FIELD = "actions"
from .graph import graph_target, link_principals  # noqa: F401
from .rules import RULES, writes  # noqa: F401
