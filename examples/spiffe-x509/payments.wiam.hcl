# Services of a SPIRE mesh authenticating with their X.509-SVIDs: AWS IAM Roles Anywhere trusts the
# mesh's CA (a trust anchor) and GCP an X.509 workload identity pool provider with the same CA.

issuer "payments-mesh" {
  kind              = "spiffe_x509"
  trust_bundle_file = "payments-ca.pem"
}

target "aws" "payments" {
  account_id = "567890123456"
  region     = "eu-west-1"
}

target "gcp" "payments" {
  project_id     = "acme-payments"
  project_number = "778899001122"
}

workload "settlement" {
  description = "The settlement service writes daily settlement files"
  owner       = "team-payments"
  environment = "prod"

  identity {
    issuer    = "payments-mesh"
    spiffe_id = "spiffe://payments.acme.example/ns/settlement/sa/settlement"
  }

  grant "aws" "payments" {
    actions   = ["s3:PutObject"]
    resources = ["arn:aws:s3:::acme-settlement-files/*"]
  }

  grant "gcp" "payments" {
    roles    = ["roles/pubsub.publisher"]
    resource = "projects/acme-payments/topics/settlements"
    mode     = "direct"
  }
}
