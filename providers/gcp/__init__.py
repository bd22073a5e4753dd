"""gcp: compile (terraform), catalog checks (catalog), access graph (graph) and rules (rules)."""

from .terraform import *  # noqa: F401,F403
from .terraform import CLOUD, TERRAFORM_PROVIDER, compile_target  # noqa: F401
