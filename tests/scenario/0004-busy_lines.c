/*
 * 0004: busy lines (contract section 5, behaviour.md "Lines", 1005/1006).
 *
 * Proves that:
 *  - an invitee already in a call is busy: when every invitee is busy the
 *    invite is answered 1006 with busyLineUserIDList and roomID, the call
 *    record is written ended/busy with one event of type busy, and nobody
 *    is notified;
 *  - a caller already in a call gets 1005 and no call record is written;
 *  - a partly busy group invite is answered 0 with the busy list, only the
 *    free invitees ring, the content carries busyLineUserIDList and the
 *    busy participant's state is busy;
 *  - lines are freed when a user's part ends (no `lines` document left)
 *    and a new call to the freed users works;
 *  - the busy check holds across workers: two invites of one invitee,
 *    handled at the same time by two different workers (command partitions
 *    0 and 3), give exactly one ringing call and one 1006;
 *  - stale claims: a claim that holds nothing (for a call that does not
 *    exist, or one the user is no longer live in) is taken over once older
 *    than the 60 s grace and respected while fresh.
 */
#include <mongoc/mongoc.h>
#include <time.h>

#include "harness.h"

TEST_MAIN_DEFS

#define INV OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE
#define INV_GROUP OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE_IN_GROUP

/* Inserts a `lines` document by hand (a claim callsig did not write). */
static void insert_line(env_t *env, const char *user, const char *room,
                        int64_t at_ms) {
        bson_error_t berr;
        char id[128];
        snprintf(id, sizeof(id), "user:%s", user);
        mongoc_client_t *client = mongoc_client_new(env_mongo_uri(env));
        TEST_ASSERT(client, "mongoc_client_new");
        mongoc_collection_t *c =
                mongoc_client_get_collection(client, env_mongo_db(env), "lines");
        /* A claim written without an identity, as by an operator. */
        bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "roomID", BCON_UTF8(room),
                               "at", BCON_DATE_TIME(at_ms));
        TEST_ASSERT(mongoc_collection_insert_one(c, doc, NULL, NULL, &berr),
                    "insert line %s: %s", id, berr.message);
        bson_destroy(doc);
        mongoc_collection_destroy(c);
        mongoc_client_destroy(client);
}

/* Removes @p user's `lines` document. */
static void delete_line(env_t *env, const char *user) {
        bson_error_t berr;
        char id[128];
        snprintf(id, sizeof(id), "user:%s", user);
        mongoc_client_t *client = mongoc_client_new(env_mongo_uri(env));
        TEST_ASSERT(client, "mongoc_client_new");
        mongoc_collection_t *c =
                mongoc_client_get_collection(client, env_mongo_db(env), "lines");
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
        TEST_ASSERT(mongoc_collection_delete_one(c, filter, NULL, NULL, &berr),
                    "delete line %s: %s", id, berr.message);
        bson_destroy(filter);
        mongoc_collection_destroy(c);
        mongoc_client_destroy(client);
}

/* Number of `lines` documents of @p user (held for @p room if not NULL). */
static int64_t line_count(env_t *env, const char *user, const char *room) {
        char filter[256];
        if (room)
                snprintf(filter, sizeof(filter),
                         "{\"_id\": \"user:%s\", \"roomID\": \"%s\"}", user, room);
        else
                snprintf(filter, sizeof(filter), "{\"_id\": \"user:%s\"}", user);
        return env_count_docs(env, "lines", filter);
}

static void busy_is(char **list, size_t n, const char *one) {
        if (!one) {
                TEST_INTEQ(n, 0);
                return;
        }
        TEST_INTEQ(n, 1);
        TEST_STREQ(list[0], one);
}

/* Two callers invite the same invitee at the same time through partitions
 * 0 and 3 (owned by different workers): one rings, the other is 1006. */
