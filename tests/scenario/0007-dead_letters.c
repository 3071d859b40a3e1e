/*
 * 0007: dead letters (contract sections 2 and 5, behaviour.md).
 *
 * An outside client (kcat) produces commands that cannot be answered:
 * bytes that are not a SignalCommand, a SignalCommand without operationID,
 * one without sendID, one with a 300-byte sendID, and ones whose escaped
 * sendID makes the push topic longer than 249 bytes (100 '@' and exactly
 * 250 bytes). Proves that each arrives on signal.dlq with the original
 * bytes and key unchanged and the headers kind=dead_letter, error (one
 * non-empty line), source-topic, source-partition and source-offset that
 * point at the original message (read back with kcat), operation-id only
 * when the command had one; that a sendID giving exactly 249 bytes is
 * answered normally; that valid commands on every partition are still
 * answered afterwards; that the offsets were committed (checked with an
 * OffsetFetch of the worker's group) so a restarted worker does not
 * dead-letter the same messages again.
 */
#include "harness.h"

#include <signal.h>
#include <time.h>

TEST_MAIN_DEFS

/* A check that is counted as failed but lets the test go on (used for
 * header details, so that one wrong header does not hide the rest). */
#define SOFT_CHECK(cond, ...)                                                \
        do {                                                                 \
                if (cond) {                                                  \
                        test_passed++;                                       \
                } else {                                                     \
                        fprintf(stderr, "%s:%d: FAIL (continuing): ",        \
                                __FILE__, __LINE__);                         \
                        fprintf(stderr, __VA_ARGS__);                        \
                        fputc('\n', stderr);                                 \
                        test_failed++;                                       \
                }                                                            \
        } while (0)

typedef struct dl_case_s {
        const char *key;
        int32_t partition;
        uint8_t *buf;
        size_t len;
        const char *op; /* expected operation-id header, NULL: absent */
        char offset[32];  /* from the dead letter's source-offset */
} dl_case_t;

static char *run_capture(const char *cmd, size_t *lenp) {
        FILE *fp = popen(cmd, "r");
        TEST_ASSERT(fp, "popen %s", cmd);
        size_t cap = 4096, len = 0;
        char *buf = malloc(cap);
        TEST_ASSERT(buf, "malloc");
        size_t n;
        while ((n = fread(buf + len, 1, cap - len - 1, fp)) > 0) {
                len += n;
                if (cap - len < 2) {
                        cap *= 2;
                        buf = realloc(buf, cap);
                        TEST_ASSERT(buf, "realloc");
                }
        }
        buf[len] = '\0';
        int status = pclose(fp);
        TEST_ASSERT(status == 0, "'%s' failed (status %d): %s", cmd, status, buf);
        if (lenp)
                *lenp = len;
        return buf;
}

static void kcat_produce(env_t *env, const dl_case_t *c) {
        char path[400], cmd[1200];
        snprintf(path, sizeof(path), "%s/dl-%s.bin", env_dir(env), c->key);
        FILE *fp = fopen(path, "wb");
        TEST_ASSERT(fp, "write %s", path);
        TEST_ASSERT(fwrite(c->buf, 1, c->len, fp) == c->len, "fwrite");
        fclose(fp);
        snprintf(cmd, sizeof(cmd),
                 "kcat -b '%s' -P -t '%s' -k '%s' -p %d '%s' 2>&1",
                 env_bootstraps(env), env_commands_topic(env), c->key, (int)c->partition, path);
        free(run_capture(cmd, NULL));
}

static uint8_t *pack_cmd(cmd_t *c, size_t *lenp) {
        uint8_t *buf = cmd_pack(c, lenp);
        cmd_free(c);
        return buf;
}

static char *repeat(char ch, size_t n, const char *tail) {
        char *s = malloc(n + strlen(tail) + 1);
        TEST_ASSERT(s, "malloc");
        memset(s, ch, n);
        strcpy(s + n, tail);
        return s;
}

