/* lambda.h - AWS Lambda custom runtime (when AWS_LAMBDA_RUNTIME_API is set).
 *
 * Loops on the Runtime API: next invocation, handle it, post the response.
 * A webhook invocation (API Gateway REST/HTTP API or Function URL) verifies,
 * deduplicates and stores the events, hands the chat work to an asynchronous
 * invocation of this function (LINEBOT_ASYNC=self, the default) and answers
 * 200 within milliseconds; the work invocation answers the chat. With
 * LINEBOT_ASYNC=inline everything happens in the webhook invocation. */
#ifndef LINEBOT_LAMBDA_H
#define LINEBOT_LAMBDA_H

#include "config.h"

/* Runs until the process is stopped. Returns a process exit status. */
int lambda_run(const struct config *cfg);

/* Start-up failed (bad configuration): tell the Runtime API, then exit. */
void lambda_report_init_error(const char *runtime_api, const char *message);

#endif
