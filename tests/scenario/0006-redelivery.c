/*
 * 0006: redelivery (contract section 5 "Redelivery", behaviour.md).
 *
 * The very same command bytes are produced twice (same operationID) for an
 * invite, an accept, a reject, a hungUp and a refused request (accept by a
 * stranger, 1002), and for an inviteInGroup whose roomID callsig generated
 * (with a busy invitee). Proves that the second delivery changes nothing in
 * the call record (events count and rev unchanged; a refusal is in the
 * ledger and kept in the record it named, once),
 * that its reply has the same errCode and fields (roomID, liveURL, busy
 * list, errMsg, echoes; the token may be re-minted but must verify), and
 * that its notifications are byte-identical to the first ones (value,
 * key, topic, kind and operation-id headers), with nothing else sent. Also:
 * an accept redelivered after the call was hung up is answered 0 with the
 * same roomID and adds no event.
 */
#include "harness.h"

TEST_MAIN_DEFS

typedef struct raw_s {
        uint8_t *buf;
        size_t len;
        char key[256];
} raw_t;

/* A copy of a seen message that outlives the harness's seen log growth. */
typedef struct snap_s {
        char *topic, *key, *kind, *op;
        uint8_t *val;
        size_t len;
} snap_t;

static raw_t pack(cmd_t *c, const char *key) {
        raw_t r;
        r.buf = cmd_pack(c, &r.len);
        snprintf(r.key, sizeof(r.key), "%s", key);
        cmd_free(c);
        return r;
}

static void deliver(env_t *env, const raw_t *r) {
        env_send_raw(env, r->buf, r->len, r->key, -1);
}

static snap_t snap(const seen_t *s) {
        snap_t n;
        n.topic = strdup(s->topic);
        n.key = strdup(s->key);
        n.kind = strdup(s->kind ? s->kind : "");
        n.op = s->operation_id ? strdup(s->operation_id) : NULL;
        n.len = s->len;
        n.val = malloc(s->len + 1);
        TEST_ASSERT(n.topic && n.key && n.kind && n.val, "alloc");
        memcpy(n.val, s->value, s->len);
        return n;
}

static void snap_free(snap_t *n) {
        free(n->topic);
        free(n->key);
        free(n->kind);
        free(n->op);
        free(n->val);
}

static void same_note(const snap_t *a, const seen_t *b) {
        TEST_STREQ(b->topic, a->topic);
        TEST_STREQ(b->key, a->key);
        TEST_STREQ(b->kind, a->kind);
        TEST_STREQ(b->kind, "notification");
        TEST_ASSERT(a->op && b->operation_id && !strcmp(a->op, b->operation_id),
                    "operation-id header differs: %s / %s", a->op ? a->op : "-",
                    b->operation_id ? b->operation_id : "-");
        TEST_ASSERT(a->len == b->len && !memcmp(a->val, b->value, a->len),
                    "redelivered notification to %s (op %s) is not byte-identical "
                    "(%zu vs %zu bytes)", a->key, a->op, a->len, b->len);
}

static void same_list(char **a, size_t na, char **b, size_t nb) {
        TEST_INTEQ(nb, na);
        for (size_t i = 0; i < na; i++)
                TEST_STREQ(b[i], a[i]);
}

/* The fields of two replies are equal, tokens aside. */
static void same_reply(const Callsig__V1__SignalReply *a,
                       const Callsig__V1__SignalReply *b) {
        TEST_STREQ(b->operationid, a->operationid);
        TEST_STREQ(b->msgincr, a->msgincr);
        TEST_STREQ(b->connid, a->connid);
        TEST_INTEQ(b->platformid, a->platformid);
        TEST_INTEQ(b->errcode, a->errcode);
        TEST_STREQ(b->errmsg, a->errmsg);
        TEST_ASSERT((a->resp == NULL) == (b->resp == NULL), "resp presence differs");
        if (!a->resp)
                return;
        TEST_INTEQ(b->resp->payload_case, a->resp->payload_case);
        switch (a->resp->payload_case) {
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE:
                TEST_STREQ(b->resp->invite->roomid, a->resp->invite->roomid);
                TEST_STREQ(b->resp->invite->liveurl, a->resp->invite->liveurl);
                same_list(a->resp->invite->busylineuseridlist,
                          a->resp->invite->n_busylineuseridlist,
                          b->resp->invite->busylineuseridlist,
                          b->resp->invite->n_busylineuseridlist);
                break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE_IN_GROUP:
                TEST_STREQ(b->resp->inviteingroup->roomid, a->resp->inviteingroup->roomid);
                TEST_STREQ(b->resp->inviteingroup->liveurl, a->resp->inviteingroup->liveurl);
                same_list(a->resp->inviteingroup->busylineuseridlist,
                          a->resp->inviteingroup->n_busylineuseridlist,
                          b->resp->inviteingroup->busylineuseridlist,
                          b->resp->inviteingroup->n_busylineuseridlist);
                break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_ACCEPT:
                TEST_STREQ(b->resp->accept->roomid, a->resp->accept->roomid);
                TEST_STREQ(b->resp->accept->liveurl, a->resp->accept->liveurl);
                break;
        default: /* cancel / reject / hungUp replies are empty */
                break;
        }
}

