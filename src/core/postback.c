/* postback.c - the bot's postback data format (see postback.h).
 *
 * "v1|<kind letter>|<argument>". The kind is one letter so that the data
 * stays short; the argument is printable ASCII without '|' so that the
 * format needs no escaping and a forged datum cannot smuggle a second field. */
#include "core/postback.h"

#include <stdio.h>
#include <string.h>

#define POSTBACK_V1 "v1|"

static const struct {
    enum postback_kind kind;
    char letter;
} kinds[] = {
    {POSTBACK_MODEL, 'm'},
    {POSTBACK_PERSONA, 'p'},
    {POSTBACK_ANSWER, 'a'},
};

static bool arg_valid(const char *arg, size_t len)
{
    if (len == 0 || len > POSTBACK_ARG_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)arg[i];
        if (c < 0x21 || c > 0x7e || c == '|')
            return false;
    }
    return true;
}

int postback_format(enum postback_kind kind, const char *arg, char *out, size_t outlen)
{
    if (!arg || !arg_valid(arg, strlen(arg)))
        return -1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (kinds[i].kind != kind)
            continue;
        int n = snprintf(out, outlen, POSTBACK_V1 "%c|%s", kinds[i].letter, arg);
        return n > 0 && (size_t)n < outlen ? 0 : -1;
    }
    return -1;
}

int postback_parse(const char *data, struct postback *out)
{
    out->kind = POSTBACK_UNKNOWN;
    out->arg[0] = '\0';
    if (!data || strncmp(data, POSTBACK_V1, strlen(POSTBACK_V1)) != 0)
        return -1;
    const char *p = data + strlen(POSTBACK_V1);
    if (p[0] == '\0' || p[1] != '|')
        return -1;
    const char *arg = p + 2;
    size_t len = strlen(arg);
    if (!arg_valid(arg, len))
        return -1;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (kinds[i].letter != p[0])
            continue;
        out->kind = kinds[i].kind;
        memcpy(out->arg, arg, len + 1);
        return 0;
    }
    return -1;
}

bool postback_is_ours(const char *data)
{
    /* "v<digits>|": any version, so that a newer release's buttons reach the
     * worker, which then says (at debug) that it cannot read them. */
    if (!data || data[0] != 'v' || data[1] < '0' || data[1] > '9')
        return false;
    const char *p = data + 1;
    while (*p >= '0' && *p <= '9')
        p++;
    return *p == '|';
}
