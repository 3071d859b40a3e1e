/*
 * 0050: LiveKit webhooks end to end (contract sections 9 and 10).
 *
 * Crafted webhooks against the real binary: every way a request can fail
 * authentication is 401 and changes nothing, an oversize body is 413; valid
 * events are 200, land on livekit.events and take effect: participant
 * presence with case 8/9 notifications to the other accepted participants,
 * applied once per event id, tolerant of order (a left before its joined)
 * and delay (a joined after the call ended), room_finished ends a group
 * call with cancels to the ringing invitee and its lines released, events
 * of rooms that are not calls are ignored. /healthz and /readyz answer 200,
 * and /metrics, parsed by prometheus_client's parser before and after,
 * moved by exactly the traffic sent.
 */
#include <jwt.h>
#include <openssl/evp.h>
#include <time.h>

#include "common.h"
#include "harness.h"

TEST_MAIN_DEFS

static void sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* base64(SHA-256(body)), computed here independently of callsig. */
static void body_hash(const char *body, char out[45]) {
        unsigned char md[32];
        unsigned int n = 0;
        EVP_Digest(body, strlen(body), md, &n, EVP_sha256(), NULL);
        EVP_EncodeBlock((unsigned char *)out, md, 32);
}

/* A webhook token the way LiveKit signs one, with knobs to break it. */
static char *token(const char *body, jwt_alg_t alg, const char *key,
                   const char *secret, int64_t exp_delta, const char *sha) {
        jwt_t *jwt = NULL;
        char hash[45];
        body_hash(body, hash);
        int64_t now = (int64_t)time(NULL);
        TEST_ASSERT(!jwt_new(&jwt), "jwt_new");
        jwt_add_grant(jwt, "iss", key);
        jwt_add_grant(jwt, "sha256", sha ? sha : hash);
        jwt_add_grant_int(jwt, "nbf", now);
        jwt_add_grant_int(jwt, "iat", now);
        jwt_add_grant_int(jwt, "exp", now + exp_delta);
        jwt_set_alg(jwt, alg, (const unsigned char *)secret, (int)strlen(secret));
        char *t = jwt_encode_str(jwt);
        jwt_free(jwt);
        TEST_ASSERT(t, "jwt_encode_str");
        return t;
}

static char *event(const char *type, const char *id, const char *room,
                   const char *identity, int64_t session_s) {
        char *buf = malloc(1024);
        int64_t now = (int64_t)time(NULL);
        if (identity)
                snprintf(buf, 1024,
                         "{\"event\":\"%s\", \"room\":{\"sid\":\"RM_x\",\"name\":\"%s\"},"
                         "\"participant\":{\"sid\":\"PA_%s\",\"identity\":\"%s\","
                         "\"state\":\"ACTIVE\",\"joinedAt\":\"%lld\"},\"id\":\"%s\","
                         "\"createdAt\":\"%lld\"}",
                         type, room, identity, identity, (long long)session_s, id,
                         (long long)now);
        else
                snprintf(buf, 1024,
                         "{\"event\":\"%s\",\"room\":{\"sid\":\"RM_x\",\"name\":\"%s\"},"
                         "\"id\":\"%s\",\"createdAt\":\"%lld\"}",
                         type, room, id, (long long)now);
        return buf;
}

/* POSTs @p body with @p auth; @returns the status. */
static int post(env_t *env, const char *body, const char *auth) {
        http_reply_t r = env_http(env, 0, "POST", "/webhooks/livekit", auth, body,
                                  strlen(body));
        free(r.body);
        return r.status;
}

static int post_valid(env_t *env, const char *body) {
        char *t = token(body, JWT_ALG_HS256, LK_KEY, LK_SECRET, 300, NULL);
        int st = post(env, body, t);
        free(t);
        return st;
}

/* Scrapes /metrics and parses it with prometheus_client; @returns the
 * parsed samples ("name|labels|value" lines). */
static char *scrape(env_t *env) {
        http_reply_t r = env_http(env, 0, "GET", "/metrics", NULL, NULL, 0);
        TEST_INTEQ(r.status, 200);
        char in[512], out[512], cmd[1400];
        snprintf(in, sizeof(in), "%s/metrics.txt", env_dir(env));
        snprintf(out, sizeof(out), "%s/metrics.parsed", env_dir(env));
        FILE *fp = fopen(in, "w");
        TEST_ASSERT(fp, "fopen");
        fwrite(r.body, 1, r.len, fp);
        fclose(fp);
        free(r.body);
        snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s < %s > %s",
                 env_source_path("tests/tools/prom_parse.py"), in, out);
        TEST_INTEQ(system(cmd), 0);
        fp = fopen(out, "r");
        TEST_ASSERT(fp, "fopen parsed");
        char *text = calloc(1, 1 << 20);
        text[0] = '\n'; /* every sample line starts after a newline */
        size_t n = fread(text + 1, 1, (1 << 20) - 2, fp);
        text[n + 1] = '\0';
        fclose(fp);
        return text;
}

