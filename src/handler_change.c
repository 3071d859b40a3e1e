/*
 * handler_change.c: the commands that change a call: invite (and
 * inviteInGroup), accept, reject, cancel, hang-up.
 *
 * Each loads the call, takes its decision in call.c and writes it with one
 * conditional update (compare-and-set on rev); a lost race reloads and
 * decides again, HD_MAX_RACE_ATTEMPTS times at most, then gives up (1009).
 * Before deciding, the record is asked whether this sender's operationID
 * is already among its events or its kept refusals: then the command is a
 * redelivery (or a second worker's copy of it) and is answered from what
 * the record kept. The ledger is asked only when the record cannot tell
 * (cs_call_knows_op). A command is judged as new only after that, so a
 * redelivery of an applied command is never answered 1008 or judged again.
 * Applied commands are not written to the ledger (the record keeps them;
 * store.c ledgers those a trim drops), except on a record written before
 * issue 8. An invite of a new call claims every line in one insertMany and
 * inserts the call without loading it first (claim_all). Round trips: a
 * new 1:1 call 3, accept 2, reject, cancel and hang-up 3 (their lines'
 * release is the third).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "handler_int.h"
#include "hash.h"
#include "log.h"
#include "metrics.h"

static const char *req_case_name(const cs_command_t *cmd) {
        return cs_req_kind_name(cmd->req.kind);
}

/* The reply to a change, the first time or again: invite and accept carry
 * a token while the sender may join the call (a token that cannot be
 * minted turns the reply into 1009: the change stands and its
 * notifications still go out), invite the roomID and the busy list. */
static void reply_change(cs_handler_t *h, cs_outbox_t *out,
                         const cs_command_t *cmd, const cs_call_t *call,
                         int32_t code, const cs_strv_t *busy, int64_t now) {
        cs_reply_t r = {0};
        char *token = NULL;
        char errstr[256];
        const char *room_id = call ? call->room_id : "";
        if (cs_req_kind_joins(cmd->req.kind)) {
                if (code == CS_OK && call &&
                    cs_call_check_token(call, cmd->send_id) == CS_OK) {
                        token = hd_mint(h, cmd->send_id, room_id,
                                        hd_participant_of(cmd), now, errstr,
                                        sizeof(errstr));
                        if (!token) {
                                cs_log(CS_LOG_ERR, "HANDLE",
                                       "op=%s room %s: no token: %s",
                                       cmd->operation_id, room_id, errstr);
                                code = CS_ERR_SERVER;
                        }
                }
                r.token = token;
                r.room_id = room_id;
                r.live_url = code == CS_OK ? h->conf->livekit_url : "";
                r.busy = busy;
        }
        hd_add_reply(h, out, cmd, (cs_err_t)code,
                     code ? cs_err2str((cs_err_t)code) : NULL, &r);
        free(token);
}

cs_err_t hd_replay(cs_handler_t *h, cs_command_t *cmd, const cs_call_t *call,
                   const cs_event_t *ev, int32_t code, int64_t now,
                   cs_outbox_t *out, char *errstr, size_t errstr_size) {
        (void)errstr;
        (void)errstr_size;
        cs_metrics_redelivery();
        cs_log(CS_LOG_DEBUG, "HANDLE", "op=%s from %s: redelivery, %s",
               cmd->operation_id, cmd->send_id,
               ev && ev->replayable ? "emitted again" : "reply only");
        if (call)
                hd_release_finished(h, call);
        reply_change(h, out, cmd, call, code, ev ? &ev->busy : NULL, now);
        if (call && ev)
                hd_emit_event(h, call, ev, out);
        return CS_OK;
}

/* What the record says about this sender's operationID: *donep is set
 * when the command was answered from it (a redelivery of an applied or a
 * refused command, or the same pair used for another request: 1001). */
