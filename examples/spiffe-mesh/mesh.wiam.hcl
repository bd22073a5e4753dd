# Services in a SPIFFE mesh (SPIRE with its OIDC discovery provider) reaching cloud storage.

issuer "spire" {
  kind     = "spiffe"
  url      = "https://oidc-discovery.mesh.acme.example"
  audience = "wiam-mesh"
}

target "aws" "mesh" {
  account_id = "456789012345"
}

target "gcp" "mesh" {
  project_id     = "acme-mesh"
  project_number = "667788990011"
}

workload "ledger" {
  description = "The ledger service archives statements"
  owner       = "team-ledger"
  environment = "prod"

  identity {
    issuer    = "spire"
    spiffe_id = "spiffe://mesh.acme.example/ns/ledger/sa/ledger"
  }

  grant "aws" "mesh" {
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::acme-ledger-statements/*"]
  }

  grant "gcp" "mesh" {
    roles    = ["roles/secretmanager.secretAccessor"]
    resource = "projects/acme-mesh/secrets/ledger-signing-config"
    mode     = "direct"
  }
}
