/*
 * 0027: busy lines are exact across workers (contract section 5,
 * behaviour.md "Lines").
 *
 * Two workers own different command partitions. In each round a user is
 * added to a live group call (worker A, partition 0) while another user
 * invites the same user 1:1 (worker B, partition 3), both produced back to
 * back. MongoDB holds every update for a moment (a failCommand failpoint
 * that blocks `update`), so worker B looks at the line while worker A's
 * write of the participant is still in flight: the claim exists, the
 * record does not show the user yet. Proves that:
 *  - the user is live in at most one call after every round (the fresh
 *    claim is respected: the other invite finds the user busy);
 *  - every `lines` document matches a live participant of its call with
 *    the same claim identity (lineClaim), and every live participant holds
 *    its line;
 *  - when the user leaves (reject), exactly their claim is released; a
 *    late release of an older claim never frees a newer one: the user is
 *    invited into the group call again after rejecting, and a redelivered
 *    old reject (same sender, same operationID) leaves the new claim;
 *  - a duplicate-key race on recording a refusal answers with the stored
 *    code: one sender's operationID arrives twice at once on both workers
 *    (once naming a call that does not exist, once a call the sender is
 *    not in), MongoDB holds every insert for a second so both miss the
 *    ledger before either refusal is recorded, and both replies carry the
 *    one code that was recorded.
 */
#include <mongoc/mongoc.h>
#include <string.h>

#include "harness.h"

TEST_MAIN_DEFS

#define REQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RESP(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x
#define ROUNDS 12

static Callsig__V1__SignalReply *reply_of(env_t *env, const char *user,
                                          const char *op) {
        return seen_reply(env_expect_reply(env, user, op));
}

/* Every line document matches a live participant with the same claim,
 * and every live participant of a live call holds its line. @returns the
 * number of live calls @p user is in. */
static int check_lines(env_t *env, const char *user) {
        bson_error_t berr;
        const bson_t *doc;
        mongoc_client_t *client = mongoc_client_new(env_mongo_uri(env));
        mongoc_collection_t *lines =
                mongoc_client_get_collection(client, env_mongo_db(env), "lines");
        mongoc_collection_t *calls =
                mongoc_client_get_collection(client, env_mongo_db(env), "calls");
        bson_t *all = bson_new();
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(lines, all, NULL, NULL);
        while (mongoc_cursor_next(cur, &doc)) {
                bson_iter_t it;
                const char *id = "", *room = "", *claim = "";
                if (bson_iter_init_find(&it, doc, "_id"))
                        id = bson_iter_utf8(&it, NULL);
                if (bson_iter_init_find(&it, doc, "roomID"))
                        room = bson_iter_utf8(&it, NULL);
                if (bson_iter_init_find(&it, doc, "claim"))
                        claim = bson_iter_utf8(&it, NULL);
                char filter[512];
                if (!strncmp(id, "user:", 5))
                        snprintf(filter, sizeof(filter),
                                 "{\"_id\": \"%s\", \"state\": {\"$in\": [\"ringing\", \"active\"]},"
                                 " \"participants\": {\"$elemMatch\": {\"userID\": \"%s\","
                                 " \"lineClaim\": \"%s\", \"state\": {\"$in\": [\"ringing\", \"accepted\"]}}}}",
                                 room, id + 5, claim);
                else
                        snprintf(filter, sizeof(filter),
                                 "{\"_id\": \"%s\", \"groupClaim\": \"%s\","
                                 " \"state\": {\"$in\": [\"ringing\", \"active\"]}}",
                                 room, claim);
                TEST_ASSERT(env_count_docs(env, "calls", filter) == 1,
                            "line %s (room %s, claim %s) matches no live participant",
                            id, room, claim);
        }
        TEST_ASSERT(!mongoc_cursor_error(cur, &berr), "lines: %s", berr.message);
        mongoc_cursor_destroy(cur);
        char filter[256];
        snprintf(filter, sizeof(filter),
                 "{\"state\": {\"$in\": [\"ringing\", \"active\"]},"
                 " \"participants\": {\"$elemMatch\": {\"userID\": \"%s\","
                 " \"state\": {\"$in\": [\"ringing\", \"accepted\"]}}}}",
                 user);
        int live = (int)env_count_docs(env, "calls", filter);
        if (live) {
                snprintf(filter, sizeof(filter), "{\"_id\": \"user:%s\"}", user);
                TEST_ASSERT(env_count_docs(env, "lines", filter) == 1,
                            "%s is live without a line", user);
        }
        bson_destroy(all);
        mongoc_collection_destroy(lines);
        mongoc_collection_destroy(calls);
        mongoc_client_destroy(client);
        return live;
}

