/* failpoint.h - named crash points for tests (test builds only).
 *
 * With LINEBOT_TESTING compiled in and LINEBOT_FAILPOINT=<name> set, the
 * process kills itself with SIGKILL the first time it reaches that point, as a
 * power cut or kill -9 would. Release builds compile every call away. */
#ifndef LINEBOT_FAILPOINT_H
#define LINEBOT_FAILPOINT_H

#include "config.h"

#ifdef LINEBOT_TESTING
void failpoint(const struct config *cfg, const char *name);
#else
#define failpoint(cfg, name) ((void)(cfg), (void)(name))
#endif

#endif
