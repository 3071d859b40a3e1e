/*
 * 0017: an undecodable command close to 1 MB does not block its partition.
 *
 * Its dead letter (the same value and key plus callsig's headers) exceeds
 * the producer's message.max.bytes, which no retry can change. The dead
 * letter is cut to fit (key and headers kept, header `truncated` = the
 * original length) and the partition moves on: the next command on the
 * same partition is answered.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

TEST_MAIN_DEFS

/* The value fits the test producer's 1000000-byte limit by a few dozen
 * bytes; the dead-letter headers push it over. */
#define BIG 999900

/* Headers of the dead letters, read by a fresh kcat client. */
static bool dlq_has_header(env_t *env, const char *want) {
        char cmd[800], line[4096];
        snprintf(cmd, sizeof(cmd),
                 "kcat -b '%s' -C -t '%s' -o beginning -e -q -f '%%h\\n' 2>/dev/null",
                 env_bootstraps(env), env_dlq_topic(env));
        FILE *fp = popen(cmd, "r");
        TEST_ASSERT(fp, "popen kcat");
        bool found = false;
        while (fgets(line, sizeof(line), fp))
                if (strstr(line, want))
                        found = true;
        pclose(fp);
        return found;
}

int main(void) {
        env_t *env = env_start("bigdlq", NULL);
        env_watch(env, "carol");
        env_watch_dlq(env);

        uint8_t *big = malloc(BIG);
        TEST_ASSERT(big, "malloc");
        memset(big, 0xff, BIG); /* not a protobuf message */
        env_send_raw(env, big, BIG, "big-key", 3);

        seen_t *d = env_expect_dlq(env);
        TEST_STREQ(d->key, "big-key");
        TEST_ASSERT(d->len > 0 && d->len < BIG, "value cut: %zu bytes", d->len);
        TEST_ASSERT(d->len > BIG / 2, "cut only as much as needed: %zu bytes", d->len);
        TEST_ASSERT(memcmp(d->value, big, d->len) == 0, "a prefix of the original");
        TEST_ASSERT(d->error && d->error[0], "error header");
        free(big);
        char want[64];
        snprintf(want, sizeof(want), "truncated=%d", BIG);
        TEST_ASSERT(dlq_has_header(env, want), "header %s on the dead letter", want);
        TEST_SAY("dead letter cut to %zu bytes", d->len);

        /* The partition moved on. */
        env_send(env, cmd_token("bd-tok", "carol", "no-such-room"), "big-key", 3);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "carol", "bd-tok"))->errcode, 1003);
        env_stop(env);
        return test_done();
}
