/*
 * handler_content.c: the bytes callsig answers and notifies with.
 *
 * Replies carry the request's resp case (also for errors). Notification
 * content is the request as patched by callsig: opUserID, the invitation
 * and opUserPlatformID are swapped for server-built values while packing,
 * then the original pointers are restored, so the decoded command stays
 * intact. Tokens take the display name and metadata a client sent about
 * itself, shortened or left out so that a client cannot make minting fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "handler_int.h"
#include "ice.h"
#include "log.h"
#include "metrics.h"
#include "token.h"
#include "topic.h"

int32_t hd_ms_to_s32(int64_t ms) {
        return (int32_t)(ms / 1000);
}

/* protobuf-c message structs hold `char *` even where packing only reads
 * them; this is the one place our const strings are lent to them. */
char *hd_lend(const char *s) {
        union {
                const char *c;
                char *m;
        } u = {.c = s};
        return u.m;
}

void hd_resp_prepare(resp_buf_t *rb, Openim__V2__SignalReq__PayloadCase req_case) {
        openim__v2__signal_resp__init(&rb->resp);
        openim__v2__signal_invite_reply__init(&rb->invite);
        openim__v2__signal_invite_in_group_reply__init(&rb->invite_in_group);
        openim__v2__signal_cancel_reply__init(&rb->cancel);
        openim__v2__signal_accept_reply__init(&rb->accept);
        openim__v2__signal_hung_up_reply__init(&rb->hung_up);
        openim__v2__signal_reject_reply__init(&rb->reject);
        openim__v2__signal_get_room_by_group_idreply__init(&rb->room);
        openim__v2__signal_get_token_by_room_idreply__init(&rb->token);
        openim__v2__signal_send_custom_signal_reply__init(&rb->custom);
        rb->resp.payload_case = cs_codec_resp_case_for(req_case);
        switch (rb->resp.payload_case) {
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE: rb->resp.invite = &rb->invite; break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE_IN_GROUP: rb->resp.inviteingroup = &rb->invite_in_group; break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_CANCEL: rb->resp.cancel = &rb->cancel; break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_ACCEPT: rb->resp.accept = &rb->accept; break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_HUNG_UP: rb->resp.hungup = &rb->hung_up; break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_REJECT: rb->resp.reject = &rb->reject; break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_GET_ROOM_BY_GROUP_ID: rb->resp.getroombygroupid = &rb->room; break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_GET_TOKEN_BY_ROOM_ID: rb->resp.gettokenbyroomid = &rb->token; break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_SEND_CUSTOM_SIGNAL: rb->resp.sendcustomsignal = &rb->custom; break;
        default: break;
        }
}

/* Sets token, roomID, liveURL and busy list on an invite or accept resp. */
void hd_resp_set_join(resp_buf_t *rb, char *token, const char *room_id,
                          const char *live_url, const cs_strv_t *busy) {
        switch (rb->resp.payload_case) {
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE:
                rb->invite.token = token ? token : (char *)"";
                rb->invite.roomid = hd_lend(room_id);
                rb->invite.liveurl = hd_lend(live_url);
                rb->invite.n_busylineuseridlist = busy ? busy->cnt : 0;
                rb->invite.busylineuseridlist = busy ? busy->v : NULL;
                break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE_IN_GROUP:
                rb->invite_in_group.token = token ? token : (char *)"";
                rb->invite_in_group.roomid = hd_lend(room_id);
                rb->invite_in_group.liveurl = hd_lend(live_url);
                rb->invite_in_group.n_busylineuseridlist = busy ? busy->cnt : 0;
                rb->invite_in_group.busylineuseridlist = busy ? busy->v : NULL;
                break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_ACCEPT:
                rb->accept.token = token ? token : (char *)"";
                rb->accept.roomid = hd_lend(room_id);
                rb->accept.liveurl = hd_lend(live_url);
                break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_GET_TOKEN_BY_ROOM_ID:
                rb->token.token = token ? token : (char *)"";
                rb->token.liveurl = hd_lend(live_url);
                break;
        default:
                break;
        }
}

/* Wall clock, ms: TURN credentials expire in real time, whatever clock the
 * handler is given. */
static int64_t wall_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void hd_add_reply(cs_handler_t *h, cs_outbox_t *out,
                      const cs_command_t *cmd, cs_err_t code,
                      const char *msg, const Openim__V2__SignalResp *resp) {
        char topic[CS_TOPIC_MAX + 1];
        size_t len;
        cs_metrics_reply(cmd->req ? (int)cmd->req->payload_case : 0, (int32_t)code);
        /* The sender's topic was checked before any work was done. */
        if (!cs_topic_for_user(h->conf, cmd->sendid, topic, sizeof(topic)))
                abort();
        /* Successful join-type replies carry the ICE servers (section 11). */
        cs_ice_servers_t ice = {.cnt = 0};
        if (code == CS_OK && resp &&
            (resp->payload_case == OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE ||
             resp->payload_case == OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE_IN_GROUP ||
             resp->payload_case == OPENIM__V2__SIGNAL_RESP__PAYLOAD_ACCEPT ||
             resp->payload_case == OPENIM__V2__SIGNAL_RESP__PAYLOAD_GET_TOKEN_BY_ROOM_ID))
                cs_ice_servers_build(h->conf, cmd->sendid, wall_ms(), &ice);
        uint8_t *buf = cs_codec_pack_reply_ice(cmd->sendid, cmd, (int32_t)code,
                                               code ? (msg ? msg : cs_err2str(code)) : "",
                                               resp, ice.ptrs, ice.cnt, &len);
        cs_ice_servers_clear(&ice);
        cs_outbox_add(out, CS_OUT_REPLY, topic, cmd->sendid, buf, len,
                      cmd->operationid);
}

