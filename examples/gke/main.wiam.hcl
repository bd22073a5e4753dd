# Services on GKE reaching Google Cloud with Workload Identity Federation for GKE: their roles are
# bound to each Kubernetes service account's principal in the project's Google-managed pool
# (acme-analytics.svc.id.goog), or to a service account it may act as; no pool or provider is
# created for them. The dashboards' pipeline federates from GitHub Actions through wiam's pool.

issuer "gke" {
  kind = "gke"
}

issuer "github" {
  kind = "github_actions"
}

target "gcp" "analytics" {
  project_id     = "acme-analytics"
  project_number = "246813579024"
}

workload "reports-api" {
  description = "Serves reports from the warehouse"
  owner       = "team-data"
  environment = "prod"

  identity {
    issuer          = "gke"
    project_id      = "acme-analytics"
    namespace       = "reports"
    service_account = "reports-api"
  }

  grant "gcp" "analytics" {
    roles    = ["roles/bigquery.dataViewer"]
    resource = "projects/acme-analytics/datasets/reports"
    mode     = "direct"
  }
}

workload "exports" {
  description = "Writes the nightly exports, as its own service account"
  owner       = "team-data"
  environment = "prod"

  identity {
    issuer          = "gke"
    project_id      = "acme-analytics"
    namespace       = "exports"
    service_account = "exporter"
  }

  grant "gcp" "analytics" {
    roles    = ["roles/storage.objectCreator"]
    resource = "projects/_/buckets/acme-analytics-exports"
  }
}

workload "dashboards-deployer" {
  description = "Publishes dashboard definitions from main"
  owner       = "team-data"
  environment = "prod"

  identity {
    issuer     = "github"
    repository = "acme/dashboards"
    ref        = "refs/heads/main"
  }

  grant "gcp" "analytics" {
    roles    = ["roles/storage.objectAdmin"]
    resource = "projects/_/buckets/acme-dashboards"
  }
}
