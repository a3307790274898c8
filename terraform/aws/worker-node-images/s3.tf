# The image bucket: private, versioned, encrypted, TLS only. Builds older than 90 days (design
# §8.1) are deleted by `prov image prune --older-than 90d` in the workflow, which never deletes
# a node's newest known-good build (the rollback image, §8.2); the lifecycle rule removes
# deleted or replaced versions for good image_retention_days later and aborts stale uploads.

resource "aws_s3_bucket" "worker_images" {
  bucket = var.bucket_name
}

resource "aws_s3_bucket_ownership_controls" "worker_images" {
  bucket = aws_s3_bucket.worker_images.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "worker_images" {
  bucket = aws_s3_bucket.worker_images.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "worker_images" {
  bucket = aws_s3_bucket.worker_images.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "worker_images" {
  bucket = aws_s3_bucket.worker_images.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "worker_images" {
  bucket = aws_s3_bucket.worker_images.id

  # Lifecycle rules on a versioned bucket need versioning in place first.
  depends_on = [aws_s3_bucket_versioning.worker_images]

  rule {
    id     = "expire-worker-images"
    status = "Enabled"

    filter {
      prefix = var.image_prefix
    }

    # No `expiration` of current objects: a lifecycle rule cannot spare a node's newest
    # known-good build (filters only select by tag, never exclude), and a node not rebuilt
    # for 90 days would lose its rollback image. The 90-day retention of builds is
    # `prov image prune --older-than 90d` in the workflow, which keeps that build; what it
    # deletes (and any replaced object) stays as a noncurrent version for 90 days, then goes.
    noncurrent_version_expiration {
      noncurrent_days = var.image_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }
}

data "aws_iam_policy_document" "worker_images_bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [local.bucket_arn, "${local.bucket_arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "worker_images" {
  bucket = aws_s3_bucket.worker_images.id
  policy = data.aws_iam_policy_document.worker_images_bucket.json

  depends_on = [aws_s3_bucket_public_access_block.worker_images]
}
