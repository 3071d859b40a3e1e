/*
 * store.c: call records, line claims and refusals in MongoDB.
 *
 * Only single-document operations are used (no transactions): each state
 * change of a call is one update_one filtered on {_id, rev}; a line claim is
 * one insert on a unique _id (an invite sends all of its claims in one
 * unordered insertMany: each document still succeeds or fails on its own);
 * a takeover of a stale claim is one update_one filtered on the old holder. That keeps every race decided by MongoDB's
 * per-document atomicity, which holds on a standalone server, a replica set
 * and the test server alike. Writes use the client's write concern (the
 * default of the URI; production URIs should say w=majority).
 */
#include "store.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "clientconf.h"
#include "log.h"
#include "metrics.h"

#define CALLS "calls"
#define LINES "lines"
#define OPERATIONS "operations"


struct cs_store_s {
        mongoc_client_pool_t *pool;
        char *database;
        int64_t op_retention_s; /* signal.operation_retention */
};

/* ---- errors ---- */

static void set_err(char *errstr, size_t errstr_size, const char *what,
                    const bson_error_t *berr) {
        snprintf(errstr, errstr_size, "%s: %s (domain %u, code %u)", what,
                 berr->message, berr->domain, berr->code);
}

/* Server error codes that repeating the same command cannot fix. */
static bool is_permanent_code(uint32_t code) {
        switch (code) {
        case 2:     /* BadValue */
        case 9:     /* FailedToParse */
        case 10334: /* BSONObjectTooLarge */
        case 17419: /* document too large after update */
        case 17420:
        case 14:    /* TypeMismatch */
        case 85:    /* IndexOptionsConflict */
        case 86:    /* IndexKeySpecsConflict */
                return true;
        default:
                return false;
        }
}

static cs_err_t classify(const bson_error_t *berr) {
        if (berr->domain == MONGOC_ERROR_BSON ||
            ((berr->domain == MONGOC_ERROR_SERVER ||
              berr->domain == MONGOC_ERROR_COLLECTION ||
              berr->domain == MONGOC_ERROR_QUERY ||
              berr->domain == MONGOC_ERROR_COMMAND) &&
             is_permanent_code(berr->code)))
                return CS_ERR_PERMANENT;
        return CS_ERR_TRANSIENT;
}

static bool is_duplicate_key(const bson_error_t *berr) {
        return berr->code == 11000;
}

/* ---- lifecycle ---- */

static void mongoc_log_bridge(mongoc_log_level_t level, const char *domain,
                              const char *message, void *opaque) {
        (void)opaque;
        cs_log_level_t ours = CS_LOG_DEBUG;
        if (level <= MONGOC_LOG_LEVEL_ERROR)
                ours = CS_LOG_ERR;
        else if (level == MONGOC_LOG_LEVEL_WARNING)
                ours = CS_LOG_WARN;
        else if (level == MONGOC_LOG_LEVEL_MESSAGE)
                ours = CS_LOG_INFO;
        cs_log(ours, "MONGOC", "%s: %s", domain, message);
}

void cs_store_route_logs(void) {
        mongoc_log_set_handler(mongoc_log_bridge, NULL);
}

/* APM: every command the driver sends counts as one round trip
 * (callsig_mongodb_commands_total; the benchmark divides it by commands). */
static void count_command(const mongoc_apm_command_started_t *event) {
        (void)event;
        cs_metrics_mongodb_command();
}

cs_store_t *cs_store_new(const cs_config_t *conf, char *errstr,
                         size_t errstr_size) {
        mongoc_init();
        /* The URI with callsig's defaults (clientconf.c, the one
         * --check-config validates): among them a short server selection
         * timeout, so the worker's own retry loop (with its backoff and
         * stop flag) is in charge, not the driver. */
        mongoc_uri_t *uri = cs_clientconf_mongo_uri(conf, errstr, errstr_size);
        if (!uri)
                return NULL;
        cs_store_t *store = cs_xcalloc(1, sizeof(*store));
        store->pool = mongoc_client_pool_new(uri);
        mongoc_uri_destroy(uri);
        if (!store->pool) {
                snprintf(errstr, errstr_size, "mongodb.uri: cannot create client pool");
                free(store);
                return NULL;
        }
        mongoc_client_pool_set_error_api(store->pool, MONGOC_ERROR_API_VERSION_2);
        mongoc_apm_callbacks_t *apm = mongoc_apm_callbacks_new();
        mongoc_apm_set_command_started_cb(apm, count_command);
        mongoc_client_pool_set_apm_callbacks(store->pool, apm, NULL);
        mongoc_apm_callbacks_destroy(apm);
        store->database = cs_xstrdup(conf->mongodb_database);
        store->op_retention_s = conf->signal_operation_retention;
        return store;
}

void cs_store_destroy(cs_store_t *store) {
        if (!store)
                return;
        mongoc_client_pool_destroy(store->pool);
        free(store->database);
        free(store);
}

/* A client and one collection of it, for the length of one call. */
typedef struct lease_s {
        mongoc_client_t *client;
        mongoc_collection_t *coll;
} lease_t;

static void lease(cs_store_t *store, const char *coll, lease_t *l) {
        l->client = mongoc_client_pool_pop(store->pool);
        l->coll = mongoc_client_get_collection(l->client, store->database, coll);
}

static void unlease(cs_store_t *store, lease_t *l) {
        mongoc_collection_destroy(l->coll);
        mongoc_client_pool_push(store->pool, l->client);
}

static cs_err_t create_indexes(cs_store_t *store, const char *coll,
                               const bson_t *indexes, char *errstr,
                               size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        bson_t cmd = BSON_INITIALIZER;
        cs_err_t err = CS_OK;
        lease(store, coll, &l);
        BSON_APPEND_UTF8(&cmd, "createIndexes", coll);
        BSON_APPEND_ARRAY(&cmd, "indexes", indexes);
        if (!mongoc_collection_write_command_with_opts(l.coll, &cmd, NULL, NULL,
                                                       &berr)) {
                set_err(errstr, errstr_size, "createIndexes", &berr);
                err = classify(&berr);
        }
        bson_destroy(&cmd);
        unlease(store, &l);
        return err;
}

/* One update_one on @p coll; *matchedp gets how many documents matched
 * the filter (0 or 1), which is how every conditional write here learns
 * whether it won. */
static cs_err_t update_one(cs_store_t *store, const char *coll,
                           const bson_t *filter, const bson_t *update,
                           const char *what, int64_t *matchedp, char *errstr,
                           size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        bson_t reply;
        bson_iter_t it;
        cs_err_t err = CS_OK;
        *matchedp = 0;
        lease(store, coll, &l);
        if (!mongoc_collection_update_one(l.coll, filter, update, NULL, &reply,
                                          &berr)) {
                set_err(errstr, errstr_size, what, &berr);
                err = classify(&berr);
        } else if (bson_iter_init_find(&it, &reply, "matchedCount")) {
                *matchedp = bson_iter_as_int64(&it);
        }
        bson_destroy(&reply);
        unlease(store, &l);
        return err;
}

static int64_t iter_int64(const bson_iter_t *it);
static bson_t *op_doc(const char *send_id, const char *operation_id,
                      const cs_op_record_t *rec, int64_t at,
                      int64_t retention_s);

/* One unordered insertMany of @p docs into @p coll: every document is
 * tried whatever happens to the others. dup[i] (when @p dup is given) says
 * that document i hit a duplicate key; that is not an error here. Any
 * other write error fails the whole call. */
