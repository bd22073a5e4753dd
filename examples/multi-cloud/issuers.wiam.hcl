issuer "github" {
  kind = "github_actions"
}

issuer "eks-prod" {
  kind = "kubernetes"
  url  = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
}

issuer "github-enterprise" {
  kind            = "github_actions"
  enterprise_slug = "acme"
}
