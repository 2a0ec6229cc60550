# linebot on AWS Lambda (custom runtime provided.al2023) behind an HTTP API.
#
# The webhook invocation verifies LINE's signature, deduplicates and invokes
# this same function asynchronously (lambda:InvokeFunction, invocation type
# Event) to do the chat work, then answers LINE within milliseconds.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  lambda_zip = coalesce(var.lambda_zip, "${path.module}/../../dist/linebot-lambda.zip")

  # The function's own ARN, built from its name rather than read from the
  # function resource: the role's policy needs it before the function exists
  # (the function needs the role), so referencing the resource would be a cycle.
  # Unqualified, because the bot invokes the unqualified function.
  function_arn = "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:function:${var.name}"

  # Lambda writes to /aws/lambda/<function name>; the group is created here
  # first so that its retention applies from the first log line.
  log_group_name = "/aws/lambda/${var.name}"

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

# --- Logs --------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "lambda" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
}

# --- Failed asynchronous events ----------------------------------------------

# Asynchronous invocations that still fail after the retries (or grow older
# than async_max_event_age_s) land here with their payload, for inspection.
resource "aws_sqs_queue" "failed" {
  name                      = "${var.name}-failed-events"
  message_retention_seconds = var.failed_events_retention_s
  sqs_managed_sse_enabled   = true
}

# --- Execution role ----------------------------------------------------------

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name}-lambda"
  description        = "Execution role of the ${var.name} LINE bot"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

data "aws_iam_policy_document" "lambda" {
  # AWSLambdaBasicExecutionRole, narrowed to this function's log group (which
  # Terraform creates, so logs:CreateLogGroup is not needed).
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  # The webhook invocation hands the chat work to an asynchronous invocation
  # of this very function, and of nothing else.
  statement {
    sid       = "InvokeSelfAsynchronously"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.function_arn]
  }

  # Lambda sends failed asynchronous events to the on-failure destination
  # with the function's execution role.
  statement {
    sid       = "SendFailedEvents"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failed.arn]
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "${var.name}-lambda"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

# --- Function ----------------------------------------------------------------

resource "aws_lambda_function" "bot" {
  function_name = var.name
  description   = "LINE chatbot (C, custom runtime)"
  role          = aws_iam_role.lambda.arn

  # The zip holds `bootstrap` (the bot) and lib/; the custom runtime starts
  # bootstrap, so the handler name is not used.
  filename         = local.lambda_zip
  source_code_hash = filebase64sha256(local.lambda_zip)
  runtime          = "provided.al2023"
  architectures    = ["x86_64"]
  handler          = "bootstrap"

  memory_size                    = var.memory_mb
  timeout                        = var.timeout_s
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = local.environment
  }

  # The log group (with its retention) and the permissions exist before the
  # first invocation.
  depends_on = [
    aws_cloudwatch_log_group.lambda,
    aws_iam_role_policy.lambda,
  ]
}

# Bounded retries for the asynchronous chat-work invocations, and a place for
# the ones that fail for good. Applies to the unqualified function, which is
# what the bot invokes.
resource "aws_lambda_function_event_invoke_config" "bot" {
  function_name                = aws_lambda_function.bot.function_name
  maximum_retry_attempts       = var.async_max_retry_attempts
  maximum_event_age_in_seconds = var.async_max_event_age_s

  destination_config {
    on_failure {
      destination = aws_sqs_queue.failed.arn
    }
  }

  # Lambda checks that the role may send to the destination.
  depends_on = [aws_iam_role_policy.lambda]
}

# --- Housekeeping schedule ---------------------------------------------------

# Nothing of the bot runs between invocations. An answer parked behind "still
# working" that nobody asked for within LINEBOT_PROGRESS_WAIT_S is pushed (or
# dropped) by the next invocation that drains the inbox; this rule makes sure
# there is one even when nobody writes. Empty housekeeping_schedule: none.
resource "aws_cloudwatch_event_rule" "housekeeping" {
  count               = var.housekeeping_schedule == "" ? 0 : 1
  name                = "${var.name}-housekeeping"
  description         = "linebot: parked answers past their wait (see the README's slow answers)"
  schedule_expression = var.housekeeping_schedule
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "housekeeping" {
  count = var.housekeeping_schedule == "" ? 0 : 1
  rule  = aws_cloudwatch_event_rule.housekeeping[0].name
  arn   = aws_lambda_function.bot.arn
}

resource "aws_lambda_permission" "housekeeping" {
  count         = var.housekeeping_schedule == "" ? 0 : 1
  statement_id  = "AllowInvokeFromHousekeepingSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.bot.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.housekeeping[0].arn
}
