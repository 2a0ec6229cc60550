/* command.c - the shape every chat command shares (see command.h). */
#include "core/command.h"

#include <string.h>
#include <strings.h>

bool command_is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

const char *command_arg(const char *text, const char *word, size_t *arg_len)
{
    if (!text)
        return NULL;
    if (text[0] == '/')
        text++;
    else if (strncmp(text, "\xef\xbc\x8f" /* ／ */, 3) == 0)
        text += 3;
    else
        return NULL;
    size_t n = strlen(word);
    if (strncasecmp(text, word, n) != 0 || (text[n] && !command_is_blank((unsigned char)text[n])))
        return NULL;
    const char *arg = text + n;
    while (command_is_blank((unsigned char)*arg))
        arg++;
    size_t len = strlen(arg);
    while (len > 0 && command_is_blank((unsigned char)arg[len - 1]))
        len--;
    *arg_len = len;
    return arg;
}
