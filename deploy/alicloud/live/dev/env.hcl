# Settings of the dev environment, read by ../terragrunt.hcl and the units.
locals {
  environment = "dev"

  # Tokyo: close to most LINE users, and it offers the custom.debian11 runtime.
  region = "ap-northeast-1"
}
