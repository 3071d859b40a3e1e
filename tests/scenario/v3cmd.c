/*
 * v3cmd.c: OpenIM v3 commands and checks for scenario tests (v3cmd.h).
 */
#include "v3cmd.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S(s) ((char *)(uintptr_t)(s))

void v3_send(env_t *env, const char *op, const char *sender,
             Callsig__V1__RtcRequest *rtc, const char *key) {
        Callsig__V1__SignalCommand cmd;
        size_t len;

        callsig__v1__signal_command__init(&cmd);
        cmd.operationid = S(op);
        cmd.sendid = S(sender);
        cmd.platformid = 5;
        cmd.sentat = env_wall_ms();
        cmd.rtc = rtc;
        len = callsig__v1__signal_command__get_packed_size(&cmd);
        uint8_t *buf = malloc(len);
        TEST_ASSERT(buf, "out of memory");
        callsig__v1__signal_command__pack(&cmd, buf);
        env_send_raw(env, buf, len, key, -1);
        free(buf);
}

void v3_invite(env_t *env, const char *op, const char *sender,
               const char *const *invitees, const char *room,
               const char *group, const char *nickname) {
        v3_invite_timeout(env, op, sender, invitees, room, group, nickname, 0);
}

void v3_invite_timeout(env_t *env, const char *op, const char *sender,
                       const char *const *invitees, const char *room,
                       const char *group, const char *nickname,
                       int32_t timeout) {
        Callsig__V1__RtcRequest rtc;
        Openim__Rtc__SignalReq req;
        Openim__Rtc__SignalInviteReq inv_req;
        Openim__Rtc__InvitationInfo inv;
        Openim__Sdkws__OfflinePushInfo push;
        Openim__Rtc__ParticipantMetaData pm;
        Openim__Sdkws__PublicUserInfo ui;
        size_t n = 0;

        while (invitees[n])
                n++;
        callsig__v1__rtc_request__init(&rtc);
        openim__rtc__signal_req__init(&req);
        openim__rtc__signal_invite_req__init(&inv_req);
        openim__rtc__invitation_info__init(&inv);
        openim__sdkws__offline_push_info__init(&push);
        openim__rtc__participant_meta_data__init(&pm);
        openim__sdkws__public_user_info__init(&ui);
        inv.inviteruserid = S("someone-else"); /* overwritten by callsig */
        inv.n_inviteeuseridlist = n;
        inv.inviteeuseridlist = (char **)(uintptr_t)invitees;
        inv.groupid = S(group ? group : "");
        inv.roomid = S(room);
        inv.mediatype = S("video");
        inv.sessiontype = group ? 2 : 1;
        inv.platformid = 5;
        inv.timeout = timeout;
        push.title = S("Incoming call");
        push.signalinfo = S("sig");
        ui.userid = S(sender);
        ui.nickname = S(nickname ? nickname : "");
        pm.userinfo = &ui;
        inv_req.invitation = &inv;
        inv_req.offlinepushinfo = &push;
        inv_req.participant = nickname ? &pm : NULL;
        inv_req.userid = S("forged"); /* overwritten by callsig */
        Openim__Rtc__SignalInviteInGroupReq grp_req;
        openim__rtc__signal_invite_in_group_req__init(&grp_req);
        grp_req.invitation = inv_req.invitation;
        grp_req.offlinepushinfo = inv_req.offlinepushinfo;
        grp_req.participant = inv_req.participant;
        grp_req.userid = inv_req.userid;
        if (group) {
                req.payload_case = OPENIM__RTC__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP;
                req.inviteingroup = &grp_req;
        } else {
                req.payload_case = OPENIM__RTC__SIGNAL_REQ__PAYLOAD_INVITE;
                req.invite = &inv_req;
        }
        rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_SIGNAL;
        rtc.signal = &req;
        v3_send(env, op, sender, &rtc, room[0] ? room : sender);
}

void v3_action(env_t *env, const char *op, const char *sender, int req_case,
               const char *room) {
        Callsig__V1__RtcRequest rtc;
        Openim__Rtc__SignalReq req;
        Openim__Rtc__InvitationInfo inv;
        Openim__Rtc__SignalCancelReq cancel;
        Openim__Rtc__SignalAcceptReq accept;
        Openim__Rtc__SignalRejectReq reject;
        Openim__Rtc__SignalHungUpReq hungup;

        callsig__v1__rtc_request__init(&rtc);
        openim__rtc__signal_req__init(&req);
        openim__rtc__invitation_info__init(&inv);
        inv.roomid = S(room);
        req.payload_case = (Openim__Rtc__SignalReq__PayloadCase)req_case;
        switch (req_case) {
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_CANCEL:
                openim__rtc__signal_cancel_req__init(&cancel);
                cancel.invitation = &inv;
                req.cancel = &cancel;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_ACCEPT:
                openim__rtc__signal_accept_req__init(&accept);
                accept.invitation = &inv;
                accept.opuserplatformid = 5;
                req.accept = &accept;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_REJECT:
                openim__rtc__signal_reject_req__init(&reject);
                reject.invitation = &inv;
                reject.opuserplatformid = 5;
                req.reject = &reject;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_HUNG_UP:
                openim__rtc__signal_hung_up_req__init(&hungup);
                hungup.invitation = &inv;
                req.hungup = &hungup;
                break;
        default:
                TEST_ASSERT(0, "case %d", req_case);
        }
        rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_SIGNAL;
        rtc.signal = &req;
        v3_send(env, op, sender, &rtc, room);
}

