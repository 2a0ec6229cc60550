/* failpoint.c - SIGKILL at a named point, in test builds (see failpoint.h). */
#include "run/failpoint.h"

#ifdef LINEBOT_TESTING
#include <signal.h>
#include <string.h>

#include "obs/log.h"

void failpoint(const struct config *cfg, const char *name)
{
    if (cfg->failpoint && strcmp(cfg->failpoint, name) == 0) {
        log_warn("failpoint %s: killing the process", name);
        raise(SIGKILL);
    }
}
#endif
