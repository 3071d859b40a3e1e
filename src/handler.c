/*
 * handler.c: one command (or timer tick) in, a filled outbox out.
 *
 * Flow of a command:
 *   1. the sender's push topic must exist as a name, else dead letter;
 *   2. no payload: 1001, cases 8 and 9: 1007 (resp unset);
 *   3. an operationID refused before is answered the same way again;
 *   4. the request is validated, the call loaded, the decision taken by
 *      call.c and written with one conditional update; a lost race reloads
 *      and decides again (bounded);
 *   5. an operationID already among the call's events is a redelivery: its
 *      stored outputs are emitted again and nothing changes.
 *
 * Busy lines: a user's line is a document in `lines` claimed with an
 * insert on its unique _id. A claim held for a call the user is no longer
 * live in (or for a call that never got written, after a grace period) is
 * stale and taken over with a conditional update, so a crash between claim
 * and call write cannot leave a user busy forever.
 *
 * The request bytes are patched for notification content: opUserID and the
 * invitation are swapped for server-built values while packing, then the
 * original pointers are restored, so the decoded command stays intact.
 */
#include "handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "call.h"
#include "hash.h"
#include "log.h"
#include "token.h"
#include "topic.h"

/* A claim whose call is not written yet is respected this long. */
#define CLAIM_GRACE_MS 60000
/* Conditional-update attempts before the command is retried later. */
#define MAX_RACE_ATTEMPTS 8
/* Largest request (serialized SignalReq) accepted; bounds call records. */
#define MAX_REQUEST_BYTES 32768
/* Longest userID, roomID or groupID accepted (LiveKit's own limit). */
#define MAX_ID_BYTES 256
/* Calls fired per timer tick. */
#define TIMER_BATCH 64

struct cs_handler_s {
        const cs_config_t *conf;
        cs_store_t *store;
        uint8_t room_key[16]; /* keys generated roomIDs */
};

typedef Openim__V2__SignalReq signal_req_t;
typedef Openim__V2__InvitationInfo invitation_t;

/* ---- lifecycle ---- */

cs_handler_t *cs_handler_new(const cs_config_t *conf, cs_store_t *store) {
        cs_handler_t *h = cs_xcalloc(1, sizeof(*h));
        h->conf = conf;
        h->store = store;
        /* The roomID key comes from the LiveKit secret: generated roomIDs
         * are stable across workers and restarts, yet not guessable. */
        static const uint8_t zero[16];
        const char *secret = conf->livekit_api_secret ? conf->livekit_api_secret : "";
        uint64_t a = cs_siphash(zero, secret, strlen(secret));
        uint64_t b = cs_siphash((const uint8_t *)"callsig-room-key", secret,
                                strlen(secret));
        memcpy(h->room_key, &a, 8);
        memcpy(h->room_key + 8, &b, 8);
        return h;
}

void cs_handler_destroy(cs_handler_t *h) {
        free(h);
}

/* ---- small helpers ---- */

static int32_t ms_to_s32(int64_t ms) {
        return (int32_t)(ms / 1000);
}

static void line_id(char *buf, size_t size, const char *kind, const char *id) {
        snprintf(buf, size, "%s:%s", kind, id);
}

