# A nightly batch job that signs in to the company's Keycloak realm with its own service account
# (client credentials): the token's sub is that service account's user ID, which never changes.

issuer "keycloak" {
  kind = "generic_oidc"
  url  = "https://sso.acme.example/realms/platform"
}

target "aws" "analytics" {
  account_id = "210987654321"
}

target "gcp" "analytics" {
  project_id     = "acme-analytics"
  project_number = "998877665544"
}

workload "nightly-report" {
  description = "Builds the nightly revenue report"
  owner       = "team-analytics"
  environment = "prod"

  identity {
    issuer   = "keycloak"
    subject  = "8c2f7e3a-51d4-4c6b-9f0e-2b7a6d1e4c90"
    audience = "wiam-batch"
  }

  grant "aws" "analytics" {
    actions   = ["athena:StartQueryExecution", "athena:GetQueryResults", "s3:GetObject", "s3:PutObject"]
    resources = [
      "arn:aws:athena:eu-west-1:210987654321:workgroup/reports",
      "arn:aws:s3:::acme-report-results/*",
    ]
  }

  grant "gcp" "analytics" {
    roles    = ["roles/bigquery.dataViewer"]
    resource = "projects/acme-analytics/datasets/revenue"
  }
}
