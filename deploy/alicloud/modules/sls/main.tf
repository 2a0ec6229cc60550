# Simple Log Service for the bot's logs.
#
# Function Compute ships every line the function writes to stdout/stderr to
# the logstore as one log whose `message` field is the line. The bot writes one
# JSON object per line (ts, level, msg, event_id, chat_type, request_id), so
# `message` is indexed as JSON with those keys: query with e.g.
#   message.level: error and message.chat_type: group
# FC adds its own fields (functionName, qualifier, ...) next to `message`.

locals {
  # The delimiters SLS uses by default.
  token = ", '\";=()[]{}?@&<>/:\n\t\r"

  json_keys = ["ts", "level", "msg", "event_id", "chat_type", "request_id"]
}

resource "alicloud_log_project" "this" {
  project_name = var.project_name
  description  = var.description
}

resource "alicloud_log_store" "this" {
  project_name          = alicloud_log_project.this.project_name
  logstore_name         = var.logstore_name
  retention_period      = var.retention_days
  shard_count           = 1
  auto_split            = true
  max_split_shard_count = 8
  append_meta           = true
}

resource "alicloud_log_store_index" "this" {
  project  = alicloud_log_project.this.project_name
  logstore = alicloud_log_store.this.logstore_name

  full_text {
    case_sensitive = false
    token          = local.token
  }

  field_search {
    name             = "message"
    type             = "json"
    enable_analytics = true
    token            = local.token

    dynamic "json_keys" {
      for_each = local.json_keys
      content {
        name      = json_keys.value
        type      = "text"
        doc_value = true
      }
    }
  }

  field_search {
    name             = "functionName"
    type             = "text"
    enable_analytics = true
    token            = local.token
  }

  field_search {
    name             = "qualifier"
    type             = "text"
    enable_analytics = true
    token            = local.token
  }
}
