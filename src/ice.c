/*
 * ice.c: see ice.h.
 */
#include "ice.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "alloc.h"
#include "err.h"

static bool host_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool cs_ice_url_valid(const char *url, char *problem, size_t problem_size) {
        const char *p;
        bool turn;

        if (!strncmp(url, "stun:", 5)) {
                turn = false;
                p = url + 5;
        } else if (!strncmp(url, "turn:", 5)) {
                turn = true;
                p = url + 5;
        } else if (!strncmp(url, "turns:", 6)) {
                turn = true;
                p = url + 6;
        } else {
                cs_errf(problem, problem_size,
                        "must start with stun:, turn: or turns:");
                return false;
        }
        /* host: a name or IPv4 address, or an IPv6 address in brackets */
        if (*p == '[') {
                const char *end = strchr(p, ']');
                if (!end || end == p + 1 ||
                    strspn(p + 1, "0123456789abcdefABCDEF:.") !=
                            (size_t)(end - p - 1)) {
                        cs_errf(problem, problem_size, "bad [IPv6] host");
                        return false;
                }
                p = end + 1;
        } else {
                size_t n = 0;
                while (host_char(p[n]))
                        n++;
                if (!n || p[0] == '.' || p[0] == '-' || n > 253) {
                        cs_errf(problem, problem_size, "missing or bad host");
                        return false;
                }
                p += n;
        }
        if (*p == ':') {
                long port = 0;
                size_t n = 0;
                p++;
                while (p[n] >= '0' && p[n] <= '9' && n < 6)
                        port = port * 10 + (p[n++] - '0');
                if (!n || port < 1 || port > 65535) {
                        cs_errf(problem, problem_size,
                                "port must be 1 to 65535");
                        return false;
                }
                p += n;
        }
        if (!*p)
                return true;
        if (turn && (!strcmp(p, "?transport=udp") ||
                     !strcmp(p, "?transport=tcp")))
                return true;
        cs_errf(problem, problem_size, "%s",
                turn ? "may end only in ?transport=udp or ?transport=tcp"
                     : "unexpected text after host[:port]");
        return false;
}

/* Splits a comma-separated list; empty items are skipped. */
static char **split_list(const char *list, size_t *cntp) {
        char **v = NULL;
        size_t cnt = 0;
        const char *p = list;
        while (*p) {
                size_t n = strcspn(p, ",");
                const char *s = p;
                size_t len = n;
                while (len && (*s == ' ' || *s == '\t')) {
                        s++;
                        len--;
                }
                while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
                        len--;
                if (len) {
                        v = cs_xrealloc(v, (cnt + 2) * sizeof(*v));
                        v[cnt++] = cs_xmemdup(s, len);
                        v[cnt] = NULL;
                }
                p += n;
                if (*p == ',')
                        p++;
        }
        *cntp = cnt;
        return v;
}

static void free_list(char **v) {
        if (!v)
                return;
        for (size_t i = 0; v[i]; i++)
                free(v[i]);
        free(v);
}

bool cs_ice_url_list_valid(const char *list, bool want_turn, char *problem,
                           size_t problem_size) {
        size_t cnt;
        char **v = split_list(list, &cnt);
        bool ok = true;
        for (size_t i = 0; ok && i < cnt; i++) {
                char why[128];
                bool is_turn = !strncmp(v[i], "turn", 4);
                if (!cs_ice_url_valid(v[i], why, sizeof(why))) {
                        cs_errf(problem, problem_size, "\"%.100s\": %s", v[i],
                                why);
                        ok = false;
                } else if (is_turn != want_turn) {
                        cs_errf(problem, problem_size,
                                "\"%.100s\": must be a %s URL", v[i],
                                want_turn ? "turn: or turns:" : "stun:");
                        ok = false;
                }
        }
        free_list(v);
        return ok;
}

void cs_ice_turn_credential(const char *secret, const char *user_id,
                            int64_t expiry_s, char **usernamep,
                            char **credentialp) {
        int n = snprintf(NULL, 0, "%" PRId64 ":%s", expiry_s, user_id);
        char *username = cs_xmalloc((size_t)n + 1);
        snprintf(username, (size_t)n + 1, "%" PRId64 ":%s", expiry_s, user_id);

        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        if (!HMAC(EVP_sha1(), secret, (int)strlen(secret),
                  (const unsigned char *)username, strlen(username), md,
                  &md_len))
                abort(); /* only on out-of-memory inside OpenSSL */
        /* base64 of 20 bytes: 28 characters and a NUL */
        char *credential = cs_xmalloc(4 * ((md_len + 2) / 3) + 1);
        EVP_EncodeBlock((unsigned char *)credential, md, (int)md_len);
        *usernamep = username;
        *credentialp = credential;
}

void cs_ice_servers_build(const cs_config_t *conf, const char *user_id,
                          int64_t now_ms, cs_ice_servers_t *ice) {
        memset(ice, 0, sizeof(*ice));
        const char *lists[2] = {conf->stun_urls, conf->turn_urls};
        for (int i = 0; i < 2; i++) {
                size_t cnt = 0;
                char **v = lists[i] ? split_list(lists[i], &cnt) : NULL;
                if (!cnt) {
                        free_list(v);
                        continue;
                }
                Callsig__V1__IceServer *e = &ice->entries[ice->cnt];
                callsig__v1__ice_server__init(e);
                e->n_urls = cnt;
                e->urls = v;
                ice->urls[ice->cnt] = v;
                if (i == 1 && conf->turn_secret && conf->turn_secret[0]) {
                        cs_ice_turn_credential(conf->turn_secret, user_id,
                                               now_ms / 1000 + conf->turn_ttl,
                                               &ice->username,
                                               &ice->credential);
                        e->username = ice->username;
                        e->credential = ice->credential;
                }
                ice->ptrs[ice->cnt] = e;
                ice->cnt++;
        }
}

void cs_ice_servers_clear(cs_ice_servers_t *ice) {
        for (size_t i = 0; i < ice->cnt; i++)
                free_list(ice->urls[i]);
        free(ice->username);
        free(ice->credential);
        memset(ice, 0, sizeof(*ice));
}
