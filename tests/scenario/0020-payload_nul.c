/*
 * 0020: a payload string with an embedded NUL byte is an invalid request.
 *
 * protobuf-c NUL-terminates the strings it unpacks, so an accept whose
 * invitation.roomID is "room-nul\0cd" would arrive as "room-nul" and accept
 * that call. Proves: such an accept is answered 1001 (with the accept resp
 * case, like any refused accept) and changes nothing: the invitee is still
 * ringing, the inviter gets no notification, and a proper accept of the
 * same call afterwards succeeds.
 *
 * Needs handler.c to judge requests with cs_codec_request_valid() (codec.h)
 * in place of cs_codec_strings_valid(): before that, this scenario fails
 * with errCode 0 for the NUL accept.
 */
#include "harness.h"

TEST_MAIN_DEFS

#define ROOM "room-nul"
/* The roomID sent: ROOM, a byte written as 0x00 after packing, "cd". */
#define ROOM_WITH_MARK ROOM "#cd"

int main(void) {
        env_t *env = env_start("payloadnul", NULL);
        env_watch(env, "alice");
        env_watch(env, "bob");

        env_send(env, cmd_invite("nul-inv", "alice", (const char *[]){"bob", NULL},
                                 ROOM, NULL, "audio", 0),
                 NULL, -1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "alice", "nul-inv"))->errcode, 0);
        env_expect_note(env, "bob", "nul-inv");
        env_expect_note(env, "alice", "nul-inv");

        /* bob accepts "room-nul\0cd": packed with a marker byte of the
         * same length, which is then turned into the NUL. */
        cmd_t *c = cmd_action("nul-acc", "bob", OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT,
                              ROOM_WITH_MARK);
        size_t len;
        uint8_t *buf = cmd_pack(c, &len);
        cmd_free(c);
        size_t mlen = strlen(ROOM_WITH_MARK), hits = 0;
        for (size_t i = 0; i + mlen <= len; i++) {
                if (!memcmp(buf + i, ROOM_WITH_MARK, mlen)) {
                        buf[i + strlen(ROOM)] = 0x00;
                        hits++;
                }
        }
        TEST_INTEQ(hits, 1);
        env_send_raw(env, buf, len, ROOM, -1);
        free(buf);

        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, "bob", "nul-acc"));
        TEST_INTEQ(r->errcode, 1001);
        TEST_ASSERT(strstr(r->errmsg, "roomID"), "errMsg names the field: %s", r->errmsg);
        TEST_ASSERT(r->resp && r->resp->payload_case == OPENIM__V2__SIGNAL_RESP__PAYLOAD_ACCEPT,
                    "the accept resp case is set");
        TEST_ASSERT(!r->resp->accept || !r->resp->accept->token ||
                            !r->resp->accept->token[0],
                    "no token for a refused accept");

        /* Nothing changed: bob still rings, alice heard nothing. */
        bson_t *doc = env_wait_call(env, ROOM, "ringing", NULL);
        TEST_STREQ(doc_str(doc, "participants.1.userID"), "bob");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "ringing");
        bson_destroy(doc);
        TEST_INTEQ(env_count(env, "alice", "nul-acc", "notification", 300), 0);

        /* The real accept still works. */
        env_send(env, cmd_action("ok-acc", "bob", OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT,
                                 ROOM),
                 NULL, -1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "bob", "ok-acc"))->errcode, 0);
        env_expect_note(env, "alice", "ok-acc");
        doc = env_wait_call(env, ROOM, "active", NULL);
        bson_destroy(doc);

        env_stop(env);
        return test_done();
}
