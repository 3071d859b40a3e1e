/*
 * codec_v2.c: the OpenIM v2 dialect (contract section 4): SignalCommand.req,
 * SignalReply.resp, PushMessage.notification.
 *
 * Requests are read into the request model; what goes out is built from the
 * model, except notification content of a change, which is the request
 * itself with the fields callsig owns replaced (unknown fields stay).
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "codec_int.h"

typedef Openim__V2__SignalReq signal_req_t;
typedef Openim__V2__InvitationInfo invitation_t;

#define L cs_codec_lend

/* ---- reading ---- */

static const ProtobufCMessage *payload(const Callsig__V1__SignalCommand *wire) {
        return wire->req ? &wire->req->base : NULL;
}

/* The parts every change request has, whatever its case. */
typedef struct v2_fields_s {
        invitation_t *const *invitation;
        const int32_t *op_platform;
        Openim__V2__OfflinePushInfo *const *offline_push;
        Openim__V2__ParticipantMetaData *const *participant;
} v2_fields_t;

static v2_fields_t fields_of(const signal_req_t *req) {
        v2_fields_t f = {0};
        switch (req->payload_case) {
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE:
                f.invitation = &req->invite->invitation;
                f.offline_push = &req->invite->offlinepushinfo;
                f.participant = &req->invite->participant;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP:
                f.invitation = &req->inviteingroup->invitation;
                f.offline_push = &req->inviteingroup->offlinepushinfo;
                f.participant = &req->inviteingroup->participant;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL:
                f.invitation = &req->cancel->invitation;
                f.offline_push = &req->cancel->offlinepushinfo;
                f.participant = &req->cancel->participant;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT:
                f.invitation = &req->accept->invitation;
                f.offline_push = &req->accept->offlinepushinfo;
                f.participant = &req->accept->participant;
                f.op_platform = &req->accept->opuserplatformid;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT:
                f.invitation = &req->reject->invitation;
                f.offline_push = &req->reject->offlinepushinfo;
                f.participant = &req->reject->participant;
                f.op_platform = &req->reject->opuserplatformid;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP:
                f.invitation = &req->hungup->invitation;
                f.offline_push = &req->hungup->offlinepushinfo;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_ROOM_BY_GROUP_ID:
                f.participant = &req->getroombygroupid->participant;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_TOKEN_BY_ROOM_ID:
                f.participant = &req->gettokenbyroomid->participant;
                break;
        default:
                break;
        }
        return f;
}

static void read_invitation(const invitation_t *w, cs_invitation_t *inv) {
        inv->inviter_user_id = w->inviteruserid;
        inv->invitees = w->inviteeuseridlist;
        inv->invitee_cnt = w->n_inviteeuseridlist;
        inv->busy = w->busylineuseridlist;
        inv->busy_cnt = w->n_busylineuseridlist;
        inv->custom_data = w->customdata;
        inv->group_id = w->groupid;
        inv->room_id = w->roomid;
        inv->media_type = w->mediatype;
        inv->timeout_s = w->timeout;
        inv->platform_id = w->platformid;
        inv->session_type = w->sessiontype;
        inv->initiate_ms = (int64_t)w->initiatetime * 1000;
}

static void read_participant(const Openim__V2__ParticipantMetaData *pm,
                             cs_participant_info_t *p) {
        const Openim__V2__PublicUserInfo *ui = pm->userinfo;
        const Openim__V2__GroupInfo *gi = pm->groupinfo;
        const Openim__V2__GroupMemberFullInfo *gm = pm->groupmemberinfo;

        p->nickname = ui ? ui->nickname : NULL;
        p->face_url = ui ? ui->faceurl : NULL;
        p->group_id = gi ? gi->groupid : NULL;
        p->group_name = gi ? gi->groupname : NULL;
        p->member_nickname = gm ? gm->nickname : NULL;
        p->role_level = gm ? gm->rolelevel : 0;
}