/* A plain ID: 1..MAX_ID_BYTES bytes, no control characters. */
static bool valid_id(const char *id) {
        size_t len = strlen(id);
        if (len == 0 || len > MAX_ID_BYTES)
                return false;
        for (const unsigned char *p = (const unsigned char *)id; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static bool user_has_topic(const cs_handler_t *h, const char *user_id) {
        char topic[CS_TOPIC_MAX + 1];
        return valid_id(user_id) &&
               cs_topic_for_user(h->conf, user_id, topic, sizeof(topic));
}

/* protobuf-c message structs hold `char *` even where packing only reads
 * them; this is the one place our const strings are lent to them. */
static char *lend(const char *s) {
        union {
                const char *c;
                char *m;
        } u = {.c = s};
        return u.m;
}

/* ---- replies ---- */

/* Storage for one SignalResp whatever its case. */
typedef struct resp_buf_s {
        Openim__V2__SignalResp resp;
        Openim__V2__SignalInviteReply invite;
        Openim__V2__SignalInviteInGroupReply invite_in_group;
        Openim__V2__SignalCancelReply cancel;
        Openim__V2__SignalAcceptReply accept;
        Openim__V2__SignalHungUpReply hung_up;
        Openim__V2__SignalRejectReply reject;
        Openim__V2__SignalGetRoomByGroupIDReply room;
        Openim__V2__SignalGetTokenByRoomIDReply token;
} resp_buf_t;

static void resp_prepare(resp_buf_t *rb, Openim__V2__SignalReq__PayloadCase req_case) {
        openim__v2__signal_resp__init(&rb->resp);
        openim__v2__signal_invite_reply__init(&rb->invite);
        openim__v2__signal_invite_in_group_reply__init(&rb->invite_in_group);
        openim__v2__signal_cancel_reply__init(&rb->cancel);
        openim__v2__signal_accept_reply__init(&rb->accept);
        openim__v2__signal_hung_up_reply__init(&rb->hung_up);
        openim__v2__signal_reject_reply__init(&rb->reject);
        openim__v2__signal_get_room_by_group_idreply__init(&rb->room);
        openim__v2__signal_get_token_by_room_idreply__init(&rb->token);
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
        default: break;
        }
}

/* Sets token, roomID, liveURL and busy list on an invite or accept resp. */
static void resp_set_join(resp_buf_t *rb, char *token, const char *room_id,
                          const char *live_url, const cs_strv_t *busy) {
        switch (rb->resp.payload_case) {
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE:
                rb->invite.token = token ? token : (char *)"";
                rb->invite.roomid = lend(room_id);
                rb->invite.liveurl = lend(live_url);
                rb->invite.n_busylineuseridlist = busy ? busy->cnt : 0;
                rb->invite.busylineuseridlist = busy ? busy->v : NULL;
                break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_INVITE_IN_GROUP:
                rb->invite_in_group.token = token ? token : (char *)"";
                rb->invite_in_group.roomid = lend(room_id);
                rb->invite_in_group.liveurl = lend(live_url);
                rb->invite_in_group.n_busylineuseridlist = busy ? busy->cnt : 0;
                rb->invite_in_group.busylineuseridlist = busy ? busy->v : NULL;
                break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_ACCEPT:
                rb->accept.token = token ? token : (char *)"";
                rb->accept.roomid = lend(room_id);
                rb->accept.liveurl = lend(live_url);
                break;
        case OPENIM__V2__SIGNAL_RESP__PAYLOAD_GET_TOKEN_BY_ROOM_ID:
                rb->token.token = token ? token : (char *)"";
                rb->token.liveurl = lend(live_url);
                break;
        default:
                break;
        }
}

static void add_reply(cs_handler_t *h, cs_outbox_t *out,
                      const cs_command_t *cmd, cs_err_t code,
                      const char *msg, const Openim__V2__SignalResp *resp) {
        char topic[CS_TOPIC_MAX + 1];
        size_t len;
        /* The sender's topic was checked before any work was done. */
        if (!cs_topic_for_user(h->conf, cmd->sendid, topic, sizeof(topic)))
                abort();
        uint8_t *buf = cs_codec_pack_reply(cmd->sendid, cmd, (int32_t)code,
                                           code ? (msg ? msg : cs_err2str(code)) : "",
                                           resp, &len);
        cs_outbox_add(out, CS_OUT_REPLY, topic, cmd->sendid, buf, len,
                      cmd->operationid);
}

/* A reply with the request's resp case and an empty payload. */
static void add_error_reply(cs_handler_t *h, cs_outbox_t *out,
                            const cs_command_t *cmd, cs_err_t code,
                            const char *msg) {
        resp_buf_t rb;
        Openim__V2__SignalReq__PayloadCase req_case =
                cmd->req ? cmd->req->payload_case
                         : OPENIM__V2__SIGNAL_REQ__PAYLOAD__NOT_SET;
        resp_prepare(&rb, req_case);
        add_reply(h, out, cmd, code, msg,
                  rb.resp.payload_case ? &rb.resp : NULL);
}

/* Answers with a refusal and remembers it for redelivery. */
static cs_err_t refuse(cs_handler_t *h, cs_outbox_t *out,
                       const cs_command_t *cmd, cs_err_t code,
                       const char *msg, int64_t now, char *errstr,
                       size_t errstr_size) {
        cs_err_t err = cs_store_put_refusal(
                h->store, cmd->operationid, cmd->sendid,
                cs_codec_req_case_name(cmd->req->payload_case), (int32_t)code,
                msg ? msg : cs_err2str(code), now,
                h->conf->signal_operation_retention, errstr, errstr_size);
        if (err)
                return err;
        cs_log(CS_LOG_DEBUG, "HANDLE", "op=%s %s refused: %d %s",
               cmd->operationid, cs_codec_req_case_name(cmd->req->payload_case),
               (int)code, msg ? msg : "");
        add_error_reply(h, out, cmd, code, msg);
        return CS_OK;
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
static char *mint(cs_handler_t *h, const char *user_id, const char *room_id,
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

/* ---- notification content ---- */

/* The invitation as the call record knows it. Arrays point into the call
 * and into @p lists (freed with free_invitation_lists). */
typedef struct inv_lists_s {
        char **invitees;
        char **busy;
} inv_lists_t;

static void invitation_from_call(const cs_call_t *call, invitation_t *inv,
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
        inv->initiatetime = ms_to_s32(call->created_at);
}

static void free_invitation_lists(inv_lists_t *lists) {
        free(lists->invitees);
        free(lists->busy);
}

/* Pointers to the opUserID and invitation fields of any request case. */
typedef struct req_fields_s {
        char **op_user_id;
        invitation_t **invitation;
        int32_t *op_user_platform_id;
        Openim__V2__OfflinePushInfo **offline_push;
        Openim__V2__ParticipantMetaData **participant;
} req_fields_t;

static req_fields_t req_fields(signal_req_t *req) {
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
static uint8_t *pack_patched(signal_req_t *req, char *op_user_id,
                             invitation_t *inv, int32_t op_platform_id,
                             size_t *lenp) {
        req_fields_t f = req_fields(req);
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
static uint8_t *pack_cancel(char *op_user_id, invitation_t *inv,
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

static void set_content(cs_event_t *ev, uint8_t *buf, size_t len) {
        free(ev->content);
        ev->content = buf;
        ev->content_len = len;
}

/* Adds the notifications of @p ev to @p out. */
static void emit_event(cs_handler_t *h, const cs_call_t *call,
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

/* ---- lines ---- */

/* Holds line @p lid for @p room_id. @p user_id names the user of a user
 * line (NULL for a group line). *busyp tells whether a live call holds it. */
static cs_err_t hold_line(cs_handler_t *h, const char *lid,
                          const char *user_id, const char *room_id,
                          int64_t now, bool *busyp, char *errstr,
                          size_t errstr_size) {
        cs_err_t err = CS_OK;
        char *holder = NULL;
        cs_call_t *call = NULL;
        *busyp = false;
        for (int attempt = 0; attempt < 3; attempt++) {
                int64_t since = 0;
                bool took = false;
                free(holder);
                holder = NULL;
                cs_call_destroy(call);
                call = NULL;
                err = cs_store_claim_line(h->store, lid, room_id, now, &holder,
                                          &since, errstr, errstr_size);
                if (err || !holder)
                        goto done;
                err = cs_store_load_call(h->store, holder, &call, errstr,
                                         errstr_size);
                if (err == CS_ERR_UNDECODABLE)
                        call = NULL; /* an unreadable record holds nothing */
                else if (err)
                        goto done;
                bool live;
                if (call)
                        live = user_id ? cs_call_user_is_live(call, user_id)
                                       : cs_call_is_live(call);
                else
                        live = now - since < CLAIM_GRACE_MS;
                if (live) {
                        *busyp = true;
                        err = CS_OK;
                        goto done;
                }
                err = cs_store_takeover_line(h->store, lid, holder, room_id,
                                             now, &took, errstr, errstr_size);
                if (err || took)
                        goto done;
        }
        snprintf(errstr, errstr_size, "line %s is contended", lid);
        err = CS_ERR_TRANSIENT;
done:
        free(holder);
        cs_call_destroy(call);
        return err;
}

static cs_err_t release_line(cs_handler_t *h, const char *kind,
                             const char *id, const char *room_id,
                             char *errstr, size_t errstr_size) {
        char lid[MAX_ID_BYTES + 16];
        line_id(lid, sizeof(lid), kind, id);
        return cs_store_release_line(h->store, lid, room_id, errstr,
                                     errstr_size);
}

static cs_err_t release_effect(cs_handler_t *h, const cs_call_t *call,
                               const cs_effect_t *eff, char *errstr,
                               size_t errstr_size) {
        cs_err_t err;
        for (size_t i = 0; i < eff->release.cnt; i++)
                if ((err = release_line(h, "user", eff->release.v[i],
                                        call->room_id, errstr, errstr_size)))
                        return err;
        if (eff->release_group && call->group_id[0])
                return release_line(h, "group", call->group_id, call->room_id,
                                    errstr, errstr_size);
        return CS_OK;
}

/* On redelivery the effect is not stored: release every line of the call
 * whose holder is no longer live in it (conditional deletes, idempotent). */
static cs_err_t release_finished(cs_handler_t *h, const cs_call_t *call,
                                 char *errstr, size_t errstr_size) {
        cs_effect_t eff = {0};
        cs_err_t err;
        for (size_t i = 0; i < call->part_cnt; i++)
                if (!cs_call_user_is_live(call, call->parts[i].user_id))
                        cs_strv_add(&eff.release, call->parts[i].user_id);
        eff.release_group = !cs_call_is_live(call);
        err = release_effect(h, call, &eff, errstr, errstr_size);
        cs_effect_clear(&eff);
        return err;
}

/* ---- invite ---- */

typedef struct invite_req_s {
        bool in_group;
        invitation_t *inv;
        Openim__V2__ParticipantMetaData *participant;
        cs_strv_t invitees;
        int32_t timeout_s;
        int32_t session_type;
        int32_t platform_id;
        const char *why; /* validation failure */
} invite_req_t;

static bool validate_invite(cs_handler_t *h, const cs_command_t *cmd,
                            invite_req_t *ir) {
        const invitation_t *inv = ir->inv;
        const cs_config_t *conf = h->conf;
        if (!inv) {
                ir->why = "invitation is required";
                return false;
        }
        if (inv->n_inviteeuseridlist == 0) {
                ir->why = "inviteeUserIDList is empty";
                return false;
        }
        if (inv->n_inviteeuseridlist > (size_t)conf->signal_max_invitees) {
                ir->why = "too many invitees";
                return false;
        }
        for (size_t i = 0; i < inv->n_inviteeuseridlist; i++) {
                const char *u = inv->inviteeuseridlist[i];
                if (!user_has_topic(h, u)) {
                        ir->why = "an invitee ID is empty, too long or gives no valid push topic";
                        return false;
                }
                if (strcmp(u, cmd->sendid) == 0) {
                        ir->why = "the inviter cannot invite themselves";
                        return false;
                }
                if (cs_strv_has(&ir->invitees, u)) {
                        ir->why = "inviteeUserIDList has duplicates";
                        return false;
                }
                cs_strv_add(&ir->invitees, u);
        }
        if (!ir->in_group) {
                if (inv->n_inviteeuseridlist != 1 || inv->groupid[0]) {
                        ir->why = "a single call has exactly one invitee and no groupID";
                        return false;
                }
                if (inv->sessiontype != 0 && inv->sessiontype != 1) {
                        ir->why = "a single call has sessionType 1";
                        return false;
                }
                ir->session_type = 1;
        } else {
                if (!valid_id(inv->groupid)) {
                        ir->why = "a group call needs a groupID";
                        return false;
                }
                if (inv->sessiontype == 1 || inv->sessiontype < 0 ||
                    inv->sessiontype > 3) {
                        ir->why = "a group call has sessionType 2 or 3";
                        return false;
                }
                ir->session_type = inv->sessiontype ? inv->sessiontype : 2;
        }
        if (strcmp(inv->mediatype, "audio") && strcmp(inv->mediatype, "video")) {
                ir->why = "mediaType must be audio or video";
                return false;
        }
        if (inv->timeout < 0) {
                ir->why = "timeout must not be negative";
                return false;
        }
        int64_t timeout = inv->timeout ? inv->timeout : conf->signal_default_timeout;
        if (timeout > conf->signal_max_timeout)
                timeout = conf->signal_max_timeout;
        ir->timeout_s = (int32_t)timeout;
        if (inv->roomid[0] && !valid_id(inv->roomid)) {
                ir->why = "roomID is too long or has control characters";
                return false;
        }
        ir->platform_id = cmd->platformid ? cmd->platformid : inv->platformid;
        return true;
}

/* The roomID callsig generates: stable for one (sender, operationID), so a
 * redelivered invite finds the call its first delivery created. */
static void generate_room_id(cs_handler_t *h, const cs_command_t *cmd,
                             char out[40]) {
        const char *parts[] = {"room", cmd->sendid, cmd->operationid};
        char hex[33];
        cs_hash_hex128(h->room_key, parts, CS_ARRAY_SIZE(parts), hex);
        snprintf(out, 40, "cs-%s", hex);
}

/* Reply of an invite (first time or again): token for the inviter unless
 * the code says otherwise. */
static cs_err_t reply_invite(cs_handler_t *h, cs_outbox_t *out,
                             const cs_command_t *cmd, const invite_req_t *ir,
                             const cs_call_t *call, const cs_event_t *ev,
                             int64_t now, char *errstr, size_t errstr_size) {
        resp_buf_t rb;
        char *token = NULL;
        resp_prepare(&rb, cmd->req->payload_case);
        if (ev->code == CS_OK) {
                token = mint(h, cmd->sendid, call->room_id, ir->participant,
                             now, errstr, errstr_size);
                if (!token)
                        return CS_ERR_TRANSIENT;
        }
        resp_set_join(&rb, token, call->room_id,
                      ev->code == CS_OK ? h->conf->livekit_url : "", &ev->busy);
        add_reply(h, out, cmd, (cs_err_t)ev->code,
                  ev->code ? cs_err2str((cs_err_t)ev->code) : NULL, &rb.resp);
        free(token);
        return CS_OK;
}

/* Builds the invite notification content for @p ev of a new or extended
 * call: the request with inviterUserID, roomID, timeout, initiateTime,
 * platformID, sessionType and busy list set by callsig. */
static void invite_content(cs_command_t *cmd, const invite_req_t *ir,
                           const cs_call_t *call, cs_event_t *ev) {
        /* Shallow copy: the invitee list and unknown fields stay the
         * request's; only the fields callsig owns are replaced. */
        invitation_t inv = *ir->inv;
        /* Who invites: for invitees added to a running call, the
         * participant who added them, not always the call's inviter. */
        inv.inviteruserid = cmd->sendid;
        inv.roomid = call->room_id;
        inv.groupid = call->group_id;
        inv.timeout = ir->timeout_s;
        inv.initiatetime = ms_to_s32(ev->at);
        inv.platformid = ir->platform_id;
        inv.sessiontype = ir->session_type;
        inv.n_busylineuseridlist = ev->busy.cnt;
        inv.busylineuseridlist = ev->busy.v;
        size_t len;
        uint8_t *buf = pack_patched(cmd->req, cmd->sendid, &inv, 0, &len);
        set_content(ev, buf, len);
}

/* Holds the invitees' lines for @p room_id; the busy ones go to @p busy. */
static cs_err_t claim_invitees(cs_handler_t *h, const cs_strv_t *invitees,
                               const char *room_id, int64_t now,
                               cs_strv_t *busy, char *errstr,
                               size_t errstr_size) {
        char lid[MAX_ID_BYTES + 16];
        for (size_t i = 0; i < invitees->cnt; i++) {
                bool is_busy;
                line_id(lid, sizeof(lid), "user", invitees->v[i]);
                cs_err_t err = hold_line(h, lid, invitees->v[i], room_id, now,
                                         &is_busy, errstr, errstr_size);
                if (err)
                        return err;
                if (is_busy)
                        cs_strv_add(busy, invitees->v[i]);
        }
        return CS_OK;
}

/* Holds the group line and the inviter's line for a new call. On refusal
 * *refusalp is set and nothing stays held for @p room_id. */
static cs_err_t claim_new_call(cs_handler_t *h, const cs_command_t *cmd,
                               const invite_req_t *ir, const char *room_id,
                               int64_t now, cs_err_t *refusalp,
                               const char **whyp, char *errstr,
                               size_t errstr_size) {
        char lid[MAX_ID_BYTES + 16];
        bool busy = false;
        cs_err_t err;
        *refusalp = CS_OK;
        if (ir->in_group) {
                line_id(lid, sizeof(lid), "group", ir->inv->groupid);
                err = hold_line(h, lid, NULL, room_id, now, &busy, errstr,
                                errstr_size);
                if (err)
                        return err;
                if (busy) {
                        *refusalp = CS_ERR_CONFLICT;
                        *whyp = "the group already has a live call";
                        return CS_OK;
                }
        }
        line_id(lid, sizeof(lid), "user", cmd->sendid);
        err = hold_line(h, lid, cmd->sendid, room_id, now, &busy, errstr,
                        errstr_size);
        if (err)
                return err;
        if (busy) {
                *refusalp = CS_ERR_CALLER_BUSY;
                *whyp = "the caller's line is busy with another call";
                if (ir->in_group)
                        return release_line(h, "group", ir->inv->groupid,
                                            room_id, errstr, errstr_size);
        }
        return CS_OK;
}

static cs_err_t do_invite(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                          cs_outbox_t *out, char *errstr,
                          size_t errstr_size) {
        invite_req_t ir = {0};
        cs_call_t *call = NULL;
        cs_strv_t busy = {0};
        cs_effect_t eff = {0};
        uint8_t *meta = NULL;
        size_t meta_len = 0;
        char room_buf[40];
        cs_err_t err = CS_OK;
        req_fields_t f = req_fields(cmd->req);

        ir.in_group = cmd->req->payload_case ==
                      OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP;
        ir.inv = *f.invitation;
        ir.participant = *f.participant;
        if (!validate_invite(h, cmd, &ir)) {
                err = refuse(h, out, cmd, CS_ERR_INVALID, ir.why, now, errstr,
                             errstr_size);
                goto done;
        }
        const char *room_id = ir.inv->roomid;
        if (!room_id[0]) {
                generate_room_id(h, cmd, room_buf);
                room_id = room_buf;
        }
        if (ir.participant)
                meta = cs_codec_pack(&ir.participant->base, &meta_len);

        for (int attempt = 0; attempt < MAX_RACE_ATTEMPTS; attempt++) {
                cs_call_destroy(call);
                call = NULL;
                cs_strv_clear(&busy);
                cs_effect_clear(&eff);
                err = cs_store_load_call(h->store, room_id, &call, errstr,
                                         errstr_size);
                if (err)
                        goto done;
                if (call) {
                        cs_event_t *ev = cs_call_find_event(call, cmd->operationid);
                        if (ev) {
                                err = release_finished(h, call, errstr, errstr_size);
                                if (!err)
                                        err = reply_invite(h, out, cmd, &ir, call,
                                                           ev, now, errstr,
                                                           errstr_size);
                                if (!err)
                                        emit_event(h, call, ev, out);
                                goto done;
                        }
                        cs_call_check_invite(call, cmd->sendid, &ir.invitees,
                                             (size_t)h->conf->signal_max_invitees,
                                             &eff);
                        if (eff.code) {
                                err = refuse(h, out, cmd, eff.code, eff.why,
                                             now, errstr, errstr_size);
                                goto done;
                        }
                } else {
                        cs_err_t refusal;
                        const char *why = NULL;
                        err = claim_new_call(h, cmd, &ir, room_id, now,
                                             &refusal, &why, errstr,
                                             errstr_size);
                        if (!err && refusal)
                                err = refuse(h, out, cmd, refusal, why, now,
                                             errstr, errstr_size);
                        if (err || refusal)
                                goto done;
                        call = cs_call_new(room_id, cmd->sendid, ir.platform_id,
                                           ir.inv->groupid, ir.inv->mediatype,
                                           ir.inv->customdata, ir.session_type,
                                           ir.timeout_s, now, meta, meta_len);
                }
                err = claim_invitees(h, &ir.invitees, room_id, now, &busy,
                                     errstr, errstr_size);
                if (err)
                        goto done;
                cs_call_invite(call, cmd->sendid, ir.platform_id,
                               cmd->operationid, &ir.invitees, &busy,
                               ir.timeout_s,
                               (size_t)h->conf->signal_max_invitees, now, &eff);
                if (!eff.event) {
                        err = refuse(h, out, cmd, eff.code, eff.why, now,
                                     errstr, errstr_size);
                        goto done;
                }
                invite_content(cmd, &ir, call, eff.event);
                err = call->rev == 0
                              ? cs_store_insert_call(h->store, call, errstr, errstr_size)
                              : cs_store_update_call(h->store, call, errstr, errstr_size);
                if (err == CS_ERR_RACE)
                        continue;
                if (err == CS_ERR_INVALID) {
                        err = refuse(h, out, cmd, CS_ERR_INVALID,
                                     "the call has too many events", now,
                                     errstr, errstr_size);
                        goto done;
                }
                if (err)
                        goto done;
                err = release_effect(h, call, &eff, errstr, errstr_size);
                if (!err)
                        err = reply_invite(h, out, cmd, &ir, call, eff.event,
                                           now, errstr, errstr_size);
                if (!err)
                        emit_event(h, call, eff.event, out);
                goto done;
        }
        snprintf(errstr, errstr_size, "call %s: lost %d races in a row",
                 room_id, MAX_RACE_ATTEMPTS);
        err = CS_ERR_TRANSIENT;
done:
        free(meta);
        cs_effect_clear(&eff);
        cs_strv_clear(&busy);
        cs_strv_clear(&ir.invitees);
        cs_call_destroy(call);
        return err;
}

/* ---- accept, reject, cancel, hang-up ---- */

static cs_err_t reply_action(cs_handler_t *h, cs_outbox_t *out,
                             const cs_command_t *cmd, const cs_call_t *call,
                             int64_t now, char *errstr, size_t errstr_size) {
        resp_buf_t rb;
        char *token = NULL;
        resp_prepare(&rb, cmd->req->payload_case);
        if (cmd->req->payload_case == OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT) {
                token = mint(h, cmd->sendid, call->room_id,
                             cmd->req->accept->participant, now, errstr,
                             errstr_size);
                if (!token)
                        return CS_ERR_TRANSIENT;
                resp_set_join(&rb, token, call->room_id, h->conf->livekit_url,
                              NULL);
        }
        add_reply(h, out, cmd, CS_OK, NULL, &rb.resp);
        free(token);
        return CS_OK;
}

static cs_err_t do_action(cs_handler_t *h, cs_command_t *cmd,
                          cs_event_type_t type, int64_t now, cs_outbox_t *out,
                          char *errstr, size_t errstr_size) {
        cs_call_t *call = NULL;
        cs_effect_t eff = {0};
        uint8_t *meta = NULL;
        size_t meta_len = 0;
        cs_err_t err = CS_OK;
        req_fields_t f = req_fields(cmd->req);
        const invitation_t *req_inv = *f.invitation;

        if (!req_inv || !valid_id(req_inv->roomid)) {
                err = refuse(h, out, cmd, CS_ERR_INVALID,
                             "invitation.roomID is required", now, errstr,
                             errstr_size);
                goto done;
        }
        if (type == CS_EV_ACCEPT && *f.participant)
                meta = cs_codec_pack(&(*f.participant)->base, &meta_len);
        int32_t platform_id = cmd->platformid;
        if (!platform_id && f.op_user_platform_id)
                platform_id = *f.op_user_platform_id;

        for (int attempt = 0; attempt < MAX_RACE_ATTEMPTS; attempt++) {
                cs_call_destroy(call);
                call = NULL;
                cs_effect_clear(&eff);
                err = cs_store_load_call(h->store, req_inv->roomid, &call,
                                         errstr, errstr_size);
                if (err)
                        goto done;
                if (!call) {
                        err = refuse(h, out, cmd, CS_ERR_NOT_FOUND,
                                     "no call with this roomID", now, errstr,
                                     errstr_size);
                        goto done;
                }
                cs_event_t *ev = cs_call_find_event(call, cmd->operationid);
                if (ev) {
                        err = release_finished(h, call, errstr, errstr_size);
                        if (!err)
                                err = reply_action(h, out, cmd, call, now,
                                                   errstr, errstr_size);
                        if (!err)
                                emit_event(h, call, ev, out);
                        goto done;
                }
                cs_action_t act = {
                        .type = type,
                        .user_id = cmd->sendid,
                        .platform_id = platform_id,
                        .operation_id = cmd->operationid,
                        .now = now,
                        .meta = meta,
                        .meta_len = meta_len,
                };
                cs_call_act(call, &act, &eff);
                if (eff.code) {
                        err = refuse(h, out, cmd, eff.code, eff.why, now,
                                     errstr, errstr_size);
                        goto done;
                }
                invitation_t inv;
                inv_lists_t lists;
                size_t len;
                uint8_t *buf;
                invitation_from_call(call, &inv, &lists);
                if (eff.event->type == CS_EV_CANCEL && type == CS_EV_HUNG_UP)
                        buf = pack_cancel(cmd->sendid, &inv, *f.offline_push, &len);
                else
                        buf = pack_patched(cmd->req, cmd->sendid, &inv,
                                           platform_id, &len);
                free_invitation_lists(&lists);
                set_content(eff.event, buf, len);
                err = cs_store_update_call(h->store, call, errstr, errstr_size);
                if (err == CS_ERR_RACE)
                        continue;
                if (err == CS_ERR_INVALID) {
                        err = refuse(h, out, cmd, CS_ERR_INVALID,
                                     "the call has too many events", now,
                                     errstr, errstr_size);
                        goto done;
                }
                if (err)
                        goto done;
                err = release_effect(h, call, &eff, errstr, errstr_size);
                if (!err)
                        err = reply_action(h, out, cmd, call, now, errstr,
                                           errstr_size);
                if (!err)
                        emit_event(h, call, eff.event, out);
                goto done;
        }
        snprintf(errstr, errstr_size, "call %s: lost %d races in a row",
                 req_inv->roomid, MAX_RACE_ATTEMPTS);
        err = CS_ERR_TRANSIENT;
done:
        free(meta);
        cs_effect_clear(&eff);
        cs_call_destroy(call);
        return err;
}

/* ---- lookups ---- */

static cs_err_t do_room_lookup(cs_handler_t *h, cs_command_t *cmd,
                               int64_t now, cs_outbox_t *out, char *errstr,
                               size_t errstr_size) {
        const char *group_id = cmd->req->getroombygroupid->groupid;
        cs_call_t *call = NULL;
        Openim__V2__ParticipantMetaData **pms = NULL;
        Openim__V2__ParticipantMetaData *synth = NULL;
        Openim__V2__PublicUserInfo *infos = NULL;
        bool *unpacked = NULL;
        size_t pm_cnt = 0;
        cs_err_t err;

        if (!valid_id(group_id))
                return refuse(h, out, cmd, CS_ERR_INVALID, "groupID is required",
                              now, errstr, errstr_size);
        err = cs_store_load_group_call(h->store, group_id, &call, errstr,
                                       errstr_size);
        if (err)
                return err;
        cs_err_t code = call ? cs_call_check_room_lookup(call, cmd->sendid)
                             : CS_ERR_NOT_FOUND;
        if (code) {
                err = refuse(h, out, cmd, code,
                             code == CS_ERR_NOT_FOUND ? "no live call in this group"
                                                      : "sender is not in this call",
                             now, errstr, errstr_size);
                goto done;
        }

        /* Everyone still in the call or ringing, with the metadata they
         * gave (or just their userID). */
        pms = cs_xcalloc(call->part_cnt + 1, sizeof(*pms));
        infos = cs_xcalloc(call->part_cnt + 1, sizeof(*infos));
        synth = cs_xcalloc(call->part_cnt + 1, sizeof(*synth));
        unpacked = cs_xcalloc(call->part_cnt + 1, sizeof(*unpacked));
        for (size_t i = 0; i < call->part_cnt; i++) {
                const cs_participant_t *part = &call->parts[i];
                if (part->state != CS_PART_RINGING && part->state != CS_PART_ACCEPTED)
                        continue;
                Openim__V2__ParticipantMetaData *pm = NULL;
                if (part->meta)
                        pm = openim__v2__participant_meta_data__unpack(
                                NULL, part->meta_len, part->meta);
                unpacked[pm_cnt] = pm != NULL;
                if (!pm) {
                        pm = &synth[i];
                        openim__v2__participant_meta_data__init(pm);
                        openim__v2__public_user_info__init(&infos[i]);
                        infos[i].userid = part->user_id;
                        pm->userinfo = &infos[i];
                }
                pms[pm_cnt++] = pm;
        }
        resp_buf_t rb;
        invitation_t inv;
        inv_lists_t lists;
        resp_prepare(&rb, cmd->req->payload_case);
        invitation_from_call(call, &inv, &lists);
        rb.room.invitation = &inv;
        rb.room.n_participant = pm_cnt;
        rb.room.participant = pms;
        rb.room.roomid = call->room_id;
        add_reply(h, out, cmd, CS_OK, NULL, &rb.resp);
        free_invitation_lists(&lists);
        for (size_t i = 0; i < pm_cnt; i++)
                if (unpacked[i])
                        openim__v2__participant_meta_data__free_unpacked(pms[i], NULL);
done:
        free(pms);
        free(synth);
        free(infos);
        free(unpacked);
        cs_call_destroy(call);
        return err;
}

static cs_err_t do_token(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                         cs_outbox_t *out, char *errstr, size_t errstr_size) {
        const Openim__V2__SignalGetTokenByRoomIDReq *req = cmd->req->gettokenbyroomid;
        cs_call_t *call = NULL;
        char *token = NULL;
        cs_err_t err;

        if (!valid_id(req->roomid))
                return refuse(h, out, cmd, CS_ERR_INVALID, "roomID is required",
                              now, errstr, errstr_size);
        err = cs_store_load_call(h->store, req->roomid, &call, errstr,
                                 errstr_size);
        if (err)
                return err;
        cs_err_t code = call ? cs_call_check_token(call, cmd->sendid)
                             : CS_ERR_NOT_FOUND;
        if (code) {
                err = refuse(h, out, cmd, code,
                             code == CS_ERR_NOT_FOUND ? "no live call with this roomID"
                                                      : "sender is not in this call",
                             now, errstr, errstr_size);
                goto done;
        }
        token = mint(h, cmd->sendid, call->room_id, req->participant, now,
                     errstr, errstr_size);
        if (!token) {
                err = CS_ERR_TRANSIENT;
                goto done;
        }
        resp_buf_t rb;
        resp_prepare(&rb, cmd->req->payload_case);
        resp_set_join(&rb, token, call->room_id, h->conf->livekit_url, NULL);
        add_reply(h, out, cmd, CS_OK, NULL, &rb.resp);
done:
        free(token);
        cs_call_destroy(call);
        return err;
}

/* ---- entry points ---- */

cs_err_t cs_handler_command(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                            cs_outbox_t *out, char *errstr,
                            size_t errstr_size) {
        cs_err_t err = CS_OK;
        if (!user_has_topic(h, cmd->sendid)) {
                snprintf(errstr, errstr_size,
                         "sendID is too long or gives no valid push topic");
                return CS_ERR_UNDECODABLE;
        }
        Openim__V2__SignalReq__PayloadCase req_case =
                cmd->req ? cmd->req->payload_case
                         : OPENIM__V2__SIGNAL_REQ__PAYLOAD__NOT_SET;
        switch (req_case) {
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD__NOT_SET:
                add_error_reply(h, out, cmd, CS_ERR_INVALID,
                                "request has no payload");
                return CS_OK;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_CONNECTED_REQ:
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_DISCONNECTED_REQ:
                add_error_reply(h, out, cmd, CS_ERR_UNSUPPORTED,
                                "participant events are sent by the server only");
                return CS_OK;
        default:
                break;
        }

        /* A refusal given before is given again. */
        bool found;
        int32_t code;
        char *msg = NULL;
        err = cs_store_get_refusal(h->store, cmd->operationid, &found, &code,
                                   &msg, errstr, errstr_size);
        if (err)
                goto done;
        if (found) {
                add_error_reply(h, out, cmd, (cs_err_t)code, msg);
                goto done;
        }
        if (protobuf_c_message_get_packed_size(&cmd->req->base) > MAX_REQUEST_BYTES) {
                err = refuse(h, out, cmd, CS_ERR_INVALID, "request too large",
                             now, errstr, errstr_size);
                goto done;
        }
        /* protobuf-c does not check UTF-8; OpenIM's Go clients would reject
         * what we echo back, so such a request is refused here. */
        if (!cs_codec_strings_valid(&cmd->req->base)) {
                err = refuse(h, out, cmd, CS_ERR_INVALID,
                             "a string field is not valid UTF-8", now, errstr,
                             errstr_size);
                goto done;
        }

        switch (req_case) {
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE:
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP:
                err = do_invite(h, cmd, now, out, errstr, errstr_size);
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT:
                err = do_action(h, cmd, CS_EV_ACCEPT, now, out, errstr, errstr_size);
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT:
                err = do_action(h, cmd, CS_EV_REJECT, now, out, errstr, errstr_size);
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL:
                err = do_action(h, cmd, CS_EV_CANCEL, now, out, errstr, errstr_size);
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP:
                err = do_action(h, cmd, CS_EV_HUNG_UP, now, out, errstr, errstr_size);
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_ROOM_BY_GROUP_ID:
                err = do_room_lookup(h, cmd, now, out, errstr, errstr_size);
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_TOKEN_BY_ROOM_ID:
                err = do_token(h, cmd, now, out, errstr, errstr_size);
                break;
        default:
                add_error_reply(h, out, cmd, CS_ERR_UNSUPPORTED,
                                "unknown request case");
                break;
        }
done:
        free(msg);
        if (err)
                cs_outbox_clear(out);
        return err;
}

void cs_handler_give_up(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                        const char *reason, cs_outbox_t *out) {
        (void)now;
        cs_outbox_clear(out);
        add_error_reply(h, out, cmd, CS_ERR_SERVER, reason);
}

/* Fires the due ring timeouts of one call, or emits again a timer event
 * whose delivery was started by a worker that did not finish it. */
static cs_err_t fire_timeout(cs_handler_t *h, const char *room_id,
                             int64_t now, int64_t redeliver_after_ms,
                             cs_outbox_t *out, cs_strv_t *fired,
                             char *errstr, size_t errstr_size) {
        cs_call_t *call = NULL;
        cs_effect_t eff = {0};
        cs_err_t err = CS_OK;
        for (int attempt = 0; attempt < MAX_RACE_ATTEMPTS; attempt++) {
                cs_call_destroy(call);
                call = NULL;
                cs_effect_clear(&eff);
                err = cs_store_load_call(h->store, room_id, &call, errstr,
                                         errstr_size);
                if (err || !call)
                        goto done;
                if (call->pending_timer_op) {
                        /* One slot: the next deadline waits until the
                         * previous timer event is delivered. */
                        if (call->pending_timer_at > now - redeliver_after_ms)
                                goto done;
                        cs_event_t *ev = cs_call_find_event(call, call->pending_timer_op);
                        call->pending_timer_at = now;
                        err = cs_store_update_call(h->store, call, errstr, errstr_size);
                        if (err == CS_ERR_RACE)
                                continue;
                        if (err)
                                goto done;
                        if (ev) {
                                cs_log(CS_LOG_WARN, "TIMER",
                                       "room %s: emitting undelivered timer event %s again",
                                       call->room_id, ev->operation_id);
                                emit_event(h, call, ev, out);
                        }
                        cs_strv_add(fired, call->room_id);
                        cs_strv_add(fired, call->pending_timer_op);
                        goto done;
                }
                /* One operationID per firing: the call and its revision. */
                char rev[24], hex[33], op_id[48];
                snprintf(rev, sizeof(rev), "%lld", (long long)call->rev);
                const char *parts[] = {"timeout", call->room_id, rev};
                cs_hash_hex128(h->room_key, parts, CS_ARRAY_SIZE(parts), hex);
                snprintf(op_id, sizeof(op_id), "timer-%s", hex);
                if (!cs_call_expire(call, op_id, now, &eff))
                        goto done; /* another worker fired it */
                invitation_t inv;
                inv_lists_t lists;
                size_t len;
                invitation_from_call(call, &inv, &lists);
                uint8_t *buf = pack_cancel(call->inviter_user_id, &inv, NULL, &len);
                free_invitation_lists(&lists);
                set_content(eff.event, buf, len);
                call->pending_timer_op = cs_xstrdup(op_id);
                call->pending_timer_at = now;
                err = cs_store_update_call(h->store, call, errstr, errstr_size);
                if (err == CS_ERR_RACE)
                        continue;
                if (err)
                        goto done;
                cs_log(CS_LOG_INFO, "TIMER", "room %s: %zu invitee(s) timed out%s",
                       call->room_id, eff.event->notify.cnt - 1,
                       cs_call_is_live(call) ? "" : ", call ended");
                emit_event(h, call, eff.event, out);
                cs_strv_add(fired, call->room_id);
                cs_strv_add(fired, op_id);
                /* The notifications are owed now; a line left held is stale
                 * and is taken over by the next claim. */
                char lerr[256];
                if (release_effect(h, call, &eff, lerr, sizeof(lerr)))
                        cs_log(CS_LOG_WARN, "TIMER", "room %s: %s", call->room_id, lerr);
                goto done;
        }
        snprintf(errstr, errstr_size, "call %s: lost %d races in a row",
                 room_id, MAX_RACE_ATTEMPTS);
        err = CS_ERR_TRANSIENT;
done:
        cs_effect_clear(&eff);
        cs_call_destroy(call);
        return err;
}

cs_err_t cs_handler_timer(cs_handler_t *h, int64_t now,
                          int64_t redeliver_after_ms, cs_outbox_t *out,
                          cs_strv_t *fired, char *errstr, size_t errstr_size) {
        cs_strv_t rooms = {0};
        cs_err_t err = cs_store_find_due(h->store, now,
                                         now - redeliver_after_ms,
                                         TIMER_BATCH, &rooms, errstr,
                                         errstr_size);
        for (size_t i = 0; !err && i < rooms.cnt; i++)
                err = fire_timeout(h, rooms.v[i], now, redeliver_after_ms,
                                   out, fired, errstr,
                                   errstr_size);
        cs_strv_clear(&rooms);
        return err;
}

void cs_handler_timer_delivered(cs_handler_t *h, const cs_strv_t *fired) {
        char errstr[256];
        for (size_t i = 0; i + 1 < fired->cnt; i += 2)
                if (cs_store_clear_pending_timer(h->store, fired->v[i],
                                                 fired->v[i + 1], errstr,
                                                 sizeof(errstr)))
                        cs_log(CS_LOG_WARN, "TIMER",
                               "room %s: outbox not cleared (%s); it will be emitted again",
                               fired->v[i], errstr);
}
