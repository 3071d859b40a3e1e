/*
 * handler_custom.c: custom signals (contract section 11: v2 SignalReq case
 * 100, v3 RtcRequest case 6), relayed between the people in a live call.
 *
 * The codecs decode either dialect's request into the request model
 * (roomID, customInfo, recvUserIDs), pack the SignalSendCustomSignalReq
 * content and wrap it in their notification layout with contentType 1605.
 *
 * What a custom signal costs: one read of the call record (membership is
 * judged on the record as it is now, so someone who hung up, a rejected
 * or timed-out invitee and an ended call reach nobody), no write. Nothing
 * goes to the call record or the ledger of operations: a redelivered
 * command is relayed again, with the same clientMsgIDs (derived from the
 * sender, the operationID and the recipient), so clients drop the
 * duplicate. The rate limit is counted in memory (ratelimit.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "handler_int.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "topic.h"

/* The window of signal.custom_per_minute. */
#define CUSTOM_WINDOW_MS 60000

/* @returns true if @p part may send or receive custom signals at @p now:
 * the inviter until they leave, an invitee ringing (before its ring
 * deadline) or accepted. */
static bool part_in_call(const cs_participant_t *part, int64_t now) {
        if (part->state == CS_PART_ACCEPTED)
                return true;
        return part->state == CS_PART_RINGING && !part->inviter &&
               (part->ring_until <= 0 || now <= part->ring_until);
}

static cs_custom_refusal_t refusal_of(cs_err_t code) {
        switch (code) {
        case CS_ERR_NOT_PERMITTED: return CS_CUSTOM_NOT_PERMITTED;
        case CS_ERR_NOT_FOUND: return CS_CUSTOM_NOT_FOUND;
        case CS_ERR_RATE_LIMITED: return CS_CUSTOM_RATE_LIMITED;
        case CS_ERR_EXPIRED: return CS_CUSTOM_EXPIRED;
        default: return CS_CUSTOM_INVALID;
        }
}

