/*
 * test_ice.c: TURN REST credentials and ICE URL checks (ice.c), and the
 * custom-signal rate limit (ratelimit.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ice.h"
#include "ratelimit.h"
#include "test.h"

TEST_MAIN_DEFS

/* Expected credentials computed once, independently of callsig, with
 *   printf '%s' '1700000000:alice' |
 *     openssl dgst -sha1 -hmac 'north-wind-0123456789' -binary | base64
 *   printf '%s' '4102444800:b%C3%B6b' |
 *     openssl dgst -sha1 -hmac 'sixteen-bytes-ok' -binary | base64
 * and pasted here. */
static void test_credential(void) {
        static const struct {
                const char *secret, *user;
                int64_t expiry;
                const char *username, *credential;
        } v[] = {
                {"north-wind-0123456789", "alice", 1700000000,
                 "1700000000:alice", "7ptuE9fffwJIOx+OdO4tvVsLYlg="},
                {"sixteen-bytes-ok", "b%C3%B6b", 4102444800,
                 "4102444800:b%C3%B6b", "fH1mBt3gA6ro60qeJXgInT1ag5Y="},
        };
        for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
                char *user = NULL, *cred = NULL;
                cs_ice_turn_credential(v[i].secret, v[i].user, v[i].expiry,
                                       &user, &cred);
                TEST_STREQ(user, v[i].username);
                TEST_STREQ(cred, v[i].credential);
                free(user);
                free(cred);
        }
}

static void test_urls(void) {
        static const char *const good[] = {
                "stun:stun.example.com", "stun:127.0.0.1:3478",
                "turn:turn.example.com:3478?transport=udp",
                "turns:turn.example.com:5349?transport=tcp", "turn:[::1]:3478",
                "turn:h", "stun:[2001:db8::1]",
        };
        static const char *const bad[] = {
                "", "http://x", "stun:", "turn::3478", "turn:h:0",
                "turn:h:65536", "turn:h:12a", "turn:h?transport=sctp",
                "stun:h?transport=udp", "turn:h/x", "turn:[zz]:1", "turn: h",
                "turn:-h", "turn:h:3478?transport=udp&x=1",
        };
        char problem[256];
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                TEST_ASSERT(cs_ice_url_valid(good[i], problem, sizeof(problem)),
                            "%s refused: %s", good[i], problem);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                TEST_ASSERT(!cs_ice_url_valid(bad[i], problem, sizeof(problem)),
                            "%s accepted", bad[i]);
        TEST_ASSERT(cs_ice_url_list_valid("", true, problem, sizeof(problem)),
                    "empty list");
        TEST_ASSERT(cs_ice_url_list_valid("turn:a:1, turns:b", true, problem,
                                          sizeof(problem)), "%s", problem);
        TEST_ASSERT(!cs_ice_url_list_valid("turn:a:1,stun:b", true, problem,
                                           sizeof(problem)), "stun in turn");
        TEST_ASSERT(strstr(problem, "\"stun:b\""), "%s", problem);
        TEST_ASSERT(!cs_ice_url_list_valid("turn:a", false, problem,
                                           sizeof(problem)), "turn in stun");
}

static void test_build(void) {
        cs_config_t *conf = cs_config_new();
        cs_ice_servers_t ice;

        cs_ice_servers_build(conf, "alice", 1700000000000, &ice);
        TEST_INTEQ(ice.cnt, 0);
        cs_ice_servers_clear(&ice);

        free(conf->stun_urls);
        free(conf->turn_urls);
        free(conf->turn_secret);
        conf->stun_urls = strdup("stun:s1:3478,stun:s2");
        conf->turn_urls = strdup("turn:t:3478?transport=udp");
        conf->turn_secret = strdup("north-wind-0123456789");
        conf->turn_ttl = 300;
        cs_ice_servers_build(conf, "alice", 1699999700123, &ice);
        TEST_INTEQ(ice.cnt, 2);
        TEST_INTEQ(ice.ptrs[0]->n_urls, 2);
        TEST_STREQ(ice.ptrs[0]->urls[1], "stun:s2");
        TEST_STREQ(ice.ptrs[0]->username, "");
        TEST_STREQ(ice.ptrs[1]->urls[0], "turn:t:3478?transport=udp");
        /* expiry = now (s) + ttl = 1699999700 + 300 */
        TEST_STREQ(ice.ptrs[1]->username, "1700000000:alice");
        TEST_STREQ(ice.ptrs[1]->credential, "7ptuE9fffwJIOx+OdO4tvVsLYlg=");
        cs_ice_servers_clear(&ice);
        cs_config_destroy(conf);
}

static void test_ratelimit(void) {
        cs_ratelimit_t *rl = cs_ratelimit_new(4);
        int64_t t = 1000000;
        for (int i = 0; i < 5; i++)
                TEST_ASSERT(cs_ratelimit_take(rl, "r", "a", t + i, 5, 60000),
                            "signal %d refused", i);
        TEST_ASSERT(!cs_ratelimit_take(rl, "r", "a", t + 10, 5, 60000),
                    "6th allowed");
        /* another sender, another call: their own budgets */
        TEST_ASSERT(cs_ratelimit_take(rl, "r", "b", t + 10, 5, 60000), "b");
        TEST_ASSERT(cs_ratelimit_take(rl, "r2", "a", t + 10, 5, 60000), "r2");
        /* the key cannot be forged by moving bytes between room and sender */
        TEST_ASSERT(cs_ratelimit_take(rl, "ra", "", t + 10, 5, 60000), "ra");
        /* still limited late in the window */
        TEST_ASSERT(!cs_ratelimit_take(rl, "r", "a", t + 59000, 5, 60000), "late");
        /* a second into the next window: the previous window's 5 weigh
         * 59/60, so 5 * 59/60 = 4.92 leaves room for one, then none */
        TEST_ASSERT(cs_ratelimit_take(rl, "r", "a", t + 61000, 5, 60000), "next");
        TEST_ASSERT(!cs_ratelimit_take(rl, "r", "a", t + 61001, 5, 60000), "next+1");
        /* two windows later all is forgotten */
        for (int i = 0; i < 5; i++)
                TEST_ASSERT(cs_ratelimit_take(rl, "r", "a", t + 190000 + i, 5, 60000),
                            "after the window %d", i);
        TEST_ASSERT(cs_ratelimit_size(rl) <= 4, "size bound");
        /* more pairs than the bound: the least recently used goes */
        for (int i = 0; i < 100; i++) {
                char room[16];
                snprintf(room, sizeof(room), "x%d", i);
                cs_ratelimit_take(rl, room, "a", t + 190000, 5, 60000);
        }
        TEST_INTEQ(cs_ratelimit_size(rl), 4);
        cs_ratelimit_destroy(rl);
}

int main(void) {
        test_credential();
        test_urls();
        test_build();
        test_ratelimit();
        return test_done();
}