int main(void) {
        /* The failpoints below block every `find`, the ring timer's query
         * of due calls too. With the harness's 100 ms timer interval a
         * worker spends most of such a window inside a blocked timer query,
         * so its copy of m-acc could be taken up to a block later than the
         * other worker's and miss the race this test sets up (seen with
         * librdkafka 2.15, whose faster fetches shortened every other wait).
         * No call here reaches its ring deadline: the timer runs once at
         * start and then stays out of the way. */
        setenv("CALLSIG_SIGNAL_TIMER_INTERVAL_MS", "60000", 1);
        env_opts_t opts = {.workers = 2};
        env_t *env = env_start("lineid", &opts);
        env_worker_wait_log(env, 0, "assigned 2 partition(s)", 1, 30000);
        env_worker_wait_log(env, 1, "assigned 2 partition(s)", 1, 30000);
        env_watch(env, "host");
        env_watch(env, "guest");
        char users[ROUNDS][16], callers[ROUNDS][16];
        for (int i = 0; i < ROUNDS; i++) {
                snprintf(users[i], sizeof(users[i]), "u%d", i);
                snprintf(callers[i], sizeof(callers[i]), "c%d", i);
                env_watch(env, users[i]);
                env_watch(env, callers[i]);
        }

        /* the live group call: host and guest in it */
        env_send(env, cmd_invite("g-inv", "host", (const char *[]){"guest", NULL},
                                 "room-g", "grp-1", "video", 600),
                 "room-g", 0);
        TEST_INTEQ(reply_of(env, "host", "g-inv")->errcode, 0);
        env_send(env, cmd_action("g-acc", "guest", REQ(ACCEPT), "room-g"), "room-g", 0);
        TEST_INTEQ(reply_of(env, "guest", "g-acc")->errcode, 0);
        TEST_INTEQ(check_lines(env, "guest"), 1);

        /* every update waits a moment: the other worker looks meanwhile */
        env_admin_command(env,
                          "{\"configureFailPoint\": \"failCommand\", \"mode\": \"alwaysOn\","
                          " \"data\": {\"failCommands\": [\"update\"],"
                          " \"blockConnection\": true, \"blockTimeMS\": 400}}");
        int group_won = 0, direct_won = 0, by_a = 0;
        for (int i = 0; i < ROUNDS; i++) {
                char add[32], direct[32], room[32];
                snprintf(add, sizeof(add), "add-%d", i);
                snprintf(direct, sizeof(direct), "dir-%d", i);
                snprintf(room, sizeof(room), "room-d%d", i);
                cmd_t *a = cmd_invite(add, "host", (const char *[]){users[i], NULL},
                                      "room-g", "grp-1", "video", 600);
                cmd_t *b = cmd_invite(direct, callers[i], (const char *[]){users[i], NULL},
                                      room, NULL, "audio", 600);
                if (i % 2)
                        env_send_pair(env, a, "room-g", 0, b, room, 3);
                else
                        env_send_pair(env, b, room, 3, a, "room-g", 0);
                Callsig__V1__SignalReply *ra = reply_of(env, "host", add);
                Callsig__V1__SignalReply *rb = reply_of(env, callers[i], direct);
                TEST_ASSERT(ra->errcode == 0, "%s: %d %s", add, ra->errcode, ra->errmsg);
                TEST_ASSERT(rb->errcode == 0 || rb->errcode == 1006, "%s: %d %s", direct,
                            rb->errcode, rb->errmsg);
                bool in_group = ra->resp->inviteingroup->n_busylineuseridlist == 0;
                bool in_direct = rb->errcode == 0;
                TEST_ASSERT(in_group != in_direct,
                            "round %d: %s rings in the group call %d and 1:1 %d", i,
                            users[i], (int)in_group, (int)in_direct);
                group_won += in_group;
                direct_won += in_direct;
                by_a += env_worker_of(env, add) != env_worker_of(env, direct);
                TEST_ASSERT(check_lines(env, users[i]) <= 1, "%s double-booked", users[i]);
        }
        env_admin_command(env, "{\"configureFailPoint\": \"failCommand\", \"mode\": \"off\"}");
        TEST_SAY("group won %d, 1:1 won %d, %d rounds on two workers", group_won,
                 direct_won, by_a);
        TEST_ASSERT(by_a == ROUNDS, "every round ran on both workers");
        for (int i = 0; i < ROUNDS; i++)
                TEST_ASSERT(check_lines(env, users[i]) == 1, "%s in one call", users[i]);

        /* ---- a late release never frees a newer claim ---- */
        /* a user of its own, so the check does not depend on who won the
         * races above */
        const char *u = "late";
        env_watch(env, u);
        env_send(env, cmd_invite("late-add", "host", (const char *[]){u, NULL}, "room-g",
                                 "grp-1", "video", 600),
                 "room-g", 0);
        TEST_INTEQ(reply_of(env, "host", "late-add")->errcode, 0);
        TEST_INTEQ(env_count_docs(env, "lines",
                                  "{\"_id\": \"user:late\", \"roomID\": \"room-g\"}"),
                   1);
        env_send(env, cmd_action("u-rej", u, REQ(REJECT), "room-g"), "room-g", 0);
        TEST_INTEQ(reply_of(env, u, "u-rej")->errcode, 0);
        env_send(env, cmd_invite("re-add", "host", (const char *[]){u, NULL}, "room-g",
                                 "grp-1", "video", 600),
                 "room-g", 0);
        TEST_INTEQ(reply_of(env, "host", "re-add")->errcode, 0);
        TEST_INTEQ(check_lines(env, u), 1);
        /* the old reject again (a redelivery): answered, and the new claim
         * stays */
        env_send(env, cmd_action("u-rej", u, REQ(REJECT), "room-g"), "room-g", 0);
        TEST_INTEQ(reply_of(env, u, "u-rej")->errcode, 0);
        TEST_INTEQ(check_lines(env, u), 1);
        char filter[256];
        snprintf(filter, sizeof(filter), "{\"_id\": \"user:%s\"}", u);
        TEST_INTEQ(env_count_docs(env, "lines", filter), 1);

        /* ---- two workers refuse one pair at once ---- */
        env_watch(env, "mallory");
        env_admin_command(env,
                          "{\"configureFailPoint\": \"failCommand\", \"mode\": \"alwaysOn\","
                          " \"data\": {\"failCommands\": [\"insert\"],"
                          " \"blockConnection\": true, \"blockTimeMS\": 1000}}");
        env_send_pair(env, cmd_action("m-acc", "mallory", REQ(ACCEPT), "room-nowhere"),
                      "room-nowhere", 3,
                      cmd_action("m-acc", "mallory", REQ(ACCEPT), "room-g"), "room-g", 0);
        Callsig__V1__SignalReply *m1 = reply_of(env, "mallory", "m-acc");
        Callsig__V1__SignalReply *m2 = reply_of(env, "mallory", "m-acc");
        env_admin_command(env, "{\"configureFailPoint\": \"failCommand\", \"mode\": \"off\"}");
        TEST_ASSERT(m1->errcode == 1002 || m1->errcode == 1003, "m-acc: %d", m1->errcode);
        TEST_ASSERT(m1->errcode == m2->errcode,
                    "one pair answered %d and %d", m1->errcode, m2->errcode);
        TEST_STREQ(m1->errmsg, m2->errmsg);
        TEST_INTEQ(env_count_docs(env, "operations",
                                  "{\"sendID\": \"mallory\", \"operationID\": \"m-acc\"}"),
                   1);
        /* the race did happen: each worker handled one copy */
        TEST_ASSERT(env_worker_log_has(env, 0, "op=m-acc from=") &&
                            env_worker_log_has(env, 1, "op=m-acc from="),
                    "both workers handled m-acc");
        TEST_ASSERT(env_worker_log_has(env, 0, "op=m-acc from mallory: recorded meanwhile") ||
                            env_worker_log_has(env, 1, "op=m-acc from mallory: recorded meanwhile"),
                    "the loser of the ledger insert answered from the ledger");

        env_stop(env);
        return test_done();
}
