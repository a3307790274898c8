output "role_arn" {
  description = "role-to-assume of .github/workflows/build-worker-images.yml."
  value       = aws_iam_role.github_actions_worker_build.arn
}

output "bucket_name" {
  description = "The image bucket."
  value       = aws_s3_bucket.worker_images.bucket
}

output "bucket_arn" {
  description = "ARN of the image bucket."
  value       = aws_s3_bucket.worker_images.arn
}

output "images_url" {
  description = "Where the workflow uploads the x86_64 images (prov image pipeline --upload)."
  value       = "s3://${aws_s3_bucket.worker_images.bucket}/${var.image_prefix}x86_64/"
}
