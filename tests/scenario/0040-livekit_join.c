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
#include <time.h>

#include "harness.h"
#include "lk.h"
#include "token.h"

TEST_MAIN_DEFS

#define RQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RS(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x
#define GROUP "grp-lk"

static Callsig__V1__SignalReply *expect_ok(env_t *env, const char *user,
                                           const char *op, int resp_case) {
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, user, op));
        TEST_ASSERT(r->errcode == 0, "%s: errCode %d %s", op, (int)r->errcode,
                    r->errmsg);
        TEST_ASSERT(r->resp && (int)r->resp->payload_case == resp_case,
                    "%s: resp case", op);
        return r;
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
        lk_require_server();
        const char *lk_url = lk_server_start();
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

        /* ---- join with them ---- */
        lk_spec_begin(30000);
        lk_spec_check("1:1 call", "join");
        lk_spec_participant("alice", tok_alice, room, (const char *[]){"bob", NULL});
        lk_spec_participant("bob", tok_bob, room, (const char *[]){"alice", NULL});

        lk_spec_check("group call", "join");
        lk_spec_participant("ga", tok_ga, groom, (const char *[]){"gb", NULL});
        lk_spec_participant("gb", tok_gb, groom, (const char *[]){"ga", NULL});
        lk_spec_list("not_seen_by", (const char *[]){"alice", "bob", NULL});

        lk_spec_check("getTokenByRoomID", "join");
        lk_spec_participant("gd", tok_gd, groom, (const char *[]){"ga", "gb", NULL});
        lk_spec_list("also_seen_by", (const char *[]){"ga", "gb", NULL});

        lk_spec_check("token of another room", "join");
        lk_spec_participant("carol", tok_carol, room_b, (const char *[]){NULL});
        lk_spec_list("not_seen_by",
                     (const char *[]){"alice", "bob", "ga", "gb", "gd", NULL});

        lk_spec_check("expired token", "refused");
        lk_spec_refused("alice", tok_expired);
        lk_spec_check("token signed with another secret", "refused");
        lk_spec_refused("alice", tok_foreign);

        bool ok;
        int64_t join_ms;
        char *res = lk_spec_run(&ok, &join_ms);
        fprintf(stderr, "%s", res);
        if (!ok) {
                char path[300];
                snprintf(path, sizeof(path), "%s/join.log", lk_dir());
                FILE *fp = fopen(path, "rb");
                char tail[6001] = "";
                if (fp) {
                        fseek(fp, 0, SEEK_END);
                        long len = ftell(fp);
                        fseek(fp, len > 6000 ? len - 6000 : 0, SEEK_SET);
                        tail[fread(tail, 1, 6000, fp)] = '\0';
                        fclose(fp);
                }
                TEST_FAIL("lk-join.mjs failed in %lld ms; log %s (last part):\n%s",
                          (long long)join_ms, path, tail);
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
        TEST_ASSERT(strstr(res, "401 Unauthorized") && !strstr(res, "eyJ"),
                    "refused with 401, no token in the report");
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
        lk_server_stop();
        return test_done();
}
