workload "payments-release" {
  owner       = "team-payments"
  environment = "prod"

  identity {
    issuer     = "github"
    repository = "acme/payments"
    ref        = "refs/heads/main"
    claims = {
      job_workflow_ref = "acme/shared-workflows/.github/workflows/release.yml@refs/heads/main"
      repository_id    = "892416"
    }
  }

  grant "aws" "prod" {
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::acme-payments-artifacts/releases/*"]
  }

  grant "gcp" "prod" {
    roles    = ["roles/storage.objectCreator"]
    resource = "projects/_/buckets/acme-payments-artifacts"
  }
}

issuer "github-workflows" {
  kind = "github_actions"
  # The repositories that use this issuer customise their subject claim with these keys, in
  # this order (GitHub's include_claim_keys). Default: GitHub's default subject.
  subject_claims = ["repo", "context", "job_workflow_ref"]
}

workload "payments-blob-sync" {
  owner       = "team-payments"
  environment = "prod"

  identity {
    issuer     = "github-workflows"
    repository = "acme/payments"
    ref        = "refs/heads/main"
    claims = {
      job_workflow_ref = "acme/shared-workflows/.github/workflows/sync.yml@refs/heads/main"
    }
  }

  grant "azure" "prod" {
    roles = ["Storage Blob Data Contributor"]
    scope = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/payments"
  }
}
