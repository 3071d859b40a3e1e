/*
 * test_codec.c: the protobuf edge (contract sections 3 and 4).
 *
 * Decoding: valid commands, every undecodable reason, protobuf-c's (lack of)
 * UTF-8 validation, and random or truncated bytes that must never crash.
 * Packing: reply and notification round trips with every field checked,
 * byte-identical output, message ids. Hand-written wire bytes (a tiny
 * writer below that knows nothing of protobuf-c) pin the field numbers to
 * the contract tables in both directions.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "test.h"

TEST_MAIN_DEFS

/* protobuf-c structs take char *; test literals are const. */
#define S(lit) ((char *)(uintptr_t)(lit))

static const char *const option_keys[] = {
        "history", "persistent", "unreadCount", "conversationUpdate",
        "senderSync",
};

/* ---- a minimal protobuf wire writer, independent of protobuf-c ---- */

typedef struct wbuf_s {
        uint8_t b[4096];
        size_t len;
} wbuf_t;

static void w_byte(wbuf_t *w, uint8_t v) {
        TEST_ASSERT(w->len < sizeof(w->b), "wbuf overflow");
        w->b[w->len++] = v;
}

static void w_varint(wbuf_t *w, uint64_t v) {
        while (v >= 0x80) {
                w_byte(w, (uint8_t)(v | 0x80));
                v >>= 7;
        }
        w_byte(w, (uint8_t)v);
}

static void w_bytes(wbuf_t *w, unsigned field, const void *p, size_t n) {
        w_varint(w, (uint64_t)field << 3 | 2);
        w_varint(w, n);
        TEST_ASSERT(w->len + n <= sizeof(w->b), "wbuf overflow");
        memcpy(w->b + w->len, p, n);
        w->len += n;
}

static void w_str(wbuf_t *w, unsigned field, const char *s) {
        w_bytes(w, field, s, strlen(s));
}

static void w_int(wbuf_t *w, unsigned field, uint64_t v) {
        w_varint(w, (uint64_t)field << 3 | 0);
        w_varint(w, v);
}

static void w_msg(wbuf_t *w, unsigned field, const wbuf_t *sub) {
        w_bytes(w, field, sub->b, sub->len);
}

/* ---- building test inputs with protobuf-c ---- */

/* Storage for one invite command; pointers point into it. */
typedef struct invite_fixture_s {
        Callsig__V1__SignalCommand cmd;
        Openim__V2__SignalReq req;
        Openim__V2__SignalInviteReq invite;
        Openim__V2__InvitationInfo inv;
        Openim__V2__OfflinePushInfo push_info;
        char *invitees[2];
} invite_fixture_t;

static void invite_fixture_init(invite_fixture_t *f) {
        callsig__v1__signal_command__init(&f->cmd);
        openim__v2__signal_req__init(&f->req);
        openim__v2__signal_invite_req__init(&f->invite);
        openim__v2__invitation_info__init(&f->inv);
        openim__v2__offline_push_info__init(&f->push_info);

        f->invitees[0] = S("bob");
        f->invitees[1] = S("carol");
        f->inv.inviteruserid = S("alice");
        f->inv.n_inviteeuseridlist = 2;
        f->inv.inviteeuseridlist = f->invitees;
        f->inv.groupid = S("g1");
        f->inv.roomid = S("room-1");
        f->inv.timeout = 30;
        f->inv.mediatype = S("video");
        f->inv.platformid = 5;
        f->inv.sessiontype = 2;
        f->inv.initiatetime = 1700000000;

        f->push_info.title = S("Incoming call");
        f->push_info.desc = S("alice calls");
        f->push_info.ex = S("{\"k\":1}");
        f->push_info.iospushsound = S("ring.caf");
        f->push_info.iosbadgecount = 1;

        f->invite.opuserid = S("alice");
        f->invite.invitation = &f->inv;
        f->invite.offlinepushinfo = &f->push_info;

        f->req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE;
        f->req.invite = &f->invite;

        f->cmd.operationid = S("op-1");
        f->cmd.sendid = S("alice");
        f->cmd.platformid = 5;
        f->cmd.connid = S("conn-7");
        f->cmd.msgincr = S("incr-9");
        f->cmd.req = &f->req;
        f->cmd.sentat = 1700000000123;
}

static uint8_t *pack_cmd(const Callsig__V1__SignalCommand *cmd, size_t *lenp) {
        return cs_codec_pack(&cmd->base, lenp);
}

/* Decodes and expects UNDECODABLE with exactly @p reason. */
static void expect_undecodable(const void *buf, size_t len,
                               const char *reason) {
        cs_command_t *cmd = (cs_command_t *)0x1;
        char errstr[256] = "";

        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, buf, len, &cmd, errstr,
                                           sizeof(errstr)),
                   CS_ERR_UNDECODABLE);
        TEST_ASSERT(cmd == NULL, "no command on failure");
        TEST_STREQ(errstr, reason);
}

static void expect_ok(const void *buf, size_t len) {
        cs_command_t *cmd = NULL;
        char errstr[256] = "";
        cs_err_t err =
                cs_codec_decode_command(CS_DIALECT_V2, buf, len, &cmd, errstr, sizeof(errstr));

        TEST_ASSERT(err == CS_OK, "expected CS_OK, got %d (%s)", err, errstr);
        TEST_ASSERT(cmd != NULL, "command");
        cs_codec_command_free(cmd);
}

/* ---- decoding ---- */

static void test_decode_valid(void) {
        invite_fixture_t f;
        cs_command_t *cmd = NULL;
        Openim__V2__InvitationInfo *inv;
        char errstr[128] = "";
        uint8_t *buf;
        size_t len;

        invite_fixture_init(&f);
        buf = pack_cmd(&f.cmd, &len);
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, buf, len, &cmd, errstr,
                                           sizeof(errstr)),
                   CS_OK);
        TEST_STREQ(errstr, ""); /* untouched on success */
        TEST_STREQ(cmd->operation_id, "op-1");
        TEST_STREQ(cmd->send_id, "alice");
        TEST_INTEQ(cmd->platform_id, 5);
        TEST_STREQ(cmd->conn_id, "conn-7");
        TEST_STREQ(cmd->msg_incr, "incr-9");
        TEST_INTEQ(cmd->sent_at, 1700000000123);
        TEST_ASSERT(cmd->wire->req != NULL, "req");
        TEST_INTEQ(cmd->wire->req->payload_case,
                   OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE);
        TEST_STREQ(cmd->wire->req->invite->opuserid, "alice");
        inv = cmd->wire->req->invite->invitation;
        TEST_STREQ(inv->inviteruserid, "alice");
        TEST_INTEQ(inv->n_inviteeuseridlist, 2);
        TEST_STREQ(inv->inviteeuseridlist[0], "bob");
        TEST_STREQ(inv->inviteeuseridlist[1], "carol");
        TEST_STREQ(inv->groupid, "g1");
        TEST_STREQ(inv->roomid, "room-1");
        TEST_INTEQ(inv->timeout, 30);
        TEST_STREQ(inv->mediatype, "video");
        TEST_INTEQ(inv->sessiontype, 2);
        TEST_INTEQ(inv->initiatetime, 1700000000);
        TEST_STREQ(cmd->wire->req->invite->offlinepushinfo->title, "Incoming call");
        TEST_ASSERT(cs_codec_strings_valid(&cmd->wire->base), "valid UTF-8");
        cs_codec_command_free(cmd);
        cs_codec_command_free(NULL);
        free(buf);
}

static void test_decode_no_payload(void) {
        invite_fixture_t f;
        Openim__V2__SignalReq empty_req;
        cs_command_t *cmd = NULL;
        char errstr[128];
        uint8_t *buf;
        size_t len;

        /* req absent */
        invite_fixture_init(&f);
        f.cmd.req = NULL;
        buf = pack_cmd(&f.cmd, &len);
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, buf, len, &cmd, errstr,
                                           sizeof(errstr)),
                   CS_OK);
        TEST_ASSERT(cmd->wire->req == NULL, "req absent");
        cs_codec_command_free(cmd);
        free(buf);

        /* req present, payload not set */
        openim__v2__signal_req__init(&empty_req);
        f.cmd.req = &empty_req;
        buf = pack_cmd(&f.cmd, &len);
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, buf, len, &cmd, errstr,
                                           sizeof(errstr)),
                   CS_OK);
        TEST_ASSERT(cmd->wire->req != NULL, "req present");
        TEST_INTEQ(cmd->wire->req->payload_case,
                   OPENIM__V2__SIGNAL_REQ__PAYLOAD__NOT_SET);
        cs_codec_command_free(cmd);
        free(buf);
}

