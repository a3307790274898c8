variable "aws_account_id" {
  description = "The AWS account that holds the bucket, the role and GitHub's OIDC provider."
  type        = string
  default     = "839695154978"

  validation {
    condition     = can(regex("^[0-9]{12}$", var.aws_account_id))
    error_message = "aws_account_id must be a 12-digit AWS account id."
  }
}

variable "region" {
  description = "Region of the bucket (the workflow's aws-region)."
  type        = string
  default     = "ap-northeast-1"
}

variable "github_repository" {
  description = "owner/name of the repository whose workflow may assume the role."
  type        = string
  default     = "boxp/arch"
}

variable "github_branch" {
  description = "The only branch whose workflow runs may assume the role."
  type        = string
  default     = "main"
}

variable "role_name" {
  description = "Name of the role .github/workflows/build-worker-images.yml assumes."
  type        = string
  default     = "GitHubActions_WorkerNode_Build"
}

variable "role_max_session_hours" {
  description = "Longest session the workflow may ask for (build, boot test, compression and upload of one node)."
  type        = number
  default     = 2

  validation {
    condition     = var.role_max_session_hours >= 1 && var.role_max_session_hours <= 12
    error_message = "IAM allows sessions of 1 to 12 hours."
  }
}

variable "bucket_name" {
  description = "The bucket of the worker node images."
  type        = string
  default     = "arch-worker-images"
}

variable "image_prefix" {
  description = "Key prefix of the images; the role can write nothing else."
  type        = string
  default     = "images/"

  validation {
    condition     = endswith(var.image_prefix, "/") && !startswith(var.image_prefix, "/")
    error_message = "image_prefix must be a key prefix ending in / (no leading /)."
  }
}

variable "image_retention_days" {
  description = "Days a deleted or replaced image version is kept before it is removed for good (builds themselves are pruned after 90 days by `prov image prune`, which keeps each node's newest known-good build)."
  type        = number
  default     = 90
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which the parts of an interrupted multipart upload are deleted."
  type        = number
  default     = 3
}