static void read_request(cs_command_t *cmd) {
        const signal_req_t *req = cmd->wire->req;
        cs_request_t *r = &cmd->req;

        if (!req)
                return;
        r->wire_size = protobuf_c_message_get_packed_size(&req->base);
        switch (req->payload_case) {
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE:
                r->kind = CS_REQ_INVITE;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP:
                r->kind = CS_REQ_INVITE_IN_GROUP;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL:
                r->kind = CS_REQ_CANCEL;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT:
                r->kind = CS_REQ_ACCEPT;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP:
                r->kind = CS_REQ_HUNG_UP;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT:
                r->kind = CS_REQ_REJECT;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_ROOM_BY_GROUP_ID:
                r->kind = CS_REQ_GET_ROOM_BY_GROUP_ID;
                r->group_id = req->getroombygroupid->groupid;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_CONNECTED_REQ:
                r->kind = CS_REQ_ROOM_CONNECTED;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_DISCONNECTED_REQ:
                r->kind = CS_REQ_ROOM_DISCONNECTED;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_TOKEN_BY_ROOM_ID:
                r->kind = CS_REQ_GET_TOKEN_BY_ROOM_ID;
                r->room_id = req->gettokenbyroomid->roomid;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_SEND_CUSTOM_SIGNAL:
                r->kind = CS_REQ_CUSTOM_SIGNAL;
                r->room_id = req->sendcustomsignal->roomid;
                r->custom_info = req->sendcustomsignal->custominfo;
                r->ids = req->sendcustomsignal->recvuserids;
                r->id_cnt = req->sendcustomsignal->n_recvuserids;
                break;
        default:
                r->kind = CS_REQ_NONE;
                return;
        }
        v2_fields_t f = fields_of(req);
        if (f.invitation && *f.invitation) {
                r->has_invitation = true;
                read_invitation(*f.invitation, &r->inv);
        }
        if (f.op_platform)
                r->op_platform_id = *f.op_platform;
        if (f.participant && *f.participant) {
                r->has_participant = true;
                read_participant(*f.participant, &r->participant);
        }
}

/* ---- building ---- */

/* An InvitationInfo from @p inv; @p base (may be NULL) supplies the fields
 * callsig does not own and the unknown fields. */
static invitation_t *make_invitation(const cs_invitation_t *inv,
                                     const invitation_t *base, cs_arena_t *a) {
        invitation_t *w = cs_arena_new(a, sizeof(*w));
        if (base)
                *w = *base;
        else
                openim__v2__invitation_info__init(w);
        w->inviteruserid = L(inv->inviter_user_id);
        w->n_inviteeuseridlist = inv->invitee_cnt;
        w->inviteeuseridlist = (char **)(uintptr_t)inv->invitees;
        w->n_busylineuseridlist = inv->busy_cnt;
        w->busylineuseridlist = (char **)(uintptr_t)inv->busy;
        w->customdata = L(inv->custom_data);
        w->groupid = L(inv->group_id);
        w->roomid = L(inv->room_id);
        w->mediatype = L(inv->media_type);
        w->timeout = inv->timeout_s;
        w->platformid = inv->platform_id;
        w->sessiontype = inv->session_type;
        w->initiatetime = (int32_t)(inv->initiate_ms / 1000);
        return w;
}

/* The members' ParticipantMetaData: stored metadata, or just the userID.
 * Everything lives until the arena is freed. */