static void cross_worker_race(env_t *env, int round) {
        char zoe[32], p1[32], p2[32], op1[48], op2[48];
        snprintf(zoe, sizeof(zoe), "zoe%d", round);
        snprintf(p1, sizeof(p1), "pa%d", round);
        snprintf(p2, sizeof(p2), "pb%d", round);
        snprintf(op1, sizeof(op1), "b-race-%d-a", round);
        snprintf(op2, sizeof(op2), "b-race-%d-b", round);
        env_watch(env, zoe);
        env_watch(env, p1);
        env_watch(env, p2);
        /* no roomID: callsig generates it, the key is the sender */
        env_send_pair(env,
                  cmd_invite(op1, p1, (const char *[]){zoe, NULL}, NULL, NULL, "audio", 300),
                  p1, 0,
                  cmd_invite(op2, p2, (const char *[]){zoe, NULL}, NULL, NULL, "audio", 300),
                  p2, 3);
        Callsig__V1__SignalReply *r1 = seen_reply(env_expect_reply(env, p1, op1));
        Callsig__V1__SignalReply *r2 = seen_reply(env_expect_reply(env, p2, op2));
        TEST_ASSERT((r1->errcode == 0 && r2->errcode == 1006) ||
                            (r1->errcode == 1006 && r2->errcode == 0),
                    "round %d: codes %d and %d, want exactly one 0 and one 1006",
                    round, r1->errcode, r2->errcode);
        TEST_ASSERT(r1->resp && r1->resp->payload_case == INV &&
                            r2->resp && r2->resp->payload_case == INV,
                    "invite resp cases");
        bool first_won = r1->errcode == 0;
        Callsig__V1__SignalReply *win = first_won ? r1 : r2;
        Callsig__V1__SignalReply *lose = first_won ? r2 : r1;
        const char *win_op = first_won ? op1 : op2;
        const char *lose_op = first_won ? op2 : op1;
        const char *win_user = first_won ? p1 : p2;
        const char *lose_user = first_won ? p2 : p1;
        char win_room[64], lose_room[64];
        snprintf(win_room, sizeof(win_room), "%s", win->resp->invite->roomid);
        snprintf(lose_room, sizeof(lose_room), "%s", lose->resp->invite->roomid);
        TEST_ASSERT(strncmp(win_room, "cs-", 3) == 0 && strncmp(lose_room, "cs-", 3) == 0 &&
                            strcmp(win_room, lose_room) != 0,
                    "generated rooms %s / %s", win_room, lose_room);
        busy_is(win->resp->invite->busylineuseridlist,
                win->resp->invite->n_busylineuseridlist, NULL);
        busy_is(lose->resp->invite->busylineuseridlist,
                lose->resp->invite->n_busylineuseridlist, zoe);
        TEST_STREQ(lose->resp->invite->token, "");

        /* zoe rings once, for the winner's call only */
        seen_t *s = env_expect_note(env, zoe, win_op);
        Openim__V2__SignalReq *req = seen_content(s);
        TEST_STREQ(req->invite->invitation->roomid, win_room);
        openim__v2__signal_req__free_unpacked(req, NULL);
        env_expect_note(env, win_user, win_op);
        TEST_INTEQ(env_count(env, zoe, lose_op, "notification", 300), 0);
        TEST_INTEQ(env_count(env, lose_user, lose_op, "notification", 0), 0);
        TEST_INTEQ(env_count(env, zoe, NULL, "notification", 0), 1);

        bson_t *doc = env_wait_call(env, win_room, "ringing", NULL);
        TEST_STREQ(doc_str(doc, "participants.1.state"), "ringing");
        bson_destroy(doc);
        doc = env_wait_call(env, lose_room, "ended", "busy");
        TEST_STREQ(doc_str(doc, "participants.1.userID"), zoe);
        TEST_STREQ(doc_str(doc, "participants.1.state"), "busy");
        TEST_STREQ(doc_str(doc, "events.0.type"), "busy");
        TEST_ASSERT(!doc_has(doc, "events.1"), "one event only");
        bson_destroy(doc);
        TEST_INTEQ(line_count(env, zoe, win_room), 1);
        TEST_INTEQ(line_count(env, lose_user, NULL), 0);

        /* the two invites were handled by different workers */
        int w1 = env_worker_of(env, op1), w2 = env_worker_of(env, op2);
        TEST_ASSERT(w1 != w2, "round %d: both invites handled by worker %d", round, w1);
        TEST_SAY("race %d: %s won (worker %d), %s got 1006 (worker %d)", round,
                 win_op, first_won ? w1 : w2, lose_op, first_won ? w2 : w1);
}

/* Invites ring for 300 s: no ring timeout may interfere, even in a slow
 * (sanitizer) run. */