static void test_decode_undecodable(void) {
        static const uint8_t garbage[] = {0xff, 0xff, 0xff};
        invite_fixture_t f;
        char id[CS_CODEC_ID_MAX + 2];
        cs_command_t *cmd = NULL;
        uint8_t *buf;
        size_t len;
        wbuf_t w;

        expect_undecodable(garbage, sizeof(garbage),
                           "not a SignalCommand (protobuf decode failed)");
        /* field 1 with the varint wire type */
        expect_undecodable("\x08\x01", 2,
                           "not a SignalCommand (protobuf decode failed)");
        /* length past the end */
        expect_undecodable("\x0a\x05op", 4,
                           "not a SignalCommand (protobuf decode failed)");
        /* a start-group wire type */
        expect_undecodable("\x0b", 1,
                           "not a SignalCommand (protobuf decode failed)");
        expect_undecodable(NULL, 5, "not a SignalCommand (no bytes)");

        /* empty input (a tombstone) is an empty command */
        expect_undecodable(NULL, 0, "missing operationID");
        expect_undecodable("", 0, "missing operationID");

        invite_fixture_init(&f);
        f.cmd.operationid = S("");
        buf = pack_cmd(&f.cmd, &len);
        expect_undecodable(buf, len, "missing operationID");
        free(buf);

        invite_fixture_init(&f);
        f.cmd.sendid = S("");
        buf = pack_cmd(&f.cmd, &len);
        expect_undecodable(buf, len, "missing sendID");
        free(buf);

        /* The 256-byte limit: 256 accepted, 257 rejected, both fields. */
        memset(id, 'x', sizeof(id));
        id[CS_CODEC_ID_MAX] = '\0';
        invite_fixture_init(&f);
        f.cmd.operationid = id;
        f.cmd.sendid = id;
        buf = pack_cmd(&f.cmd, &len);
        expect_ok(buf, len);
        free(buf);

        id[CS_CODEC_ID_MAX] = 'x';
        id[CS_CODEC_ID_MAX + 1] = '\0';
        f.cmd.operationid = id;
        f.cmd.sendid = S("alice");
        buf = pack_cmd(&f.cmd, &len);
        expect_undecodable(buf, len, "operationID longer than 256 bytes");
        free(buf);
        f.cmd.operationid = S("op-1");
        f.cmd.sendid = id;
        buf = pack_cmd(&f.cmd, &len);
        expect_undecodable(buf, len, "sendID longer than 256 bytes");
        free(buf);

        /* NUL and control bytes need hand-written bytes (C strings). */
        w.len = 0;
        w_bytes(&w, 1, "op\0x", 4);
        w_str(&w, 2, "alice");
        expect_undecodable(w.b, w.len,
                           "operationID contains a NUL or control byte");
        /* a leading NUL: protobuf-c would yield "", still this reason */
        w.len = 0;
        w_bytes(&w, 1, "\0op", 3);
        w_str(&w, 2, "alice");
        expect_undecodable(w.b, w.len,
                           "operationID contains a NUL or control byte");
        w.len = 0;
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "ali\tce");
        expect_undecodable(w.b, w.len, "sendID contains a NUL or control byte");
        w.len = 0;
        w_str(&w, 1, "op\x7f");
        w_str(&w, 2, "alice");
        expect_undecodable(w.b, w.len,
                           "operationID contains a NUL or control byte");
        w.len = 0;
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "al\nice");
        expect_undecodable(w.b, w.len, "sendID contains a NUL or control byte");

        /* Invalid UTF-8: truncated 4-byte form, overlong NUL, surrogate,
         * above U+10FFFF, a lone continuation byte. */
        w.len = 0;
        w_str(&w, 1, "\xf0\x80");
        w_str(&w, 2, "alice");
        expect_undecodable(w.b, w.len, "operationID is not valid UTF-8");
        w.len = 0;
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "\xc0\x80");
        expect_undecodable(w.b, w.len, "sendID is not valid UTF-8");
        w.len = 0;
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "\xed\xa0\x80");
        expect_undecodable(w.b, w.len, "sendID is not valid UTF-8");
        w.len = 0;
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "\xf4\x90\x80\x80");
        expect_undecodable(w.b, w.len, "sendID is not valid UTF-8");
        w.len = 0;
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "a\x80");
        expect_undecodable(w.b, w.len, "sendID is not valid UTF-8");

        /* Valid non-ASCII UTF-8 is fine (2-, 3- and 4-byte forms). */
        w.len = 0;
        w_str(&w, 1, "op-\xc3\xa9");
        w_str(&w, 2, "\xe4\xb8\xad\xf0\x9f\x98\x80");
        expect_ok(w.b, w.len);

        /* Every occurrence is checked, not only the last (which wins). */
        w.len = 0;
        w_bytes(&w, 1, "a\0b", 3);
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "alice");
        expect_undecodable(w.b, w.len,
                           "operationID contains a NUL or control byte");
        w.len = 0;
        w_str(&w, 1, "first");
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "alice");
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, w.b, w.len, &cmd, NULL, 0), CS_OK);
        TEST_STREQ(cmd->operation_id, "op-1");
        cs_codec_command_free(cmd);

        /* errstr may be NULL. */
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, garbage, sizeof(garbage), &cmd,
                                           NULL, 0),
                   CS_ERR_UNDECODABLE);
        TEST_ASSERT(cmd == NULL, "no command");

        /* A short errstr is truncated, not overrun. */
        {
                char small[8];

                memset(small, 'Z', sizeof(small));
                TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, garbage, sizeof(garbage),
                                                   &cmd, small, 4),
                           CS_ERR_UNDECODABLE);
                TEST_STREQ(small, "not");
                TEST_ASSERT(small[4] == 'Z', "no overrun");
        }
}

/*
 * protobuf-c 1.4.1 does not validate UTF-8 in string fields: invalid bytes
 * in any string field unpack as they are. This test pins that behaviour (if
 * an upgrade starts rejecting them, this test says so) and shows that
 * cs_codec_strings_valid() catches it at any depth.
 */
static void test_protobuf_c_utf8(void) {
        Openim__V2__SignalReq *req;
        cs_command_t *cmd = NULL;
        wbuf_t inv, invite, sreq, w;

        /* SignalReq{invite{invitation{roomID = f0 80}}} */
        inv.len = invite.len = sreq.len = w.len = 0;
        w_str(&inv, 5, "\xf0\x80");
        w_msg(&invite, 2, &inv);
        w_msg(&sreq, 1, &invite);
        req = openim__v2__signal_req__unpack(NULL, sreq.len, sreq.b);
        TEST_ASSERT(req != NULL, "protobuf-c 1.4.1 accepts invalid UTF-8");
        TEST_STREQ(req->invite->invitation->roomid, "\xf0\x80");
        TEST_ASSERT(!cs_codec_strings_valid(&req->base), "caught");
        openim__v2__signal_req__free_unpacked(req, NULL);

        /* In a command: decodes (only the ids are checked), and the
         * payload check finds it; connID likewise. */
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "alice");
        w_msg(&w, 6, &sreq);
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, w.b, w.len, &cmd, NULL, 0), CS_OK);
        TEST_ASSERT(!cs_codec_strings_valid(&cmd->wire->base), "caught in command");
        TEST_ASSERT(cs_codec_strings_valid(&cmd->wire->req->base) == false,
                    "caught in req");
        cs_codec_command_free(cmd);

        w.len = 0;
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "alice");
        w_str(&w, 4, "\xff");
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, w.b, w.len, &cmd, NULL, 0), CS_OK);
        TEST_STREQ(cmd->conn_id, "\xff");
        TEST_ASSERT(!cs_codec_strings_valid(&cmd->wire->base), "connID caught");
        cs_codec_command_free(cmd);

        /* A repeated string field. */
        inv.len = invite.len = sreq.len = 0;
        w_str(&inv, 2, "bob");
        w_str(&inv, 2, "\xc3");
        w_msg(&invite, 2, &inv);
        w_msg(&sreq, 2, &invite); /* inviteInGroup */
        req = openim__v2__signal_req__unpack(NULL, sreq.len, sreq.b);
        TEST_ASSERT(req != NULL, "decodes");
        TEST_ASSERT(!cs_codec_strings_valid(&req->base), "repeated caught");
        openim__v2__signal_req__free_unpacked(req, NULL);

        /* The oneof walk only looks at the set member. */
        TEST_ASSERT(cs_codec_strings_valid(NULL), "NULL is valid");
}

