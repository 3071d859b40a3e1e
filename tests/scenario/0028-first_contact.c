/*
 * 0028: first contact with new per-user push topics (contract section 2,
 * "Topics are created on first use where the cluster allows it").
 *
 * Before producing an outbox, the worker prepares every push topic of it
 * that it does not know yet: one CreateTopics request for all of them,
 * then a metadata request for each, so that the first message goes out at
 * once. librdkafka 2.15's mock cluster has no CreateTopics (its metadata
 * names a controller that is none of its brokers, so the request times
 * out); the worker then leaves new topics to auto-creation for a while,
 * which is the path a cluster that refuses creation takes too.
 *
 * Proves that:
 *  - commands from 20 users whose push topics do not exist on the cluster
 *    and from 10 whose topics exist but were never used by the worker are
 *    all answered, on push.<user>, keyed by the userID, with the headers
 *    kind=reply and operation-id unchanged;
 *  - an invite between two new users prepares both topics in one batch
 *    (one preparation for two topics) and delivers the reply and the
 *    notification with their usual headers;
 *  - each of those outboxes is prepared once, and the preparation says how
 *    long it took (the debug line a real-broker measurement reads);
 *  - commands to users already known (replies and a notification) trigger
 *    no preparation and no CreateTopics at all;
 *  - nothing is dead-lettered.
 */
#include "harness.h"

TEST_MAIN_DEFS

#define RQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define NEW_USERS 20
#define PRE_USERS 10

static void user_name(char *buf, size_t size, const char *kind, int i) {
        snprintf(buf, size, "fc-%s-%02d", kind, i);
}

/* Waits for @p user's reply to @p op and checks where and how it came. */
static Callsig__V1__SignalReply *reply_checked(env_t *env, const char *user,
                                               const char *op) {
        seen_t *s = env_expect_reply(env, user, op);
        TEST_STREQ(s->topic, env_push_topic(env, user));
        TEST_STREQ(s->key, user);
        TEST_STREQ(s->kind, "reply");
        TEST_STREQ(s->operation_id, op);
        TEST_ASSERT(s->push, "push message decodes");
        TEST_STREQ(s->push->recvid, user);
        return seen_reply(s);
}

int main(void) {
        env_t *env = env_start("firstcontact", NULL);
        char user[32], op[48];
        env_watch_dlq(env);

        /* Topics that exist (the watcher creates them) but that the
         * worker never produced to. */
        for (int i = 0; i < PRE_USERS; i++) {
                user_name(user, sizeof(user), "pre", i);
                env_watch(env, user);
        }
        for (int i = 0; i < PRE_USERS; i++) {
                user_name(user, sizeof(user), "pre", i);
                snprintf(op, sizeof(op), "tok-%s", user);
                env_send(env, cmd_token(op, user, "room-none"), NULL, -1);
        }
        /* Topics that do not exist at all when the worker produces. */
        for (int i = 0; i < NEW_USERS; i++) {
                user_name(user, sizeof(user), "new", i);
                snprintf(op, sizeof(op), "tok-%s", user);
                env_send(env, cmd_token(op, user, "room-none"), NULL, -1);
        }
        for (int i = 0; i < NEW_USERS; i++) {
                user_name(user, sizeof(user), "new", i);
                env_watch(env, user); /* reads from the beginning */
        }
        for (int i = 0; i < PRE_USERS + NEW_USERS; i++) {
                user_name(user, sizeof(user), i < PRE_USERS ? "pre" : "new",
                          i < PRE_USERS ? i : i - PRE_USERS);
                snprintf(op, sizeof(op), "tok-%s", user);
                TEST_INTEQ(reply_checked(env, user, op)->errcode, 1003);
        }

        /* Two new users at once: one preparation for both topics. */
        int before = env_worker_log_count(env, 0, "first contact: preparing 2 new topic(s)");
        env_send(env, cmd_invite("fc-inv", "fc-caller", (const char *[]){"fc-callee", NULL},
                                 "room-fc", NULL, "audio", 600),
                 NULL, -1);
        env_watch(env, "fc-caller");
        env_watch(env, "fc-callee");
        TEST_INTEQ(reply_checked(env, "fc-caller", "fc-inv")->errcode, 0);
        seen_t *n = env_expect_note(env, "fc-callee", "fc-inv");
        TEST_STREQ(n->topic, env_push_topic(env, "fc-callee"));
        TEST_STREQ(n->key, "fc-callee");
        TEST_STREQ(n->kind, "notification");
        TEST_STREQ(n->operation_id, "fc-inv");
        TEST_INTEQ(env_worker_log_count(env, 0, "first contact: preparing 2 new topic(s)"),
                   before + 1);

        /* One preparation per outbox with new topics, each timed. */
        int prepared = env_worker_log_count(env, 0, "first contact: preparing");
        int creates = env_worker_log_count(env, 0, "first contact: CreateTopics for");
        TEST_INTEQ(prepared, PRE_USERS + NEW_USERS + 1);
        TEST_INTEQ(env_worker_log_count(env, 0, "new topic(s) prepared in "), prepared);
        TEST_ASSERT(creates >= 1 && creates <= prepared, "CreateTopics %d times", creates);

        /* Known users: nothing is prepared again. */
        for (int i = 0; i < PRE_USERS + NEW_USERS; i += 3) {
                user_name(user, sizeof(user), i < PRE_USERS ? "pre" : "new",
                          i < PRE_USERS ? i : i - PRE_USERS);
                snprintf(op, sizeof(op), "again-%s", user);
                env_send(env, cmd_token(op, user, "room-none"), NULL, -1);
                TEST_INTEQ(reply_checked(env, user, op)->errcode, 1003);
        }
        env_send(env, cmd_action("fc-cancel", "fc-caller", RQ(CANCEL), "room-fc"), NULL, -1);
        TEST_INTEQ(reply_checked(env, "fc-caller", "fc-cancel")->errcode, 0);
        n = env_expect_note(env, "fc-callee", "fc-cancel");
        TEST_STREQ(n->kind, "notification");
        TEST_STREQ(n->operation_id, "fc-cancel");
        TEST_INTEQ(env_worker_log_count(env, 0, "first contact: preparing"), prepared);
        TEST_INTEQ(env_worker_log_count(env, 0, "first contact: CreateTopics for"), creates);
        /* dead letters keep the command's key: the roomID */
        TEST_INTEQ(env_count(env, "room-none", NULL, "dead_letter", 0), 0);
        TEST_INTEQ(env_count(env, "room-fc", NULL, "dead_letter", 0), 0);

        env_stop(env);
        return test_done();
}