static Openim__V2__ParticipantMetaData **make_members(const cs_room_view_t *room,
                                                      cs_arena_t *a) {
        Openim__V2__ParticipantMetaData **pms =
                (Openim__V2__ParticipantMetaData **)cs_arena_ptrs(a, room->member_cnt);
        for (size_t i = 0; i < room->member_cnt; i++) {
                const cs_member_t *m = &room->members[i];
                Openim__V2__ParticipantMetaData *pm = NULL;
                if (m->meta) {
                        pm = openim__v2__participant_meta_data__unpack(
                                NULL, m->meta_len, m->meta);
                        if (pm)
                                cs_arena_adopt(a, &pm->base);
                }
                if (!pm) {
                        Openim__V2__PublicUserInfo *ui = cs_arena_new(a, sizeof(*ui));
                        pm = cs_arena_new(a, sizeof(*pm));
                        openim__v2__participant_meta_data__init(pm);
                        openim__v2__public_user_info__init(ui);
                        ui->userid = L(m->user_id);
                        pm->userinfo = ui;
                }
                pms[i] = pm;
        }
        return pms;
}

/* ---- replies ---- */

static void set_reply(Callsig__V1__SignalReply *reply, cs_req_kind_t kind,
                      const cs_reply_t *r, cs_arena_t *a) {
        static const cs_reply_t none = {0};
        Openim__V2__SignalResp *resp = cs_arena_new(a, sizeof(*resp));
        openim__v2__signal_resp__init(resp);
        if (!r)
                r = &none;
        size_t busy_cnt = r->busy ? r->busy->cnt : 0;
        char **busy = r->busy ? r->busy->v : NULL;

        switch (kind) {
        case CS_REQ_INVITE: {
                Openim__V2__SignalInviteReply *m = cs_arena_new(a, sizeof(*m));
                openim__v2__signal_invite_reply__init(m);
                m->token = L(r->token);
                m->roomid = L(r->room_id);
                m->liveurl = L(r->live_url);
                m->n_busylineuseridlist = busy_cnt;
                m->busylineuseridlist = busy;
                resp->payload_case = OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE;
                resp->invite = m;
                break;
        }
        case CS_REQ_INVITE_IN_GROUP: {
                Openim__V2__SignalInviteInGroupReply *m = cs_arena_new(a, sizeof(*m));
                openim__v2__signal_invite_in_group_reply__init(m);
                m->token = L(r->token);
                m->roomid = L(r->room_id);
                m->liveurl = L(r->live_url);
                m->n_busylineuseridlist = busy_cnt;
                m->busylineuseridlist = busy;
                resp->payload_case = OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE_IN_GROUP;
                resp->inviteingroup = m;
                break;
        }
        case CS_REQ_ACCEPT: {
                Openim__V2__SignalAcceptReply *m = cs_arena_new(a, sizeof(*m));
                openim__v2__signal_accept_reply__init(m);
                m->token = L(r->token);
                m->roomid = L(r->room_id);
                m->liveurl = L(r->live_url);
                resp->payload_case = OPENIM__V2__SIGNAL_RESP__PAYLOAD_ACCEPT;
                resp->accept = m;
                break;
        }
        case CS_REQ_CANCEL: {
                Openim__V2__SignalCancelReply *m = cs_arena_new(a, sizeof(*m));
                openim__v2__signal_cancel_reply__init(m);
                resp->payload_case = OPENIM__V2__SIGNAL_RESP__PAYLOAD_CANCEL;
                resp->cancel = m;
                break;
        }
        case CS_REQ_HUNG_UP: {
                Openim__V2__SignalHungUpReply *m = cs_arena_new(a, sizeof(*m));
                openim__v2__signal_hung_up_reply__init(m);
                resp->payload_case = OPENIM__V2__SIGNAL_RESP__PAYLOAD_HUNG_UP;
                resp->hungup = m;
                break;
        }
        case CS_REQ_REJECT: {
                Openim__V2__SignalRejectReply *m = cs_arena_new(a, sizeof(*m));
                openim__v2__signal_reject_reply__init(m);
                resp->payload_case = OPENIM__V2__SIGNAL_RESP__PAYLOAD_REJECT;
                resp->reject = m;
                break;
        }
        case CS_REQ_GET_ROOM_BY_GROUP_ID: {
                Openim__V2__SignalGetRoomByGroupIDReply *m = cs_arena_new(a, sizeof(*m));
                openim__v2__signal_get_room_by_group_idreply__init(m);
                if (r->room_cnt > 0) {
                        const cs_room_view_t *room = &r->rooms[0];
                        m->invitation = make_invitation(&room->inv, NULL, a);
                        m->participant = make_members(room, a);
                        m->n_participant = room->member_cnt;
                        m->roomid = L(room->inv.room_id);
                }
                resp->payload_case = OPENIM__V2__SIGNAL_RESP__PAYLOAD_GET_ROOM_BY_GROUP_ID;
                resp->getroombygroupid = m;
                break;
        }
        case CS_REQ_GET_TOKEN_BY_ROOM_ID: {
                Openim__V2__SignalGetTokenByRoomIDReply *m = cs_arena_new(a, sizeof(*m));
                openim__v2__signal_get_token_by_room_idreply__init(m);
                m->token = L(r->token);
                m->liveurl = L(r->live_url);
                resp->payload_case = OPENIM__V2__SIGNAL_RESP__PAYLOAD_GET_TOKEN_BY_ROOM_ID;
                resp->gettokenbyroomid = m;
                break;
        }
        case CS_REQ_CUSTOM_SIGNAL: {
                Openim__V2__SignalSendCustomSignalReply *m = cs_arena_new(a, sizeof(*m));
                openim__v2__signal_send_custom_signal_reply__init(m);
                resp->payload_case = OPENIM__V2__SIGNAL_RESP__PAYLOAD_SEND_CUSTOM_SIGNAL;
                resp->sendcustomsignal = m;
                break;
        }
        default: /* 8, 9, none, and kinds v2 has no case for */
                return;
        }
        reply->resp = resp;
}

