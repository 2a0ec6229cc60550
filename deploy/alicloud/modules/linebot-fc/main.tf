# linebot on Alibaba Cloud Function Compute 3.0 (custom runtime) with an
# anonymous HTTP trigger (LINE signs its requests; the bot checks the
# signature itself).
#
# The webhook request verifies, deduplicates and invokes this same function
# asynchronously (InvokeFunction, x-fc-invocation-type: Async), signed with the
# role's temporary credentials that FC hands the function; that asynchronous
# invocation does the chat work.

locals {
  # The function's ARN as FC 3.0 writes it (acs:fc:<region>:<account>:functions/<name>),
  # built from the name: the role's policy is needed before the function exists.
  function_arn = "acs:fc:${var.region}:${var.account_id}:functions/${var.function_name}"

  invoke_resources = var.invoke_permission_scope == "function" ? [
    local.function_arn,
    "${local.function_arn}/*", # the same function's qualifiers (LATEST, versions, aliases)
  ] : ["acs:fc:${var.region}:${var.account_id}:functions/*"]

  logstore_arn = "acs:log:${var.region}:${var.account_id}:project/${var.log_project}/logstore/${var.logstore}"

  environment_all = merge(var.extra_environment, {
    LINE_CHANNEL_SECRET       = var.line_channel_secret
    LINE_CHANNEL_ACCESS_TOKEN = var.line_channel_access_token
    LLM_PROVIDER              = var.llm_provider
    LLM_MODEL                 = var.llm_model
    LLM_BASE_URL              = var.llm_base_url
    LLM_API_KEY               = var.llm_api_key
    LINEBOT_DB                = var.database_url
    LINEBOT_ASYNC             = var.async_mode
    LINEBOT_PUSH_FALLBACK     = var.push_fallback ? "1" : "0"
    LOG_LEVEL                 = var.log_level
  })

  # Unset settings are left out instead of being passed as empty strings.
  environment = { for k, v in local.environment_all : k => v if v != "" }
}

# --- Code package in OSS -----------------------------------------------------

# A new build gets a new object name, so the function's code reference changes
# and FC deploys it. The old object is removed once the function points at the
# new one.
resource "alicloud_oss_bucket_object" "code" {
  bucket       = var.code_bucket
  key          = "${var.function_name}/linebot-fc-${filesha256(var.code_zip)}.zip"
  source       = var.code_zip
  content_type = "application/zip"

  lifecycle {
    create_before_destroy = true
  }
}

# --- Role --------------------------------------------------------------------

resource "alicloud_ram_role" "fc" {
  role_name   = "${var.function_name}-fc"
  description = "Role of the ${var.function_name} LINE bot function: writes its logs and invokes itself."
  assume_role_policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Action    = "sts:AssumeRole"
      Effect    = "Allow"
      Principal = { Service = ["fc.aliyuncs.com"] }
    }]
  })
}

resource "alicloud_ram_policy" "fc" {
  policy_name     = "${var.function_name}-fc"
  description     = "Logs and self-invocation of the ${var.function_name} LINE bot function."
  rotate_strategy = "DeleteOldestNonDefaultVersionWhenLimitExceeded"
  policy_document = jsonencode({
    Version = "1"
    Statement = [
      {
        # FC delivers the function's stdout/stderr to SLS with the function's role.
        Effect   = "Allow"
        Action   = ["log:PostLogStoreLogs"]
        Resource = [local.logstore_arn]
      },
      {
        # The webhook request hands the chat work to an asynchronous
        # invocation of this same function.
        Effect   = "Allow"
        Action   = ["fc:InvokeFunction"]
        Resource = local.invoke_resources
      },
    ]
  })
}

resource "alicloud_ram_role_policy_attachment" "fc" {
  role_name   = alicloud_ram_role.fc.role_name
  policy_name = alicloud_ram_policy.fc.policy_name
  policy_type = "Custom"
}

# --- Function ----------------------------------------------------------------

resource "alicloud_fcv3_function" "bot" {
  function_name = var.function_name
  description   = "LINE chatbot (C, custom runtime)"
  runtime       = var.runtime
  handler       = "bootstrap" # required by the API, not used by a custom runtime

  cpu                  = var.cpu
  memory_size          = var.memory_mb
  disk_size            = 512
  timeout              = var.timeout_s
  instance_concurrency = var.instance_concurrency
  internet_access      = true # LINE's API and the model are on the internet

  # FC assumes this role and gives the function its temporary credentials
  # (x-fc-access-key-id/-secret/x-fc-security-token headers and
  # ALIBABA_CLOUD_* variables); it also uses it to ship the logs.
  role = alicloud_ram_role.fc.arn

  environment_variables = local.environment

  code {
    oss_bucket_name = var.code_bucket
    oss_object_name = alicloud_oss_bucket_object.code.key
  }

  custom_runtime_config {
    command = var.command
    port    = var.listen_port
  }

  log_config {
    project                 = var.log_project
    logstore                = var.logstore
    log_begin_rule          = "None" # one JSON line, one log
    enable_request_metrics  = true
    enable_instance_metrics = true
  }

  lifecycle {
    precondition {
      condition     = var.memory_mb / 1024 >= var.cpu && var.memory_mb / 1024 <= var.cpu * 4
      error_message = "FC needs memory (in GB) between 1 and 4 times the vCPUs: raise memory_mb or lower cpu."
    }
  }

  # The role can write logs and invoke the function before the first request.
  depends_on = [alicloud_ram_role_policy_attachment.fc]
}

# --- HTTP trigger: LINE's webhook -------------------------------------------

resource "alicloud_fcv3_trigger" "http" {
  function_name = alicloud_fcv3_function.bot.function_name
  trigger_name  = "line-webhook"
  trigger_type  = "http"
  qualifier     = "LATEST"
  description   = "LINE webhook (POST /callback); the function checks X-Line-Signature"
  trigger_config = jsonencode({
    authType = "anonymous"
    methods  = ["POST"]
  })
}

# --- Housekeeping timer ------------------------------------------------------

# Nothing of the bot runs between invocations. An answer parked behind "still
# working" that nobody asked for within LINEBOT_PROGRESS_WAIT_S is pushed (or
# dropped) by the next invocation that drains the inbox; this timer makes sure
# there is one even when nobody writes. Its event ({"triggerTime", "triggerName",
# "payload"}) is what the bot takes for a schedule.
resource "alicloud_fcv3_trigger" "housekeeping" {
  count         = var.housekeeping_schedule == "" ? 0 : 1
  function_name = alicloud_fcv3_function.bot.function_name
  trigger_name  = "housekeeping"
  trigger_type  = "timer"
  qualifier     = "LATEST"
  description   = "linebot: parked answers past their wait (see the README's slow answers)"
  trigger_config = jsonencode({
    cronExpression = var.housekeeping_schedule
    enable         = true
    payload        = "housekeeping"
  })
}

# --- Asynchronous invocations ------------------------------------------------

# Bounded retries for the chat-work invocations, for the qualifier the bot
# invokes (FC_QUALIFIER, LATEST unless you publish aliases).
resource "alicloud_fcv3_async_invoke_config" "bot" {
  function_name                  = alicloud_fcv3_function.bot.function_name
  qualifier                      = "LATEST"
  max_async_retry_attempts       = var.async_max_retry_attempts
  max_async_event_age_in_seconds = var.async_max_event_age_s
}