cs_err_t hd_relay_custom(cs_handler_t *h, const cs_custom_signal_t *sig,
                         int64_t now, cs_outbox_t *out, cs_err_t *codep,
                         const char **msgp, char *errstr, size_t errstr_size) {
        cs_call_t *call = NULL;
        const char **recipients = NULL;
        size_t recv_cnt = 0;
        cs_err_t code = CS_OK;
        const char *msg = NULL;
        cs_err_t err = CS_OK;

        if (!hd_valid_id(sig->room_id)) {
                code = CS_ERR_INVALID;
                msg = "roomID is required";
                goto refused;
        }
        if (sig->custom_info_len > (size_t)h->conf->signal_custom_max_bytes) {
                code = CS_ERR_INVALID;
                msg = "customInfo is longer than signal.custom_max_bytes";
                goto refused;
        }
        if (sig->recv_cnt > (size_t)h->conf->signal_max_invitees + 1) {
                code = CS_ERR_INVALID;
                msg = "too many recvUserIDs";
                goto refused;
        }
        for (size_t i = 0; i < sig->recv_cnt; i++)
                if (!hd_valid_id(sig->recv_user_ids[i])) {
                        code = CS_ERR_INVALID;
                        msg = "recvUserIDs holds an invalid userID";
                        goto refused;
                }

        err = cs_store_load_call(h->store, sig->room_id, &call, errstr,
                                 errstr_size);
        if (err)
                goto done;
        if (!call || !cs_call_is_live(call)) {
                code = CS_ERR_NOT_FOUND;
                msg = "no live call with this roomID";
                goto refused;
        }
        const cs_participant_t *self = cs_call_find(call, sig->sender);
        if (!self || !part_in_call(self, now)) {
                code = CS_ERR_NOT_PERMITTED;
                msg = "sender is not in this call";
                goto refused;
        }

        recipients = cs_xcalloc(call->part_cnt + 1, sizeof(*recipients));
        if (sig->recv_cnt == 0) {
                for (size_t i = 0; i < call->part_cnt; i++) {
                        const cs_participant_t *p = &call->parts[i];
                        if (p != self && strcmp(p->user_id, sig->sender) &&
                            part_in_call(p, now))
                                recipients[recv_cnt++] = p->user_id;
                }
        } else {
                for (size_t i = 0; i < sig->recv_cnt; i++) {
                        const char *id = sig->recv_user_ids[i];
                        const cs_participant_t *p = cs_call_find(call, id);
                        if (!p || !strcmp(id, sig->sender) ||
                            !part_in_call(p, now)) {
                                code = CS_ERR_NOT_PERMITTED;
                                msg = "recvUserIDs names someone who is not "
                                      "in this call";
                                goto refused;
                        }
                        bool dup = false;
                        for (size_t j = 0; j < recv_cnt && !dup; j++)
                                dup = !strcmp(recipients[j], p->user_id);
                        if (!dup && recv_cnt < call->part_cnt)
                                recipients[recv_cnt++] = p->user_id;
                }
        }

        /* Counted only once the sender is known to be in the call, so a
         * stranger cannot spend a participant's budget. */
        if (!cs_ratelimit_take(h->custom_rate, call->room_id, sig->sender, now,
                               h->conf->signal_custom_per_minute,
                               CUSTOM_WINDOW_MS)) {
                code = CS_ERR_RATE_LIMITED;
                msg = "too many custom signals from this sender in this call; "
                      "retry later";
                goto refused;
        }

        /* The clientMsgID seed names the sender: the identity of a command
         * is (sendID, operationID). */
        size_t seed_len = strlen(sig->sender) + sizeof("customSignal:");
        char *seed = cs_xmalloc(seed_len);
        snprintf(seed, seed_len, "customSignal:%s", sig->sender);
        char topic[CS_TOPIC_MAX + 1];
        size_t relayed = 0;
        for (size_t i = 0; i < recv_cnt; i++) {
                if (!cs_topic_for_user(h->conf, recipients[i], topic,
                                       sizeof(topic))) {
                        cs_log(CS_LOG_WARN, "HANDLE",
                               "room %s: no push topic for a recipient of a "
                               "custom signal; skipped", call->room_id);
                        continue;
                }
                cs_note_t note = {
                        .send_id = sig->sender,
                        .recv_id = recipients[i],
                        .group_id = call->group_id,
                        .session_type = call->session_type,
                        .sender_platform = sig->platform_id,
                        .content = sig->content,
                        .content_len = sig->content_len,
                        .at_ms = sig->sent_at > 0 ? sig->sent_at : now,
                        .operation_id = sig->operation_id,
                        .event_type = seed,
                        .content_type = CS_CONTENT_TYPE_CUSTOM_SIGNAL,
                };
                size_t len;
                uint8_t *buf = cs_codec_pack_notification(sig->dialect, &note,
                                                          &len);
                cs_outbox_add(out, CS_OUT_NOTIFICATION, topic, recipients[i],
                              buf, len, sig->operation_id);
                relayed++;
        }
        free(seed);
        cs_metrics_custom_relayed(relayed);
        goto done;

refused:
        cs_metrics_custom_refused(refusal_of(code));
        cs_log(CS_LOG_DEBUG, "HANDLE", "op=%s from %s: custom signal refused "
               "(%d %s)", sig->operation_id, sig->sender, (int)code, msg);
done:
        *codep = code;
        *msgp = msg;
        free(recipients);
        cs_call_destroy(call);
        return err;
}

/* ---- the command ---- */

cs_err_t hd_do_custom(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                      cs_outbox_t *out, char *errstr, size_t errstr_size) {
        const cs_request_t *req = &cmd->req;
        const char *why = NULL;

        if (hd_expired(h, out, cmd, now)) {
                cs_metrics_custom_refused(CS_CUSTOM_EXPIRED);
                return CS_OK;
        }
        if (!cs_codec_request_valid(cmd, &why)) {
                cs_metrics_custom_refused(CS_CUSTOM_INVALID);
                hd_add_error_reply(h, out, cmd, CS_ERR_INVALID,
                                   why ? why : "request has no payload");
                return CS_OK;
        }
        size_t content_len = 0;
        uint8_t *content = NULL;
        size_t info_len = strlen(req->custom_info);
        /* Packed only when it may be relayed (the size is checked first). */
        if (info_len <= (size_t)h->conf->signal_custom_max_bytes)
                content = cs_codec_pack_custom_content(cmd->dialect, req->room_id,
                                                       req->custom_info,
                                                       &content_len);
        cs_custom_signal_t sig = {
                .sender = cmd->send_id,
                .platform_id = cmd->platform_id,
                .operation_id = cmd->operation_id,
                .sent_at = cmd->sent_at,
                .room_id = req->room_id,
                .custom_info_len = info_len,
                .recv_user_ids = (const char *const *)req->ids,
                .recv_cnt = req->id_cnt,
                .content = content,
                .content_len = content_len,
                .dialect = cmd->dialect,
        };
        cs_err_t code = CS_OK;
        const char *msg = NULL;
        cs_err_t err = hd_relay_custom(h, &sig, now, out, &code, &msg, errstr,
                                       errstr_size);
        free(content);
        if (err)
                return err;
        hd_add_error_reply(h, out, cmd, code, msg);
        return CS_OK;
}
