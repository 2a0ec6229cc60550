output "webhook_url" {
  description = "Paste this into the LINE Developers Console: Messaging API tab > Webhook URL."
  value       = module.fc.webhook_url
}

output "function_name" {
  description = "The FC 3.0 function."
  value       = module.fc.function_name
}

output "log_project" {
  description = "SLS project holding the bot's logs."
  value       = module.sls.project_name
}

output "logstore" {
  description = "SLS logstore holding the bot's logs (query e.g. message.level: error)."
  value       = module.sls.logstore_name
}

output "code_bucket" {
  description = "OSS bucket holding the code packages."
  value       = alicloud_oss_bucket.code.bucket
}
