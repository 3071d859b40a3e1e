/*
 * 0011: push.mode keyed: every push message goes to the one topic "push",
 * keyed by recvID (contract section 2).
 *
 * Proves that a 1:1 invite / accept / hang-up works in keyed mode and that
 * each reply and notification is on topic "push" with Kafka key = recvID =
 * the raw userID (not the escaped per-user form: "dave_x@y" stays as is),
 * with the kind and operation-id headers; and that nothing is written to
 * per-user topics (push.{user}), which are not prepared (no CreateTopics,
 * see 0028) either.
 */
#include "harness.h"

TEST_MAIN_DEFS

#define RQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RS(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x

/* The one push topic: "push" (a real broker: "push.<name>-<pid>"). */
static char keyed_topic[256];

/* Checks topic, key and recvID of a seen push message. */
static void check_keyed(const seen_t *s, const char *user, const char *kind,
                        const char *op) {
        TEST_STREQ(s->topic, keyed_topic);
        TEST_STREQ(s->key, user);
        TEST_STREQ(s->kind, kind);
        TEST_STREQ(s->operation_id, op);
        TEST_ASSERT(s->push, "push message decodes");
        TEST_STREQ(s->push->recvid, user);
}

static Callsig__V1__SignalReply *reply_ok(env_t *env, const char *user,
                                          const char *op, int resp_case) {
        seen_t *s = env_expect_reply(env, user, op);
        check_keyed(s, user, "reply", op);
        Callsig__V1__SignalReply *r = seen_reply(s);
        TEST_ASSERT(r->errcode == 0, "%s: errCode %d (%s)", op, r->errcode, r->errmsg);
        TEST_ASSERT(r->resp && (int)r->resp->payload_case == resp_case,
                    "%s: resp case", op);
        return r;
}

static void note_ok(env_t *env, const char *user, const char *op,
                    const char *actor, int content_case) {
        seen_t *s = env_expect_note(env, user, op);
        check_keyed(s, user, "notification", op);
        Openim__V2__MsgData *md = seen_note(s);
        TEST_STREQ(md->sendid, actor);
        TEST_STREQ(md->recvid, user);
        TEST_INTEQ(md->contenttype, 1601);
        Openim__V2__SignalReq *req = seen_content(s);
        TEST_ASSERT((int)req->payload_case == content_case,
                    "%s to %s: content case %d, expected %d", op, user,
                    (int)req->payload_case, content_case);
        openim__v2__signal_req__free_unpacked(req, NULL);
}

/* @returns the partition count of @p topic per the cluster's metadata, 0 if
 * the topic does not exist. Uses a throwaway producer. */
static int topic_partitions(env_t *env, const char *topic) {
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set(conf, "bootstrap.servers", env_bootstraps(env), NULL, 0);
        rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", NULL, 0);
        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        TEST_ASSERT(rk, "rd_kafka_new: %s", errstr);
        const struct rd_kafka_metadata *md = NULL;
        int n = -1;
        for (int attempt = 0; attempt < 50 && n < 0; attempt++) {
                if (rd_kafka_metadata(rk, 1, NULL, &md, env_ms(2000)))
                        continue;
                n = 0;
                for (int i = 0; i < md->topic_cnt; i++)
                        if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
                                n = md->topics[i].partition_cnt;
                rd_kafka_metadata_destroy(md);
        }
        rd_kafka_destroy(rk);
        TEST_ASSERT(n >= 0, "no metadata");
        return n;
}

int main(void) {
        env_opts_t opts = {.keyed = true};
        env_t *env = env_start("keyed", &opts);
        snprintf(keyed_topic, sizeof(keyed_topic), "%s", env_push_topic(env, "alice"));
        env_watch(env, "alice");
        env_watch(env, "dave_x@y"); /* same topic: watched once */

        env_send(env, cmd_invite("k-inv", "alice", (const char *[]){"dave_x@y", NULL},
                                 NULL, NULL, "video", 0),
                 NULL, -1);
        Callsig__V1__SignalReply *r = reply_ok(env, "alice", "k-inv", RS(INVITE));
        char room[64];
        snprintf(room, sizeof(room), "%s", r->resp->invite->roomid);
        TEST_ASSERT(strncmp(room, "cs-", 3) == 0 && strlen(room) == 35,
                    "generated roomID %s", room);
        env_verify_token_later(env, r->resp->invite->token, "alice", room);
        note_ok(env, "dave_x@y", "k-inv", "alice", RQ(INVITE));
        note_ok(env, "alice", "k-inv", "alice", RQ(INVITE));
        bson_destroy(env_wait_call(env, room, "ringing", NULL));

        env_send(env, cmd_action("k-acc", "dave_x@y", RQ(ACCEPT), room), NULL, -1);
        r = reply_ok(env, "dave_x@y", "k-acc", RS(ACCEPT));
        TEST_STREQ(r->resp->accept->roomid, room);
        env_verify_token_later(env, r->resp->accept->token, "dave_x@y", room);
        note_ok(env, "alice", "k-acc", "dave_x@y", RQ(ACCEPT));
        note_ok(env, "dave_x@y", "k-acc", "dave_x@y", RQ(ACCEPT));
        bson_destroy(env_wait_call(env, room, "active", NULL));

        env_send(env, cmd_action("k-hup", "alice", RQ(HUNG_UP), room), NULL, -1);
        reply_ok(env, "alice", "k-hup", RS(HUNG_UP));
        note_ok(env, "dave_x@y", "k-hup", "alice", RQ(HUNG_UP));
        note_ok(env, "alice", "k-hup", "alice", RQ(HUNG_UP));
        bson_t *doc = env_wait_call(env, room, "ended", "hung_up");
        bson_destroy(doc);

        /* an error reply is keyed the same way */
        env_send(env, cmd_action("k-hup-late", "dave_x@y", RQ(HUNG_UP), room), NULL, -1);
        seen_t *s = env_expect_reply(env, "dave_x@y", "k-hup-late");
        check_keyed(s, "dave_x@y", "reply", "k-hup-late");
        TEST_INTEQ(seen_reply(s)->errcode, 1004);

        env_expect_quiet(env, "alice", 300);
        env_expect_quiet(env, "dave_x@y", 0);
        /* 10 replies and notifications, all on "push" */
        TEST_INTEQ(env_count(env, "alice", NULL, "reply", 0) +
                           env_count(env, "alice", NULL, "notification", 0) +
                           env_count(env, "dave_x@y", NULL, "reply", 0) +
                           env_count(env, "dave_x@y", NULL, "notification", 0),
                   10);
        /* no per-user topic was produced to */
        /* push.{user} would have been <keyed topic>.<escaped user> */
        char per_user[300];
        snprintf(per_user, sizeof(per_user), "%s.alice", keyed_topic);
        TEST_INTEQ(topic_partitions(env, per_user), 0);
        snprintf(per_user, sizeof(per_user), "%s.dave_5fx_40y", keyed_topic);
        TEST_INTEQ(topic_partitions(env, per_user), 0);
        TEST_ASSERT(topic_partitions(env, keyed_topic) > 0, "topic %s exists",
                    keyed_topic);
        /* keyed mode prepares no per-user topics (first contact, 0028) */
        TEST_ASSERT(!env_worker_log_has(env, 0, "first contact"),
                    "keyed mode prepared push topics");

        env_verify_tokens(env);
        env_stop(env);
        return test_done();
}
