/*
 * 0060: the operators' CLI, `callsig history` and `callsig stats` (contract
 * section 10), run as the real binary against call records that real
 * commands wrote.
 *
 * Plays five calls of alice: answered then hung up (room-a), rejected
 * (room-b), timed out (room-c), a group call in which one invitee rejects
 * and the others talk (room-g), and one still ringing (room-l). room-a is
 * then given what the webhook side adds (participants[].inRoom,
 * joinedRoomAt, leftRoomAt) and eventsDropped 5.
 *
 * Proves:
 *   - history --user: newest first, with direction, peers, group, media,
 *     result (endReason or live), the user's own state, ring and talk time;
 *     --limit and --since bound it; a peer sees only the calls they were in;
 *     the table shows the same rows;
 *   - history --room: the signalling events in order, with the room join
 *     and leave merged by time, and the dropped events said in both forms;
 *     an unknown room exits 1;
 *   - stats: calls by result (live included), answer rate, median time to
 *     answer, talk time p50/p90/p99, in JSON and in the table;
 *   - exit 2 with a message for: no --user/--room, both, an unknown flag, a
 *     bad duration (7x), a bad --limit, stats with --user, a missing value;
 *     exit 1 with a message when MongoDB cannot be reached.
 */
#include "harness.h"

#include <fcntl.h>
#include <jansson.h>
#include <mongoc/mongoc.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TEST_MAIN_DEFS

extern char **environ;

typedef struct run_s {
        int rc;
        char *out;
        char *err;
} run_t;

static env_t *env;

/* The output a run wrote (the file must exist: the run made it). */
static char *slurp(const char *path) {
        TEST_ASSERT(access(path, F_OK) == 0, "open %s", path);
        return env_read_file(path);
}

/* Runs callsig with --config <the environment's file> and @p args
 * (NULL-terminated), plus the "NAME=value" @p extra_env (may be NULL). */
static run_t run(const char *const *args, const char *extra_env) {
        const char *bin = getenv("CALLSIG_TEST_BIN");
        char conf[400], out_path[400], err_path[400], envbuf[400];
        char *argv[32];
        int argc = 0;
        snprintf(conf, sizeof(conf), "%s/callsig.yaml", env_dir(env));
        snprintf(out_path, sizeof(out_path), "%s/cli.out", env_dir(env));
        snprintf(err_path, sizeof(err_path), "%s/cli.err", env_dir(env));
        /* execv() takes char *const[]: give it copies. */
        argv[argc++] = strdup("callsig");
        for (; *args && argc < 28; args++)
                argv[argc++] = strdup(*args);
        argv[argc++] = strdup("--config");
        argv[argc++] = strdup(conf);
        argv[argc] = NULL;
        pid_t pid = fork();
        TEST_ASSERT(pid >= 0, "fork");
        if (pid == 0) {
                int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                dup2(o, 1);
                dup2(e, 2);
                if (extra_env) {
                        snprintf(envbuf, sizeof(envbuf), "%s", extra_env);
                        putenv(envbuf);
                }
                execv(bin, argv);
                _exit(127);
        }
        int status;
        int64_t deadline = (int64_t)time(NULL) + env_ms(30000) / 1000 + 1;
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid)
                        break;
                TEST_ASSERT((int64_t)time(NULL) < deadline, "callsig %s hangs", argv[1]);
                usleep(20000);
        }
        for (int i = 0; i < argc; i++)
                free(argv[i]);
        run_t r = {.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128,
                   .out = slurp(out_path), .err = slurp(err_path)};
        return r;
}

static void run_free(run_t *r) {
        free(r->out);
        free(r->err);
}

static json_t *run_json(const char *const *args) {
        run_t r = run(args, NULL);
        TEST_ASSERT(r.rc == 0, "%s exit %d: %s", args[0], r.rc, r.err);
        json_error_t jerr;
        json_t *doc = json_loads(r.out, 0, &jerr);
        TEST_ASSERT(doc, "not JSON (%s):\n%s", jerr.text, r.out);
        run_free(&r);
        return doc;
}

