"""How CI files log in to Azure with client secrets, and the federated credential login that
replaces them (azure/login README; az login; the azurerm provider's ARM_* variables)."""

from wiam.secretless import CiLogins

CI = CiLogins(
    kind="azure-client-secret",
    actions={"azure/login": frozenset({"creds", "client-secret"})},
    inputs=frozenset({"azure-credentials", "azure-client-secret", "arm-client-secret"}),
    variables=frozenset({"AZURE_CLIENT_SECRET", "ARM_CLIENT_SECRET"}),
    # A service principal login by password or secret; `--federated-token` is the OIDC one. Anchored,
    # so each lookahead reads a line once.
    scripts=(r"^(?=.*\baz\s+login\b)(?=.*--service-principal)(?!.*--federated-token)(?=.*\s(?:-p|--password)\b)",),
    github="""- uses: azure/login@v2
  with:
    client-id: ${{ vars.WIAM_CLIENT_ID }}  # the identity wiam compiles for this workload
    tenant-id: ${{ vars.AZURE_TENANT_ID }}
    subscription-id: ${{ vars.AZURE_SUBSCRIPTION_ID }}""",
    gitlab="""id_tokens:
  WIAM_AZURE_TOKEN:
    aud: api://AzureADTokenExchange
script:
  - az login --service-principal -u "$WIAM_CLIENT_ID" --tenant "$AZURE_TENANT_ID" --federated-token "$WIAM_AZURE_TOKEN\"""",
)
