/*
 * 0002: answers other than accept, and every refusal of a 1:1 call.
 *
 * Proves (contract sections 3-5, notes/behaviour.md):
 *   - reject ends a 1:1 call (rejected): reply case reject, empty; the
 *     inviter and the sender's own topic are notified;
 *   - cancel while ringing ends the call (cancelled): the invitee and the
 *     sender are notified with content case cancel;
 *   - the inviter hanging up a ringing call is a cancel: endReason
 *     cancelled, event cancel, notification content SignalCancelReq, reply
 *     case hungUp;
 *   - every refusal carries the request's resp case with errCode and a
 *     non-empty errMsg and produces no notification: 1003 unknown roomID,
 *     1001 missing invitation / empty roomID, 1002 accept by the inviter or
 *     a stranger, 1004 second accept from another device, 1004 accept
 *     after cancel / reject, 1002 cancel by the invitee, 1004 cancel of an
 *     active call, 1002 hang-up by a ringing invitee, 1004 hang-up after
 *     the call ended, 1001 for every kind of invalid invitation (and no
 *     call record or line is left behind);
 *   - the ring timeout is clamped (100000 -> 600) and defaulted (0 -> 35),
 *     in the record, its deadline and the notification content;
 *   - getTokenByRoomID: ok for inviter and invitee (tokens verify with
 *     livekit-server-sdk), 1003 unknown / ended call, 1002 stranger,
 *     1001 empty roomID;
 *   - no payload: 1001 with resp unset; cases 8 and 9: 1007 with resp unset;
 *   - identity comes only from sendID: opUserID in notification content is
 *     the sender although the request says "spoofed".
 */
#include "harness.h"

TEST_MAIN_DEFS

#define RQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RS(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x

/* Waits for @p user's reply to @p op and checks errCode, errMsg and the
 * resp case (0: resp must be unset). */
static Callsig__V1__SignalReply *expect_code(env_t *env, const char *user,
                                             const char *op, int code,
                                             int resp_case) {
        seen_t *s = env_expect_reply(env, user, op);
        Callsig__V1__SignalReply *r = seen_reply(s);
        TEST_SAY("%s: reply %d '%s'", op, r->errcode, r->errmsg);
        TEST_ASSERT(r->errcode == code, "%s: errCode %d, expected %d (%s)", op,
                    r->errcode, code, r->errmsg);
        TEST_STREQ(r->operationid, op);
        TEST_STREQ(r->msgincr, "incr-1");
        TEST_STREQ(r->connid, "conn-1");
        if (code)
                TEST_ASSERT(r->errmsg && r->errmsg[0], "%s: errMsg empty", op);
        else
                TEST_STREQ(r->errmsg, "");
        if (resp_case == 0)
                TEST_ASSERT(r->resp == NULL, "%s: resp set (case %d), expected unset",
                            op, r->resp ? (int)r->resp->payload_case : 0);
        else
                TEST_ASSERT(r->resp && (int)r->resp->payload_case == resp_case,
                            "%s: resp case %d, expected %d", op,
                            r->resp ? (int)r->resp->payload_case : -1, resp_case);
        return r;
}

/* Sends @p c and expects the refusal @p code with @p resp_case. */
static void send_expect(env_t *env, cmd_t *c, int code, int resp_case) {
        char op[128], user[128];
        snprintf(op, sizeof(op), "%s", cmd_msg(c)->operationid);
        snprintf(user, sizeof(user), "%s", cmd_msg(c)->sendid);
        env_send(env, c, NULL, -1);
        expect_code(env, user, op, code, resp_case);
}

static void action_expect(env_t *env, const char *op, const char *sender,
                          int req_case, const char *room, int code,
                          int resp_case) {
        send_expect(env, cmd_action(op, sender, req_case, room), code, resp_case);
}

/* A 1:1 invite with an explicit roomID that must succeed; takes the
 * reply and both invite notifications. */
