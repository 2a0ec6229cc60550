output "webhook_url" {
  description = "Paste this into the LINE Developers Console: Messaging API tab > Webhook URL."
  value       = "${trimsuffix(alicloud_fcv3_trigger.http.http_trigger[0].url_internet, "/")}/callback"
}

output "function_name" {
  description = "The FC 3.0 function."
  value       = alicloud_fcv3_function.bot.function_name
}

output "function_arn" {
  description = "ARN of the function."
  value       = alicloud_fcv3_function.bot.function_arn
}

output "role_arn" {
  description = "ARN of the function's RAM role."
  value       = alicloud_ram_role.fc.arn
}

output "code_object" {
  description = "OSS object holding the deployed package."
  value       = "oss://${var.code_bucket}/${alicloud_oss_bucket_object.code.key}"
}