static void expect_exit(const char *const *args, const char *extra_env, int rc,
                        const char *needle) {
        run_t r = run(args, extra_env);
        TEST_ASSERT(r.rc == rc, "%s %s: exit %d, want %d; stderr: %s", args[0],
                    args[1] ? args[1] : "", r.rc, rc, r.err);
        TEST_ASSERT(strstr(r.err, needle), "stderr lacks '%s': %s", needle, r.err);
        run_free(&r);
}

static const char *jget_str(json_t *o, const char *k) {
        const char *s = json_string_value(json_object_get(o, k));
        return s ? s : "(null)";
}

/* Counts the lines of @p text containing @p needle. */
static int lines_with(const char *text, const char *needle) {
        int n = 0;
        for (const char *p = text; p && *p;) {
                const char *nl = strchr(p, '\n');
                size_t len = nl ? (size_t)(nl - p) : strlen(p);
                char line[1024];
                snprintf(line, sizeof(line), "%.*s", (int)(len < 1023 ? len : 1023), p);
                n += strstr(line, needle) != NULL;
                p = nl ? nl + 1 : NULL;
        }
        return n;
}

static void send_ok(cmd_t *c, const char *user, const char *op) {
        env_send(env, c, NULL, -1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, user, op))->errcode, 0);
}

static void play_calls(void) {
        const int ACC = OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT;
        const int REJ = OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT;
        const int HUP = OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP;

        /* answered, talked for at least 300 ms, hung up */
        send_ok(cmd_invite("a-inv", "alice", (const char *[]){"bob", NULL}, "room-a",
                           NULL, "video", 0), "alice", "a-inv");
        usleep((useconds_t)env_ms(200) * 1000);
        send_ok(cmd_action("a-acc", "bob", ACC, "room-a"), "bob", "a-acc");
        usleep(300 * 1000);
        send_ok(cmd_action("a-hup", "alice", HUP, "room-a"), "alice", "a-hup");
        bson_destroy(env_wait_call(env, "room-a", "ended", "hung_up"));
        usleep(20 * 1000);

        /* rejected */
        send_ok(cmd_invite("b-inv", "alice", (const char *[]){"carol", NULL}, "room-b",
                           NULL, "audio", 0), "alice", "b-inv");
        send_ok(cmd_action("b-rej", "carol", REJ, "room-b"), "carol", "b-rej");
        bson_destroy(env_wait_call(env, "room-b", "ended", "rejected"));
        usleep(20 * 1000);

        /* nobody answers: the ring timer ends it after 1 s */
        send_ok(cmd_invite("c-inv", "alice", (const char *[]){"dave", NULL}, "room-c",
                           NULL, "audio", 1), "alice", "c-inv");
        bson_destroy(env_wait_call(env, "room-c", "ended", "timeout"));
        usleep(20 * 1000);

        /* a group call: erin rejects, bob and carol talk, then it ends */
        send_ok(cmd_invite("g-inv", "alice", (const char *[]){"bob", "carol", "erin", NULL},
                           "room-g", "g1", "video", 0), "alice", "g-inv");
        send_ok(cmd_action("g-acc-b", "bob", ACC, "room-g"), "bob", "g-acc-b");
        send_ok(cmd_action("g-acc-c", "carol", ACC, "room-g"), "carol", "g-acc-c");
        send_ok(cmd_action("g-rej-e", "erin", REJ, "room-g"), "erin", "g-rej-e");
        send_ok(cmd_action("g-hup-c", "carol", HUP, "room-g"), "carol", "g-hup-c");
        send_ok(cmd_action("g-hup-a", "alice", HUP, "room-g"), "alice", "g-hup-a");
        bson_destroy(env_wait_call(env, "room-g", "ended", "hung_up"));
        usleep(20 * 1000);

        /* still ringing */
        send_ok(cmd_invite("l-inv", "alice", (const char *[]){"frank", NULL}, "room-l",
                           NULL, "audio", 300), "alice", "l-inv");
        bson_destroy(env_wait_call(env, "room-l", "ringing", NULL));
}

