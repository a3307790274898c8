provider "aws" {
  region = var.region

  # Refuse to run against any other account: the workflow's role ARN names this one.
  allowed_account_ids = [var.aws_account_id]

  default_tags {
    tags = {
      Project   = "arch"
      Component = "worker-node-images"
      ManagedBy = "terraform"
    }
  }
}
