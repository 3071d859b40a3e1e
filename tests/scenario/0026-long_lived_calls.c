/*
 * 0026: calls that lived long or were touched by hand never become
 * unchangeable (contract section 7, behaviour.md "Record size").
 *
 * Proves that:
 *  - a group call whose invitee is invited and rejects again and again
 *    (300 events) keeps taking changes: the record holds the most recent
 *    64 events with eventsDropped counting the rest, stays small, and a
 *    hang-up still ends it and releases every line; the commands whose
 *    events were trimmed are in the ledger (written before the trim), so
 *    their redeliveries are still answered as applied and change nothing;
 *  - what a client can put into a record is bounded: customData over
 *    8 KiB is refused 1001; participant metadata over 1 KiB is not kept
 *    (the lookup lists that participant by userID);
 *  - a `rev` an operator rewrote as a double (mongosh's number type) still
 *    compares: the hang-up of that call applies;
 *  - the ring timer takes due calls in due order and isolates failures: a
 *    due call that cannot be changed (a hand-broken record that sorts
 *    first) is logged and skipped, and the timeouts of the other calls
 *    still fire on time.
 */
#include <mongoc/mongoc.h>
#include <string.h>
#include <time.h>

#include "harness.h"

TEST_MAIN_DEFS

#define REQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RESP(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x

/* Runs one update on the calls collection, as an operator would. */
static void update_call(env_t *env, const char *room, const char *update_json) {
        bson_error_t berr;
        mongoc_client_t *client = mongoc_client_new(env_mongo_uri(env));
        TEST_ASSERT(client, "mongoc_client_new");
        mongoc_collection_t *c =
                mongoc_client_get_collection(client, env_mongo_db(env), "calls");
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(room));
        bson_t *update = bson_new_from_json((const uint8_t *)update_json, -1, &berr);
        TEST_ASSERT(update, "update json: %s", berr.message);
        TEST_ASSERT(mongoc_collection_update_one(c, filter, update, NULL, NULL, &berr),
                    "update %s: %s", room, berr.message);
        bson_destroy(update);
        bson_destroy(filter);
        mongoc_collection_destroy(c);
        mongoc_client_destroy(client);
}

static void insert_call(env_t *env, bson_t *doc) {
        bson_error_t berr;
        mongoc_client_t *client = mongoc_client_new(env_mongo_uri(env));
        mongoc_collection_t *c =
                mongoc_client_get_collection(client, env_mongo_db(env), "calls");
        TEST_ASSERT(mongoc_collection_insert_one(c, doc, NULL, NULL, &berr),
                    "insert call: %s", berr.message);
        mongoc_collection_destroy(c);
        mongoc_client_destroy(client);
}

static int count_events(const bson_t *doc) {
        int i = 0;
        for (;; i++) {
                char path[32];
                snprintf(path, sizeof(path), "events.%d", i);
                if (!doc_has(doc, path))
                        return i;
        }
}

static void invite_group(env_t *env, const char *op, const char *sender,
                         const char *const *invitees, const char *room,
                         int32_t timeout) {
        env_send(env, cmd_invite(op, sender, invitees, room, "grp-long", "video",
                                 timeout),
                 NULL, -1);
        env_expect_code(env, sender, op, 0, RESP(INVITE_IN_GROUP));
}

