/*
 * 0040: callsig's tokens admit exactly the right people into a real
 * LiveKit room.
 *
 * A real livekit-server (v1.13.5, built by scripts/livekit-server.sh, on
 * loopback with the harness's key and secret) is started first; the workers'
 * livekit.url is its URL. Calls are placed through callsig over Kafka as in
 * the other scenarios, then tests/js/lk-join.mjs (@livekit/rtc-node) joins
 * with the tokens from the replies:
 *   - 1:1 (invite, accept): alice and bob join, each sees the other, a
 *     reliable data packet crosses both ways, the liveURL given is the
 *     server's, the display name comes from the nickname;
 *   - group (inviteInGroup, two accepts, one reject): the inviter and the
 *     accepted members join and see each other; a member who got a token
 *     through getTokenByRoomID joins too and everyone sees them; the member
 *     who rejected gets no token (1002);
 *   - carol's token of another call opens that call's room only: she is
 *     neither seen by nor heard in the 1:1 room;
 *   - an expired token (callsig's minter, an hour in the past) and a token
 *     signed with another secret are refused by the server.
 *
 * Skips (exit 77) when the server is not built, unless
 * CALLSIG_TEST_REQUIRE_LIVEKIT is set (scripts/test.sh sets it).
 */
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "token.h"

TEST_MAIN_DEFS

#define RQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RS(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x
#define GROUP "grp-lk"

static char lk_dir[256];
static char lk_url[256];

static char *slurp(const char *path) {
        FILE *fp = fopen(path, "rb");
        if (!fp)
                return strdup("");
        static char buf[1 << 16];
        size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
        return strdup(buf);
}

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The server binary, or NULL when it is not built. */
static const char *server_bin(void) {
        static char path[1024];
        const char *env = getenv("CALLSIG_LIVEKIT_BIN");
        if (env && *env)
                snprintf(path, sizeof(path), "%s", env);
        else
                snprintf(path, sizeof(path), "%s",
                         env_source_path(".cache/livekit-1.13.5/server"));
        return access(path, X_OK) == 0 ? path : NULL;
}

static void livekit_start(void) {
        snprintf(lk_dir, sizeof(lk_dir), "/tmp/callsig-livekit-XXXXXX");
        TEST_ASSERT(mkdtemp(lk_dir), "mkdtemp: %s", strerror(errno));
        char pid[32], cmd[2048];
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("LIVEKIT_OWNER_PID", pid, 1); /* no server outlives the test */
        snprintf(cmd, sizeof(cmd), "'%s' start '%s' '%s' '%s' >'%s/start.log' 2>&1",
                 env_source_path("scripts/livekit-server.sh"), lk_dir, LK_KEY,
                 LK_SECRET, lk_dir);
        int64_t t0 = mono_ms();
        int rc = system(cmd);
        char log_path[300];
        snprintf(log_path, sizeof(log_path), "%s/start.log", lk_dir);
        char *log = slurp(log_path);
        TEST_ASSERT(rc == 0, "livekit-server.sh start failed (%d):\n%s", rc, log);
        free(log);
        char url_path[300];
        snprintf(url_path, sizeof(url_path), "%s/url", lk_dir);
        char *url = slurp(url_path);
        url[strcspn(url, "\n")] = '\0';
        TEST_ASSERT(strncmp(url, "ws://127.0.0.1:", 15) == 0, "url '%s'", url);
        snprintf(lk_url, sizeof(lk_url), "%s", url);
        free(url);
        TEST_SAY("livekit-server ready at %s in %lld ms (dir %s)", lk_url,
                 (long long)(mono_ms() - t0), lk_dir);
}