static cs_err_t insert_many(cs_store_t *store, const char *coll,
                            const bson_t **docs, size_t n, bool *dup,
                            const char *what, char *errstr,
                            size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        bson_t reply;
        bson_iter_t it, errs, one;
        cs_err_t err = CS_OK;
        if (dup)
                memset(dup, 0, n * sizeof(*dup));
        if (n == 0)
                return CS_OK;
        bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
        lease(store, coll, &l);
        if (!mongoc_collection_insert_many(l.coll, docs, n, opts, &reply, &berr)) {
                /* Write errors are per document: only duplicate keys are
                 * expected. Anything else (or no list: a failure of the
                 * whole command) fails. */
                bool only_dups = bson_iter_init_find(&it, &reply, "writeErrors") &&
                                 BSON_ITER_HOLDS_ARRAY(&it) &&
                                 bson_iter_recurse(&it, &errs) &&
                                 !bson_iter_init_find(&one, &reply,
                                                      "writeConcernErrors");
                while (only_dups && bson_iter_next(&errs)) {
                        bson_iter_t f;
                        int64_t index = -1, code = 0;
                        if (!BSON_ITER_HOLDS_DOCUMENT(&errs) ||
                            !bson_iter_recurse(&errs, &f)) {
                                only_dups = false;
                                break;
                        }
                        while (bson_iter_next(&f)) {
                                if (!strcmp(bson_iter_key(&f), "index"))
                                        index = iter_int64(&f);
                                else if (!strcmp(bson_iter_key(&f), "code"))
                                        code = iter_int64(&f);
                        }
                        if (code != 11000 || index < 0 || (size_t)index >= n)
                                only_dups = false;
                        else if (dup)
                                dup[index] = true;
                }
                if (!only_dups) {
                        set_err(errstr, errstr_size, what, &berr);
                        err = classify(&berr);
                }
        }
        bson_destroy(&reply);
        unlease(store, &l);
        bson_destroy(opts);
        return err;
}

cs_err_t cs_store_ping(cs_store_t *store, char *errstr, size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
        lease(store, CALLS, &l);
        bool ok = mongoc_client_command_simple(l.client, "admin", ping, NULL,
                                               NULL, &berr);
        unlease(store, &l);
        bson_destroy(ping);
        if (!ok) {
                set_err(errstr, errstr_size, "ping", &berr);
                return CS_ERR_TRANSIENT;
        }
        return CS_OK;
}

cs_err_t cs_store_init(cs_store_t *store, char *errstr, size_t errstr_size) {
        cs_err_t err = cs_store_ping(store, errstr, errstr_size);
        if (err)
                return err;

        /* A user's calls newest first; the live call of a group; the ring
         * timer (participants ringing by deadline). */
        bson_t *calls = BCON_NEW(
                "0", "{", "key", "{", "participants.userID", BCON_INT32(1),
                "createdAt", BCON_INT32(-1), "}", "name", "user_calls", "}",
                "1", "{", "key", "{", "groupID", BCON_INT32(1), "state",
                BCON_INT32(1), "}", "name", "group_live", "}",
                "2", "{", "key", "{", "nextRingAt", BCON_INT32(1), "}",
                "name", "ring_timer", "}",
                "3", "{", "key", "{", "pendingTimerAt", BCON_INT32(1), "}",
                "name", "timer_outbox", "sparse", BCON_BOOL(true), "}",
                /* the pending invitation of a user (v3 start-app lookup):
                 * one $elemMatch on all three bounds a user's ringing
                 * entries, whatever their history holds */
                "4", "{", "key", "{", "participants.userID", BCON_INT32(1),
                "participants.state", BCON_INT32(1), "participants.ringUntil",
                BCON_INT32(-1), "}", "name", "user_ringing", "}");
        err = create_indexes(store, CALLS, calls, errstr, errstr_size);
        bson_destroy(calls);
        if (!err) {
                bson_t *ops = BCON_NEW("0", "{", "key", "{", "expireAt",
                                       BCON_INT32(1), "}", "name", "expire",
                                       "expireAfterSeconds", BCON_INT32(0), "}");
                err = create_indexes(store, OPERATIONS, ops, errstr, errstr_size);
                bson_destroy(ops);
        }
        /* An index that exists with other options is an operator's
         * decision that retrying cannot change. */
        return err == CS_ERR_PERMANENT ? CS_ERR_FATAL : err;
}

/* ---- call <-> BSON ---- */

static void append_participants(bson_t *doc, const cs_call_t *call) {
        bson_t arr, p;
        char idx[16];
        const char *k;
        bson_append_array_begin(doc, "participants", -1, &arr);
        for (size_t i = 0; i < call->part_cnt; i++) {
                const cs_participant_t *part = &call->parts[i];
                bson_uint32_to_string((uint32_t)i, &k, idx, sizeof(idx));
                bson_append_document_begin(&arr, k, -1, &p);
                BSON_APPEND_UTF8(&p, "userID", part->user_id);
                BSON_APPEND_UTF8(&p, "role", part->inviter ? "inviter" : "invitee");
                BSON_APPEND_UTF8(&p, "state", cs_part_state_name(part->state));
                BSON_APPEND_INT32(&p, "platformID", part->platform_id);
                BSON_APPEND_DATE_TIME(&p, "updatedAt", part->updated_at);
                if (part->ring_until)
                        BSON_APPEND_DATE_TIME(&p, "ringUntil", part->ring_until);
                if (part->meta)
                        BSON_APPEND_BINARY(&p, "meta", BSON_SUBTYPE_BINARY,
                                           part->meta, (uint32_t)part->meta_len);
                if (part->invited_by)
                        BSON_APPEND_UTF8(&p, "invitedBy", part->invited_by);
                if (part->line_claim)
                        BSON_APPEND_UTF8(&p, "lineClaim", part->line_claim);
                if (part->room_session || part->in_room) {
                        BSON_APPEND_BOOL(&p, "inRoom", part->in_room);
                        BSON_APPEND_INT64(&p, "roomSession", part->room_session);
                }
                if (part->joined_room_at)
                        BSON_APPEND_DATE_TIME(&p, "joinedRoomAt", part->joined_room_at);
                if (part->left_room_at)
                        BSON_APPEND_DATE_TIME(&p, "leftRoomAt", part->left_room_at);
                bson_append_document_end(&arr, &p);
        }
        bson_append_array_end(doc, &arr);
}

/* A list of participants written as their indexes in `participants`
 * (every recipient and every busy user is one): a few bytes each, so the
 * replay payload stays small however long userIDs are. */
static void append_part_refs(const cs_call_t *call, bson_t *doc,
                             const char *key, const cs_strv_t *users) {
        bson_t arr;
        char idx[16];
        const char *k;
        uint32_t n = 0;
        bson_append_array_begin(doc, key, -1, &arr);
        for (size_t i = 0; i < users->cnt; i++) {
                for (size_t j = 0; j < call->part_cnt; j++) {
                        if (strcmp(call->parts[j].user_id, users->v[i]))
                                continue;
                        bson_uint32_to_string(n++, &k, idx, sizeof(idx));
                        bson_append_int32(&arr, k, -1, (int32_t)j);
                        break;
                }
        }
        bson_append_array_end(doc, &arr);
}

static void append_event(const cs_call_t *call, bson_t *arr, const char *key,
                         const cs_event_t *ev) {
        bson_t e;
        bson_append_document_begin(arr, key, -1, &e);
        BSON_APPEND_UTF8(&e, "type", cs_event_type_name(ev->type));
        BSON_APPEND_UTF8(&e, "userID", ev->user_id);
        BSON_APPEND_INT32(&e, "platformID", ev->platform_id);
        BSON_APPEND_UTF8(&e, "operationID", ev->operation_id);
        BSON_APPEND_UTF8(&e, "request", ev->request ? ev->request : "");
        BSON_APPEND_DATE_TIME(&e, "at", ev->at);
        BSON_APPEND_INT32(&e, "code", ev->code);
        if (ev->replayable) {
                append_part_refs(call, &e, "notify", &ev->notify);
                if (ev->busy.cnt)
                        append_part_refs(call, &e, "busy", &ev->busy);
                if (ev->content)
                        BSON_APPEND_BINARY(&e, "content", BSON_SUBTYPE_BINARY,
                                           ev->content,
                                           (uint32_t)ev->content_len);
        }
        bson_append_document_end(arr, &e);
}