/* What the webhook side writes, and a record that lost old events. */
static void add_room_fields(void) {
        bson_t *doc = env_call_doc(env, "room-a");
        int64_t accepted = doc_int(doc, "acceptedAt");
        int64_t ended = doc_int(doc, "endedAt");
        bson_destroy(doc);
        mongoc_client_t *client = mongoc_client_new(env_mongo_uri(env));
        mongoc_collection_t *coll = mongoc_client_get_collection(client, env_mongo_db(env), "calls");
        bson_t *filter = BCON_NEW("_id", "room-a");
        bson_t *update = BCON_NEW("$set", "{",
                                  "participants.1.inRoom", BCON_BOOL(false),
                                  "participants.1.joinedRoomAt", BCON_DATE_TIME(accepted + 50),
                                  "participants.1.leftRoomAt", BCON_DATE_TIME(ended + 10),
                                  "eventsDropped", BCON_INT64(5), "}");
        bson_error_t error;
        TEST_ASSERT(mongoc_collection_update_one(coll, filter, update, NULL, NULL, &error),
                    "update: %s", error.message);
        bson_destroy(filter);
        bson_destroy(update);
        mongoc_collection_destroy(coll);
        mongoc_client_destroy(client);
}

static void check_history_user(void) {
        json_t *doc = run_json((const char *[]){"history", "--user", "alice", "--json", NULL});
        json_t *calls = json_object_get(doc, "calls");
        TEST_INTEQ(json_array_size(calls), 5);
        const char *rooms[] = {"room-l", "room-g", "room-c", "room-b", "room-a"};
        const char *results[] = {"live", "hung_up", "timeout", "rejected", "hung_up"};
        const char *user_states[] = {"accepted", "left", "left", "left", "left"};
        for (size_t i = 0; i < 5; i++) {
                json_t *c = json_array_get(calls, i);
                TEST_STREQ(jget_str(c, "roomID"), rooms[i]);
                TEST_STREQ(jget_str(c, "result"), results[i]);
                TEST_STREQ(jget_str(c, "direction"), "out");
                TEST_STREQ(jget_str(c, "userState"), user_states[i]);
                TEST_ASSERT(json_is_string(json_object_get(c, "createdAt")), "createdAt");
                TEST_ASSERT(json_is_real(json_object_get(c, "ringSeconds")), "ring %zu", i);
        }
        json_t *a = json_array_get(calls, 4);
        TEST_STREQ(json_string_value(json_array_get(json_object_get(a, "peers"), 0)), "bob");
        TEST_STREQ(jget_str(a, "mediaType"), "video");
        TEST_ASSERT(json_real_value(json_object_get(a, "talkSeconds")) >= 0.29,
                    "talk time %f", json_real_value(json_object_get(a, "talkSeconds")));
        TEST_ASSERT(json_real_value(json_object_get(a, "ringSeconds")) >= 0.19, "ring time");
        TEST_ASSERT(json_is_null(json_object_get(a, "groupID")), "1:1 has no group");
        json_t *g = json_array_get(calls, 1);
        TEST_STREQ(jget_str(g, "groupID"), "g1");
        TEST_INTEQ(json_array_size(json_object_get(g, "peers")), 3);
        TEST_ASSERT(json_is_real(json_object_get(g, "talkSeconds")), "group talk");
        for (size_t i = 2; i < 4; i++) /* never answered */
                TEST_ASSERT(json_is_null(json_object_get(json_array_get(calls, i), "talkSeconds")),
                            "unanswered call has no talk time");
        TEST_STREQ(jget_str(json_array_get(calls, 2), "mediaType"), "audio");
        json_decref(doc);

        doc = run_json((const char *[]){"history", "--user", "alice", "--limit", "2", "--json", NULL});
        calls = json_object_get(doc, "calls");
        TEST_INTEQ(json_array_size(calls), 2);
        TEST_STREQ(jget_str(json_array_get(calls, 0), "roomID"), "room-l");
        TEST_STREQ(jget_str(json_array_get(calls, 1), "roomID"), "room-g");
        json_decref(doc);
        doc = run_json((const char *[]){"history", "--user", "alice", "--since", "1h", "--json", NULL});
        TEST_INTEQ(json_array_size(json_object_get(doc, "calls")), 5);
        TEST_ASSERT(json_is_string(json_object_get(doc, "since")), "since");
        json_decref(doc);

        /* bob was in room-a and room-g only; he was invited: "in" */
        doc = run_json((const char *[]){"history", "--user", "bob", "--json", NULL});
        calls = json_object_get(doc, "calls");
        TEST_INTEQ(json_array_size(calls), 2);
        TEST_STREQ(jget_str(json_array_get(calls, 0), "roomID"), "room-g");
        TEST_STREQ(jget_str(json_array_get(calls, 0), "direction"), "in");
        TEST_STREQ(jget_str(json_array_get(calls, 1), "roomID"), "room-a");
        json_decref(doc);

        run_t r = run((const char *[]){"history", "--user", "alice", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        TEST_SAY("history --user alice:\n%s", r.out);
        TEST_INTEQ(lines_with(r.out, "TIME (UTC)"), 1);
        TEST_INTEQ(lines_with(r.out, "room-"), 5);
        TEST_INTEQ(lines_with(r.out, " out "), 5);
        TEST_INTEQ(lines_with(r.out, " timeout "), 1);
        TEST_INTEQ(lines_with(r.out, " rejected "), 1);
        TEST_INTEQ(lines_with(r.out, " live "), 1);
        TEST_INTEQ(lines_with(r.out, "[g1] bob,carol,erin"), 1);
        TEST_ASSERT(strstr(r.out, "5 call(s)"), "count line");
        run_free(&r);
}

static void check_history_room(void) {
        json_t *doc = run_json((const char *[]){"history", "--room", "room-a", "--json", NULL});
        TEST_STREQ(jget_str(doc, "state"), "ended");
        TEST_STREQ(jget_str(doc, "endReason"), "hung_up");
        TEST_INTEQ(json_integer_value(json_object_get(doc, "eventsDropped")), 5);
        TEST_INTEQ(json_integer_value(json_object_get(doc, "eventsKept")), 3);
        json_t *tl = json_object_get(doc, "timeline");
        const char *types[] = {"invite", "accept", "room_joined", "hung_up", "room_left"};
        const char *users[] = {"alice", "bob", "bob", "alice", "bob"};
        TEST_INTEQ(json_array_size(tl), 5);
        for (size_t i = 0; i < 5; i++) {
                json_t *e = json_array_get(tl, i);
                TEST_STREQ(jget_str(e, "type"), types[i]);
                TEST_STREQ(jget_str(e, "userID"), users[i]);
                TEST_STREQ(jget_str(e, "source"), i == 2 || i == 4 ? "room" : "signal");
        }
        TEST_STREQ(jget_str(json_array_get(tl, 0), "operationID"), "a-inv");
        json_t *bob = json_array_get(json_object_get(doc, "participants"), 1);
        TEST_STREQ(jget_str(bob, "userID"), "bob");
        TEST_ASSERT(json_is_false(json_object_get(bob, "inRoom")), "inRoom false");
        json_decref(doc);

        run_t r = run((const char *[]){"history", "--room", "room-a", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        TEST_SAY("history --room room-a:\n%s", r.out);
        TEST_ASSERT(strstr(r.out, "note: 5 earlier event(s) were dropped"), "dropped note");
        TEST_INTEQ(lines_with(r.out, " room_joined "), 1);
        TEST_INTEQ(lines_with(r.out, " signal "), 3);
        TEST_ASSERT(strstr(r.out, "ended (hung_up)"), "state line");
        run_free(&r);

        /* a group call: every event in order, nothing dropped */
        doc = run_json((const char *[]){"history", "--room", "room-g", "--json", NULL});
        TEST_INTEQ(json_integer_value(json_object_get(doc, "eventsDropped")), 0);
        tl = json_object_get(doc, "timeline");
        const char *gtypes[] = {"invite", "accept", "accept", "reject", "hung_up", "hung_up"};
        TEST_INTEQ(json_array_size(tl), 6);
        for (size_t i = 0; i < 6; i++)
                TEST_STREQ(jget_str(json_array_get(tl, i), "type"), gtypes[i]);
        json_decref(doc);
        r = run((const char *[]){"history", "--room", "room-g", NULL}, NULL);
        TEST_ASSERT(!strstr(r.out, "dropped:"), "no drop note");
        run_free(&r);

        expect_exit((const char *[]){"history", "--room", "no-such-room", NULL}, NULL, 1,
                    "no call record with roomID 'no-such-room'");
}

static void check_stats(void) {
        json_t *doc = run_json((const char *[]){"stats", "--json", NULL});
        TEST_INTEQ(json_integer_value(json_object_get(doc, "calls")), 5);
        json_t *by = json_object_get(doc, "byResult");
        TEST_INTEQ(json_integer_value(json_object_get(by, "hung_up")), 2);
        TEST_INTEQ(json_integer_value(json_object_get(by, "rejected")), 1);
        TEST_INTEQ(json_integer_value(json_object_get(by, "timeout")), 1);
        TEST_INTEQ(json_integer_value(json_object_get(by, "live")), 1);
        TEST_INTEQ(json_object_size(by), 4);
        TEST_INTEQ(json_integer_value(json_object_get(doc, "answered")), 2);
        TEST_INTEQ(json_integer_value(json_object_get(doc, "decided")), 4);
        TEST_ASSERT(json_real_value(json_object_get(doc, "answerRate")) == 0.5, "answer rate");
        TEST_ASSERT(json_is_false(json_object_get(doc, "truncated")), "not truncated");
        TEST_ASSERT(json_real_value(json_object_get(doc, "timeToAnswerMedianSeconds")) > 0,
                    "time to answer");
        json_t *tt = json_object_get(doc, "talkTimeSeconds");
        TEST_INTEQ(json_integer_value(json_object_get(tt, "count")), 2);
        double p50 = json_real_value(json_object_get(tt, "p50"));
        double p90 = json_real_value(json_object_get(tt, "p90"));
        double p99 = json_real_value(json_object_get(tt, "p99"));
        TEST_ASSERT(p50 > 0 && p50 <= p90 && p90 <= p99, "percentiles %f %f %f", p50, p90, p99);
        json_decref(doc);

        run_t r = run((const char *[]){"stats", "--since", "1h", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        TEST_SAY("stats:\n%s", r.out);
        TEST_ASSERT(strstr(r.out, ": 5\n"), "total");
        TEST_INTEQ(lines_with(r.out, "hung_up                2"), 1);
        TEST_INTEQ(lines_with(r.out, "live                   1"), 1);
        TEST_ASSERT(strstr(r.out, "answer rate     50.0% (2 answered of 4"), "rate line");
        TEST_INTEQ(lines_with(r.out, "talk time       p50 "), 1);
        run_free(&r);

        /* A window before any call: nothing. */
        doc = run_json((const char *[]){"stats", "--since", "1s", "--json", NULL});
        (void)doc;
        json_decref(doc);
}

static void check_bad_args(void) {
        expect_exit((const char *[]){"history", NULL}, NULL, 2, "history needs --user ID or --room ID");
        expect_exit((const char *[]){"history", "--user", "a", "--room", "r", NULL}, NULL, 2,
                    "not both");
        expect_exit((const char *[]){"history", "--user", "alice", "--since", "7x", NULL}, NULL, 2,
                    "--since: bad duration '7x'");
        expect_exit((const char *[]){"stats", "--since", "0d", NULL}, NULL, 2, "bad duration '0d'");
        expect_exit((const char *[]){"history", "--user", "alice", "--frobnicate", NULL}, NULL, 2,
                    "unknown option '--frobnicate'");
        expect_exit((const char *[]){"history", "--user", "alice", "--limit", "0", NULL}, NULL, 2,
                    "--limit: '0' is not a number from 1 to 1000");
        expect_exit((const char *[]){"history", "--room", "r", "--limit", "3", NULL}, NULL, 2,
                    "--since and --limit go with --user");
        expect_exit((const char *[]){"stats", "--user", "alice", NULL}, NULL, 2,
                    "stats takes --since and --json only");
        expect_exit((const char *[]){"history", "--user", NULL}, NULL, 2, "--user needs a value");
        expect_exit((const char *[]){"stats", NULL},
                    "CALLSIG_MONGODB_URI=mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300",
                    1, "cannot reach MongoDB at 127.0.0.1:1");
        run_t r = run((const char *[]){"stats", "--help", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        TEST_ASSERT(strstr(r.out, "usage: callsig history"), "help");
        run_free(&r);
}

int main(void) {
        env = env_start("historycli", NULL);
        const char *users[] = {"alice", "bob", "carol", "dave", "erin", "frank"};
        for (size_t i = 0; i < 6; i++)
                env_watch(env, users[i]);
        play_calls();
        add_room_fields();
        check_history_user();
        check_history_room();
        check_stats();
        check_bad_args();
        env_stop(env);
        return test_done();
}