/* Committed offset of the worker's group for [p] of the command topic. */
static void committed(env_t *env, const char *group, int64_t out[4]) {
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", env_bootstraps(env), NULL, 0);
        rd_kafka_conf_set(conf, "group.id", group, NULL, 0);
        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        TEST_ASSERT(rk, "%s", errstr);
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(4);
        for (int p = 0; p < 4; p++)
                rd_kafka_topic_partition_list_add(parts, env_commands_topic(env), p);
        rd_kafka_resp_err_t err = rd_kafka_committed(rk, parts, env_ms(10000));
        TEST_ASSERT(!err, "committed: %s", rd_kafka_err2str(err));
        for (int p = 0; p < 4; p++)
                out[p] = parts->elems[p].offset;
        rd_kafka_topic_partition_list_destroy(parts);
        rd_kafka_destroy(rk);
}

/* Sends a no-payload command (answered 1001) to every partition and waits
 * for the four replies: no partition is stuck. */
static void all_partitions_answer(env_t *env, const char *tag) {
        char op[64];
        for (int p = 0; p < 4; p++) {
                snprintf(op, sizeof(op), "dl-%s-p%d", tag, p);
                env_send(env, cmd_bare(op, "alice", 0), "alice", p);
        }
        for (int p = 0; p < 4; p++) {
                snprintf(op, sizeof(op), "dl-%s-p%d", tag, p);
                Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, "alice", op));
                TEST_INTEQ(r->errcode, 1001);
        }
}

