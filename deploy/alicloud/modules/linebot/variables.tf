# The whole bot on Function Compute 3.0: code bucket, SLS logs, function.
# Most variables are passed on to ../linebot-fc and ../sls; see their
# descriptions there.

variable "name" {
  description = "Name of the deployment, e.g. linebot-dev: the function's name and the prefix of everything else."
  type        = string
  default     = "linebot"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,29}$", var.name))
    error_message = "name must be 2-30 lowercase letters, digits or hyphens, starting with a letter (it also names an OSS bucket and an SLS project)."
  }
}

variable "code_zip" {
  description = "Local path of dist/linebot-fc.zip (built by scripts/package-fc.sh). Use an absolute path under Terragrunt."
  type        = string
}

variable "runtime" {
  type    = string
  default = "custom.debian11"
}

variable "command" {
  type    = list(string)
  default = ["/code/bootstrap", "serve"]
}

variable "cpu" {
  type    = number
  default = 0.25
}

variable "memory_mb" {
  type    = number
  default = 256
}

variable "timeout_s" {
  type    = number
  default = 90
}

variable "instance_concurrency" {
  type    = number
  default = 1
}

variable "log_retention_days" {
  description = "How long SLS keeps the bot's logs."
  type        = number
  default     = 14
}

variable "async_max_retry_attempts" {
  type    = number
  default = 2
}

variable "async_max_event_age_s" {
  type    = number
  default = 300
}

variable "invoke_permission_scope" {
  type    = string
  default = "function"
}

variable "llm_provider" {
  type    = string
  default = "dashscope"
}

variable "llm_model" {
  type    = string
  default = ""
}

variable "llm_base_url" {
  type    = string
  default = ""
}

variable "async_mode" {
  type    = string
  default = "self"
}

variable "log_level" {
  type    = string
  default = "info"
}

variable "push_fallback" {
  type    = bool
  default = false
}

variable "extra_environment" {
  type    = map(string)
  default = {}
}

variable "line_channel_secret" {
  type      = string
  sensitive = true
}

variable "line_channel_access_token" {
  type      = string
  sensitive = true
}

variable "llm_api_key" {
  type      = string
  sensitive = true
  default   = ""
}

variable "database_url" {
  description = "PostgreSQL URL for LINEBOT_DB. Empty: SQLite in /tmp, one instance only, no deduplication across instances."
  type        = string
  sensitive   = true
  default     = ""
}