static cs_err_t answer_known(cs_handler_t *h, cs_command_t *cmd,
                             const cs_call_t *call, int64_t now,
                             cs_outbox_t *out, bool *donep, char *errstr,
                             size_t errstr_size) {
        hd_answer_reused(h, out, cmd, call, donep);
        if (*donep)
                return CS_OK;
        const cs_refusal_t *ref = cs_call_find_refusal(call, cmd->send_id,
                                                       cmd->operation_id);
        if (ref) {
                *donep = true;
                hd_add_error_reply(h, out, cmd, (cs_err_t)ref->code, ref->msg);
                return CS_OK;
        }
        const cs_event_t *ev = cs_call_find_op(call, cmd->send_id, cmd->operation_id);
        *donep = ev != NULL;
        if (!ev)
                return CS_OK;
        return hd_replay(h, cmd, call, ev, ev->code, now, out, errstr,
                         errstr_size);
}

/* Keeps the refusal @p rec of @p cmd in @p call as well (the ledger has
 * it); *keptp false: the record shows the pair applied meanwhile, keeps 64
 * refusals already, or is gone. */
static cs_err_t keep_refusal(cs_handler_t *h, const cs_command_t *cmd,
                             const cs_call_t *call, const cs_op_record_t *rec,
                             int64_t now, bool *keptp, char *errstr,
                             size_t errstr_size) {
        cs_refusal_t ref = {
                .user_id = hd_lend(cmd->send_id),
                .operation_id = hd_lend(cmd->operation_id),
                .request = rec->request,
                .code = rec->code,
                .msg = rec->msg ? rec->msg : hd_lend(""),
                .at = now,
        };
        return cs_store_add_refusal(h->store, call->room_id, &ref, keptp,
                                    errstr, errstr_size);
}

cs_err_t hd_refuse_in(cs_handler_t *h, cs_outbox_t *out, cs_command_t *cmd,
                      const cs_call_t *call, cs_err_t code, const char *msg,
                      int64_t now, char *errstr, size_t errstr_size) {
        if (!call || !cs_call_can_keep_refusal(call, cmd->operation_id))
                return hd_refuse(h, out, cmd, code, msg, now, errstr, errstr_size);
        char *text = cs_xstrdup(code ? (msg ? msg : cs_err2str(code)) : "");
        cs_op_record_t rec = {
                .request = hd_lend(req_case_name(cmd)),
                .code = (int32_t)code,
                .msg = text,
        };
        bool kept = false, found = false;
        cs_call_t *now_call = NULL;
        cs_err_t err = cs_store_put_op(h->store, cmd->send_id, cmd->operation_id,
                                       &rec, now,
                                       h->conf->signal_operation_retention,
                                       errstr, errstr_size);
        if (err == CS_ERR_RACE) {
                /* Another copy of the pair was recorded first: its outcome
                 * stands. A refusal goes into this record too, so that it
                 * answers for the pair from now on. */
                cs_log(CS_LOG_DEBUG, "HANDLE",
                       "op=%s from %s: recorded meanwhile by another worker; "
                       "answering from the ledger", cmd->operation_id, cmd->send_id);
                cs_op_record_t stored;
                err = cs_store_get_op(h->store, cmd->send_id, cmd->operation_id,
                                      &found, &stored, errstr, errstr_size);
                if (err || !found) {
                        err = err ? err : CS_ERR_RACE;
                        goto done;
                }
                if (!stored.applied &&
                    !strcmp(stored.request, req_case_name(cmd)) &&
                    keep_refusal(h, cmd, call, &stored, now, &kept, errstr,
                                 errstr_size))
                        cs_log(CS_LOG_WARN, "HANDLE", "op=%s room %s: refusal "
                               "not kept in the record: %s", cmd->operation_id,
                               call->room_id, errstr);
                cs_op_record_clear(&stored);
                err = hd_answer_from_ledger(h, cmd, now, out, &found, errstr,
                                            errstr_size);
                if (!err && !found)
                        err = CS_ERR_RACE;
                goto done;
        }
        if (err)
                goto done;
        err = keep_refusal(h, cmd, call, &rec, now, &kept, errstr, errstr_size);
        if (err)
                goto done;
        if (!kept) {
                /* Applied meanwhile by another copy: the record answers. */
                err = cs_store_load_call(h->store, call->room_id, &now_call,
                                         errstr, errstr_size);
                if (err)
                        goto done;
                if (now_call && cs_call_find_op(now_call, cmd->send_id,
                                                cmd->operation_id)) {
                        err = answer_known(h, cmd, now_call, now, out, &found,
                                           errstr, errstr_size);
                        goto done;
                }
        }
        cs_log(CS_LOG_DEBUG, "HANDLE", "op=%s from %s: %s refused in room %s: %d %s",
               cmd->operation_id, cmd->send_id, rec.request, call->room_id,
               (int)code, text);
        hd_add_error_reply(h, out, cmd, code, msg);
done:
        cs_call_destroy(now_call);
        free(text);
        return err;
}