static void livekit_stop(void) {
        char cmd[2048];
        snprintf(cmd, sizeof(cmd), "'%s' stop '%s'",
                 env_source_path("scripts/livekit-server.sh"), lk_dir);
        TEST_ASSERT(system(cmd) == 0, "livekit-server.sh stop");
        const char *keep = getenv("CALLSIG_TEST_KEEP");
        if (keep && *keep && strcmp(keep, "0")) {
                TEST_SAY("kept %s", lk_dir);
                return;
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", lk_dir);
        if (system(cmd) != 0)
                TEST_SAY("could not remove %s", lk_dir);
}

static Callsig__V1__SignalReply *expect_ok(env_t *env, const char *user,
                                           const char *op, int resp_case) {
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, user, op));
        TEST_ASSERT(r->errcode == 0, "%s: errCode %d %s", op, (int)r->errcode,
                    r->errmsg);
        TEST_ASSERT(r->resp && (int)r->resp->payload_case == resp_case,
                    "%s: resp case", op);
        return r;
}

/* ---- the join spec ---- */

static FILE *spec;
static int spec_checks;

static void spec_check_begin(const char *name, const char *expect) {
        fprintf(spec, "%s\n    {\"name\": \"%s\", \"expect\": \"%s\"",
                spec_checks++ ? "," : "", name, expect);
}

/* @p sees: NULL-terminated identities. */
static void spec_participant(bool first, const char *identity, const char *token,
                             const char *room, const char *const *sees) {
        fprintf(spec, "%s\n      {\"identity\": \"%s\", \"token\": \"%s\", "
                      "\"room\": \"%s\", \"sees\": [",
                first ? ", \"participants\": [" : ",", identity, token, room);
        for (int i = 0; sees[i]; i++)
                fprintf(spec, "%s\"%s\"", i ? ", " : "", sees[i]);
        fprintf(spec, "]}");
}

static void spec_list(const char *key, const char *const *ids) {
        fprintf(spec, ", \"%s\": [", key);
        for (int i = 0; ids[i]; i++)
                fprintf(spec, "%s\"%s\"", i ? ", " : "", ids[i]);
        fprintf(spec, "]");
}

static char *mint(const char *secret, const char *user, const char *room,
                  int64_t now_s) {
        char errstr[256];
        cs_token_claims_t claims = {.user_id = user, .room_id = room};
        char *t = cs_token_mint(LK_KEY, secret, 3600, now_s, &claims, errstr,
                                sizeof(errstr));
        TEST_ASSERT(t, "mint: %s", errstr);
        return t;
}

