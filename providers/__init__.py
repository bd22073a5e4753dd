"""One module per cloud. Each turns the model's targets of its cloud into Terraform resources,
checks that cloud's documented limits, and names what a workload's owner needs (outputs).

Every provider module has:
- CLOUD: the cloud's name in the spec ("aws", "gcp", "azure");
- TERRAFORM_PROVIDER: (local name, source, version constraint);
- compile_target(model, target, module, report) -> {workload name: {output key: value}}.
"""

from __future__ import annotations

from . import aws, azure, gcp

PROVIDERS = {module.CLOUD: module for module in (aws, gcp, azure)}
