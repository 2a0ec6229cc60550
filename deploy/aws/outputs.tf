output "webhook_url" {
  description = "Paste this into the LINE Developers Console: Messaging API tab > Webhook URL."
  value       = "${aws_apigatewayv2_api.bot.api_endpoint}/callback"
}

output "function_name" {
  description = "The Lambda function."
  value       = aws_lambda_function.bot.function_name
}

output "function_arn" {
  description = "The (unqualified) function ARN, the only one the bot may invoke."
  value       = aws_lambda_function.bot.arn
}

output "log_group" {
  description = "CloudWatch log group of the function (JSON lines and EMF metrics)."
  value       = aws_cloudwatch_log_group.lambda.name
}

output "failed_events_queue_url" {
  description = "SQS queue holding asynchronous events that failed after the retries."
  value       = aws_sqs_queue.failed.url
}
