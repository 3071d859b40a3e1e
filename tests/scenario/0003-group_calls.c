/*
 * 0003: a group call through inviteInGroup, from ring to the last hang-up.
 *
 * Proves (contract sections 3-5 and 7, notes/behaviour.md):
 *   - inviteInGroup is answered with resp case 2; every invitee rings with
 *     sessionType 2 and the groupID; the inviter's own topic is notified;
 *   - one accept makes the call active, one reject does not end it, and the
 *     rejected user gets no token (1002);
 *   - getRoomByGroupID: a participant gets roomID, the invitation and the
 *     ringing/accepted participants; a stranger gets 1002; a group without
 *     a live call 1003;
 *   - an accepted participant adds an invitee to the running call (invite
 *     case 2, same roomID and groupID): the new invitee rings, reply 0;
 *     adding someone already ringing is 1001; a second inviteInGroup in the
 *     same group with another roomID is 1004 and creates nothing;
 *   - hang-ups: the call continues while two remain, and ends hung_up when
 *     fewer than two remain and nobody rings; the record's participant
 *     states, event types (in order) and endedAt are checked, and every
 *     line (users and group) is released;
 *   - the notification content of the added invite names the adding user
 *     as inviterUserID (behaviour.md: invites: inviterUserID := sendID);
 *   - tokens of the inviter, an accepted member (accept, getTokenByRoomID
 *     and the adding invite) verify with livekit-server-sdk.
 */
#include "harness.h"

TEST_MAIN_DEFS

#define RQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RS(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x
#define GROUP "grp-1"

static Callsig__V1__SignalReply *expect_code(env_t *env, const char *user,
                                             const char *op, int code,
                                             int resp_case) {
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, user, op));
        TEST_SAY("%s: reply %d '%s'", op, r->errcode, r->errmsg);
        TEST_ASSERT(r->errcode == code, "%s: errCode %d, expected %d (%s)", op,
                    r->errcode, code, r->errmsg);
        TEST_STREQ(r->operationid, op);
        if (code)
                TEST_ASSERT(r->errmsg && r->errmsg[0], "%s: errMsg empty", op);
        TEST_ASSERT(r->resp && (int)r->resp->payload_case == resp_case,
                    "%s: resp case %d, expected %d", op,
                    r->resp ? (int)r->resp->payload_case : -1, resp_case);
        return r;
}

static void send_expect(env_t *env, cmd_t *c, int code, int resp_case) {
        char op[128], user[128];
        snprintf(op, sizeof(op), "%s", cmd_msg(c)->operationid);
        snprintf(user, sizeof(user), "%s", cmd_msg(c)->sendid);
        env_send(env, c, NULL, -1);
        expect_code(env, user, op, code, resp_case);
}

/* Takes @p user's notification for @p op and checks it is a group event of
 * @p actor with content @p content_case about @p room; returns the
 * decoded content (caller frees). */
/* The inviterUserID expected in notification content. */
static const char *inviter_of_note = "ga";

static Openim__V2__SignalReq *expect_group_note(env_t *env, const char *user,
                                                const char *op,
                                                const char *actor,
                                                int content_case,
                                                const char *room) {
        seen_t *s = env_expect_note(env, user, op);
        Openim__V2__MsgData *md = seen_note(s);
        TEST_STREQ(md->sendid, actor);
        TEST_STREQ(md->recvid, user);
        TEST_STREQ(md->groupid, GROUP);
        TEST_INTEQ(md->sessiontype, 2);
        TEST_INTEQ(md->contenttype, 1601);
        Openim__V2__SignalReq *req = seen_content(s);
        TEST_ASSERT((int)req->payload_case == content_case,
                    "%s to %s: content case %d, expected %d", op, user,
                    (int)req->payload_case, content_case);
        const char *op_user;
        const Openim__V2__InvitationInfo *inv;
        req_op_and_invitation(req, &op_user, &inv);
        TEST_STREQ(op_user, actor);
        TEST_ASSERT(inv, "content has an invitation");
        TEST_STREQ(inv->roomid, room);
        TEST_STREQ(inv->groupid, GROUP);
        TEST_ASSERT(!strcmp(inv->inviteruserid, inviter_of_note),
                    "%s to %s: content invitation.inviterUserID \"%s\", expected \"%s\"",
                    op, user, inv->inviteruserid, inviter_of_note);
        TEST_INTEQ(inv->sessiontype, 2);
        return req;
}

