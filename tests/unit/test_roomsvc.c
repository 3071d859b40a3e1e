/*
 * test_roomsvc.c: unit tests for the RoomService client (roomsvc.h).
 *
 * Proves: the base URL comes from livekit.api_url or from livekit.url
 * (ws -> http, wss -> https); the Twirp bodies are the JSON LiveKit expects;
 * the admin token verifies with token.c's verifier (HS256, iss, nbf = now,
 * exp) and carries video {room, roomAdmin} (+ roomCreate only for
 * DeleteRoom), while join tokens never carry roomCreate or admin rights;
 * answers are classified (2xx and 404 / not_found done, 5xx / 429 /
 * transport errors retried, other 4xx given up); the backoff doubles and is
 * capped; enqueueing never blocks on a server that hangs, the queue drops
 * its oldest requests when full, and shutdown ends a hanging transfer
 * within the drain time.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <jwt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "roomsvc.h"
#include "roomsvc_int.h"
#include "test.h"
#include "token.h"

TEST_MAIN_DEFS

#define KEY "devkey"
#define SECRET "test-secret-0123456789-abcdefghijklmnop"
#define NOW ((int64_t)1795270000)

static int64_t mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void url_is(const char *lk, const char *api, const char *want) {
        char *got = cs_roomsvc_base_url(lk, api);
        if (!want) {
                TEST_ASSERT(!got, "%s / %s gave %s", lk, api, got);
        } else {
                TEST_ASSERT(got, "%s / %s gave nothing", lk, api);
                TEST_STREQ(got, want);
        }
        free(got);
        test_passed++;
}

static void test_base_url(void) {
        url_is("ws://localhost:7880", "", "http://localhost:7880");
        url_is("wss://lk.example.com/", NULL, "https://lk.example.com");
        url_is("ws://lk:7880", "https://api.example.com/", "https://api.example.com");
        url_is("https://lk.example.com", "", "https://lk.example.com");
        url_is("ftp://lk", "", NULL);
        url_is("ws://lk", "ws://api", NULL);
}

static void test_body(void) {
        char *b = cs_roomsvc_body(CS_ROOMSVC_REMOVE_PARTICIPANT, "cs-r1", "bob \"b\"");
        TEST_STREQ(b, "{\"room\":\"cs-r1\",\"identity\":\"bob \\\"b\\\"\"}");
        free(b);
        b = cs_roomsvc_body(CS_ROOMSVC_DELETE_ROOM, "cs-r1", "ignored");
        TEST_STREQ(b, "{\"room\":\"cs-r1\"}");
        free(b);
        b = cs_roomsvc_body(CS_ROOMSVC_REMOVE_PARTICIPANT, "r", "\xff\xfe");
        TEST_ASSERT(!b, "invalid UTF-8 must not become a body");
        TEST_STREQ(cs_roomsvc_method(CS_ROOMSVC_REMOVE_PARTICIPANT), "RemoveParticipant");
        TEST_STREQ(cs_roomsvc_method(CS_ROOMSVC_DELETE_ROOM), "DeleteRoom");
}

/* The video grant of @p token as a jansson object (caller decrefs). */
static json_t *video_of(const char *token) {
        jwt_t *jwt = NULL;
        TEST_INTEQ(jwt_decode(&jwt, token, (const unsigned char *)SECRET,
                              (int)strlen(SECRET)), 0);
        char *video = jwt_get_grants_json(jwt, "video");
        TEST_ASSERT(video, "no video grant");
        json_t *obj = json_loads(video, 0, NULL);
        TEST_ASSERT(obj, "video is not JSON: %s", video);
        free(video);
        jwt_free(jwt);
        return obj;
}

static void test_admin_token(void) {
        char errstr[256];
        cs_token_info_t info;

        for (int op = 0; op < 2; op++) {
                char *tok = cs_roomsvc_admin_token(KEY, SECRET, (cs_roomsvc_op_t)op,
                                                   "cs-room-1", NOW, errstr,
                                                   sizeof(errstr));
                TEST_ASSERT(tok, "%s", errstr);
                TEST_INTEQ(cs_token_verify(KEY, SECRET, tok, NOW, 0, &info,
                                           errstr, sizeof(errstr)), 0);
                TEST_STREQ(info.room_id, "cs-room-1");
                TEST_INTEQ(info.nbf, NOW);
                TEST_INTEQ(info.exp, NOW + CS_ROOMSVC_TOKEN_TTL);
                TEST_INTEQ(info.room_join, 0);
                cs_token_info_clear(&info);
                /* Another secret or key does not verify. */
                TEST_ASSERT(cs_token_verify(KEY, SECRET "x", tok, NOW, 0, NULL,
                                            errstr, sizeof(errstr)) == -1,
                            "verified with another secret");
                TEST_ASSERT(cs_token_verify("other", SECRET, tok, NOW, 0, NULL,
                                            errstr, sizeof(errstr)) == -1,
                            "verified with another key");
                json_t *video = video_of(tok);
                TEST_ASSERT(json_is_true(json_object_get(video, "roomAdmin")),
                            "roomAdmin missing");
                TEST_STREQ(json_string_value(json_object_get(video, "room")),
                           "cs-room-1");
                TEST_INTEQ(json_is_true(json_object_get(video, "roomCreate")),
                           op == CS_ROOMSVC_DELETE_ROOM);
                TEST_ASSERT(!json_object_get(video, "roomJoin"),
                            "an admin token must not join");
                json_decref(video);
                free(tok);
        }
        TEST_ASSERT(!cs_roomsvc_admin_token(KEY, "", CS_ROOMSVC_DELETE_ROOM,
                                            "r", NOW, errstr, sizeof(errstr)),
                    "empty secret accepted");
        test_passed++;
}

