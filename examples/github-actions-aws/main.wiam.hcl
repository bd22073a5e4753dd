# GitHub Actions deploying a web app to AWS: main branch deploys, release tags publish,
# and the production environment (with its required reviewers) runs database migrations.

issuer "github" {
  kind     = "github_actions"
  audience = "sts.amazonaws.com"
}

target "aws" "prod" {
  account_id = "210987654321"
  region     = "eu-west-1"
}

target "aws" "staging" {
  account_id = "109876543210"
  region     = "eu-west-1"
}

workload "webapp-deploy" {
  description = "Deploys the web app from main to staging and production"
  owner       = "team-web"
  environment = "prod"

  identity {
    issuer     = "github"
    repository = "acme/webapp"
    ref        = "refs/heads/main"
  }

  grant "aws" "staging" {
    actions   = ["s3:PutObject", "s3:DeleteObject", "cloudfront:CreateInvalidation"]
    resources = [
      "arn:aws:s3:::acme-webapp-staging/*",
      "arn:aws:cloudfront::109876543210:distribution/E2STAGING",
    ]
  }

  grant "aws" "prod" {
    actions   = ["s3:PutObject", "s3:DeleteObject", "cloudfront:CreateInvalidation"]
    resources = [
      "arn:aws:s3:::acme-webapp-prod/*",
      "arn:aws:cloudfront::210987654321:distribution/E1PROD",
    ]
    conditions = {
      StringEquals = { "aws:RequestedRegion" = ["eu-west-1", "us-east-1"] }
    }
    max_session_duration = "1h"
  }
}

workload "webapp-release" {
  description = "Publishes release artifacts from version tags"
  owner       = "team-web"
  environment = "prod"

  # Pinned by the immutable owner and repository IDs: a renamed or re-created repository
  # with the same name cannot assume this role.
  identity {
    issuer        = "github"
    repository    = "acme/webapp"
    owner_id      = "1234567"
    repository_id = "7654321"
    ref           = "refs/tags/v1"
  }

  grant "aws" "prod" {
    actions          = ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:BatchCheckLayerAvailability"]
    resources        = ["arn:aws:ecr:eu-west-1:210987654321:repository/webapp"]
    managed_policies = ["arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"]
  }
}

workload "webapp-migrate" {
  description = "Runs database migrations from the production environment"
  owner       = "team-web"
  environment = "prod"

  identity {
    issuer      = "github"
    repository  = "acme/webapp"
    environment = "production"
  }

  grant "aws" "prod" {
    actions              = ["rds-db:connect"]
    resources            = ["arn:aws:rds-db:eu-west-1:210987654321:dbuser:db-ABCDEFGHIJKL/migrator"]
    permissions_boundary = "arn:aws:iam::210987654321:policy/workload-boundary"
  }
}
