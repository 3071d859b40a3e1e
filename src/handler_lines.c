/*
 * handler_lines.c: busy lines.
 *
 * A user's line (and a group's) is a document in `lines` claimed with an
 * insert on its unique _id. Every claim has an identity, derived from the
 * call, the line and the command that claims it, so that a retry or a
 * redelivery of that command finds its own claim. The identity is written
 * with the participant (lineClaim) or the call (groupClaim) in the same
 * conditional update that places them in the call, and every takeover and
 * release is conditional on it: a late release cannot free a newer claim.
 *
 * A line is busy while the user is live in the holding call (for a group
 * line: while the holding call is live). A claim that holds nothing is
 * stale, but only once it is older than the grace: until then the worker
 * that made it may be about to write its call. Stale claims are taken over,
 * so a crash between claim and call write cannot leave anyone busy for ever.
 * A claim the holding call records (lineClaim, groupClaim) was written by
 * its maker already: once it holds nothing it is taken over at once, so a
 * release that failed (or a worker that stopped before it) does not keep a
 * user whose call ended busy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "handler_int.h"
#include "hash.h"
#include "log.h"

/* A claim that holds nothing is respected this long (ms): its call may not
 * be written yet. */
#define CLAIM_GRACE_MS 60000

static void line_id(char out[HD_LINE_ID_SIZE], const char *kind,
                    const char *id) {
        snprintf(out, HD_LINE_ID_SIZE, "%s:%s", kind, id);
}

void hd_claim_id(const cs_handler_t *h, const char *room_id, const char *kind,
                 const char *id, const char *sender, const char *operation_id,
                 char out[HD_CLAIM_SIZE]) {
        const char *parts[] = {"claim", room_id, kind, id, sender, operation_id};
        char hex[33];
        cs_hash_hex128(h->room_key, parts, CS_ARRAY_SIZE(parts), hex);
        snprintf(out, HD_CLAIM_SIZE, "c-%s", hex);
}

/* Does the holder's call still hold the line (*livep)? *recordedp: the
 * call records the holder's claim, so its maker is done writing it. */
static cs_err_t holder_is_live(cs_handler_t *h, const char *kind,
                               const char *id, const cs_line_holder_t *holder,
                               bool *livep, bool *recordedp, char *errstr,
                               size_t errstr_size) {
        cs_call_t *call = NULL;
        *livep = false;
        *recordedp = false;
        cs_err_t err = cs_store_load_call(h->store, holder->room_id, &call,
                                          errstr, errstr_size);
        if (err == CS_ERR_UNDECODABLE)
                return CS_OK; /* an unreadable record holds nothing */
        if (err || !call)
                return err;
        const char *recorded;
        if (strcmp(kind, "user") == 0) {
                const cs_participant_t *part = cs_call_find(call, id);
                *livep = cs_call_user_is_live(call, id);
                recorded = part ? part->line_claim : NULL;
        } else {
                *livep = cs_call_is_live(call);
                recorded = call->group_claim;
        }
        *recordedp = recorded && holder->claim[0] &&
                     strcmp(recorded, holder->claim) == 0;
        cs_call_destroy(call);
        return CS_OK;
}

/* Someone else holds line (@p kind, @p id) per @p holder: is it busy, or
 * stale and taken over under @p claim (*tookp)? */
static cs_err_t settle(cs_handler_t *h, const char *kind, const char *id,
                       const cs_line_holder_t *holder, const char *room_id,
                       const char *claim, int64_t now, bool *busyp,
                       bool *tookp, char *errstr, size_t errstr_size) {
        char lid[HD_LINE_ID_SIZE];
        bool live, recorded;
        *busyp = false;
        *tookp = false;
        cs_err_t err = holder_is_live(h, kind, id, holder, &live, &recorded,
                                      errstr, errstr_size);
        if (err)
                return err;
        /* The grace is for a claim whose call may not be written yet; one
         * its call records (a release that failed or never came) holds
         * nothing once the user's part ended: taken over at once. */
        if (live || (!recorded && now - holder->since < CLAIM_GRACE_MS)) {
                *busyp = true;
                return CS_OK;
        }
        line_id(lid, kind, id);
        return cs_store_takeover_line(h->store, lid, holder->claim, room_id,
                                      claim, now, tookp, errstr, errstr_size);
}

cs_err_t hd_hold_line(cs_handler_t *h, const char *kind, const char *id,
                      const char *room_id, const char *claim, int64_t now,
                      bool *busyp, char *errstr, size_t errstr_size) {
        char lid[HD_LINE_ID_SIZE];
        cs_line_holder_t holder = {0};
        cs_err_t err = CS_OK;
        line_id(lid, kind, id);
        *busyp = false;
        for (int attempt = 0; attempt < 3; attempt++) {
                bool took;
                cs_line_holder_clear(&holder);
                err = cs_store_claim_line(h->store, lid, room_id, claim, now,
                                          &holder, errstr, errstr_size);
                if (err || !holder.room_id)
                        goto done;
                err = settle(h, kind, id, &holder, room_id, claim, now, busyp,
                             &took, errstr, errstr_size);
                if (err || took || *busyp)
                        goto done;
        }
        snprintf(errstr, errstr_size, "line %s is contended", lid);
        err = CS_ERR_TRANSIENT;
done:
        cs_line_holder_clear(&holder);
        return err;
}

