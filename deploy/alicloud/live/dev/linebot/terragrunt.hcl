# The bot in the dev environment: FC 3.0 function + HTTP trigger, SLS logs,
# RAM role, code bucket.
#
#   export LINE_CHANNEL_SECRET=... LINE_CHANNEL_ACCESS_TOKEN=... LLM_API_KEY=...
#   export DATABASE_URL='postgres://...'   # optional; empty = SQLite in /tmp, one instance
#   terragrunt apply
#
# Secrets are read from the environment and handed to Terraform as TF_VAR_*
# variables; they are never written to a file in the repository.

include "root" {
  path = find_in_parent_folders("terragrunt.hcl")
}

locals {
  env = read_terragrunt_config(find_in_parent_folders("env.hcl"))

  # Terragrunt runs Terraform in a cache directory, so paths are made absolute.
  repo_root = "${get_terragrunt_dir()}/../../../../.."
}

terraform {
  # The double slash copies all of modules/ so that ../sls and ../linebot-fc resolve.
  source = "${get_terragrunt_dir()}/../../../modules//linebot"
}

inputs = {
  name     = "linebot-${local.env.locals.environment}"
  code_zip = get_env("LINEBOT_FC_ZIP", "${local.repo_root}/dist/linebot-fc.zip")
  runtime  = "custom.debian11"
  command  = ["/code/bootstrap", "serve"]

  cpu                  = 0.25
  memory_mb            = 256
  timeout_s            = 90
  instance_concurrency = 1
  log_retention_days   = 14

  async_max_retry_attempts = 2
  async_max_event_age_s    = 300

  llm_provider  = "dashscope"
  llm_model     = "qwen-plus"
  async_mode    = "self"
  log_level     = "info"
  push_fallback = false

  extra_environment = {}

  # Secrets, from the environment only.
  line_channel_secret       = get_env("LINE_CHANNEL_SECRET")
  line_channel_access_token = get_env("LINE_CHANNEL_ACCESS_TOKEN")
  llm_api_key               = get_env("LLM_API_KEY", get_env("DASHSCOPE_API_KEY", ""))
  database_url              = get_env("DATABASE_URL", "")
}
