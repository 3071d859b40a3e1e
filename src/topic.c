/*
 * topic.c: push topic names (contract section 2).
 *
 * Kafka topic names allow only [A-Za-z0-9._-] and at most 249 bytes, while
 * userIDs are arbitrary strings. Every byte outside [A-Za-z0-9.-] is written
 * as '_' plus two lowercase hex digits; '_' itself is escaped too, so the
 * mapping is injective (two different userIDs never share a push topic).
 */
#include "topic.h"

#include <limits.h>
#include <string.h>

#include "common.h"

static const char user_placeholder[] = "{user}";

static bool is_plain(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               (c >= '0' && c <= '9') || c == '.' || c == '-';
}

int cs_topic_escape_user(const char *user_id, char *out, size_t out_size) {
        static const char digits[] = "0123456789abcdef";
        const unsigned char *p;
        size_t n = 0;

        if (!user_id || !out || out_size == 0)
                return -1;

        for (p = (const unsigned char *)user_id; *p; p++) {
                size_t need = is_plain(*p) ? 1 : 3;

                /* Keep room for the NUL; the result must fit in an int. */
                if (n + need >= out_size || n + need > (size_t)INT_MAX)
                        return -1;
                if (need == 1) {
                        out[n++] = (char)*p;
                } else {
                        out[n++] = '_';
                        out[n++] = digits[*p >> 4];
                        out[n++] = digits[*p & 0xf];
                }
        }
        out[n] = '\0';
        return (int)n;
}

/*
 * Per-user mode: the first "{user}" of the template is replaced (the config
 * validator guarantees there is exactly one; a template without it gives no
 * valid name). Keyed mode: push.topic, whatever the user.
 */
bool cs_topic_for_user(const cs_config_t *conf, const char *user_id,
                       char *out, size_t out_size) {
        char escaped[CS_TOPIC_MAX + 1];
        const char *tmpl, *at;
        size_t prefix_len, suffix_len, total;
        int esc_len;

        if (!conf || !user_id || !*user_id || !out || out_size == 0)
                return false;

        if (conf->push_mode == CS_PUSH_KEYED) {
                if (!conf->push_topic)
                        return false;
                total = strlen(conf->push_topic);
                if (total == 0 || total > CS_TOPIC_MAX || total >= out_size)
                        return false;
                memcpy(out, conf->push_topic, total + 1);
                return true;
        }

        tmpl = conf->push_topic_template;
        if (!tmpl || !(at = strstr(tmpl, user_placeholder)))
                return false;

        /* An escaped ID that alone exceeds the limit cannot fit. */
        esc_len = cs_topic_escape_user(user_id, escaped, sizeof(escaped));
        if (esc_len < 0)
                return false;

        prefix_len = (size_t)(at - tmpl);
        suffix_len = strlen(at + sizeof(user_placeholder) - 1);
        total = prefix_len + (size_t)esc_len + suffix_len;
        if (total == 0 || total > CS_TOPIC_MAX || total >= out_size)
                return false;

        memcpy(out, tmpl, prefix_len);
        memcpy(out + prefix_len, escaped, (size_t)esc_len);
        memcpy(out + prefix_len + (size_t)esc_len,
               at + sizeof(user_placeholder) - 1, suffix_len + 1);
        return true;
}