static void append_events(bson_t *doc, const cs_call_t *call) {
        bson_t arr;
        char idx[16];
        const char *k;
        bson_append_array_begin(doc, "events", -1, &arr);
        for (size_t i = 0; i < call->event_cnt; i++) {
                bson_uint32_to_string((uint32_t)i, &k, idx, sizeof(idx));
                append_event(call, &arr, k, &call->events[i]);
        }
        bson_append_array_end(doc, &arr);
        BSON_APPEND_INT64(doc, "eventsDropped", call->events_dropped);
}

static void append_mutable(bson_t *doc, const cs_call_t *call) {
        BSON_APPEND_UTF8(doc, "state", cs_call_state_name(call->state));
        if (call->end_reason == CS_END_NONE)
                BSON_APPEND_NULL(doc, "endReason");
        else
                BSON_APPEND_UTF8(doc, "endReason",
                                 cs_end_reason_name(call->end_reason));
        append_participants(doc, call);
        if (call->accepted_at)
                BSON_APPEND_DATE_TIME(doc, "acceptedAt", call->accepted_at);
        if (call->ended_at)
                BSON_APPEND_DATE_TIME(doc, "endedAt", call->ended_at);
        if (call->pending_timer_op) {
                BSON_APPEND_UTF8(doc, "pendingTimer", call->pending_timer_op);
                BSON_APPEND_DATE_TIME(doc, "pendingTimerAt", call->pending_timer_at);
        }
        if (call->group_claim)
                BSON_APPEND_UTF8(doc, "groupClaim", call->group_claim);
        /* What the ring timer looks for: the earliest deadline of a
         * ringing participant of a live call (null when none). */
        int64_t next_ring = cs_call_is_live(call) ? cs_call_next_ring_deadline(call) : 0;
        if (next_ring)
                BSON_APPEND_DATE_TIME(doc, "nextRingAt", next_ring);
        else
                BSON_APPEND_NULL(doc, "nextRingAt");
        append_events(doc, call);
}

/* Lenient readers: a field of the wrong type reads as empty. */
static const char *iter_str(const bson_iter_t *it) {
        return BSON_ITER_HOLDS_UTF8(it) ? bson_iter_utf8(it, NULL) : "";
}

/* Any numeric type reads as its value: operators edit records in mongosh,
 * whose numbers are doubles. */
static int64_t iter_int64(const bson_iter_t *it) {
        if (BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it))
                return bson_iter_as_int64(it);
        if (BSON_ITER_HOLDS_DOUBLE(it)) {
                double d = bson_iter_double(it);
                return d >= -9.2e18 && d <= 9.2e18 ? (int64_t)d : 0;
        }
        return 0;
}

static int32_t iter_int32(const bson_iter_t *it) {
        int64_t v = iter_int64(it);
        return v >= INT32_MIN && v <= INT32_MAX ? (int32_t)v : 0;
}

static int64_t iter_date(const bson_iter_t *it) {
        return BSON_ITER_HOLDS_DATE_TIME(it) ? bson_iter_date_time(it) : 0;
}

static void iter_binary(const bson_iter_t *it, uint8_t **bufp, size_t *lenp) {
        const uint8_t *data;
        uint32_t len;
        bson_subtype_t subtype;
        *bufp = NULL;
        *lenp = 0;
        if (!BSON_ITER_HOLDS_BINARY(it))
                return;
        bson_iter_binary(it, &subtype, &len, &data);
        *bufp = cs_xmemdup(data, len);
        *lenp = len;
}

static void read_participant(cs_call_t *call, const bson_iter_t *it) {
        bson_iter_t f;
        const char *user_id = "", *role = "", *state = "";
        const char *invited_by = NULL, *line_claim = NULL;
        int32_t platform_id = 0;
        int64_t updated_at = 0, ring_until = 0;
        int64_t joined_room_at = 0, left_room_at = 0, room_session = 0;
        bool in_room = false;
        uint8_t *meta = NULL;
        size_t meta_len = 0;
        if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &f))
                return;
        while (bson_iter_next(&f)) {
                const char *key = bson_iter_key(&f);
                if (!strcmp(key, "userID"))
                        user_id = iter_str(&f);
                else if (!strcmp(key, "role"))
                        role = iter_str(&f);
                else if (!strcmp(key, "state"))
                        state = iter_str(&f);
                else if (!strcmp(key, "platformID"))
                        platform_id = iter_int32(&f);
                else if (!strcmp(key, "updatedAt"))
                        updated_at = iter_date(&f);
                else if (!strcmp(key, "ringUntil"))
                        ring_until = iter_date(&f);
                else if (!strcmp(key, "meta") && !meta)
                        iter_binary(&f, &meta, &meta_len);
                else if (!strcmp(key, "invitedBy") && !invited_by)
                        invited_by = iter_str(&f);
                else if (!strcmp(key, "lineClaim") && !line_claim)
                        line_claim = iter_str(&f);
                else if (!strcmp(key, "inRoom"))
                        in_room = BSON_ITER_HOLDS_BOOL(&f) && bson_iter_bool(&f);
                else if (!strcmp(key, "roomSession"))
                        room_session = iter_int64(&f);
                else if (!strcmp(key, "joinedRoomAt"))
                        joined_room_at = iter_date(&f);
                else if (!strcmp(key, "leftRoomAt"))
                        left_room_at = iter_date(&f);
        }
        cs_part_state_t ps = CS_PART_LEFT;
        (void)cs_part_state_parse(state, &ps);
        cs_participant_t *part = cs_call_add_participant(
                call, user_id, !strcmp(role, "inviter"), ps, platform_id,
                updated_at);
        part->ring_until = ring_until;
        part->meta = meta;
        part->meta_len = meta_len;
        part->invited_by = cs_xstrdup(invited_by);
        part->line_claim = cs_xstrdup(line_claim);
        part->in_room = in_room;
        part->room_session = room_session;
        part->joined_room_at = joined_room_at;
        part->left_room_at = left_room_at;
}

/* Reads a list written by append_part_refs (or, in older records, the
 * userIDs themselves). */
static void read_part_refs(const cs_call_t *call, const bson_iter_t *it,
                           cs_strv_t *sv) {
        bson_iter_t child;
        if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &child))
                return;
        while (bson_iter_next(&child)) {
                if (BSON_ITER_HOLDS_UTF8(&child)) {
                        cs_strv_add(sv, bson_iter_utf8(&child, NULL));
                        continue;
                }
                int64_t idx = iter_int64(&child);
                if (idx >= 0 && (size_t)idx < call->part_cnt)
                        cs_strv_add(sv, call->parts[idx].user_id);
        }
}

static void read_event(cs_call_t *call, const bson_iter_t *it) {
        bson_iter_t f;
        if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &f))
                return;
        cs_event_t *ev = cs_call_add_event(call, CS_EV_INVITE, "", 0, "", 0);
        bool has_notify = false;
        while (bson_iter_next(&f)) {
                const char *key = bson_iter_key(&f);
                if (!strcmp(key, "type")) {
                        (void)cs_event_type_parse(iter_str(&f), &ev->type);
                } else if (!strcmp(key, "userID")) {
                        free(ev->user_id);
                        ev->user_id = cs_xstrdup(iter_str(&f));
                } else if (!strcmp(key, "operationID")) {
                        free(ev->operation_id);
                        ev->operation_id = cs_xstrdup(iter_str(&f));
                } else if (!strcmp(key, "platformID")) {
                        ev->platform_id = iter_int32(&f);
                } else if (!strcmp(key, "at")) {
                        ev->at = iter_date(&f);
                } else if (!strcmp(key, "request")) {
                        free(ev->request);
                        ev->request = cs_xstrdup(iter_str(&f));
                } else if (!strcmp(key, "code")) {
                        ev->code = iter_int32(&f);
                } else if (!strcmp(key, "notify")) {
                        read_part_refs(call, &f, &ev->notify);
                        has_notify = true;
                } else if (!strcmp(key, "busy")) {
                        read_part_refs(call, &f, &ev->busy);
                } else if (!strcmp(key, "content") && !ev->content) {
                        iter_binary(&f, &ev->content, &ev->content_len);
                }
        }
        ev->replayable = has_notify;
}

