output "project_name" {
  description = "The SLS project."
  value       = alicloud_log_project.this.project_name
}

output "logstore_name" {
  description = "The logstore."
  value       = alicloud_log_store.this.logstore_name
}

output "index_id" {
  description = "ID of the logstore index (<project>:<logstore>); depend on it so that logs are indexed from the first line."
  value       = alicloud_log_store_index.this.id
}