/* A reply with the request's resp case and an empty payload. */
void hd_add_error_reply(cs_handler_t *h, cs_outbox_t *out,
                            const cs_command_t *cmd, cs_err_t code,
                            const char *msg) {
        resp_buf_t rb;
        Openim__V2__SignalReq__PayloadCase req_case =
                cmd->req ? cmd->req->payload_case
                         : OPENIM__V2__SIGNAL_REQ__PAYLOAD__NOT_SET;
        hd_resp_prepare(&rb, req_case);
        hd_add_reply(h, out, cmd, code, msg,
                  rb.resp.payload_case ? &rb.resp : NULL);
}

/* ---- tokens ---- */

/* Copies at most @p max bytes of @p s into @p buf, cut at a UTF-8 character
 * boundary (the request's strings were checked to be valid UTF-8). */
static const char *utf8_prefix(const char *s, size_t max, char *buf) {
        size_t len = strlen(s);
        if (len <= max)
                return s;
        len = max;
        while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
                len--;
        memcpy(buf, s, len);
        buf[len] = '\0';
        return buf;
}

/* A token for @p user_id in @p room_id. The display name and metadata come
 * from what the client sent about itself: a name longer than LiveKit takes
 * is shortened and oversized metadata left out, so that a client cannot make
 * minting fail for good. */
char *hd_mint(cs_handler_t *h, const char *user_id, const char *room_id,
                  const Openim__V2__ParticipantMetaData *pm, int64_t now,
                  char *errstr, size_t errstr_size) {
        const Openim__V2__PublicUserInfo *ui = pm ? pm->userinfo : NULL;
        const Openim__V2__GroupInfo *gi = pm ? pm->groupinfo : NULL;
        const Openim__V2__GroupMemberFullInfo *gm = pm ? pm->groupmemberinfo : NULL;
        char name_buf[CS_TOKEN_NAME_MAX + 1];
        char *meta = NULL;
        if (pm)
                meta = cs_token_participant_json(
                        user_id, ui ? ui->nickname : NULL,
                        ui ? ui->faceurl : NULL, gi ? gi->groupid : NULL,
                        gi ? gi->groupname : NULL, gm ? gm->nickname : NULL,
                        gm ? gm->rolelevel : 0);
        if (meta && strlen(meta) > CS_TOKEN_METADATA_MAX) {
                free(meta);
                meta = NULL;
        }
        cs_token_claims_t claims = {
                .user_id = user_id,
                .room_id = room_id,
                .name = ui ? utf8_prefix(ui->nickname, CS_TOKEN_NAME_MAX, name_buf)
                           : NULL,
                .metadata = meta,
        };
        char *token = cs_token_mint(h->conf->livekit_api_key,
                                    h->conf->livekit_api_secret,
                                    h->conf->livekit_token_ttl, now / 1000,
                                    &claims, errstr, errstr_size);
        free(meta);
        return token;
}

void hd_invitation_from_call(const cs_call_t *call, invitation_t *inv,
                                 inv_lists_t *lists) {
        openim__v2__invitation_info__init(inv);
        lists->invitees = cs_xcalloc(call->part_cnt + 1, sizeof(char *));
        lists->busy = cs_xcalloc(call->part_cnt + 1, sizeof(char *));
        for (size_t i = 0; i < call->part_cnt; i++) {
                const cs_participant_t *part = &call->parts[i];
                if (part->inviter)
                        continue;
                lists->invitees[inv->n_inviteeuseridlist++] = part->user_id;
                if (part->state == CS_PART_BUSY)
                        lists->busy[inv->n_busylineuseridlist++] = part->user_id;
        }
        inv->inviteeuseridlist = lists->invitees;
        inv->busylineuseridlist = lists->busy;
        inv->inviteruserid = call->inviter_user_id;
        inv->customdata = call->custom_data;
        inv->groupid = call->group_id;
        inv->roomid = call->room_id;
        inv->timeout = call->timeout_s;
        inv->mediatype = call->media_type;
        inv->platformid = call->platform_id;
        inv->sessiontype = call->session_type;
        inv->initiatetime = hd_ms_to_s32(call->created_at);
}

void hd_free_invitation_lists(inv_lists_t *lists) {
        free(lists->invitees);
        free(lists->busy);
}

