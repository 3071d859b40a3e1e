/*
 * handler_read.c: the read methods of the OpenIM v3 RtcService (contract
 * section 12): getRooms, getSignalInvitationInfo,
 * getSignalInvitationInfoStartApp, getSignalInvitationRecords, and
 * deleteSignalRecords (which hides a call from the sender's own history).
 *
 * Each answers from one or two store queries on an index (store.h says
 * which) and never shows a user a call they are not in, or one they hid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "handler_int.h"
#include "log.h"

/* roomIDs of one getRooms, sIDs of one deleteSignalRecords. */
#define HD_MAX_IDS_PER_REQUEST 100
/* showNumber bounds and default of getSignalInvitationRecords. */
#define HD_RECORDS_PAGE_MAX 100
#define HD_RECORDS_PAGE_DEFAULT 20
/* Pages reach the newest HD_HISTORY_WINDOW matches of a query, and total
 * counts up to it: both stay cheap on a history of years. Older calls are
 * reached by narrowing endTime to the last createTime seen. */
#define HD_HISTORY_WINDOW 1000

/* A room view of @p call: the invitation as the call knows it, the
 * members ringing or accepted, the invite's offlinePushInfo. Free with
 * view_clear(). */
typedef struct view_s {
        cs_room_view_t room;
        inv_lists_t lists;
        cs_member_t *members;
        uint8_t *push;
} view_t;

static void view_of(cs_handler_t *h, const cs_call_t *call, view_t *v) {
        memset(v, 0, sizeof(*v));
        hd_invitation_from_call(call, &v->room.inv, &v->lists);
        v->members = hd_members(call, CS_PART_RINGING, CS_PART_ACCEPTED, false,
                                &v->room.member_cnt);
        v->room.members = v->members;
        /* The first invite the record still keeps carries it. */
        for (size_t i = 0; i < call->event_cnt; i++) {
                const cs_event_t *ev = &call->events[i];
                if (ev->type != CS_EV_INVITE || !ev->content)
                        continue;
                v->push = cs_codec_offline_push_of(h->dialect, ev->content,
                                                   ev->content_len,
                                                   &v->room.offline_push_len);
                break;
        }
        v->room.offline_push = v->push;
}

static void view_clear(view_t *v) {
        hd_free_invitation_lists(&v->lists);
        free(v->members);
        free(v->push);
}

static bool valid_ids(char *const *ids, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!hd_valid_id(ids[i]))
                        return false;
        return true;
}

static cs_err_t do_get_rooms(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                             cs_outbox_t *out, char *errstr, size_t errstr_size) {
        const cs_request_t *req = &cmd->req;
        cs_call_list_t calls = {0};
        if (req->id_cnt > HD_MAX_IDS_PER_REQUEST || !valid_ids(req->ids, req->id_cnt))
                return hd_refuse(h, out, cmd, CS_ERR_INVALID,
                                 "roomIDs: at most 100 valid IDs", now, errstr,
                                 errstr_size);
        cs_err_t err = req->id_cnt
                               ? cs_store_load_calls(h->store, req->ids, req->id_cnt,
                                                     &calls, errstr, errstr_size)
                               : CS_OK;
        if (err)
                return err;
        /* In the order asked, each once; calls the sender is not in, or
         * that are not live, are left out. */
        view_t *views = cs_xcalloc(req->id_cnt + 1, sizeof(*views));
        cs_room_view_t *rooms = cs_xcalloc(req->id_cnt + 1, sizeof(*rooms));
        size_t cnt = 0;
        for (size_t i = 0; i < req->id_cnt; i++) {
                bool dup = false;
                for (size_t j = 0; j < i && !dup; j++)
                        dup = !strcmp(req->ids[i], req->ids[j]);
                for (size_t j = 0; j < calls.cnt && !dup; j++) {
                        const cs_call_t *call = calls.v[j];
                        if (strcmp(call->room_id, req->ids[i]) ||
                            cs_call_check_room_lookup(call, cmd->send_id))
                                continue;
                        view_of(h, call, &views[cnt]);
                        rooms[cnt] = views[cnt].room;
                        cnt++;
                        break;
                }
        }
        cs_reply_t r = {.rooms = rooms, .room_cnt = cnt};
        hd_add_reply(h, out, cmd, CS_OK, NULL, &r);
        for (size_t i = 0; i < cnt; i++)
                view_clear(&views[i]);
        free(views);
        free(rooms);
        cs_call_list_clear(&calls);
        return CS_OK;
}

