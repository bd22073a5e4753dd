"""One package per cloud, like one dialect per SQL engine. Each has:
- CLOUD: the cloud's name in the spec ("aws", "gcp", "azure");
- TERRAFORM_PROVIDER: (local name, source, version constraint);
- places(target settings) -> [(label, field, key)]: the cloud objects (account, project and pool, resource
  group) a target manages alone, and the setting naming them; two targets sharing a key are refused;
- object_names(model, target) -> [ObjectName]: the names it derives for cloud objects, with where and how
  the cloud compares them (exactly or ignoring case); names the cloud would take for one are refused;
- compile_target(model, target, module, report) -> {workload name: {output key: value}}: its Terraform
  resources, with the cloud's documented limits checked;
- CATALOG_FIELD and catalog_problem(entry): the grant field its catalog checks, and why an entry is unknown;
- graph_target(model, target, access) and link_principals(model, access): its part of the access graph,
  allows(action or role node, action) and covers(grant node, resource) for who-can, and
  impact(action or role node) -> severity for blast radius, permission_set(label) for diffs, and
  reach(grant settings, target settings, targets' settings by name) -> the targets whose principals a
  grant may act as (a superset of link_principals' edges), for incremental diffs;
- RULES and writes(grant): its analysis rules, and whether a grant allows more than reading;
- simulate(model, module, claims) -> [Verdict]: which compiled principals accept a token, and why not;
- live: connect(...), expected(model, target, resources) and read(model, target, expected, connection) ->
  [LiveObject] for drift, unchecked(resources), and refresh_catalog(connect, folder, date).
"""

from __future__ import annotations

from . import aws, azure, gcp

PROVIDERS = {module.CLOUD: module for module in (aws, gcp, azure)}