/* ---- notification content ---- */

static uint8_t *pack_content(const cs_command_t *cmd, const cs_invitation_t *inv,
                             int32_t op_platform_id, size_t *lenp) {
        const signal_req_t *req = cmd->wire->req;
        cs_arena_t a = {0};
        signal_req_t copy = *req;
        char *op = L(cmd->send_id);
        v2_fields_t f = fields_of(req);
        /* An invite keeps what the client wrote beside the fields callsig
         * owns; other changes show the invitation as the call knows it. */
        bool invite = cmd->req.kind == CS_REQ_INVITE ||
                      cmd->req.kind == CS_REQ_INVITE_IN_GROUP;
        const invitation_t *base = invite && f.invitation ? *f.invitation : NULL;
        invitation_t *w = make_invitation(inv, base, &a);

        /* Shallow copies of the case's message, with the fields callsig
         * owns replaced; the command itself is not touched. */
        switch (req->payload_case) {
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE: {
                Openim__V2__SignalInviteReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->invite;
                m->opuserid = op;
                m->invitation = w;
                copy.invite = m;
                break;
        }
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP: {
                Openim__V2__SignalInviteInGroupReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->inviteingroup;
                m->opuserid = op;
                m->invitation = w;
                copy.inviteingroup = m;
                break;
        }
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL: {
                Openim__V2__SignalCancelReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->cancel;
                m->opuserid = op;
                m->invitation = w;
                copy.cancel = m;
                break;
        }
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT: {
                Openim__V2__SignalAcceptReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->accept;
                m->opuserid = op;
                m->invitation = w;
                if (op_platform_id)
                        m->opuserplatformid = op_platform_id;
                copy.accept = m;
                break;
        }
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT: {
                Openim__V2__SignalRejectReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->reject;
                m->opuserid = op;
                m->invitation = w;
                if (op_platform_id)
                        m->opuserplatformid = op_platform_id;
                copy.reject = m;
                break;
        }
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP: {
                Openim__V2__SignalHungUpReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->hungup;
                m->opuserid = op;
                m->invitation = w;
                copy.hungup = m;
                break;
        }
        default:
                break;
        }
        uint8_t *out = cs_codec_pack(&copy.base, lenp);
        cs_arena_free(&a);
        return out;
}

