# --- Where -------------------------------------------------------------------

variable "region" {
  description = "Region of the function (e.g. ap-northeast-1); used in the ARNs of the RAM policy."
  type        = string
}

variable "account_id" {
  description = "Alibaba Cloud account id; used in the ARNs of the RAM policy."
  type        = string
}

variable "function_name" {
  description = "Name of the FC 3.0 function (also the prefix of its RAM role and policy)."
  type        = string
  default     = "linebot"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,59}$", var.function_name))
    error_message = "The function name must start with a letter and hold at most 60 letters, digits or hyphens (it also names the RAM role and policy)."
  }
}

# --- Code --------------------------------------------------------------------

variable "code_zip" {
  description = "Local path of the FC package built by scripts/package-fc.sh (dist/linebot-fc.zip)."
  type        = string
}

variable "code_bucket" {
  description = "OSS bucket (same region as the function) the package is uploaded to, under a content-hashed object name so that every new build deploys."
  type        = string
}

variable "runtime" {
  description = "FC custom runtime. The package is built against Debian 11's glibc 2.31, so custom.debian11 (custom.debian10 needs a package built against glibc 2.28)."
  type        = string
  default     = "custom.debian11"

  validation {
    condition     = contains(["custom.debian10", "custom.debian11", "custom.debian12"], var.runtime)
    error_message = "runtime must be custom.debian10, custom.debian11 or custom.debian12."
  }
}

variable "command" {
  description = "Start command of the custom runtime. The package unpacks into /code; the binary needs the `serve` argument there (it serves without arguments only on Lambda)."
  type        = list(string)
  default     = ["/code/bootstrap", "serve"]
}

variable "listen_port" {
  description = "Port the bot listens on; FC passes it as FC_CUSTOM_LISTEN_PORT."
  type        = number
  default     = 9000
}

# --- Sizing ------------------------------------------------------------------

variable "cpu" {
  description = "vCPUs (a multiple of 0.05). memory_mb / 1024 must be 1 to 4 times this."
  type        = number
  default     = 0.25
}

variable "memory_mb" {
  description = "Memory in MB (a multiple of 64). The bot is one small C binary."
  type        = number
  default     = 256
}

variable "timeout_s" {
  description = "Function timeout in seconds. The asynchronous invocation does the chat work and keeps all model attempts within 50 s of the event: keep this at 60 or more."
  type        = number
  default     = 90

  validation {
    condition     = var.timeout_s >= 60 && var.timeout_s <= 86400
    error_message = "The timeout must be at least 60 seconds (the model may take up to 50 s)."
  }
}

variable "instance_concurrency" {
  description = "Requests one instance serves at once. The binary serves up to 4 at a time."
  type        = number
  default     = 1
}

# --- Asynchronous invocation -------------------------------------------------

variable "async_max_retry_attempts" {
  description = "How often FC retries a failed asynchronous (chat-work) invocation (0-8). The bot claims each event in its store, so a retry never answers twice."
  type        = number
  default     = 2

  validation {
    condition     = var.async_max_retry_attempts >= 0 && var.async_max_retry_attempts <= 8
    error_message = "FC allows 0 to 8 retries."
  }
}

variable "async_max_event_age_s" {
  description = "Drop an asynchronous event older than this; after a few minutes the LINE reply token is useless anyway."
  type        = number
  default     = 300
}

variable "housekeeping_schedule" {
  description = "Timer trigger (FC cron expression) that invokes the function for its housekeeping (parked \"still working\" answers past LINEBOT_PROGRESS_WAIT_S are pushed or dropped). Empty: no timer; they then wait for the next message."
  type        = string
  default     = "@every 1m"
}

variable "invoke_permission_scope" {
  description = "What the function's role may invoke: \"function\" (this function only: acs:fc:<region>:<account>:functions/<name> and its sub-resources) or \"region\" (every function of the account in the region). FC's API reference lists fc:InvokeFunction under 'All Resources'; if the hand-off is refused (AccessDenied in the logs), use \"region\"."
  type        = string
  default     = "function"

  validation {
    condition     = contains(["function", "region"], var.invoke_permission_scope)
    error_message = "invoke_permission_scope must be function or region."
  }
}

# --- Logs --------------------------------------------------------------------

variable "log_project" {
  description = "SLS project the function's stdout/stderr goes to."
  type        = string
}

variable "logstore" {
  description = "SLS logstore the function's stdout/stderr goes to."
  type        = string
}

# --- Bot settings (see the main README's Settings table) ---------------------

variable "llm_provider" {
  description = "openai, dashscope, dashscope-cn, dashscope-us, ollama or custom."
  type        = string
  default     = "dashscope"

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
  description = "LINEBOT_ASYNC: self (acknowledge LINE at once, answer in an asynchronous invocation) or inline."
  type        = string
  default     = "self"

  validation {
    condition     = contains(["self", "inline"], var.async_mode)
    error_message = "async_mode must be self or inline."
  }
}

variable "log_level" {
  description = "LOG_LEVEL: debug, info, warn or error."
  type        = string
  default     = "info"

  validation {
    condition     = contains(["debug", "info", "warn", "error"], var.log_level)
    error_message = "log_level must be debug, info, warn or error."
  }
}

variable "push_fallback" {
  description = "LINEBOT_PUSH_FALLBACK: push the answer when LINE refuses the reply token."
  type        = bool
  default     = false
}

variable "extra_environment" {
  description = "More environment variables for the bot (e.g. LINEBOT_TRIGGER). Not for secrets. FC reserves the FC_ prefix; all variables together must stay under 4 KB."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.extra_environment) : !startswith(k, "FC_")])
    error_message = "Function Compute reserves environment variables starting with FC_."
  }
}

# --- Secrets -----------------------------------------------------------------

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
  description = "PostgreSQL URL for LINEBOT_DB. Empty: SQLite in /tmp, one instance only, no deduplication across instances."
  type        = string
  sensitive   = true
  default     = ""
}
