"""wiam: compile workload identity specs into Terraform JSON for AWS, GCP and Azure."""

__version__ = "0.1.0"