static void read_refusal(cs_call_t *call, const bson_iter_t *it) {
        bson_iter_t f;
        const char *user_id = "", *operation_id = "", *request = "", *msg = "";
        int32_t code = 0;
        int64_t at = 0;
        if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &f))
                return;
        while (bson_iter_next(&f)) {
                const char *key = bson_iter_key(&f);
                if (!strcmp(key, "userID"))
                        user_id = iter_str(&f);
                else if (!strcmp(key, "operationID"))
                        operation_id = iter_str(&f);
                else if (!strcmp(key, "request"))
                        request = iter_str(&f);
                else if (!strcmp(key, "errCode"))
                        code = iter_int32(&f);
                else if (!strcmp(key, "errMsg"))
                        msg = iter_str(&f);
                else if (!strcmp(key, "at"))
                        at = iter_date(&f);
        }
        cs_call_add_refusal(call, user_id, operation_id, request, code, msg, at);
}

/* Builds a call from its document; NULL if the document is not a call. */
static cs_call_t *call_from_bson(const bson_t *doc) {
        bson_iter_t it, child;
        const char *room_id = NULL, *state = NULL;
        if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
                room_id = bson_iter_utf8(&it, NULL);
        if (bson_iter_init_find(&it, doc, "state") && BSON_ITER_HOLDS_UTF8(&it))
                state = bson_iter_utf8(&it, NULL);
        if (!room_id || !state)
                return NULL;

        cs_call_t *call = cs_xcalloc(1, sizeof(*call));
        call->room_id = cs_xstrdup(room_id);
        (void)cs_call_state_parse(state, &call->state);
        bson_iter_init(&it, doc);
        while (bson_iter_next(&it)) {
                const char *key = bson_iter_key(&it);
                if (!strcmp(key, "endReason"))
                        (void)cs_end_reason_parse(iter_str(&it), &call->end_reason);
                else if (!strcmp(key, "inviterUserID"))
                        call->inviter_user_id = cs_xstrdup(iter_str(&it));
                else if (!strcmp(key, "groupID"))
                        call->group_id = cs_xstrdup(iter_str(&it));
                else if (!strcmp(key, "mediaType"))
                        call->media_type = cs_xstrdup(iter_str(&it));
                else if (!strcmp(key, "customData"))
                        call->custom_data = cs_xstrdup(iter_str(&it));
                else if (!strcmp(key, "sessionType"))
                        call->session_type = iter_int32(&it);
                else if (!strcmp(key, "platformID"))
                        call->platform_id = iter_int32(&it);
                else if (!strcmp(key, "timeout"))
                        call->timeout_s = iter_int32(&it);
                else if (!strcmp(key, "createdAt"))
                        call->created_at = iter_date(&it);
                else if (!strcmp(key, "deadline"))
                        call->deadline = iter_date(&it);
                else if (!strcmp(key, "acceptedAt"))
                        call->accepted_at = iter_date(&it);
                else if (!strcmp(key, "endedAt"))
                        call->ended_at = iter_date(&it);
                else if (!strcmp(key, "pendingTimer") && BSON_ITER_HOLDS_UTF8(&it))
                        call->pending_timer_op = cs_xstrdup(bson_iter_utf8(&it, NULL));
                else if (!strcmp(key, "pendingTimerAt"))
                        call->pending_timer_at = iter_date(&it);
                else if (!strcmp(key, "rev"))
                        call->rev = iter_int64(&it);
                else if (!strcmp(key, "eventsDropped"))
                        call->events_dropped = iter_int64(&it);
                else if (!strcmp(key, "groupClaim") && BSON_ITER_HOLDS_UTF8(&it))
                        call->group_claim = cs_xstrdup(bson_iter_utf8(&it, NULL));
                else if (!strcmp(key, "opsInRecord"))
                        call->ops_in_record = BSON_ITER_HOLDS_BOOL(&it) &&
                                              bson_iter_bool(&it);
                else if (!strcmp(key, "refusals") && BSON_ITER_HOLDS_ARRAY(&it) &&
                         bson_iter_recurse(&it, &child))
                        while (bson_iter_next(&child))
                                read_refusal(call, &child);
                else if (!strcmp(key, "participants") &&
                         BSON_ITER_HOLDS_ARRAY(&it) &&
                         bson_iter_recurse(&it, &child))
                        while (bson_iter_next(&child))
                                read_participant(call, &child);
        }
        /* Events refer to participants by index: read them second. */
        if (bson_iter_init_find(&it, doc, "events") &&
            BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &child))
                while (bson_iter_next(&child))
                        read_event(call, &child);
        /* Fields that may be missing in a hand-edited record. */
        char **strs[] = {&call->inviter_user_id, &call->group_id,
                         &call->media_type, &call->custom_data};
        for (size_t i = 0; i < CS_ARRAY_SIZE(strs); i++)
                if (!*strs[i])
                        *strs[i] = cs_xstrdup("");
        call->stored_event_cnt = call->event_cnt;
        return call;
}

cs_call_t *cs_store_decode_call(const uint8_t *data, size_t len) {
        bson_t doc;
        if (!bson_init_static(&doc, data, len))
                return NULL;
        return call_from_bson(&doc);
}

static bson_t *call_to_bson(const cs_call_t *call) {
        bson_t *doc = bson_new();
        BSON_APPEND_UTF8(doc, "_id", call->room_id);
        append_mutable(doc, call);
        BSON_APPEND_UTF8(doc, "inviterUserID", call->inviter_user_id);
        BSON_APPEND_UTF8(doc, "groupID", call->group_id);
        BSON_APPEND_UTF8(doc, "mediaType", call->media_type);
        BSON_APPEND_UTF8(doc, "customData", call->custom_data);
        BSON_APPEND_INT32(doc, "sessionType", call->session_type);
        BSON_APPEND_INT32(doc, "platformID", call->platform_id);
        BSON_APPEND_INT32(doc, "timeout", call->timeout_s);
        BSON_APPEND_DATE_TIME(doc, "createdAt", call->created_at);
        BSON_APPEND_DATE_TIME(doc, "deadline", call->deadline);
        BSON_APPEND_INT64(doc, "rev", 1);
        if (call->ops_in_record)
                BSON_APPEND_BOOL(doc, "opsInRecord", true);
        return doc;
}

/* ---- calls ---- */

static cs_err_t find_one_call(cs_store_t *store, const bson_t *filter,
                              cs_call_t **callp, char *errstr,
                              size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        const bson_t *doc;
        cs_err_t err = CS_OK;
        *callp = NULL;
        bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
        lease(store, CALLS, &l);
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(l.coll, filter,
                                                                opts, NULL);
        if (mongoc_cursor_next(cur, &doc)) {
                *callp = call_from_bson(doc);
                if (!*callp) {
                        snprintf(errstr, errstr_size,
                                 "calls: record without _id or state");
                        err = CS_ERR_UNDECODABLE;
                }
        }
        if (mongoc_cursor_error(cur, &berr)) {
                set_err(errstr, errstr_size, "find call", &berr);
                err = classify(&berr);
                cs_call_destroy(*callp);
                *callp = NULL;
        }
        mongoc_cursor_destroy(cur);
        unlease(store, &l);
        bson_destroy(opts);
        return err;
}

cs_err_t cs_store_load_call(cs_store_t *store, const char *room_id,
                            cs_call_t **callp, char *errstr,
                            size_t errstr_size) {
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(room_id));
        cs_err_t err = find_one_call(store, filter, callp, errstr, errstr_size);
        bson_destroy(filter);
        return err;
}