static cs_err_t do_invitation_info(cs_handler_t *h, cs_command_t *cmd,
                                   int64_t now, cs_outbox_t *out, char *errstr,
                                   size_t errstr_size) {
        cs_call_t *call = NULL;
        if (!hd_valid_id(cmd->req.room_id))
                return hd_refuse(h, out, cmd, CS_ERR_INVALID, "roomID is required",
                                 now, errstr, errstr_size);
        cs_err_t err = cs_store_load_call(h->store, cmd->req.room_id, &call,
                                          errstr, errstr_size);
        if (err)
                return err;
        cs_err_t code = call ? cs_call_check_room_lookup(call, cmd->send_id)
                             : CS_ERR_NOT_FOUND;
        if (code) {
                err = hd_refuse_lookup(h, out, cmd, code,
                                       "no live call with this roomID", now, errstr,
                                       errstr_size);
        } else {
                view_t v;
                view_of(h, call, &v);
                cs_reply_t r = {.rooms = &v.room, .room_cnt = 1};
                hd_add_reply(h, out, cmd, CS_OK, NULL, &r);
                view_clear(&v);
        }
        cs_call_destroy(call);
        return err;
}

static cs_err_t do_start_app(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                             cs_outbox_t *out, char *errstr, size_t errstr_size) {
        cs_call_t *call = NULL;
        cs_err_t err = cs_store_load_pending_invite(h->store, cmd->send_id, now,
                                                    &call, errstr, errstr_size);
        if (err)
                return err;
        if (!call) {
                /* Nothing ringing for the sender: 0, both fields unset. */
                hd_add_reply(h, out, cmd, CS_OK, NULL, NULL);
                return CS_OK;
        }
        view_t v;
        view_of(h, call, &v);
        cs_reply_t r = {.rooms = &v.room, .room_cnt = 1};
        hd_add_reply(h, out, cmd, CS_OK, NULL, &r);
        view_clear(&v);
        cs_call_destroy(call);
        return CS_OK;
}

/* SignalUser.status of a participant state (contract section 12). */
static int32_t record_status(cs_part_state_t state) {
        switch (state) {
        case CS_PART_RINGING: return 0;
        case CS_PART_ACCEPTED: return 1;
        case CS_PART_REJECTED: return 2;
        case CS_PART_TIMEOUT: return 3;
        case CS_PART_BUSY: return 4;
        case CS_PART_CANCELLED: return 5;
        case CS_PART_LEFT: return 6;
        }
        return 0;
}