static uint8_t *pack_cancel(const char *op_user, const cs_invitation_t *inv,
                            const cs_command_t *push_from, size_t *lenp) {
        cs_arena_t a = {0};
        signal_req_t req;
        Openim__V2__SignalCancelReq cancel;
        openim__v2__signal_req__init(&req);
        openim__v2__signal_cancel_req__init(&cancel);
        cancel.opuserid = L(op_user);
        cancel.invitation = make_invitation(inv, NULL, &a);
        if (push_from && push_from->wire->req) {
                v2_fields_t f = fields_of(push_from->wire->req);
                cancel.offlinepushinfo = f.offline_push ? *f.offline_push : NULL;
        }
        req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL;
        req.cancel = &cancel;
        uint8_t *out = cs_codec_pack(&req.base, lenp);
        cs_arena_free(&a);
        return out;
}

static uint8_t *pack_presence(bool joined, const cs_room_view_t *room,
                              size_t *lenp) {
        cs_arena_t a = {0};
        signal_req_t req;
        Openim__V2__SignalOnRoomParticipantConnectedReq conn;
        Openim__V2__SignalOnRoomParticipantDisconnectedReq disc;
        invitation_t *inv = make_invitation(&room->inv, NULL, &a);
        Openim__V2__ParticipantMetaData **pms = make_members(room, &a);

        openim__v2__signal_req__init(&req);
        if (joined) {
                openim__v2__signal_on_room_participant_connected_req__init(&conn);
                conn.invitation = inv;
                conn.n_participant = room->member_cnt;
                conn.participant = pms;
                conn.groupid = L(room->inv.group_id);
                req.payload_case =
                        OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_CONNECTED_REQ;
                req.onroomparticipantconnectedreq = &conn;
        } else {
                openim__v2__signal_on_room_participant_disconnected_req__init(&disc);
                disc.invitation = inv;
                disc.n_participant = room->member_cnt;
                disc.participant = pms;
                disc.groupid = L(room->inv.group_id);
                req.payload_case =
                        OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_DISCONNECTED_REQ;
                req.onroomparticipantdisconnectedreq = &disc;
        }
        uint8_t *out = cs_codec_pack(&req.base, lenp);
        cs_arena_free(&a);
        return out;
}

static uint8_t *pack_participant(const cs_command_t *cmd, size_t *lenp) {
        if (!cmd->wire->req)
                return NULL;
        v2_fields_t f = fields_of(cmd->wire->req);
        if (!f.participant || !*f.participant)
                return NULL;
        return cs_codec_pack(&(*f.participant)->base, lenp);
}

/* The invite's offlinePushInfo in @p content (unpacked; NULL: none). */
static Openim__V2__OfflinePushInfo *invite_push(const signal_req_t *req) {
        if (!req)
                return NULL;
        if (req->payload_case == OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE && req->invite)
                return req->invite->offlinepushinfo;
        if (req->payload_case == OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP &&
            req->inviteingroup)
                return req->inviteingroup->offlinepushinfo;
        return NULL;
}

static uint8_t *offline_push_of(const uint8_t *content, size_t len, size_t *lenp) {
        signal_req_t *req = openim__v2__signal_req__unpack(NULL, len, content);
        Openim__V2__OfflinePushInfo *push = invite_push(req);
        uint8_t *out = push ? cs_codec_pack(&push->base, lenp) : NULL;
        if (req)
                openim__v2__signal_req__free_unpacked(req, NULL);
        return out;
}

