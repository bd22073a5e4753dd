# Terraform Cloud runs: plans read, applies change. Separate workloads keep plan-time
# credentials read-only.

issuer "tfc" {
  kind = "terraform_cloud"
}

target "aws" "network" {
  account_id = "345678901234"
}

target "gcp" "network" {
  project_id     = "acme-network"
  project_number = "556677889900"
}

workload "network-plan" {
  description = "Terraform plans of the network workspace"
  owner       = "team-network"
  environment = "prod"

  identity {
    issuer       = "tfc"
    organization = "acme"
    project      = "infrastructure"
    workspace    = "network-prod"
    run_phase    = "plan"
  }

  grant "aws" "network" {
    managed_policies = ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
  }

  grant "gcp" "network" {
    roles = ["roles/compute.networkViewer"]
  }
}

workload "network-apply" {
  description = "Terraform applies of the network workspace"
  owner       = "team-network"
  environment = "prod"

  identity {
    issuer       = "tfc"
    organization = "acme"
    project      = "infrastructure"
    workspace    = "network-prod"
    run_phase    = "apply"
  }

  # Resource "*" with write actions: VPC and subnet IDs only exist once Terraform creates them.
  suppress "AWS102" {
    reason = "creates VPCs and subnets whose IDs are only known at apply time; the region condition bounds it"
  }
  suppress "AWS106" {
    reason = "ec2:Describe* reads the account's network layout, which every plan compares against"
  }
  suppress "GCP105" {
    reason = "this workspace owns the project's VPC networks: administering them is its job"
  }

  grant "aws" "network" {
    actions   = ["ec2:CreateVpc", "ec2:DeleteVpc", "ec2:ModifyVpcAttribute", "ec2:CreateSubnet", "ec2:DeleteSubnet", "ec2:Describe*"]
    resources = ["*"]
    conditions = {
      StringEquals = { "aws:RequestedRegion" = "us-east-1" }
    }
  }

  grant "gcp" "network" {
    roles = ["roles/compute.networkAdmin"]
  }
}