static int events_count(const bson_t *doc) {
        bson_iter_t it, child;
        int n = 0;
        if (bson_iter_init_find(&it, doc, "events") && BSON_ITER_HOLDS_ARRAY(&it) &&
            bson_iter_recurse(&it, &child))
                while (bson_iter_next(&child))
                        n++;
        return n;
}

typedef struct rec_s {
        int events;
        int64_t rev;
        char *state;
} rec_t;

static rec_t record(env_t *env, const char *room) {
        bson_t *doc = env_call_doc(env, room);
        TEST_ASSERT(doc, "no call record %s", room);
        rec_t r = {events_count(doc), doc_int(doc, "rev"), strdup(doc_str(doc, "state"))};
        TEST_ASSERT(r.rev > 0, "call %s has a rev", room);
        bson_destroy(doc);
        return r;
}

static void same_record(env_t *env, const char *room, rec_t before) {
        rec_t now = record(env, room);
        TEST_INTEQ(now.events, before.events);
        TEST_INTEQ(now.rev, before.rev);
        TEST_STREQ(now.state, before.state);
        free(now.state);
}

int main(void) {
        env_t *env = env_start("redelivery", NULL);
        const char *users[] = {"alice", "bob", "carol", "dave", "erin",
                               "frank", "gina", NULL};
        for (int i = 0; users[i]; i++)
                env_watch(env, users[i]);
        const char *room1 = "rd-room-1";

        /* ---- invite, delivered twice ---- */
        raw_t inv = pack(cmd_invite("rd-inv-1", "alice", (const char *[]){"bob", NULL},
                                    room1, NULL, "audio", 30),
                         room1);
        deliver(env, &inv);
        Callsig__V1__SignalReply *r1 = seen_reply(env_expect_reply(env, "alice", "rd-inv-1"));
        TEST_INTEQ(r1->errcode, 0);
        TEST_STREQ(r1->resp->invite->roomid, room1);
        env_verify_token_later(env, r1->resp->invite->token, "alice", room1);
        snap_t inv_bob = snap(env_expect_note(env, "bob", "rd-inv-1"));
        snap_t inv_alice = snap(env_expect_note(env, "alice", "rd-inv-1"));
        bson_destroy(env_wait_call(env, room1, "ringing", NULL));
        rec_t rec = record(env, room1);
        TEST_INTEQ(rec.events, 1);

        deliver(env, &inv);
        Callsig__V1__SignalReply *r2 = seen_reply(env_expect_reply(env, "alice", "rd-inv-1"));
        same_reply(r1, r2);
        env_verify_token_later(env, r2->resp->invite->token, "alice", room1);
        same_note(&inv_bob, env_expect_note(env, "bob", "rd-inv-1"));
        same_note(&inv_alice, env_expect_note(env, "alice", "rd-inv-1"));
        env_expect_quiet(env, "alice", 500);
        env_expect_quiet(env, "bob", 0);
        same_record(env, room1, rec);
        TEST_SAY("invite redelivery ok");

        /* ---- a refused request (accept by a stranger: 1002), twice ---- */
        raw_t stranger = pack(cmd_action("rd-acc-stranger", "carol",
                                         OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT, room1),
                              room1);
        deliver(env, &stranger);
        r1 = seen_reply(env_expect_reply(env, "carol", "rd-acc-stranger"));
        TEST_INTEQ(r1->errcode, 1002);
        TEST_ASSERT(r1->resp && r1->resp->payload_case == OPENIM__V2__SIGNAL_RESP__PAYLOAD_ACCEPT,
                    "error reply carries the accept case");
        /* The refusal is in the ledger and kept in the record it named
         * too (one more rev, no event). */
        int64_t ops = env_count_docs(env, "operations", "{}");
        TEST_INTEQ(env_count_docs(env, "operations",
                                    "{\"sendID\": \"carol\", \"operationID\": \"rd-acc-stranger\"}"), 1);
        TEST_INTEQ(env_count_docs(env, "calls",
                                  "{\"refusals\": {\"$elemMatch\": {\"userID\": \"carol\", "
                                  "\"operationID\": \"rd-acc-stranger\", \"errCode\": 1002}}}"),
                   1);
        free(rec.state);
        rec = record(env, room1);
        deliver(env, &stranger);
        r2 = seen_reply(env_expect_reply(env, "carol", "rd-acc-stranger"));
        same_reply(r1, r2);
        env_expect_quiet(env, "carol", 500);
        env_expect_quiet(env, "alice", 0);
        env_expect_quiet(env, "bob", 0);
        TEST_INTEQ(env_count_docs(env, "operations", "{}"), ops);
        same_record(env, room1, rec);
        TEST_SAY("refusal redelivery ok");

        /* ---- inviteInGroup with a generated roomID and a busy invitee
         *      (bob rings in room1), twice ---- */
        raw_t gen = pack(cmd_invite("rd-inv-gen", "frank",
                                    (const char *[]){"gina", "bob", NULL}, NULL,
                                    "rd-group", "video", 0),
                         "frank");
        deliver(env, &gen);
        r1 = seen_reply(env_expect_reply(env, "frank", "rd-inv-gen"));
        TEST_INTEQ(r1->errcode, 0);
        TEST_ASSERT(r1->resp->payload_case == OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE_IN_GROUP,
                    "inviteInGroup case");
        char gen_room[128];
        snprintf(gen_room, sizeof(gen_room), "%s", r1->resp->inviteingroup->roomid);
        TEST_ASSERT(!strncmp(gen_room, "cs-", 3), "generated roomID %s", gen_room);
        TEST_INTEQ(r1->resp->inviteingroup->n_busylineuseridlist, 1);
        TEST_STREQ(r1->resp->inviteingroup->busylineuseridlist[0], "bob");
        env_verify_token_later(env, r1->resp->inviteingroup->token, "frank", gen_room);
        snap_t gen_gina = snap(env_expect_note(env, "gina", "rd-inv-gen"));
        snap_t gen_frank = snap(env_expect_note(env, "frank", "rd-inv-gen"));
        bson_destroy(env_wait_call(env, gen_room, "ringing", NULL));
        rec_t gen_rec = record(env, gen_room);
        TEST_INTEQ(gen_rec.events, 1);
        deliver(env, &gen);
        r2 = seen_reply(env_expect_reply(env, "frank", "rd-inv-gen"));
        same_reply(r1, r2);
        TEST_STREQ(r2->resp->inviteingroup->roomid, gen_room);
        env_verify_token_later(env, r2->resp->inviteingroup->token, "frank", gen_room);
        same_note(&gen_gina, env_expect_note(env, "gina", "rd-inv-gen"));
        same_note(&gen_frank, env_expect_note(env, "frank", "rd-inv-gen"));
        env_expect_quiet(env, "frank", 500);
        env_expect_quiet(env, "gina", 0);
        env_expect_quiet(env, "bob", 0);
        same_record(env, gen_room, gen_rec);
        TEST_INTEQ(env_count_docs(env, "calls", "{\"inviterUserID\": \"frank\"}"), 1);
        TEST_SAY("generated-room invite redelivery ok");

        /* ---- accept, twice ---- */
        raw_t acc = pack(cmd_action("rd-acc", "bob", OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT,
                                    room1),
                         room1);
        deliver(env, &acc);
        Callsig__V1__SignalReply *acc_r1 = seen_reply(env_expect_reply(env, "bob", "rd-acc"));
        TEST_INTEQ(acc_r1->errcode, 0);
        TEST_STREQ(acc_r1->resp->accept->roomid, room1);
        env_verify_token_later(env, acc_r1->resp->accept->token, "bob", room1);
        snap_t acc_alice = snap(env_expect_note(env, "alice", "rd-acc"));
        snap_t acc_bob = snap(env_expect_note(env, "bob", "rd-acc"));
        bson_destroy(env_wait_call(env, room1, "active", NULL));
        free(rec.state);
        rec = record(env, room1);
        TEST_INTEQ(rec.events, 2);
        deliver(env, &acc);
        r2 = seen_reply(env_expect_reply(env, "bob", "rd-acc"));
        same_reply(acc_r1, r2);
        env_verify_token_later(env, r2->resp->accept->token, "bob", room1);
        same_note(&acc_alice, env_expect_note(env, "alice", "rd-acc"));
        same_note(&acc_bob, env_expect_note(env, "bob", "rd-acc"));
        env_expect_quiet(env, "alice", 500);
        env_expect_quiet(env, "bob", 0);
        same_record(env, room1, rec);
        TEST_SAY("accept redelivery ok");

        /* ---- reject (another call), twice ---- */
        const char *room2 = "rd-room-2";
        env_send(env, cmd_invite("rd-inv-2", "dave", (const char *[]){"erin", NULL},
                                 room2, NULL, "video", 0),
                 NULL, -1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "dave", "rd-inv-2"))->errcode, 0);
        env_expect_note(env, "erin", "rd-inv-2");
        env_expect_note(env, "dave", "rd-inv-2");
        raw_t rej = pack(cmd_action("rd-rej", "erin", OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT,
                                    room2),
                         room2);
        deliver(env, &rej);
        r1 = seen_reply(env_expect_reply(env, "erin", "rd-rej"));
        TEST_INTEQ(r1->errcode, 0);
        TEST_ASSERT(r1->resp && r1->resp->payload_case == OPENIM__V2__SIGNAL_RESP__PAYLOAD_REJECT,
                    "reject case");
        snap_t rej_dave = snap(env_expect_note(env, "dave", "rd-rej"));
        snap_t rej_erin = snap(env_expect_note(env, "erin", "rd-rej"));
        bson_destroy(env_wait_call(env, room2, "ended", "rejected"));
        rec_t rec2 = record(env, room2);
        TEST_INTEQ(rec2.events, 2);
        deliver(env, &rej);
        r2 = seen_reply(env_expect_reply(env, "erin", "rd-rej"));
        same_reply(r1, r2);
        same_note(&rej_dave, env_expect_note(env, "dave", "rd-rej"));
        same_note(&rej_erin, env_expect_note(env, "erin", "rd-rej"));
        env_expect_quiet(env, "dave", 500);
        env_expect_quiet(env, "erin", 0);
        same_record(env, room2, rec2);
        TEST_SAY("reject redelivery ok");

        /* ---- hungUp, twice ---- */
        raw_t hup = pack(cmd_action("rd-hup", "alice", OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP,
                                    room1),
                         room1);
        deliver(env, &hup);
        r1 = seen_reply(env_expect_reply(env, "alice", "rd-hup"));
        TEST_INTEQ(r1->errcode, 0);
        TEST_ASSERT(r1->resp && r1->resp->payload_case == OPENIM__V2__SIGNAL_RESP__PAYLOAD_HUNG_UP,
                    "hungUp case");
        snap_t hup_bob = snap(env_expect_note(env, "bob", "rd-hup"));
        snap_t hup_alice = snap(env_expect_note(env, "alice", "rd-hup"));
        bson_destroy(env_wait_call(env, room1, "ended", "hung_up"));
        free(rec.state);
        rec = record(env, room1);
        TEST_INTEQ(rec.events, 3);
        deliver(env, &hup);
        r2 = seen_reply(env_expect_reply(env, "alice", "rd-hup"));
        same_reply(r1, r2);
        same_note(&hup_bob, env_expect_note(env, "bob", "rd-hup"));
        same_note(&hup_alice, env_expect_note(env, "alice", "rd-hup"));
        env_expect_quiet(env, "alice", 500);
        env_expect_quiet(env, "bob", 0);
        same_record(env, room1, rec);
        TEST_SAY("hungUp redelivery ok");

        /* ---- the accept again, after the call ended: still 0, same room,
         *      same notifications, no new event; no token, though: nobody
         *      is let into the room of a call that is over ---- */
        deliver(env, &acc);
        r2 = seen_reply(env_expect_reply(env, "bob", "rd-acc"));
        same_reply(acc_r1, r2);
        TEST_STREQ(r2->resp->accept->roomid, room1);
        TEST_STREQ(r2->resp->accept->token, "");
        same_note(&acc_alice, env_expect_note(env, "alice", "rd-acc"));
        same_note(&acc_bob, env_expect_note(env, "bob", "rd-acc"));
        env_expect_quiet(env, "alice", 500);
        env_expect_quiet(env, "bob", 0);
        same_record(env, room1, rec);
        TEST_SAY("late accept redelivery ok");

        /* lines were all released (calls ended) except the live group call */
        TEST_INTEQ(env_count_docs(env, "lines", "{\"_id\": \"user:alice\"}"), 0);
        TEST_INTEQ(env_count_docs(env, "lines", "{\"_id\": \"user:bob\"}"), 0);

        env_verify_tokens(env);
        env_stop(env);
        snap_t *snaps[] = {&inv_bob, &inv_alice, &gen_gina, &gen_frank, &acc_alice,
                           &acc_bob, &rej_dave, &rej_erin, &hup_bob, &hup_alice};
        for (size_t i = 0; i < sizeof(snaps) / sizeof(snaps[0]); i++)
                snap_free(snaps[i]);
        raw_t *raws[] = {&inv, &stranger, &gen, &acc, &rej, &hup};
        for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++)
                free(raws[i]->buf);
        free(rec.state);
        free(rec2.state);
        free(gen_rec.state);
        return test_done();
}