/* Wraps SignalReq bytes @p sreq into a command op-1 from alice, decodes it
 * (must be CS_OK) and returns it. */
static cs_command_t *decode_with_req(const wbuf_t *sreq) {
        cs_command_t *cmd = NULL;
        char errstr[128] = "";
        wbuf_t w;

        w.len = 0;
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "alice");
        w_msg(&w, 6, sreq);
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, w.b, w.len, &cmd, errstr,
                                           sizeof(errstr)),
                   CS_OK);
        TEST_ASSERT(cmd != NULL, "decoded: %s", errstr);
        return cmd;
}

/* Expects the request of @p cmd (freed) to be refused with @p reason. */
static void expect_request_invalid(cs_command_t *cmd, const char *reason) {
        const char *why = NULL;

        TEST_ASSERT(!cs_codec_request_valid(cmd, &why), "refused: %s",
                    reason);
        TEST_STREQ(why, reason);
        /* whyp may be NULL */
        TEST_ASSERT(!cs_codec_request_valid(cmd, NULL), "refused again");
        cs_codec_command_free(cmd);
}

static void expect_request_valid(cs_command_t *cmd) {
        const char *why = "untouched";

        TEST_ASSERT(cs_codec_request_valid(cmd, &why), "valid request");
        TEST_STREQ(why, "untouched");
        cs_codec_command_free(cmd);
}

/*
 * protobuf-c NUL-terminates unpacked strings, so an embedded NUL silently
 * cuts a payload string short ("ab\0cd" arrives as "ab"): such a request is
 * invalid (1001). Only the wire bytes show it, at any depth.
 */
static void test_request_nul(void) {
        wbuf_t inv, act, sreq, pm, gm, ui, cr;
        cs_command_t *cmd;

        /* accept{invitation{roomID = "ab\0cd"}} */
        inv.len = act.len = sreq.len = 0;
        w_str(&inv, 1, "alice");
        w_bytes(&inv, 5, "ab\0cd", 5);
        w_int(&inv, 6, 30);
        w_str(&act, 1, "bob");
        w_msg(&act, 2, &inv);
        w_int(&act, 5, 2);
        w_msg(&sreq, 4, &act);
        cmd = decode_with_req(&sreq);
        /* what protobuf-c makes of it: pinned, so an upgrade that changes
         * it is noticed */
        TEST_INTEQ(cmd->wire->req->payload_case, OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT);
        TEST_STREQ(cmd->wire->req->accept->invitation->roomid, "ab");
        TEST_ASSERT(cs_codec_strings_valid(&cmd->wire->req->base),
                    "the unpacked strings look fine");
        expect_request_invalid(cmd,
                               "accept.invitation.roomID contains a NUL byte");

        /* a leading NUL: protobuf-c would give "" */
        inv.len = act.len = sreq.len = 0;
        w_bytes(&inv, 5, "\0room", 5);
        w_msg(&act, 2, &inv);
        w_msg(&sreq, 6, &act); /* reject */
        expect_request_invalid(decode_with_req(&sreq),
                               "reject.invitation.roomID contains a NUL byte");

        /* a lone NUL */
        inv.len = act.len = sreq.len = 0;
        w_bytes(&inv, 5, "\0", 1);
        w_msg(&act, 2, &inv);
        w_msg(&sreq, 5, &act); /* hungUp */
        expect_request_invalid(decode_with_req(&sreq),
                               "hungUp.invitation.roomID contains a NUL byte");

        /* the second invitee of an inviteInGroup */
        inv.len = act.len = sreq.len = 0;
        w_str(&inv, 2, "bob");
        w_bytes(&inv, 2, "car\0ol", 6);
        w_str(&inv, 4, "grp-1");
        w_str(&inv, 7, "video");
        w_msg(&act, 2, &inv);
        w_msg(&sreq, 2, &act);
        expect_request_invalid(
                decode_with_req(&sreq),
                "inviteInGroup.invitation.inviteeUserIDList contains a NUL "
                "byte");

        /* groupID of a getRoomByGroupID */
        act.len = sreq.len = 0;
        w_str(&act, 1, "alice");
        w_bytes(&act, 2, "grp\0-1", 6);
        w_msg(&sreq, 7, &act);
        expect_request_invalid(decode_with_req(&sreq),
                               "getRoomByGroupID.groupID contains a NUL byte");

        /* nested: invite.participant.groupMemberInfo.nickname */
        inv.len = act.len = sreq.len = pm.len = gm.len = 0;
        w_str(&inv, 2, "bob");
        w_str(&inv, 5, "room-1");
        w_str(&gm, 1, "grp-1");
        w_bytes(&gm, 5, "Al\0ice", 6);
        w_int(&gm, 3, 0);
        w_msg(&pm, 2, &gm);
        w_str(&act, 1, "alice");
        w_msg(&act, 2, &inv);
        w_msg(&act, 4, &pm);
        w_msg(&sreq, 1, &act);
        cmd = decode_with_req(&sreq);
        TEST_STREQ(cmd->wire->req->invite->participant->groupmemberinfo->nickname,
                   "Al");
        expect_request_invalid(
                cmd,
                "invite.participant.groupMemberInfo.nickname contains a NUL "
                "byte");

        /* a repeated sub-message: the second participant of case 8 */
        cr.len = sreq.len = ui.len = pm.len = 0;
        w_str(&ui, 1, "u1");
        w_msg(&pm, 3, &ui);
        w_msg(&cr, 2, &pm);
        ui.len = pm.len = 0;
        w_str(&ui, 1, "u2");
        w_bytes(&ui, 5, "{\"a\":\0}", 7);
        w_msg(&pm, 3, &ui);
        w_msg(&cr, 2, &pm);
        w_msg(&sreq, 8, &cr);
        expect_request_invalid(
                decode_with_req(&sreq),
                "onRoomParticipantConnectedReq.participant.userInfo.ex "
                "contains a NUL byte");

        /* an occurrence protobuf-c overwrites (the last one wins) counts */
        inv.len = act.len = sreq.len = 0;
        w_bytes(&inv, 5, "a\0b", 3);
        w_str(&inv, 5, "room-1");
        w_msg(&act, 2, &inv);
        w_msg(&sreq, 4, &act);
        cmd = decode_with_req(&sreq);
        TEST_STREQ(cmd->wire->req->accept->invitation->roomid, "room-1");
        expect_request_invalid(cmd,
                               "accept.invitation.roomID contains a NUL byte");

        /* ... as does a oneof member that a later one replaced */
        inv.len = act.len = sreq.len = 0;
        w_bytes(&act, 1, "x\0", 2);
        w_msg(&sreq, 3, &act); /* cancel, then accept */
        act.len = 0;
        w_str(&act, 1, "bob");
        w_msg(&sreq, 4, &act);
        cmd = decode_with_req(&sreq);
        TEST_INTEQ(cmd->wire->req->payload_case, OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT);
        expect_request_invalid(cmd, "cancel.opUserID contains a NUL byte");

        /* invalid UTF-8 is named the same way */
        inv.len = act.len = sreq.len = 0;
        w_str(&inv, 5, "\xf0\x80");
        w_msg(&act, 2, &inv);
        w_msg(&sreq, 1, &act);
        expect_request_invalid(decode_with_req(&sreq),
                               "invite.invitation.roomID is not valid UTF-8");

        /* the first problem is the one reported */
        inv.len = act.len = sreq.len = 0;
        w_bytes(&inv, 1, "in\0viter", 8);
        w_bytes(&inv, 5, "ro\0om", 5);
        w_msg(&act, 2, &inv);
        w_msg(&sreq, 4, &act);
        expect_request_invalid(
                decode_with_req(&sreq),
                "accept.invitation.inviterUserID contains a NUL byte");
}

/* No false positives: empty strings, zero numbers, unknown fields and
 * packed numbers whose bytes are 0x00, empty sub-messages, non-ASCII. */