/* The value of sample "name|labels" in @p parsed, 0 when absent. */
static double sample(const char *parsed, const char *name_labels) {
        char needle[512];
        snprintf(needle, sizeof(needle), "\n%s|", name_labels);
        const char *p = strstr(parsed, needle);
        return p ? strtod(p + strlen(needle), NULL) : 0;
}

static int count_events(env_t *env, const char *room, const char *id) {
        char filter[256];
        snprintf(filter, sizeof(filter),
                 "{\"_id\": \"%s\", \"events.operationID\": \"%s\"}", room, id);
        return (int)env_count_docs(env, "calls", filter);
}

int main(void) {
        env_t *env = env_start("webhooks", NULL);
        const char *users[] = {"alice", "bob", "carol", "dave", "erin"};
        for (size_t i = 0; i < 5; i++)
                env_watch(env, users[i]);

        /* health: alive and, once partitions are assigned, ready */
        http_reply_t h = env_http(env, 0, "GET", "/healthz", NULL, NULL, 0);
        TEST_INTEQ(h.status, 200);
        free(h.body);
        int ready = 0;
        for (int i = 0; i < 100 && ready != 200; i++) {
                h = env_http(env, 0, "GET", "/readyz", NULL, NULL, 0);
                ready = h.status;
                free(h.body);
                if (ready != 200)
                        sleep_ms(100);
        }
        TEST_INTEQ(ready, 200);
        h = env_http(env, 0, "GET", "/nope", NULL, NULL, 0);
        TEST_INTEQ(h.status, 404);
        free(h.body);
        char *before = scrape(env);

        /* a 1:1 call alice -> bob, accepted */
        env_send(env, cmd_invite("w-inv", "alice", (const char *[]){"bob", NULL},
                                 "room-w1", NULL, "audio", 0), NULL, -1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "alice", "w-inv"))->errcode, 0);
        env_send(env, cmd_action("w-acc", "bob", OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT,
                                 "room-w1"), NULL, -1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "bob", "w-acc"))->errcode, 0);
        bson_destroy(env_wait_call(env, "room-w1", "active", NULL));
        env_expect_note(env, "bob", "w-inv");
        env_expect_note(env, "alice", "w-inv");
        env_expect_note(env, "alice", "w-acc");
        env_expect_note(env, "bob", "w-acc");

        /* authentication failures: 401, nothing changes */
        int64_t s1 = (int64_t)time(NULL) - 5;
        char *joined = event("participant_joined", "EV_j1", "room-w1", "alice", s1);
        char *t;
        t = token(joined, JWT_ALG_HS256, LK_KEY, "another-secret-0123456789abcdef012", 300, NULL);
        TEST_INTEQ(post(env, joined, t), 401); /* bad signature */
        free(t);
        t = token(joined, JWT_ALG_HS256, LK_KEY, LK_SECRET, 300,
                  "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
        TEST_INTEQ(post(env, joined, t), 401); /* sha256 of another body */
        free(t);
        t = token(joined, JWT_ALG_HS256, "otherkey", LK_SECRET, 300, NULL);
        TEST_INTEQ(post(env, joined, t), 401); /* wrong iss */
        free(t);
        t = token(joined, JWT_ALG_HS256, LK_KEY, LK_SECRET, -120, NULL);
        TEST_INTEQ(post(env, joined, t), 401); /* expired beyond the leeway */
        free(t);
        t = token(joined, JWT_ALG_HS384, LK_KEY, LK_SECRET, 300, NULL);
        TEST_INTEQ(post(env, joined, t), 401); /* not HS256 */
        char bearer[4096];
        snprintf(bearer, sizeof(bearer), "Bearer %s", t);
        free(t);
        TEST_INTEQ(post(env, joined, NULL), 401); /* no Authorization */
        t = token(joined, JWT_ALG_HS256, LK_KEY, LK_SECRET, 300, NULL);
        snprintf(bearer, sizeof(bearer), "Bearer %s", t);
        TEST_INTEQ(post(env, joined, bearer), 401); /* LiveKit never says Bearer */
        /* a body changed after signing */
        char *tampered = event("participant_joined", "EV_j1", "room-w1", "bob", s1);
        TEST_INTEQ(post(env, tampered, t), 401);
        free(tampered);
        free(t);
        /* oversize */
        size_t big_len = 70 * 1024;
        char *big = malloc(big_len + 1);
        memset(big, ' ', big_len);
        big[0] = '{';
        big[big_len - 1] = '}';
        big[big_len] = '\0';
        t = token(big, JWT_ALG_HS256, LK_KEY, LK_SECRET, 300, NULL);
        TEST_INTEQ(post(env, big, t), 413);
        free(t);
        free(big);
        env_expect_quiet(env, "bob", 1000);
        bson_t *doc = env_call_doc(env, "room-w1");
        TEST_ASSERT(!doc_has(doc, "participants.0.inRoom"), "no presence yet");
        bson_destroy(doc);

        /* alice joins: bob (the other accepted participant) gets case 8 */
        TEST_INTEQ(post_valid(env, joined), 200);
        seen_t *s = env_expect_note(env, "bob", "EV_j1");
        Openim__V2__MsgData *md = seen_note(s);
        TEST_STREQ(md->sendid, "alice");
        TEST_INTEQ(md->contenttype, 1601);
        Openim__V2__SignalReq *req = seen_content(s);
        TEST_INTEQ(req->payload_case,
                   OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_CONNECTED_REQ);
        TEST_STREQ(req->onroomparticipantconnectedreq->invitation->roomid, "room-w1");
        TEST_INTEQ(req->onroomparticipantconnectedreq->n_participant, 1);
        TEST_STREQ(req->onroomparticipantconnectedreq->participant[0]->userinfo->userid,
                   "alice");
        openim__v2__signal_req__free_unpacked(req, NULL);
        for (int i = 0; i < 100 && count_events(env, "room-w1", "EV_j1") == 0; i++)
                sleep_ms(50);
        doc = env_call_doc(env, "room-w1");
        TEST_ASSERT(doc_has(doc, "participants.0.inRoom"), "alice inRoom");
        TEST_ASSERT(doc_has(doc, "participants.0.joinedRoomAt"), "joinedRoomAt");
        TEST_ASSERT(!doc_has(doc, "participants.1.inRoom"), "bob not yet");
        int64_t joined_at = doc_int(doc, "participants.0.joinedRoomAt");
        bson_destroy(doc);
        env_expect_quiet(env, "alice", 500); /* the joiner is not told */

        /* the same event again: 200, applied once, notification again */
        TEST_INTEQ(post_valid(env, joined), 200);
        env_expect_note(env, "bob", "EV_j1");
        doc = env_call_doc(env, "room-w1");
        TEST_INTEQ(doc_int(doc, "participants.0.joinedRoomAt"), joined_at);
        int ev_cnt = 0;
        for (int i = 0; i < 64; i++) {
                char path[64];
                snprintf(path, sizeof(path), "events.%d.operationID", i);
                if (!doc_has(doc, path))
                        break;
                ev_cnt += !strcmp(doc_str(doc, path), "EV_j1");
        }
        TEST_INTEQ(ev_cnt, 1);
        bson_destroy(doc);
        free(joined);

        /* bob's left overtakes his joined: he stays out */
        int64_t s2 = (int64_t)time(NULL) - 3;
        char *left = event("participant_left", "EV_l2", "room-w1", "bob", s2);
        char *late = event("participant_joined", "EV_j2", "room-w1", "bob", s2);
        TEST_INTEQ(post_valid(env, left), 200);
        s = env_expect_note(env, "alice", "EV_l2");
        req = seen_content(s);
        TEST_INTEQ(req->payload_case,
                   OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_DISCONNECTED_REQ);
        TEST_INTEQ(req->onroomparticipantdisconnectedreq->n_participant, 1);
        openim__v2__signal_req__free_unpacked(req, NULL);
        TEST_INTEQ(post_valid(env, late), 200);
        env_expect_quiet(env, "alice", 1500);
        doc = env_call_doc(env, "room-w1");
        TEST_ASSERT(doc_has(doc, "participants.1.leftRoomAt"), "bob left");
        TEST_ASSERT(!doc_has(doc, "participants.1.joinedRoomAt"), "late joined ignored");
        bson_destroy(doc);
        TEST_INTEQ(count_events(env, "room-w1", "EV_j2"), 0);
        free(left);
        free(late);

        /* a room that is not a call: acknowledged, ignored */
        char *stray = event("participant_joined", "EV_s1", "no-such-room", "alice", s2);
        TEST_INTEQ(post_valid(env, stray), 200);
        free(stray);

        /* room_finished ends a group call: erin (ringing) gets a cancel */
        env_send(env, cmd_invite("g-inv", "carol", (const char *[]){"dave", "erin", NULL},
                                 "room-g1", "grp-1", "video", 0), "room-g1", -1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "carol", "g-inv"))->errcode, 0);
        env_send(env, cmd_action("g-acc", "dave", OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT,
                                 "room-g1"), NULL, -1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "dave", "g-acc"))->errcode, 0);
        env_expect_note(env, "dave", "g-inv");
        env_expect_note(env, "erin", "g-inv");
        env_expect_note(env, "carol", "g-inv");
        env_expect_note(env, "carol", "g-acc");
        env_expect_note(env, "dave", "g-acc");
        TEST_ASSERT(env_count_docs(env, "lines", "{\"roomID\": \"room-g1\"}") > 0, "lines");
        char *fin = event("room_finished", "EV_f1", "room-g1", NULL, 0);
        TEST_INTEQ(post_valid(env, fin), 200);
        doc = env_wait_call(env, "room-g1", "ended", "room_finished");
        bson_destroy(doc);
        s = env_expect_note(env, "erin", "EV_f1");
        md = seen_note(s);
        TEST_STREQ(md->sendid, "carol");
        req = seen_content(s);
        TEST_INTEQ(req->payload_case, OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL);
        TEST_STREQ(req->cancel->opuserid, "carol");
        TEST_STREQ(req->cancel->invitation->roomid, "room-g1");
        openim__v2__signal_req__free_unpacked(req, NULL);
        for (int i = 0; i < 100 && env_count_docs(env, "lines",
                                                  "{\"roomID\": \"room-g1\"}"); i++)
                sleep_ms(50);
        TEST_INTEQ(env_count_docs(env, "lines", "{\"roomID\": \"room-g1\"}"), 0);
        env_expect_quiet(env, "dave", 500); /* accepted ones get no cancel */
        free(fin);

        /* a joined after the call ended changes nothing */
        char *after = event("participant_joined", "EV_j9", "room-g1", "dave",
                            (int64_t)time(NULL));
        TEST_INTEQ(post_valid(env, after), 200);
        env_expect_quiet(env, "carol", 1500);
        TEST_INTEQ(count_events(env, "room-g1", "EV_j9"), 0);
        free(after);

        /* metrics moved by exactly the traffic sent */
        char *now = scrape(env);
        struct { const char *key; double delta; } want[] = {
                {"callsig_webhook_requests_total|outcome=unauthorized,type=other", 8},
                {"callsig_webhook_requests_total|outcome=too_large,type=other", 1},
                {"callsig_webhook_requests_total|outcome=accepted,type=participant_joined", 5},
                {"callsig_webhook_requests_total|outcome=accepted,type=participant_left", 1},
                {"callsig_webhook_requests_total|outcome=accepted,type=room_finished", 1},
                {"callsig_room_events_total|outcome=applied,type=participant_joined", 1},
                {"callsig_room_events_total|outcome=duplicate,type=participant_joined", 1},
                {"callsig_room_events_total|outcome=ignored,type=participant_joined", 3},
                {"callsig_room_events_total|outcome=applied,type=participant_left", 1},
                {"callsig_room_events_total|outcome=applied,type=room_finished", 1},
                {"callsig_commands_total|case=invite,code=0", 1},
                {"callsig_commands_total|case=inviteInGroup,code=0", 1},
                {"callsig_commands_total|case=accept,code=0", 2},
                {"callsig_command_handling_seconds_count|", 4},
                {"callsig_dead_letters_total|reason=undecodable", 0},
        };
        /* the worker counts an event once it is taken: wait for the last */
        for (int i = 0; i < 100; i++) {
                if (sample(now, want[7].key) - sample(before, want[7].key) >= 3)
                        break;
                free(now);
                sleep_ms(100);
                now = scrape(env);
        }
        for (size_t i = 0; i < CS_ARRAY_SIZE(want); i++) {
                double d = sample(now, want[i].key) - sample(before, want[i].key);
                TEST_ASSERT(d == want[i].delta, "%s moved by %g, not %g", want[i].key, d,
                            want[i].delta);
        }
        free(before);
        free(now);
        env_stop(env);
        return test_done();
}
