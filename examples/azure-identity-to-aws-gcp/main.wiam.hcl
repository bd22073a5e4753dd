# An Azure Function calling AWS and GCP with its user-assigned managed identity's Entra token. The
# identity asks Entra for tokens for the app "api://acme-federation" (its application ID URI), which
# every cloud here pins as the audience; the principal (object) ID pins the identity.

issuer "entra" {
  kind      = "azure_managed_identity"
  tenant_id = "4f1d2c3b-5a69-4877-8665-544332211000"
  audience  = "api://acme-federation"
}

target "aws" "ml" {
  account_id = "310987654321"
  region     = "us-east-1"
}

target "gcp" "ml" {
  project_id     = "acme-ml-prod"
  project_number = "482915736201"
}

workload "feature-sync" {
  description = "Azure Function syncing features to SageMaker and BigQuery"
  owner       = "team-ml"
  environment = "prod"

  identity {
    issuer       = "entra"
    principal_id = "8c7b6a59-4d3e-4f21-9a0b-1c2d3e4f5a6b"
  }

  grant "aws" "ml" {
    actions   = ["sagemaker:PutRecord"]
    resources = ["arn:aws:sagemaker:us-east-1:310987654321:feature-group/customer-features"]
  }

  grant "gcp" "ml" {
    roles    = ["roles/bigquery.dataEditor"]
    resource = "//bigquery.googleapis.com/projects/acme-ml-prod/datasets/features"
  }
}