cs_err_t cs_store_load_group_call(cs_store_t *store, const char *group_id,
                                  cs_call_t **callp, char *errstr,
                                  size_t errstr_size) {
        bson_t *filter = BCON_NEW("groupID", BCON_UTF8(group_id), "state",
                                  "{", "$in", "[", BCON_UTF8("ringing"),
                                  BCON_UTF8("active"), "]", "}");
        cs_err_t err = find_one_call(store, filter, callp, errstr, errstr_size);
        bson_destroy(filter);
        return err;
}

cs_err_t cs_store_insert_call(cs_store_t *store, cs_call_t *call,
                              char *errstr, size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        cs_err_t err = CS_OK;
        cs_call_trim_events(call);
        bson_t *doc = call_to_bson(call);
        lease(store, CALLS, &l);
        if (!mongoc_collection_insert_one(l.coll, doc, NULL, NULL, &berr)) {
                set_err(errstr, errstr_size, "insert call", &berr);
                err = is_duplicate_key(&berr) ? CS_ERR_RACE : classify(&berr);
        } else {
                call->rev = 1;
                call->stored_event_cnt = call->event_cnt;
        }
        unlease(store, &l);
        bson_destroy(doc);
        return err;
}

/* Does @p ev record a command (not the timer, not a LiveKit event)? */
static bool is_command_event(const cs_event_t *ev) {
        return ev->request && ev->request[0] && strcmp(ev->request, "timer") &&
               strcmp(ev->request, "livekit");
}

/* Writes the ledger entries of the commands whose events the next trim of
 * @p call drops, before the write that drops them: a record that dropped
 * events (eventsDropped > 0) sends lookups of pairs it does not show to
 * the ledger, which must then hold them. Entries already there stay. */
static cs_err_t ledger_trimmed(cs_store_t *store, const cs_call_t *call,
                               char *errstr, size_t errstr_size) {
        if (call->event_cnt <= CS_CALL_KEEP_EVENTS)
                return CS_OK;
        size_t drop = call->event_cnt - CS_CALL_KEEP_EVENTS, n = 0;
        bson_t **docs = cs_xcalloc(drop, sizeof(*docs));
        const bson_t **cdocs = cs_xcalloc(drop, sizeof(*cdocs));
        for (size_t i = 0; i < drop; i++) {
                const cs_event_t *ev = &call->events[i];
                if (!is_command_event(ev))
                        continue;
                cs_op_record_t rec = {
                        .request = ev->request,
                        .room_id = call->room_id,
                        .code = ev->code,
                        .msg = "",
                        .applied = true,
                };
                docs[n] = op_doc(ev->user_id, ev->operation_id, &rec, ev->at,
                                 store->op_retention_s);
                cdocs[n] = docs[n];
                n++;
        }
        cs_err_t err = insert_many(store, OPERATIONS, cdocs, n, NULL,
                                   "record trimmed operations", errstr,
                                   errstr_size);
        for (size_t i = 0; i < n; i++)
                bson_destroy(docs[i]);
        free(cdocs);
        free(docs);
        return err;
}

cs_err_t cs_store_update_call(cs_store_t *store, cs_call_t *call,
                              char *errstr, size_t errstr_size) {
        cs_err_t err;
        /* The whole (bounded) events array is written each time, so the
         * record keeps only the most recent ones. A stored rev of another
         * numeric type still matches: MongoDB compares numbers by value. */
        err = ledger_trimmed(store, call, errstr, errstr_size);
        if (err)
                return err;
        cs_call_trim_events(call);
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(call->room_id), "rev",
                                  BCON_INT64(call->rev));
        bson_t update = BSON_INITIALIZER, set, inc;
        bson_append_document_begin(&update, "$set", -1, &set);
        append_mutable(&set, call);
        bson_append_document_end(&update, &set);
        bson_append_document_begin(&update, "$inc", -1, &inc);
        BSON_APPEND_INT64(&inc, "rev", 1);
        bson_append_document_end(&update, &inc);

        int64_t matched;
        err = update_one(store, CALLS, filter, &update, "update call", &matched,
                         errstr, errstr_size);
        if (!err && matched == 1) {
                call->rev++;
                call->stored_event_cnt = call->event_cnt;
        } else if (!err) {
                snprintf(errstr, errstr_size, "call %s changed meanwhile",
                         call->room_id);
                err = CS_ERR_RACE;
        }
        bson_destroy(&update);
        bson_destroy(filter);
        return err;
}

cs_err_t cs_store_add_refusal(cs_store_t *store, const char *room_id,
                              const cs_refusal_t *ref, bool *keptp,
                              char *errstr, size_t errstr_size) {
        char full[32];
        snprintf(full, sizeof(full), "refusals.%d", CS_CALL_KEEP_REFUSALS - 1);
        bson_t *filter = BCON_NEW(
                "_id", BCON_UTF8(room_id), "$nor", "[", "{", "events", "{",
                "$elemMatch", "{", "userID", BCON_UTF8(ref->user_id),
                "operationID", BCON_UTF8(ref->operation_id), "}", "}", "}", "]",
                full, "{", "$exists", BCON_BOOL(false), "}");
        bson_t *update = BCON_NEW(
                "$push", "{", "refusals", "{", "userID", BCON_UTF8(ref->user_id),
                "operationID", BCON_UTF8(ref->operation_id), "request",
                BCON_UTF8(ref->request), "errCode", BCON_INT32(ref->code),
                "errMsg", BCON_UTF8(ref->msg), "at", BCON_DATE_TIME(ref->at),
                "}", "}", "$inc", "{", "rev", BCON_INT64(1), "}");
        int64_t matched;
        cs_err_t err = update_one(store, CALLS, filter, update, "record refusal",
                                  &matched, errstr, errstr_size);
        *keptp = !err && matched == 1;
        bson_destroy(update);
        bson_destroy(filter);
        return err;
}

/* Appends the _id of every document @p filter finds, in @p sort order. */
static cs_err_t find_ids(cs_store_t *store, const bson_t *filter,
                         const bson_t *sort, size_t limit, cs_strv_t *ids,
                         char *errstr, size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        const bson_t *doc;
        bson_iter_t it;
        cs_err_t err = CS_OK;
        bson_t *opts = BCON_NEW("limit", BCON_INT64((int64_t)limit),
                                "projection", "{", "_id", BCON_INT32(1), "}");
        BSON_APPEND_DOCUMENT(opts, "sort", sort);
        lease(store, CALLS, &l);
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(l.coll, filter,
                                                                opts, NULL);
        while (mongoc_cursor_next(cur, &doc))
                if (bson_iter_init_find(&it, doc, "_id") &&
                    BSON_ITER_HOLDS_UTF8(&it) &&
                    !cs_strv_has(ids, bson_iter_utf8(&it, NULL)))
                        cs_strv_add(ids, bson_iter_utf8(&it, NULL));
        if (mongoc_cursor_error(cur, &berr)) {
                set_err(errstr, errstr_size, "find due calls", &berr);
                err = classify(&berr);
        }
        mongoc_cursor_destroy(cur);
        unlease(store, &l);
        bson_destroy(opts);
        return err;
}

static void append_nin(bson_t *filter, const cs_strv_t *skip) {
        bson_t id, nin;
        char idx[16];
        const char *k;
        if (!skip || !skip->cnt)
                return;
        bson_append_document_begin(filter, "_id", -1, &id);
        bson_append_array_begin(&id, "$nin", -1, &nin);
        for (size_t i = 0; i < skip->cnt; i++) {
                bson_uint32_to_string((uint32_t)i, &k, idx, sizeof(idx));
                bson_append_utf8(&nin, k, -1, skip->v[i], -1);
        }
        bson_append_array_end(&id, &nin);
        bson_append_document_end(filter, &id);
}