static void invite_ok(env_t *env, const char *op, const char *inviter,
                      const char *invitee, const char *room, int32_t timeout,
                      int32_t want_timeout) {
        env_send(env, cmd_invite(op, inviter, (const char *[]){invitee, NULL},
                                 room, NULL, "audio", timeout),
                 NULL, -1);
        Callsig__V1__SignalReply *r = expect_code(env, inviter, op, 0, RS(INVITE));
        TEST_STREQ(r->resp->invite->roomid, room);
        TEST_STREQ(r->resp->invite->liveurl, LK_URL);
        TEST_INTEQ(r->resp->invite->n_busylineuseridlist, 0);
        seen_t *s = env_expect_note(env, invitee, op);
        Openim__V2__MsgData *md = seen_note(s);
        TEST_STREQ(md->sendid, inviter);
        TEST_INTEQ(md->contenttype, 1601);
        Openim__V2__SignalReq *req = seen_content(s);
        TEST_ASSERT(req->payload_case == RQ(INVITE), "invite content case");
        TEST_STREQ(req->invite->opuserid, inviter);
        TEST_STREQ(req->invite->invitation->inviteruserid, inviter);
        TEST_STREQ(req->invite->invitation->roomid, room);
        TEST_INTEQ(req->invite->invitation->timeout, want_timeout);
        openim__v2__signal_req__free_unpacked(req, NULL);
        env_expect_note(env, inviter, op);
}

/* Checks one notification's content case, opUserID and roomID. */
static void expect_note_case(env_t *env, const char *user, const char *op,
                             const char *actor, int content_case,
                             const char *room, const char *inviter) {
        seen_t *s = env_expect_note(env, user, op);
        Openim__V2__MsgData *md = seen_note(s);
        TEST_STREQ(md->sendid, actor);
        TEST_STREQ(md->recvid, user);
        TEST_INTEQ(md->contenttype, 1601);
        TEST_INTEQ(md->sessiontype, 1);
        TEST_ASSERT(md->offlinepushinfo == NULL,
                    "%s: offlinePushInfo only on invitations", op);
        Openim__V2__SignalReq *req = seen_content(s);
        TEST_ASSERT((int)req->payload_case == content_case,
                    "%s: content case %d, expected %d", op,
                    (int)req->payload_case, content_case);
        const char *op_user;
        const Openim__V2__InvitationInfo *inv;
        req_op_and_invitation(req, &op_user, &inv);
        /* identity from sendID only: the request said "spoofed" */
        TEST_STREQ(op_user, actor);
        TEST_ASSERT(inv, "%s: content has an invitation", op);
        TEST_STREQ(inv->roomid, room);
        TEST_STREQ(inv->inviteruserid, inviter);
        openim__v2__signal_req__free_unpacked(req, NULL);
}

static void token_ok(env_t *env, const char *op, const char *user,
                     const char *room) {
        env_send(env, cmd_token(op, user, room), NULL, -1);
        Callsig__V1__SignalReply *r =
                expect_code(env, user, op, 0, RS(GET_TOKEN_BY_ROOM_ID));
        TEST_STREQ(r->resp->gettokenbyroomid->liveurl, LK_URL);
        env_verify_token_later(env, r->resp->gettokenbyroomid->token, user, room);
}

static int64_t lines_of(env_t *env, const char *user) {
        char filter[256];
        snprintf(filter, sizeof(filter), "{\"_id\": \"user:%s\"}", user);
        return env_count_docs(env, "lines", filter);
}