int main(void) {
        env_t *env = env_start("longlived", NULL);
        const char *users[] = {"alice", "bob", "carol", "dave", "erin", "fred"};
        for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
                env_watch(env, users[i]);
        bson_t *doc;

        /* ---- bounded input ---- */
        char big[8 * 1024 + 2];
        memset(big, 'c', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        cmd_t *c = cmd_invite("big-cd", "alice", (const char *[]){"bob", NULL},
                              "room-big", NULL, "video", 30);
        cmd_msg(c)->req->invite->invitation->customdata = big;
        env_send(env, c, NULL, -1);
        env_expect_code(env, "alice", "big-cd", 1001, RESP(INVITE));
        TEST_ASSERT(env_call_doc(env, "room-big") == NULL, "no record");

        /* ---- a group call that lives long: 300 events ---- */
        invite_group(env, "g-inv", "alice", (const char *[]){"bob", "carol", NULL},
                     "room-long", 300);
        env_send(env, cmd_action("g-acc", "bob", REQ(ACCEPT), "room-long"), NULL, -1);
        env_expect_code(env, "bob", "g-acc", 0, RESP(ACCEPT));
        env_send(env, cmd_action("g-rej", "carol", REQ(REJECT), "room-long"), NULL, -1);
        env_expect_code(env, "carol", "g-rej", 0, RESP(REJECT));
        int64_t started = env_mono_ms();
        for (int i = 0; i < 149; i++) {
                char op[32];
                snprintf(op, sizeof(op), "again-%d", i);
                invite_group(env, op, "alice", (const char *[]){"dave", NULL},
                             "room-long", 300);
                snprintf(op, sizeof(op), "no-%d", i);
                env_send(env, cmd_action(op, "dave", REQ(REJECT), "room-long"), NULL, -1);
                env_expect_code(env, "dave", op, 0, RESP(REJECT));
        }
        TEST_SAY("298 changes in %lld ms", (long long)(env_mono_ms() - started));
        doc = env_wait_call(env, "room-long", "active", NULL);
        TEST_INTEQ(count_events(doc), 64);
        TEST_INTEQ(doc_int(doc, "eventsDropped"), 301 - 64);
        TEST_STREQ(doc_str(doc, "events.63.operationID"), "no-148");
        TEST_ASSERT(doc->len < 64 * 1024, "record of %u bytes", doc->len);
        TEST_SAY("record after 301 events: %u bytes", doc->len);
        bson_destroy(doc);
        /* the commands whose events were trimmed went to the ledger before
         * the trim, so their redeliveries are still answered as applied
         * (the reply only: the payload is gone) and change nothing */
        TEST_INTEQ(env_count_docs(env, "operations",
                                  "{\"sendID\": \"carol\", \"operationID\": \"g-rej\", "
                                  "\"applied\": true, \"roomID\": \"room-long\"}"),
                   1);
        env_send(env, cmd_action("g-rej", "carol", REQ(REJECT), "room-long"), NULL, -1);
        env_expect_code(env, "carol", "g-rej", 0, RESP(REJECT));
        env_send(env, cmd_action("g-acc", "bob", REQ(ACCEPT), "room-long"), NULL, -1);
        Callsig__V1__SignalReply *again = env_expect_code(env, "bob", "g-acc", 0, RESP(ACCEPT));
        TEST_STREQ(again->resp->accept->roomid, "room-long");
        TEST_ASSERT(again->resp->accept->token[0], "bob is still in the call: a token");
        doc = env_wait_call(env, "room-long", "active", NULL);
        TEST_INTEQ(doc_int(doc, "eventsDropped"), 301 - 64);
        TEST_STREQ(doc_str(doc, "events.63.operationID"), "no-148");
        bson_destroy(doc);
        TEST_SAY("trimmed operations answered from the ledger");
        /* terminal changes still apply */
        env_send(env, cmd_action("g-bye", "bob", REQ(HUNG_UP), "room-long"), NULL, -1);
        env_expect_code(env, "bob", "g-bye", 0, RESP(HUNG_UP));
        doc = env_wait_call(env, "room-long", "ended", "hung_up");
        TEST_STREQ(doc_str(doc, "events.63.operationID"), "g-bye");
        bson_destroy(doc);
        TEST_INTEQ(env_count_docs(env, "lines", "{}"), 0);

        /* ---- oversized participant metadata is not kept ---- */
        c = cmd_invite("meta-inv", "erin", (const char *[]){"fred", NULL},
                       "room-meta", NULL, "audio", 300);
        char nick[1100];
        memset(nick, 'n', sizeof(nick) - 1);
        nick[sizeof(nick) - 1] = '\0';
        cmd_set_nickname(c, nick);
        env_send(env, c, NULL, -1);
        env_expect_code(env, "erin", "meta-inv", 0, RESP(INVITE));
        doc = env_wait_call(env, "room-meta", "ringing", NULL);
        TEST_ASSERT(!doc_has(doc, "participants.0.meta"), "oversized meta kept");
        bson_destroy(doc);

        /* ---- rev as a double (mongosh) still compares ---- */
        update_call(env, "room-meta", "{\"$set\": {\"rev\": {\"$numberDouble\": \"1.0\"}}}");
        env_send(env, cmd_action("meta-can", "erin", REQ(CANCEL), "room-meta"), NULL, -1);
        env_expect_code(env, "erin", "meta-can", 0, RESP(CANCEL));
        bson_destroy(env_wait_call(env, "room-meta", "ended", "cancelled"));
        TEST_SAY("a double rev compares");

        /* ---- a broken due call does not stop the timer ---- */
        int64_t past = env_wall_ms() - 60000;
        bson_t *broken = BCON_NEW(
                "_id", BCON_UTF8("room-broken"), "state", BCON_UTF8("ringing"),
                "inviterUserID", BCON_UTF8("zed"), "groupID", BCON_UTF8(""),
                "mediaType", BCON_UTF8("audio"), "sessionType", BCON_INT32(1),
                "createdAt", BCON_DATE_TIME(past), "deadline", BCON_DATE_TIME(past),
                "nextRingAt", BCON_DATE_TIME(past),
                "participants", "[",
                "{", "userID", BCON_UTF8("zed"), "role", BCON_UTF8("inviter"),
                "state", BCON_UTF8("accepted"), "}",
                "{", "userID", BCON_UTF8("yan"), "role", BCON_UTF8("invitee"),
                "state", BCON_UTF8("ringing"), "ringUntil", BCON_DATE_TIME(past), "}",
                "]",
                /* no revision a conditional update can match */
                "rev", BCON_UTF8("not-a-number"), "events", "[", "]");
        insert_call(env, broken);
        bson_destroy(broken);
        for (int i = 0; i < 3; i++) {
                char op[32], room[32];
                snprintf(op, sizeof(op), "t-inv-%d", i);
                snprintf(room, sizeof(room), "room-t%d", i);
                env_send(env, cmd_invite(op, i == 0 ? "alice" : i == 1 ? "bob" : "carol",
                                         (const char *[]){i == 0 ? "dave" : i == 1 ? "erin" : "fred",
                                                          NULL},
                                         room, NULL, "audio", 1),
                         NULL, -1);
        }
        for (int i = 0; i < 3; i++) {
                char room[32];
                snprintf(room, sizeof(room), "room-t%d", i);
                bson_destroy(env_wait_call(env, room, "ended", "timeout"));
        }
        env_worker_wait_log(env, 0, "room-broken: cannot fire its timeout", 1, 10000);
        doc = env_call_doc(env, "room-broken");
        TEST_STREQ(doc_str(doc, "state"), "ringing");
        bson_destroy(doc);
        TEST_SAY("timeouts fire past a broken record");

        env_stop(env);
        return test_done();
}
