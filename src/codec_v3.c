/*
 * codec_v3.c: the OpenIM v3 dialect (contract section 12): the openim.rtc
 * schema in SignalCommand.rtc, SignalReply.rtc and
 * PushMessage.notificationV3.
 *
 * The same model as codec_v2.c; what differs is only bytes: the acting
 * user is `userID` (last field) instead of opUserID, initiateTime is unix
 * ms, the RtcService methods are cases of RtcRequest, room presence goes out
 * as contentType 1602 / 1603 and MsgData has the v3 numbering.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "codec_int.h"

typedef Openim__Rtc__SignalReq signal_req_t;
typedef Openim__Rtc__InvitationInfo invitation_t;
typedef Openim__Rtc__ParticipantMetaData meta_t;

#define L cs_codec_lend

/* ---- reading ---- */

static const ProtobufCMessage *payload(const Callsig__V1__SignalCommand *wire) {
        return wire->rtc ? &wire->rtc->base : NULL;
}

typedef struct v3_fields_s {
        invitation_t *const *invitation;
        const int32_t *op_platform;
        Openim__Sdkws__OfflinePushInfo *const *offline_push;
        meta_t *const *participant;
} v3_fields_t;

static v3_fields_t fields_of(const signal_req_t *req) {
        v3_fields_t f = {0};
        switch (req->payload_case) {
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_INVITE:
                f.invitation = &req->invite->invitation;
                f.offline_push = &req->invite->offlinepushinfo;
                f.participant = &req->invite->participant;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP:
                f.invitation = &req->inviteingroup->invitation;
                f.offline_push = &req->inviteingroup->offlinepushinfo;
                f.participant = &req->inviteingroup->participant;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_CANCEL:
                f.invitation = &req->cancel->invitation;
                f.offline_push = &req->cancel->offlinepushinfo;
                f.participant = &req->cancel->participant;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_ACCEPT:
                f.invitation = &req->accept->invitation;
                f.offline_push = &req->accept->offlinepushinfo;
                f.participant = &req->accept->participant;
                f.op_platform = &req->accept->opuserplatformid;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_REJECT:
                f.invitation = &req->reject->invitation;
                f.offline_push = &req->reject->offlinepushinfo;
                f.participant = &req->reject->participant;
                f.op_platform = &req->reject->opuserplatformid;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_HUNG_UP:
                f.invitation = &req->hungup->invitation;
                f.offline_push = &req->hungup->offlinepushinfo;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_GET_TOKEN_BY_ROOM_ID:
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
        inv->initiate_ms = w->initiatetime;
}

static void read_participant(const meta_t *pm, cs_participant_info_t *p) {
        const Openim__Sdkws__PublicUserInfo *ui = pm->userinfo;
        const Openim__Sdkws__GroupInfo *gi = pm->groupinfo;
        const Openim__Sdkws__GroupMemberFullInfo *gm = pm->groupmemberinfo;

        p->nickname = ui ? ui->nickname : NULL;
        p->face_url = ui ? ui->faceurl : NULL;
        p->group_id = gi ? gi->groupid : NULL;
        p->group_name = gi ? gi->groupname : NULL;
        p->member_nickname = gm ? gm->nickname : NULL;
        p->role_level = gm ? gm->rolelevel : 0;
}

static void read_signal(const signal_req_t *req, cs_request_t *r) {
        switch (req->payload_case) {
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_INVITE:
                r->kind = CS_REQ_INVITE;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP:
                r->kind = CS_REQ_INVITE_IN_GROUP;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_CANCEL:
                r->kind = CS_REQ_CANCEL;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_ACCEPT:
                r->kind = CS_REQ_ACCEPT;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_HUNG_UP:
                r->kind = CS_REQ_HUNG_UP;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_REJECT:
                r->kind = CS_REQ_REJECT;
                break;
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_GET_TOKEN_BY_ROOM_ID:
                r->kind = CS_REQ_GET_TOKEN_BY_ROOM_ID;
                r->room_id = req->gettokenbyroomid->roomid;
                break;
        default:
                r->kind = CS_REQ_NONE;
                return;
        }
        v3_fields_t f = fields_of(req);
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

static void read_request(cs_command_t *cmd) {
        const Callsig__V1__RtcRequest *rtc = cmd->wire->rtc;
        cs_request_t *r = &cmd->req;

        if (!rtc)
                return;
        r->wire_size = protobuf_c_message_get_packed_size(&rtc->base);
        switch (rtc->payload_case) {
        case CALLSIG__V1__RTC_REQUEST__PAYLOAD_SIGNAL:
                read_signal(rtc->signal, r);
                break;
        case CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_ROOM_BY_GROUP_ID:
                r->kind = CS_REQ_GET_ROOM_BY_GROUP_ID;
                r->group_id = rtc->getroombygroupid->groupid;
                break;
        case CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_ROOMS:
                r->kind = CS_REQ_GET_ROOMS;
                r->ids = rtc->getrooms->roomids;
                r->id_cnt = rtc->getrooms->n_roomids;
                break;
        case CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_SIGNAL_INVITATION_INFO:
                r->kind = CS_REQ_INVITATION_INFO;
                r->room_id = rtc->getsignalinvitationinfo->roomid;
                break;
        case CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_SIGNAL_INVITATION_INFO_START_APP:
                /* Its userID is ignored: always the sender. */
                r->kind = CS_REQ_INVITATION_START_APP;
                break;
        case CALLSIG__V1__RTC_REQUEST__PAYLOAD_SEND_CUSTOM_SIGNAL:
                r->kind = CS_REQ_CUSTOM_SIGNAL;
                r->room_id = rtc->sendcustomsignal->roomid;
                r->custom_info = rtc->sendcustomsignal->custominfo;
                break;
        case CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_SIGNAL_INVITATION_RECORDS: {
                const Openim__Rtc__GetSignalInvitationRecordsReq *q =
                        rtc->getsignalinvitationrecords;
                r->kind = CS_REQ_INVITATION_RECORDS;
                r->records.page_number = q->pagination ? q->pagination->pagenumber : 0;
                r->records.show_number = q->pagination ? q->pagination->shownumber : 0;
                r->records.session_type = q->sessiontype;
                r->records.send_id = q->sendid;
                r->records.recv_id = q->recvid;
                r->records.start_ms = q->starttime;
                r->records.end_ms = q->endtime;
                break;
        }
        case CALLSIG__V1__RTC_REQUEST__PAYLOAD_DELETE_SIGNAL_RECORDS:
                r->kind = CS_REQ_DELETE_RECORDS;
                r->ids = rtc->deletesignalrecords->sids;
                r->id_cnt = rtc->deletesignalrecords->n_sids;
                break;
        default:
                r->kind = CS_REQ_NONE;
                break;
        }
}

/* ---- building ---- */

static invitation_t *make_invitation(const cs_invitation_t *inv,
                                     const invitation_t *base, cs_arena_t *a) {
        invitation_t *w = cs_arena_new(a, sizeof(*w));
        if (base)
                *w = *base;
        else
                openim__rtc__invitation_info__init(w);
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
        w->initiatetime = inv->initiate_ms;
        return w;
}

static meta_t **make_members(const cs_room_view_t *room, cs_arena_t *a) {
        meta_t **pms = (meta_t **)cs_arena_ptrs(a, room->member_cnt);
        for (size_t i = 0; i < room->member_cnt; i++) {
                const cs_member_t *m = &room->members[i];
                meta_t *pm = NULL;
                if (m->meta) {
                        pm = openim__rtc__participant_meta_data__unpack(
                                NULL, m->meta_len, m->meta);
                        if (pm)
                                cs_arena_adopt(a, &pm->base);
                }
                if (!pm) {
                        Openim__Sdkws__PublicUserInfo *ui = cs_arena_new(a, sizeof(*ui));
                        pm = cs_arena_new(a, sizeof(*pm));
                        openim__rtc__participant_meta_data__init(pm);
                        openim__sdkws__public_user_info__init(ui);
                        ui->userid = L(m->user_id);
                        pm->userinfo = ui;
                }
                pms[i] = pm;
        }
        return pms;
}

static Openim__Sdkws__OfflinePushInfo *make_push(const cs_room_view_t *room,
                                                 cs_arena_t *a) {
        if (!room->offline_push)
                return NULL;
        Openim__Sdkws__OfflinePushInfo *p = openim__sdkws__offline_push_info__unpack(
                NULL, room->offline_push_len, room->offline_push);
        if (p)
                cs_arena_adopt(a, &p->base);
        return p;
}

static Openim__Rtc__SignalGetRoomByGroupIDResp *make_room(const cs_room_view_t *room,
                                                         cs_arena_t *a) {
        Openim__Rtc__SignalGetRoomByGroupIDResp *m = cs_arena_new(a, sizeof(*m));
        openim__rtc__signal_get_room_by_group_idresp__init(m);
        m->invitation = make_invitation(&room->inv, NULL, a);
        m->participant = make_members(room, a);
        m->n_participant = room->member_cnt;
        m->roomid = L(room->inv.room_id);
        return m;
}

/* ---- replies ---- */

static Openim__Rtc__SignalResp *signal_resp(cs_req_kind_t kind, const cs_reply_t *r,
                                            cs_arena_t *a) {
        Openim__Rtc__SignalResp *resp = cs_arena_new(a, sizeof(*resp));
        size_t busy_cnt = r->busy ? r->busy->cnt : 0;
        char **busy = r->busy ? r->busy->v : NULL;

        openim__rtc__signal_resp__init(resp);
        switch (kind) {
        case CS_REQ_INVITE: {
                Openim__Rtc__SignalInviteResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__signal_invite_resp__init(m);
                m->token = L(r->token);
                m->roomid = L(r->room_id);
                m->liveurl = L(r->live_url);
                m->n_busylineuseridlist = busy_cnt;
                m->busylineuseridlist = busy;
                resp->payload_case = OPENIM__RTC__SIGNAL_RESP__PAYLOAD_INVITE;
                resp->invite = m;
                break;
        }
        case CS_REQ_INVITE_IN_GROUP: {
                Openim__Rtc__SignalInviteInGroupResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__signal_invite_in_group_resp__init(m);
                m->token = L(r->token);
                m->roomid = L(r->room_id);
                m->liveurl = L(r->live_url);
                m->n_busylineuseridlist = busy_cnt;
                m->busylineuseridlist = busy;
                resp->payload_case = OPENIM__RTC__SIGNAL_RESP__PAYLOAD_INVITE_IN_GROUP;
                resp->inviteingroup = m;
                break;
        }
        case CS_REQ_ACCEPT: {
                Openim__Rtc__SignalAcceptResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__signal_accept_resp__init(m);
                m->token = L(r->token);
                m->roomid = L(r->room_id);
                m->liveurl = L(r->live_url);
                resp->payload_case = OPENIM__RTC__SIGNAL_RESP__PAYLOAD_ACCEPT;
                resp->accept = m;
                break;
        }
        case CS_REQ_CANCEL: {
                Openim__Rtc__SignalCancelResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__signal_cancel_resp__init(m);
                resp->payload_case = OPENIM__RTC__SIGNAL_RESP__PAYLOAD_CANCEL;
                resp->cancel = m;
                break;
        }
        case CS_REQ_HUNG_UP: {
                Openim__Rtc__SignalHungUpResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__signal_hung_up_resp__init(m);
                resp->payload_case = OPENIM__RTC__SIGNAL_RESP__PAYLOAD_HUNG_UP;
                resp->hungup = m;
                break;
        }
        case CS_REQ_REJECT: {
                Openim__Rtc__SignalRejectResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__signal_reject_resp__init(m);
                resp->payload_case = OPENIM__RTC__SIGNAL_RESP__PAYLOAD_REJECT;
                resp->reject = m;
                break;
        }
        case CS_REQ_GET_TOKEN_BY_ROOM_ID: {
                Openim__Rtc__SignalGetTokenByRoomIDResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__signal_get_token_by_room_idresp__init(m);
                m->token = L(r->token);
                m->liveurl = L(r->live_url);
                resp->payload_case = OPENIM__RTC__SIGNAL_RESP__PAYLOAD_GET_TOKEN_BY_ROOM_ID;
                resp->gettokenbyroomid = m;
                break;
        }
        default:
                break;
        }
        return resp;
}

static Openim__Rtc__SignalRecord *make_record(const cs_record_view_t *v,
                                              cs_arena_t *a) {
        Openim__Rtc__SignalRecord *m = cs_arena_new(a, sizeof(*m));
        openim__rtc__signal_record__init(m);
        m->roomid = L(v->room_id);
        m->sid = L(v->room_id);
        m->mediatype = L(v->media_type);
        m->sessiontype = v->session_type;
        m->inviteruserid = L(v->inviter_user_id);
        m->inviterusernickname = L(v->inviter_nickname);
        m->groupid = L(v->group_id);
        m->groupname = L(v->group_name);
        m->createtime = v->created_ms;
        m->endtime = v->ended_ms;
        m->inviterusers = (Openim__Rtc__SignalUser **)cs_arena_ptrs(a, v->user_cnt);
        m->n_inviterusers = v->user_cnt;
        for (size_t i = 0; i < v->user_cnt; i++) {
                Openim__Rtc__SignalUser *u = cs_arena_new(a, sizeof(*u));
                openim__rtc__signal_user__init(u);
                u->userid = L(v->users[i].user_id);
                u->status = v->users[i].status;
                m->inviterusers[i] = u;
        }
        return m;
}

static void set_reply(Callsig__V1__SignalReply *reply, cs_req_kind_t kind,
                      const cs_reply_t *r, cs_arena_t *a) {
        static const cs_reply_t none = {0};
        Callsig__V1__RtcResponse *rtc = cs_arena_new(a, sizeof(*rtc));

        callsig__v1__rtc_response__init(rtc);
        if (!r)
                r = &none;
        switch (kind) {
        case CS_REQ_INVITE:
        case CS_REQ_INVITE_IN_GROUP:
        case CS_REQ_ACCEPT:
        case CS_REQ_CANCEL:
        case CS_REQ_HUNG_UP:
        case CS_REQ_REJECT:
        case CS_REQ_GET_TOKEN_BY_ROOM_ID:
                rtc->payload_case = CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SIGNAL;
                rtc->signal = signal_resp(kind, r, a);
                break;
        case CS_REQ_GET_ROOM_BY_GROUP_ID: {
                Openim__Rtc__SignalGetRoomByGroupIDResp *m;
                if (r->room_cnt > 0) {
                        m = make_room(&r->rooms[0], a);
                } else {
                        m = cs_arena_new(a, sizeof(*m));
                        openim__rtc__signal_get_room_by_group_idresp__init(m);
                }
                rtc->payload_case = CALLSIG__V1__RTC_RESPONSE__PAYLOAD_GET_ROOM_BY_GROUP_ID;
                rtc->getroombygroupid = m;
                break;
        }
        case CS_REQ_GET_ROOMS: {
                Openim__Rtc__SignalGetRoomsResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__signal_get_rooms_resp__init(m);
                m->roomlist = (Openim__Rtc__SignalGetRoomByGroupIDResp **)cs_arena_ptrs(
                        a, r->room_cnt);
                m->n_roomlist = r->room_cnt;
                for (size_t i = 0; i < r->room_cnt; i++)
                        m->roomlist[i] = make_room(&r->rooms[i], a);
                rtc->payload_case = CALLSIG__V1__RTC_RESPONSE__PAYLOAD_GET_ROOMS;
                rtc->getrooms = m;
                break;
        }
        case CS_REQ_INVITATION_INFO: {
                Openim__Rtc__GetSignalInvitationInfoResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__get_signal_invitation_info_resp__init(m);
                if (r->room_cnt > 0) {
                        m->invitationinfo = make_invitation(&r->rooms[0].inv, NULL, a);
                        m->offlinepushinfo = make_push(&r->rooms[0], a);
                }
                rtc->payload_case = CALLSIG__V1__RTC_RESPONSE__PAYLOAD_GET_SIGNAL_INVITATION_INFO;
                rtc->getsignalinvitationinfo = m;
                break;
        }
        case CS_REQ_INVITATION_START_APP: {
                Openim__Rtc__GetSignalInvitationInfoStartAppResp *m =
                        cs_arena_new(a, sizeof(*m));
                openim__rtc__get_signal_invitation_info_start_app_resp__init(m);
                if (r->room_cnt > 0) {
                        m->invitation = make_invitation(&r->rooms[0].inv, NULL, a);
                        m->offlinepushinfo = make_push(&r->rooms[0], a);
                }
                rtc->payload_case =
                        CALLSIG__V1__RTC_RESPONSE__PAYLOAD_GET_SIGNAL_INVITATION_INFO_START_APP;
                rtc->getsignalinvitationinfostartapp = m;
                break;
        }
        case CS_REQ_CUSTOM_SIGNAL: {
                Openim__Rtc__SignalSendCustomSignalResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__signal_send_custom_signal_resp__init(m);
                rtc->payload_case = CALLSIG__V1__RTC_RESPONSE__PAYLOAD_SEND_CUSTOM_SIGNAL;
                rtc->sendcustomsignal = m;
                break;
        }
        case CS_REQ_INVITATION_RECORDS: {
                Openim__Rtc__GetSignalInvitationRecordsResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__get_signal_invitation_records_resp__init(m);
                m->total = r->total;
                m->signalrecords = (Openim__Rtc__SignalRecord **)cs_arena_ptrs(
                        a, r->record_cnt);
                m->n_signalrecords = r->record_cnt;
                for (size_t i = 0; i < r->record_cnt; i++)
                        m->signalrecords[i] = make_record(&r->records[i], a);
                rtc->payload_case =
                        CALLSIG__V1__RTC_RESPONSE__PAYLOAD_GET_SIGNAL_INVITATION_RECORDS;
                rtc->getsignalinvitationrecords = m;
                break;
        }
        case CS_REQ_DELETE_RECORDS: {
                Openim__Rtc__DeleteSignalRecordsResp *m = cs_arena_new(a, sizeof(*m));
                openim__rtc__delete_signal_records_resp__init(m);
                rtc->payload_case = CALLSIG__V1__RTC_RESPONSE__PAYLOAD_DELETE_SIGNAL_RECORDS;
                rtc->deletesignalrecords = m;
                break;
        }
        default: /* none: no case to set */
                return;
        }
        reply->rtc = rtc;
}

/* ---- notification content ---- */

static uint8_t *pack_content(const cs_command_t *cmd, const cs_invitation_t *inv,
                             int32_t op_platform_id, size_t *lenp) {
        const signal_req_t *req = cmd->wire->rtc->signal;
        cs_arena_t a = {0};
        signal_req_t copy = *req;
        char *op = L(cmd->send_id);
        v3_fields_t f = fields_of(req);
        /* An invite keeps what the client wrote beside the fields callsig
         * owns; other changes show the invitation as the call knows it. */
        bool invite = cmd->req.kind == CS_REQ_INVITE ||
                      cmd->req.kind == CS_REQ_INVITE_IN_GROUP;
        const invitation_t *base = invite && f.invitation ? *f.invitation : NULL;
        invitation_t *w = make_invitation(inv, base, &a);

        switch (req->payload_case) {
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_INVITE: {
                Openim__Rtc__SignalInviteReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->invite;
                m->userid = op;
                m->invitation = w;
                copy.invite = m;
                break;
        }
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP: {
                Openim__Rtc__SignalInviteInGroupReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->inviteingroup;
                m->userid = op;
                m->invitation = w;
                copy.inviteingroup = m;
                break;
        }
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_CANCEL: {
                Openim__Rtc__SignalCancelReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->cancel;
                m->userid = op;
                m->invitation = w;
                copy.cancel = m;
                break;
        }
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_ACCEPT: {
                Openim__Rtc__SignalAcceptReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->accept;
                m->userid = op;
                m->invitation = w;
                if (op_platform_id)
                        m->opuserplatformid = op_platform_id;
                copy.accept = m;
                break;
        }
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_REJECT: {
                Openim__Rtc__SignalRejectReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->reject;
                m->userid = op;
                m->invitation = w;
                if (op_platform_id)
                        m->opuserplatformid = op_platform_id;
                copy.reject = m;
                break;
        }
        case OPENIM__RTC__SIGNAL_REQ__PAYLOAD_HUNG_UP: {
                Openim__Rtc__SignalHungUpReq *m = cs_arena_new(&a, sizeof(*m));
                *m = *req->hungup;
                m->userid = op;
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
        Openim__Rtc__SignalCancelReq cancel;
        openim__rtc__signal_req__init(&req);
        openim__rtc__signal_cancel_req__init(&cancel);
        cancel.userid = L(op_user);
        cancel.invitation = make_invitation(inv, NULL, &a);
        if (push_from && push_from->wire->rtc && push_from->wire->rtc->signal) {
                v3_fields_t f = fields_of(push_from->wire->rtc->signal);
                cancel.offlinepushinfo = f.offline_push ? *f.offline_push : NULL;
        }
        req.payload_case = OPENIM__RTC__SIGNAL_REQ__PAYLOAD_CANCEL;
        req.cancel = &cancel;
        uint8_t *out = cs_codec_pack(&req.base, lenp);
        cs_arena_free(&a);
        return out;
}

/* v3 sends presence as its own message (contentType 1602 / 1603), not as
 * a SignalReq case. The two messages have the same fields. */
static uint8_t *pack_presence(bool joined, const cs_room_view_t *room,
                              size_t *lenp) {
        cs_arena_t a = {0};
        uint8_t *out;
        invitation_t *inv = make_invitation(&room->inv, NULL, &a);
        meta_t **pms = make_members(room, &a);

        if (joined) {
                Openim__Rtc__SignalOnRoomParticipantConnectedReq m;
                openim__rtc__signal_on_room_participant_connected_req__init(&m);
                m.invitation = inv;
                m.n_participant = room->member_cnt;
                m.participant = pms;
                m.groupid = L(room->inv.group_id);
                out = cs_codec_pack(&m.base, lenp);
        } else {
                Openim__Rtc__SignalOnRoomParticipantDisconnectedReq m;
                openim__rtc__signal_on_room_participant_disconnected_req__init(&m);
                m.invitation = inv;
                m.n_participant = room->member_cnt;
                m.participant = pms;
                m.groupid = L(room->inv.group_id);
                out = cs_codec_pack(&m.base, lenp);
        }
        cs_arena_free(&a);
        return out;
}

static uint8_t *pack_participant(const cs_command_t *cmd, size_t *lenp) {
        if (!cmd->wire->rtc || !cmd->wire->rtc->signal)
                return NULL;
        v3_fields_t f = fields_of(cmd->wire->rtc->signal);
        if (!f.participant || !*f.participant)
                return NULL;
        return cs_codec_pack(&(*f.participant)->base, lenp);
}

static Openim__Sdkws__OfflinePushInfo *invite_push(const signal_req_t *req) {
        if (!req)
                return NULL;
        if (req->payload_case == OPENIM__RTC__SIGNAL_REQ__PAYLOAD_INVITE && req->invite)
                return req->invite->offlinepushinfo;
        if (req->payload_case == OPENIM__RTC__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP &&
            req->inviteingroup)
                return req->inviteingroup->offlinepushinfo;
        return NULL;
}

static uint8_t *offline_push_of(const uint8_t *content, size_t len, size_t *lenp) {
        signal_req_t *req = openim__rtc__signal_req__unpack(NULL, len, content);
        Openim__Sdkws__OfflinePushInfo *push = invite_push(req);
        uint8_t *out = push ? cs_codec_pack(&push->base, lenp) : NULL;
        if (req)
                openim__rtc__signal_req__free_unpacked(req, NULL);
        return out;
}

static void stored_participant(const uint8_t *meta, size_t len,
                               char **nicknamep, char **group_namep) {
        Openim__Rtc__ParticipantMetaData *pm = openim__rtc__participant_meta_data__unpack(NULL, len, meta);
        if (!pm)
                return;
        if (pm->userinfo && pm->userinfo->nickname[0])
                *nicknamep = cs_xstrdup(pm->userinfo->nickname);
        if (pm->groupinfo && pm->groupinfo->groupname[0])
                *group_namep = cs_xstrdup(pm->groupinfo->groupname);
        openim__rtc__participant_meta_data__free_unpacked(pm, NULL);
}

/* ---- notifications ---- */

static int32_t content_type(cs_event_type_t type) {
        switch (type) {
        case CS_EV_ROOM_JOINED:
                return CS_CONTENT_TYPE_ROOM_CONNECTED;
        case CS_EV_ROOM_LEFT:
                return CS_CONTENT_TYPE_ROOM_DISCONNECTED;
        default:
                return CS_CONTENT_TYPE_SIGNALING;
        }
}

static void set_notification(Callsig__V1__PushMessage *push, const cs_note_t *note,
                             cs_arena_t *a) {
        size_t n = CS_ARRAY_SIZE(cs_codec_option_keys);
        Openim__Sdkws__MsgData *msg = cs_arena_new(a, sizeof(*msg));
        Openim__Sdkws__MsgData__OptionsEntry **opts =
                (Openim__Sdkws__MsgData__OptionsEntry **)cs_arena_ptrs(a, n);
        char *client = cs_arena_new(a, 33), *server = cs_arena_new(a, 33);

        openim__sdkws__msg_data__init(msg);
        cs_codec_msg_ids(note, client, server);
        for (size_t i = 0; i < n; i++) {
                opts[i] = cs_arena_new(a, sizeof(*opts[i]));
                openim__sdkws__msg_data__options_entry__init(opts[i]);
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
        msg->contenttype = note->content_type ? note->content_type
                                              : content_type(note->type);
        msg->content.data = (uint8_t *)(uintptr_t)note->content;
        msg->content.len = note->content ? note->content_len : 0;
        msg->seq = 0;
        msg->sendtime = note->at_ms;
        msg->createtime = note->at_ms;
        msg->n_options = n;
        msg->options = opts;
        if (msg->contenttype == CS_CONTENT_TYPE_SIGNALING && msg->content.len > 0) {
                signal_req_t *req = openim__rtc__signal_req__unpack(
                        NULL, msg->content.len, msg->content.data);
                if (req) {
                        cs_arena_adopt(a, &req->base);
                        msg->offlinepushinfo = invite_push(req);
                }
        }
        push->body_case = CALLSIG__V1__PUSH_MESSAGE__BODY_NOTIFICATION_V3;
        push->notificationv3 = msg;
}

static uint8_t *pack_custom(const char *room_id, const char *custom_info,
                            size_t *lenp) {
        Openim__Rtc__SignalSendCustomSignalReq req;
        openim__rtc__signal_send_custom_signal_req__init(&req);
        req.roomid = L(room_id);
        req.custominfo = L(custom_info);
        return cs_codec_pack(&req.base, lenp);
}

const cs_dialect_ops_t cs_codec_v3_ops = {
        .payload_desc = &callsig__v1__rtc_request__descriptor,
        .payload_field = 8,
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
