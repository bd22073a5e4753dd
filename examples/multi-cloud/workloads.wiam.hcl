# One release pipeline that publishes to all three clouds, and a cluster service.

workload "release-publisher" {
  description = "Publishes release artifacts to every cloud from release tags"
  owner       = "team-release"
  environment = "prod"

  identity {
    issuer     = "github-enterprise"
    repository = "acme/release"
    ref        = "refs/tags/stable"
  }

  identity {
    issuer     = "github-enterprise"
    repository = "acme/release"
    ref        = "refs/heads/main"
  }

  grant "aws" "prod" {
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::acme-releases/*"]
  }

  grant "gcp" "prod" {
    roles    = ["roles/storage.objectCreator"]
    resource = "projects/_/buckets/acme-releases"
  }

  grant "azure" "prod" {
    roles = ["Storage Blob Data Contributor"]
    scope = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/releases/providers/Microsoft.Storage/storageAccounts/acmereleases"
  }
}

workload "billing-worker" {
  description = "Billing worker pods on EKS, reading usage from GCP and writing to AWS"
  owner       = "team-billing"
  environment = "prod"

  identity {
    issuer          = "eks-prod"
    namespace       = "billing"
    service_account = "billing-worker"
  }

  grant "aws" "prod" {
    actions   = ["sqs:SendMessage"]
    resources = ["arn:aws:sqs:us-east-1:123456789012:invoices"]
  }

  grant "gcp" "prod" {
    roles    = ["roles/pubsub.subscriber"]
    resource = "projects/acme-prod/subscriptions/usage-events"
  }
}
