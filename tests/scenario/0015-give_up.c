/*
 * 0015: a command that keeps failing is answered exactly once (contract
 * section 5: 1009 after the configured retries, with a copy on the
 * dead-letter topic) instead of being retried for ever.
 *
 * A failCommand failpoint fails every MongoDB command of callsig for the
 * whole of the first part. With signal.max_attempts = 3 the invite is tried
 * three times (two rewinds with backoff), then answered 1009 once; its
 * bytes go to the dead-letter topic with the reason in the error header;
 * no further retries happen and nothing else is sent. The partition moves
 * on: once the store works again, the next command on it is answered.
 */
#include "harness.h"

#include <stdlib.h>

TEST_MAIN_DEFS

static void failpoint_on(env_t *env) {
        env_admin_command(env,
                          "{\"configureFailPoint\": \"failCommand\", \"mode\": \"alwaysOn\","
                          " \"data\": {\"failCommands\": [\"find\", \"insert\", \"update\","
                          " \"delete\", \"findAndModify\", \"aggregate\", \"count\"],"
                          " \"errorCode\": 91, \"appName\": \"callsig\"}}");
}

int main(void) {
        setenv("CALLSIG_SIGNAL_MAX_ATTEMPTS", "3", 1);
        env_t *env = env_start("giveup", NULL);
        env_watch(env, "alice");
        env_watch(env, "bob");
        env_watch(env, "carol");
        env_watch_dlq(env);

        failpoint_on(env);
        cmd_t *c = cmd_invite("gu-inv", "alice", (const char *[]){"bob", NULL}, "room-gu",
                              NULL, "audio", 0);
        size_t len;
        uint8_t *bytes = cmd_pack(c, &len);
        env_send(env, c, "room-gu", 2);

        seen_t *s = env_expect_reply(env, "alice", "gu-inv");
        Callsig__V1__SignalReply *r = seen_reply(s);
        TEST_INTEQ(r->errcode, 1009);
        TEST_STREQ(r->operationid, "gu-inv");
        TEST_ASSERT(r->errmsg && strstr(r->errmsg, "3 attempt"), "errMsg says why: %s",
                    r->errmsg ? r->errmsg : "");
        TEST_ASSERT(r->resp && r->resp->payload_case ==
                                       OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE,
                    "resp case matches the request");

        seen_t *d = env_expect_dlq(env);
        TEST_STREQ(d->key, "room-gu");
        TEST_STREQ(d->operation_id, "gu-inv");
        TEST_INTEQ(d->len, len);
        TEST_ASSERT(memcmp(d->value, bytes, len) == 0, "dead letter bytes unchanged");
        TEST_ASSERT(d->error && strstr(d->error, "gave up after 3 attempt"),
                    "error header: %s", d->error ? d->error : "(none)");
        TEST_ASSERT(d->source_offset && d->source_offset[0], "source-offset header");
        free(bytes);
        TEST_INTEQ(env_worker_log_count(env, 0, "will be retried"), 2);
        TEST_SAY("1009 after 3 attempts, dead letter with the reason");

        /* Exactly one reply, no notification, and no more attempts while
         * the store still fails. */
        env_expect_quiet(env, "alice", env_ms(3000));
        env_expect_quiet(env, "bob", 0);
        TEST_INTEQ(env_worker_log_count(env, 0, "will be retried"), 2);
        TEST_INTEQ(env_worker_log_count(env, 0, "op=gu-inv from=alice: answered 1009"), 1);
        TEST_INTEQ(env_count_docs(env, "calls", "{\"_id\": \"room-gu\"}"), 0);

        /* The partition moved on. */
        env_admin_command(env, "{\"configureFailPoint\": \"failCommand\", \"mode\": \"off\"}");
        env_send(env, cmd_token("gu-tok", "carol", "no-such-room"), "room-gu", 2);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "carol", "gu-tok"))->errcode, 1003);
        env_expect_quiet(env, "alice", 500);
        env_stop(env);
        return test_done();
}
