/* fuzz_line_api.c - libFuzzer target for how io/line_api.c reads LINE's
 * responses: error_message (the "message" of an error body) and parse_sent
 * (sentMessages[].id of a reply or push).
 *
 * Both are static and pure, and every public entry point that reaches them
 * goes through the network, so this target includes line_api.c itself rather
 * than widening its interface. (The profile's displayName is read inline in
 * line_member_name, after a request, and is not reached here.)
 *
 * The whole input is a response body, an exact-size copy. Checks:
 *   - the error message is valid UTF-8 (jansson's strings are) of at most 200
 *     bytes, never cut inside a character;
 *   - sent ids are all or nothing: n == 0 with no array, or n ids, none NULL. */
#include "io/line_api.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool started;
    if (!started) {
        alloc_init(); /* jansson allocates as in the binary: failure aborts */
        started = true;
    }
    struct http_response r = {.status = 400, .body_len = size};
    r.body = xmalloc(size ? size : 1);
    memcpy(r.body, data, size);

    char *message = error_message(&r);
    if (message != NULL) {
        size_t n = strlen(message);
        if (n > LINE_ERROR_MESSAGE_MAX || !utf8_valid(message, n))
            abort();
    }
    free(message);

    struct line_sent sent = {0};
    parse_sent(&r, &sent);
    if ((sent.n == 0) != (sent.ids == NULL))
        abort();
    for (size_t i = 0; i < sent.n; i++)
        if (sent.ids[i] == NULL)
            abort();
    line_sent_free(&sent);

    free(r.body);
    return 0;
}