static void test_request_valid(void) {
        static const uint8_t packed[] = {0x00, 0x01, 0x00, 0x80, 0x01};
        static const uint8_t zeros[8] = {0};
        invite_fixture_t f;
        wbuf_t inv, act, sreq, pm, gm, w;
        cs_command_t *cmd = NULL;
        uint8_t *buf;
        size_t len;

        /* an ordinary invite from protobuf-c */
        invite_fixture_init(&f);
        buf = pack_cmd(&f.cmd, &len);
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, buf, len, &cmd, NULL, 0), CS_OK);
        free(buf);
        expect_request_valid(cmd);

        inv.len = act.len = sreq.len = pm.len = gm.len = 0;
        w_str(&inv, 1, "");          /* empty strings, explicitly sent */
        w_str(&inv, 2, "");
        w_str(&inv, 2, "b\xc3\xa9");
        w_str(&inv, 5, "");
        w_int(&inv, 6, 0);           /* varint 0: a 0x00 byte */
        w_int(&inv, 8, 0);
        w_bytes(&inv, 99, packed, sizeof(packed)); /* unknown, packed ints */
        w_bytes(&inv, 98, "\0\0", 2);             /* unknown, NUL bytes */
        w_varint(&inv, (uint64_t)97 << 3 | 1);    /* unknown fixed64 */
        for (size_t i = 0; i < 8; i++)
                w_byte(&inv, zeros[i]);
        w_varint(&inv, (uint64_t)96 << 3 | 5);    /* unknown fixed32 */
        for (size_t i = 0; i < 4; i++)
                w_byte(&inv, zeros[i]);
        w_msg(&pm, 1, &gm);                       /* empty sub-message */
        w_str(&act, 1, "\xe4\xb8\xad\xf0\x9f\x98\x80");
        w_msg(&act, 2, &inv);
        w_msg(&act, 4, &pm);
        w_int(&act, 5, 0);
        w_bytes(&act, 50, "\0", 1);               /* unknown in accept */
        w_msg(&sreq, 4, &act);
        w_bytes(&sreq, 77, "\0x", 2);             /* unknown in SignalReq */
        cmd = decode_with_req(&sreq);
        TEST_STREQ(cmd->wire->req->accept->invitation->roomid, "");
        expect_request_valid(cmd);

        /* an empty payload message is a payload (cancel{}) */
        sreq.len = act.len = 0;
        w_msg(&sreq, 3, &act);
        expect_request_valid(decode_with_req(&sreq));

        /* NULs outside the req payload are not its business: an unknown
         * envelope field (connID and the ids are the envelope's) */
        sreq.len = act.len = 0;
        w_msg(&sreq, 3, &act);
        w.len = 0;
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "alice");
        w_bytes(&w, 40, "\0\0", 2);
        w_msg(&w, 6, &sreq);
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, w.b, w.len, &cmd, NULL, 0), CS_OK);
        expect_request_valid(cmd);

        /* no req, or a req without a payload: not a valid request */
        w.len = 0;
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "alice");
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, w.b, w.len, &cmd, NULL, 0), CS_OK);
        expect_request_invalid(cmd, "request has no payload");
        sreq.len = 0;
        expect_request_invalid(decode_with_req(&sreq), "request has no payload");

        /* a string made invalid after decoding is still caught */
        invite_fixture_init(&f);
        buf = pack_cmd(&f.cmd, &len);
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, buf, len, &cmd, NULL, 0), CS_OK);
        free(buf);
        {
                char *saved = cmd->wire->req->invite->opuserid;
                const char *why = NULL;

                cmd->wire->req->invite->opuserid = S("\xc3");
                TEST_ASSERT(!cs_codec_request_valid(cmd, &why), "caught");
                TEST_STREQ(why, "a string field is not valid UTF-8");
                cmd->wire->req->invite->opuserid = saved;
        }
        expect_request_valid(cmd);
}

/* xorshift64*: a fixed-seed generator, so failures reproduce. */
static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

/* Decodes anything; must give OK (with valid ids) or UNDECODABLE. */
static int fuzz_one(const uint8_t *buf, size_t len) {
        cs_command_t *cmd = NULL;
        char errstr[128] = "";
        cs_err_t err =
                cs_codec_decode_command(CS_DIALECT_V2, buf, len, &cmd, errstr, sizeof(errstr));

        if (err == CS_OK) {
                uint8_t *out;
                size_t out_len;

                if (!cmd || !*cmd->operation_id || !*cmd->send_id ||
                    strlen(cmd->operation_id) > CS_CODEC_ID_MAX)
                        TEST_FAIL("CS_OK with a bad command");
                /* Whatever decodes can be answered. */
                out = cs_codec_pack_reply(cmd->send_id, cmd, CS_ERR_INVALID,
                                          "x", NULL, &out_len);
                free(out);
                (void)cs_codec_strings_valid(&cmd->wire->base);
                (void)cs_codec_request_valid(cmd, NULL);
                cs_codec_command_free(cmd);
                return 1;
        }
        if (err != CS_ERR_UNDECODABLE || cmd != NULL || !*errstr)
                TEST_FAIL("unexpected outcome %d", err);
        return 0;
}

static void test_fuzz(void) {
        invite_fixture_t f;
        uint8_t buf[512];
        uint8_t *valid;
        size_t valid_len, i, j;
        int ok = 0, ok_trunc = 0;

        /* 10000 random buffers of 0..511 bytes. */
        for (i = 0; i < 10000; i++) {
                size_t len = (size_t)(rng() % sizeof(buf));

                for (j = 0; j < len; j++)
                        buf[j] = (uint8_t)rng();
                ok += fuzz_one(buf, len);
        }

        /* Every truncation of a valid command. */
        invite_fixture_init(&f);
        valid = pack_cmd(&f.cmd, &valid_len);
        TEST_ASSERT(valid_len < sizeof(buf), "fixture fits");
        for (i = 0; i <= valid_len; i++) {
                uint8_t *copy = malloc(i + 1); /* exact size, for ASan */

                memcpy(copy, valid, i);
                ok_trunc += fuzz_one(copy, i);
                free(copy);
        }
        TEST_ASSERT(ok_trunc >= 1, "the full command decodes");

        /* 10000 mutations of a valid command (1-4 random byte changes):
         * these get past the outer layer much more often. */
        for (i = 0; i < 10000; i++) {
                size_t k, n = 1 + (size_t)(rng() % 4);

                memcpy(buf, valid, valid_len);
                for (k = 0; k < n; k++)
                        buf[rng() % valid_len] = (uint8_t)rng();
                ok += fuzz_one(buf, valid_len);
        }
        TEST_SAY("fuzz: %d of 20000 random/mutated buffers decoded, %d of "
                 "%zu truncations",
                 ok, ok_trunc, valid_len + 1);
        free(valid);
}


/* ---- replies ---- */

/* A command as the codec's reply packing reads it. */
static cs_command_t reply_cmd(cs_req_kind_t kind) {
        cs_command_t c;

        memset(&c, 0, sizeof(c));
        c.operation_id = "op-1";
        c.send_id = "alice";
        c.conn_id = "conn-7";
        c.msg_incr = "incr-9";
        c.platform_id = 5;
        c.dialect = CS_DIALECT_V2;
        c.req.kind = kind;
        return c;
}

