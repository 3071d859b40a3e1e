/*
 * 0080: the OpenIM v3 dialect (contract section 12), signal cases and
 * notifications: a 1:1 call (invite, accept, token, hang-up) in
 * SignalCommand.rtc with replies in SignalReply.rtc and notifications in
 * PushMessage.notificationV3, the v3 layout of content (userID fields,
 * initiateTime in ms); a v2 command to a v3 deployment and a v3 command to a
 * v2 deployment are answered 1007 in their own shape; a custom signal
 * (RtcRequest case 6) is relayed as 1605 in the v3 layout and a stranger's is
 * refused 1002; the join replies carry iceServers; LiveKit presence goes out
 * as 1602 / 1603.
 */
#include "v3cmd.h"

TEST_MAIN_DEFS

static Openim__Rtc__SignalReq *content(const Openim__Sdkws__MsgData *md) {
        Openim__Rtc__SignalReq *req = openim__rtc__signal_req__unpack(
                NULL, md->content.len, md->content.data);
        TEST_ASSERT(req, "content is a v3 SignalReq");
        return req;
}

static void v3_deployment(void) {
        env_opts_t opts = {.extra_yaml = "openim:\n  protocol: v3\n"
                                         "stun:\n  urls: [\"stun:127.0.0.1:3478\"]\n"};
        env_t *env = env_start("openimv3", &opts);
        env_watch(env, "alice");
        env_watch(env, "bob");
        int64_t before = env_wall_ms();

        /* invite: roomID generated, reply in rtc.signal.invite */
        v3_invite(env, "v3-inv", "alice", (const char *[]){"bob", NULL}, "",
                  NULL, "Alice");
        Callsig__V1__SignalReply *r = v3_expect(env, "alice", "v3-inv", 0,
                                                CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SIGNAL);
        TEST_INTEQ(r->rtc->signal->payload_case, OPENIM__RTC__SIGNAL_RESP__PAYLOAD_INVITE);
        char room[128];
        snprintf(room, sizeof(room), "%s", r->rtc->signal->invite->roomid);
        TEST_ASSERT(!strncmp(room, "cs-", 3), "generated roomID %s", room);
        TEST_STREQ(r->rtc->signal->invite->liveurl, LK_URL);
        TEST_ASSERT(r->rtc->signal->invite->token[0], "token");
        TEST_INTEQ(r->n_iceservers, 1);
        TEST_STREQ(r->iceservers[0]->urls[0], "stun:127.0.0.1:3478");
        env_verify_token_later(env, r->rtc->signal->invite->token, "alice", room);

        Openim__Sdkws__MsgData *md = v3_expect_note(env, "bob", "v3-inv", 1601);
        TEST_STREQ(md->sendid, "alice");
        TEST_INTEQ(md->sessiontype, 1);
        TEST_ASSERT(md->offlinepushinfo, "offlinePushInfo at field 20");
        TEST_STREQ(md->offlinepushinfo->title, "Incoming call");
        TEST_STREQ(md->offlinepushinfo->signalinfo, "sig");
        Openim__Rtc__SignalReq *req = content(md);
        TEST_INTEQ(req->payload_case, OPENIM__RTC__SIGNAL_REQ__PAYLOAD_INVITE);
        TEST_STREQ(req->invite->userid, "alice");
        TEST_STREQ(req->invite->invitation->inviteruserid, "alice");
        TEST_STREQ(req->invite->invitation->roomid, room);
        TEST_INTEQ(req->invite->invitation->timeout, 35);
        TEST_ASSERT(req->invite->invitation->initiatetime >= before - 1000 &&
                            req->invite->invitation->initiatetime <= env_wall_ms(),
                    "initiateTime in unix ms: %lld",
                    (long long)req->invite->invitation->initiatetime);
        TEST_STREQ(req->invite->participant->userinfo->nickname, "Alice");
        openim__rtc__signal_req__free_unpacked(req, NULL);
        v3_expect_note(env, "alice", "v3-inv", 1601);

        /* accept */
        v3_action(env, "v3-acc", "bob", OPENIM__RTC__SIGNAL_REQ__PAYLOAD_ACCEPT, room);
        r = v3_expect(env, "bob", "v3-acc", 0, CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SIGNAL);
        TEST_INTEQ(r->rtc->signal->payload_case, OPENIM__RTC__SIGNAL_RESP__PAYLOAD_ACCEPT);
        TEST_STREQ(r->rtc->signal->accept->roomid, room);
        env_verify_token_later(env, r->rtc->signal->accept->token, "bob", room);
        md = v3_expect_note(env, "alice", "v3-acc", 1601);
        TEST_STREQ(md->sendid, "bob");
        TEST_ASSERT(!md->offlinepushinfo, "no offlinePushInfo on accept");
        req = content(md);
        TEST_INTEQ(req->payload_case, OPENIM__RTC__SIGNAL_REQ__PAYLOAD_ACCEPT);
        TEST_STREQ(req->accept->userid, "bob");
        TEST_INTEQ(req->accept->opuserplatformid, 5);
        TEST_STREQ(req->accept->invitation->inviteeuseridlist[0], "bob");
        openim__rtc__signal_req__free_unpacked(req, NULL);
        v3_expect_note(env, "bob", "v3-acc", 1601);
        bson_destroy(env_wait_call(env, room, "active", NULL));

        /* getTokenByRoomID (SignalReq case 7 in v3) */
        v3_token(env, "v3-tok", "bob", room);
        r = v3_expect(env, "bob", "v3-tok", 0, CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SIGNAL);
        TEST_INTEQ(r->rtc->signal->payload_case,
                   OPENIM__RTC__SIGNAL_RESP__PAYLOAD_GET_TOKEN_BY_ROOM_ID);
        TEST_STREQ(r->rtc->signal->gettokenbyroomid->liveurl, LK_URL);
        env_verify_token_later(env, r->rtc->signal->gettokenbyroomid->token, "bob", room);

        /* a v2 command here: 1007, answered in the v2 shape */
        env_send(env, cmd_token("v2-tok", "bob", room), NULL, -1);
        r = env_expect_code(env, "bob", "v2-tok", 1007,
                            OPENIM__V2__SIGNAL_RESP__PAYLOAD_GET_TOKEN_BY_ROOM_ID);
        TEST_ASSERT(r->rtc == NULL, "no rtc in a v2-shaped reply");

        /* getRoomByGroupID of a group without a call: 1003, case set */
        {
                Callsig__V1__RtcRequest rtc;
                Openim__Rtc__SignalGetRoomByGroupIDReq q;
                callsig__v1__rtc_request__init(&rtc);
                openim__rtc__signal_get_room_by_group_idreq__init(&q);
                q.groupid = "no-such-group";
                rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_ROOM_BY_GROUP_ID;
                rtc.getroombygroupid = &q;
                v3_send(env, "v3-grp", "bob", &rtc, "bob");
                v3_expect(env, "bob", "v3-grp", 1003,
                          CALLSIG__V1__RTC_RESPONSE__PAYLOAD_GET_ROOM_BY_GROUP_ID);
        }

        /* a custom signal (the relay of contract section 11): bob's reaches
         * alice as 1605 in the v3 layout; a stranger's is refused */
        {
                Callsig__V1__RtcRequest rtc;
                Openim__Rtc__SignalSendCustomSignalReq q;
                callsig__v1__rtc_request__init(&rtc);
                openim__rtc__signal_send_custom_signal_req__init(&q);
                q.roomid = room;
                q.custominfo = "{\"sdp\":\"v=0\"}";
                rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_SEND_CUSTOM_SIGNAL;
                rtc.sendcustomsignal = &q;
                v3_send(env, "v3-custom", "bob", &rtc, room);
                r = v3_expect(env, "bob", "v3-custom", 0,
                              CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SEND_CUSTOM_SIGNAL);
                TEST_INTEQ(r->n_iceservers, 0);
                md = v3_expect_note(env, "alice", "v3-custom", 1605);
                TEST_STREQ(md->sendid, "bob");
                TEST_ASSERT(!md->offlinepushinfo, "no offlinePushInfo on a custom signal");
                Openim__Rtc__SignalSendCustomSignalReq *got =
                        openim__rtc__signal_send_custom_signal_req__unpack(
                                NULL, md->content.len, md->content.data);
                TEST_ASSERT(got, "content is a v3 SignalSendCustomSignalReq");
                TEST_STREQ(got->roomid, room);
                TEST_STREQ(got->custominfo, "{\"sdp\":\"v=0\"}");
                openim__rtc__signal_send_custom_signal_req__free_unpacked(got, NULL);
                env_watch(env, "mallory");
                v3_send(env, "v3-custom-m", "mallory", &rtc, room);
                v3_expect(env, "mallory", "v3-custom-m", 1002,
                          CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SEND_CUSTOM_SIGNAL);
        }

        /* an empty rtc: 1001 with no case */
        {
                Callsig__V1__RtcRequest rtc;
                callsig__v1__rtc_request__init(&rtc);
                v3_send(env, "v3-empty", "bob", &rtc, "bob");
                r = seen_reply(env_expect_reply(env, "bob", "v3-empty"));
                TEST_INTEQ(r->errcode, 1001);
                TEST_ASSERT(!r->resp && !r->rtc, "no case");
        }

        /* LiveKit presence: 1602 / 1603 with their own content messages */
        TEST_INTEQ(v3_webhook(env, "participant_joined", "EV_v3j", room, "alice"), 200);
        md = v3_expect_note(env, "bob", "EV_v3j", 1602);
        {
                Openim__Rtc__SignalOnRoomParticipantConnectedReq *c =
                        openim__rtc__signal_on_room_participant_connected_req__unpack(
                                NULL, md->content.len, md->content.data);
                TEST_ASSERT(c, "content is SignalOnRoomParticipantConnectedReq");
                TEST_STREQ(c->invitation->roomid, room);
                TEST_INTEQ(c->n_participant, 1);
                TEST_STREQ(c->participant[0]->userinfo->nickname, "Alice");
                openim__rtc__signal_on_room_participant_connected_req__free_unpacked(c, NULL);
        }
        TEST_INTEQ(v3_webhook(env, "participant_left", "EV_v3l", room, "alice"), 200);
        md = v3_expect_note(env, "bob", "EV_v3l", 1603);
        {
                Openim__Rtc__SignalOnRoomParticipantDisconnectedReq *c =
                        openim__rtc__signal_on_room_participant_disconnected_req__unpack(
                                NULL, md->content.len, md->content.data);
                TEST_ASSERT(c, "content is SignalOnRoomParticipantDisconnectedReq");
                TEST_INTEQ(c->n_participant, 0);
                openim__rtc__signal_on_room_participant_disconnected_req__free_unpacked(c, NULL);
        }

        /* hang-up */
        v3_action(env, "v3-bye", "alice", OPENIM__RTC__SIGNAL_REQ__PAYLOAD_HUNG_UP, room);
        r = v3_expect(env, "alice", "v3-bye", 0, CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SIGNAL);
        TEST_INTEQ(r->rtc->signal->payload_case, OPENIM__RTC__SIGNAL_RESP__PAYLOAD_HUNG_UP);
        md = v3_expect_note(env, "bob", "v3-bye", 1601);
        req = content(md);
        TEST_INTEQ(req->payload_case, OPENIM__RTC__SIGNAL_REQ__PAYLOAD_HUNG_UP);
        TEST_STREQ(req->hungup->userid, "alice");
        openim__rtc__signal_req__free_unpacked(req, NULL);
        v3_expect_note(env, "alice", "v3-bye", 1601);
        bson_destroy(env_wait_call(env, room, "ended", "hung_up"));

        env_verify_tokens(env);
        env_stop(env);
}

/* A v3 command to a v2 deployment: 1007 in the rtc shape. */
static void v2_deployment(void) {
        env_t *env = env_start("openimv2", NULL);
        env_watch(env, "carol");
        v3_invite(env, "v3-on-v2", "carol", (const char *[]){"dan", NULL}, "",
                  NULL, NULL);
        Callsig__V1__SignalReply *r = v3_expect(env, "carol", "v3-on-v2", 1007,
                                                CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SIGNAL);
        TEST_INTEQ(r->rtc->signal->payload_case, OPENIM__RTC__SIGNAL_RESP__PAYLOAD_INVITE);
        env_expect_quiet(env, "carol", 500);
        env_stop(env);
}

int main(void) {
        v3_deployment();
        v2_deployment();
        return test_done();
}
