# A Lambda function's execution role (made outside wiam) loading data into GCP: GCP's pool provider
# of type aws admits the role's sessions (a signed GetCallerIdentity of account 410987654321), every
# session of that role and no other role.

issuer "aws" {
  kind = "aws_role"
}

target "gcp" "warehouse" {
  project_id     = "acme-warehouse"
  project_number = "593026847312"
}

workload "orders-loader" {
  description = "Lambda loading order events into BigQuery"
  owner       = "team-data"
  environment = "prod"

  identity {
    issuer   = "aws"
    role_arn = "arn:aws:iam::410987654321:role/service-role/orders-loader"
  }

  grant "gcp" "warehouse" {
    roles    = ["roles/bigquery.dataEditor"]
    resource = "//bigquery.googleapis.com/projects/acme-warehouse/datasets/orders"
  }
}