/* Every SignalResp case, each with its (possibly empty) member set. */
static void test_reply_round_trip(void) {
        static const cs_req_kind_t kinds[9] = {
                CS_REQ_NONE, CS_REQ_INVITE, CS_REQ_INVITE_IN_GROUP,
                CS_REQ_CANCEL, CS_REQ_ACCEPT, CS_REQ_HUNG_UP, CS_REQ_REJECT,
                CS_REQ_GET_ROOM_BY_GROUP_ID, CS_REQ_GET_TOKEN_BY_ROOM_ID};
        char *busy[1] = {S("dave")};
        cs_strv_t busy_v = {busy, 1};
        int rc;

        for (rc = 0; rc <= 8; rc++) {
                Callsig__V1__PushMessage *push;
                Callsig__V1__SignalReply *reply;
                uint8_t *buf, *again;
                size_t len, len2;
                cs_command_t cmd = reply_cmd(kinds[rc]);
                cs_reply_t r;

                memset(&r, 0, sizeof(r));
                if (rc == 1) {
                        r.token = "tok";
                        r.room_id = "room-1";
                        r.live_url = "ws://lk";
                        r.busy = &busy_v;
                } else if (rc == 8) {
                        r.token = "tok2";
                        r.live_url = "ws://lk";
                }

                buf = cs_codec_pack_reply("alice", &cmd, rc ? 0 : 1001,
                                          rc ? "" : "no payload", &r, &len);
                push = callsig__v1__push_message__unpack(NULL, len, buf);
                TEST_ASSERT(push != NULL, "reply %d decodes", rc);
                TEST_STREQ(push->recvid, "alice");
                TEST_INTEQ(push->body_case,
                           CALLSIG__V1__PUSH_MESSAGE__BODY_REPLY);
                reply = push->reply;
                TEST_STREQ(reply->operationid, "op-1");
                TEST_STREQ(reply->msgincr, "incr-9");
                TEST_STREQ(reply->connid, "conn-7");
                TEST_INTEQ(reply->platformid, 5);
                TEST_INTEQ(reply->errcode, rc ? 0 : 1001);
                TEST_STREQ(reply->errmsg, rc ? "" : "no payload");
                TEST_ASSERT(reply->rtc == NULL, "no v3 body in v2");
                /* The case survives even for empty reply messages; a
                 * request without one gets none. */
                if (rc == 0) {
                        TEST_ASSERT(reply->resp == NULL, "resp unset");
                } else {
                        TEST_ASSERT(reply->resp != NULL, "resp present (%d)", rc);
                        TEST_INTEQ(reply->resp->payload_case, rc);
                }
                if (rc == 1) {
                        TEST_STREQ(reply->resp->invite->token, "tok");
                        TEST_STREQ(reply->resp->invite->roomid, "room-1");
                        TEST_STREQ(reply->resp->invite->liveurl, "ws://lk");
                        TEST_INTEQ(reply->resp->invite->n_busylineuseridlist,
                                   1);
                        TEST_STREQ(reply->resp->invite->busylineuseridlist[0],
                                   "dave");
                }
                if (rc == 8) {
                        TEST_STREQ(reply->resp->gettokenbyroomid->token,
                                   "tok2");
                        TEST_STREQ(reply->resp->gettokenbyroomid->liveurl,
                                   "ws://lk");
                }
                callsig__v1__push_message__free_unpacked(push, NULL);

                /* Byte-identical when packed again. */
                again = cs_codec_pack_reply("alice", &cmd, rc ? 0 : 1001,
                                            rc ? "" : "no payload", &r,
                                            &len2);
                TEST_ASSERT(len == len2 && !memcmp(buf, again, len),
                            "deterministic reply %d", rc);
                free(again);
                free(buf);
        }

        /* A server-only case: resp unset on the wire. */
        {
                Callsig__V1__PushMessage *push;
                uint8_t *buf;
                size_t len;
                cs_command_t cmd = reply_cmd(CS_REQ_ROOM_CONNECTED);

                buf = cs_codec_pack_reply("alice", &cmd, 1007, "unsupported",
                                          NULL, &len);
                push = callsig__v1__push_message__unpack(NULL, len, buf);
                TEST_ASSERT(push != NULL, "decodes");
                TEST_ASSERT(push->reply->resp == NULL, "resp unset");
                TEST_INTEQ(push->reply->errcode, 1007);
                TEST_STREQ(push->reply->errmsg, "unsupported");
                callsig__v1__push_message__free_unpacked(push, NULL);
                free(buf);
        }
}

/* The reply's wire bytes, written by hand from the contract tables. */
static void test_reply_wire_bytes(void) {
        cs_command_t cmd;
        wbuf_t want, reply, resp_w, empty;
        uint8_t *buf;
        size_t len;

        memset(&cmd, 0, sizeof(cmd));
        cmd.operation_id = "o1";
        cmd.send_id = "al";
        cmd.platform_id = 5;
        cmd.conn_id = "c";
        cmd.msg_incr = "m";
        cmd.dialect = CS_DIALECT_V2;
        cmd.req.kind = CS_REQ_CANCEL;

        want.len = reply.len = resp_w.len = empty.len = 0;
        w_msg(&resp_w, 3, &empty); /* SignalResp.cancel = 3, empty */
        w_str(&reply, 1, "o1");     /* operationID */
        w_str(&reply, 2, "m");      /* msgIncr */
        w_str(&reply, 3, "c");      /* connID */
        w_int(&reply, 4, 5);        /* platformID */
        w_int(&reply, 5, 1004);     /* errCode */
        w_str(&reply, 6, "bad");    /* errMsg */
        w_msg(&reply, 7, &resp_w);  /* resp */
        w_str(&want, 1, "al");      /* PushMessage.recvID */
        w_msg(&want, 2, &reply);    /* PushMessage.reply */

        buf = cs_codec_pack_reply("al", &cmd, 1004, "bad", NULL, &len);
        TEST_INTEQ(len, want.len);
        TEST_ASSERT(!memcmp(buf, want.b, len), "reply wire bytes");
        free(buf);
        /* And the literal bytes, for the record. */
        TEST_ASSERT(want.len == 30 &&
                            !memcmp(want.b,
                                    "\x0a\x02" "al" "\x12\x18"
                                    "\x0a\x02" "o1" "\x12\x01" "m"
                                    "\x1a\x01" "c" "\x20\x05" "\x28\xec\x07"
                                    "\x32\x03" "bad" "\x3a\x02\x1a\x00",
                                    30),
                    "hand-written hex");
}

/* ---- notifications ---- */

static cs_note_t make_note(const uint8_t *content, size_t content_len) {
        cs_note_t note;

        memset(&note, 0, sizeof(note));
        note.send_id = "alice";
        note.recv_id = "bob";
        note.group_id = "g1";
        note.session_type = 2;
        note.sender_platform = 5;
        note.content = content;
        note.content_len = content_len;
        note.at_ms = 1700000000456;
        note.operation_id = "op-1";
        note.event_type = "invite";
        return note;
}

/* memmem is a GNU extension; this is all the test needs. */
static const uint8_t *find_bytes(const uint8_t *hay, size_t len,
                                 const char *needle) {
        size_t n = strlen(needle), i;

        for (i = 0; i + n <= len; i++)
                if (!memcmp(hay + i, needle, n))
                        return hay + i;
        return NULL;
}

