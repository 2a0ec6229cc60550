/* timezone.c - LINEBOT_TIMEZONE resolved at start (see timezone.h). */
#include "io/timezone.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/budget.h"

static int64_t fixed_offset_ms;
static bool use_zone;       /* an IANA zone: ask localtime_r */
static char zone_name[128];

/* Letters, digits and "/_-+" with no "." component: a name, never a path
 * that climbs out of the zoneinfo directory. */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof zone_name || s[0] == '/' || strstr(s, ".."))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              strchr("/_-+", *p)))
            return false;
    return true;
}

/* True when `path` is a compiled zone file (it starts with "TZif"). */
static bool is_tzif(const char *path)
{
    FILE *f = fopen(path, "rb");
    char magic[4];
    bool ok = f && fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    if (f)
        fclose(f);
    return ok;
}

/* The zoneinfo/ directory next to the running binary (the packages'). */
static bool packaged_dir(char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return false;
    *slash = '\0';
    return snprintf(out, len, "%s/zoneinfo", exe) < (int)len;
}

int timezone_setup(const char *spec, char *err, size_t errlen)
{
    use_zone = false;
    fixed_offset_ms = 0;
    zone_name[0] = '\0';
    if (!spec || !spec[0] || budget_parse_offset(spec, &fixed_offset_ms) == 0)
        return 0;
    if (!name_ok(spec)) {
        snprintf(err, errlen, "LINEBOT_TIMEZONE: \"%.60s\" is neither an offset such as +09:00 nor an IANA "
                              "zone name such as Asia/Tokyo", spec);
        return -1;
    }
    char dirs[2][PATH_MAX] = {"/usr/share/zoneinfo", ""};
    bool have_packaged = packaged_dir(dirs[1], sizeof dirs[1]);
    char path[PATH_MAX + 160];
    for (int i = 0; i < (have_packaged ? 2 : 1); i++) {
        if (snprintf(path, sizeof path, "%s/%s", dirs[i], spec) >= (int)sizeof path || !is_tzif(path))
            continue;
        if (setenv("TZ", path, 1) != 0) {
            snprintf(err, errlen, "LINEBOT_TIMEZONE: could not set TZ");
            return -1;
        }
        tzset();
        use_zone = true;
        snprintf(zone_name, sizeof zone_name, "%s", spec);
        return 0;
    }
    snprintf(err, errlen, "LINEBOT_TIMEZONE: no zone file for \"%s\" in /usr/share/zoneinfo%s%s (install tzdata, "
                          "or use an offset such as +09:00)", spec, have_packaged ? " or " : "",
             have_packaged ? dirs[1] : "");
    return -1;
}

int64_t timezone_offset_ms(int64_t utc_ms)
{
    if (!use_zone)
        return fixed_offset_ms;
    time_t t = (time_t)(utc_ms >= 0 ? utc_ms / 1000 : -((-utc_ms + 999) / 1000));
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return (int64_t)tm.tm_gmtoff * 1000;
}

const char *timezone_name(void)
{
    return use_zone ? zone_name : NULL;
}
