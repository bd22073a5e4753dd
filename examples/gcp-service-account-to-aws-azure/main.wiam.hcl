# A Cloud Run service in GCP calling AWS and Azure with its own Google-signed ID token: no keys.
# The service account already exists (created by the platform team); its unique ID pins it.

issuer "google" {
  kind     = "gcp_service_account"
  audience = "https://wiam.acme.example/federation"
}

target "aws" "analytics" {
  account_id = "210987654321"
  region     = "eu-west-1"
}

target "azure" "reporting" {
  tenant_id       = "4f1d2c3b-5a69-4877-8665-544332211000"
  subscription_id = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
  resource_group  = "workload-identities"
  location        = "westeurope"
}

workload "invoice-exporter" {
  description = "Cloud Run service exporting invoices to S3 and Azure Blob Storage"
  owner       = "team-billing"
  environment = "prod"

  identity {
    issuer    = "google"
    unique_id = "104729365018274619350"
  }

  grant "aws" "analytics" {
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::acme-invoices/exports/*"]
  }

  grant "azure" "reporting" {
    roles = ["Storage Blob Data Contributor"]
    scope = "/subscriptions/7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d/resourceGroups/reporting/providers/Microsoft.Storage/storageAccounts/acmeinvoices"
  }
}