static void stored_participant(const uint8_t *meta, size_t len,
                               char **nicknamep, char **group_namep) {
        Openim__V2__ParticipantMetaData *pm = openim__v2__participant_meta_data__unpack(NULL, len, meta);
        if (!pm)
                return;
        if (pm->userinfo && pm->userinfo->nickname[0])
                *nicknamep = cs_xstrdup(pm->userinfo->nickname);
        if (pm->groupinfo && pm->groupinfo->groupname[0])
                *group_namep = cs_xstrdup(pm->groupinfo->groupname);
        openim__v2__participant_meta_data__free_unpacked(pm, NULL);
}

/* ---- notifications ---- */

static void set_notification(Callsig__V1__PushMessage *push, const cs_note_t *note,
                             cs_arena_t *a) {
        size_t n = CS_ARRAY_SIZE(cs_codec_option_keys);
        Openim__V2__MsgData *msg = cs_arena_new(a, sizeof(*msg));
        Openim__V2__MsgData__OptionsEntry **opts =
                (Openim__V2__MsgData__OptionsEntry **)cs_arena_ptrs(a, n);
        char *client = cs_arena_new(a, 33), *server = cs_arena_new(a, 33);

        openim__v2__msg_data__init(msg);
        cs_codec_msg_ids(note, client, server);
        for (size_t i = 0; i < n; i++) {
                opts[i] = cs_arena_new(a, sizeof(*opts[i]));
                openim__v2__msg_data__options_entry__init(opts[i]);
                opts[i]->key = L(cs_codec_option_keys[i]);
                opts[i]->value = 0;
        }
        msg->sendid = L(note->send_id);
        msg->recvid = L(note->recv_id);
        msg->groupid = L(note->group_id);
        msg->clientmsgid = client;
        msg->servermsgid = server;
        msg->senderplatformid = note->sender_platform;
        msg->sessiontype = note->session_type;
        msg->msgfrom = CS_MSG_FROM_SYSTEM;
        /* v2 carries every signaling event, room presence included, as
         * 1601 (the SignalReq case tells them apart); custom signals 1605. */
        msg->contenttype = note->content_type ? note->content_type
                                              : CS_CONTENT_TYPE_SIGNALING;
        msg->content.data = (uint8_t *)(uintptr_t)note->content;
        msg->content.len = note->content ? note->content_len : 0;
        msg->seq = 0;
        msg->sendtime = note->at_ms;
        msg->createtime = note->at_ms;
        msg->status = 0; /* unset: clients track their own send status */
        msg->n_options = n;
        msg->options = opts;

        /* offlinePushInfo rides only on invitations, copied from the invite
         * request in the content. Content that does not decode carries none
         * (the notification itself is still produced). */
        if (msg->contenttype == CS_CONTENT_TYPE_SIGNALING && msg->content.len > 0) {
                signal_req_t *req = openim__v2__signal_req__unpack(
                        NULL, msg->content.len, msg->content.data);
                if (req) {
                        cs_arena_adopt(a, &req->base);
                        msg->offlinepushinfo = invite_push(req);
                }
        }
        push->body_case = CALLSIG__V1__PUSH_MESSAGE__BODY_NOTIFICATION;
        push->notification = msg;
}

static uint8_t *pack_custom(const char *room_id, const char *custom_info,
                            size_t *lenp) {
        Openim__V2__SignalSendCustomSignalReq req;
        openim__v2__signal_send_custom_signal_req__init(&req);
        req.roomid = L(room_id);
        req.custominfo = L(custom_info);
        return cs_codec_pack(&req.base, lenp);
}

const cs_dialect_ops_t cs_codec_v2_ops = {
        .payload_desc = &openim__v2__signal_req__descriptor,
        .payload_field = 6,
        .payload = payload,
        .read_request = read_request,
        .set_reply = set_reply,
        .pack_content = pack_content,
        .pack_cancel = pack_cancel,
        .pack_presence = pack_presence,
        .pack_participant = pack_participant,
        .offline_push_of = offline_push_of,
        .read_participant = stored_participant,
        .pack_custom = pack_custom,
        .set_notification = set_notification,
};
