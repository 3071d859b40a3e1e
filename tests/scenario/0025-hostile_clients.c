/*
 * 0025: clients that replay, forge and dawdle (contract section 5:
 * redelivery identity, stale commands, ring deadlines).
 *
 * Proves that:
 *  - the identity of a command is (sendID, operationID): a stranger who
 *    sends an accept carrying the operationID of someone else's invite is
 *    judged as a new command (1002), gets no token, and nobody is rung
 *    again; the invitee's own accept with that same operationID is a new
 *    command too and is applied (0, token);
 *  - the same pair with another request case is answered 1001 and changes
 *    nothing, both while the call record holds the event and from the
 *    ledger of operations (a lookup that names no call);
 *  - refusals are remembered per pair: the stranger's second delivery is
 *    answered 1002 again, the ledger holds one entry for it, and so does
 *    the call record it named (`refusals`);
 *  - a command whose sentAt is older than signal.command_max_age is
 *    answered 1008 and changes nothing; sentAt 0 never expires; a
 *    redelivery of an applied command is answered from the record even
 *    once it is stale (its notifications are owed);
 *  - an accept after the invitee's ring deadline is refused 1004 even
 *    though the timer has not fired yet (the timer runs once a minute
 *    here), and the call stays ringing until the timer ends it.
 */
#include <time.h>

#include "harness.h"

TEST_MAIN_DEFS

#define REQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RESP(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x

static int event_cnt(env_t *env, const char *room) {
        bson_t *doc = env_call_doc(env, room);
        int i = 0;
        for (;; i++) {
                char path[32];
                snprintf(path, sizeof(path), "events.%d", i);
                if (!doc_has(doc, path))
                        break;
        }
        bson_destroy(doc);
        return i;
}

static cmd_t *with_sent_at(cmd_t *c, int64_t sent_at) {
        cmd_msg(c)->sentat = sent_at;
        return c;
}