int main(void) {
        if (!server_bin()) {
                const char *req = getenv("CALLSIG_TEST_REQUIRE_LIVEKIT");
                TEST_ASSERT(!(req && *req && strcmp(req, "0")),
                            "livekit-server is not built and "
                            "CALLSIG_TEST_REQUIRE_LIVEKIT is set: run "
                            "scripts/livekit-server.sh build");
                fprintf(stderr, "SKIP: livekit-server is not built (run "
                                "scripts/livekit-server.sh build)\n");
                return 77;
        }
        livekit_start();
        env_opts_t opts = {.livekit_url = lk_url};
        env_t *env = env_start("lkjoin", &opts);
        const char *users[] = {"alice", "bob", "carol", "dave",
                               "ga", "gb", "gc", "gd", NULL};
        for (int i = 0; users[i]; i++)
                env_watch(env, users[i]);

        /* ---- 1:1: alice invites bob, bob accepts ---- */
        cmd_t *c = cmd_invite("lk-inv", "alice", (const char *[]){"bob", NULL},
                              NULL, NULL, "video", 0);
        cmd_set_nickname(c, "Alice");
        env_send(env, c, NULL, -1);
        Callsig__V1__SignalReply *r = expect_ok(env, "alice", "lk-inv", RS(INVITE));
        char room[128];
        snprintf(room, sizeof(room), "%s", r->resp->invite->roomid);
        TEST_STREQ(r->resp->invite->liveurl, lk_url);
        char *tok_alice = strdup(r->resp->invite->token);
        env_expect_note(env, "bob", "lk-inv");

        c = cmd_action("lk-acc", "bob", RQ(ACCEPT), room);
        cmd_set_nickname(c, "Bob");
        env_send(env, c, NULL, -1);
        r = expect_ok(env, "bob", "lk-acc", RS(ACCEPT));
        TEST_STREQ(r->resp->accept->liveurl, lk_url);
        char *tok_bob = strdup(r->resp->accept->token);
        bson_destroy(env_wait_call(env, room, "active", NULL));

        /* ---- another call: carol and dave ---- */
        env_send(env, cmd_invite("lk-inv-b", "carol", (const char *[]){"dave", NULL},
                                 NULL, NULL, "audio", 0),
                 NULL, -1);
        r = expect_ok(env, "carol", "lk-inv-b", RS(INVITE));
        char room_b[128];
        snprintf(room_b, sizeof(room_b), "%s", r->resp->invite->roomid);
        TEST_ASSERT(strcmp(room_b, room) != 0, "two rooms");
        char *tok_carol = strdup(r->resp->invite->token);

        /* ---- group: ga invites gb gc gd; gb and gd accept, gc rejects ---- */
        env_send(env, cmd_invite("lk-g-inv", "ga", (const char *[]){"gb", "gc", "gd", NULL},
                                 NULL, GROUP, "video", 60),
                 NULL, -1);
        r = expect_ok(env, "ga", "lk-g-inv", RS(INVITE_IN_GROUP));
        char groom[128];
        snprintf(groom, sizeof(groom), "%s", r->resp->inviteingroup->roomid);
        TEST_STREQ(r->resp->inviteingroup->liveurl, lk_url);
        char *tok_ga = strdup(r->resp->inviteingroup->token);
        env_send(env, cmd_action("lk-g-acc-gb", "gb", RQ(ACCEPT), groom), NULL, -1);
        r = expect_ok(env, "gb", "lk-g-acc-gb", RS(ACCEPT));
        char *tok_gb = strdup(r->resp->accept->token);
        env_send(env, cmd_action("lk-g-rej-gc", "gc", RQ(REJECT), groom), NULL, -1);
        expect_ok(env, "gc", "lk-g-rej-gc", RS(REJECT));
        env_send(env, cmd_action("lk-g-acc-gd", "gd", RQ(ACCEPT), groom), NULL, -1);
        expect_ok(env, "gd", "lk-g-acc-gd", RS(ACCEPT));
        /* gd joins from another device with a token looked up by roomID;
         * gc, who rejected, gets none */
        env_send(env, cmd_token("lk-g-tok-gd", "gd", groom), NULL, -1);
        r = expect_ok(env, "gd", "lk-g-tok-gd", RS(GET_TOKEN_BY_ROOM_ID));
        TEST_STREQ(r->resp->gettokenbyroomid->liveurl, lk_url);
        char *tok_gd = strdup(r->resp->gettokenbyroomid->token);
        env_send(env, cmd_token("lk-g-tok-gc", "gc", groom), NULL, -1);
        r = seen_reply(env_expect_reply(env, "gc", "lk-g-tok-gc"));
        TEST_INTEQ(r->errcode, 1002);

        /* ---- tokens callsig's server must refuse ---- */
        int64_t now_s = (int64_t)time(NULL);
        char *tok_expired = mint(LK_SECRET, "alice", room, now_s - 7200);
        char *tok_foreign = mint("another-secret-0123456789abcdef0123456789",
                                 "alice", room, now_s);

        /* ---- the spec for lk-join.mjs ---- */
        char spec_path[300], result_path[300], log_path[300];
        snprintf(spec_path, sizeof(spec_path), "%s/join-spec.json", lk_dir);
        snprintf(result_path, sizeof(result_path), "%s/join-result.txt", lk_dir);
        snprintf(log_path, sizeof(log_path), "%s/join.log", lk_dir);
        spec = fopen(spec_path, "w");
        TEST_ASSERT(spec, "cannot write %s", spec_path);
        fchmod(fileno(spec), 0600);
        fprintf(spec, "{\"url\": \"%s\", \"timeout_ms\": %d, \"checks\": [",
                lk_url, env_ms(30000));

        spec_check_begin("1:1 call", "join");
        spec_participant(true, "alice", tok_alice, room, (const char *[]){"bob", NULL});
        spec_participant(false, "bob", tok_bob, room, (const char *[]){"alice", NULL});
        fprintf(spec, "]}");

        spec_check_begin("group call", "join");
        spec_participant(true, "ga", tok_ga, groom, (const char *[]){"gb", NULL});
        spec_participant(false, "gb", tok_gb, groom, (const char *[]){"ga", NULL});
        spec_list("not_seen_by", (const char *[]){"alice", "bob", NULL});
        fprintf(spec, "]}");

        spec_check_begin("getTokenByRoomID", "join");
        spec_participant(true, "gd", tok_gd, groom, (const char *[]){"ga", "gb", NULL});
        spec_list("also_seen_by", (const char *[]){"ga", "gb", NULL});
        fprintf(spec, "]}");

        spec_check_begin("token of another room", "join");
        spec_participant(true, "carol", tok_carol, room_b, (const char *[]){NULL});
        spec_list("not_seen_by", (const char *[]){"alice", "bob", "ga", "gb", "gd", NULL});
        fprintf(spec, "]}");

        spec_check_begin("expired token", "refused");
        fprintf(spec, ", \"identity\": \"alice\", \"token\": \"%s\"}", tok_expired);
        spec_check_begin("token signed with another secret", "refused");
        fprintf(spec, ", \"identity\": \"alice\", \"token\": \"%s\"}", tok_foreign);
        fprintf(spec, "\n]}\n");
        fclose(spec);

        char cmd[2048];
        snprintf(cmd, sizeof(cmd), "node '%s' '%s' --result '%s' >'%s' 2>&1",
                 env_source_path("tests/js/lk-join.mjs"), spec_path, result_path,
                 log_path);
        int64_t t0 = mono_ms();
        int rc = system(cmd);
        int64_t join_ms = mono_ms() - t0;
        char *res = slurp(result_path);
        fprintf(stderr, "%s", res);
        if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)) {
                char *log = slurp(log_path);
                size_t n = strlen(log);
                TEST_FAIL("lk-join.mjs failed (status %d) in %lld ms; log %s (last "
                          "part):\n%s",
                          rc, (long long)join_ms, log_path,
                          log + (n > 6000 ? n - 6000 : 0));
        }
        /* what each participant saw, as lk-join.mjs reported it */
        TEST_ASSERT(strstr(res, "\"check\":\"1:1 call\",\"expect\":\"join\",\"ok\":true"),
                    "1:1 result");
        TEST_ASSERT(strstr(res, "\"identity\":\"alice\",\"name\":\"Alice\""),
                    "alice's display name from her nickname");
        TEST_ASSERT(strstr(res, "\"data_from\":[\"bob\"]") &&
                            strstr(res, "\"data_from\":[\"alice\"]"),
                    "data crossed both ways");
        TEST_ASSERT(strstr(res, "\"identity\":\"gd\",\"name\":\"\",\"room\":") &&
                            strstr(res, "\"sees\":[\"ga\",\"gb\"]"),
                    "gd joined the group room");
        TEST_ASSERT(strstr(res, "\"check\":\"expired token\",\"expect\":\"refused\",\"ok\":true"),
                    "expired refused");
        TEST_ASSERT(strstr(res, "\"check\":\"token signed with another secret\","
                                "\"expect\":\"refused\",\"ok\":true"),
                    "foreign secret refused");
        TEST_ASSERT(strstr(res, "RESULT {\"ok\":true,\"checks\":6,\"failed\":0"),
                    "every check passed");
        TEST_SAY("lk-join.mjs: 6 checks passed in %lld ms", (long long)join_ms);
        free(res);

        free(tok_alice);
        free(tok_bob);
        free(tok_carol);
        free(tok_ga);
        free(tok_gb);
        free(tok_gd);
        free(tok_expired);
        free(tok_foreign);
        env_stop(env);
        livekit_stop();
        return test_done();
}
