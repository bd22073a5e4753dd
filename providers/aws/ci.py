"""How CI files log in to AWS with long-lived keys, and the OIDC login that replaces them
(aws-actions/configure-aws-credentials README; AWS CLI environment variables)."""

from wiam.secretless import CiLogins

CI = CiLogins(
    kind="aws-access-key",
    actions={"aws-actions/configure-aws-credentials": frozenset({"aws-access-key-id", "aws-secret-access-key",
                                                                 "aws-session-token"})},
    inputs=frozenset({"aws-access-key-id", "aws-secret-access-key"}),
    variables=frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}),
    scripts=(r"\baws\s+configure\s+set\s+(?:default\.)?aws_(?:secret_access_key|access_key_id)\b",
             r"\b(?:serverless|sls)\s+config\s+credentials\b"),  # the Serverless Framework's key login
    github="""- uses: aws-actions/configure-aws-credentials@v4
  with:
    role-to-assume: ${{ vars.WIAM_ROLE_ARN }}  # the role wiam compiles for this workload
    aws-region: ${{ vars.AWS_REGION }}""",
    gitlab="""id_tokens:
  WIAM_AWS_TOKEN:
    aud: sts.amazonaws.com
variables:
  AWS_ROLE_ARN: $WIAM_ROLE_ARN  # the role wiam compiles for this workload
  AWS_WEB_IDENTITY_TOKEN_FILE: $CI_BUILDS_DIR/.wiam-token
before_script:
  - echo "$WIAM_AWS_TOKEN" > "$AWS_WEB_IDENTITY_TOKEN_FILE\"""",
)
