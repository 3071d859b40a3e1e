/*
 * 0081: v3 bytes against the real upstream schema (contract section 12).
 *
 * scripts/upstream-schema.sh fetches github.com/openimsdk/protocol v0.0.72
 * from the Go module proxy, compiles its rtc.proto and sdkws.proto with
 * protoc and builds a decoder over them (tests/upstream). Here commands are
 * encoded with that schema (not with callsig's own .proto files), wrapped in
 * the callsig envelope by hand, and every reply and notification callsig
 * produces is taken apart on the wire and decoded with the upstream schema:
 * no field may be unknown to it, and the values must be the expected ones.
 */
#include "upstream.h"
#include "v3cmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TEST_MAIN_DEFS

static void put_varint(uint8_t *b, size_t *n, uint64_t v) {
        while (v >= 0x80) {
                b[(*n)++] = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        b[(*n)++] = (uint8_t)v;
}

static void put_bytes(uint8_t *b, size_t *n, unsigned fieldno, const void *p,
                      size_t len) {
        put_varint(b, n, fieldno << 3 | 2);
        put_varint(b, n, len);
        memcpy(b + *n, p, len);
        *n += len;
}

/* Sends the upstream-encoded SignalReq @p json inside SignalCommand.rtc
 * (case 1, signal), the envelope written by hand. */
static void send_upstream_rtc(env_t *env, const char *op, const char *sender,
                              unsigned rtc_case, const char *msg_name,
                              const char *json, const char *key) {
        char *hex = upstream("encode", msg_name, json);
        size_t req_len;
        uint8_t *req = upstream_unhex(hex, &req_len);
        uint8_t *rtc = malloc(req_len + 16), *cmd = malloc(req_len + 1024);
        size_t rtc_len = 0, cmd_len = 0;
        put_bytes(rtc, &rtc_len, rtc_case, req, req_len);
        put_bytes(cmd, &cmd_len, 1, op, strlen(op));
        put_bytes(cmd, &cmd_len, 2, sender, strlen(sender));
        put_varint(cmd, &cmd_len, 3 << 3);
        put_varint(cmd, &cmd_len, 5);
        put_varint(cmd, &cmd_len, 7 << 3);
        put_varint(cmd, &cmd_len, (uint64_t)env_wall_ms());
        put_bytes(cmd, &cmd_len, 8, rtc, rtc_len);
        env_send_raw(env, cmd, cmd_len, key, -1);
        free(hex);
        free(req);
        free(rtc);
        free(cmd);
}

static void send_upstream(env_t *env, const char *op, const char *sender,
                          const char *json, const char *key) {
        send_upstream_rtc(env, op, sender, 1, "openim.rtc.SignalReq", json, key);
}

/* The reply to @p op: its RtcResponse case @p rtc_case decoded with the
 * upstream message @p resp_name (JSON). */
static char *reply_json_rtc(env_t *env, const char *user, const char *op,
                            unsigned rtc_case, const char *resp_name) {
        seen_t *s = env_expect_reply(env, user, op);
        Callsig__V1__SignalReply *r = seen_reply(s);
        TEST_ASSERT(r->errcode == 0, "%s: %d %s", op, r->errcode, r->errmsg);
        size_t n1, n2, n3;
        const uint8_t *reply = upstream_field(s->value, s->len, 2, &n1);
        const uint8_t *rtc = upstream_field(reply, n1, 9, &n2);
        const uint8_t *resp = upstream_field(rtc, n2, rtc_case, &n3);
        char *hex = upstream_hex(resp, n3);
        char *json = upstream("decode", resp_name, hex);
        free(hex);
        return json;
}

/* The reply to @p op decoded with upstream's SignalResp (JSON). */
static char *reply_json(env_t *env, const char *user, const char *op) {
        seen_t *s = env_expect_reply(env, user, op);
        Callsig__V1__SignalReply *r = seen_reply(s);
        TEST_ASSERT(r->errcode == 0, "%s: %d %s", op, r->errcode, r->errmsg);
        size_t n1, n2, n3;
        const uint8_t *reply = upstream_field(s->value, s->len, 2, &n1);  /* reply */
        const uint8_t *rtc = upstream_field(reply, n1, 9, &n2);           /* rtc */
        const uint8_t *resp = upstream_field(rtc, n2, 1, &n3);            /* signal */
        char *hex = upstream_hex(resp, n3);
        char *json = upstream("decode", "openim.rtc.SignalResp", hex);
        free(hex);
        return json;
}

/* The notification of @p op for @p user: MsgData and content, decoded
 * with upstream's sdkws.MsgData and rtc.SignalReq. */
static void note_json_as(env_t *env, const char *user, const char *op,
                         const char *content_type, char **msgp, char **contentp) {
        seen_t *s = env_expect_note(env, user, op);
        size_t n1, n2;
        const uint8_t *md = upstream_field(s->value, s->len, 4, &n1);     /* notificationV3 */
        char *hex = upstream_hex(md, n1);
        *msgp = upstream("decode", "openim.sdkws.MsgData", hex);
        free(hex);
        const uint8_t *content = upstream_field(md, n1, 12, &n2);
        hex = upstream_hex(content, n2);
        *contentp = upstream("decode", content_type, hex);
        free(hex);
}

static void note_json(env_t *env, const char *user, const char *op,
                      char **msgp, char **contentp) {
        note_json_as(env, user, op, "openim.rtc.SignalReq", msgp, contentp);
}

#define HAS(json, needle) \
        TEST_ASSERT(strstr((json), (needle)), "%s lacks %s", (json), (needle))

int main(void) {
        upstream_prepare();

        env_opts_t opts = {.extra_yaml = "openim:\n  protocol: v3\n"};
        env_t *env = env_start("v3upstream", &opts);
        env_watch(env, "alice");
        env_watch(env, "bob");
        char *json, *msg, *content, room[64], needle[256];

        /* invite, encoded with the upstream schema */
        send_upstream(env, "up-inv", "alice",
                      "{\"invite\":{\"invitation\":{\"inviterUserID\":\"mallory\","
                      "\"inviteeUserIDList\":[\"bob\"],\"mediaType\":\"audio\","
                      "\"sessionType\":1,\"customData\":\"cd\"},"
                      "\"offlinePushInfo\":{\"title\":\"Call\",\"signalInfo\":\"si\"},"
                      "\"participant\":{\"userInfo\":{\"userID\":\"alice\","
                      "\"nickname\":\"Al\",\"ex\":\"x\"}},\"userID\":\"mallory\"}}",
                      "alice");
        json = reply_json(env, "alice", "up-inv");
        HAS(json, "\"invite\":{\"token\":\"");
        HAS(json, "\"liveURL\":\"" LK_URL "\"");
        const char *r = strstr(json, "\"roomID\":\"");
        TEST_ASSERT(r, "roomID in %s", json);
        snprintf(room, sizeof(room), "%.*s", 35, r + 10);
        TEST_ASSERT(!strncmp(room, "cs-", 3), "room %s", room);
        free(json);

        note_json(env, "bob", "up-inv", &msg, &content);
        HAS(msg, "\"sendID\":\"alice\"");
        HAS(msg, "\"recvID\":\"bob\"");
        HAS(msg, "\"contentType\":1601");
        HAS(msg, "\"msgFrom\":100");
        HAS(msg, "\"sessionType\":1");
        HAS(msg, "\"senderPlatformID\":5");
        HAS(msg, "\"options\":{");
        HAS(msg, "\"history\":false");
        HAS(msg, "\"senderSync\":false");
        HAS(msg, "\"offlinePushInfo\":{\"title\":\"Call\",\"signalInfo\":\"si\"}");
        TEST_ASSERT(!strstr(msg, "\"seq\""), "seq 0: %s", msg);
        HAS(content, "\"userID\":\"alice\"");
        HAS(content, "\"inviterUserID\":\"alice\"");
        TEST_ASSERT(!strstr(content, "mallory"), "forged identity kept: %s", content);
        snprintf(needle, sizeof(needle), "\"roomID\":\"%s\"", room);
        HAS(content, needle);
        HAS(content, "\"timeout\":35");
        HAS(content, "\"customData\":\"cd\"");
        HAS(content, "\"nickname\":\"Al\"");
        HAS(content, "\"ex\":\"x\"");
        {
                const char *t = strstr(content, "\"initiateTime\":\"");
                TEST_ASSERT(t, "initiateTime in %s", content);
                long long ms = atoll(t + 16);
                TEST_ASSERT(ms > 1000000000000LL && ms <= env_wall_ms(),
                            "initiateTime %lld is unix ms", ms);
        }
        free(msg);
        free(content);

        /* accept, upstream-encoded */
        snprintf(needle, sizeof(needle),
                 "{\"accept\":{\"invitation\":{\"roomID\":\"%s\"},"
                 "\"opUserPlatformID\":5,\"userID\":\"bob\"}}", room);
        send_upstream(env, "up-acc", "bob", needle, room);
        json = reply_json(env, "bob", "up-acc");
        HAS(json, "\"accept\":{\"token\":\"");
        free(json);
        note_json(env, "alice", "up-acc", &msg, &content);
        HAS(msg, "\"sendID\":\"bob\"");
        HAS(content, "\"accept\":{");
        HAS(content, "\"userID\":\"bob\"");
        HAS(content, "\"opUserPlatformID\":5");
        HAS(content, "\"inviteeUserIDList\":[\"bob\"]");
        free(msg);
        free(content);

        /* LiveKit presence: 1602 with SignalOnRoomParticipantConnectedReq */
        TEST_INTEQ(v3_webhook(env, "participant_joined", "EV_up_j", room, "bob"), 200);
        note_json_as(env, "alice", "EV_up_j",
                     "openim.rtc.SignalOnRoomParticipantConnectedReq", &msg, &content);
        HAS(msg, "\"contentType\":1602");
        HAS(msg, "\"sendID\":\"bob\"");
        HAS(content, "\"participant\":[{\"userInfo\":{\"userID\":\"bob\"}}]");
        free(msg);
        free(content);

        /* getTokenByRoomID: v3 SignalReq case 7 */
        snprintf(needle, sizeof(needle),
                 "{\"getTokenByRoomID\":{\"roomID\":\"%s\",\"userID\":\"bob\"}}", room);
        send_upstream(env, "up-tok", "bob", needle, room);
        json = reply_json(env, "bob", "up-tok");
        HAS(json, "\"getTokenByRoomID\":{\"token\":\"");
        free(json);

        /* sendCustomSignal: RtcRequest case 6, relayed as 1605 */
        snprintf(needle, sizeof(needle),
                 "{\"roomID\":\"%s\",\"customInfo\":\"candidate:1\"}", room);
        send_upstream_rtc(env, "up-sig", "bob", 6, "openim.rtc.SignalSendCustomSignalReq",
                          needle, room);
        json = reply_json_rtc(env, "bob", "up-sig", 6,
                              "openim.rtc.SignalSendCustomSignalResp");
        free(json);
        note_json_as(env, "alice", "up-sig", "openim.rtc.SignalSendCustomSignalReq",
                     &msg, &content);
        HAS(msg, "\"contentType\":1605");
        HAS(msg, "\"sendID\":\"bob\"");
        HAS(content, "\"customInfo\":\"candidate:1\"");
        free(msg);
        free(content);

        /* hang-up */
        snprintf(needle, sizeof(needle),
                 "{\"hungUp\":{\"invitation\":{\"roomID\":\"%s\"},\"userID\":\"alice\"}}",
                 room);
        send_upstream(env, "up-bye", "alice", needle, room);
        json = reply_json(env, "alice", "up-bye");
        HAS(json, "\"hungUp\":{}");
        free(json);
        note_json(env, "bob", "up-bye", &msg, &content);
        HAS(content, "\"hungUp\":{");
        HAS(content, "\"userID\":\"alice\"");
        free(msg);
        free(content);
        bson_destroy(env_wait_call(env, room, "ended", "hung_up"));

        /* the RtcService read methods, encoded and decoded upstream */
        send_upstream_rtc(env, "up-rec", "bob", 7, "openim.rtc.GetSignalInvitationRecordsReq",
                          "{\"pagination\":{\"pageNumber\":1,\"showNumber\":10}}", "bob");
        json = reply_json_rtc(env, "bob", "up-rec", 7,
                              "openim.rtc.GetSignalInvitationRecordsResp");
        HAS(json, "\"total\":1,");
        snprintf(needle, sizeof(needle), "\"roomID\":\"%s\",\"sID\":\"%s\"", room, room);
        HAS(json, needle);
        HAS(json, "\"mediaType\":\"audio\",\"sessionType\":1,\"inviterUserID\":\"alice\","
                  "\"inviterUserNickname\":\"Al\"");
        HAS(json, "\"inviterUsers\":[{\"userID\":\"alice\",\"status\":6},"
                  "{\"userID\":\"bob\",\"status\":6}]");
        HAS(json, "\"endTime\":\"");
        free(json);
        send_upstream_rtc(env, "up-sa", "bob", 5, "openim.rtc.GetSignalInvitationInfoStartAppReq",
                          "{\"userID\":\"bob\"}", "bob");
        json = reply_json_rtc(env, "bob", "up-sa", 5,
                              "openim.rtc.GetSignalInvitationInfoStartAppResp");
        TEST_STREQ(json, "{}");
        free(json);
        snprintf(needle, sizeof(needle), "{\"sIDs\":[\"%s\"]}", room);
        send_upstream_rtc(env, "up-del", "bob", 8, "openim.rtc.DeleteSignalRecordsReq",
                          needle, "bob");
        json = reply_json_rtc(env, "bob", "up-del", 8, "openim.rtc.DeleteSignalRecordsResp");
        TEST_STREQ(json, "{}");
        free(json);
        snprintf(needle, sizeof(needle), "{\"roomIDs\":[\"%s\"]}", room);
        send_upstream_rtc(env, "up-rooms", "alice", 3, "openim.rtc.SignalGetRoomsReq",
                          needle, "alice");
        json = reply_json_rtc(env, "alice", "up-rooms", 3, "openim.rtc.SignalGetRoomsResp");
        TEST_STREQ(json, "{}"); /* the call ended: no room */
        free(json);

        env_stop(env);
        return test_done();
}
