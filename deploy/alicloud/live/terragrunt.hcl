# Root Terragrunt configuration shared by every environment under live/.
# Each unit (e.g. dev/linebot) includes it; the functions below are evaluated
# in the context of that unit.
#
# Needed in the environment (never in files):
#   ALICLOUD_ACCESS_KEY, ALICLOUD_SECRET_KEY   credentials (provider and state backend)
#   LINEBOT_TF_STATE_BUCKET                    an existing OSS bucket for the state
#   LINEBOT_TF_LOCK_ENDPOINT, LINEBOT_TF_LOCK_TABLE   optional Tablestore state lock

locals {
  env    = read_terragrunt_config(find_in_parent_folders("env.hcl"))
  region = local.env.locals.region

  lock_endpoint = get_env("LINEBOT_TF_LOCK_ENDPOINT", "")
  lock_table    = get_env("LINEBOT_TF_LOCK_TABLE", "")
}

# State in OSS, one object per unit, encrypted at rest. Terragrunt does not
# create OSS buckets: create the state bucket once, by hand (see README.md).
remote_state {
  backend = "oss"

  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }

  config = merge(
    {
      bucket  = get_env("LINEBOT_TF_STATE_BUCKET")
      prefix  = "linebot/${path_relative_to_include()}"
      key     = "terraform.tfstate"
      region  = local.region
      encrypt = true
    },
    # Optional state locking in Tablestore (a table with a String primary key LockID).
    local.lock_table == "" ? {} : {
      tablestore_endpoint = local.lock_endpoint
      tablestore_table    = local.lock_table
    },
  )
}

generate "provider" {
  path      = "provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<-EOF
    provider "alicloud" {
      region = "${local.region}"
    }
  EOF
}
