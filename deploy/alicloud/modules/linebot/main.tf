data "alicloud_account" "current" {}

data "alicloud_regions" "current" {
  current = true
}

locals {
  account_id = data.alicloud_account.current.id
  region     = data.alicloud_regions.current.regions[0].id

  # OSS bucket and SLS project names are unique across accounts: the account
  # id makes them ours.
  code_bucket = "${var.name}-code-${local.account_id}"
  log_project = "${var.name}-logs-${local.account_id}"
}

# --- Code bucket -------------------------------------------------------------

resource "alicloud_oss_bucket" "code" {
  bucket = local.code_bucket
}

resource "alicloud_oss_bucket_acl" "code" {
  bucket = alicloud_oss_bucket.code.bucket
  acl    = "private"
}

# --- Logs --------------------------------------------------------------------

module "sls" {
  source = "../sls"

  project_name   = local.log_project
  logstore_name  = var.name
  retention_days = var.log_retention_days
  description    = "Logs of the ${var.name} LINE bot (Function Compute)"
}

# --- Function, role, HTTP trigger --------------------------------------------

module "fc" {
  source = "../linebot-fc"

  region        = local.region
  account_id    = local.account_id
  function_name = var.name

  code_zip    = var.code_zip
  code_bucket = alicloud_oss_bucket.code.bucket
  runtime     = var.runtime
  command     = var.command

  cpu                  = var.cpu
  memory_mb            = var.memory_mb
  timeout_s            = var.timeout_s
  instance_concurrency = var.instance_concurrency

  async_max_retry_attempts = var.async_max_retry_attempts
  async_max_event_age_s    = var.async_max_event_age_s
  invoke_permission_scope  = var.invoke_permission_scope

  log_project = module.sls.project_name
  logstore    = module.sls.logstore_name

  llm_provider      = var.llm_provider
  llm_model         = var.llm_model
  llm_base_url      = var.llm_base_url
  async_mode        = var.async_mode
  log_level         = var.log_level
  push_fallback     = var.push_fallback
  extra_environment = var.extra_environment

  line_channel_secret       = var.line_channel_secret
  line_channel_access_token = var.line_channel_access_token
  llm_api_key               = var.llm_api_key
  database_url              = var.database_url

  # The logstore is indexed before the first log line arrives.
  depends_on = [module.sls, alicloud_oss_bucket_acl.code]
}
