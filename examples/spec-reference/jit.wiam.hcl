workload "orders-db-restore" {
  owner       = "team-orders"
  environment = "prod"
  break_glass = true

  identity {
    issuer      = "github"
    repository  = "acme/orders"
    environment = "production"
  }

  grant "aws" "prod" {
    actions    = ["rds:RestoreDBInstanceToPointInTime"]
    resources  = ["arn:aws:rds:us-east-1:123456789012:db:orders"]
    not_before = "2026-12-01T20:00:00Z"
    expires    = "2026-12-02T02:00:00Z"
    reason     = "restore after the 2026-12-01 incident"
    ticket     = "INC-4521"
  }
}