static bool is_hex32(const char *s) {
        size_t i;

        if (strlen(s) != 32)
                return false;
        for (i = 0; i < 32; i++)
                if (!((s[i] >= '0' && s[i] <= '9') ||
                      (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

static Callsig__V1__PushMessage *pack_and_unpack_note(const cs_note_t *note,
                                                      uint8_t **bufp,
                                                      size_t *lenp) {
        Callsig__V1__PushMessage *push;

        *bufp = cs_codec_pack_notification(CS_DIALECT_V2, note, lenp);
        push = callsig__v1__push_message__unpack(NULL, *lenp, *bufp);
        TEST_ASSERT(push != NULL, "notification decodes");
        TEST_INTEQ(push->body_case,
                   CALLSIG__V1__PUSH_MESSAGE__BODY_NOTIFICATION);
        return push;
}

static void test_notification_round_trip(void) {
        Callsig__V1__PushMessage *push;
        Openim__V2__MsgData *msg;
        invite_fixture_t f;
        cs_note_t note;
        uint8_t *content, *buf;
        size_t content_len, len, i;
        const uint8_t *prev = NULL;

        invite_fixture_init(&f);
        content = cs_codec_pack(&f.req.base, &content_len);
        note = make_note(content, content_len);
        push = pack_and_unpack_note(&note, &buf, &len);
        msg = push->notification;

        TEST_STREQ(push->recvid, "bob");
        TEST_STREQ(msg->sendid, "alice");
        TEST_STREQ(msg->recvid, "bob");
        TEST_STREQ(msg->groupid, "g1");
        TEST_STREQ(msg->clientmsgid, "f75132f13cc73d9bc68851458a906627");
        TEST_STREQ(msg->servermsgid, "90a22a8156c34f03d7e0429c15bd1cd3");
        TEST_INTEQ(msg->senderplatformid, 5);
        TEST_STREQ(msg->sendernickname, "");
        TEST_STREQ(msg->senderfaceurl, "");
        TEST_INTEQ(msg->sessiontype, 2);
        TEST_INTEQ(msg->msgfrom, 100);
        TEST_INTEQ(msg->contenttype, 1601);
        TEST_INTEQ(msg->content.len, content_len);
        TEST_ASSERT(!memcmp(msg->content.data, content, content_len),
                    "content carried unchanged");
        TEST_INTEQ(msg->seq, 0);
        TEST_INTEQ(msg->sendtime, 1700000000456);
        TEST_INTEQ(msg->createtime, 1700000000456);
        TEST_INTEQ(msg->status, 0);

        /* options: exactly five, in contract order, all false. */
        TEST_INTEQ(msg->n_options, 5);
        for (i = 0; i < 5; i++) {
                TEST_STREQ(msg->options[i]->key, option_keys[i]);
                TEST_INTEQ(msg->options[i]->value, 0);
        }
        /* ... and in that order on the wire. */
        for (i = 0; i < 5; i++) {
                const uint8_t *at = find_bytes(buf, len, option_keys[i]);

                TEST_ASSERT(at != NULL && at > prev, "key %s in order",
                            option_keys[i]);
                prev = at;
        }

        /* offlinePushInfo copied from the invite. */
        TEST_ASSERT(msg->offlinepushinfo != NULL, "offlinePushInfo");
        TEST_STREQ(msg->offlinepushinfo->title, "Incoming call");
        TEST_STREQ(msg->offlinepushinfo->desc, "alice calls");
        TEST_STREQ(msg->offlinepushinfo->ex, "{\"k\":1}");
        TEST_STREQ(msg->offlinepushinfo->iospushsound, "ring.caf");
        TEST_INTEQ(msg->offlinepushinfo->iosbadgecount, 1);
        callsig__v1__push_message__free_unpacked(push, NULL);

        /* Byte-identical on repeated packing. */
        {
                uint8_t *again;
                size_t len2;

                again = cs_codec_pack_notification(CS_DIALECT_V2, &note, &len2);
                TEST_ASSERT(len == len2 && !memcmp(buf, again, len),
                            "deterministic notification");
                free(again);
        }
        free(buf);
        free(content);
}

static void test_notification_push_info(void) {
        Openim__V2__SignalInviteInGroupReq group_invite;
        Openim__V2__SignalAcceptReq accept;
        Callsig__V1__PushMessage *push;
        invite_fixture_t f;
        cs_note_t note;
        uint8_t *content, *buf;
        size_t content_len, len;

        invite_fixture_init(&f);

        /* inviteInGroup: copied */
        openim__v2__signal_invite_in_group_req__init(&group_invite);
        group_invite.opuserid = S("alice");
        group_invite.invitation = &f.inv;
        group_invite.offlinepushinfo = &f.push_info;
        f.req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP;
        f.req.inviteingroup = &group_invite;
        content = cs_codec_pack(&f.req.base, &content_len);
        note = make_note(content, content_len);
        push = pack_and_unpack_note(&note, &buf, &len);
        TEST_ASSERT(push->notification->offlinepushinfo != NULL, "group");
        TEST_STREQ(push->notification->offlinepushinfo->title,
                   "Incoming call");
        callsig__v1__push_message__free_unpacked(push, NULL);
        free(buf);
        free(content);

        /* accept carrying an offlinePushInfo: not copied */
        openim__v2__signal_accept_req__init(&accept);
        accept.opuserid = S("bob");
        accept.invitation = &f.inv;
        accept.offlinepushinfo = &f.push_info;
        accept.opuserplatformid = 2;
        f.req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT;
        f.req.accept = &accept;
        content = cs_codec_pack(&f.req.base, &content_len);
        note = make_note(content, content_len);
        note.event_type = "accept";
        push = pack_and_unpack_note(&note, &buf, &len);
        TEST_ASSERT(push->notification->offlinepushinfo == NULL, "accept");
        TEST_INTEQ(push->notification->content.len, content_len);
        callsig__v1__push_message__free_unpacked(push, NULL);
        free(buf);
        free(content);

        /* invite without offlinePushInfo: none */
        f.invite.offlinepushinfo = NULL;
        f.req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE;
        f.req.invite = &f.invite;
        content = cs_codec_pack(&f.req.base, &content_len);
        note = make_note(content, content_len);
        push = pack_and_unpack_note(&note, &buf, &len);
        TEST_ASSERT(push->notification->offlinepushinfo == NULL, "none");
        callsig__v1__push_message__free_unpacked(push, NULL);
        free(buf);
        free(content);

        /* content that is not a SignalReq: carried, no offlinePushInfo */
        {
                static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x01};

                note = make_note(junk, sizeof(junk));
                push = pack_and_unpack_note(&note, &buf, &len);
                TEST_ASSERT(push->notification->offlinepushinfo == NULL,
                            "junk");
                TEST_INTEQ(push->notification->content.len, sizeof(junk));
                TEST_ASSERT(!memcmp(push->notification->content.data, junk,
                                    sizeof(junk)),
                            "junk carried");
                callsig__v1__push_message__free_unpacked(push, NULL);
                free(buf);
        }

        /* no content at all */
        note = make_note(NULL, 0);
        push = pack_and_unpack_note(&note, &buf, &len);
        TEST_INTEQ(push->notification->content.len, 0);
        TEST_ASSERT(push->notification->offlinepushinfo == NULL, "empty");
        TEST_INTEQ(push->notification->n_options, 5);
        callsig__v1__push_message__free_unpacked(push, NULL);
        free(buf);
}

static void test_msg_ids(void) {
        static const struct {
                const char *op, *event, *recv;
        } v[] = {
                {"op-1", "invite", "bob"},
                {"op-1", "invite", "carol"},  /* other recipient */
                {"op-1", "cancel", "bob"},    /* other event */
                {"op-2", "invite", "bob"},    /* other operation */
                {"op-1", "invite", "alice"},  /* the sender's own topic */
                {"op-1invite", "", "bob"},    /* no ambiguity by joining */
        };
        char client[CS_ARRAY_SIZE(v)][33], server[CS_ARRAY_SIZE(v)][33];
        size_t i, j;

        for (i = 0; i < CS_ARRAY_SIZE(v); i++) {
                Callsig__V1__PushMessage *push;
                cs_note_t note = make_note(NULL, 0);
                uint8_t *buf;
                size_t len;

                note.operation_id = v[i].op;
                note.event_type = v[i].event;
                note.recv_id = v[i].recv;
                push = pack_and_unpack_note(&note, &buf, &len);
                TEST_ASSERT(is_hex32(push->notification->clientmsgid),
                            "clientMsgID is 32 hex");
                TEST_ASSERT(is_hex32(push->notification->servermsgid),
                            "serverMsgID is 32 hex");
                strcpy(client[i], push->notification->clientmsgid);
                strcpy(server[i], push->notification->servermsgid);
                TEST_ASSERT(strcmp(client[i], server[i]) != 0,
                            "client and server ids differ");
                callsig__v1__push_message__free_unpacked(push, NULL);
                free(buf);
        }
        for (i = 0; i < CS_ARRAY_SIZE(v); i++)
                for (j = i + 1; j < CS_ARRAY_SIZE(v); j++) {
                        TEST_ASSERT(strcmp(client[i], client[j]) != 0,
                                    "clientMsgID %zu != %zu", i, j);
                        TEST_ASSERT(strcmp(server[i], server[j]) != 0,
                                    "serverMsgID %zu != %zu", i, j);
                }
}

/*
 * The whole notification written by hand from the contract's MsgData table
 * (a map entry is a message {1 key, 2 value}; protobuf-c, like every proto3
 * encoder, leaves out the false value).
 */
static void test_notification_wire_bytes(void) {
        static const uint8_t content[] = {0x0a, 0x00}; /* SignalReq{invite{}} */
        wbuf_t want, msg, entry;
        cs_note_t note = make_note(content, sizeof(content));
        uint8_t *buf;
        size_t len, i;

        want.len = msg.len = 0;
        w_str(&msg, 1, "alice");
        w_str(&msg, 2, "bob");
        w_str(&msg, 3, "g1");
        w_str(&msg, 4, "f75132f13cc73d9bc68851458a906627");
        w_str(&msg, 5, "90a22a8156c34f03d7e0429c15bd1cd3");
        w_int(&msg, 6, 5);
        w_int(&msg, 9, 2);
        w_int(&msg, 10, 100);
        w_int(&msg, 11, 1601);
        w_bytes(&msg, 12, content, sizeof(content));
        w_int(&msg, 15, 1700000000456);
        w_int(&msg, 16, 1700000000456);
        for (i = 0; i < 5; i++) {
                entry.len = 0;
                w_str(&entry, 1, option_keys[i]);
                w_msg(&msg, 18, &entry);
        }
        /* invite{} without offlinePushInfo: no field 19 */
        w_str(&want, 1, "bob");
        w_msg(&want, 3, &msg);

        buf = cs_codec_pack_notification(CS_DIALECT_V2, &note, &len);
        TEST_INTEQ(len, want.len);
        TEST_ASSERT(!memcmp(buf, want.b, len), "notification wire bytes");
        free(buf);

        /* With offlinePushInfo: field 19 follows the options. */
        {
                wbuf_t opi, inv_req, sreq;

                opi.len = inv_req.len = sreq.len = 0;
                w_str(&opi, 1, "t");
                w_int(&opi, 5, 1);
                w_msg(&inv_req, 3, &opi);
                w_msg(&sreq, 1, &inv_req);
                note = make_note(sreq.b, sreq.len);
                buf = cs_codec_pack_notification(CS_DIALECT_V2, &note, &len);
                TEST_ASSERT(len >= opi.len + 3, "long enough");
                /* 19 << 3 | 2 = 154 = 0x9a 0x01 */
                TEST_ASSERT(buf[len - opi.len - 3] == 0x9a &&
                                    buf[len - opi.len - 2] == 0x01 &&
                                    buf[len - opi.len - 1] == opi.len &&
                                    !memcmp(buf + len - opi.len, opi.b,
                                            opi.len),
                            "field 19 at the end");
                free(buf);
        }
}

/*
 * Hand-written bytes of a SignalCommand carrying SignalReq{invite{...}}
 * decode to the expected fields: guards the field numbers of the generated
 * code against the contract tables.
 */
static void test_hand_written_invite(void) {
        static const uint8_t wire[] = {
                0x0a, 0x02, 'o', '1',           /* 1 operationID "o1" */
                0x12, 0x02, 'a', 'l',           /* 2 sendID "al" */
                0x18, 0x05,                     /* 3 platformID 5 */
                0x22, 0x01, 'c',                /* 4 connID "c" */
                0x2a, 0x01, 'm',                /* 5 msgIncr "m" */
                0x32, 0x27,                     /* 6 req, 39 bytes */
                0x0a, 0x25,                     /*  1 invite, 37 bytes */
                0x0a, 0x02, 'a', 'l',           /*   1 opUserID "al" */
                0x12, 0x18,                     /*   2 invitation, 24 */
                0x2a, 0x02, 'r', '1',           /*    5 roomID "r1" */
                0x12, 0x03, 'b', 'o', 'b',      /*    2 invitees "bob" */
                0x22, 0x02, 'g', '1',           /*    4 groupID "g1" */
                0x30, 0x1e,                     /*    6 timeout 30 */
                0x3a, 0x05, 'a', 'u', 'd', 'i', 'o', /* 7 mediaType */
                0x48, 0x02,                     /*    9 sessionType 2 */
                0x1a, 0x05,                     /*   3 offlinePushInfo, 5 */
                0x0a, 0x01, 't',                /*    1 title "t" */
                0x28, 0x01,                     /*    5 iOSBadgeCount */
                0x38, 0xe8, 0x07,               /* 7 sentAt 1000 */
        };
        Openim__V2__InvitationInfo *inv;
        cs_command_t *cmd = NULL;
        char errstr[128] = "";

        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, wire, sizeof(wire), &cmd, errstr,
                                           sizeof(errstr)),
                   CS_OK);
        TEST_STREQ(cmd->operation_id, "o1");
        TEST_STREQ(cmd->send_id, "al");
        TEST_INTEQ(cmd->platform_id, 5);
        TEST_STREQ(cmd->conn_id, "c");
        TEST_STREQ(cmd->msg_incr, "m");
        TEST_INTEQ(cmd->sent_at, 1000);
        TEST_ASSERT(cmd->wire->req != NULL, "req");
        TEST_INTEQ(cmd->wire->req->payload_case,
                   OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE);
        TEST_STREQ(cmd->wire->req->invite->opuserid, "al");
        inv = cmd->wire->req->invite->invitation;
        TEST_ASSERT(inv != NULL, "invitation");
        TEST_STREQ(inv->roomid, "r1");
        TEST_INTEQ(inv->n_inviteeuseridlist, 1);
        TEST_STREQ(inv->inviteeuseridlist[0], "bob");
        TEST_STREQ(inv->groupid, "g1");
        TEST_INTEQ(inv->timeout, 30);
        TEST_STREQ(inv->mediatype, "audio");
        TEST_INTEQ(inv->sessiontype, 2);
        TEST_STREQ(inv->inviteruserid, "");
        TEST_ASSERT(cmd->wire->req->invite->offlinepushinfo != NULL, "push info");
        TEST_STREQ(cmd->wire->req->invite->offlinepushinfo->title, "t");
        TEST_INTEQ(cmd->wire->req->invite->offlinepushinfo->iosbadgecount, 1);
        TEST_ASSERT(cmd->wire->req->invite->participant == NULL, "no participant");
        cs_codec_command_free(cmd);

        /* Case 10 (getTokenByRoomID): 1 roomID, 2 opUserID, 4 operationID. */
        {
                static const uint8_t w10[] = {
                        0x0a, 0x02, 'o', '1', 0x12, 0x02, 'a', 'l',
                        0x32, 0x0e,             /* 6 req, 14 bytes */
                        0x52, 0x0c,             /*  10 getTokenByRoomID */
                        0x0a, 0x02, 'r', '1',   /*   1 roomID */
                        0x12, 0x02, 'a', 'l',   /*   2 opUserID */
                        0x22, 0x02, 'x', 'y',   /*   4 operationID */
                };

                TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, w10, sizeof(w10), &cmd,
                                                   errstr, sizeof(errstr)),
                           CS_OK);
                TEST_INTEQ(cmd->wire->req->payload_case,
                           OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_TOKEN_BY_ROOM_ID);
                TEST_STREQ(cmd->wire->req->gettokenbyroomid->roomid, "r1");
                TEST_STREQ(cmd->wire->req->gettokenbyroomid->opuserid, "al");
                TEST_STREQ(cmd->wire->req->gettokenbyroomid->operationid, "xy");
                /* The UTF-8 walk handles oneof members. */
                TEST_ASSERT(cs_codec_strings_valid(&cmd->wire->base), "valid");
                cs_codec_command_free(cmd);
        }
}

