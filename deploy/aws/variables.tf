# --- Where and what ----------------------------------------------------------

variable "region" {
  description = "AWS region to deploy to (Tokyo is close to most LINE users)."
  type        = string
  default     = "ap-northeast-1"
}

variable "name" {
  description = "Name of the Lambda function; also the prefix of the API, role, queue and alarms."
  type        = string
  default     = "linebot"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,56}$", var.name))
    error_message = "The name must be 1-56 letters, digits, hyphens or underscores (the suffixes added to it must still fit AWS limits)."
  }
}

variable "lambda_zip" {
  description = "Path to the Lambda package built by scripts/package-lambda.sh (bootstrap + lib/). Null means dist/linebot-lambda.zip at the repository root."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default = {
    app = "linebot"
  }
}

# --- Function sizing ---------------------------------------------------------

variable "memory_mb" {
  description = "Lambda memory in MB. The bot is one small C binary; 256 MB is plenty (CPU scales with memory)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "Lambda memory must be between 128 and 10240 MB."
  }
}

variable "timeout_s" {
  description = "Lambda timeout in seconds. The asynchronous invocation does the chat work and keeps all model attempts within 50 s of the event, then replies: keep this at 60 or more."
  type        = number
  default     = 90

  validation {
    condition     = var.timeout_s >= 60 && var.timeout_s <= 900
    error_message = "The timeout must be between 60 and 900 seconds (the model may take up to 50 s)."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions for the function; -1 leaves it unreserved. A cap also caps your model bill."
  type        = number
  default     = -1
}

variable "log_retention_days" {
  description = "How long CloudWatch keeps the function's logs."
  type        = number
  default     = 14
}

# --- Asynchronous invocation -------------------------------------------------

variable "async_max_retry_attempts" {
  description = "How often Lambda retries a failed asynchronous (chat-work) invocation (0-2). The bot claims each event in its store, so a retry never answers twice."
  type        = number
  default     = 2

  validation {
    condition     = var.async_max_retry_attempts >= 0 && var.async_max_retry_attempts <= 2
    error_message = "Lambda allows 0 to 2 retries."
  }
}

variable "async_max_event_age_s" {
  description = "Drop an asynchronous event older than this (60-21600 s). After a few minutes the LINE reply token is useless anyway; failed events go to the on-failure queue."
  type        = number
  default     = 300

  validation {
    condition     = var.async_max_event_age_s >= 60 && var.async_max_event_age_s <= 21600
    error_message = "Lambda accepts 60 to 21600 seconds."
  }
}

variable "housekeeping_schedule" {
  description = "EventBridge schedule that invokes the function for its housekeeping (parked \"still working\" answers past LINEBOT_PROGRESS_WAIT_S are pushed or dropped). Empty: no schedule; they then wait for the next message."
  type        = string
  default     = "rate(1 minute)"
}

variable "failed_events_retention_s" {
  description = "How long the on-failure SQS queue keeps failed asynchronous events for inspection (max 14 days)."
  type        = number
  default     = 1209600
}

# --- HTTP API ----------------------------------------------------------------

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second the HTTP API lets through to the function."
  type        = number
  default     = 50
}

variable "api_throttling_burst_limit" {
  description = "Burst of requests the HTTP API lets through to the function."
  type        = number
  default     = 100
}

# --- Alarms ------------------------------------------------------------------

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic) notified when an alarm fires or clears. Empty: the alarms only show in the console."
  type        = list(string)
  default     = []
}

# --- Bot settings (see the main README's Settings table) ---------------------

variable "llm_provider" {
  description = "openai, dashscope, dashscope-cn, dashscope-us, ollama or custom."
  type        = string
  default     = "openai"

  validation {
    condition     = contains(["openai", "dashscope", "dashscope-cn", "dashscope-us", "ollama", "custom"], var.llm_provider)
    error_message = "llm_provider must be one of openai, dashscope, dashscope-cn, dashscope-us, ollama, custom."
  }
}

variable "llm_model" {
  description = "Model name (LLM_MODEL). Empty: the provider's default."
  type        = string
  default     = ""
}

variable "llm_base_url" {
  description = "OpenAI-compatible base URL (LLM_BASE_URL). Empty: the provider's default. Required for custom."
  type        = string
  default     = ""
}

variable "async_mode" {
  description = "LINEBOT_ASYNC: self (acknowledge LINE at once, answer in an asynchronous invocation) or inline (answer inside the webhook invocation)."
  type        = string
  default     = "self"

  validation {
    condition     = contains(["self", "inline"], var.async_mode)
    error_message = "async_mode must be self or inline."
  }
}

variable "log_level" {
  description = "LOG_LEVEL: debug, info, warn or error. Message text is logged only at debug."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "push_fallback" {
  description = "LINEBOT_PUSH_FALLBACK: push the answer when LINE refuses the reply token (push messages count against your plan)."
  type        = bool
  default     = false
}

variable "extra_environment" {
  description = "More environment variables for the bot (e.g. LINEBOT_TRIGGER, LLM_SYSTEM_PROMPT). Not for secrets."
  type        = map(string)
  default     = {}
}

# --- Secrets: pass them as TF_VAR_... environment variables, never in a file --

variable "line_channel_secret" {
  description = "LINE channel secret (Basic settings tab)."
  type        = string
  sensitive   = true
}

variable "line_channel_access_token" {
  description = "LINE long-lived channel access token (Messaging API tab)."
  type        = string
  sensitive   = true
}

variable "llm_api_key" {
  description = "Model API key (LLM_API_KEY). May be empty only for ollama."
  type        = string
  sensitive   = true
  default     = ""
}

variable "database_url" {
  description = "PostgreSQL URL for LINEBOT_DB (postgres://user:password@host:5432/db?sslmode=require). Empty: SQLite in /tmp, one instance only, no deduplication across instances."
  type        = string
  sensitive   = true
  default     = ""
}