cs_err_t cs_store_find_due(cs_store_t *store, int64_t now,
                           int64_t stale_before, const cs_strv_t *skip,
                           size_t limit, cs_strv_t *room_ids, char *errstr,
                           size_t errstr_size) {
        /* Undelivered timer events first (oldest first), then ringing
         * calls by their earliest deadline: each query walks its index. */
        bson_t *outbox = BCON_NEW("pendingTimerAt", "{", "$lte",
                                  BCON_DATE_TIME(stale_before), "}");
        bson_t *outbox_sort = BCON_NEW("pendingTimerAt", BCON_INT32(1));
        bson_t *due = BCON_NEW("nextRingAt", "{", "$lte", BCON_DATE_TIME(now), "}");
        bson_t *due_sort = BCON_NEW("nextRingAt", BCON_INT32(1));
        append_nin(outbox, skip);
        append_nin(due, skip);
        cs_err_t err = find_ids(store, outbox, outbox_sort, limit, room_ids,
                                errstr, errstr_size);
        if (!err && room_ids->cnt < limit)
                err = find_ids(store, due, due_sort, limit - room_ids->cnt,
                               room_ids, errstr, errstr_size);
        bson_destroy(outbox);
        bson_destroy(outbox_sort);
        bson_destroy(due);
        bson_destroy(due_sort);
        return err;
}

cs_err_t cs_store_clear_pending_timer(cs_store_t *store, const char *room_id,
                                      const char *operation_id, char *errstr,
                                      size_t errstr_size) {
        int64_t matched;
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(room_id), "pendingTimer",
                                  BCON_UTF8(operation_id));
        bson_t *update = BCON_NEW("$unset", "{", "pendingTimer", BCON_UTF8(""),
                                  "pendingTimerAt", BCON_UTF8(""), "}", "$inc",
                                  "{", "rev", BCON_INT64(1), "}");
        cs_err_t err = update_one(store, CALLS, filter, update,
                                  "clear timer outbox", &matched, errstr,
                                  errstr_size);
        bson_destroy(update);
        bson_destroy(filter);
        return err;
}

/* ---- lines ---- */

/* Filter on a line held under @p claim. A line written without a claim
 * (by hand, or by an older callsig) matches the empty claim: {claim: null}
 * matches a missing field. */
static bson_t *line_filter(const char *line_id, const char *claim) {
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(line_id));
        if (claim[0])
                BSON_APPEND_UTF8(filter, "claim", claim);
        else
                BSON_APPEND_NULL(filter, "claim");
        return filter;
}

void cs_line_holder_clear(cs_line_holder_t *holder) {
        free(holder->room_id);
        free(holder->claim);
        memset(holder, 0, sizeof(*holder));
}

cs_err_t cs_store_claim_line(cs_store_t *store, const char *line_id,
                             const char *room_id, const char *claim,
                             int64_t now, cs_line_holder_t *holder,
                             char *errstr, size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        cs_err_t err = CS_OK;
        memset(holder, 0, sizeof(*holder));
        bson_t *doc = BCON_NEW("_id", BCON_UTF8(line_id), "roomID",
                               BCON_UTF8(room_id), "claim", BCON_UTF8(claim),
                               "at", BCON_DATE_TIME(now));
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(line_id));
        lease(store, LINES, &l);
        /* Insert, or read who holds it; if the holder let go in between,
         * try again (bounded: a line flapping that fast is a bug). */
        for (int attempt = 0; attempt < 5; attempt++) {
                if (mongoc_collection_insert_one(l.coll, doc, NULL, NULL, &berr))
                        goto done;
                if (!is_duplicate_key(&berr)) {
                        set_err(errstr, errstr_size, "claim line", &berr);
                        err = classify(&berr);
                        goto done;
                }
                const bson_t *found;
                bson_iter_t it;
                mongoc_cursor_t *cur = mongoc_collection_find_with_opts(
                        l.coll, filter, NULL, NULL);
                bool have = mongoc_cursor_next(cur, &found);
                if (have) {
                        const char *held_claim = "";
                        if (bson_iter_init_find(&it, found, "claim"))
                                held_claim = iter_str(&it);
                        /* Our own claim (a retry or a redelivery) holds. */
                        if (strcmp(held_claim, claim) != 0) {
                                holder->claim = cs_xstrdup(held_claim);
                                holder->room_id = cs_xstrdup(
                                        bson_iter_init_find(&it, found, "roomID")
                                                ? iter_str(&it) : "");
                                if (bson_iter_init_find(&it, found, "at"))
                                        holder->since = iter_date(&it);
                        }
                }
                bool cursor_failed = mongoc_cursor_error(cur, &berr);
                mongoc_cursor_destroy(cur);
                if (cursor_failed) {
                        set_err(errstr, errstr_size, "read line", &berr);
                        err = classify(&berr);
                        cs_line_holder_clear(holder);
                        goto done;
                }
                if (have)
                        goto done;
        }
        snprintf(errstr, errstr_size, "line %s keeps changing hands", line_id);
        err = CS_ERR_TRANSIENT;
done:
        unlease(store, &l);
        bson_destroy(filter);
        bson_destroy(doc);
        return err;
}

/* Reads who holds @p line_id into @p holder (left empty when it is held
 * under @p claim). *@p foundp: the line exists. */
static void read_holder(const bson_t *doc, const char *claim,
                        cs_line_holder_t *holder) {
        bson_iter_t it;
        const char *held_claim = "";
        if (bson_iter_init_find(&it, doc, "claim"))
                held_claim = iter_str(&it);
        if (strcmp(held_claim, claim) == 0)
                return;
        holder->claim = cs_xstrdup(held_claim);
        holder->room_id = cs_xstrdup(bson_iter_init_find(&it, doc, "roomID")
                                             ? iter_str(&it) : "");
        if (bson_iter_init_find(&it, doc, "at"))
                holder->since = iter_date(&it);
}

cs_err_t cs_store_claim_lines(cs_store_t *store, size_t n,
                              const char *const *line_ids, const char *room_id,
                              const char *const *claims, int64_t now,
                              bool *fresh, cs_line_holder_t *holders,
                              char *errstr, size_t errstr_size) {
        bson_t **docs = cs_xcalloc(n ? n : 1, sizeof(*docs));
        const bson_t **cdocs = cs_xcalloc(n ? n : 1, sizeof(*cdocs));
        bool *dup = cs_xcalloc(n ? n : 1, sizeof(*dup));
        cs_err_t err = CS_OK;
        for (size_t i = 0; i < n; i++) {
                memset(&holders[i], 0, sizeof(holders[i]));
                docs[i] = BCON_NEW("_id", BCON_UTF8(line_ids[i]), "roomID",
                                   BCON_UTF8(room_id), "claim", BCON_UTF8(claims[i]),
                                   "at", BCON_DATE_TIME(now));
                cdocs[i] = docs[i];
        }
        err = insert_many(store, LINES, cdocs, n, dup, "claim lines", errstr,
                          errstr_size);
        size_t dups = 0;
        for (size_t i = 0; i < n; i++) {
                fresh[i] = !err && !dup[i];
                dups += dup[i];
        }
        if (err || dups == 0)
                goto done;

        /* Who holds the lines that were taken: one find for all of them. */
        lease_t l;
        bson_error_t berr;
        const bson_t *doc;
        bson_t filter = BSON_INITIALIZER, in, arr;
        char buf[16];
        const char *key;
        uint32_t k = 0;
        bool *seen = cs_xcalloc(n, sizeof(*seen));
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &in);
        BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
        for (size_t i = 0; i < n; i++) {
                if (!dup[i])
                        continue;
                bson_uint32_to_string(k++, &key, buf, sizeof(buf));
                BSON_APPEND_UTF8(&arr, key, line_ids[i]);
        }
        bson_append_array_end(&in, &arr);
        bson_append_document_end(&filter, &in);
        lease(store, LINES, &l);
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(l.coll, &filter,
                                                                NULL, NULL);
        while (mongoc_cursor_next(cur, &doc)) {
                bson_iter_t it;
                if (!bson_iter_init_find(&it, doc, "_id"))
                        continue;
                const char *id = iter_str(&it);
                for (size_t i = 0; i < n; i++)
                        if (dup[i] && !seen[i] && !strcmp(id, line_ids[i])) {
                                seen[i] = true;
                                read_holder(doc, claims[i], &holders[i]);
                        }
        }
        if (mongoc_cursor_error(cur, &berr)) {
                set_err(errstr, errstr_size, "read lines", &berr);
                err = classify(&berr);
        }
        mongoc_cursor_destroy(cur);
        unlease(store, &l);
        bson_destroy(&filter);
        /* A line let go in between: claimed on its own (rare). */
        for (size_t i = 0; !err && i < n; i++)
                if (dup[i] && !seen[i])
                        err = cs_store_claim_line(store, line_ids[i], room_id,
                                                  claims[i], now, &holders[i],
                                                  errstr, errstr_size);
        free(seen);
