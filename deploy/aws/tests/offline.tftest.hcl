# Offline checks of the AWS configuration: `terraform test` with a mocked AWS
# provider (no credentials, no network; the provider plugin must be installed
# for its schema). Run from deploy/aws: terraform init -backend=false && terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "ap-northeast-1"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/lambda/linebot"
    }
  }

  mock_resource "aws_sqs_queue" {
    defaults = {
      arn = "arn:aws:sqs:ap-northeast-1:123456789012:linebot-failed-events"
      url = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/linebot-failed-events"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/linebot-lambda"
    }
  }

  mock_resource "aws_lambda_function" {
    defaults = {
      arn        = "arn:aws:lambda:ap-northeast-1:123456789012:function:linebot"
      invoke_arn = "arn:aws:apigateway:ap-northeast-1:lambda:path/2015-03-31/functions/arn:aws:lambda:ap-northeast-1:123456789012:function:linebot/invocations"
    }
  }

  mock_resource "aws_cloudwatch_event_rule" {
    defaults = {
      arn = "arn:aws:events:ap-northeast-1:123456789012:rule/linebot-housekeeping"
    }
  }

  mock_resource "aws_apigatewayv2_api" {
    defaults = {
      api_endpoint  = "https://abc123.execute-api.ap-northeast-1.amazonaws.com"
      execution_arn = "arn:aws:execute-api:ap-northeast-1:123456789012:abc123"
    }
  }
}

variables {
  # Any existing file will do: it is only hashed.
  lambda_zip                = "versions.tf"
  line_channel_secret       = "test-secret"
  line_channel_access_token = "test-token"
  llm_api_key               = "test-key"
}

run "deploys_with_defaults" {
  command = apply

  assert {
    condition     = output.webhook_url == "https://abc123.execute-api.ap-northeast-1.amazonaws.com/callback"
    error_message = "The webhook URL is the API endpoint + /callback."
  }

  assert {
    condition     = aws_lambda_function.bot.runtime == "provided.al2023" && aws_lambda_function.bot.architectures == tolist(["x86_64"])
    error_message = "The function is a provided.al2023 custom runtime on x86_64."
  }

  assert {
    condition     = aws_lambda_function.bot.timeout >= 60 && aws_lambda_function.bot.memory_size == 256
    error_message = "Timeout covers the model (>= 60 s); memory 256 MB."
  }

  assert {
    condition     = aws_apigatewayv2_route.callback.route_key == "POST /callback" && aws_apigatewayv2_integration.bot.payload_format_version == "2.0"
    error_message = "POST /callback is routed to the function with payload format 2.0."
  }

  assert {
    condition     = aws_apigatewayv2_stage.default.name == "$default" && aws_apigatewayv2_stage.default.auto_deploy
    error_message = "The $default stage deploys automatically."
  }

  assert {
    condition     = aws_lambda_permission.api.source_arn == "arn:aws:execute-api:ap-northeast-1:123456789012:abc123/*/POST/callback"
    error_message = "Only POST /callback of this API may invoke the function."
  }

  assert {
    condition     = aws_cloudwatch_log_group.lambda.name == "/aws/lambda/linebot" && aws_cloudwatch_log_group.lambda.retention_in_days == 14
    error_message = "The log group is /aws/lambda/<name> with 14 days of retention."
  }

  assert {
    condition     = aws_lambda_function_event_invoke_config.bot.maximum_retry_attempts == 2 && aws_lambda_function_event_invoke_config.bot.maximum_event_age_in_seconds == 300
    error_message = "Asynchronous retries are bounded."
  }

  assert {
    condition     = aws_lambda_function_event_invoke_config.bot.destination_config[0].on_failure[0].destination == aws_sqs_queue.failed.arn
    error_message = "Failed asynchronous events go to the SQS queue."
  }

  # The role may invoke exactly this function, unqualified, and nothing else.
  assert {
    condition = [
      for s in data.aws_iam_policy_document.lambda.statement : s.resources if contains(s.actions, "lambda:InvokeFunction")
    ] == [toset(["arn:aws:lambda:ap-northeast-1:123456789012:function:linebot"])]
    error_message = "lambda:InvokeFunction is granted on the function's own unqualified ARN only."
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.lambda.statement : s.resources if contains(s.actions, "logs:PutLogEvents")
    ] == [toset(["arn:aws:logs:ap-northeast-1:123456789012:log-group:/aws/lambda/linebot:*"])]
    error_message = "Logs may be written to the function's own log group only."
  }

  assert {
    condition = [
      for s in data.aws_iam_policy_document.lambda.statement : s.resources if contains(s.actions, "sqs:SendMessage")
    ] == [toset(["arn:aws:sqs:ap-northeast-1:123456789012:linebot-failed-events"])]
    error_message = "sqs:SendMessage is granted on the failed-events queue only."
  }

  assert {
    condition     = aws_cloudwatch_event_rule.housekeeping[0].schedule_expression == "rate(1 minute)" && aws_cloudwatch_event_target.housekeeping[0].arn == aws_lambda_function.bot.arn
    error_message = "A schedule invokes the function every minute for its housekeeping."
  }

  assert {
    condition     = aws_lambda_permission.housekeeping[0].principal == "events.amazonaws.com" && aws_lambda_permission.housekeeping[0].source_arn == aws_cloudwatch_event_rule.housekeeping[0].arn
    error_message = "Only the housekeeping rule may invoke the function through EventBridge."
  }

  # Empty settings are not passed; secrets are.
  assert {
    condition     = !contains(keys(nonsensitive(aws_lambda_function.bot.environment[0].variables)), "LINEBOT_DB")
    error_message = "An empty database URL is left out (the bot then uses SQLite in /tmp)."
  }

  assert {
    condition     = nonsensitive(aws_lambda_function.bot.environment[0].variables["LINE_CHANNEL_SECRET"]) == "test-secret"
    error_message = "The channel secret reaches the function."
  }
}

run "passes_the_database_url" {
  command = plan

  variables {
    database_url = "postgres://linebot:pw@db.example:5432/linebot?sslmode=require"
  }

  assert {
    condition     = nonsensitive(aws_lambda_function.bot.environment[0].variables["LINEBOT_DB"]) == "postgres://linebot:pw@db.example:5432/linebot?sslmode=require"
    error_message = "LINEBOT_DB carries the database URL."
  }
}

run "rejects_a_short_timeout" {
  command = plan

  variables {
    timeout_s = 30
  }

  expect_failures = [var.timeout_s]
}

run "no_schedule_when_asked" {
  command = plan

  variables {
    housekeeping_schedule = ""
  }

  assert {
    condition     = length(aws_cloudwatch_event_rule.housekeeping) == 0 && length(aws_lambda_permission.housekeeping) == 0
    error_message = "An empty housekeeping_schedule creates no rule and no permission."
  }
}
