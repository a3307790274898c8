# The role .github/workflows/build-worker-images.yml assumes with GitHub's OIDC token
# (aws-actions/configure-aws-credentials). It trusts only workflow runs on the main branch of
# the repository, and may only write and read the images under image_prefix.
#
# GitHub's OIDC identity provider (token.actions.githubusercontent.com) already exists in the
# account, as the design assumes; it is referenced, not managed, here.

locals {
  github_oidc_host         = "token.actions.githubusercontent.com"
  github_oidc_provider_arn = "arn:aws:iam::${var.aws_account_id}:oidc-provider/${local.github_oidc_host}"
  bucket_arn               = "arn:aws:s3:::${var.bucket_name}"
  images_arn               = "${local.bucket_arn}/${var.image_prefix}*"
}

data "aws_iam_policy_document" "github_actions_assume_role" {
  statement {
    sid     = "GitHubActionsMainBranch"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:sub"
      values   = ["repo:${var.github_repository}:ref:refs/heads/${var.github_branch}"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "github_actions_worker_build" {
  name                 = var.role_name
  description          = "GitHub Actions (${var.github_repository}, ${var.github_branch}): build worker node images and upload them to s3://${var.bucket_name}/${var.image_prefix}"
  assume_role_policy   = data.aws_iam_policy_document.github_actions_assume_role.json
  max_session_duration = var.role_max_session_hours * 3600
}

data "aws_iam_policy_document" "worker_images_access" {
  # Objects: upload (multipart included), read back, tag (mark-good), replace and delete,
  # under the image prefix only.
  statement {
    sid    = "WorkerImageObjects"
    effect = "Allow"
    actions = [
      "s3:PutObject",
      "s3:GetObject",
      "s3:DeleteObject",
      "s3:GetObjectTagging",
      "s3:PutObjectTagging",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = [local.images_arn]
  }

  # Listing: only keys under the image prefix.
  statement {
    sid       = "ListWorkerImages"
    effect    = "Allow"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.image_prefix}*"]
    }
  }

  # Unfinished multipart uploads of the bucket (to abort a failed upload's parts).
  # ListBucketMultipartUploads has no s3:prefix condition key: a condition on it would never
  # match and deny the action, so this statement is scoped by the bucket alone.
  statement {
    sid       = "ListWorkerImageUploads"
    effect    = "Allow"
    actions   = ["s3:ListBucketMultipartUploads"]
    resources = [local.bucket_arn]
  }
}

resource "aws_iam_role_policy" "s3_worker_images_access" {
  name   = "S3WorkerImagesAccess"
  role   = aws_iam_role.github_actions_worker_build.id
  policy = data.aws_iam_policy_document.worker_images_access.json
}