int main(void) {
        env_t *env = env_start("deadletters", NULL);
        env_watch_dlq(env);
        env_watch(env, "alice");
        env_watch(env, "bob");

        static const char garbage[] = "not a protobuf\n\xff\xfe\x00\x01 at all";
        char *long_id = repeat('a', 300, "");
        char *at_100 = repeat('@', 100, "");
        /* Push topics one byte over and at Kafka's 249-byte limit: each '@'
         * is escaped to 3 bytes ("push." + 81 x 3 + "aa" = 250 on the mock;
         * a real broker's per-test prefix is longer, so fewer '@'). */
        size_t pfx = strlen(env_push_topic(env, "a")) - 1;
        size_t ats = (250 - pfx - 2) / 3;
        char tail[8] = "aaaa";
        tail[250 - pfx - 3 * ats] = '\0';
        char *at_250 = repeat('@', ats, tail);
        tail[strlen(tail) - 1] = '\0';
        char *at_249 = repeat('@', ats, tail);
        const char *bob[] = {"bob", NULL};

        dl_case_t cases[] = {
                {"dl-garbage", 0, NULL, 0, NULL, ""},
                {"dl-no-op", 1, NULL, 0, NULL, ""},
                {"dl-no-send", 2, NULL, 0, "dl-op-nosend", ""},
                {"dl-long", 3, NULL, 0, "dl-op-long", ""},
                {"dl-esc100", 0, NULL, 0, "dl-op-esc100", ""},
                {"dl-esc250", 1, NULL, 0, "dl-op-esc250", ""},
        };
        const size_t ncases = sizeof(cases) / sizeof(cases[0]);
        cases[0].len = sizeof(garbage) - 1;
        cases[0].buf = malloc(cases[0].len);
        TEST_ASSERT(cases[0].buf, "malloc");
        memcpy(cases[0].buf, garbage, cases[0].len);
        cases[1].buf = pack_cmd(cmd_invite("", "alice", bob, NULL, NULL, "video", 0),
                                &cases[1].len);
        cases[2].buf = pack_cmd(cmd_invite("dl-op-nosend", "", bob, NULL, NULL, "video", 0),
                                &cases[2].len);
        cases[3].buf = pack_cmd(cmd_invite("dl-op-long", long_id, bob, NULL, NULL, "video", 0),
                                &cases[3].len);
        cases[4].buf = pack_cmd(cmd_invite("dl-op-esc100", at_100, bob, NULL, NULL, "video", 0),
                                &cases[4].len);
        cases[5].buf = pack_cmd(cmd_bare("dl-op-esc250", at_250, 0), &cases[5].len);

        for (size_t i = 0; i < ncases; i++)
                kcat_produce(env, &cases[i]);

        /* Each one arrives once on the DLQ, unchanged, with the headers. */
        for (size_t n = 0; n < ncases; n++) {
                seen_t *s = env_expect_dlq(env);
                dl_case_t *c = NULL;
                for (size_t i = 0; i < ncases; i++)
                        if (!strcmp(s->key, cases[i].key))
                                c = &cases[i];
                TEST_ASSERT(c, "dead letter with unexpected key '%s'", s->key);
                TEST_ASSERT(!c->offset[0], "key %s dead-lettered twice", c->key);
                TEST_STREQ(s->topic, env_dlq_topic(env));
                TEST_STREQ(s->kind, "dead_letter");
                TEST_ASSERT(s->len == c->len && !memcmp(s->value, c->buf, c->len),
                            "dead letter %s: value changed (%zu vs %zu bytes)", c->key,
                            s->len, c->len);
                TEST_ASSERT(s->error && s->error[0] && !strpbrk(s->error, "\r\n"),
                            "dead letter %s: error header '%s' is not one line",
                            c->key, s->error ? s->error : "(absent)");
                if (c->op)
                        SOFT_CHECK(s->operation_id && !strcmp(s->operation_id, c->op),
                                   "dead letter %s: operation-id header '%s', want '%s'",
                                   c->key, s->operation_id ? s->operation_id : "(absent)",
                                   c->op);
                else
                        TEST_ASSERT(!s->operation_id, "dead letter %s: operation-id '%s'",
                                    c->key, s->operation_id);
                TEST_ASSERT(s->source_offset && s->source_offset[0] &&
                                    strspn(s->source_offset, "0123456789") ==
                                            strlen(s->source_offset),
                            "source-offset '%s' is not decimal",
                            s->source_offset ? s->source_offset : "(absent)");
                snprintf(c->offset, sizeof(c->offset), "%s", s->source_offset);
                TEST_SAY("dead letter %s [%d]@%s: %s", c->key, (int)c->partition,
                         c->offset, s->error);
        }

        /* The same seen from an outside client: kcat prints the headers. */
        char cmd[1200];
        snprintf(cmd, sizeof(cmd),
                 "kcat -b '%s' -C -t '%s' -o beginning -e -q -f '%%k|%%h\\n' 2>&1",
                 env_bootstraps(env), env_dlq_topic(env));
        char *dump = run_capture(cmd, NULL);
        TEST_SAY("kcat %s:\n%s", env_dlq_topic(env), dump);
        for (size_t i = 0; i < ncases; i++) {
                dl_case_t *c = &cases[i];
                char prefix[64];
                snprintf(prefix, sizeof(prefix), "%s|", c->key);
                const char *line = NULL;
                for (const char *p = dump; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                        if (!strncmp(p, prefix, strlen(prefix))) {
                                TEST_ASSERT(!line, "kcat shows %s twice", c->key);
                                line = p;
                        }
                TEST_ASSERT(line, "kcat shows no dead letter for %s", c->key);
                size_t len = strcspn(line, "\n");
                char hdrs[2048];
                snprintf(hdrs, sizeof(hdrs), ",%.*s,", (int)(len - strlen(prefix)),
                         line + strlen(prefix));
                char want[128], src[300];
                snprintf(src, sizeof(src), ",source-topic=%s,", env_commands_topic(env));
                const char *need[4] = {",kind=dead_letter,", src, want, NULL};
                snprintf(want, sizeof(want), ",source-partition=%d,", (int)c->partition);
                for (int k = 0; need[k]; k++)
                        TEST_ASSERT(strstr(hdrs, need[k]), "%s: no '%s' in %s", c->key,
                                    need[k], hdrs);
                snprintf(want, sizeof(want), ",source-offset=%s,", c->offset);
                TEST_ASSERT(strstr(hdrs, want), "%s: no '%s' in %s", c->key, want, hdrs);
                TEST_ASSERT(strstr(hdrs, ",error="), "%s: no error header", c->key);
                SOFT_CHECK((strstr(hdrs, ",operation-id=") != NULL) == (c->op != NULL),
                           "%s: operation-id presence in %s", c->key, hdrs);

                /* The original is where the headers say it is. */
                snprintf(cmd, sizeof(cmd),
                         "kcat -b '%s' -C -t '%s' -p %d -o %s -c 1 -e -q -f '%%k' 2>&1",
                         env_bootstraps(env), env_commands_topic(env), (int)c->partition, c->offset);
                char *key = run_capture(cmd, NULL);
                TEST_STREQ(key, c->key);
                free(key);
                snprintf(cmd, sizeof(cmd),
                         "kcat -b '%s' -C -t '%s' -p %d -o %s -c 1 -e -q -f '%%s'",
                         env_bootstraps(env), env_commands_topic(env), (int)c->partition, c->offset);
                size_t vlen;
                char *value = run_capture(cmd, &vlen);
                TEST_ASSERT(vlen == c->len && !memcmp(value, c->buf, vlen),
                            "%s: the command at [%d]@%s is not the original", c->key,
                            (int)c->partition, c->offset);
                free(value);
        }
        free(dump);

        /* A sendID whose topic is exactly 249 bytes is answered (1001: no
         * payload), not dead-lettered. */
        env_watch(env, at_249);
        env_send(env, cmd_bare("dl-op-esc249", at_249, 0), "dl-esc249", 1);
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, at_249, "dl-op-esc249"));
        TEST_INTEQ(r->errcode, 1001);

        /* The worker goes on: a real call and every partition answer. */
        env_send(env, cmd_invite("dl-valid-inv", "alice", bob, "dl-room", NULL, "audio", 0),
                 NULL, -1);
        r = seen_reply(env_expect_reply(env, "alice", "dl-valid-inv"));
        TEST_INTEQ(r->errcode, 0);
        env_expect_note(env, "bob", "dl-valid-inv");
        all_partitions_answer(env, "before");
        TEST_INTEQ(env_worker_log_count(env, 0, "dead-lettering"), (int)ncases);

        /* A clean stop commits; the committed offsets are past every dead
         * letter. */
        env_worker_signal(env, 0, SIGTERM);
        TEST_INTEQ(env_worker_wait(env, 0, 15000), 0);
        int64_t offs[4];
        committed(env, env_group_id(env), offs);
        for (size_t i = 0; i < ncases; i++) {
                int64_t off = strtoll(cases[i].offset, NULL, 10);
                TEST_ASSERT(offs[cases[i].partition] > off,
                            "committed offset of [%d] is %lld, not past %s's %lld",
                            (int)cases[i].partition, (long long)offs[cases[i].partition],
                            cases[i].key, (long long)off);
        }

        /* A restarted worker answers new commands on every partition and
         * dead-letters nothing again. */
        int w = env_worker_start(env);
        env_worker_wait_log(env, w, "assigned", 1, 30000);
        all_partitions_answer(env, "after");
        for (size_t i = 0; i < ncases; i++)
                TEST_INTEQ(env_count(env, cases[i].key, NULL, "dead_letter",
                                     i == 0 ? 1000 : 0),
                           1);
        TEST_INTEQ(env_worker_log_count(env, w, "dead-lettering"), 0);
        /* and did not answer the old commands again */
        TEST_INTEQ(env_count(env, "alice", "dl-valid-inv", "reply", 0), 1);
        TEST_INTEQ(env_count(env, "alice", "dl-before-p0", "reply", 0), 1);

        env_stop(env);
        for (size_t i = 0; i < ncases; i++)
                free(cases[i].buf);
        free(long_id);
        free(at_100);
        free(at_250);
        free(at_249);
        return test_done();
}
