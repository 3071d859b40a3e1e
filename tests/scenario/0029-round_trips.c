/*
 * 0029: MongoDB round trips per command (issue 8), counted, not timed.
 *
 * One idle worker whose ring timer looks once a minute (so its find stays
 * out of the counts); callsig_mongodb_commands_total (libmongoc's APM:
 * every command the driver sends) is read from /metrics before and after
 * each command. Proves that:
 *  - a 1:1 invite takes at most 3 (ledger lookup, one insertMany of every
 *    line claim, the call's insert), with a generated roomID and with a
 *    roomID the client chose; accept at most 2 (the call, its conditional
 *    update), reject and hang-up at most 3 (the same plus one deleteMany
 *    of the lines they release);
 *  - the record answers for the operations applied to it: a redelivered
 *    accept costs 1 (the call) and is answered identically (reply fields,
 *    notifications byte-identical), and the ledger holds nothing for it;
 *  - a refusal of a command that named an existing call (a stranger's
 *    accept, 1002) is kept in the record as well as the ledger: its
 *    redelivery costs 1 and is refused identically;
 *  - a user whose call ended is invitable again at once, and a user in a
 *    live call is still busy (1006 with the busy list); also when the
 *    release of the ended call's line never came (a claim the call records
 *    is taken over at once), while a claim no call records yet is still
 *    respected (busy).
 */
#include <mongoc/mongoc.h>
#include <string.h>

#include "harness.h"

TEST_MAIN_DEFS

#define REQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RESP(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x

static int64_t commands(env_t *env) {
        int64_t v = env_metric(env, 0, "callsig_mongodb_commands_total");
        TEST_ASSERT(v >= 0, "no callsig_mongodb_commands_total in /metrics");
        return v;
}

/* Sends @p c and waits for the reply of (@p sender, @p op) with @p code;
 * @returns the MongoDB commands it took. */
static int64_t counted(env_t *env, cmd_t *c, const char *sender, const char *op,
                       int code, int resp_case, Callsig__V1__SignalReply **rp) {
        int64_t before = commands(env);
        env_send(env, c, NULL, -1);
        Callsig__V1__SignalReply *r = env_expect_code(env, sender, op, code, resp_case);
        if (rp)
                *rp = r;
        return commands(env) - before;
}

/* Writes a `lines` document as a claim would (a release that did not
 * happen, or a claim whose call is not written yet). */
static void put_line(env_t *env, const char *id, const char *room,
                     const char *claim) {
        bson_error_t berr;
        mongoc_client_t *client = mongoc_client_new(env_mongo_uri(env));
        mongoc_collection_t *lines =
                mongoc_client_get_collection(client, env_mongo_db(env), "lines");
        bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "roomID", BCON_UTF8(room),
                               "claim", BCON_UTF8(claim), "at",
                               BCON_DATE_TIME(env_wall_ms()));
        TEST_ASSERT(mongoc_collection_insert_one(lines, doc, NULL, NULL, &berr),
                    "insert line: %s", berr.message);
        bson_destroy(doc);
        mongoc_collection_destroy(lines);
        mongoc_client_destroy(client);
}

/* A copy of a notification's value (the harness's log of seen messages
 * moves as it grows). */
typedef struct bytes_s {
        uint8_t *v;
        size_t len;
} bytes_t;

static bytes_t copy_of(const seen_t *s) {
        bytes_t b = {malloc(s->len + 1), s->len};
        TEST_ASSERT(b.v, "alloc");
        memcpy(b.v, s->value, s->len);
        return b;
}

static void same_bytes(bytes_t *a, const seen_t *b) {
        TEST_ASSERT(a->len == b->len && !memcmp(a->v, b->value, a->len),
                    "redelivered notification to %s is not byte-identical", b->key);
        free(a->v);
}

