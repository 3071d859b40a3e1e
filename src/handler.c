/*
 * handler.c: one command in, a filled outbox out.
 *
 * Flow of a command:
 *   1. the sender's push topic must exist as a name, else dead letter;
 *   2. a command in the other OpenIM dialect: 1007 (in its own shape); no
 *      payload: 1001, cases 8 and 9: 1007 (resp unset); sendCustomSignal is
 *      relayed by handler_custom.c, past the ledger;
 *   3. the ledger of operations is asked about (sendID, operationID): a
 *      pair refused before is refused the same way again, a pair applied
 *      before is answered from its call (a redelivery), and a pair used for
 *      another request case is answered 1001. The identity of a command is
 *      the pair, never the operationID alone: another sender's command
 *      with a known operationID is a new command, judged in full.
 *      A well-formed accept, reject, cancel or hang-up skips this step: it
 *      names its call, whose record keeps the operations applied to it and
 *      the refusals of commands that named it; handler_change.c asks the
 *      record first and the ledger only when the record cannot tell;
 *   4. limits and encoding are checked (1001); a command older than
 *      signal.command_max_age is answered 1008 once it is known not to be
 *      a redelivery (handler_change.c asks the call record first);
 *   5. the command is carried out (handler_change.c, lookups below, the
 *      v3 read methods in handler_read.c).
 *
 * Every refusal is recorded in the ledger before it is answered (and kept
 * in the record it named as well, handler_change.c). When two workers
 * record the same pair at once, the one that loses answers what the ledger
 * says.
 *
 * The other files of the handler are listed in handler_int.h.
 */
#include "handler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "handler_int.h"
#include "hash.h"
#include "log.h"
#include "topic.h"

/* Rounds of step 3 when the ledger keeps changing under a command. */
#define LEDGER_ROUNDS 3

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
        h->roomsvc = cs_roomsvc_new(conf);
        h->custom_rate = cs_ratelimit_new(HD_CUSTOM_RATE_PAIRS);
        h->dialect = conf->openim_protocol == CS_PROTOCOL_V3 ? CS_DIALECT_V3
                                                             : CS_DIALECT_V2;
        return h;
}

void cs_handler_destroy(cs_handler_t *h) {
        if (!h)
                return;
        cs_strv_clear(&h->timer_skip);
        cs_roomsvc_destroy(h->roomsvc);
        cs_ratelimit_destroy(h->custom_rate);
        free(h);
}

/* ---- checks ---- */