cs_err_t hd_claim_lines(cs_handler_t *h, const char *room_id, hd_line_t *lines,
                        size_t n, int64_t now, char *errstr,
                        size_t errstr_size) {
        char (*ids)[HD_LINE_ID_SIZE] = cs_xcalloc(n ? n : 1, sizeof(*ids));
        const char **idv = cs_xcalloc(n ? n : 1, sizeof(*idv));
        const char **claims = cs_xcalloc(n ? n : 1, sizeof(*claims));
        bool *fresh = cs_xcalloc(n ? n : 1, sizeof(*fresh));
        cs_line_holder_t *holders = cs_xcalloc(n ? n : 1, sizeof(*holders));
        for (size_t i = 0; i < n; i++) {
                line_id(ids[i], lines[i].kind, lines[i].id);
                idv[i] = ids[i];
                claims[i] = lines[i].claim;
        }
        cs_err_t err = cs_store_claim_lines(h->store, n, idv, room_id, claims,
                                            now, fresh, holders, errstr,
                                            errstr_size);
        for (size_t i = 0; i < n; i++) {
                hd_line_t *line = &lines[i];
                line->held = !err && !holders[i].room_id;
                line->fresh = line->held && fresh[i];
                line->busy = false;
                if (err || line->held || !line->settle)
                        continue;
                bool took;
                err = settle(h, line->kind, line->id, &holders[i], room_id,
                             line->claim, now, &line->busy, &took, errstr,
                             errstr_size);
                /* A takeover that lost (the holder changed): the slow way. */
                if (!err && !line->busy && !took)
                        err = hd_hold_line(h, line->kind, line->id, room_id,
                                           line->claim, now, &line->busy,
                                           errstr, errstr_size);
                line->held = !err && !line->busy;
                line->fresh = line->held;
        }
        for (size_t i = 0; i < n; i++)
                cs_line_holder_clear(&holders[i]);
        free(holders);
        free(fresh);
        free(claims);
        free(idv);
        free(ids);
        return err;
}

cs_err_t hd_release_line(cs_handler_t *h, const char *kind, const char *id,
                         const char *claim, char *errstr, size_t errstr_size) {
        char lid[HD_LINE_ID_SIZE];
        line_id(lid, kind, id);
        return cs_store_release_line(h->store, lid, claim ? claim : "", errstr,
                                     errstr_size);
}

/* The lines a change releases, gathered for one round trip. */
typedef struct releases_s {
        char (*ids)[HD_LINE_ID_SIZE];
        const char **claims;
        size_t cnt;
} releases_t;

static void releases_init(releases_t *r, size_t max) {
        r->ids = cs_xcalloc(max ? max : 1, sizeof(*r->ids));
        r->claims = cs_xcalloc(max ? max : 1, sizeof(*r->claims));
        r->cnt = 0;
}

static void releases_add(releases_t *r, const char *kind, const char *id,
                         const char *claim) {
        line_id(r->ids[r->cnt], kind, id);
        r->claims[r->cnt++] = claim ? claim : "";
}

/* Releases the gathered lines in one deleteMany; a failure is logged (each
 * line is taken over once stale) and never fails the change, which is
 * written already. */
static void releases_apply(cs_handler_t *h, const cs_call_t *call, releases_t *r) {
        char errstr[256];
        const char **ids = cs_xcalloc(r->cnt ? r->cnt : 1, sizeof(*ids));
        for (size_t i = 0; i < r->cnt; i++)
                ids[i] = r->ids[i];
        if (cs_store_release_lines(h->store, ids, r->claims, r->cnt, errstr,
                                   sizeof(errstr)))
                cs_log(CS_LOG_WARN, "LINES",
                       "room %s: %zu line(s) not released (%s); each is taken "
                       "over once stale", call->room_id, r->cnt, errstr);
        free(ids);
        free(r->ids);
        free(r->claims);
}

void hd_release_effect(cs_handler_t *h, const cs_call_t *call,
                       const cs_effect_t *eff) {
        releases_t r;
        releases_init(&r, eff->release.cnt + 1);
        for (size_t i = 0; i < eff->release.cnt; i++) {
                const cs_participant_t *part = cs_call_find(call, eff->release.v[i]);
                if (part)
                        releases_add(&r, "user", part->user_id, part->line_claim);
        }
        if (eff->release_group && call->group_id[0])
                releases_add(&r, "group", call->group_id, call->group_claim);
        releases_apply(h, call, &r);
        /* Tokens cannot be revoked: take the users out of the room. */
        for (size_t i = 0; i < eff->release.cnt; i++)
                cs_roomsvc_remove(h->roomsvc, call->room_id, eff->release.v[i]);
        if (eff->release_group)
                cs_roomsvc_delete_room(h->roomsvc, call->room_id);
}

void hd_release_finished(cs_handler_t *h, const cs_call_t *call) {
        releases_t r;
        releases_init(&r, call->part_cnt + 1);
        for (size_t i = 0; i < call->part_cnt; i++) {
                const cs_participant_t *part = &call->parts[i];
                /* Busy participants never held a line of this call. */
                if (part->state != CS_PART_BUSY &&
                    !cs_call_user_is_live(call, part->user_id))
                        releases_add(&r, "user", part->user_id, part->line_claim);
        }
        if (!cs_call_is_live(call) && call->group_id[0])
                releases_add(&r, "group", call->group_id, call->group_claim);
        releases_apply(h, call, &r);
        for (size_t i = 0; i < call->part_cnt; i++) {
                const cs_participant_t *part = &call->parts[i];
                if (part->state != CS_PART_BUSY &&
                    !cs_call_user_is_live(call, part->user_id))
                        cs_roomsvc_remove(h->roomsvc, call->room_id, part->user_id);
        }
        if (!cs_call_is_live(call))
                cs_roomsvc_delete_room(h->roomsvc, call->room_id);
}