int main(void) {
        env_t *env = env_start("answers", NULL);
        const char *users[] = {"a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4",
                               "x1", "v1", "w1", "w2", "t1", "t2", "t3", "t4",
                               "n1", NULL};
        for (int i = 0; users[i]; i++)
                env_watch(env, users[i]);

        /* ---- 1. reject of a 1:1 call ---- */
        invite_ok(env, "rej-inv", "a1", "b1", "room-rej", 30, 30);
        /* the inviter cannot answer, a stranger neither */
        action_expect(env, "rej-acc-inviter", "a1", RQ(ACCEPT), "room-rej", 1002, RS(ACCEPT));
        action_expect(env, "rej-acc-stranger", "x1", RQ(ACCEPT), "room-rej", 1002, RS(ACCEPT));
        action_expect(env, "rej-rej-inviter", "a1", RQ(REJECT), "room-rej", 1002, RS(REJECT));

        env_send(env, cmd_action("rej-rej", "b1", RQ(REJECT), "room-rej"), NULL, -1);
        Callsig__V1__SignalReply *r = expect_code(env, "b1", "rej-rej", 0, RS(REJECT));
        TEST_ASSERT(r->resp->reject != NULL, "reject resp present (empty)");
        expect_note_case(env, "a1", "rej-rej", "b1", RQ(REJECT), "room-rej", "a1");
        expect_note_case(env, "b1", "rej-rej", "b1", RQ(REJECT), "room-rej", "a1");
        bson_t *doc = env_wait_call(env, "room-rej", "ended", "rejected");
        TEST_ASSERT(doc_has(doc, "endedAt"), "endedAt set");
        TEST_ASSERT(!doc_has(doc, "acceptedAt"), "never accepted");
        TEST_STREQ(doc_str(doc, "participants.0.state"), "left");
        TEST_STREQ(doc_str(doc, "participants.1.userID"), "b1");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "rejected");
        TEST_STREQ(doc_str(doc, "events.1.type"), "reject");
        TEST_STREQ(doc_str(doc, "events.1.userID"), "b1");
        TEST_STREQ(doc_str(doc, "events.1.operationID"), "rej-rej");
        TEST_ASSERT(!doc_has(doc, "events.2"), "no further events");
        bson_destroy(doc);
        TEST_INTEQ(lines_of(env, "a1"), 0);
        TEST_INTEQ(lines_of(env, "b1"), 0);
        /* after the end: answers and hang-ups conflict, tokens are gone */
        action_expect(env, "rej-acc-late", "b1", RQ(ACCEPT), "room-rej", 1004, RS(ACCEPT));
        action_expect(env, "rej-rej-again", "b1", RQ(REJECT), "room-rej", 1004, RS(REJECT));
        action_expect(env, "rej-hup-late", "a1", RQ(HUNG_UP), "room-rej", 1004, RS(HUNG_UP));
        /* ... but the inviter's cancel of a call that ended unanswered is
         * answered 0 (apps cancel when their own ring timer fires) and
         * changes nothing. */
        action_expect(env, "rej-can-late", "a1", RQ(CANCEL), "room-rej", 0, RS(CANCEL));
        env_expect_quiet(env, "b1", 300);
        doc = env_call_doc(env, "room-rej");
        TEST_ASSERT(!doc_has(doc, "events.2"), "the late cancel changed nothing");
        TEST_STREQ(doc_str(doc, "endReason"), "rejected");
        bson_destroy(doc);
        send_expect(env, cmd_token("rej-tok-late", "a1", "room-rej"), 1003,
                    RS(GET_TOKEN_BY_ROOM_ID));

        /* ---- 2. cancel while ringing, and refusals while ringing ---- */
        invite_ok(env, "can-inv", "a2", "b2", "room-can", 30, 30);
        token_ok(env, "can-tok-a2", "a2", "room-can");
        token_ok(env, "can-tok-b2", "b2", "room-can"); /* ringing invitee: listed */
        send_expect(env, cmd_token("can-tok-x1", "x1", "room-can"), 1002,
                    RS(GET_TOKEN_BY_ROOM_ID));
        action_expect(env, "can-can-invitee", "b2", RQ(CANCEL), "room-can", 1002, RS(CANCEL));
        action_expect(env, "can-can-stranger", "x1", RQ(CANCEL), "room-can", 1002, RS(CANCEL));
        action_expect(env, "can-hup-ringing", "b2", RQ(HUNG_UP), "room-can", 1002, RS(HUNG_UP));
        action_expect(env, "can-hup-stranger", "x1", RQ(HUNG_UP), "room-can", 1002, RS(HUNG_UP));
        doc = env_wait_call(env, "room-can", "ringing", NULL);
        TEST_STREQ(doc_str(doc, "participants.1.state"), "ringing");
        TEST_ASSERT(!doc_has(doc, "events.1"), "refusals add no events");
        bson_destroy(doc);

        env_send(env, cmd_action("can-can", "a2", RQ(CANCEL), "room-can"), NULL, -1);
        r = expect_code(env, "a2", "can-can", 0, RS(CANCEL));
        TEST_ASSERT(r->resp->cancel != NULL, "cancel resp present (empty)");
        expect_note_case(env, "b2", "can-can", "a2", RQ(CANCEL), "room-can", "a2");
        expect_note_case(env, "a2", "can-can", "a2", RQ(CANCEL), "room-can", "a2");
        doc = env_wait_call(env, "room-can", "ended", "cancelled");
        TEST_ASSERT(doc_has(doc, "endedAt"), "endedAt set");
        TEST_STREQ(doc_str(doc, "participants.0.state"), "left");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "cancelled");
        TEST_STREQ(doc_str(doc, "events.1.type"), "cancel");
        TEST_STREQ(doc_str(doc, "events.1.userID"), "a2");
        bson_destroy(doc);
        TEST_INTEQ(lines_of(env, "a2"), 0);
        TEST_INTEQ(lines_of(env, "b2"), 0);
        action_expect(env, "can-acc-late", "b2", RQ(ACCEPT), "room-can", 1004, RS(ACCEPT));
        action_expect(env, "can-can-again", "a2", RQ(CANCEL), "room-can", 0, RS(CANCEL));
        send_expect(env, cmd_token("can-tok-late", "b2", "room-can"), 1003,
                    RS(GET_TOKEN_BY_ROOM_ID));

        /* ---- 3. inviter hangs up while ringing = cancel ---- */
        invite_ok(env, "hc-inv", "a3", "b3", "room-hupcan", 30, 30);
        env_send(env, cmd_action("hc-hup", "a3", RQ(HUNG_UP), "room-hupcan"), NULL, -1);
        r = expect_code(env, "a3", "hc-hup", 0, RS(HUNG_UP));
        TEST_ASSERT(r->resp->hungup != NULL, "hungUp resp present (empty)");
        expect_note_case(env, "b3", "hc-hup", "a3", RQ(CANCEL), "room-hupcan", "a3");
        expect_note_case(env, "a3", "hc-hup", "a3", RQ(CANCEL), "room-hupcan", "a3");
        doc = env_wait_call(env, "room-hupcan", "ended", "cancelled");
        TEST_STREQ(doc_str(doc, "participants.0.state"), "left");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "cancelled");
        TEST_STREQ(doc_str(doc, "events.1.type"), "cancel");
        TEST_STREQ(doc_str(doc, "events.1.operationID"), "hc-hup");
        bson_destroy(doc);
        TEST_INTEQ(lines_of(env, "b3"), 0);

        /* ---- 4. an active call: second accept, cancel, hang-up after end ---- */
        invite_ok(env, "act-inv", "a4", "b4", "room-act", 30, 30);
        env_send(env, cmd_action("act-acc", "b4", RQ(ACCEPT), "room-act"), NULL, -1);
        r = expect_code(env, "b4", "act-acc", 0, RS(ACCEPT));
        TEST_STREQ(r->resp->accept->roomid, "room-act");
        expect_note_case(env, "a4", "act-acc", "b4", RQ(ACCEPT), "room-act", "a4");
        expect_note_case(env, "b4", "act-acc", "b4", RQ(ACCEPT), "room-act", "a4");
        bson_destroy(env_wait_call(env, "room-act", "active", NULL));
        /* the same user from another device: a different operationID */
        cmd_t *c = cmd_action("act-acc-dev2", "b4", RQ(ACCEPT), "room-act");
        cmd_msg(c)->platformid = 2;
        cmd_msg(c)->connid = "conn-2"; /* lent: cmd_free frees only its arena */
        env_send(env, c, NULL, -1);
        r = seen_reply(env_expect_reply(env, "b4", "act-acc-dev2"));
        TEST_INTEQ(r->errcode, 1004);
        TEST_STREQ(r->connid, "conn-2");
        TEST_INTEQ(r->platformid, 2);
        TEST_ASSERT(r->errmsg[0], "errMsg set");
        TEST_ASSERT(r->resp && r->resp->payload_case == RS(ACCEPT), "accept case on 1004");
        action_expect(env, "act-rej", "b4", RQ(REJECT), "room-act", 1004, RS(REJECT));
        action_expect(env, "act-can", "a4", RQ(CANCEL), "room-act", 1004, RS(CANCEL));
        action_expect(env, "act-can-invitee", "b4", RQ(CANCEL), "room-act", 1002, RS(CANCEL));
        token_ok(env, "act-tok-b4", "b4", "room-act");
        doc = env_call_doc(env, "room-act");
        TEST_STREQ(doc_str(doc, "state"), "active");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "accepted");
        TEST_ASSERT(!doc_has(doc, "events.2"), "refusals add no events");
        bson_destroy(doc);
        env_send(env, cmd_action("act-hup", "b4", RQ(HUNG_UP), "room-act"), NULL, -1);
        expect_code(env, "b4", "act-hup", 0, RS(HUNG_UP));
        expect_note_case(env, "a4", "act-hup", "b4", RQ(HUNG_UP), "room-act", "a4");
        expect_note_case(env, "b4", "act-hup", "b4", RQ(HUNG_UP), "room-act", "a4");
        doc = env_wait_call(env, "room-act", "ended", "hung_up");
        TEST_STREQ(doc_str(doc, "participants.0.state"), "left");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "left");
        bson_destroy(doc);
        action_expect(env, "act-hup-a4-late", "a4", RQ(HUNG_UP), "room-act", 1004, RS(HUNG_UP));
        action_expect(env, "act-hup-b4-late", "b4", RQ(HUNG_UP), "room-act", 1004, RS(HUNG_UP));
        send_expect(env, cmd_token("act-tok-late", "a4", "room-act"), 1003,
                    RS(GET_TOKEN_BY_ROOM_ID));

        /* ---- 5. unknown call, missing invitation, empty roomID ---- */
        action_expect(env, "nf-acc", "x1", RQ(ACCEPT), "room-nowhere", 1003, RS(ACCEPT));
        action_expect(env, "nf-rej", "x1", RQ(REJECT), "room-nowhere", 1003, RS(REJECT));
        action_expect(env, "nf-can", "x1", RQ(CANCEL), "room-nowhere", 1003, RS(CANCEL));
        action_expect(env, "nf-hup", "x1", RQ(HUNG_UP), "room-nowhere", 1003, RS(HUNG_UP));
        send_expect(env, cmd_token("nf-tok", "x1", "room-nowhere"), 1003,
                    RS(GET_TOKEN_BY_ROOM_ID));
        c = cmd_action("ni-acc", "x1", RQ(ACCEPT), "room-nowhere");
        cmd_msg(c)->req->accept->invitation = NULL;
        env_send(env, c, "x1", -1);
        expect_code(env, "x1", "ni-acc", 1001, RS(ACCEPT));
        c = cmd_action("ni-hup", "x1", RQ(HUNG_UP), "room-nowhere");
        cmd_msg(c)->req->hungup->invitation = NULL;
        env_send(env, c, "x1", -1);
        expect_code(env, "x1", "ni-hup", 1001, RS(HUNG_UP));
        action_expect(env, "er-acc", "x1", RQ(ACCEPT), "", 1001, RS(ACCEPT));
        action_expect(env, "er-rej", "x1", RQ(REJECT), "", 1001, RS(REJECT));
        action_expect(env, "er-can", "x1", RQ(CANCEL), "", 1001, RS(CANCEL));
        action_expect(env, "er-hup", "x1", RQ(HUNG_UP), "", 1001, RS(HUNG_UP));
        send_expect(env, cmd_token("er-tok", "x1", ""), 1001, RS(GET_TOKEN_BY_ROOM_ID));

        /* ---- 6. invalid invitations: 1001, no record, no line, no ring ---- */
        send_expect(env, cmd_invite("bad-empty", "v1", (const char *[]){NULL},
                                    NULL, NULL, "video", 0),
                    1001, RS(INVITE));
        send_expect(env, cmd_invite("bad-empty-g", "v1", (const char *[]){NULL},
                                    NULL, "grp-bad", "video", 0),
                    1001, RS(INVITE_IN_GROUP));
        send_expect(env, cmd_invite("bad-self", "v1", (const char *[]){"v1", NULL},
                                    NULL, NULL, "video", 0),
                    1001, RS(INVITE));
        send_expect(env, cmd_invite("bad-self-g", "v1",
                                    (const char *[]){"w1", "v1", NULL}, NULL,
                                    "grp-bad", "video", 0),
                    1001, RS(INVITE_IN_GROUP));
        send_expect(env, cmd_invite("bad-dup", "v1",
                                    (const char *[]){"w1", "w2", "w1", NULL}, NULL,
                                    "grp-bad", "video", 0),
                    1001, RS(INVITE_IN_GROUP));
        send_expect(env, cmd_invite("bad-two", "v1",
                                    (const char *[]){"w1", "w2", NULL}, NULL,
                                    NULL, "video", 0),
                    1001, RS(INVITE));
        c = cmd_invite("bad-single-group", "v1", (const char *[]){"w1", NULL},
                       NULL, NULL, "video", 0);
        cmd_msg(c)->req->invite->invitation->groupid = "grp-bad"; /* lent */
        send_expect(env, c, 1001, RS(INVITE));
        send_expect(env, cmd_invite("bad-group-nogid", "v1",
                                    (const char *[]){"w1", "w2", NULL}, NULL, "",
                                    "video", 0),
                    1001, RS(INVITE_IN_GROUP));
        send_expect(env, cmd_invite("bad-media", "v1", (const char *[]){"w1", NULL},
                                    NULL, NULL, "hologram", 0),
                    1001, RS(INVITE));
        send_expect(env, cmd_invite("bad-timeout", "v1", (const char *[]){"w1", NULL},
                                    NULL, NULL, "video", -1),
                    1001, RS(INVITE));
        {
                /* max_invitees is 64 by default: 65 invitees are too many */
                static char names[65][16];
                const char *many[66];
                for (int i = 0; i < 65; i++) {
                        snprintf(names[i], sizeof(names[i]), "m%02d", i);
                        many[i] = names[i];
                }
                many[65] = NULL;
                send_expect(env, cmd_invite("bad-many", "v1", many, NULL, "grp-many",
                                            "video", 0),
                            1001, RS(INVITE_IN_GROUP));
        }
        TEST_INTEQ(env_count_docs(env, "calls", "{\"inviterUserID\": \"v1\"}"), 0);
        TEST_INTEQ(lines_of(env, "v1"), 0);
        TEST_INTEQ(lines_of(env, "w1"), 0);
        TEST_INTEQ(env_count_docs(env, "lines", "{\"_id\": \"group:grp-bad\"}"), 0);
        TEST_INTEQ(env_count_docs(env, "lines", "{\"_id\": \"group:grp-many\"}"), 0);

        /* ---- 7. timeout clamping and default ---- */
        invite_ok(env, "tmo-big", "t1", "t2", "room-tmo-big", 100000, 600);
        doc = env_wait_call(env, "room-tmo-big", "ringing", NULL);
        TEST_INTEQ(doc_int(doc, "timeout"), 600);
        TEST_ASSERT(doc_int(doc, "deadline") == doc_int(doc, "createdAt") + 600000,
                    "deadline %lld = createdAt %lld + 600 s",
                    (long long)doc_int(doc, "deadline"),
                    (long long)doc_int(doc, "createdAt"));
        bson_destroy(doc);
        invite_ok(env, "tmo-zero", "t3", "t4", "room-tmo-zero", 0, 35);
        doc = env_wait_call(env, "room-tmo-zero", "ringing", NULL);
        TEST_INTEQ(doc_int(doc, "timeout"), 35);
        TEST_ASSERT(doc_int(doc, "deadline") == doc_int(doc, "createdAt") + 35000,
                    "deadline = createdAt + 35 s");
        bson_destroy(doc);
        /* end both so no timer fires during the rest of the test */
        action_expect(env, "tmo-big-can", "t1", RQ(CANCEL), "room-tmo-big", 0, RS(CANCEL));
        env_expect_note(env, "t2", "tmo-big-can");
        env_expect_note(env, "t1", "tmo-big-can");
        action_expect(env, "tmo-zero-can", "t3", RQ(CANCEL), "room-tmo-zero", 0, RS(CANCEL));
        env_expect_note(env, "t4", "tmo-zero-can");
        env_expect_note(env, "t3", "tmo-zero-can");

        /* ---- 8. requests that have no resp case ---- */
        send_expect(env, cmd_bare("bare-none", "n1", 0), 1001, 0);
        send_expect(env, cmd_bare("bare-8", "n1",
                                  RQ(ON_ROOM_PARTICIPANT_CONNECTED_REQ)),
                    1007, 0);
        send_expect(env, cmd_bare("bare-9", "n1",
                                  RQ(ON_ROOM_PARTICIPANT_DISCONNECTED_REQ)),
                    1007, 0);

        /* every refusal above was answered once and notified nobody */
        env_expect_quiet(env, "a1", 300);
        for (int i = 1; users[i]; i++)
                env_expect_quiet(env, users[i], 0);
        TEST_INTEQ(env_count_docs(env, "lines", "{}"), 0);

        env_verify_tokens(env);
        env_stop(env);
        return test_done();
}