done:
        if (err)
                for (size_t i = 0; i < n; i++)
                        cs_line_holder_clear(&holders[i]);
        for (size_t i = 0; i < n; i++)
                bson_destroy(docs[i]);
        free(docs);
        free(cdocs);
        free(dup);
        return err;
}

cs_err_t cs_store_takeover_line(cs_store_t *store, const char *line_id,
                                const char *old_claim, const char *room_id,
                                const char *claim, int64_t now, bool *tookp,
                                char *errstr, size_t errstr_size) {
        int64_t matched;
        bson_t *filter = line_filter(line_id, old_claim);
        bson_t *update = BCON_NEW("$set", "{", "roomID", BCON_UTF8(room_id),
                                  "claim", BCON_UTF8(claim), "at",
                                  BCON_DATE_TIME(now), "}");
        cs_err_t err = update_one(store, LINES, filter, update,
                                  "take over line", &matched, errstr,
                                  errstr_size);
        *tookp = !err && matched == 1;
        bson_destroy(update);
        bson_destroy(filter);
        return err;
}

cs_err_t cs_store_release_lines(cs_store_t *store, const char *const *line_ids,
                                const char *const *claims, size_t n,
                                char *errstr, size_t errstr_size) {
        if (n == 0)
                return CS_OK;
        if (n == 1)
                return cs_store_release_line(store, line_ids[0], claims[0], errstr,
                                             errstr_size);
        lease_t l;
        bson_error_t berr;
        cs_err_t err = CS_OK;
        bson_t filter = BSON_INITIALIZER, any;
        char buf[16];
        const char *key;
        BSON_APPEND_ARRAY_BEGIN(&filter, "$or", &any);
        for (size_t i = 0; i < n; i++) {
                bson_t *one = line_filter(line_ids[i], claims[i]);
                bson_uint32_to_string((uint32_t)i, &key, buf, sizeof(buf));
                BSON_APPEND_DOCUMENT(&any, key, one);
                bson_destroy(one);
        }
        bson_append_array_end(&filter, &any);
        lease(store, LINES, &l);
        if (!mongoc_collection_delete_many(l.coll, &filter, NULL, NULL, &berr)) {
                set_err(errstr, errstr_size, "release lines", &berr);
                err = classify(&berr);
        }
        unlease(store, &l);
        bson_destroy(&filter);
        return err;
}

cs_err_t cs_store_release_line(cs_store_t *store, const char *line_id,
                               const char *claim, char *errstr,
                               size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        cs_err_t err = CS_OK;
        bson_t *filter = line_filter(line_id, claim);
        lease(store, LINES, &l);
        if (!mongoc_collection_delete_one(l.coll, filter, NULL, NULL, &berr)) {
                set_err(errstr, errstr_size, "release line", &berr);
                err = classify(&berr);
        }
        unlease(store, &l);
        bson_destroy(filter);
        return err;
}

/* ---- the ledger of operations ---- */

/* The ledger key of (sendID, operationID): the sendID's length first, so
 * no two pairs give the same key whatever bytes they hold. */
static char *op_key(const char *send_id, const char *operation_id) {
        size_t size = strlen(send_id) + strlen(operation_id) + 24;
        char *key = cs_xmalloc(size);
        snprintf(key, size, "%zu:%s:%s", strlen(send_id), send_id, operation_id);
        return key;
}

void cs_op_record_clear(cs_op_record_t *rec) {
        free(rec->request);
        free(rec->room_id);
        free(rec->msg);
        memset(rec, 0, sizeof(*rec));
}

cs_err_t cs_store_get_op(cs_store_t *store, const char *send_id,
                         const char *operation_id, bool *foundp,
                         cs_op_record_t *rec, char *errstr,
                         size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        const bson_t *doc;
        bson_iter_t it;
        cs_err_t err = CS_OK;
        *foundp = false;
        memset(rec, 0, sizeof(*rec));
        char *key = op_key(send_id, operation_id);
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(key));
        lease(store, OPERATIONS, &l);
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(l.coll, filter,
                                                                NULL, NULL);
        if (mongoc_cursor_next(cur, &doc)) {
                *foundp = true;
                bson_iter_init(&it, doc);
                while (bson_iter_next(&it)) {
                        const char *k = bson_iter_key(&it);
                        if (!strcmp(k, "request"))
                                rec->request = cs_xstrdup(iter_str(&it));
                        else if (!strcmp(k, "roomID") && BSON_ITER_HOLDS_UTF8(&it))
                                rec->room_id = cs_xstrdup(iter_str(&it));
                        else if (!strcmp(k, "errCode"))
                                rec->code = iter_int32(&it);
                        else if (!strcmp(k, "errMsg"))
                                rec->msg = cs_xstrdup(iter_str(&it));
                        else if (!strcmp(k, "applied"))
                                rec->applied = BSON_ITER_HOLDS_BOOL(&it) &&
                                               bson_iter_bool(&it);
                }
                if (!rec->request)
                        rec->request = cs_xstrdup("");
        }
        if (mongoc_cursor_error(cur, &berr)) {
                set_err(errstr, errstr_size, "find operation", &berr);
                err = classify(&berr);
                *foundp = false;
                cs_op_record_clear(rec);
        }
        mongoc_cursor_destroy(cur);
        unlease(store, &l);
        bson_destroy(filter);
        free(key);
        return err;
}

/* The ledger entry of (@p send_id, @p operation_id) made at @p at. */
static bson_t *op_doc(const char *send_id, const char *operation_id,
                      const cs_op_record_t *rec, int64_t at,
                      int64_t retention_s) {
        char *key = op_key(send_id, operation_id);
        bson_t *doc = BCON_NEW("_id", BCON_UTF8(key), "sendID",
                               BCON_UTF8(send_id), "operationID",
                               BCON_UTF8(operation_id), "request",
                               BCON_UTF8(rec->request), "applied",
                               BCON_BOOL(rec->applied), "errCode",
                               BCON_INT32(rec->code), "errMsg",
                               BCON_UTF8(rec->msg ? rec->msg : ""), "at",
                               BCON_DATE_TIME(at), "expireAt",
                               BCON_DATE_TIME(at + retention_s * 1000));
        if (rec->room_id)
                BSON_APPEND_UTF8(doc, "roomID", rec->room_id);
        free(key);
        return doc;
}

cs_err_t cs_store_put_op(cs_store_t *store, const char *send_id,
                         const char *operation_id, const cs_op_record_t *rec,
                         int64_t now, int64_t retention_s, char *errstr,
                         size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        cs_err_t err = CS_OK;
        bson_t *doc = op_doc(send_id, operation_id, rec, now, retention_s);
        lease(store, OPERATIONS, &l);
        if (!mongoc_collection_insert_one(l.coll, doc, NULL, NULL, &berr)) {
                set_err(errstr, errstr_size, "record operation", &berr);
                err = is_duplicate_key(&berr) ? CS_ERR_RACE : classify(&berr);
        }
        unlease(store, &l);
        bson_destroy(doc);
        return err;
}

/* ---- read paths of the v3 RtcService (contract section 12) ---- */