int main(void) {
        env_opts_t opts = {.workers = 2};
        env_t *env = env_start("busy", &opts);
        /* Range assignment of the 4 command partitions over 2 members:
         * one owns 0-1, the other 2-3. Wait for the final assignment. */
        env_worker_wait_log(env, 0, "assigned 2 partition(s)", 1, 30000);
        env_worker_wait_log(env, 1, "assigned 2 partition(s)", 1, 30000);
        const char *users[] = {"alice", "bob", "carol", "dave", "erin",
                               "frank", "gus", "hank"};
        for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
                env_watch(env, users[i]);

        /* ---- busy across workers ---- */
        for (int round = 1; round <= 3; round++)
                cross_worker_race(env, round);

        /* ---- alice calls bob: both lines held ---- */
        env_send(env, cmd_invite("b-ab", "alice", (const char *[]){"bob", NULL},
                                 "room-ab", NULL, "video", 300),
                 NULL, -1);
        Callsig__V1__SignalReply *r = env_expect_code(env, "alice", "b-ab", 0, INV);
        busy_is(r->resp->invite->busylineuseridlist, r->resp->invite->n_busylineuseridlist, NULL);
        env_expect_note(env, "bob", "b-ab");
        env_expect_note(env, "alice", "b-ab");
        bson_destroy(env_wait_call(env, "room-ab", "ringing", NULL));
        TEST_INTEQ(line_count(env, "alice", "room-ab"), 1);
        TEST_INTEQ(line_count(env, "bob", "room-ab"), 1);

        /* ---- carol invites alice: every invitee busy -> 1006 ---- */
        env_send(env, cmd_invite("b-ca", "carol", (const char *[]){"alice", NULL},
                                 "room-ca", NULL, "audio", 300),
                 NULL, -1);
        r = env_expect_code(env, "carol", "b-ca", 1006, INV);
        busy_is(r->resp->invite->busylineuseridlist, r->resp->invite->n_busylineuseridlist,
                "alice");
        TEST_STREQ(r->resp->invite->roomid, "room-ca");
        TEST_STREQ(r->resp->invite->token, "");
        bson_t *doc = env_wait_call(env, "room-ca", "ended", "busy");
        TEST_STREQ(doc_str(doc, "inviterUserID"), "carol");
        TEST_STREQ(doc_str(doc, "participants.0.userID"), "carol");
        TEST_STREQ(doc_str(doc, "participants.1.userID"), "alice");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "busy");
        TEST_STREQ(doc_str(doc, "events.0.type"), "busy");
        TEST_STREQ(doc_str(doc, "events.0.operationID"), "b-ca");
        TEST_ASSERT(!doc_has(doc, "events.1"), "one event only");
        TEST_ASSERT(doc_has(doc, "endedAt"), "endedAt set");
        bson_destroy(doc);
        /* nobody notified; carol's line not kept; alice still held by room-ab */
        TEST_INTEQ(env_count(env, "alice", "b-ca", "notification", 300), 0);
        TEST_INTEQ(env_count(env, "carol", "b-ca", "notification", 0), 0);
        TEST_INTEQ(line_count(env, "carol", NULL), 0);
        TEST_INTEQ(line_count(env, "alice", "room-ab"), 1);

        /* ---- alice (in a call) invites dave -> 1005, no record ---- */
        env_send(env, cmd_invite("b-ad", "alice", (const char *[]){"dave", NULL},
                                 "room-ad", NULL, "video", 300),
                 NULL, -1);
        r = env_expect_code(env, "alice", "b-ad", 1005, INV);
        TEST_STREQ(r->resp->invite->token, "");
        TEST_ASSERT(env_call_doc(env, "room-ad") == NULL, "no call record for room-ad");
        TEST_INTEQ(env_count_docs(env, "calls", "{\"_id\": \"room-ad\"}"), 0);
        TEST_INTEQ(env_count(env, "dave", "b-ad", "notification", 300), 0);
        TEST_INTEQ(env_count(env, "alice", "b-ad", "notification", 0), 0);
        TEST_INTEQ(line_count(env, "dave", NULL), 0);
        TEST_INTEQ(line_count(env, "alice", "room-ab"), 1);
        TEST_INTEQ(env_count_docs(env, "operations",
                                    "{\"sendID\": \"alice\", \"operationID\": \"b-ad\"}"), 1);

        /* ---- group invite by carol of bob (busy) and erin ---- */
        env_send(env, cmd_invite("b-cg", "carol", (const char *[]){"bob", "erin", NULL},
                                 "room-cg", "grp-1", "video", 300),
                 NULL, -1);
        r = env_expect_code(env, "carol", "b-cg", 0, INV_GROUP);
        Openim__V2__SignalInviteInGroupReply *ir = r->resp->inviteingroup;
        busy_is(ir->busylineuseridlist, ir->n_busylineuseridlist, "bob");
        TEST_STREQ(ir->roomid, "room-cg");
        TEST_ASSERT(ir->token[0], "token for carol");
        seen_t *s = env_expect_note(env, "erin", "b-cg");
        Openim__V2__SignalReq *req = seen_content(s);
        TEST_ASSERT(req->payload_case == OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP,
                    "content is inviteInGroup");
        Openim__V2__InvitationInfo *inv = req->inviteingroup->invitation;
        busy_is(inv->busylineuseridlist, inv->n_busylineuseridlist, "bob");
        TEST_STREQ(inv->roomid, "room-cg");
        TEST_STREQ(inv->groupid, "grp-1");
        openim__v2__signal_req__free_unpacked(req, NULL);
        env_expect_note(env, "carol", "b-cg");
        TEST_INTEQ(env_count(env, "bob", "b-cg", "notification", 300), 0);
        doc = env_wait_call(env, "room-cg", "ringing", NULL);
        TEST_STREQ(doc_str(doc, "participants.1.userID"), "bob");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "busy");
        TEST_STREQ(doc_str(doc, "participants.2.userID"), "erin");
        TEST_STREQ(doc_str(doc, "participants.2.state"), "ringing");
        TEST_STREQ(doc_str(doc, "events.0.type"), "invite");
        bson_destroy(doc);
        TEST_INTEQ(line_count(env, "bob", "room-ab"), 1);
        TEST_INTEQ(line_count(env, "erin", "room-cg"), 1);
        TEST_INTEQ(line_count(env, "carol", "room-cg"), 1);

        /* ---- bob rejects alice: both lines freed ---- */
        env_send(env, cmd_action("b-rej", "bob", OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT,
                                 "room-ab"),
                 NULL, -1);
        env_expect_code(env, "bob", "b-rej", 0, OPENIM__V2__SIGNAL_RESP__PAYLOAD_REJECT);
        env_expect_note(env, "alice", "b-rej");
        env_expect_note(env, "bob", "b-rej");
        bson_destroy(env_wait_call(env, "room-ab", "ended", "rejected"));
        TEST_INTEQ(line_count(env, "alice", NULL), 0);
        TEST_INTEQ(line_count(env, "bob", NULL), 0);

        /* erin rejects carol's group call: nobody left, it ends; every line
         * of it (erin, carol, the group) is gone */
        env_send(env, cmd_action("b-erej", "erin", OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT,
                                 "room-cg"),
                 NULL, -1);
        env_expect_code(env, "erin", "b-erej", 0, OPENIM__V2__SIGNAL_RESP__PAYLOAD_REJECT);
        env_expect_note(env, "carol", "b-erej");
        env_expect_note(env, "erin", "b-erej");
        bson_destroy(env_wait_call(env, "room-cg", "ended", "rejected"));
        TEST_INTEQ(line_count(env, "erin", NULL), 0);
        TEST_INTEQ(line_count(env, "carol", NULL), 0);
        TEST_INTEQ(env_count_docs(env, "lines", "{\"_id\": \"group:grp-1\"}"), 0);

        /* a new call alice -> bob works */
        env_send(env, cmd_invite("b-ab2", "alice", (const char *[]){"bob", NULL},
                                 "room-ab2", NULL, "video", 300),
                 NULL, -1);
        r = env_expect_code(env, "alice", "b-ab2", 0, INV);
        busy_is(r->resp->invite->busylineuseridlist, r->resp->invite->n_busylineuseridlist, NULL);
        env_expect_note(env, "bob", "b-ab2");
        env_expect_note(env, "alice", "b-ab2");
        bson_destroy(env_wait_call(env, "room-ab2", "ringing", NULL));
        TEST_INTEQ(line_count(env, "alice", "room-ab2"), 1);
        TEST_INTEQ(line_count(env, "bob", "room-ab2"), 1);

        /* ---- stale claim (2 minutes old) for a call that does not exist ---- */
        insert_line(env, "frank", "ghost-room", env_wall_ms() - 120000);
        env_send(env, cmd_invite("b-gf", "gus", (const char *[]){"frank", NULL},
                                 "room-gf", NULL, "audio", 300),
                 NULL, -1);
        r = env_expect_code(env, "gus", "b-gf", 0, INV);
        busy_is(r->resp->invite->busylineuseridlist, r->resp->invite->n_busylineuseridlist, NULL);
        env_expect_note(env, "frank", "b-gf");
        env_expect_note(env, "gus", "b-gf");
        doc = env_wait_call(env, "room-gf", "ringing", NULL);
        TEST_STREQ(doc_str(doc, "participants.1.state"), "ringing");
        bson_destroy(doc);
        TEST_INTEQ(line_count(env, "frank", "room-gf"), 1);

        /* end it (frank rejects): his line is free again */
        env_send(env, cmd_action("b-frej", "frank", OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT,
                                 "room-gf"),
                 NULL, -1);
        env_expect_code(env, "frank", "b-frej", 0, OPENIM__V2__SIGNAL_RESP__PAYLOAD_REJECT);
        env_expect_note(env, "gus", "b-frej");
        env_expect_note(env, "frank", "b-frej");
        bson_destroy(env_wait_call(env, "room-gf", "ended", "rejected"));
        TEST_INTEQ(line_count(env, "frank", NULL), 0);
        TEST_INTEQ(line_count(env, "gus", NULL), 0);

        /* ---- fresh claim (now) for a missing call: within the grace, busy ---- */
        insert_line(env, "frank", "ghost-room-2", env_wall_ms());
        env_send(env, cmd_invite("b-gf2", "gus", (const char *[]){"frank", NULL},
                                 "room-gf2", NULL, "audio", 300),
                 NULL, -1);
        r = env_expect_code(env, "gus", "b-gf2", 1006, INV);
        busy_is(r->resp->invite->busylineuseridlist, r->resp->invite->n_busylineuseridlist,
                "frank");
        TEST_STREQ(r->resp->invite->roomid, "room-gf2");
        doc = env_wait_call(env, "room-gf2", "ended", "busy");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "busy");
        TEST_STREQ(doc_str(doc, "events.0.type"), "busy");
        bson_destroy(doc);
        TEST_INTEQ(env_count(env, "frank", "b-gf2", "notification", 300), 0);
        TEST_INTEQ(line_count(env, "frank", "ghost-room-2"), 1);
        TEST_INTEQ(line_count(env, "gus", NULL), 0);

        /* ---- fresh claim for a call the user is no longer live in: its
         * maker may be about to write the user into that call, so it is
         * respected within the grace (busy), and taken over once older ---- */
        insert_line(env, "hank", "room-gf", env_wall_ms());
        env_send(env, cmd_invite("b-gh0", "gus", (const char *[]){"hank", NULL},
                                 "room-gh0", NULL, "audio", 300),
                 NULL, -1);
        r = env_expect_code(env, "gus", "b-gh0", 1006, INV);
        busy_is(r->resp->invite->busylineuseridlist, r->resp->invite->n_busylineuseridlist,
                "hank");
        TEST_INTEQ(line_count(env, "hank", "room-gf"), 1);
        TEST_INTEQ(env_count_docs(env, "lines", "{\"_id\": \"user:hank\"}"), 1);
        delete_line(env, "hank");
        insert_line(env, "hank", "room-gf", env_wall_ms() - 61000);
        env_send(env, cmd_invite("b-gh", "gus", (const char *[]){"hank", NULL},
                                 "room-gh", NULL, "audio", 300),
                 NULL, -1);
        r = env_expect_code(env, "gus", "b-gh", 0, INV);
        busy_is(r->resp->invite->busylineuseridlist, r->resp->invite->n_busylineuseridlist, NULL);
        env_expect_note(env, "hank", "b-gh");
        env_expect_note(env, "gus", "b-gh");
        bson_destroy(env_wait_call(env, "room-gh", "ringing", NULL));
        TEST_INTEQ(line_count(env, "hank", "room-gh"), 1);

        /* nothing else reached anyone */
        for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
                env_expect_quiet(env, users[i], i == 0 ? 300 : 0);

        env_stop(env);
        return test_done();
}