req_fields_t hd_req_fields(signal_req_t *req) {
        req_fields_t f = {0};
        switch (req->payload_case) {
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP:
                f.op_user_id = &req->hungup->opuserid;
                f.invitation = &req->hungup->invitation;
                f.offline_push = &req->hungup->offlinepushinfo;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE:
                f.op_user_id = &req->invite->opuserid;
                f.invitation = &req->invite->invitation;
                f.offline_push = &req->invite->offlinepushinfo;
                f.participant = &req->invite->participant;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP:
                f.op_user_id = &req->inviteingroup->opuserid;
                f.invitation = &req->inviteingroup->invitation;
                f.offline_push = &req->inviteingroup->offlinepushinfo;
                f.participant = &req->inviteingroup->participant;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL:
                f.op_user_id = &req->cancel->opuserid;
                f.invitation = &req->cancel->invitation;
                f.offline_push = &req->cancel->offlinepushinfo;
                f.participant = &req->cancel->participant;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT:
                f.op_user_id = &req->accept->opuserid;
                f.invitation = &req->accept->invitation;
                f.offline_push = &req->accept->offlinepushinfo;
                f.participant = &req->accept->participant;
                f.op_user_platform_id = &req->accept->opuserplatformid;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT:
                f.op_user_id = &req->reject->opuserid;
                f.invitation = &req->reject->invitation;
                f.offline_push = &req->reject->offlinepushinfo;
                f.participant = &req->reject->participant;
                f.op_user_platform_id = &req->reject->opuserplatformid;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_ROOM_BY_GROUP_ID:
                f.op_user_id = &req->getroombygroupid->opuserid;
                f.participant = &req->getroombygroupid->participant;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_TOKEN_BY_ROOM_ID:
                f.op_user_id = &req->gettokenbyroomid->opuserid;
                f.participant = &req->gettokenbyroomid->participant;
                break;
        default:
                break;
        }
        return f;
}

/* Packs @p req with opUserID, invitation and opUserPlatformID swapped for
 * the given values; the request is restored before returning. */
uint8_t *hd_pack_patched(signal_req_t *req, char *op_user_id,
                             invitation_t *inv, int32_t op_platform_id,
                             size_t *lenp) {
        req_fields_t f = hd_req_fields(req);
        char *saved_user = *f.op_user_id;
        invitation_t *saved_inv = f.invitation ? *f.invitation : NULL;
        int32_t saved_platform = f.op_user_platform_id ? *f.op_user_platform_id : 0;
        *f.op_user_id = op_user_id;
        if (f.invitation)
                *f.invitation = inv;
        if (f.op_user_platform_id && op_platform_id)
                *f.op_user_platform_id = op_platform_id;
        uint8_t *buf = cs_codec_pack(&req->base, lenp);
        *f.op_user_id = saved_user;
        if (f.invitation)
                *f.invitation = saved_inv;
        if (f.op_user_platform_id)
                *f.op_user_platform_id = saved_platform;
        return buf;
}

/* Content of a cancel notification: SignalReq{cancel{opUserID, invitation,
 * offlinePushInfo}}. Used by the timer and by a hang-up that cancels. */
uint8_t *hd_pack_cancel(char *op_user_id, invitation_t *inv,
                            Openim__V2__OfflinePushInfo *push, size_t *lenp) {
        signal_req_t req;
        Openim__V2__SignalCancelReq cancel;
        openim__v2__signal_req__init(&req);
        openim__v2__signal_cancel_req__init(&cancel);
        cancel.opuserid = op_user_id;
        cancel.invitation = inv;
        cancel.offlinepushinfo = push;
        req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL;
        req.cancel = &cancel;
        return cs_codec_pack(&req.base, lenp);
}

void hd_set_content(cs_event_t *ev, uint8_t *buf, size_t len) {
        free(ev->content);
        ev->content = buf;
        ev->content_len = len;
}

/* Adds the notifications of @p ev to @p out. */
void hd_emit_event(cs_handler_t *h, const cs_call_t *call,
                       const cs_event_t *ev, cs_outbox_t *out) {
        char topic[CS_TOPIC_MAX + 1];
        for (size_t i = 0; i < ev->notify.cnt; i++) {
                const char *recv_id = ev->notify.v[i];
                if (!cs_topic_for_user(h->conf, recv_id, topic, sizeof(topic))) {
                        cs_log(CS_LOG_WARN, "HANDLE",
                               "room %s: no push topic for a recipient; skipped",
                               call->room_id);
                        continue;
                }
                cs_note_t note = {
                        .send_id = ev->user_id,
                        .recv_id = recv_id,
                        .group_id = call->group_id,
                        .session_type = call->session_type,
                        .sender_platform = ev->platform_id,
                        .content = ev->content,
                        .content_len = ev->content_len,
                        .at_ms = ev->at,
                        .operation_id = ev->operation_id,
                        .event_type = cs_event_type_name(ev->type),
                };
                size_t len;
                uint8_t *buf = cs_codec_pack_notification(&note, &len);
                cs_outbox_add(out, CS_OUT_NOTIFICATION, topic, recv_id, buf,
                              len, ev->operation_id);
        }
}