static void test_pack_empty(void) {
        Openim__V2__SignalCancelReply empty;
        uint8_t *buf;
        size_t len = 99;

        openim__v2__signal_cancel_reply__init(&empty);
        buf = cs_codec_pack(&empty.base, &len);
        TEST_ASSERT(buf != NULL, "never NULL");
        TEST_INTEQ(len, 0);
        free(buf);
}

/* The operationID of a dead letter: recovered when it alone is valid. */
static void test_operation_id_of(void) {
        static const uint8_t garbage[] = {0xff, 0xff, 0xff};
        char long_id[CS_CODEC_ID_MAX + 2];
        Callsig__V1__SignalCommand cmd;
        size_t len;
        uint8_t *buf;
        char *op;

        TEST_ASSERT(cs_codec_operation_id(garbage, sizeof(garbage)) == NULL, "garbage");
        TEST_ASSERT(cs_codec_operation_id(NULL, 0) == NULL, "no bytes");

        callsig__v1__signal_command__init(&cmd);
        cmd.operationid = S("op-dl");
        buf = pack_cmd(&cmd, &len); /* no sendID */
        op = cs_codec_operation_id(buf, len);
        TEST_STREQ(op, "op-dl");
        free(op);
        free(buf);

        memset(long_id, 'a', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = '\0';
        cmd.sendid = long_id; /* oversized sendID */
        buf = pack_cmd(&cmd, &len);
        op = cs_codec_operation_id(buf, len);
        TEST_STREQ(op, "op-dl");
        free(op);
        free(buf);

        cmd.operationid = long_id; /* the operationID itself is bad */
        buf = pack_cmd(&cmd, &len);
        TEST_ASSERT(cs_codec_operation_id(buf, len) == NULL, "oversized operationID");
        free(buf);
        cmd.operationid = S("op\x01x");
        buf = pack_cmd(&cmd, &len);
        TEST_ASSERT(cs_codec_operation_id(buf, len) == NULL, "control byte");
        free(buf);
}

/* ---- the request model and the v3 dialect ---- */

static void test_kind_names(void) {
        TEST_STREQ(cs_req_kind_name(CS_REQ_NONE), "none");
        TEST_STREQ(cs_req_kind_name(CS_REQ_INVITE), "invite");
        TEST_STREQ(cs_req_kind_name(CS_REQ_HUNG_UP), "hungUp");
        TEST_STREQ(cs_req_kind_name(CS_REQ_GET_TOKEN_BY_ROOM_ID), "getTokenByRoomID");
        TEST_STREQ(cs_req_kind_name(CS_REQ_INVITATION_RECORDS),
                   "getSignalInvitationRecords");
        TEST_STREQ(cs_req_kind_name((cs_req_kind_t)11), "unknown");
        /* v2's kinds carry its SignalReq case numbers (metrics label them) */
        TEST_INTEQ(CS_REQ_GET_ROOM_BY_GROUP_ID, 7);
        TEST_INTEQ(CS_REQ_GET_TOKEN_BY_ROOM_ID, 10);
        TEST_ASSERT(cs_req_kind_joins(CS_REQ_ACCEPT) && !cs_req_kind_joins(CS_REQ_CANCEL),
                    "joins");
}

/* A v3 accept, written by hand from the contract's tables: SignalCommand
 * {1 op, 2 sendID, 8 rtc{1 signal{4 accept{1 invitation{5 roomID,
 * 10 initiateTime}, 4 opUserPlatformID, 5 userID}}}}. */
static void test_v3_decode(void) {
        wbuf_t inv, acc, sreq, rtc, w;
        cs_command_t *cmd = NULL;
        const char *why = NULL;

        inv.len = acc.len = sreq.len = rtc.len = w.len = 0;
        w_str(&inv, 5, "room-1");
        w_int(&inv, 10, 1700000000123ull);
        w_msg(&acc, 1, &inv);
        w_int(&acc, 4, 2);
        w_str(&acc, 5, "mallory");
        w_msg(&sreq, 4, &acc);
        w_msg(&rtc, 1, &sreq);
        w_str(&w, 1, "op-1");
        w_str(&w, 2, "bob");
        w_msg(&w, 8, &rtc);
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, w.b, w.len, &cmd, NULL, 0),
                   CS_OK);
        TEST_INTEQ(cmd->dialect, CS_DIALECT_V3);
        TEST_INTEQ(cmd->req.kind, CS_REQ_ACCEPT);
        TEST_ASSERT(cmd->req.has_invitation, "invitation");
        TEST_STREQ(cmd->req.inv.room_id, "room-1");
        TEST_INTEQ(cmd->req.inv.initiate_ms, 1700000000123);
        TEST_INTEQ(cmd->req.op_platform_id, 2);
        TEST_ASSERT(cs_codec_request_valid(cmd, &why), "valid");

        /* content: userID is the sender, platform patched, field 5 */
        cs_invitation_t ci;
        memset(&ci, 0, sizeof(ci));
        ci.room_id = "room-1";
        ci.initiate_ms = 1700000000999;
        size_t len;
        uint8_t *content = cs_codec_pack_content(cmd, &ci, 5, &len);
        Openim__Rtc__SignalReq *req = openim__rtc__signal_req__unpack(NULL, len, content);
        TEST_ASSERT(req && req->payload_case == OPENIM__RTC__SIGNAL_REQ__PAYLOAD_ACCEPT,
                    "content");
        TEST_STREQ(req->accept->userid, "bob");
        TEST_INTEQ(req->accept->opuserplatformid, 5);
        TEST_INTEQ(req->accept->invitation->initiatetime, 1700000000999);
        openim__rtc__signal_req__free_unpacked(req, NULL);
        free(content);

        /* its reply: rtc.signal.accept, resp unset */
        cs_reply_t r;
        memset(&r, 0, sizeof(r));
        r.token = "tok";
        r.room_id = "room-1";
        uint8_t *buf = cs_codec_pack_reply("bob", cmd, 0, "", &r, &len);
        Callsig__V1__PushMessage *push = callsig__v1__push_message__unpack(NULL, len, buf);
        TEST_ASSERT(push && push->reply && !push->reply->resp && push->reply->rtc,
                    "v3 reply shape");
        TEST_INTEQ(push->reply->rtc->payload_case, CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SIGNAL);
        TEST_STREQ(push->reply->rtc->signal->accept->token, "tok");
        callsig__v1__push_message__free_unpacked(push, NULL);
        free(buf);
        cs_codec_command_free(cmd);

        /* a NUL inside a v3 string: 1001 naming the field */
        w.len = inv.len = acc.len = sreq.len = rtc.len = 0;
        w_bytes(&inv, 5, "ab\0cd", 5);
        w_msg(&acc, 1, &inv);
        w_msg(&sreq, 4, &acc);
        w_msg(&rtc, 1, &sreq);
        w_str(&w, 1, "op-2");
        w_str(&w, 2, "bob");
        w_msg(&w, 8, &rtc);
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V3, w.b, w.len, &cmd, NULL, 0),
                   CS_OK);
        TEST_ASSERT(!cs_codec_request_valid(cmd, &why), "NUL refused");
        TEST_STREQ(why, "signal.accept.invitation.roomID contains a NUL byte");
        cs_codec_command_free(cmd);

        /* req and rtc both: 1001; neither: the default dialect */
        w.len = 0;
        w_str(&w, 1, "op-3");
        w_str(&w, 2, "bob");
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V3, w.b, w.len, &cmd, NULL, 0),
                   CS_OK);
        TEST_INTEQ(cmd->dialect, CS_DIALECT_V3);
        TEST_INTEQ(cmd->req.kind, CS_REQ_NONE);
        cs_codec_command_free(cmd);
        wbuf_t empty;
        empty.len = 0;
        w_msg(&w, 6, &empty);
        w_msg(&w, 8, &empty);
        TEST_INTEQ(cs_codec_decode_command(CS_DIALECT_V2, w.b, w.len, &cmd, NULL, 0),
                   CS_OK);
        TEST_ASSERT(!cs_codec_request_valid(cmd, &why), "both refused");
        TEST_STREQ(why, "a command carries req or rtc, never both");
        cs_codec_command_free(cmd);
}

