# Services on EKS reaching AWS with EKS Pod Identity: each role trusts pods.eks.amazonaws.com, pinned
# to its cluster, namespace and service account, and an association binds them (no OIDC provider).
# The pipeline that publishes their images federates from GitHub Actions into the same account.

issuer "pods" {
  kind = "eks_pod_identity"
}

issuer "github" {
  kind = "github_actions"
}

target "aws" "shop" {
  account_id = "210987654321"
  region     = "eu-central-1"
}

workload "orders-worker" {
  description = "Consumes the orders queue"
  owner       = "team-orders"
  environment = "prod"

  identity {
    issuer          = "pods"
    cluster         = "shop-prod"
    namespace       = "orders"
    service_account = "orders-worker"
  }

  grant "aws" "shop" {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = ["arn:aws:sqs:eu-central-1:210987654321:orders"]
  }
}

workload "receipts-archiver" {
  description = "Archives receipts, from the primary cluster and its standby"
  owner       = "team-orders"
  environment = "prod"

  identity {
    issuer          = "pods"
    cluster         = "shop-prod"
    namespace       = "receipts"
    service_account = "archiver"
  }

  identity {
    issuer          = "pods"
    cluster         = "shop-standby"
    namespace       = "receipts"
    service_account = "archiver"
  }

  grant "aws" "shop" {
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::acme-shop-receipts/*"]
  }
}

workload "image-publisher" {
  description = "Pushes the services' images from main"
  owner       = "team-platform"
  environment = "prod"

  identity {
    issuer     = "github"
    repository = "acme/shop"
    ref        = "refs/heads/main"
  }

  grant "aws" "shop" {
    actions   = ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:BatchCheckLayerAvailability"]
    resources = ["arn:aws:ecr:eu-central-1:210987654321:repository/shop/*"]
  }
}
