/*
 * handler_content.c: the bytes callsig answers and notifies with.
 *
 * Replies carry the request's reply case (also for errors), in the
 * command's dialect. Notification content is the request as patched by
 * callsig (the codec packs it: acting user, invitation and
 * opUserPlatformID are server-built values). Tokens take the display name and metadata a client sent about
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

/* protobuf-c message structs hold `char *` even where packing only reads
 * them; this is the one place our const strings are lent to them. */
char *hd_lend(const char *s) {
        union {
                const char *c;
                char *m;
        } u = {.c = s};
        return u.m;
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
                  const char *msg, const cs_reply_t *r) {
        char topic[CS_TOPIC_MAX + 1];
        size_t len;
        cs_metrics_reply((int)cmd->req.kind, (int32_t)code);
        /* The sender's topic was checked before any work was done. */
        if (!cs_topic_for_user(h->conf, cmd->send_id, topic, sizeof(topic)))
                abort();
        /* Successful join-type replies carry the ICE servers (section 11). */
        cs_ice_servers_t ice = {.cnt = 0};
        cs_reply_t with_ice;
        if (code == CS_OK && r &&
            (cs_req_kind_joins(cmd->req.kind) ||
             cmd->req.kind == CS_REQ_GET_TOKEN_BY_ROOM_ID)) {
                cs_ice_servers_build(h->conf, cmd->send_id, wall_ms(), &ice);
                with_ice = *r;
                with_ice.ice = ice.ptrs;
                with_ice.ice_cnt = ice.cnt;
                r = &with_ice;
        }
        uint8_t *buf = cs_codec_pack_reply(cmd->send_id, cmd, (int32_t)code,
                                           code ? (msg ? msg : cs_err2str(code)) : "",
                                           r, &len);
        cs_ice_servers_clear(&ice);
        cs_outbox_add(out, CS_OUT_REPLY, topic, cmd->send_id, buf, len,
                      cmd->operation_id);
}

void hd_add_error_reply(cs_handler_t *h, cs_outbox_t *out,
                        const cs_command_t *cmd, cs_err_t code,
                        const char *msg) {
        hd_add_reply(h, out, cmd, code, msg, NULL);
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
const cs_participant_info_t *hd_participant_of(const cs_command_t *cmd) {
        return cmd->req.has_participant ? &cmd->req.participant : NULL;
}

char *hd_mint(cs_handler_t *h, const char *user_id, const char *room_id,
              const cs_participant_info_t *pm, int64_t now, char *errstr,
              size_t errstr_size) {
        char name_buf[CS_TOKEN_NAME_MAX + 1];
        char *meta = NULL;
        if (pm)
                meta = cs_token_participant_json(
                        user_id, pm->nickname, pm->face_url, pm->group_id,
                        pm->group_name, pm->member_nickname, pm->role_level);
        if (meta && strlen(meta) > CS_TOKEN_METADATA_MAX) {
                free(meta);
                meta = NULL;
        }
        cs_token_claims_t claims = {
                .user_id = user_id,
                .room_id = room_id,
                .name = pm && pm->nickname
                                ? utf8_prefix(pm->nickname, CS_TOKEN_NAME_MAX, name_buf)
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

void hd_invitation_from_call(const cs_call_t *call, cs_invitation_t *inv,
                             inv_lists_t *lists) {
        memset(inv, 0, sizeof(*inv));
        lists->invitees = cs_xcalloc(call->part_cnt + 1, sizeof(char *));
        lists->busy = cs_xcalloc(call->part_cnt + 1, sizeof(char *));
        for (size_t i = 0; i < call->part_cnt; i++) {
                const cs_participant_t *part = &call->parts[i];
                if (part->inviter)
                        continue;
                lists->invitees[inv->invitee_cnt++] = part->user_id;
                if (part->state == CS_PART_BUSY)
                        lists->busy[inv->busy_cnt++] = part->user_id;
        }
        inv->invitees = lists->invitees;
        inv->busy = lists->busy;
        inv->inviter_user_id = call->inviter_user_id;
        inv->custom_data = call->custom_data;
        inv->group_id = call->group_id;
        inv->room_id = call->room_id;
        inv->timeout_s = call->timeout_s;
        inv->media_type = call->media_type;
        inv->platform_id = call->platform_id;
        inv->session_type = call->session_type;
        inv->initiate_ms = call->created_at;
}

void hd_free_invitation_lists(inv_lists_t *lists) {
        free(lists->invitees);
        free(lists->busy);
}

cs_member_t *hd_members(const cs_call_t *call, cs_part_state_t a,
                        cs_part_state_t b, bool in_room, size_t *cntp) {
        cs_member_t *v = cs_xcalloc(call->part_cnt + 1, sizeof(*v));
        size_t cnt = 0;
        for (size_t i = 0; i < call->part_cnt; i++) {
                const cs_participant_t *part = &call->parts[i];
                if (part->state != a && part->state != b)
                        continue;
                if (in_room && !part->in_room)
                        continue;
                v[cnt].user_id = part->user_id;
                v[cnt].meta = part->meta;
                v[cnt].meta_len = part->meta_len;
                cnt++;
        }
        *cntp = cnt;
        return v;
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
                        .type = ev->type,
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
                uint8_t *buf = cs_codec_pack_notification(h->dialect, &note, &len);
                cs_outbox_add(out, CS_OUT_NOTIFICATION, topic, recv_id, buf,
                              len, ev->operation_id);
        }
}

