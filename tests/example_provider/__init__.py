"""A fourth cloud on paper, laid out as providers/example/ would be: what a newcomer writes to add a
cloud. The contract test (tests/test_provider_contract.py) registers and checks it like the others."""

import functools

from wiam.issuers import OIDC_KINDS
from wiam.provider import Endpoint, Example
from wiam.schema import packaged

from . import discover, live, permissions
from .graph import graph, link_principals, reach
from .plan import object_names, plan
from .rules import RULES
from .settings import CLOUD, TERRAFORM_PROVIDER, places
from .simulate import simulate
from .terraform import emit

ENDPOINTS = (Endpoint("endpoint", "--example-endpoint", "WIAM_EXAMPLE_ENDPOINT",
                      "Another URL for the example cloud's API (an emulator)."),)
EXAMPLE = Example(target={"account": "acme-prod"}, grant={"permissions": ["read"], "resources": ["reports"]})
DATA_PACKAGES = ()
KINDS = OIDC_KINDS  # the issuer kinds its trust accepts
CHAINS = {}  # its principals carry no tokens to other clouds
schema = functools.partial(packaged, __name__)