static cs_err_t do_records(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                           cs_outbox_t *out, char *errstr, size_t errstr_size) {
        const cs_records_query_t *q = &cmd->req.records;
        int64_t page = q->page_number ? q->page_number : 1;
        int64_t show = q->show_number ? q->show_number : HD_RECORDS_PAGE_DEFAULT;
        const char *why = NULL;
        if (page < 1 || show < 1 || show > HD_RECORDS_PAGE_MAX)
                why = "pagination: pageNumber from 1, showNumber 1..100";
        else if ((page - 1) * show >= HD_HISTORY_WINDOW)
                why = "pagination reaches past the newest 1000 matches; narrow "
                      "endTime to the last createTime seen";
        else if (q->start_ms < 0 || q->end_ms < 0 ||
                 (q->end_ms && q->start_ms > q->end_ms))
                why = "startTime and endTime: unix ms, startTime <= endTime";
        else if ((q->send_id[0] && !hd_valid_id(q->send_id)) ||
                 (q->recv_id[0] && !hd_valid_id(q->recv_id)))
                why = "sendID and recvID: empty or a valid userID";
        if (why)
                return hd_refuse(h, out, cmd, CS_ERR_INVALID, why, now, errstr,
                                 errstr_size);

        cs_call_list_t calls = {0};
        int64_t total = 0;
        int64_t skip = (page - 1) * show;
        int64_t limit = show;
        if (skip + limit > HD_HISTORY_WINDOW)
                limit = HD_HISTORY_WINDOW - skip;
        cs_err_t err = cs_store_user_history(h->store, cmd->send_id, q, skip,
                                             limit, HD_HISTORY_WINDOW, &calls,
                                             &total, errstr, errstr_size);
        if (err == CS_ERR_INVALID)
                return hd_refuse(h, out, cmd, CS_ERR_INVALID,
                                 "history query too broad: narrow startTime and "
                                 "endTime", now, errstr, errstr_size);
        if (err)
                return err;
        cs_record_view_t *recs = cs_xcalloc(calls.cnt + 1, sizeof(*recs));
        cs_record_user_t **users = cs_xcalloc(calls.cnt + 1, sizeof(*users));
        char **names = cs_xcalloc(2 * calls.cnt + 1, sizeof(*names));
        for (size_t i = 0; i < calls.cnt; i++) {
                const cs_call_t *call = calls.v[i];
                const cs_participant_t *inviter = cs_call_find(call, call->inviter_user_id);
                users[i] = cs_xcalloc(call->part_cnt + 1, sizeof(**users));
                for (size_t j = 0; j < call->part_cnt; j++) {
                        users[i][j].user_id = call->parts[j].user_id;
                        users[i][j].status = record_status(call->parts[j].state);
                }
                if (inviter)
                        cs_codec_read_participant(h->dialect, inviter->meta,
                                                  inviter->meta_len, &names[2 * i],
                                                  &names[2 * i + 1]);
                recs[i] = (cs_record_view_t){
                        .room_id = call->room_id,
                        .media_type = call->media_type,
                        .session_type = call->session_type,
                        .inviter_user_id = call->inviter_user_id,
                        .inviter_nickname = names[2 * i],
                        .group_id = call->group_id,
                        .group_name = names[2 * i + 1],
                        .users = users[i],
                        .user_cnt = call->part_cnt,
                        .created_ms = call->created_at,
                        .ended_ms = call->ended_at,
                };
        }
        cs_reply_t r = {
                .total = (int32_t)total,
                .records = recs,
                .record_cnt = calls.cnt,
        };
        hd_add_reply(h, out, cmd, CS_OK, NULL, &r);
        for (size_t i = 0; i < calls.cnt; i++) {
                free(users[i]);
                free(names[2 * i]);
                free(names[2 * i + 1]);
        }
        free(users);
        free(names);
        free(recs);
        cs_call_list_clear(&calls);
        return CS_OK;
}

static cs_err_t do_delete_records(cs_handler_t *h, cs_command_t *cmd,
                                  int64_t now, cs_outbox_t *out, char *errstr,
                                  size_t errstr_size) {
        const cs_request_t *req = &cmd->req;
        if (req->id_cnt > HD_MAX_IDS_PER_REQUEST || !valid_ids(req->ids, req->id_cnt))
                return hd_refuse(h, out, cmd, CS_ERR_INVALID,
                                 "sIDs: at most 100 valid IDs", now, errstr,
                                 errstr_size);
        if (req->id_cnt) {
                cs_err_t err = cs_store_hide_calls(h->store, cmd->send_id, req->ids,
                                                   req->id_cnt, errstr, errstr_size);
                if (err)
                        return err;
        }
        cs_log(CS_LOG_DEBUG, "HANDLE", "op=%s from %s: %zu call(s) hidden from "
               "their history (unknown and live ones skipped)",
               cmd->operation_id, cmd->send_id, req->id_cnt);
        hd_add_reply(h, out, cmd, CS_OK, NULL, NULL);
        return CS_OK;
}

cs_err_t hd_do_read(cs_handler_t *h, cs_command_t *cmd, int64_t now,
                    cs_outbox_t *out, char *errstr, size_t errstr_size) {
        if (hd_expired(h, out, cmd, now))
                return CS_OK;
        switch (cmd->req.kind) {
        case CS_REQ_GET_ROOMS:
                return do_get_rooms(h, cmd, now, out, errstr, errstr_size);
        case CS_REQ_INVITATION_INFO:
                return do_invitation_info(h, cmd, now, out, errstr, errstr_size);
        case CS_REQ_INVITATION_START_APP:
                return do_start_app(h, cmd, now, out, errstr, errstr_size);
        case CS_REQ_INVITATION_RECORDS:
                return do_records(h, cmd, now, out, errstr, errstr_size);
        case CS_REQ_DELETE_RECORDS:
                return do_delete_records(h, cmd, now, out, errstr, errstr_size);
        default:
                hd_add_error_reply(h, out, cmd, CS_ERR_UNSUPPORTED,
                                   "unknown request case");
                return CS_OK;
        }
}