int main(void) {
        setenv("CALLSIG_SIGNAL_TIMER_INTERVAL_MS", "60000", 1);
        env_t *env = env_start("roundtrips", NULL);
        const char *users[] = {"alice", "bob", "carol", "dave", "mallory"};
        for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
                env_watch(env, users[i]);
        Callsig__V1__SignalReply *r, *r2;
        int64_t n;

        /* an idle worker sends nothing meanwhile */
        int64_t idle = commands(env);
        env_expect_quiet(env, "alice", 500);
        TEST_INTEQ(commands(env) - idle, 0);

        /* ---- invite (generated roomID), accept, hang-up ---- */
        n = counted(env, cmd_invite("rt-inv", "alice", (const char *[]){"bob", NULL},
                                    NULL, NULL, "video", 60),
                    "alice", "rt-inv", 0, RESP(INVITE), &r);
        TEST_SAY("invite: %lld MongoDB commands", (long long)n);
        TEST_ASSERT(n <= 3, "invite took %lld MongoDB commands", (long long)n);
        char room[64];
        snprintf(room, sizeof(room), "%s", r->resp->invite->roomid);
        env_expect_note(env, "bob", "rt-inv");
        env_expect_note(env, "alice", "rt-inv");

        n = counted(env, cmd_action("rt-acc", "bob", REQ(ACCEPT), room), "bob",
                    "rt-acc", 0, RESP(ACCEPT), &r);
        TEST_SAY("accept: %lld MongoDB commands", (long long)n);
        TEST_ASSERT(n <= 2, "accept took %lld MongoDB commands", (long long)n);
        TEST_ASSERT(r->resp->accept->token[0], "accept token");
        bytes_t acc_alice = copy_of(env_expect_note(env, "alice", "rt-acc"));
        bytes_t acc_bob = copy_of(env_expect_note(env, "bob", "rt-acc"));

        /* the accept again: answered from the record, one find */
        n = counted(env, cmd_action("rt-acc", "bob", REQ(ACCEPT), room), "bob",
                    "rt-acc", 0, RESP(ACCEPT), &r2);
        TEST_SAY("accept redelivered: %lld MongoDB commands", (long long)n);
        TEST_INTEQ(n, 1);
        TEST_STREQ(r2->resp->accept->roomid, r->resp->accept->roomid);
        TEST_STREQ(r2->resp->accept->liveurl, r->resp->accept->liveurl);
        TEST_STREQ(r2->errmsg, r->errmsg);
        TEST_ASSERT(r2->resp->accept->token[0], "redelivered accept token");
        same_bytes(&acc_alice, env_expect_note(env, "alice", "rt-acc"));
        same_bytes(&acc_bob, env_expect_note(env, "bob", "rt-acc"));
        env_expect_quiet(env, "alice", 300);
        TEST_INTEQ(env_count_docs(env, "operations", "{\"sendID\": \"bob\"}"), 0);

        /* a stranger's accept: refused (the ledger, then the record); again:
         * one find */
        n = counted(env, cmd_action("rt-str", "mallory", REQ(ACCEPT), room),
                    "mallory", "rt-str", 1002, RESP(ACCEPT), &r);
        TEST_SAY("refused accept: %lld MongoDB commands", (long long)n);
        TEST_ASSERT(n <= 3, "refused accept took %lld MongoDB commands", (long long)n);
        n = counted(env, cmd_action("rt-str", "mallory", REQ(ACCEPT), room),
                    "mallory", "rt-str", 1002, RESP(ACCEPT), &r2);
        TEST_SAY("refused accept redelivered: %lld MongoDB commands", (long long)n);
        TEST_INTEQ(n, 1);
        TEST_STREQ(r2->errmsg, r->errmsg);
        TEST_STREQ(r2->resp->accept->token, "");
        TEST_INTEQ(env_count_docs(env, "calls",
                                  "{\"refusals\": {\"$elemMatch\": {\"userID\": \"mallory\","
                                  " \"operationID\": \"rt-str\", \"errCode\": 1002}}}"),
                   1);
        env_expect_quiet(env, "alice", 300);
        env_expect_quiet(env, "bob", 0);

        /* carol is busy while bob is in the call */
        n = counted(env, cmd_invite("rt-busy", "carol", (const char *[]){"bob", NULL},
                                    NULL, NULL, "audio", 60),
                    "carol", "rt-busy", 1006, RESP(INVITE), &r);
        TEST_SAY("invite of a busy user: %lld MongoDB commands", (long long)n);
        TEST_INTEQ(r->resp->invite->n_busylineuseridlist, 1);
        TEST_STREQ(r->resp->invite->busylineuseridlist[0], "bob");
        env_expect_quiet(env, "bob", 300);

        n = counted(env, cmd_action("rt-hup", "alice", REQ(HUNG_UP), room), "alice",
                    "rt-hup", 0, RESP(HUNG_UP), NULL);
        TEST_SAY("hang-up: %lld MongoDB commands", (long long)n);
        TEST_ASSERT(n <= 3, "hang-up took %lld MongoDB commands", (long long)n);
        env_expect_note(env, "bob", "rt-hup");
        env_expect_note(env, "alice", "rt-hup");
        bson_destroy(env_wait_call(env, room, "ended", "hung_up"));
        TEST_INTEQ(env_count_docs(env, "lines", "{}"), 0);

        /* ---- bob at once again: a client-chosen roomID, then reject ---- */
        n = counted(env, cmd_invite("rt-inv2", "dave", (const char *[]){"bob", NULL},
                                    "rt-room-2", NULL, "audio", 60),
                    "dave", "rt-inv2", 0, RESP(INVITE), &r);
        TEST_SAY("invite (client roomID): %lld MongoDB commands", (long long)n);
        TEST_ASSERT(n <= 3, "invite took %lld MongoDB commands", (long long)n);
        TEST_INTEQ(r->resp->invite->n_busylineuseridlist, 0);
        env_expect_note(env, "bob", "rt-inv2");
        env_expect_note(env, "dave", "rt-inv2");
        n = counted(env, cmd_action("rt-rej", "bob", REQ(REJECT), "rt-room-2"), "bob",
                    "rt-rej", 0, RESP(REJECT), NULL);
        TEST_SAY("reject: %lld MongoDB commands", (long long)n);
        TEST_ASSERT(n <= 3, "reject took %lld MongoDB commands", (long long)n);
        env_expect_note(env, "dave", "rt-rej");
        env_expect_note(env, "bob", "rt-rej");
        bson_destroy(env_wait_call(env, "rt-room-2", "ended", "rejected"));
        TEST_INTEQ(env_count_docs(env, "lines", "{}"), 0);
        /* ---- a release that never came ---- */
        /* bob's line put back as the ended call recorded it: taken over at
         * once (the call records the claim, so nobody is about to write
         * it); a claim no call records yet is respected (its maker may be
         * about to write the call) */
        bson_t *rec = env_call_doc(env, "rt-room-2");
        TEST_STREQ(doc_str(rec, "participants.1.userID"), "bob");
        char claim[64];
        snprintf(claim, sizeof(claim), "%s", doc_str(rec, "participants.1.lineClaim"));
        TEST_ASSERT(claim[0], "bob's claim is recorded");
        bson_destroy(rec);
        put_line(env, "user:bob", "rt-room-2", claim);
        put_line(env, "user:carol", "rt-room-unwritten", "c-not-recorded");
        n = counted(env, cmd_invite("rt-inv3", "alice", (const char *[]){"bob", NULL},
                                    NULL, NULL, "audio", 60),
                    "alice", "rt-inv3", 0, RESP(INVITE), &r);
        TEST_SAY("invite over a missed release: %lld MongoDB commands", (long long)n);
        TEST_INTEQ(r->resp->invite->n_busylineuseridlist, 0);
        env_expect_note(env, "bob", "rt-inv3");
        env_expect_note(env, "alice", "rt-inv3");
        counted(env, cmd_invite("rt-inv4", "mallory", (const char *[]){"carol", NULL},
                                NULL, NULL, "audio", 60),
                "mallory", "rt-inv4", 1006, RESP(INVITE), &r);
        TEST_STREQ(r->resp->invite->busylineuseridlist[0], "carol");
        env_expect_quiet(env, "carol", 300);

        /* nothing applied went to the ledger */
        TEST_INTEQ(env_count_docs(env, "operations", "{\"applied\": true}"), 0);

        env_verify_tokens(env);
        env_stop(env);
        return test_done();
}