/* Join tokens (token.c) carry nbf = now and no room administration. */
static void test_join_token_grants(void) {
        char errstr[256];
        cs_token_claims_t claims = {.user_id = "alice", .room_id = "cs-room-1"};
        char *tok = cs_token_mint(KEY, SECRET, 600, NOW, &claims, errstr,
                                  sizeof(errstr));
        TEST_ASSERT(tok, "%s", errstr);
        jwt_t *jwt = NULL;
        TEST_INTEQ(jwt_decode(&jwt, tok, (const unsigned char *)SECRET,
                              (int)strlen(SECRET)), 0);
        TEST_INTEQ(jwt_get_grant_int(jwt, "nbf"), NOW);
        jwt_free(jwt);
        json_t *video = video_of(tok);
        TEST_ASSERT(json_is_true(json_object_get(video, "roomJoin")), "roomJoin");
        static const char *const never[] = {"roomCreate", "roomAdmin",
                                            "roomList", "roomRecord"};
        for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
                TEST_ASSERT(!json_object_get(video, never[i]),
                            "join token carries %s", never[i]);
        json_decref(video);
        free(tok);
        test_passed++;
}

static void test_classify(void) {
        TEST_INTEQ(cs_roomsvc_classify(200, "{}"), CS_ROOMSVC_DONE);
        TEST_INTEQ(cs_roomsvc_classify(404, NULL), CS_ROOMSVC_DONE);
        TEST_INTEQ(cs_roomsvc_classify(
                           400, "{\"code\":\"not_found\",\"msg\":\"room not found\"}"),
                   CS_ROOMSVC_DONE);
        TEST_INTEQ(cs_roomsvc_classify(0, NULL), CS_ROOMSVC_RETRY);
        TEST_INTEQ(cs_roomsvc_classify(500, "{\"code\":\"internal\"}"), CS_ROOMSVC_RETRY);
        TEST_INTEQ(cs_roomsvc_classify(503, "busy"), CS_ROOMSVC_RETRY);
        TEST_INTEQ(cs_roomsvc_classify(429, NULL), CS_ROOMSVC_RETRY);
        TEST_INTEQ(cs_roomsvc_classify(401, "{\"code\":\"unauthenticated\"}"),
                   CS_ROOMSVC_FAIL);
        TEST_INTEQ(cs_roomsvc_classify(400, "not json"), CS_ROOMSVC_FAIL);
}

static void test_backoff(void) {
        TEST_INTEQ(cs_roomsvc_backoff_ms(1), CS_ROOMSVC_BACKOFF_MIN_MS);
        TEST_INTEQ(cs_roomsvc_backoff_ms(2), 2 * CS_ROOMSVC_BACKOFF_MIN_MS);
        TEST_INTEQ(cs_roomsvc_backoff_ms(3), 4 * CS_ROOMSVC_BACKOFF_MIN_MS);
        TEST_INTEQ(cs_roomsvc_backoff_ms(100), CS_ROOMSVC_BACKOFF_MAX_MS);
}

/* A server that accepts connections (kernel backlog) and never answers. */
static int hanging_server(int *portp) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        TEST_ASSERT(fd >= 0, "socket");
        TEST_INTEQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        TEST_INTEQ(listen(fd, 16), 0);
        TEST_INTEQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        *portp = ntohs(sa.sin_port);
        return fd;
}

static void test_queue_never_blocks(void) {
        int port, fd = hanging_server(&port);
        char url[64];
        cs_roomsvc_stats_t st;
        cs_config_t *conf = cs_config_new();
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
        free(conf->livekit_api_url);
        conf->livekit_api_url = strdup(url);
        conf->livekit_api_key = strdup(KEY);
        conf->livekit_api_secret = strdup(SECRET);

        cs_roomsvc_t *rs = cs_roomsvc_new(conf);
        TEST_ASSERT(rs, "roomsvc");
        int64_t t0 = mono_ms();
        const int extra = 6;
        for (int i = 0; i < CS_ROOMSVC_QUEUE_MAX + extra; i++)
                cs_roomsvc_remove(rs, "cs-room", "u");
        int64_t took = mono_ms() - t0;
        TEST_SAY("%d requests queued in %lld ms", CS_ROOMSVC_QUEUE_MAX + extra,
                 (long long)took);
        TEST_ASSERT(took < 1000, "queueing took %lld ms", (long long)took);
        cs_roomsvc_stats(rs, &st);
        /* The thread took the first request to the hanging server, or not
         * yet: the rest beyond the cap were dropped, oldest first. */
        TEST_ASSERT(st.dropped == extra || st.dropped == extra - 1,
                    "dropped %llu", (unsigned long long)st.dropped);
        t0 = mono_ms();
        cs_roomsvc_destroy(rs);
        took = mono_ms() - t0;
        TEST_ASSERT(took < CS_ROOMSVC_DRAIN_MS + 1500,
                    "shutdown took %lld ms", (long long)took);
        close(fd);
        cs_config_destroy(conf);
        test_passed++;
}

int main(void) {
        test_base_url();
        test_body();
        test_admin_token();
        test_join_token_grants();
        test_classify();
        test_backoff();
        test_queue_never_blocks();
        return test_done();
}
