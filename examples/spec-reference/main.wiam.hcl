issuer "github" {
  kind = "github_actions"   # github_actions | gitlab_ci | kubernetes | spiffe | terraform_cloud | generic_oidc
  # url defaults per kind (github_actions: https://token.actions.githubusercontent.com,
  # gitlab_ci: https://gitlab.com, terraform_cloud: https://app.terraform.io); required otherwise
  # audience: optional; defaults per cloud (aws: sts.amazonaws.com, gcp: the provider's own
  # resource name, azure: api://AzureADTokenExchange); when set, every cloud requires it
}

issuer "eks-prod" {
  kind = "kubernetes"
  url  = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
}

target "aws" "prod" {
  account_id = "123456789012"
  # optional: reuse OIDC providers that already exist in the account instead of creating them
  # existing_oidc_providers = { github = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }
}

target "gcp" "prod" {
  project_id     = "acme-prod"
  project_number = "123456789012"
}

target "azure" "prod" {
  tenant_id       = "00000000-0000-0000-0000-000000000000"
  subscription_id = "11111111-1111-1111-1111-111111111111"
  resource_group  = "workload-identities"
  location        = "eastus"
}

workload "payments-deployer" {
  description = "Deploys the payments service from its main branch"
  owner       = "team-payments"
  environment = "prod"

  identity {
    issuer     = "github"
    repository = "acme/payments"
    ref        = "refs/heads/main"
  }

  grant "aws" "prod" {
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["arn:aws:s3:::acme-payments-artifacts/*"]
  }

  grant "gcp" "prod" {
    roles    = ["roles/storage.objectViewer"]
    resource = "projects/_/buckets/acme-payments-artifacts"
  }

  grant "azure" "prod" {
    roles = ["Storage Blob Data Reader"]
    scope = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/payments"
  }
}

workload "orders-api" {
  owner       = "team-orders"
  environment = "prod"

  identity {
    issuer          = "eks-prod"
    namespace       = "orders"
    service_account = "orders-api"
  }

  grant "aws" "prod" {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]
    resources = ["arn:aws:sqs:us-east-1:123456789012:orders"]
  }
}
