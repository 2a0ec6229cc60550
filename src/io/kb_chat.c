/* kb_chat.c - a chat's own knowledge base: its name, and forgetting it
 * (see kb_chat.h). */
#include "io/kb_chat.h"

#include <stdlib.h>

#include "core/alloc.h"

char *kb_chat_name(const char *chat_id)
{
    return xasprintf(KB_CHAT_PREFIX "%s", chat_id ? chat_id : "");
}

int kb_chat_forget(struct store *st, const char *chat_id, int64_t *removed)
{
    char *kb = kb_chat_name(chat_id);
    struct kb_doc_info *docs = NULL;
    size_t n = 0;
    int rc = store_kb_docs(st, kb, 0, NULL, &docs, &n);
    *removed = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct kb_doc_info gone;
        int got = store_kb_remove(st, kb, docs[i].id, NULL, &gone);
        if (got < 0)
            rc = -1;
        if (got == 1) {
            (*removed)++;
            kb_doc_info_clear(&gone);
        }
    }
    kb_doc_infos_free(docs, n);
    free(kb);
    return rc;
}
