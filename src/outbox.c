/*
 * outbox.c: see outbox.h.
 */
#include "outbox.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"

cs_out_msg_t *cs_outbox_add(cs_outbox_t *out, cs_out_kind_t kind,
                            const char *topic, const char *key,
                            uint8_t *value, size_t len,
                            const char *operation_id) {
        out->msgs = cs_xrealloc(out->msgs, (out->cnt + 1) * sizeof(*out->msgs));
        cs_out_msg_t *m = &out->msgs[out->cnt++];
        memset(m, 0, sizeof(*m));
        m->kind = kind;
        m->topic = cs_xstrdup(topic);
        m->key = cs_xstrdup(key);
        m->key_len = key ? strlen(key) : 0;
        m->value = value;
        m->len = len;
        m->operation_id = cs_xstrdup(operation_id);
        return m;
}

static void msg_free(cs_out_msg_t *m) {
        free(m->topic);
        free(m->key);
        free(m->value);
        free(m->operation_id);
        free(m->error);
        free(m->source_topic);
}

void cs_outbox_keep(cs_outbox_t *out, const bool *keep) {
        size_t n = 0;
        for (size_t i = 0; i < out->cnt; i++) {
                if (keep[i])
                        out->msgs[n++] = out->msgs[i];
                else
                        msg_free(&out->msgs[i]);
        }
        out->cnt = n;
        if (n == 0) {
                free(out->msgs);
                out->msgs = NULL;
        }
}

void cs_outbox_clear(cs_outbox_t *out) {
        for (size_t i = 0; i < out->cnt; i++)
                msg_free(&out->msgs[i]);
        free(out->msgs);
        out->msgs = NULL;
        out->cnt = 0;
}