static void expect_group_note_free(env_t *env, const char *user,
                                   const char *op, const char *actor,
                                   int content_case, const char *room) {
        openim__v2__signal_req__free_unpacked(
                expect_group_note(env, user, op, actor, content_case, room), NULL);
}

static bool list_has(char **list, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (!strcmp(list[i], s))
                        return true;
        return false;
}

int main(void) {
        env_t *env = env_start("group", NULL);
        const char *users[] = {"ga", "gb", "gc", "gd", "ge", "gx", "gy", NULL};
        for (int i = 0; users[i]; i++)
                env_watch(env, users[i]);

        /* ---- inviteInGroup with a generated roomID ---- */
        env_send(env, cmd_invite("g-inv", "ga", (const char *[]){"gb", "gc", "gd", NULL},
                                 NULL, GROUP, "audio", 60),
                 NULL, -1);
        Callsig__V1__SignalReply *r = expect_code(env, "ga", "g-inv", 0, RS(INVITE_IN_GROUP));
        TEST_ASSERT(r->resp->inviteingroup, "inviteInGroup reply");
        char room[64];
        snprintf(room, sizeof(room), "%s", r->resp->inviteingroup->roomid);
        TEST_ASSERT(strncmp(room, "cs-", 3) == 0 && strlen(room) == 35,
                    "generated roomID %s", room);
        TEST_STREQ(r->resp->inviteingroup->liveurl, LK_URL);
        TEST_INTEQ(r->resp->inviteingroup->n_busylineuseridlist, 0);
        env_verify_token_later(env, r->resp->inviteingroup->token, "ga", room);

        const char *invitees[] = {"gb", "gc", "gd", "ga", NULL};
        for (int i = 0; invitees[i]; i++) {
                Openim__V2__SignalReq *req = expect_group_note(
                        env, invitees[i], "g-inv", "ga", RQ(INVITE_IN_GROUP), room);
                const Openim__V2__InvitationInfo *inv = req->inviteingroup->invitation;
                TEST_INTEQ(inv->n_inviteeuseridlist, 3);
                TEST_STREQ(inv->inviteeuseridlist[0], "gb");
                TEST_STREQ(inv->inviteeuseridlist[1], "gc");
                TEST_STREQ(inv->inviteeuseridlist[2], "gd");
                TEST_INTEQ(inv->timeout, 60);
                TEST_STREQ(inv->mediatype, "audio");
                openim__v2__signal_req__free_unpacked(req, NULL);
        }
        bson_t *doc = env_wait_call(env, room, "ringing", NULL);
        TEST_STREQ(doc_str(doc, "groupID"), GROUP);
        TEST_INTEQ(doc_int(doc, "sessionType"), 2);
        TEST_STREQ(doc_str(doc, "inviterUserID"), "ga");
        TEST_STREQ(doc_str(doc, "mediaType"), "audio");
        TEST_STREQ(doc_str(doc, "participants.0.userID"), "ga");
        TEST_STREQ(doc_str(doc, "participants.0.role"), "inviter");
        TEST_STREQ(doc_str(doc, "participants.0.state"), "accepted");
        for (int i = 0; i < 3; i++) {
                char path[64];
                snprintf(path, sizeof(path), "participants.%d.userID", i + 1);
                TEST_STREQ(doc_str(doc, path), invitees[i]);
                snprintf(path, sizeof(path), "participants.%d.role", i + 1);
                TEST_STREQ(doc_str(doc, path), "invitee");
                snprintf(path, sizeof(path), "participants.%d.state", i + 1);
                TEST_STREQ(doc_str(doc, path), "ringing");
        }
        TEST_ASSERT(!doc_has(doc, "participants.4"), "four participants");
        bson_destroy(doc);
        TEST_INTEQ(env_count_docs(env, "lines", "{\"_id\": \"group:" GROUP "\"}"), 1);

        /* ---- gb accepts: active ---- */
        env_send(env, cmd_action("g-acc-gb", "gb", RQ(ACCEPT), room), NULL, -1);
        r = expect_code(env, "gb", "g-acc-gb", 0, RS(ACCEPT));
        TEST_STREQ(r->resp->accept->roomid, room);
        env_verify_token_later(env, r->resp->accept->token, "gb", room);
        expect_group_note_free(env, "ga", "g-acc-gb", "gb", RQ(ACCEPT), room);
        expect_group_note_free(env, "gb", "g-acc-gb", "gb", RQ(ACCEPT), room);
        doc = env_wait_call(env, room, "active", NULL);
        TEST_STREQ(doc_str(doc, "participants.1.state"), "accepted");
        TEST_ASSERT(doc_has(doc, "acceptedAt"), "acceptedAt set");
        bson_destroy(doc);

        /* ---- gc rejects: the call goes on ---- */
        env_send(env, cmd_action("g-rej-gc", "gc", RQ(REJECT), room), NULL, -1);
        expect_code(env, "gc", "g-rej-gc", 0, RS(REJECT));
        expect_group_note_free(env, "ga", "g-rej-gc", "gc", RQ(REJECT), room);
        expect_group_note_free(env, "gc", "g-rej-gc", "gc", RQ(REJECT), room);
        doc = env_call_doc(env, room);
        TEST_ASSERT(doc, "call record");
        TEST_STREQ(doc_str(doc, "state"), "active");
        TEST_STREQ(doc_str(doc, "participants.2.state"), "rejected");
        TEST_STREQ(doc_str(doc, "participants.3.state"), "ringing");
        bson_destroy(doc);
        /* a user who rejected gets no token */
        send_expect(env, cmd_token("g-tok-gc", "gc", room), 1002, RS(GET_TOKEN_BY_ROOM_ID));
        /* an accepted member does */
        env_send(env, cmd_token("g-tok-gb", "gb", room), NULL, -1);
        r = expect_code(env, "gb", "g-tok-gb", 0, RS(GET_TOKEN_BY_ROOM_ID));
        TEST_STREQ(r->resp->gettokenbyroomid->liveurl, LK_URL);
        env_verify_token_later(env, r->resp->gettokenbyroomid->token, "gb", room);

        /* ---- getRoomByGroupID ---- */
        env_send(env, cmd_room_lookup("g-room-gb", "gb", GROUP), NULL, -1);
        r = expect_code(env, "gb", "g-room-gb", 0, RS(GET_ROOM_BY_GROUP_ID));
        Openim__V2__SignalGetRoomByGroupIDReply *rr = r->resp->getroombygroupid;
        TEST_STREQ(rr->roomid, room);
        TEST_ASSERT(rr->invitation, "invitation present");
        TEST_STREQ(rr->invitation->inviteruserid, "ga");
        TEST_STREQ(rr->invitation->groupid, GROUP);
        TEST_STREQ(rr->invitation->roomid, room);
        TEST_INTEQ(rr->invitation->sessiontype, 2);
        TEST_INTEQ(rr->invitation->n_inviteeuseridlist, 3);
        TEST_ASSERT(list_has(rr->invitation->inviteeuseridlist,
                             rr->invitation->n_inviteeuseridlist, "gb") &&
                            list_has(rr->invitation->inviteeuseridlist,
                                     rr->invitation->n_inviteeuseridlist, "gc") &&
                            list_has(rr->invitation->inviteeuseridlist,
                                     rr->invitation->n_inviteeuseridlist, "gd"),
                    "invitees gb, gc, gd");
        /* ringing or accepted: ga, gb (accepted), gd (ringing); not gc */
        TEST_INTEQ(rr->n_participant, 3);
        char *pids[3];
        for (size_t i = 0; i < rr->n_participant && i < 3; i++) {
                TEST_ASSERT(rr->participant[i]->userinfo, "participant %zu userInfo", i);
                pids[i] = rr->participant[i]->userinfo->userid;
        }
        TEST_ASSERT(list_has(pids, 3, "ga") && list_has(pids, 3, "gb") &&
                            list_has(pids, 3, "gd") && !list_has(pids, 3, "gc"),
                    "participants ga, gb, gd");
        send_expect(env, cmd_room_lookup("g-room-gx", "gx", GROUP), 1002,
                    RS(GET_ROOM_BY_GROUP_ID));
        send_expect(env, cmd_room_lookup("g-room-none", "gb", "grp-none"), 1003,
                    RS(GET_ROOM_BY_GROUP_ID));
        send_expect(env, cmd_room_lookup("g-room-empty", "gb", ""), 1001,
                    RS(GET_ROOM_BY_GROUP_ID));

        /* ---- an accepted participant adds ge to the running call ---- */
        env_send(env, cmd_invite("g-add-ge", "gb", (const char *[]){"ge", NULL}, room,
                                 GROUP, "audio", 60),
                 NULL, -1);
        r = expect_code(env, "gb", "g-add-ge", 0, RS(INVITE_IN_GROUP));
        TEST_STREQ(r->resp->inviteingroup->roomid, room);
        TEST_INTEQ(r->resp->inviteingroup->n_busylineuseridlist, 0);
        env_verify_token_later(env, r->resp->inviteingroup->token, "gb", room);
        /* content of an invite: the request as sent (invitees: ge only) with
         * inviterUserID := sendID (behaviour.md "Notification content") */
        inviter_of_note = "gb";
        for (int i = 0; i < 2; i++) {
                const char *to = i == 0 ? "ge" : "gb";
                Openim__V2__SignalReq *req = expect_group_note(
                        env, to, "g-add-ge", "gb", RQ(INVITE_IN_GROUP), room);
                const Openim__V2__InvitationInfo *inv = req->inviteingroup->invitation;
                TEST_INTEQ(inv->n_inviteeuseridlist, 1);
                TEST_STREQ(inv->inviteeuseridlist[0], "ge");
                openim__v2__signal_req__free_unpacked(req, NULL);
        }
        inviter_of_note = "ga";
        doc = env_call_doc(env, room);
        TEST_STREQ(doc_str(doc, "participants.4.userID"), "ge");
        TEST_STREQ(doc_str(doc, "participants.4.state"), "ringing");
        TEST_STREQ(doc_str(doc, "events.3.type"), "invite");
        TEST_STREQ(doc_str(doc, "events.3.userID"), "gb");
        bson_destroy(doc);
        /* adding someone who is already ringing */
        send_expect(env, cmd_invite("g-add-gd", "gb", (const char *[]){"gd", NULL}, room,
                                    GROUP, "audio", 60),
                    1001, RS(INVITE_IN_GROUP));
        /* a second call in the same group */
        send_expect(env, cmd_invite("g-second", "gx", (const char *[]){"gy", NULL},
                                    "room-grp-second", GROUP, "video", 0),
                    1004, RS(INVITE_IN_GROUP));
        TEST_ASSERT(env_call_doc(env, "room-grp-second") == NULL,
                    "no record for the refused second call");
        TEST_INTEQ(env_count_docs(env, "lines", "{\"_id\": \"user:gx\"}"), 0);
        TEST_INTEQ(env_count_docs(env, "lines", "{\"_id\": \"user:gy\"}"), 0);

        /* ---- gd accepts, ge (the last ringing) rejects ---- */
        env_send(env, cmd_action("g-acc-gd", "gd", RQ(ACCEPT), room), NULL, -1);
        expect_code(env, "gd", "g-acc-gd", 0, RS(ACCEPT));
        expect_group_note_free(env, "ga", "g-acc-gd", "gd", RQ(ACCEPT), room);
        expect_group_note_free(env, "gd", "g-acc-gd", "gd", RQ(ACCEPT), room);
        env_send(env, cmd_action("g-rej-ge", "ge", RQ(REJECT), room), NULL, -1);
        expect_code(env, "ge", "g-rej-ge", 0, RS(REJECT));
        expect_group_note_free(env, "ga", "g-rej-ge", "ge", RQ(REJECT), room);
        /* gb added ge: gb hears the answer too. */
        expect_group_note_free(env, "gb", "g-rej-ge", "ge", RQ(REJECT), room);
        expect_group_note_free(env, "ge", "g-rej-ge", "ge", RQ(REJECT), room);
        doc = env_call_doc(env, room);
        TEST_STREQ(doc_str(doc, "state"), "active");
        bson_destroy(doc);

        /* ---- hang-ups: ga leaves (gb, gd remain), then gd (gb alone) ---- */
        env_send(env, cmd_action("g-hup-ga", "ga", RQ(HUNG_UP), room), NULL, -1);
        expect_code(env, "ga", "g-hup-ga", 0, RS(HUNG_UP));
        expect_group_note_free(env, "gb", "g-hup-ga", "ga", RQ(HUNG_UP), room);
        expect_group_note_free(env, "gd", "g-hup-ga", "ga", RQ(HUNG_UP), room);
        expect_group_note_free(env, "ga", "g-hup-ga", "ga", RQ(HUNG_UP), room);
        doc = env_call_doc(env, room);
        TEST_STREQ(doc_str(doc, "state"), "active");
        TEST_STREQ(doc_str(doc, "participants.0.state"), "left");
        TEST_STREQ(doc_str(doc, "participants.1.state"), "accepted");
        TEST_STREQ(doc_str(doc, "participants.3.state"), "accepted");
        TEST_ASSERT(!doc_has(doc, "endedAt"), "not ended while two remain");
        bson_destroy(doc);
        /* the inviter has left: hanging up again is a state conflict */
        send_expect(env, cmd_action("g-hup-ga-again", "ga", RQ(HUNG_UP), room), 1004,
                    RS(HUNG_UP));

        env_send(env, cmd_action("g-hup-gd", "gd", RQ(HUNG_UP), room), NULL, -1);
        expect_code(env, "gd", "g-hup-gd", 0, RS(HUNG_UP));
        {
                /* other actions carry the invitation rebuilt from the record:
                 * every invitee so far */
                Openim__V2__SignalReq *req = expect_group_note(
                        env, "gb", "g-hup-gd", "gd", RQ(HUNG_UP), room);
                TEST_INTEQ(req->hungup->invitation->n_inviteeuseridlist, 4);
                openim__v2__signal_req__free_unpacked(req, NULL);
        }
        expect_group_note_free(env, "gd", "g-hup-gd", "gd", RQ(HUNG_UP), room);
        doc = env_wait_call(env, room, "ended", "hung_up");
        TEST_ASSERT(doc_has(doc, "endedAt"), "endedAt set");
        const char *states[][2] = {{"ga", "left"}, {"gb", "left"}, {"gc", "rejected"},
                                   {"gd", "left"}, {"ge", "rejected"}};
        for (int i = 0; i < 5; i++) {
                char path[64];
                snprintf(path, sizeof(path), "participants.%d.userID", i);
                TEST_STREQ(doc_str(doc, path), states[i][0]);
                snprintf(path, sizeof(path), "participants.%d.state", i);
                TEST_STREQ(doc_str(doc, path), states[i][1]);
        }
        const char *events[][3] = {
                {"invite", "ga", "g-inv"},     {"accept", "gb", "g-acc-gb"},
                {"reject", "gc", "g-rej-gc"},  {"invite", "gb", "g-add-ge"},
                {"accept", "gd", "g-acc-gd"},  {"reject", "ge", "g-rej-ge"},
                {"hung_up", "ga", "g-hup-ga"}, {"hung_up", "gd", "g-hup-gd"}};
        for (int i = 0; i < 8; i++) {
                char path[64];
                snprintf(path, sizeof(path), "events.%d.type", i);
                TEST_STREQ(doc_str(doc, path), events[i][0]);
                snprintf(path, sizeof(path), "events.%d.userID", i);
                TEST_STREQ(doc_str(doc, path), events[i][1]);
                snprintf(path, sizeof(path), "events.%d.operationID", i);
                TEST_STREQ(doc_str(doc, path), events[i][2]);
        }
        TEST_ASSERT(!doc_has(doc, "events.8"), "eight events");
        bson_destroy(doc);
        TEST_INTEQ(env_count_docs(env, "lines", "{}"), 0);

        /* ---- after the end ---- */
        send_expect(env, cmd_action("g-hup-gb-late", "gb", RQ(HUNG_UP), room), 1004,
                    RS(HUNG_UP));
        send_expect(env, cmd_room_lookup("g-room-late", "gb", GROUP), 1003,
                    RS(GET_ROOM_BY_GROUP_ID));
        send_expect(env, cmd_token("g-tok-late", "gb", room), 1003,
                    RS(GET_TOKEN_BY_ROOM_ID));

        env_expect_quiet(env, "ga", 300);
        for (int i = 1; users[i]; i++)
                env_expect_quiet(env, users[i], 0);

        env_verify_tokens(env);
        env_stop(env);
        return test_done();
}