void v3_token(env_t *env, const char *op, const char *sender, const char *room) {
        Callsig__V1__RtcRequest rtc;
        Openim__Rtc__SignalReq req;
        Openim__Rtc__SignalGetTokenByRoomIDReq tok;

        callsig__v1__rtc_request__init(&rtc);
        openim__rtc__signal_req__init(&req);
        openim__rtc__signal_get_token_by_room_idreq__init(&tok);
        tok.roomid = S(room);
        req.payload_case = OPENIM__RTC__SIGNAL_REQ__PAYLOAD_GET_TOKEN_BY_ROOM_ID;
        req.gettokenbyroomid = &tok;
        rtc.payload_case = CALLSIG__V1__RTC_REQUEST__PAYLOAD_SIGNAL;
        rtc.signal = &req;
        v3_send(env, op, sender, &rtc, room);
}

Callsig__V1__SignalReply *v3_expect(env_t *env, const char *user,
                                    const char *op, int code, int rtc_case) {
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, user, op));
        TEST_ASSERT(r->errcode == code, "%s from %s: errCode %d, want %d (%s)",
                    op, user, r->errcode, code, r->errmsg);
        TEST_STREQ(r->operationid, op);
        TEST_ASSERT(r->resp == NULL, "%s: v2 resp set in a v3 reply", op);
        TEST_ASSERT(r->rtc && (int)r->rtc->payload_case == rtc_case,
                    "%s: rtc case %d, want %d", op,
                    r->rtc ? (int)r->rtc->payload_case : -1, rtc_case);
        return r;
}

Openim__Sdkws__MsgData *v3_expect_note(env_t *env, const char *user,
                                       const char *op, int content_type) {
        seen_t *s = env_expect_note(env, user, op);
        TEST_ASSERT(s->push, "undecodable push message");
        TEST_ASSERT(s->push->body_case ==
                            CALLSIG__V1__PUSH_MESSAGE__BODY_NOTIFICATION_V3,
                    "%s for %s: body case %d, want notificationV3", op, user,
                    (int)s->push->body_case);
        TEST_STREQ(s->push->recvid, user);
        Openim__Sdkws__MsgData *md = s->push->notificationv3;
        TEST_INTEQ(md->contenttype, content_type);
        TEST_STREQ(md->recvid, user);
        TEST_INTEQ(md->seq, 0);
        TEST_INTEQ(md->msgfrom, 100);
        TEST_INTEQ(md->n_options, 5);
        for (size_t i = 0; i < md->n_options; i++)
                TEST_ASSERT(!md->options[i]->value, "option %s true",
                            md->options[i]->key);
        return md;
}

int v3_webhook(env_t *env, const char *type, const char *id, const char *room,
               const char *identity) {
        char body[1024], hash[45];
        unsigned char md[32];
        unsigned int n = 0;
        int64_t now = (int64_t)time(NULL);
        snprintf(body, sizeof(body),
                 "{\"event\":\"%s\",\"room\":{\"sid\":\"RM_x\",\"name\":\"%s\"},"
                 "\"participant\":{\"sid\":\"PA_%s\",\"identity\":\"%s\","
                 "\"state\":\"ACTIVE\",\"joinedAt\":\"%lld\"},\"id\":\"%s\","
                 "\"createdAt\":\"%lld\"}",
                 type, room, identity, identity, (long long)(now - 5), id,
                 (long long)now);
        EVP_Digest(body, strlen(body), md, &n, EVP_sha256(), NULL);
        EVP_EncodeBlock((unsigned char *)hash, md, 32);
        jwt_t *jwt = NULL;
        TEST_ASSERT(!jwt_new(&jwt), "jwt_new");
        jwt_add_grant(jwt, "iss", LK_KEY);
        jwt_add_grant(jwt, "sha256", hash);
        jwt_add_grant_int(jwt, "nbf", now);
        jwt_add_grant_int(jwt, "exp", now + 300);
        jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)LK_SECRET,
                    (int)strlen(LK_SECRET));
        char *t = jwt_encode_str(jwt);
        jwt_free(jwt);
        TEST_ASSERT(t, "jwt_encode_str");
        http_reply_t r = env_http(env, 0, "POST", "/webhooks/livekit", t, body,
                                  strlen(body));
        free(r.body);
        free(t);
        return r.status;
}