int main(void) {
        /* The ring timer looks once a minute: deadlines pass unseen. */
        setenv("CALLSIG_SIGNAL_TIMER_INTERVAL_MS", "60000", 1);
        setenv("CALLSIG_SIGNAL_COMMAND_MAX_AGE", "10", 1);
        env_t *env = env_start("hostile", NULL);
        const char *users[] = {"alice", "bob", "mallory", "carol", "dave"};
        for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
                env_watch(env, users[i]);
        Callsig__V1__SignalReply *r;

        /* ---- alice rings bob with operationID "op-1" ---- */
        env_send(env, cmd_invite("op-1", "alice", (const char *[]){"bob", NULL},
                                 "room-1", NULL, "video", 300),
                 NULL, -1);
        r = env_expect_code(env, "alice", "op-1", 0, RESP(INVITE));
        TEST_ASSERT(r->resp->invite->token[0], "inviter token");
        env_expect_note(env, "bob", "op-1");
        env_expect_note(env, "alice", "op-1");

        /* ---- mallory replays alice's operationID as an accept ---- */
        env_send(env, cmd_action("op-1", "mallory", REQ(ACCEPT), "room-1"), NULL, -1);
        r = env_expect_code(env, "mallory", "op-1", 1002, RESP(ACCEPT));
        TEST_STREQ(r->resp->accept->token, "");
        TEST_STREQ(r->resp->accept->roomid, "");
        env_expect_quiet(env, "bob", 500);
        env_expect_quiet(env, "alice", 0);
        env_expect_quiet(env, "mallory", 0);
        TEST_INTEQ(event_cnt(env, "room-1"), 1);
        /* ... and again: the same refusal, remembered under her pair */
        env_send(env, cmd_action("op-1", "mallory", REQ(ACCEPT), "room-1"), NULL, -1);
        env_expect_code(env, "mallory", "op-1", 1002, RESP(ACCEPT));
        /* in the ledger once, and kept once in the record the accept named */
        TEST_INTEQ(env_count_docs(env, "operations",
                                  "{\"sendID\": \"mallory\", \"operationID\": \"op-1\"}"),
                   1);
        TEST_INTEQ(env_count_docs(env, "operations",
                                  "{\"sendID\": \"mallory\", \"errCode\": 1002}"),
                   1);
        bson_t *rdoc = env_call_doc(env, "room-1");
        TEST_STREQ(doc_str(rdoc, "refusals.0.userID"), "mallory");
        TEST_STREQ(doc_str(rdoc, "refusals.0.operationID"), "op-1");
        TEST_STREQ(doc_str(rdoc, "refusals.0.request"), "accept");
        TEST_INTEQ(doc_int(rdoc, "refusals.0.errCode"), 1002);
        TEST_ASSERT(!doc_has(rdoc, "refusals.1"), "one refusal kept");
        bson_destroy(rdoc);
        TEST_SAY("a stranger's replayed operationID got nothing");

        /* ---- alice reuses her pair for other requests: 1001 ---- */
        env_send(env, cmd_action("op-1", "alice", REQ(CANCEL), "room-1"), NULL, -1);
        env_expect_code(env, "alice", "op-1", 1001, RESP(CANCEL));
        env_send(env, cmd_token("op-1", "alice", "room-1"), NULL, -1);
        env_expect_code(env, "alice", "op-1", 1001, RESP(GET_TOKEN_BY_ROOM_ID));
        env_expect_quiet(env, "bob", 300);
        bson_destroy(env_wait_call(env, "room-1", "ringing", NULL));
        TEST_INTEQ(event_cnt(env, "room-1"), 1);
        TEST_SAY("a pair reused for another request is refused");

        /* ---- bob's own accept with the same operationID: a new command ---- */
        env_send(env, cmd_action("op-1", "bob", REQ(ACCEPT), "room-1"), NULL, -1);
        r = env_expect_code(env, "bob", "op-1", 0, RESP(ACCEPT));
        env_verify_token_later(env, r->resp->accept->token, "bob", "room-1");
        env_expect_note(env, "alice", "op-1");
        env_expect_note(env, "bob", "op-1");
        bson_destroy(env_wait_call(env, "room-1", "active", NULL));
        TEST_INTEQ(event_cnt(env, "room-1"), 2);

        /* ---- stale commands: 1008, nothing changes ---- */
        env_send(env, with_sent_at(cmd_action("stale-hup", "bob", REQ(HUNG_UP), "room-1"),
                                   env_wall_ms() - 20000),
                 NULL, -1);
        env_expect_code(env, "bob", "stale-hup", 1008, RESP(HUNG_UP));
        env_expect_quiet(env, "alice", 300);
        bson_destroy(env_wait_call(env, "room-1", "active", NULL));
        TEST_INTEQ(event_cnt(env, "room-1"), 2);
        env_send(env, with_sent_at(cmd_invite("stale-inv", "carol",
                                              (const char *[]){"dave", NULL},
                                              "room-stale", NULL, "audio", 30),
                                   env_wall_ms() - 11000),
                 NULL, -1);
        env_expect_code(env, "carol", "stale-inv", 1008, RESP(INVITE));
        env_expect_quiet(env, "dave", 300);
        TEST_ASSERT(env_call_doc(env, "room-stale") == NULL, "no record for a stale invite");
        TEST_INTEQ(env_count_docs(env, "lines", "{\"_id\": \"user:carol\"}"), 0);
        env_send(env, with_sent_at(cmd_token("stale-tok", "alice", "room-1"),
                                   env_wall_ms() - 15000),
                 NULL, -1);
        r = env_expect_code(env, "alice", "stale-tok", 1008, RESP(GET_TOKEN_BY_ROOM_ID));
        TEST_STREQ(r->resp->gettokenbyroomid->token, "");
        /* sentAt 0 is unknown: never expires */
        env_send(env, with_sent_at(cmd_token("tok-0", "alice", "room-1"), 0), NULL, -1);
        r = env_expect_code(env, "alice", "tok-0", 0, RESP(GET_TOKEN_BY_ROOM_ID));
        env_verify_token_later(env, r->resp->gettokenbyroomid->token, "alice", "room-1");
        /* an applied command delivered again once stale: answered from the
         * record, notifications again */
        env_send(env, with_sent_at(cmd_action("op-1", "bob", REQ(ACCEPT), "room-1"),
                                   env_wall_ms() - 60000),
                 NULL, -1);
        env_expect_code(env, "bob", "op-1", 0, RESP(ACCEPT));
        env_expect_note(env, "alice", "op-1");
        env_expect_note(env, "bob", "op-1");
        TEST_SAY("stale commands answered 1008");

        /* ---- an accept after the ring deadline, before the timer ---- */
        env_send(env, cmd_invite("late-inv", "carol", (const char *[]){"dave", NULL},
                                 "room-late", NULL, "audio", 1),
                 NULL, -1);
        env_expect_code(env, "carol", "late-inv", 0, RESP(INVITE));
        env_expect_note(env, "dave", "late-inv");
        env_expect_note(env, "carol", "late-inv");
        struct timespec ts = {1, 300 * 1000000L};
        nanosleep(&ts, NULL);
        env_send(env, cmd_action("late-acc", "dave", REQ(ACCEPT), "room-late"), NULL, -1);
        r = env_expect_code(env, "dave", "late-acc", 1004, RESP(ACCEPT));
        TEST_STREQ(r->resp->accept->token, "");
        env_expect_quiet(env, "carol", 300);
        bson_t *doc = env_wait_call(env, "room-late", "ringing", NULL);
        TEST_STREQ(doc_str(doc, "participants.1.state"), "ringing");
        bson_destroy(doc);
        /* a late reject still ends it */
        env_send(env, cmd_action("late-rej", "dave", REQ(REJECT), "room-late"), NULL, -1);
        env_expect_code(env, "dave", "late-rej", 0, RESP(REJECT));
        env_expect_note(env, "carol", "late-rej");
        env_expect_note(env, "dave", "late-rej");
        bson_destroy(env_wait_call(env, "room-late", "ended", "rejected"));
        TEST_SAY("an accept after the deadline is refused");

        env_verify_tokens(env);
        env_stop(env);
        return test_done();
}