bool hd_valid_id(const char *id) {
        size_t len = strlen(id);
        if (len == 0 || len > HD_MAX_ID_BYTES)
                return false;
        for (const unsigned char *p = (const unsigned char *)id; *p; p++)
                if (*p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

bool hd_user_has_topic(const cs_handler_t *h, const char *user_id) {
        char topic[CS_TOPIC_MAX + 1];
        return hd_valid_id(user_id) &&
               cs_topic_for_user(h->conf, user_id, topic, sizeof(topic));
}

/* ---- the ledger ---- */

cs_err_t hd_refuse(cs_handler_t *h, cs_outbox_t *out, const cs_command_t *cmd,
                   cs_err_t code, const char *msg, int64_t now, char *errstr,
                   size_t errstr_size) {
        const char *request = cs_req_kind_name(cmd->req.kind);
        char *stored_msg = cs_xstrdup(code ? (msg ? msg : cs_err2str(code)) : "");
        cs_op_record_t rec = {
                .request = hd_lend(request),
                .code = (int32_t)code,
                .msg = stored_msg,
        };
        cs_err_t err = cs_store_put_op(h->store, cmd->send_id, cmd->operation_id,
                                       &rec, now,
                                       h->conf->signal_operation_retention,
                                       errstr, errstr_size);
        free(stored_msg);
        if (err)
                return err;
        cs_log(CS_LOG_DEBUG, "HANDLE", "op=%s from %s: %s refused: %d %s",
               cmd->operation_id, cmd->send_id, request, (int)code,
               msg ? msg : "");
        hd_add_error_reply(h, out, cmd, code, msg);
        return CS_OK;
}

cs_err_t hd_refuse_lookup(cs_handler_t *h, cs_outbox_t *out,
                          const cs_command_t *cmd, cs_err_t code,
                          const char *not_found, int64_t now, char *errstr,
                          size_t errstr_size) {
        return hd_refuse(h, out, cmd, code,
                         code == CS_ERR_NOT_FOUND ? not_found
                                                  : "sender is not in this call",
                         now, errstr, errstr_size);
}

void hd_answer_reused(cs_handler_t *h, cs_outbox_t *out, const cs_command_t *cmd,
                      const cs_call_t *call, bool *donep) {
        const char *request = cs_req_kind_name(cmd->req.kind);
        const cs_event_t *ev = cs_call_find_op(call, cmd->send_id, cmd->operation_id);
        const cs_refusal_t *ref = cs_call_find_refusal(call, cmd->send_id,
                                                       cmd->operation_id);
        *donep = (ev && ev->request && ev->request[0] &&
                  strcmp(ev->request, request)) ||
                 (ref && strcmp(ref->request, request));
        if (*donep)
                hd_add_error_reply(h, out, cmd, CS_ERR_INVALID,
                                   "operationID already used for another request");
}

void hd_record_applied(cs_handler_t *h, const cs_command_t *cmd,
                       const char *room_id, int32_t code, int64_t now) {
        char errstr[256];
        cs_op_record_t rec = {
                .request = hd_lend(cs_req_kind_name(cmd->req.kind)),
                .room_id = hd_lend(room_id),
                .code = code,
                .msg = hd_lend(""),
                .applied = true,
        };
        cs_err_t err = cs_store_put_op(h->store, cmd->send_id, cmd->operation_id,
                                       &rec, now,
                                       h->conf->signal_operation_retention,
                                       errstr, sizeof(errstr));
        if (err && err != CS_ERR_RACE)
                cs_log(CS_LOG_WARN, "HANDLE",
                       "op=%s from %s: applied to room %s, not recorded in the "
                       "ledger (%s); the call record still identifies it",
                       cmd->operation_id, cmd->send_id, room_id, errstr);
}

bool hd_is_expired(const cs_handler_t *h, const cs_command_t *cmd, int64_t now) {
        int64_t max_age_ms = h->conf->signal_command_max_age * 1000;
        return max_age_ms && cmd->sent_at > 0 && now - cmd->sent_at > max_age_ms;
}

bool hd_expired(cs_handler_t *h, cs_outbox_t *out, const cs_command_t *cmd,
                int64_t now) {
        if (!hd_is_expired(h, cmd, now))
                return false;
        cs_log(CS_LOG_INFO, "HANDLE", "op=%s from %s: expired (%lld ms old)",
               cmd->operation_id, cmd->send_id, (long long)(now - cmd->sent_at));
        hd_add_error_reply(h, out, cmd, CS_ERR_EXPIRED,
                           "the command expired before it was handled");
        return true;
}

/* Answers @p cmd from its ledger entry. */
static cs_err_t answer_from_ledger(cs_handler_t *h, cs_command_t *cmd,
                                   const cs_op_record_t *rec, int64_t now,
                                   cs_outbox_t *out, char *errstr,
                                   size_t errstr_size) {
        if (strcmp(rec->request, cs_req_kind_name(cmd->req.kind))) {
                hd_add_error_reply(h, out, cmd, CS_ERR_INVALID,
                                   "operationID already used for another request");
                return CS_OK;
        }
        if (!rec->applied) {
                hd_add_error_reply(h, out, cmd, (cs_err_t)rec->code, rec->msg);
                return CS_OK;
        }
        /* Applied: answered from the call it changed (whatever roomID the
         * command names now). */
        cs_call_t *call = NULL;
        cs_err_t err = cs_store_load_call(h->store, rec->room_id ? rec->room_id : "",
                                          &call, errstr, errstr_size);
        if (!err) {
                const cs_event_t *ev = call ? cs_call_find_op(call, cmd->send_id,
                                                              cmd->operation_id)
                                            : NULL;
                err = hd_replay(h, cmd, call, ev, rec->code, now, out, errstr,
                                errstr_size);
        }
        cs_call_destroy(call);
        return err;
}

cs_err_t hd_answer_from_ledger(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                               cs_outbox_t *out, bool *foundp, char *errstr,
                               size_t errstr_size) {
        cs_op_record_t rec;
        cs_err_t err = cs_store_get_op(h->store, cmd->send_id, cmd->operation_id,
                                       foundp, &rec, errstr, errstr_size);
        if (err || !*foundp)
                return err;
        err = answer_from_ledger(h, cmd, &rec, now, out, errstr, errstr_size);
        cs_op_record_clear(&rec);
        return err;
}

/* ---- lookups ---- */

static cs_err_t do_room_lookup(cs_handler_t *h, cs_command_t *cmd,
                               int64_t now, cs_outbox_t *out, char *errstr,
                               size_t errstr_size) {
        const char *group_id = cmd->req.group_id;
        cs_call_t *call = NULL;
        cs_err_t err;

        if (!hd_valid_id(group_id))
                return hd_refuse(h, out, cmd, CS_ERR_INVALID, "groupID is required",
                                 now, errstr, errstr_size);
        err = cs_store_load_group_call(h->store, group_id, &call, errstr,
                                       errstr_size);
        if (err)
                return err;
        bool reused = false;
        if (call)
                hd_answer_reused(h, out, cmd, call, &reused);
        if (reused)
                goto done;
        cs_err_t code = call ? cs_call_check_room_lookup(call, cmd->send_id)
                             : CS_ERR_NOT_FOUND;
        if (code) {
                err = hd_refuse_lookup(h, out, cmd, code, "no live call in this group",
                                       now, errstr, errstr_size);
                goto done;
        }

        /* Everyone still in the call or ringing, with the metadata they
         * gave (or just their userID). */
        cs_room_view_t room = {0};
        inv_lists_t lists;
        hd_invitation_from_call(call, &room.inv, &lists);
        cs_member_t *members = hd_members(call, CS_PART_RINGING, CS_PART_ACCEPTED,
                                          false, &room.member_cnt);
        room.members = members;
        cs_reply_t r = {.rooms = &room, .room_cnt = 1};
        hd_add_reply(h, out, cmd, CS_OK, NULL, &r);
        hd_free_invitation_lists(&lists);
        free(members);
done:
        cs_call_destroy(call);
        return err;
}

static cs_err_t do_token(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                         cs_outbox_t *out, char *errstr, size_t errstr_size) {
        const cs_request_t *req = &cmd->req;
        cs_call_t *call = NULL;
        char *token = NULL;
        cs_err_t err;

        if (!hd_valid_id(req->room_id))
                return hd_refuse(h, out, cmd, CS_ERR_INVALID, "roomID is required",
                              now, errstr, errstr_size);
        err = cs_store_load_call(h->store, req->room_id, &call, errstr,
                                 errstr_size);
        if (err)
                return err;
        bool reused = false;
        if (call)
                hd_answer_reused(h, out, cmd, call, &reused);
        if (reused)
                goto done;
        cs_err_t code = call ? cs_call_check_token(call, cmd->send_id)
                             : CS_ERR_NOT_FOUND;
        if (code) {
                err = hd_refuse_lookup(h, out, cmd, code,
                                       "no live call with this roomID", now, errstr,
                                       errstr_size);
                goto done;
        }
        token = hd_mint(h, cmd->send_id, call->room_id, hd_participant_of(cmd),
                        now, errstr, errstr_size);
        if (!token) {
                err = CS_ERR_TRANSIENT;
                goto done;
        }
        cs_reply_t r = {
                .token = token,
                .room_id = call->room_id,
                .live_url = h->conf->livekit_url,
        };
        hd_add_reply(h, out, cmd, CS_OK, NULL, &r);
done:
        free(token);
        cs_call_destroy(call);
        return err;
}

/* ---- entry points ---- */

/* The change an accept, reject, cancel or hang-up asks for. */
static bool action_of(const cs_command_t *cmd, cs_event_type_t *typep) {
        switch (cmd->req.kind) {
        case CS_REQ_ACCEPT:
                *typep = CS_EV_ACCEPT;
                return true;
        case CS_REQ_REJECT:
                *typep = CS_EV_REJECT;
                return true;
        case CS_REQ_CANCEL:
                *typep = CS_EV_CANCEL;
                return true;
        case CS_REQ_HUNG_UP:
                *typep = CS_EV_HUNG_UP;
                return true;
        default:
                return false;
        }
}

/* Step 3 to 5 of the file comment, once. */
static cs_err_t handle_once(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                            cs_outbox_t *out, char *errstr,
                            size_t errstr_size) {
        bool found;
        const char *why = NULL;
        cs_event_type_t action;
        /* A well-formed accept, reject, cancel or hang-up names its call:
         * the record is asked first (handler_change.c), the ledger only
         * when the record cannot answer. */
        if (action_of(cmd, &action) && cmd->req.wire_size <= HD_MAX_REQUEST_BYTES &&
            cs_codec_request_valid(cmd, &why) && cmd->req.has_invitation &&
            hd_valid_id(cmd->req.inv.room_id))
                return hd_do_action(h, cmd, action, now, out, errstr, errstr_size);
        cs_err_t err = hd_answer_from_ledger(h, cmd, now, out, &found, errstr,
                                             errstr_size);
        if (err || found)
                return err;
        if (cmd->req.wire_size > HD_MAX_REQUEST_BYTES)
                return hd_refuse(h, out, cmd, CS_ERR_INVALID, "request too large",
                                 now, errstr, errstr_size);
        /* protobuf-c checks neither UTF-8 nor embedded NULs; OpenIM's Go
         * clients would reject what we echo back, and a NUL would cut an
         * ID short. */
        if (!cs_codec_request_valid(cmd, &why))
                return hd_refuse(h, out, cmd, CS_ERR_INVALID, why, now, errstr,
                                 errstr_size);

        switch (cmd->req.kind) {
        case CS_REQ_INVITE:
        case CS_REQ_INVITE_IN_GROUP:
                return hd_do_invite(h, cmd, now, out, errstr, errstr_size);
        case CS_REQ_ACCEPT:
                return hd_do_action(h, cmd, CS_EV_ACCEPT, now, out, errstr, errstr_size);
        case CS_REQ_REJECT:
                return hd_do_action(h, cmd, CS_EV_REJECT, now, out, errstr, errstr_size);
        case CS_REQ_CANCEL:
                return hd_do_action(h, cmd, CS_EV_CANCEL, now, out, errstr, errstr_size);
        case CS_REQ_HUNG_UP:
                return hd_do_action(h, cmd, CS_EV_HUNG_UP, now, out, errstr, errstr_size);
        case CS_REQ_GET_ROOM_BY_GROUP_ID:
                if (hd_expired(h, out, cmd, now))
                        return CS_OK;
                return do_room_lookup(h, cmd, now, out, errstr, errstr_size);
        case CS_REQ_GET_TOKEN_BY_ROOM_ID:
                if (hd_expired(h, out, cmd, now))
                        return CS_OK;
                return do_token(h, cmd, now, out, errstr, errstr_size);
        case CS_REQ_GET_ROOMS:
        case CS_REQ_INVITATION_INFO:
        case CS_REQ_INVITATION_START_APP:
        case CS_REQ_INVITATION_RECORDS:
        case CS_REQ_DELETE_RECORDS:
                return hd_do_read(h, cmd, now, out, errstr, errstr_size);
        default:
                hd_add_error_reply(h, out, cmd, CS_ERR_UNSUPPORTED,
                                   "unknown request case");
                return CS_OK;
        }
}

cs_err_t cs_handler_command(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                            cs_outbox_t *out, char *errstr,
                            size_t errstr_size) {
        cs_err_t err = CS_OK;
        if (!hd_user_has_topic(h, cmd->send_id)) {
                snprintf(errstr, errstr_size,
                         "sendID is too long or gives no valid push topic");
                return CS_ERR_UNDECODABLE;
        }
        if (cmd->dialect != h->dialect) {
                hd_add_error_reply(h, out, cmd, CS_ERR_UNSUPPORTED,
                                   h->dialect == CS_DIALECT_V3
                                           ? "this deployment speaks OpenIM v3 (rtc)"
                                           : "this deployment speaks OpenIM v2 (req)");
                return CS_OK;
        }
        switch (cmd->req.kind) {
        case CS_REQ_NONE:
                hd_add_error_reply(h, out, cmd, CS_ERR_INVALID,
                                   "request has no payload");
                return CS_OK;
        case CS_REQ_ROOM_CONNECTED:
        case CS_REQ_ROOM_DISCONNECTED:
                hd_add_error_reply(h, out, cmd, CS_ERR_UNSUPPORTED,
                                   "participant events are sent by the server only");
                return CS_OK;
        case CS_REQ_CUSTOM_SIGNAL:
                /* Relayed, never recorded: no ledger (handler_custom.c). */
                err = hd_do_custom(h, cmd, now, out, errstr, errstr_size);
                if (err)
                        cs_outbox_clear(out);
                return err;
        default:
                break;
        }
        for (int round = 0; round < LEDGER_ROUNDS; round++) {
                cs_outbox_clear(out);
                err = handle_once(h, cmd, now, out, errstr, errstr_size);
                if (err != CS_ERR_RACE)
                        break;
                cs_log(CS_LOG_DEBUG, "HANDLE",
                       "op=%s from %s: recorded meanwhile by another worker; "
                       "answering from the ledger", cmd->operation_id, cmd->send_id);
        }
        if (err == CS_ERR_RACE) {
                snprintf(errstr, errstr_size,
                         "operation %s: the ledger kept changing", cmd->operation_id);
                err = CS_ERR_PERMANENT;
        }
        /* A call record that cannot be read is not the command's fault: it
         * is answered (1009), not dead-lettered without a reply. */
        if (err == CS_ERR_UNDECODABLE)
                err = CS_ERR_PERMANENT;
        if (err)
                cs_outbox_clear(out);
        return err;
}

void cs_handler_give_up(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                        const char *reason, cs_outbox_t *out) {
        char errstr[256];
        cs_outbox_clear(out);
        if (cmd->req.kind == CS_REQ_NONE || cmd->dialect != h->dialect) {
                hd_add_error_reply(h, out, cmd, CS_ERR_SERVER, reason);
                return;
        }
        /* An outcome that was stored stands: a command whose earlier
         * attempt was applied (or refused) is answered as it was, with its
         * notifications, never with a second, different reply. */
        bool found = false;
        cs_op_record_t rec;
        if (cs_store_get_op(h->store, cmd->send_id, cmd->operation_id, &found,
                            &rec, errstr, sizeof(errstr)) == CS_OK && found) {
                cs_err_t err = answer_from_ledger(h, cmd, &rec, now, out,
                                                  errstr, sizeof(errstr));
                cs_op_record_clear(&rec);
                if (err == CS_OK)
                        return;
                cs_outbox_clear(out);
        }
        /* The call record may show it applied (the ledger entry is
         * written after the call). */
        cs_call_t *call = NULL;
        const cs_invitation_t *inv =
                cmd->req.has_invitation ? &cmd->req.inv : NULL;
        if (inv && hd_valid_id(inv->room_id) &&
            cs_store_load_call(h->store, inv->room_id, &call, errstr,
                               sizeof(errstr)) == CS_OK && call) {
                const cs_event_t *ev = cs_call_find_op(call, cmd->send_id,
                                                       cmd->operation_id);
                const cs_refusal_t *ref = cs_call_find_refusal(
                        call, cmd->send_id, cmd->operation_id);
                if (ref && !strcmp(ref->request, cs_req_kind_name(cmd->req.kind))) {
                        hd_add_error_reply(h, out, cmd, (cs_err_t)ref->code,
                                           ref->msg);
                        cs_call_destroy(call);
                        return;
                }
                if (ev && hd_replay(h, cmd, call, ev, ev->code, now, out, errstr,
                                    sizeof(errstr)) == CS_OK) {
                        cs_call_destroy(call);
                        return;
                }
                cs_outbox_clear(out);
        }
        cs_call_destroy(call);
        hd_add_error_reply(h, out, cmd, CS_ERR_SERVER, reason);
}