/* MongoDB's MaxTimeMSExpired: a query ran past its maxTimeMS. */
#define MONGO_MAX_TIME_EXPIRED 50

/* Appends every call @p filter finds with @p opts to @p calls. */
static cs_err_t find_calls(cs_store_t *store, const bson_t *filter,
                           const bson_t *opts, cs_call_list_t *calls,
                           char *errstr, size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        const bson_t *doc;
        cs_err_t err = CS_OK;
        lease(store, CALLS, &l);
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(l.coll, filter,
                                                                opts, NULL);
        while (mongoc_cursor_next(cur, &doc)) {
                cs_call_t *call = call_from_bson(doc);
                if (!call)
                        continue; /* a record without _id or state: not shown */
                calls->v = cs_xrealloc(calls->v, (calls->cnt + 1) * sizeof(*calls->v));
                calls->v[calls->cnt++] = call;
        }
        if (mongoc_cursor_error(cur, &berr)) {
                set_err(errstr, errstr_size, "find calls", &berr);
                err = berr.code == MONGO_MAX_TIME_EXPIRED ? CS_ERR_INVALID
                                                          : classify(&berr);
        }
        mongoc_cursor_destroy(cur);
        unlease(store, &l);
        return err;
}

void cs_call_list_clear(cs_call_list_t *calls) {
        for (size_t i = 0; i < calls->cnt; i++)
                cs_call_destroy(calls->v[i]);
        free(calls->v);
        calls->v = NULL;
        calls->cnt = 0;
}

/* Appends `_id: {$in: [ids...]}` to @p filter. */
static void append_id_in(bson_t *filter, char *const *ids, size_t n) {
        bson_t id, in;
        char idx[16];
        const char *k;
        bson_append_document_begin(filter, "_id", -1, &id);
        bson_append_array_begin(&id, "$in", -1, &in);
        for (size_t i = 0; i < n; i++) {
                bson_uint32_to_string((uint32_t)i, &k, idx, sizeof(idx));
                bson_append_utf8(&in, k, -1, ids[i], -1);
        }
        bson_append_array_end(&id, &in);
        bson_append_document_end(filter, &id);
}

cs_err_t cs_store_load_calls(cs_store_t *store, char *const *ids, size_t n,
                             cs_call_list_t *calls, char *errstr,
                             size_t errstr_size) {
        bson_t filter = BSON_INITIALIZER;
        append_id_in(&filter, ids, n);
        cs_err_t err = find_calls(store, &filter, NULL, calls, errstr, errstr_size);
        bson_destroy(&filter);
        return err;
}

cs_err_t cs_store_load_pending_invite(cs_store_t *store, const char *user_id,
                                      int64_t now, cs_call_t **callp,
                                      char *errstr, size_t errstr_size) {
        cs_call_list_t calls = {0};
        bson_t *filter = BCON_NEW(
                "participants", "{", "$elemMatch", "{", "userID",
                BCON_UTF8(user_id), "state", BCON_UTF8("ringing"), "ringUntil",
                "{", "$gt", BCON_DATE_TIME(now), "}", "role",
                BCON_UTF8("invitee"), "}", "}", "state", "{", "$in", "[",
                BCON_UTF8("ringing"), BCON_UTF8("active"), "]", "}");
        bson_t *opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(-1), "}",
                                "limit", BCON_INT64(1), "hint",
                                BCON_UTF8("user_ringing"));
        cs_err_t err = find_calls(store, filter, opts, &calls, errstr, errstr_size);
        *callp = NULL;
        if (!err && calls.cnt) {
                *callp = calls.v[0];
                calls.cnt = 0;
        }
        cs_call_list_clear(&calls);
        bson_destroy(opts);
        bson_destroy(filter);
        return err;
}

/* The history filter of @p user_id: calls they took part in and did not
 * hide, narrowed by @p q. */
static bson_t *history_filter(const char *user_id, const cs_records_query_t *q) {
        bson_t *f = BCON_NEW("participants.userID", BCON_UTF8(user_id),
                             "hiddenFor", "{", "$ne", BCON_UTF8(user_id), "}");
        if (q->session_type)
                BSON_APPEND_INT32(f, "sessionType", q->session_type);
        if (q->send_id && q->send_id[0])
                BSON_APPEND_UTF8(f, "inviterUserID", q->send_id);
        if (q->recv_id && q->recv_id[0]) {
                bson_t pe, em;
                bson_append_document_begin(f, "participants", -1, &pe);
                bson_append_document_begin(&pe, "$elemMatch", -1, &em);
                BSON_APPEND_UTF8(&em, "userID", q->recv_id);
                BSON_APPEND_UTF8(&em, "role", "invitee");
                bson_append_document_end(&pe, &em);
                bson_append_document_end(f, &pe);
        }
        if (q->start_ms || q->end_ms) {
                bson_t c;
                bson_append_document_begin(f, "createdAt", -1, &c);
                if (q->start_ms)
                        BSON_APPEND_DATE_TIME(&c, "$gte", q->start_ms);
                if (q->end_ms)
                        BSON_APPEND_DATE_TIME(&c, "$lte", q->end_ms);
                bson_append_document_end(f, &c);
        }
        return f;
}

cs_err_t cs_store_user_history(cs_store_t *store, const char *user_id,
                               const cs_records_query_t *q, int64_t skip,
                               int64_t limit, int64_t count_max,
                               cs_call_list_t *calls, int64_t *totalp,
                               char *errstr, size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        bson_t *filter = history_filter(user_id, q);
        /* maxTimeMS bounds what no index bound can: calls the user hid are
         * filtered after the fetch, so a user who hid most of a long
         * history makes a page walk them. */
        bson_t *opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(-1), "}",
                                "skip", BCON_INT64(skip), "limit",
                                BCON_INT64(limit), "hint", BCON_UTF8("user_calls"),
                                "maxTimeMS", BCON_INT64(CS_STORE_HISTORY_MAX_MS));
        bson_t *count_opts = BCON_NEW("limit", BCON_INT64(count_max), "hint",
                                      BCON_UTF8("user_calls"), "maxTimeMS",
                                      BCON_INT64(CS_STORE_HISTORY_MAX_MS));
        cs_err_t err = find_calls(store, filter, opts, calls, errstr, errstr_size);
        if (!err) {
                lease(store, CALLS, &l);
                int64_t n = mongoc_collection_count_documents(l.coll, filter,
                                                              count_opts, NULL,
                                                              NULL, &berr);
                unlease(store, &l);
                if (n < 0) {
                        set_err(errstr, errstr_size, "count calls", &berr);
                        err = berr.code == MONGO_MAX_TIME_EXPIRED ? CS_ERR_INVALID
                                                                  : classify(&berr);
                        cs_call_list_clear(calls);
                } else {
                        *totalp = n;
                }
        }
        bson_destroy(count_opts);
        bson_destroy(opts);
        bson_destroy(filter);
        return err;
}

cs_err_t cs_store_hide_calls(cs_store_t *store, const char *user_id,
                             char *const *ids, size_t n, char *errstr,
                             size_t errstr_size) {
        lease_t l;
        bson_error_t berr;
        bson_t filter = BSON_INITIALIZER;
        cs_err_t err = CS_OK;
        append_id_in(&filter, ids, n);
        /* only ended calls the user took part in */
        BSON_APPEND_UTF8(&filter, "state", "ended");
        BSON_APPEND_UTF8(&filter, "participants.userID", user_id);
        bson_t *update = BCON_NEW("$addToSet", "{", "hiddenFor", BCON_UTF8(user_id), "}");
        lease(store, CALLS, &l);
        if (!mongoc_collection_update_many(l.coll, &filter, update, NULL, NULL,
                                           &berr)) {
                set_err(errstr, errstr_size, "hide calls", &berr);
                err = classify(&berr);
        }
        unlease(store, &l);
        bson_destroy(update);
        bson_destroy(&filter);
        return err;
}
