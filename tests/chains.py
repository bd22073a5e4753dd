"""A spec with planted escalation chains in each cloud, shared by the graph, analysis and who-can tests.

AWS:   intern -(sts:AssumeRole)-> ci -(sts:AssumeRole)-> deployer -(iam:UpdateAssumeRolePolicy)-> admin;
       builder -(PassRole)-> admin
GCP:   gcp-ci -(tokenCreator on one SA)-> gcp-deployer -(serviceAccountUser on the project)-> gcp-data
       pool-admin -(workloadIdentityPoolAdmin on the project)-> every GCP principal of the project
Azure: az-ops -(Managed Identity Contributor on the identities' group)-> every identity in it
Both:  bridge, one subject with grants in AWS and GCP, opens a chain in each cloud
"""

ACCOUNT = "123456789012"
SA = "wiam-{}@acme-prod.iam.gserviceaccount.com"
IDENTITY_GROUP = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/workload-identities"

CHAINS_HCL = f'''
issuer "github" {{
  kind = "github_actions"
}}

issuer "eks" {{
  kind = "kubernetes"
  url  = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
}}

target "aws" "prod" {{
  account_id = "{ACCOUNT}"
}}

target "gcp" "prod" {{
  project_id     = "acme-prod"
  project_number = "{ACCOUNT}"
}}

target "azure" "prod" {{
  tenant_id       = "00000000-0000-0000-0000-000000000000"
  subscription_id = "11111111-1111-1111-1111-111111111111"
  resource_group  = "workload-identities"
  location        = "eastus"
}}

workload "intern" {{
  environment = "dev"
  identity {{
    issuer          = "eks"
    namespace       = "dev"
    service_account = "intern"
  }}
  grant "aws" "prod" {{
    actions   = ["sts:AssumeRole"]
    resources = ["arn:aws:iam::{ACCOUNT}:role/wiam-ci"]
  }}
}}

workload "bridge" {{
  environment = "prod"
  identity {{
    issuer          = "eks"
    namespace       = "bridge"
    service_account = "bridge"
  }}
  grant "aws" "prod" {{
    actions   = ["sts:AssumeRole"]
    resources = ["arn:aws:iam::{ACCOUNT}:role/wiam-admin"]
  }}
  grant "gcp" "prod" {{
    roles    = ["roles/iam.serviceAccountTokenCreator"]
    resource = "projects/acme-prod/serviceAccounts/{SA.format("gcp-data")}"
  }}
}}

workload "ci" {{
  environment = "prod"
  identity {{
    issuer          = "eks"
    namespace       = "ci"
    service_account = "runner"
  }}
  grant "aws" "prod" {{
    actions   = ["sts:AssumeRole"]
    resources = ["arn:aws:iam::{ACCOUNT}:role/wiam-deployer"]
  }}
}}

workload "deployer" {{
  environment = "prod"
  identity {{
    issuer          = "eks"
    namespace       = "deploy"
    service_account = "deployer"
  }}
  grant "aws" "prod" {{
    actions   = ["iam:UpdateAssumeRolePolicy"]
    resources = ["arn:aws:iam::{ACCOUNT}:role/wiam-admin"]
  }}
}}

workload "builder" {{
  environment = "prod"
  identity {{
    issuer          = "eks"
    namespace       = "build"
    service_account = "builder"
  }}
  grant "aws" "prod" {{
    actions   = ["iam:PassRole", "lambda:CreateFunction"]
    resources = ["arn:aws:iam::{ACCOUNT}:role/wiam-admin", "arn:aws:lambda:us-east-1:{ACCOUNT}:function:build-*"]
  }}
}}

workload "admin" {{
  environment = "prod"
  identity {{
    issuer          = "eks"
    namespace       = "admin"
    service_account = "admin"
  }}
  grant "aws" "prod" {{
    actions   = ["s3:DeleteBucket"]
    resources = ["arn:aws:s3:::acme-data"]
  }}
}}

workload "gcp-ci" {{
  environment = "prod"
  identity {{
    issuer          = "eks"
    namespace       = "gcp"
    service_account = "ci"
  }}
  grant "gcp" "prod" {{
    roles    = ["roles/iam.serviceAccountTokenCreator"]
    resource = "projects/acme-prod/serviceAccounts/{SA.format("gcp-deployer")}"
  }}
}}

workload "gcp-deployer" {{
  environment = "prod"
  identity {{
    issuer          = "eks"
    namespace       = "gcp"
    service_account = "deployer"
  }}
  grant "gcp" "prod" {{
    roles = ["roles/iam.serviceAccountUser"]
  }}
}}

workload "gcp-data" {{
  environment = "prod"
  identity {{
    issuer          = "eks"
    namespace       = "gcp"
    service_account = "data"
  }}
  grant "gcp" "prod" {{
    roles    = ["roles/storage.objectAdmin"]
    resource = "projects/_/buckets/acme-data"
  }}
}}

workload "pool-admin" {{
  environment = "prod"
  identity {{
    issuer          = "eks"
    namespace       = "gcp"
    service_account = "pool-admin"
  }}
  grant "gcp" "prod" {{
    roles = ["roles/iam.workloadIdentityPoolAdmin"]
  }}
}}

workload "az-ops" {{
  environment = "prod"
  identity {{
    issuer          = "eks"
    namespace       = "azure"
    service_account = "ops"
  }}
  grant "azure" "prod" {{
    roles = ["Managed Identity Contributor"]
    scope = "{IDENTITY_GROUP}"
  }}
}}

workload "az-app" {{
  environment = "prod"
  identity {{
    issuer          = "eks"
    namespace       = "azure"
    service_account = "app"
  }}
  grant "azure" "prod" {{
    roles = ["Storage Blob Data Reader"]
    scope = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/data"
  }}
}}
'''
