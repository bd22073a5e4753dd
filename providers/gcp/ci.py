"""How CI files log in to GCP with service account keys, and the workload identity federation login
that replaces them (google-github-actions/auth and setup-gcloud READMEs; gcloud auth)."""

from wiam.secretless import CiLogins

_KEYS = frozenset({"credentials_json", "service_account_key", "credentials"})

CI = CiLogins(
    kind="gcp-service-account-key",
    actions={"google-github-actions/auth": _KEYS, "google-github-actions/setup-gcloud": _KEYS,
             "google-github-actions/deploy-cloudrun": _KEYS, "google-github-actions/get-gke-credentials": _KEYS,
             "googlecloudplatform/github-actions/setup-gcloud": _KEYS},
    inputs=frozenset({"credentials-json", "service-account-key", "gcp-sa-key", "google-credentials",
                      "google-application-credentials"}),
    variables=frozenset({"GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS_JSON", "GOOGLE_CREDENTIALS",
                         "GOOGLE_CLOUD_KEYFILE_JSON"}),
    scripts=(r"\bgcloud\s+auth\s+activate-service-account\b",),
    github="""- uses: google-github-actions/auth@v2
  with:
    workload_identity_provider: ${{ vars.WIAM_WORKLOAD_IDENTITY_PROVIDER }}  # the pool provider wiam compiles
    service_account: ${{ vars.WIAM_SERVICE_ACCOUNT }}  # the service account wiam compiles for this workload""",
    gitlab="""id_tokens:
  WIAM_GCP_TOKEN:
    aud: https://iam.googleapis.com/$WIAM_WORKLOAD_IDENTITY_PROVIDER
script:
  - echo "$WIAM_GCP_TOKEN" > .wiam-token
  - gcloud iam workload-identity-pools create-cred-config "$WIAM_WORKLOAD_IDENTITY_PROVIDER"
      --service-account="$WIAM_SERVICE_ACCOUNT" --credential-source-file=.wiam-token --output-file=.wiam-gcp.json
  - gcloud auth login --cred-file=.wiam-gcp.json""",
)
