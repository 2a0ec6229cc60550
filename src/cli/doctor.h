/* doctor.h - `linebot doctor`: checks the real set-up and prints a checklist
 * with a fix for each failure. */
#ifndef LINEBOT_CLI_DOCTOR_H
#define LINEBOT_CLI_DOCTOR_H

/* argv[0] is "doctor". Returns the exit status: 0 when nothing failed
 * (warnings allowed), 1 when a check failed, 2 on a usage error. */
int cli_doctor(int argc, char **argv, char *const *env);

extern const char cli_doctor_usage[];

#endif