/* ---- invite ---- */

typedef struct invite_req_s {
        bool in_group;
        const cs_invitation_t *inv;
        cs_strv_t invitees;
        int32_t timeout_s;
        int32_t session_type;
        int32_t platform_id;
        const char *why; /* validation failure */
} invite_req_t;

static bool validate_invite(cs_handler_t *h, const cs_command_t *cmd,
                            invite_req_t *ir) {
        const cs_invitation_t *inv = ir->inv;
        const cs_config_t *conf = h->conf;
        if (!inv) {
                ir->why = "invitation is required";
                return false;
        }
        if (inv->invitee_cnt == 0) {
                ir->why = "inviteeUserIDList is empty";
                return false;
        }
        if (inv->invitee_cnt > (size_t)conf->signal_max_invitees) {
                ir->why = "too many invitees";
                return false;
        }
        for (size_t i = 0; i < inv->invitee_cnt; i++) {
                const char *u = inv->invitees[i];
                if (!hd_user_has_topic(h, u)) {
                        ir->why = "an invitee ID is empty, too long or gives no valid push topic";
                        return false;
                }
                if (strcmp(u, cmd->send_id) == 0) {
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
                if (inv->invitee_cnt != 1 || inv->group_id[0]) {
                        ir->why = "a single call has exactly one invitee and no groupID";
                        return false;
                }
                if (inv->session_type != 0 && inv->session_type != 1) {
                        ir->why = "a single call has sessionType 1";
                        return false;
                }
                ir->session_type = 1;
        } else {
                if (!hd_valid_id(inv->group_id)) {
                        ir->why = "a group call needs a groupID";
                        return false;
                }
                if (inv->session_type == 1 || inv->session_type < 0 ||
                    inv->session_type > 3) {
                        ir->why = "a group call has sessionType 2 or 3";
                        return false;
                }
                ir->session_type = inv->session_type ? inv->session_type : 2;
        }
        if (strlen(inv->custom_data) > HD_MAX_CUSTOM_DATA) {
                ir->why = "customData is too long";
                return false;
        }
        if (strcmp(inv->media_type, "audio") && strcmp(inv->media_type, "video")) {
                ir->why = "mediaType must be audio or video";
                return false;
        }
        if (inv->timeout_s < 0) {
                ir->why = "timeout must not be negative";
                return false;
        }
        int64_t timeout = inv->timeout_s ? inv->timeout_s : conf->signal_default_timeout;
        if (timeout > conf->signal_max_timeout)
                timeout = conf->signal_max_timeout;
        ir->timeout_s = (int32_t)timeout;
        if (inv->room_id[0] && !hd_valid_id(inv->room_id)) {
                ir->why = "roomID is too long or has control characters";
                return false;
        }
        ir->platform_id = cmd->platform_id ? cmd->platform_id : inv->platform_id;
        return true;
}

/* The roomID callsig generates: stable for one (sender, operationID), so a
 * redelivered invite finds the call its first delivery created. */
static void generate_room_id(cs_handler_t *h, const cs_command_t *cmd,
                             char out[40]) {
        const char *parts[] = {"room", cmd->send_id, cmd->operation_id};
        char hex[33];
        cs_hash_hex128(h->room_key, parts, CS_ARRAY_SIZE(parts), hex);
        snprintf(out, 40, "cs-%s", hex);
}

/* Builds the invite notification content for @p ev of a new or extended
 * call: the request with inviterUserID, roomID, timeout, initiateTime,
 * platformID, sessionType and busy list set by callsig. */
static void invite_content(cs_command_t *cmd, const invite_req_t *ir,
                           const cs_call_t *call, cs_event_t *ev) {
        /* The invitee list and customData stay the request's (the codec
         * keeps its unknown fields too); the fields callsig owns are
         * replaced. */
        cs_invitation_t inv = *ir->inv;
        /* Who invites: for invitees added to a running call, the
         * participant who added them, not always the call's inviter. */
        inv.inviter_user_id = cmd->send_id;
        inv.room_id = call->room_id;
        inv.group_id = call->group_id;
        inv.timeout_s = ir->timeout_s;
        inv.initiate_ms = ev->at;
        inv.platform_id = ir->platform_id;
        inv.session_type = ir->session_type;
        inv.busy_cnt = ev->busy.cnt;
        inv.busy = ev->busy.v;
        size_t len;
        uint8_t *buf = cs_codec_pack_content(cmd, &inv, 0, &len);
        hd_set_content(ev, buf, len);
}

/* Holds the invitees' lines for @p room_id; the busy ones go to @p busy,
 * those now held to @p held. */
static cs_err_t claim_invitees(cs_handler_t *h, const cs_command_t *cmd,
                               const cs_strv_t *invitees, const char *room_id,
                               int64_t now, cs_strv_t *busy, cs_strv_t *held,
                               char *errstr, size_t errstr_size) {
        for (size_t i = 0; i < invitees->cnt; i++) {
                bool is_busy;
                char claim[HD_CLAIM_SIZE];
                hd_claim_id(h, room_id, "user", invitees->v[i], cmd->send_id,
                            cmd->operation_id, claim);
                cs_err_t err = hd_hold_line(h, "user", invitees->v[i], room_id,
                                            claim, now, &is_busy, errstr,
                                            errstr_size);
                if (err)
                        return err;
                cs_strv_add(is_busy ? busy : held, invitees->v[i]);
        }
        return CS_OK;
}

/* Lets go of the invitees' lines claimed for an invite that was refused. */
static void unclaim_invitees(cs_handler_t *h, const cs_command_t *cmd,
                             const cs_strv_t *held, const char *room_id) {
        char errstr[256];
        for (size_t i = 0; i < held->cnt; i++) {
                char claim[HD_CLAIM_SIZE];
                hd_claim_id(h, room_id, "user", held->v[i], cmd->send_id,
                            cmd->operation_id, claim);
                if (hd_release_line(h, "user", held->v[i], claim, errstr,
                                    sizeof(errstr)))
                        cs_log(CS_LOG_WARN, "LINES", "room %s: %s", room_id,
                               errstr);
        }
}

/* Holds the group line and the inviter's line for a new call, under
 * @p group_claim and @p user_claim. On refusal *refusalp is set and
 * nothing stays held for @p room_id. */
static cs_err_t claim_new_call(cs_handler_t *h, const cs_command_t *cmd,
                               const invite_req_t *ir, const char *room_id,
                               const char *group_claim, const char *user_claim,
                               int64_t now, cs_err_t *refusalp,
                               const char **whyp, char *errstr,
                               size_t errstr_size) {
        bool busy = false;
        cs_err_t err;
        *refusalp = CS_OK;
        if (ir->in_group) {
                err = hd_hold_line(h, "group", ir->inv->group_id, room_id,
                                   group_claim, now, &busy, errstr, errstr_size);
                if (err)
                        return err;
                if (busy) {
                        *refusalp = CS_ERR_CONFLICT;
                        *whyp = "the group already has a live call";
                        return CS_OK;
                }
        }
        err = hd_hold_line(h, "user", cmd->send_id, room_id, user_claim, now,
                           &busy, errstr, errstr_size);
        if (err)
                return err;
        if (busy) {
                *refusalp = CS_ERR_CALLER_BUSY;
                *whyp = "the caller's line is busy with another call";
                if (ir->in_group)
                        return hd_release_line(h, "group", ir->inv->group_id,
                                               group_claim, errstr, errstr_size);
        }
        return CS_OK;
}

/* Writes the claim identities into the call: the ones this invite holds. */
static void record_claims(cs_handler_t *h, const cs_command_t *cmd,
                          cs_call_t *call, const cs_strv_t *held,
                          bool new_call) {
        char claim[HD_CLAIM_SIZE];
        for (size_t i = 0; i < held->cnt; i++) {
                cs_participant_t *part = cs_call_find(call, held->v[i]);
                hd_claim_id(h, call->room_id, "user", held->v[i], cmd->send_id,
                            cmd->operation_id, claim);
                if (part)
                        cs_participant_set_claim(part, claim);
        }
        if (!new_call)
                return;
        hd_claim_id(h, call->room_id, "user", cmd->send_id, cmd->send_id,
                    cmd->operation_id, claim);
        cs_participant_set_claim(cs_call_find(call, cmd->send_id), claim);
        if (call->group_id[0]) {
                hd_claim_id(h, call->room_id, "group", call->group_id,
                            cmd->send_id, cmd->operation_id, claim);
                free(call->group_claim);
                call->group_claim = cs_xstrdup(claim);
        }
}

/* Claims every line of a new call in one round trip (hd_claim_lines):
 * the group's and the inviter's (*minep: both held, so the call is this
 * command's to create) and the invitees' (busy ones to @p busy, the others
 * to @p held). */
static cs_err_t claim_all(cs_handler_t *h, const cs_command_t *cmd,
                          const invite_req_t *ir, const char *room_id,
                          hd_line_t *lines, size_t n, int64_t now, bool *minep,
                          cs_strv_t *busy, cs_strv_t *held, char *errstr,
                          size_t errstr_size) {
        size_t k = 0, first_invitee;
        if (ir->in_group)
                lines[k++] = (hd_line_t){.kind = "group", .id = ir->inv->group_id};
        lines[k++] = (hd_line_t){.kind = "user", .id = cmd->send_id};
        first_invitee = k;
        for (size_t i = 0; i < ir->invitees.cnt && k < n; i++)
                lines[k++] = (hd_line_t){.kind = "user", .id = ir->invitees.v[i],
                                         .settle = true};
        for (size_t i = 0; i < k; i++)
                hd_claim_id(h, room_id, lines[i].kind, lines[i].id, cmd->send_id,
                            cmd->operation_id, lines[i].claim);
        cs_err_t err = hd_claim_lines(h, room_id, lines, k, now, errstr,
                                      errstr_size);
        *minep = false;
        if (err)
                return err;
        *minep = true;
        for (size_t i = 0; i < first_invitee; i++)
                *minep = *minep && lines[i].held;
        for (size_t i = first_invitee; i < k; i++)
                cs_strv_add(lines[i].busy ? busy : held, lines[i].id);
        return CS_OK;
}

/* Lets go of the lines claim_all() claimed fresh that @p call (NULL: none)
 * as stored does not record: a call that turned out to exist, a refusal, a
 * failure. Lines it records are the call's (releases of those are its
 * changes'). */
static void release_unrecorded(cs_handler_t *h, const cs_call_t *call,
                               const hd_line_t *lines, size_t n) {
        char errstr[256];
        for (size_t i = 0; i < n; i++) {
                const hd_line_t *line = &lines[i];
                if (!line->kind || !line->fresh)
                        continue;
                const char *recorded = NULL;
                if (call && call->rev > 0) {
                        if (!strcmp(line->kind, "group")) {
                                recorded = call->group_claim;
                        } else {
                                const cs_participant_t *part = cs_call_find(call, line->id);
                                recorded = part ? part->line_claim : NULL;
                        }
                }
                if (recorded && !strcmp(recorded, line->claim))
                        continue;
                if (hd_release_line(h, line->kind, line->id, line->claim, errstr,
                                    sizeof(errstr)))
                        cs_log(CS_LOG_WARN, "LINES", "line %s:%s: %s", line->kind,
                               line->id, errstr);
        }
}

cs_err_t hd_do_invite(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                      cs_outbox_t *out, char *errstr, size_t errstr_size) {
        invite_req_t ir = {0};
        cs_call_t *call = NULL;
        cs_strv_t busy = {0}, held = {0};
        cs_effect_t eff = {0};
        uint8_t *meta = NULL;
        size_t meta_len = 0;
        char room_buf[40];
        hd_line_t *lines = NULL;
        size_t line_cnt = 0;
        cs_err_t err = CS_OK;

        ir.in_group = cmd->req.kind == CS_REQ_INVITE_IN_GROUP;
        ir.inv = cmd->req.has_invitation ? &cmd->req.inv : NULL;
        if (!validate_invite(h, cmd, &ir)) {
                err = hd_refuse(h, out, cmd, CS_ERR_INVALID, ir.why, now, errstr,
                                errstr_size);
                goto done;
        }
        const char *room_id = ir.inv->room_id;
        if (!room_id[0]) {
                generate_room_id(h, cmd, room_buf);
                room_id = room_buf;
        }
        meta = cs_codec_pack_participant(cmd, &meta_len);
        /* The lines of a new call: group, inviter, invitees. */
        line_cnt = ir.invitees.cnt + 1 + (ir.in_group ? 1 : 0);
        lines = cs_xcalloc(line_cnt, sizeof(*lines));

        for (int attempt = 0; attempt < HD_MAX_RACE_ATTEMPTS; attempt++) {
                bool done;
                cs_call_destroy(call);
                call = NULL;
                cs_strv_clear(&busy);
                cs_strv_clear(&held);
                cs_effect_clear(&eff);
                /* First, as if the call were new (the common case): every
                 * line in one insertMany, then the call's insert. A call
                 * that exists after all (its inviter's line held by
                 * another claim, or the insert finds it) is loaded and
                 * judged the careful way below. A stale command is judged
                 * the careful way at once (a redelivery of an applied
                 * command is answered from its record, however old). */
                if (attempt == 0 && !hd_is_expired(h, cmd, now)) {
                        bool mine;
                        err = claim_all(h, cmd, &ir, room_id, lines, line_cnt,
                                        now, &mine, &busy, &held, errstr,
                                        errstr_size);
                        if (err)
                                goto done;
                        if (mine) {
                                call = cs_call_new(room_id, cmd->send_id,
                                                   ir.platform_id, ir.inv->group_id,
                                                   ir.inv->media_type,
                                                   ir.inv->custom_data,
                                                   ir.session_type, ir.timeout_s,
                                                   now, meta, meta_len);
                                goto decide;
                        }
                        cs_strv_clear(&busy);
                        cs_strv_clear(&held);
                }
                err = cs_store_load_call(h->store, room_id, &call, errstr,
                                         errstr_size);
                if (err)
                        goto done;
                if (call) {
                        err = answer_known(h, cmd, call, now, out, &done,
                                           errstr, errstr_size);
                        if (err || done || hd_expired(h, out, cmd, now))
                                goto done;
                        cs_call_check_invite(call, cmd->send_id, &ir.invitees,
                                             (size_t)h->conf->signal_max_invitees,
                                             &eff);
                        if (eff.code) {
                                err = hd_refuse_in(h, out, cmd, call, eff.code,
                                                   eff.why, now, errstr,
                                                   errstr_size);
                                goto done;
                        }
                } else {
                        cs_err_t refusal;
                        const char *why = NULL;
                        char group_claim[HD_CLAIM_SIZE], user_claim[HD_CLAIM_SIZE];
                        if (hd_expired(h, out, cmd, now))
                                goto done;
                        hd_claim_id(h, room_id, "group", ir.inv->group_id,
                                    cmd->send_id, cmd->operation_id, group_claim);
                        hd_claim_id(h, room_id, "user", cmd->send_id,
                                    cmd->send_id, cmd->operation_id, user_claim);
                        err = claim_new_call(h, cmd, &ir, room_id, group_claim,
                                             user_claim, now, &refusal, &why,
                                             errstr, errstr_size);
                        if (!err && refusal)
                                err = hd_refuse(h, out, cmd, refusal, why, now,
                                                errstr, errstr_size);
                        if (err || refusal)
                                goto done;
                        call = cs_call_new(room_id, cmd->send_id, ir.platform_id,
                                           ir.inv->group_id, ir.inv->media_type,
                                           ir.inv->custom_data, ir.session_type,
                                           ir.timeout_s, now, meta, meta_len);
                }
                err = claim_invitees(h, cmd, &ir.invitees, room_id, now, &busy,
                                     &held, errstr, errstr_size);
                if (err)
                        goto done;
decide:;
                bool new_call = call->rev == 0;
                cs_call_invite(call, cmd->send_id, ir.platform_id,
                               cmd->operation_id, &ir.invitees, &busy,
                               ir.timeout_s,
                               (size_t)h->conf->signal_max_invitees, now, &eff);
                if (!eff.event) {
                        unclaim_invitees(h, cmd, &held, room_id);
                        err = hd_refuse_in(h, out, cmd, new_call ? NULL : call,
                                           eff.code, eff.why, now, errstr,
                                           errstr_size);
                        goto done;
                }
                record_claims(h, cmd, call, &held, new_call);
                eff.event->request = cs_xstrdup(req_case_name(cmd));
                invite_content(cmd, &ir, call, eff.event);
                err = new_call
                              ? cs_store_insert_call(h->store, call, errstr, errstr_size)
                              : cs_store_update_call(h->store, call, errstr, errstr_size);
                if (err == CS_ERR_RACE) {
                        cs_metrics_lost_race();
                        continue;
                }
                if (err)
                        goto done;
                if (!call->ops_in_record)
                        hd_record_applied(h, cmd, call->room_id, eff.event->code,
                                          now);
                hd_release_effect(h, call, &eff);
                reply_change(h, out, cmd, call, eff.event->code,
                             &eff.event->busy, now);
                hd_emit_event(h, call, eff.event, out);
                goto done;
        }
        snprintf(errstr, errstr_size, "call %s: lost %d races in a row",
                 room_id, HD_MAX_RACE_ATTEMPTS);
        err = CS_ERR_PERMANENT;
done:
        if (lines)
                release_unrecorded(h, call, lines, line_cnt);
        free(lines);
        free(meta);
        cs_effect_clear(&eff);
        cs_strv_clear(&busy);
        cs_strv_clear(&held);
        cs_strv_clear(&ir.invitees);
        cs_call_destroy(call);
        return err;
}

/* ---- accept, reject, cancel, hang-up ---- */

cs_err_t hd_do_action(cs_handler_t *h, cs_command_t *cmd,
                      cs_event_type_t type, int64_t now, cs_outbox_t *out,
                      char *errstr, size_t errstr_size) {
        cs_call_t *call = NULL;
        cs_effect_t eff = {0};
        uint8_t *meta = NULL;
        size_t meta_len = 0;
        cs_err_t err = CS_OK;
        const cs_invitation_t *req_inv =
                cmd->req.has_invitation ? &cmd->req.inv : NULL;

        if (!req_inv || !hd_valid_id(req_inv->room_id)) {
                err = hd_refuse(h, out, cmd, CS_ERR_INVALID,
                                "invitation.roomID is required", now, errstr,
                                errstr_size);
                goto done;
        }
        if (type == CS_EV_ACCEPT)
                meta = cs_codec_pack_participant(cmd, &meta_len);
        int32_t platform_id = cmd->platform_id;
        if (!platform_id)
                platform_id = cmd->req.op_platform_id;

        bool ledger_asked = false;
        for (int attempt = 0; attempt < HD_MAX_RACE_ATTEMPTS; attempt++) {
                bool done;
                cs_call_destroy(call);
                call = NULL;
                cs_effect_clear(&eff);
                err = cs_store_load_call(h->store, req_inv->room_id, &call,
                                         errstr, errstr_size);
                if (err)
                        goto done;
                if (call) {
                        err = answer_known(h, cmd, call, now, out, &done,
                                           errstr, errstr_size);
                        if (err || done)
                                goto done;
                }
                /* A pair the record does not show is new, unless the
                 * record cannot tell (none, written before issue 8, events
                 * trimmed, refusals full): then the ledger is asked, once. */
                if (!ledger_asked &&
                    (!call || !cs_call_knows_op(call, cmd->operation_id))) {
                        ledger_asked = true;
                        err = hd_answer_from_ledger(h, cmd, now, out, &done,
                                                    errstr, errstr_size);
                        if (err || done)
                                goto done;
                }
                if (hd_expired(h, out, cmd, now))
                        goto done;
                if (!call) {
                        err = hd_refuse(h, out, cmd, CS_ERR_NOT_FOUND,
                                        "no call with this roomID", now, errstr,
                                        errstr_size);
                        goto done;
                }
                cs_action_t act = {
                        .type = type,
                        .user_id = cmd->send_id,
                        .platform_id = platform_id,
                        .operation_id = cmd->operation_id,
                        .now = now,
                        .meta = meta,
                        .meta_len = meta_len,
                };
                cs_call_act(call, &act, &eff);
                if (!eff.event) {
                        /* A refusal, or a cancel of a call that already
                         * ended unanswered: answered (0), nothing changed. */
                        err = hd_refuse_in(h, out, cmd, call, eff.code, eff.why,
                                           now, errstr, errstr_size);
                        goto done;
                }
                cs_invitation_t inv;
                inv_lists_t lists;
                size_t len;
                uint8_t *buf;
                hd_invitation_from_call(call, &inv, &lists);
                if (eff.event->type == CS_EV_CANCEL && type == CS_EV_HUNG_UP)
                        buf = cs_codec_pack_cancel(cmd->dialect, cmd->send_id,
                                                   &inv, cmd, &len);
                else
                        buf = cs_codec_pack_content(cmd, &inv, platform_id,
                                                    &len);
                hd_free_invitation_lists(&lists);
                hd_set_content(eff.event, buf, len);
                eff.event->request = cs_xstrdup(req_case_name(cmd));
                err = cs_store_update_call(h->store, call, errstr, errstr_size);
                if (err == CS_ERR_RACE) {
                        cs_metrics_lost_race();
                        continue;
                }
                if (err)
                        goto done;
                if (!call->ops_in_record)
                        hd_record_applied(h, cmd, call->room_id, CS_OK, now);
                hd_release_effect(h, call, &eff);
                reply_change(h, out, cmd, call, CS_OK, NULL, now);
                hd_emit_event(h, call, eff.event, out);
                goto done;
        }
        snprintf(errstr, errstr_size, "call %s: lost %d races in a row",
                 req_inv->room_id, HD_MAX_RACE_ATTEMPTS);
        err = CS_ERR_PERMANENT;
done:
        free(meta);
        cs_effect_clear(&eff);
        cs_call_destroy(call);
        return err;
}