/* Offset of the first @p n bytes @p pat in @p buf, or -1. */
static long find_pat(const uint8_t *buf, size_t len, const char *pat, size_t n) {
        for (size_t i = 0; i + n <= len; i++)
                if (!memcmp(buf + i, pat, n))
                        return (long)i;
        return -1;
}

/* A v3 notification: PushMessage field 4, sdkws.MsgData with options at
 * 19 and offlinePushInfo at 20; room presence as 1602. */
static void test_v3_notification(void) {
        wbuf_t opi, inv_req, sreq;
        opi.len = inv_req.len = sreq.len = 0;
        w_str(&opi, 1, "t");
        w_str(&opi, 6, "sig");
        w_msg(&inv_req, 2, &opi); /* v3 SignalInviteReq.offlinePushInfo = 2 */
        w_msg(&sreq, 1, &inv_req);
        cs_note_t note = make_note(sreq.b, sreq.len);
        size_t len;
        uint8_t *buf = cs_codec_pack_notification(CS_DIALECT_V3, &note, &len);
        Callsig__V1__PushMessage *push = callsig__v1__push_message__unpack(NULL, len, buf);
        TEST_ASSERT(push, "decodes");
        TEST_INTEQ(push->body_case, CALLSIG__V1__PUSH_MESSAGE__BODY_NOTIFICATION_V3);
        Openim__Sdkws__MsgData *md = push->notificationv3;
        TEST_INTEQ(md->contenttype, 1601);
        TEST_INTEQ(md->n_options, 5);
        TEST_STREQ(md->options[0]->key, "history");
        TEST_ASSERT(md->offlinepushinfo, "offlinePushInfo");
        TEST_STREQ(md->offlinepushinfo->signalinfo, "sig");
        callsig__v1__push_message__free_unpacked(push, NULL);
        /* field 4 of the PushMessage, options (19) before offlinePushInfo (20) */
        size_t at = 0;
        TEST_INTEQ(buf[at], (1 << 3) | 2);
        at += 2 + buf[at + 1];
        TEST_INTEQ(buf[at], (4 << 3) | 2);
        long key = find_pat(buf, len, "\x0a\x07history", 9);
        long f20 = find_pat(buf, len, "\xa2\x01\x08\x0a\x01t", 6);
        TEST_ASSERT(key > 3 && buf[key - 3] == 0x9a && buf[key - 2] == 0x01,
                    "options are field 19");
        TEST_ASSERT(f20 > key, "offlinePushInfo is field 20, after the options");
        free(buf);

        note.type = CS_EV_ROOM_JOINED;
        buf = cs_codec_pack_notification(CS_DIALECT_V3, &note, &len);
        push = callsig__v1__push_message__unpack(NULL, len, buf);
        TEST_INTEQ(push->notificationv3->contenttype, 1602);
        TEST_ASSERT(!push->notificationv3->offlinepushinfo, "no push info on presence");
        callsig__v1__push_message__free_unpacked(push, NULL);
        free(buf);
        buf = cs_codec_pack_notification(CS_DIALECT_V2, &note, &len);
        push = callsig__v1__push_message__unpack(NULL, len, buf);
        TEST_INTEQ(push->notification->contenttype, 1601);
        callsig__v1__push_message__free_unpacked(push, NULL);
        free(buf);
}

int main(void) {
        test_operation_id_of();
        test_decode_valid();
        test_decode_no_payload();
        test_decode_undecodable();
        test_protobuf_c_utf8();
        test_request_nul();
        test_request_valid();
        test_fuzz();
        test_reply_round_trip();
        test_reply_wire_bytes();
        test_notification_round_trip();
        test_notification_push_info();
        test_msg_ids();
        test_notification_wire_bytes();
        test_hand_written_invite();
        test_pack_empty();
        test_kind_names();
        test_v3_decode();
        test_v3_notification();
        return test_done();
}
