# One release pipeline across three clouds, no secret anywhere: GitHub Actions becomes an AWS role,
# whose sessions become a GCP service account, whose ID tokens become an Azure managed identity.
# Each hop names the previous workload: the trust refers to its role, account and identity as they
# are created (wiam compile, one root module). `wiam blast-radius --subject
# repo:acme/release:ref:refs/heads/main` shows every hop.

issuer "github" {
  kind = "github_actions"
}

issuer "aws-roles" {
  kind = "aws_role"
}

issuer "google" {
  kind = "gcp_service_account"
}

target "aws" "build" {
  account_id = "510987654321"
  region     = "eu-west-1"
}

target "gcp" "data" {
  project_id     = "acme-data-prod"
  project_number = "604938271650"
}

target "azure" "delivery" {
  tenant_id       = "4f1d2c3b-5a69-4877-8665-544332211000"
  subscription_id = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
  resource_group  = "workload-identities"
  location        = "northeurope"
}

workload "release-build" {
  description = "GitHub Actions on main: builds release artifacts in AWS"
  owner       = "team-release"

  identity {
    issuer     = "github"
    repository = "acme/release"
    ref        = "refs/heads/main"
  }

  grant "aws" "build" {
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["arn:aws:s3:::acme-release-artifacts/*"]
  }
}

workload "release-catalog" {
  description = "The build's AWS role publishing the release catalog to BigQuery"
  owner       = "team-release"

  identity {
    issuer   = "aws-roles"
    workload = "release-build"
  }

  grant "gcp" "data" {
    roles    = ["roles/bigquery.dataEditor"]
    resource = "//bigquery.googleapis.com/projects/acme-data-prod/datasets/releases"
  }
}

workload "release-delivery" {
  description = "The catalog's GCP service account shipping releases through Azure Blob Storage"
  owner       = "team-release"

  identity {
    issuer   = "google"
    workload = "release-catalog"
  }

  grant "azure" "delivery" {
    roles = ["Storage Blob Data Contributor"]
    scope = "/subscriptions/9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/resourceGroups/delivery/providers/Microsoft.Storage/storageAccounts/acmereleases"
  }
}
