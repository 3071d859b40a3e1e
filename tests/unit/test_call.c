/*
 * test_call.c: unit tests for the call state machine (src/call.c) against
 * contract section 5/7 and notes/behaviour.md.
 *
 * Proves every decision call.c takes, with exact reply codes, call and
 * participant states, end reasons, event types, notification recipients in
 * order, released lines and release_group:
 *   - cs_call_new: the inviter is an accepted participant, the deadline;
 *   - cs_call_invite on a new call (all ringing, some busy, all busy = 1006
 *     and a call ended busy) and on a live call (by the inviter or an
 *     accepted invitee; 1001 / 1002 / 1004 refusals; re-inviting a user
 *     whose part ended rings them again);
 *   - cs_call_act accept / reject / cancel / hung_up in 1:1 and group calls,
 *     the end rules, and that every refusal leaves the call byte-for-byte
 *     unchanged (a full dump of the record is compared);
 *   - cs_call_expire, cs_call_check_token, cs_call_check_room_lookup;
 *   - the names stored in MongoDB and their parsers, cs_call_user_is_live,
 *     cs_call_next_ring_deadline, cs_call_find_event, string vectors;
 *   - kept refusals and when the record alone knows a pair (issue 8).
 * Every call is destroyed and every effect cleared (LeakSanitizer).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "test.h"

TEST_MAIN_DEFS

#define T0 ((int64_t)1795270000000)
#define MAX_INV ((size_t)16)

static const uint8_t alice_meta[] = {0x0a, 0x05, 'a', 'l', 'i', 'c', 'e'};
static const uint8_t bob_meta[] = {0x0a, 0x03, 'b', 'o', 'b', 0x00, 0xff};

/* ---- helpers ---------------------------------------------------------- */

/* A string vector from "a,b,c" ("" is the empty vector). */
static cs_strv_t strv(const char *csv) {
        cs_strv_t sv = {0};
        char buf[128];
        size_t n = 0;
        for (const char *p = csv;; p++) {
                if (*p == ',' || *p == '\0') {
                        if (n) {
                                buf[n] = '\0';
                                cs_strv_add(&sv, buf);
                                n = 0;
                        }
                        if (*p == '\0')
                                break;
                } else if (n < sizeof(buf) - 1) {
                        buf[n++] = *p;
                }
        }
        return sv;
}

/* Rotating static buffers so a few results can be alive in one check. */
static char *scratch(void) {
        static char bufs[8][2048];
        static size_t next;
        char *b = bufs[next++ % 8];
        b[0] = '\0';
        return b;
}

static void cat(char *buf, const char *s) {
        size_t len = strlen(buf);
        snprintf(buf + len, 2048 - len, "%s", s);
}

/* "a,b,c" in vector order. */
static const char *join(const cs_strv_t *sv) {
        char *b = scratch();
        for (size_t i = 0; i < sv->cnt; i++) {
                if (i)
                        cat(b, ",");
                cat(b, sv->v[i]);
        }
        return b;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a,b,c" sorted: for lists whose order the contract leaves open. */
static const char *join_sorted(const cs_strv_t *sv) {
        char **v = calloc(sv->cnt + 1, sizeof(*v));
        if (!v)
                abort();
        for (size_t i = 0; i < sv->cnt; i++)
                v[i] = sv->v[i];
        qsort(v, sv->cnt, sizeof(*v), cmp_str);
        cs_strv_t tmp = {v, sv->cnt};
        const char *s = join(&tmp);
        free(v);
        return s;
}

/* "user=state,..." in participant order. */
static const char *parts_str(const cs_call_t *call) {
        char *b = scratch();
        for (size_t i = 0; i < call->part_cnt; i++) {
                if (i)
                        cat(b, ",");
                cat(b, call->parts[i].user_id);
                cat(b, "=");
                cat(b, cs_part_state_name(call->parts[i].state));
        }
        return b;
}

#define EXPECT_LIST(sv, csv) TEST_STREQ(join(sv), csv)
#define EXPECT_SET(sv, sorted_csv) TEST_STREQ(join_sorted(sv), sorted_csv)
#define EXPECT_PARTS(call, csv) TEST_STREQ(parts_str(call), csv)
#define EXPECT_EFFECT_EMPTY(eff)                                             \
        do {                                                                 \
                TEST_ASSERT((eff)->event == NULL, "no event expected");     \
                TEST_INTEQ((eff)->release.cnt, 0);                           \
                TEST_ASSERT(!(eff)->release_group, "no group release");     \
        } while (0)

/* A growable string for the full dump of a call record. */
typedef struct sb_s {
        char *s;
        size_t len;
        size_t cap;
} sb_t;

static void sb_printf(sb_t *sb, const char *fmt, ...) CS_PRINTF(2, 3);
static void sb_printf(sb_t *sb, const char *fmt, ...) {
        for (;;) {
                va_list ap;
                va_start(ap, fmt);
                int n = vsnprintf(sb->s ? sb->s + sb->len : NULL,
                                  sb->s ? sb->cap - sb->len : 0, fmt, ap);
                va_end(ap);
                if (n < 0)
                        abort();
                if (sb->s && sb->len + (size_t)n < sb->cap) {
                        sb->len += (size_t)n;
                        return;
                }
                sb->cap = (sb->cap + (size_t)n + 1) * 2;
                sb->s = realloc(sb->s, sb->cap);
                if (!sb->s)
                        abort();
                sb->s[sb->len] = '\0';
        }
}

static void sb_hex(sb_t *sb, const uint8_t *p, size_t len) {
        sb_printf(sb, "[%zu:", len);
        for (size_t i = 0; i < len; i++)
                sb_printf(sb, "%02x", p[i]);
        sb_printf(sb, "]");
}

static void sb_strv(sb_t *sb, const cs_strv_t *sv) {
        sb_printf(sb, "{");
        for (size_t i = 0; i < sv->cnt; i++)
                sb_printf(sb, "%s%s", i ? "," : "", sv->v[i]);
        sb_printf(sb, "}");
}

/* Every field of the record, owned by the caller. */
static char *dump_call(const cs_call_t *c) {
        sb_t sb = {0};
        sb_printf(&sb, "room=%s state=%d end=%d inviter=%s group=%s media=%s "
                       "custom=%s session=%d platform=%d timeout=%d "
                       "created=%lld deadline=%lld accepted=%lld ended=%lld "
                       "rev=%lld stored=%zu parts=%zu events=%zu\n",
                  c->room_id, (int)c->state, (int)c->end_reason,
                  c->inviter_user_id, c->group_id, c->media_type,
                  c->custom_data, c->session_type, c->platform_id,
                  c->timeout_s, (long long)c->created_at,
                  (long long)c->deadline, (long long)c->accepted_at,
                  (long long)c->ended_at, (long long)c->rev,
                  c->stored_event_cnt, c->part_cnt, c->event_cnt);
        sb_printf(&sb, "pending_timer_op=%s pending_timer_at=%lld\n",
                  c->pending_timer_op ? c->pending_timer_op : "(none)",
                  (long long)c->pending_timer_at);
        for (size_t i = 0; i < c->part_cnt; i++) {
                const cs_participant_t *p = &c->parts[i];
                sb_printf(&sb, "part %s inviter=%d state=%d platform=%d "
                               "updated=%lld ring=%lld meta=",
                          p->user_id, (int)p->inviter, (int)p->state,
                          p->platform_id, (long long)p->updated_at,
                          (long long)p->ring_until);
                sb_hex(&sb, p->meta, p->meta_len);
                sb_printf(&sb, "\n");
        }
        for (size_t i = 0; i < c->event_cnt; i++) {
                const cs_event_t *e = &c->events[i];
                sb_printf(&sb, "event %d user=%s platform=%d op=%s at=%lld "
                               "code=%d notify=",
                          (int)e->type, e->user_id, e->platform_id,
                          e->operation_id, (long long)e->at, e->code);
                sb_strv(&sb, &e->notify);
                sb_printf(&sb, " busy=");
                sb_strv(&sb, &e->busy);
                sb_printf(&sb, " content=");
                sb_hex(&sb, e->content, e->content_len);
                sb_printf(&sb, "\n");
        }
        return sb.s;
}

/* A new call by alice (platform 1, 30 s) at T0: 1:1 when group is "". */
static cs_call_t *mk_call(const char *group, int32_t session) {
        return cs_call_new("room-1", "alice", 1, group, "video", "cd",
                           session, 30, T0, alice_meta, sizeof(alice_meta));
}

/* Invites that must succeed with code 0. */
static void must_invite(cs_call_t *c, const char *sender, const char *op,
                        const char *invitees, const char *busy,
                        int32_t timeout_s, int64_t now) {
        cs_strv_t inv = strv(invitees), b = strv(busy);
        cs_effect_t eff;
        cs_call_invite(c, sender, 1, op, &inv, &b, timeout_s, MAX_INV, now,
                       &eff);
        TEST_ASSERT(eff.code == CS_OK, "setup invite %s by %s: code %d", op,
                    sender, (int)eff.code);
        cs_effect_clear(&eff);
        cs_strv_clear(&inv);
        cs_strv_clear(&b);
}

static void act(cs_call_t *c, cs_event_type_t type, const char *user,
                int32_t platform, const char *op, int64_t now,
                cs_effect_t *eff) {
        cs_action_t a = {.type = type,
                         .user_id = user,
                         .platform_id = platform,
                         .operation_id = op,
                         .now = now};
        cs_call_act(c, &a, eff);
}

/* Actions that must succeed. */
static void must_act(cs_call_t *c, cs_event_type_t type, const char *user,
                     const char *op, int64_t now) {
        cs_effect_t eff;
        act(c, type, user, 1, op, now, &eff);
        TEST_ASSERT(eff.code == CS_OK, "setup %s by %s: code %d",
                    cs_event_type_name(type), user, (int)eff.code);
        cs_effect_clear(&eff);
}

/* ---- setups shared by the refusal tables ------------------------------- */

typedef enum setup_e {
        SET_1TO1_RINGING,    /* alice -> bob, bob ringing */
        SET_1TO1_ACTIVE,     /* bob accepted */
        SET_1TO1_REJECTED,   /* bob rejected: ended rejected */
        SET_1TO1_CANCELLED,  /* alice cancelled: ended cancelled */
        SET_GROUP_MIXED,     /* active: see build() */
        SET_GROUP_LEFT,      /* active, the inviter left */
        SET_ROOM_FINISHED,   /* group-mixed ended from outside call.c
                                (room_finished): parts still live */
} setup_t;

static const char *const setup_names[] = {
        "1to1-ringing", "1to1-active", "1to1-rejected", "1to1-cancelled",
        "group-mixed", "group-inviter-left", "room-finished"};

static cs_call_t *build(setup_t s) {
        cs_call_t *c;
        switch (s) {
        case SET_1TO1_RINGING:
        case SET_1TO1_ACTIVE:
        case SET_1TO1_REJECTED:
        case SET_1TO1_CANCELLED:
                c = mk_call("", 1);
                must_invite(c, "alice", "op-inv", "bob", "", 30, T0);
                if (s == SET_1TO1_ACTIVE)
                        must_act(c, CS_EV_ACCEPT, "bob", "op-acc", T0 + 1000);
                else if (s == SET_1TO1_REJECTED)
                        must_act(c, CS_EV_REJECT, "bob", "op-rej", T0 + 1000);
                else if (s == SET_1TO1_CANCELLED)
                        must_act(c, CS_EV_CANCEL, "alice", "op-can", T0 + 1000);
                break;
        case SET_GROUP_MIXED:
        case SET_ROOM_FINISHED: {
                /* alice accepted, bob accepted, carol rejected, dave
                 * ringing, erin busy, frank timed out. */
                c = mk_call("g1", 2);
                must_invite(c, "alice", "op-inv", "bob,carol,dave,erin", "erin",
                            30, T0);
                must_act(c, CS_EV_ACCEPT, "bob", "op-acc", T0 + 1000);
                must_act(c, CS_EV_REJECT, "carol", "op-rej", T0 + 2000);
                must_invite(c, "bob", "op-inv2", "frank", "", 1, T0 + 3000);
                cs_effect_t eff;
                TEST_ASSERT(cs_call_expire(c, "timer-1", T0 + 5000, &eff),
                            "frank is due");
                cs_effect_clear(&eff);
                if (s == SET_ROOM_FINISHED) {
                        c->state = CS_CALL_ENDED;
                        c->end_reason = CS_END_ROOM_FINISHED;
                        c->ended_at = T0 + 6000;
                }
                break;
        }
        case SET_GROUP_LEFT:
                /* alice left, bob and carol accepted, dave ringing. */
                c = mk_call("g1", 2);
                must_invite(c, "alice", "op-inv", "bob,carol,dave", "", 30, T0);
                must_act(c, CS_EV_ACCEPT, "bob", "op-acc1", T0 + 1000);
                must_act(c, CS_EV_ACCEPT, "carol", "op-acc2", T0 + 2000);
                must_act(c, CS_EV_HUNG_UP, "alice", "op-hup", T0 + 3000);
                break;
        default:
                abort();
        }
        c->rev = 7;
        return c;
}

static void test_setups(void) {
        static const struct {
                setup_t setup;
                cs_call_state_t state;
                cs_end_reason_t reason;
                const char *parts;
        } rows[] = {
                {SET_1TO1_RINGING, CS_CALL_RINGING, CS_END_NONE,
                 "alice=accepted,bob=ringing"},
                {SET_1TO1_ACTIVE, CS_CALL_ACTIVE, CS_END_NONE,
                 "alice=accepted,bob=accepted"},
                {SET_1TO1_REJECTED, CS_CALL_ENDED, CS_END_REJECTED,
                 "alice=left,bob=rejected"},
                {SET_1TO1_CANCELLED, CS_CALL_ENDED, CS_END_CANCELLED,
                 "alice=left,bob=cancelled"},
                {SET_GROUP_MIXED, CS_CALL_ACTIVE, CS_END_NONE,
                 "alice=accepted,bob=accepted,carol=rejected,dave=ringing,"
                 "erin=busy,frank=timeout"},
                {SET_GROUP_LEFT, CS_CALL_ACTIVE, CS_END_NONE,
                 "alice=left,bob=accepted,carol=accepted,dave=ringing"},
                {SET_ROOM_FINISHED, CS_CALL_ENDED, CS_END_ROOM_FINISHED,
                 "alice=accepted,bob=accepted,carol=rejected,dave=ringing,"
                 "erin=busy,frank=timeout"},
        };
        for (size_t i = 0; i < CS_ARRAY_SIZE(rows); i++) {
                cs_call_t *c = build(rows[i].setup);
                TEST_ASSERT(c->state == rows[i].state, "%s: state %s",
                            setup_names[rows[i].setup],
                            cs_call_state_name(c->state));
                TEST_INTEQ(c->end_reason, rows[i].reason);
                EXPECT_PARTS(c, rows[i].parts);
                cs_call_destroy(c);
        }
}

/* ---- names ------------------------------------------------------------ */

static void test_names(void) {
        static const struct {
                cs_call_state_t v;
                const char *name;
        } states[] = {{CS_CALL_RINGING, "ringing"},
                      {CS_CALL_ACTIVE, "active"},
                      {CS_CALL_ENDED, "ended"}};
        for (size_t i = 0; i < CS_ARRAY_SIZE(states); i++) {
                cs_call_state_t v = (cs_call_state_t)99;
                TEST_STREQ(cs_call_state_name(states[i].v), states[i].name);
                TEST_ASSERT(cs_call_state_parse(states[i].name, &v), "%s",
                            states[i].name);
                TEST_INTEQ(v, states[i].v);
        }

        static const struct {
                cs_end_reason_t v;
                const char *name;
        } reasons[] = {{CS_END_CANCELLED, "cancelled"},
                       {CS_END_REJECTED, "rejected"},
                       {CS_END_TIMEOUT, "timeout"},
                       {CS_END_HUNG_UP, "hung_up"},
                       {CS_END_BUSY, "busy"},
                       {CS_END_ROOM_FINISHED, "room_finished"}};
        for (size_t i = 0; i < CS_ARRAY_SIZE(reasons); i++) {
                cs_end_reason_t v = CS_END_NONE;
                TEST_STREQ(cs_end_reason_name(reasons[i].v), reasons[i].name);
                TEST_ASSERT(cs_end_reason_parse(reasons[i].name, &v), "%s",
                            reasons[i].name);
                TEST_INTEQ(v, reasons[i].v);
        }
        /* "no reason" is stored as null: it has the empty name and does
         * not parse. */
        TEST_STREQ(cs_end_reason_name(CS_END_NONE), "");
        {
                cs_end_reason_t v = CS_END_BUSY;
                TEST_ASSERT(!cs_end_reason_parse("", &v), "empty reason");
                TEST_INTEQ(v, CS_END_BUSY);
        }

        static const struct {
                cs_part_state_t v;
                const char *name;
        } pstates[] = {{CS_PART_RINGING, "ringing"},
                       {CS_PART_ACCEPTED, "accepted"},
                       {CS_PART_REJECTED, "rejected"},
                       {CS_PART_TIMEOUT, "timeout"},
                       {CS_PART_BUSY, "busy"},
                       {CS_PART_CANCELLED, "cancelled"},
                       {CS_PART_LEFT, "left"}};
        for (size_t i = 0; i < CS_ARRAY_SIZE(pstates); i++) {
                cs_part_state_t v = (cs_part_state_t)99;
                TEST_STREQ(cs_part_state_name(pstates[i].v), pstates[i].name);
                TEST_ASSERT(cs_part_state_parse(pstates[i].name, &v), "%s",
                            pstates[i].name);
                TEST_INTEQ(v, pstates[i].v);
        }

        static const struct {
                cs_event_type_t v;
                const char *name;
        } types[] = {{CS_EV_INVITE, "invite"}, {CS_EV_ACCEPT, "accept"},
                     {CS_EV_REJECT, "reject"}, {CS_EV_CANCEL, "cancel"},
                     {CS_EV_HUNG_UP, "hung_up"}, {CS_EV_TIMEOUT, "timeout"},
                     {CS_EV_BUSY, "busy"}};
        for (size_t i = 0; i < CS_ARRAY_SIZE(types); i++) {
                cs_event_type_t v = (cs_event_type_t)99;
                TEST_STREQ(cs_event_type_name(types[i].v), types[i].name);
                TEST_ASSERT(cs_event_type_parse(types[i].name, &v), "%s",
                            types[i].name);
                TEST_INTEQ(v, types[i].v);
        }

        /* Unknown names (and other cases) are refused, out untouched. */
        static const char *const bogus[] = {"", "bogus", "Ringing", "ENDED",
                                            "hung-up", "hungUp", "ringing "};
        for (size_t i = 0; i < CS_ARRAY_SIZE(bogus); i++) {
                cs_call_state_t cs = CS_CALL_ACTIVE;
                cs_part_state_t ps = CS_PART_LEFT;
                cs_event_type_t et = CS_EV_BUSY;
                cs_end_reason_t er = CS_END_TIMEOUT;
                TEST_ASSERT(!cs_call_state_parse(bogus[i], &cs), "'%s'", bogus[i]);
                TEST_ASSERT(!cs_part_state_parse(bogus[i], &ps), "'%s'", bogus[i]);
                TEST_ASSERT(!cs_event_type_parse(bogus[i], &et), "'%s'", bogus[i]);
                TEST_ASSERT(!cs_end_reason_parse(bogus[i], &er), "'%s'", bogus[i]);
                TEST_INTEQ(cs, CS_CALL_ACTIVE);
                TEST_INTEQ(ps, CS_PART_LEFT);
                TEST_INTEQ(et, CS_EV_BUSY);
                TEST_INTEQ(er, CS_END_TIMEOUT);
        }
        /* Names of one enum do not parse as another's. */
        {
                cs_call_state_t cs;
                cs_event_type_t et;
                TEST_ASSERT(!cs_call_state_parse("accepted", &cs), "accepted");
                TEST_ASSERT(!cs_event_type_parse("left", &et), "left");
        }
}

/* ---- string vectors --------------------------------------------------- */

static void test_strv(void) {
        cs_strv_t sv = {0};
        TEST_ASSERT(!cs_strv_has(&sv, "a"), "empty");
        cs_strv_add(&sv, "a");
        cs_strv_add(&sv, "bb");
        cs_strv_add(&sv, "");
        TEST_INTEQ(sv.cnt, 3);
        TEST_ASSERT(cs_strv_has(&sv, "bb"), "has bb");
        TEST_ASSERT(cs_strv_has(&sv, ""), "has empty");
        TEST_ASSERT(!cs_strv_has(&sv, "b"), "no prefix match");
        EXPECT_LIST(&sv, "a,bb,");
        cs_strv_clear(&sv);
        TEST_INTEQ(sv.cnt, 0);
        TEST_ASSERT(sv.v == NULL, "cleared");
        cs_strv_clear(&sv);
}

/* ---- construction ----------------------------------------------------- */

static void test_new(void) {
        cs_call_t *c = cs_call_new("room-9", "alice", 5, "g7", "audio", "x=1",
                                   2, 45, T0, alice_meta, sizeof(alice_meta));
        TEST_STREQ(c->room_id, "room-9");
        TEST_INTEQ(c->state, CS_CALL_RINGING);
        TEST_INTEQ(c->end_reason, CS_END_NONE);
        TEST_STREQ(c->inviter_user_id, "alice");
        TEST_STREQ(c->group_id, "g7");
        TEST_STREQ(c->media_type, "audio");
        TEST_STREQ(c->custom_data, "x=1");
        TEST_INTEQ(c->session_type, 2);
        TEST_INTEQ(c->platform_id, 5);
        TEST_INTEQ(c->timeout_s, 45);
        TEST_INTEQ(c->created_at, T0);
        TEST_INTEQ(c->deadline, T0 + 45000);
        TEST_INTEQ(c->accepted_at, 0);
        TEST_INTEQ(c->ended_at, 0);
        TEST_INTEQ(c->event_cnt, 0);
        TEST_INTEQ(c->stored_event_cnt, 0);
        TEST_INTEQ(c->rev, 0);
        TEST_INTEQ(c->part_cnt, 1);
        const cs_participant_t *p = &c->parts[0];
        TEST_STREQ(p->user_id, "alice");
        TEST_ASSERT(p->inviter, "role inviter");
        TEST_INTEQ(p->state, CS_PART_ACCEPTED);
        TEST_INTEQ(p->platform_id, 5);
        TEST_INTEQ(p->updated_at, T0);
        TEST_INTEQ(p->meta_len, sizeof(alice_meta));
        TEST_ASSERT(p->meta && p->meta != alice_meta &&
                            memcmp(p->meta, alice_meta, sizeof(alice_meta)) == 0,
                    "meta copied");
        TEST_ASSERT(cs_call_find(c, "alice") == p, "find inviter");
        TEST_ASSERT(cs_call_find(c, "bob") == NULL, "find stranger");
        TEST_ASSERT(cs_call_is_live(c), "live");
        TEST_ASSERT(cs_call_user_is_live(c, "alice"), "inviter holds a line");
        TEST_INTEQ(cs_call_next_ring_deadline(c), 0);
        cs_call_destroy(c);

        /* No metadata; 1:1 call with groupID "". */
        c = cs_call_new("room-1", "alice", 1, "", "video", "", 1, 30, T0,
                        NULL, 0);
        TEST_STREQ(c->group_id, "");
        TEST_STREQ(c->custom_data, "");
        TEST_ASSERT(c->parts[0].meta == NULL, "no meta");
        TEST_INTEQ(c->parts[0].meta_len, 0);
        TEST_INTEQ(c->deadline, T0 + 30000);
        cs_call_destroy(c);
        cs_call_destroy(NULL);
}

/* ---- invite on a new call --------------------------------------------- */

static void test_invite_new_all_ringing(void) {
        cs_call_t *c = mk_call("g1", 2);
        cs_strv_t inv = strv("bob,carol"), busy = strv("");
        cs_effect_t eff;
        cs_call_invite(c, "alice", 3, "op-1", &inv, &busy, 20, MAX_INV,
                       T0 + 10, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_ASSERT(eff.event != NULL, "event");
        TEST_INTEQ(c->event_cnt, 1);
        TEST_ASSERT(eff.event == &c->events[0], "event owned by the call");
        const cs_event_t *ev = eff.event;
        TEST_INTEQ(ev->type, CS_EV_INVITE);
        TEST_STREQ(ev->user_id, "alice");
        TEST_INTEQ(ev->platform_id, 3);
        TEST_STREQ(ev->operation_id, "op-1");
        TEST_INTEQ(ev->at, T0 + 10);
        TEST_INTEQ(ev->code, 0);
        EXPECT_LIST(&ev->notify, "bob,carol,alice");
        EXPECT_LIST(&ev->busy, "");
        TEST_INTEQ(eff.release.cnt, 0);
        TEST_ASSERT(!eff.release_group, "no group release");
        TEST_INTEQ(c->state, CS_CALL_RINGING);
        EXPECT_PARTS(c, "alice=accepted,bob=ringing,carol=ringing");
        for (size_t i = 1; i < 3; i++) {
                TEST_ASSERT(!c->parts[i].inviter, "role invitee");
                TEST_INTEQ(c->parts[i].ring_until, T0 + 10 + 20000);
                TEST_INTEQ(c->parts[i].updated_at, T0 + 10);
                TEST_INTEQ(c->parts[i].platform_id, 0);
                TEST_ASSERT(c->parts[i].meta == NULL, "no invitee meta");
        }
        TEST_ASSERT(cs_call_user_is_live(c, "bob"), "bob rings");
        TEST_ASSERT(cs_call_find_op(c, "alice", "op-1") == ev, "find_op");
        TEST_ASSERT(cs_call_find_op(c, "bob", "op-1") == NULL, "other sender");
        TEST_INTEQ(cs_call_next_ring_deadline(c), T0 + 10 + 20000);
        cs_effect_clear(&eff);
        TEST_INTEQ(eff.release.cnt, 0);
        cs_strv_clear(&inv);
        cs_strv_clear(&busy);
        cs_call_destroy(c);
}

static void test_invite_new_some_busy(void) {
        cs_call_t *c = mk_call("g1", 2);
        cs_strv_t inv = strv("bob,carol,dave"), busy = strv("carol");
        cs_effect_t eff;
        cs_call_invite(c, "alice", 1, "op-1", &inv, &busy, 30, MAX_INV, T0,
                       &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_ASSERT(eff.event != NULL, "event");
        TEST_INTEQ(eff.event->type, CS_EV_INVITE);
        TEST_INTEQ(eff.event->code, 0);
        /* Busy invitees get no notification. */
        EXPECT_LIST(&eff.event->notify, "bob,dave,alice");
        EXPECT_LIST(&eff.event->busy, "carol");
        TEST_INTEQ(eff.release.cnt, 0);
        TEST_ASSERT(!eff.release_group, "no group release");
        TEST_INTEQ(c->state, CS_CALL_RINGING);
        EXPECT_PARTS(c, "alice=accepted,bob=ringing,carol=busy,dave=ringing");
        const cs_participant_t *carol = cs_call_find(c, "carol");
        TEST_INTEQ(carol->ring_until, 0);
        TEST_INTEQ(cs_call_find(c, "dave")->ring_until, T0 + 30000);
        TEST_ASSERT(!cs_call_user_is_live(c, "carol"), "busy holds no line");
        cs_effect_clear(&eff);
        cs_strv_clear(&inv);
        cs_strv_clear(&busy);
        cs_call_destroy(c);
}

static void test_invite_new_all_busy(void) {
        static const struct {
                const char *group;
                int32_t session;
                const char *invitees;
                const char *parts;
        } rows[] = {
                {"", 1, "bob", "alice=left,bob=busy"},
                {"g1", 2, "bob,carol", "alice=left,bob=busy,carol=busy"},
        };
        for (size_t i = 0; i < CS_ARRAY_SIZE(rows); i++) {
                cs_call_t *c = mk_call(rows[i].group, rows[i].session);
                cs_strv_t inv = strv(rows[i].invitees);
                cs_strv_t busy = strv(rows[i].invitees);
                cs_effect_t eff;
                cs_call_invite(c, "alice", 1, "op-1", &inv, &busy, 30, MAX_INV,
                               T0 + 5, &eff);
                TEST_INTEQ(eff.code, CS_ERR_ALL_BUSY);
                TEST_ASSERT(eff.why != NULL, "why");
                TEST_ASSERT(eff.event != NULL, "busy event recorded");
                TEST_INTEQ(c->event_cnt, 1);
                const cs_event_t *ev = eff.event;
                TEST_INTEQ(ev->type, CS_EV_BUSY);
                TEST_INTEQ(ev->code, CS_ERR_ALL_BUSY);
                TEST_STREQ(ev->user_id, "alice");
                TEST_STREQ(ev->operation_id, "op-1");
                /* No notifications for an all-busy invite. */
                EXPECT_LIST(&ev->notify, "");
                EXPECT_LIST(&ev->busy, rows[i].invitees);
                TEST_INTEQ(c->state, CS_CALL_ENDED);
                TEST_INTEQ(c->end_reason, CS_END_BUSY);
                TEST_INTEQ(c->ended_at, T0 + 5);
                EXPECT_PARTS(c, rows[i].parts);
                /* Only the inviter held a line in this call. */
                EXPECT_LIST(&eff.release, "alice");
                TEST_ASSERT(eff.release_group, "group line ends");
                TEST_ASSERT(!cs_call_user_is_live(c, "alice"), "alice free");
                TEST_INTEQ(cs_call_next_ring_deadline(c), 0);
                cs_effect_clear(&eff);
                TEST_INTEQ(eff.release.cnt, 0);
                TEST_ASSERT(!eff.release_group, "cleared");
                cs_strv_clear(&inv);
                cs_strv_clear(&busy);
                cs_call_destroy(c);
        }
}

/* ---- invite on a live call -------------------------------------------- */

static void test_invite_live_by_inviter(void) {
        cs_call_t *c = mk_call("g1", 2);
        must_invite(c, "alice", "op-1", "bob,carol", "", 30, T0);
        must_act(c, CS_EV_ACCEPT, "bob", "op-2", T0 + 1000);
        int64_t deadline = c->deadline;

        cs_strv_t inv = strv("dave,erin"), busy = strv("erin");
        cs_effect_t eff;
        int64_t t1 = T0 + 4000;
        cs_call_invite(c, "alice", 6, "op-3", &inv, &busy, 10, MAX_INV, t1,
                       &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(c->event_cnt, 3);
        TEST_INTEQ(eff.event->type, CS_EV_INVITE);
        TEST_STREQ(eff.event->user_id, "alice");
        TEST_INTEQ(eff.event->platform_id, 6);
        EXPECT_LIST(&eff.event->notify, "dave,alice");
        EXPECT_LIST(&eff.event->busy, "erin");
        TEST_INTEQ(eff.release.cnt, 0);
        TEST_ASSERT(!eff.release_group, "no group release");
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        TEST_INTEQ(c->deadline, deadline);
        EXPECT_PARTS(c, "alice=accepted,bob=accepted,carol=ringing,"
                        "dave=ringing,erin=busy");
        TEST_INTEQ(cs_call_find(c, "dave")->ring_until, t1 + 10000);
        TEST_INTEQ(cs_call_find(c, "erin")->ring_until, 0);
        TEST_INTEQ(cs_call_find(c, "carol")->ring_until, T0 + 30000);
        TEST_INTEQ(cs_call_next_ring_deadline(c), t1 + 10000);
        cs_effect_clear(&eff);
        cs_strv_clear(&inv);
        cs_strv_clear(&busy);

        /* Every new invitee busy on a live call: reply 0 with the busy
         * list, event invite, only the sender notified, call continues. */
        inv = strv("frank");
        busy = strv("frank");
        cs_call_invite(c, "alice", 1, "op-4", &inv, &busy, 10, MAX_INV,
                       t1 + 1, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(eff.event->type, CS_EV_INVITE);
        TEST_INTEQ(eff.event->code, 0);
        EXPECT_LIST(&eff.event->notify, "alice");
        EXPECT_LIST(&eff.event->busy, "frank");
        TEST_INTEQ(eff.release.cnt, 0);
        TEST_ASSERT(!eff.release_group, "call continues");
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        TEST_INTEQ(cs_call_find(c, "frank")->state, CS_PART_BUSY);
        cs_effect_clear(&eff);
        cs_strv_clear(&inv);
        cs_strv_clear(&busy);
        cs_call_destroy(c);
}

static void test_invite_live_by_invitee(void) {
        /* An accepted invitee adds users to a live call, here one the
         * inviter has already left. */
        cs_call_t *c = build(SET_GROUP_LEFT);
        cs_strv_t inv = strv("gina,hank"), busy = strv("");
        cs_effect_t eff;
        cs_call_invite(c, "bob", 4, "op-b1", &inv, &busy, 30, MAX_INV,
                       T0 + 9000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(eff.event->type, CS_EV_INVITE);
        TEST_STREQ(eff.event->user_id, "bob");
        TEST_INTEQ(eff.event->platform_id, 4);
        EXPECT_LIST(&eff.event->notify, "gina,hank,bob");
        EXPECT_LIST(&eff.event->busy, "");
        EXPECT_PARTS(c, "alice=left,bob=accepted,carol=accepted,dave=ringing,"
                        "gina=ringing,hank=ringing");
        TEST_ASSERT(!c->parts[4].inviter && !c->parts[5].inviter, "invitees");
        /* The call's inviter does not change. */
        TEST_STREQ(c->inviter_user_id, "alice");
        cs_effect_clear(&eff);
        cs_strv_clear(&inv);
        cs_strv_clear(&busy);
        cs_call_destroy(c);
}

static void test_reinvite_ended_part(void) {
        /* carol rejected and frank timed out: inviting them again rings
         * them again without a second participant entry; erin (busy) too. */
        cs_call_t *c = build(SET_GROUP_MIXED);
        size_t parts = c->part_cnt;
        cs_strv_t inv = strv("carol,frank,erin"), busy = strv("");
        cs_effect_t eff;
        int64_t t = T0 + 20000;
        /* Re-invited users are not new: 5 invitees stay within a max of 5. */
        cs_call_invite(c, "alice", 1, "op-re", &inv, &busy, 15, 5, t, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(c->part_cnt, parts);
        EXPECT_LIST(&eff.event->notify, "carol,frank,erin,alice");
        EXPECT_PARTS(c, "alice=accepted,bob=accepted,carol=ringing,"
                        "dave=ringing,erin=ringing,frank=ringing");
        TEST_INTEQ(cs_call_find(c, "carol")->ring_until, t + 15000);
        TEST_INTEQ(cs_call_find(c, "carol")->updated_at, t);
        TEST_INTEQ(cs_call_find(c, "frank")->ring_until, t + 15000);
        TEST_ASSERT(cs_call_user_is_live(c, "carol"), "carol rings again");
        cs_effect_clear(&eff);

        /* carol can now answer again. */
        act(c, CS_EV_ACCEPT, "carol", 2, "op-acc-c", t + 1, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(cs_call_find(c, "carol")->state, CS_PART_ACCEPTED);
        cs_effect_clear(&eff);
        cs_strv_clear(&inv);
        cs_strv_clear(&busy);

        /* A re-invited user who is busy now is busy again. */
        inv = strv("frank");
        busy = strv("frank");
        must_act(c, CS_EV_REJECT, "frank", "op-rej-f", t + 2);
        cs_call_invite(c, "bob", 1, "op-re2", &inv, &busy, 15, MAX_INV, t + 3,
                       &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(cs_call_find(c, "frank")->state, CS_PART_BUSY);
        TEST_INTEQ(cs_call_find(c, "frank")->ring_until, 0);
        EXPECT_LIST(&eff.event->notify, "bob");
        cs_effect_clear(&eff);
        cs_strv_clear(&inv);
        cs_strv_clear(&busy);
        cs_call_destroy(c);
}

static void test_invite_max_boundary(void) {
        /* group-mixed has 5 invitee entries (bob..frank). */
        cs_call_t *c = build(SET_GROUP_MIXED);
        cs_strv_t inv = strv("gina"), busy = strv("");
        cs_effect_t eff;
        cs_call_invite(c, "alice", 1, "op-max", &inv, &busy, 30, 6,
                       T0 + 6000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(c->part_cnt, 7);
        cs_effect_clear(&eff);
        cs_strv_clear(&inv);
        cs_strv_clear(&busy);
        cs_call_destroy(c);
}

static void test_invite_refusals(void) {
        static const struct {
                setup_t setup;
                const char *sender;
                const char *invitees;
                size_t max;
                cs_err_t code;
        } rows[] = {
                /* sender not in the call, or not accepted in it: 1002 */
                {SET_GROUP_MIXED, "zed", "gina", MAX_INV, CS_ERR_NOT_PERMITTED},
                {SET_GROUP_MIXED, "dave", "gina", MAX_INV, CS_ERR_NOT_PERMITTED},
                {SET_GROUP_MIXED, "carol", "gina", MAX_INV, CS_ERR_NOT_PERMITTED},
                {SET_GROUP_MIXED, "erin", "gina", MAX_INV, CS_ERR_NOT_PERMITTED},
                {SET_GROUP_MIXED, "frank", "gina", MAX_INV, CS_ERR_NOT_PERMITTED},
                {SET_GROUP_LEFT, "alice", "gina", MAX_INV, CS_ERR_NOT_PERMITTED},
                {SET_1TO1_RINGING, "bob", "gina", MAX_INV, CS_ERR_NOT_PERMITTED},
                {SET_1TO1_REJECTED, "zed", "gina", MAX_INV, CS_ERR_NOT_PERMITTED},
                /* call ended: 1004 */
                {SET_1TO1_REJECTED, "alice", "gina", MAX_INV, CS_ERR_CONFLICT},
                {SET_1TO1_REJECTED, "bob", "gina", MAX_INV, CS_ERR_CONFLICT},
                {SET_1TO1_CANCELLED, "alice", "gina", MAX_INV, CS_ERR_CONFLICT},
                {SET_ROOM_FINISHED, "bob", "gina", MAX_INV, CS_ERR_CONFLICT},
                {SET_ROOM_FINISHED, "zed", "gina", MAX_INV, CS_ERR_NOT_PERMITTED},
                /* invitee already ringing or accepted: 1001 */
                {SET_GROUP_MIXED, "alice", "dave", MAX_INV, CS_ERR_INVALID},
                {SET_GROUP_MIXED, "alice", "gina,bob", MAX_INV, CS_ERR_INVALID},
                {SET_GROUP_MIXED, "bob", "alice", MAX_INV, CS_ERR_INVALID},
                {SET_1TO1_RINGING, "alice", "bob", MAX_INV, CS_ERR_INVALID},
                {SET_1TO1_ACTIVE, "bob", "gina,alice", MAX_INV, CS_ERR_INVALID},
                /* the call's inviter, even after leaving it: 1001 */
                {SET_GROUP_LEFT, "bob", "alice", MAX_INV, CS_ERR_INVALID},
                {SET_GROUP_LEFT, "carol", "gina,alice", MAX_INV, CS_ERR_INVALID},
                /* too many invitees: 5 entries + 2 new > 6 */
                {SET_GROUP_MIXED, "alice", "gina,hank", 6, CS_ERR_INVALID},
                {SET_1TO1_ACTIVE, "alice", "gina", 1, CS_ERR_INVALID},
        };
        for (size_t i = 0; i < CS_ARRAY_SIZE(rows); i++) {
                cs_call_t *c = build(rows[i].setup);
                char *before = dump_call(c);
                size_t events = c->event_cnt;
                cs_strv_t inv = strv(rows[i].invitees), busy = strv("");
                cs_effect_t eff;

                cs_call_check_invite(c, rows[i].sender, &inv, rows[i].max, &eff);
                TEST_ASSERT(eff.code == rows[i].code,
                            "check row %zu (%s, %s invites %s): code %d, want %d",
                            i, setup_names[rows[i].setup], rows[i].sender,
                            rows[i].invitees, (int)eff.code, (int)rows[i].code);
                TEST_ASSERT(eff.why != NULL, "why");
                EXPECT_EFFECT_EMPTY(&eff);
                cs_effect_clear(&eff);

                cs_call_invite(c, rows[i].sender, 1, "op-x", &inv, &busy, 30,
                               rows[i].max, T0 + 50000, &eff);
                TEST_ASSERT(eff.code == rows[i].code,
                            "invite row %zu (%s, %s invites %s): code %d, want %d",
                            i, setup_names[rows[i].setup], rows[i].sender,
                            rows[i].invitees, (int)eff.code, (int)rows[i].code);
                TEST_ASSERT(eff.why != NULL, "why");
                EXPECT_EFFECT_EMPTY(&eff);
                TEST_INTEQ(c->event_cnt, events);
                TEST_INTEQ(c->rev, 7);
                TEST_ASSERT(cs_call_find_op(c, rows[i].sender, "op-x") == NULL, "no event");
                char *after = dump_call(c);
                TEST_STREQ(after, before);
                free(after);
                free(before);
                cs_effect_clear(&eff);
                cs_strv_clear(&inv);
                cs_strv_clear(&busy);
                cs_call_destroy(c);
        }

        /* check_invite accepts what invite would accept, changing nothing. */
        cs_call_t *c = build(SET_GROUP_MIXED);
        char *before = dump_call(c);
        cs_strv_t inv = strv("gina,carol");
        cs_effect_t eff;
        cs_call_check_invite(c, "bob", &inv, MAX_INV, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_EFFECT_EMPTY(&eff);
        char *after = dump_call(c);
        TEST_STREQ(after, before);
        free(after);
        free(before);
        cs_effect_clear(&eff);
        cs_strv_clear(&inv);
        cs_call_destroy(c);
}

/* ---- accept ----------------------------------------------------------- */

static void test_accept(void) {
        cs_call_t *c = build(SET_1TO1_RINGING);
        cs_effect_t eff;
        cs_action_t a = {.type = CS_EV_ACCEPT,
                         .user_id = "bob",
                         .platform_id = 2,
                         .operation_id = "op-acc",
                         .now = T0 + 1500,
                         .meta = bob_meta,
                         .meta_len = sizeof(bob_meta)};
        cs_call_act(c, &a, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_ASSERT(eff.event == &c->events[c->event_cnt - 1], "last event");
        TEST_INTEQ(c->event_cnt, 2);
        TEST_INTEQ(eff.event->type, CS_EV_ACCEPT);
        TEST_STREQ(eff.event->user_id, "bob");
        TEST_INTEQ(eff.event->platform_id, 2);
        TEST_STREQ(eff.event->operation_id, "op-acc");
        TEST_INTEQ(eff.event->at, T0 + 1500);
        TEST_INTEQ(eff.event->code, 0);
        EXPECT_LIST(&eff.event->notify, "alice,bob");
        EXPECT_LIST(&eff.event->busy, "");
        TEST_INTEQ(eff.release.cnt, 0);
        TEST_ASSERT(!eff.release_group, "no group release");
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        TEST_INTEQ(c->end_reason, CS_END_NONE);
        TEST_INTEQ(c->accepted_at, T0 + 1500);
        TEST_INTEQ(c->ended_at, 0);
        EXPECT_PARTS(c, "alice=accepted,bob=accepted");
        const cs_participant_t *bob = cs_call_find(c, "bob");
        TEST_INTEQ(bob->platform_id, 2);
        TEST_INTEQ(bob->updated_at, T0 + 1500);
        TEST_INTEQ(bob->meta_len, sizeof(bob_meta));
        TEST_ASSERT(bob->meta && memcmp(bob->meta, bob_meta,
                                        sizeof(bob_meta)) == 0,
                    "meta stored");
        TEST_ASSERT(cs_call_user_is_live(c, "bob"), "bob in call");
        TEST_INTEQ(cs_call_next_ring_deadline(c), 0);
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* Group: the second accept keeps acceptedAt and the call active;
         * recipients are always the inviter then the sender. */
        c = mk_call("g1", 2);
        must_invite(c, "alice", "op-1", "bob,carol,dave", "", 30, T0);
        must_act(c, CS_EV_ACCEPT, "bob", "op-2", T0 + 1000);
        act(c, CS_EV_ACCEPT, "carol", 3, "op-3", T0 + 2000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "alice,carol");
        TEST_INTEQ(c->accepted_at, T0 + 1000);
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        TEST_ASSERT(cs_call_find(c, "carol")->meta == NULL, "no meta sent");
        EXPECT_PARTS(c, "alice=accepted,bob=accepted,carol=accepted,"
                        "dave=ringing");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* After the inviter left, accept still notifies the inviter first. */
        c = build(SET_GROUP_LEFT);
        act(c, CS_EV_ACCEPT, "dave", 1, "op-acc-d", T0 + 4000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "alice,dave");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* platformID 0 keeps the device recorded before. */
        c = build(SET_1TO1_RINGING);
        c->parts[1].platform_id = 9;
        act(c, CS_EV_ACCEPT, "bob", 0, "op-acc0", T0 + 1000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(c->parts[1].platform_id, 9);
        cs_effect_clear(&eff);
        cs_call_destroy(c);
}

/* ---- reject ----------------------------------------------------------- */

static void test_reject(void) {
        /* 1:1: the call ends rejected. */
        cs_call_t *c = build(SET_1TO1_RINGING);
        cs_effect_t eff;
        act(c, CS_EV_REJECT, "bob", 2, "op-rej", T0 + 2000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(eff.event->type, CS_EV_REJECT);
        TEST_STREQ(eff.event->user_id, "bob");
        TEST_INTEQ(eff.event->platform_id, 2);
        EXPECT_LIST(&eff.event->notify, "alice,bob");
        TEST_INTEQ(c->state, CS_CALL_ENDED);
        TEST_INTEQ(c->end_reason, CS_END_REJECTED);
        TEST_INTEQ(c->ended_at, T0 + 2000);
        TEST_INTEQ(c->accepted_at, 0);
        EXPECT_PARTS(c, "alice=left,bob=rejected");
        TEST_INTEQ(cs_call_find(c, "bob")->platform_id, 2);
        EXPECT_SET(&eff.release, "alice,bob");
        TEST_ASSERT(eff.release_group, "group line ends");
        TEST_ASSERT(!cs_call_user_is_live(c, "alice"), "alice free");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* Group: continues while someone rings; the last ringing invitee
         * rejecting with only the inviter in it ends the call rejected. */
        c = mk_call("g1", 2);
        must_invite(c, "alice", "op-1", "bob,carol", "", 30, T0);
        act(c, CS_EV_REJECT, "bob", 1, "op-2", T0 + 1000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "alice,bob");
        EXPECT_LIST(&eff.release, "bob");
        TEST_ASSERT(!eff.release_group, "continues");
        TEST_INTEQ(c->state, CS_CALL_RINGING);
        TEST_INTEQ(c->end_reason, CS_END_NONE);
        EXPECT_PARTS(c, "alice=accepted,bob=rejected,carol=ringing");
        cs_effect_clear(&eff);
        act(c, CS_EV_REJECT, "carol", 1, "op-3", T0 + 2000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "alice,carol");
        EXPECT_SET(&eff.release, "alice,carol");
        TEST_ASSERT(eff.release_group, "ends");
        TEST_INTEQ(c->state, CS_CALL_ENDED);
        TEST_INTEQ(c->end_reason, CS_END_REJECTED);
        EXPECT_PARTS(c, "alice=left,bob=rejected,carol=rejected");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* Group with two in the call: a reject leaves it going. */
        c = mk_call("g1", 2);
        must_invite(c, "alice", "op-1", "bob,carol", "", 30, T0);
        must_act(c, CS_EV_ACCEPT, "bob", "op-2", T0 + 1000);
        act(c, CS_EV_REJECT, "carol", 1, "op-3", T0 + 2000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.release, "carol");
        TEST_ASSERT(!eff.release_group, "continues");
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        EXPECT_PARTS(c, "alice=accepted,bob=accepted,carol=rejected");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* Group after the inviter left: bob alone in it, dave the last
         * ringing invitee rejects -> ends rejected, bob leaves. */
        c = build(SET_GROUP_LEFT);
        must_act(c, CS_EV_HUNG_UP, "carol", "op-hup-c", T0 + 4000);
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        act(c, CS_EV_REJECT, "dave", 1, "op-rej-d", T0 + 5000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "alice,dave");
        EXPECT_SET(&eff.release, "bob,dave");
        TEST_ASSERT(eff.release_group, "ends");
        TEST_INTEQ(c->state, CS_CALL_ENDED);
        TEST_INTEQ(c->end_reason, CS_END_REJECTED);
        EXPECT_PARTS(c, "alice=left,bob=left,carol=left,dave=rejected");
        cs_effect_clear(&eff);
        cs_call_destroy(c);
}

/* ---- cancel ----------------------------------------------------------- */

static void test_cancel(void) {
        cs_call_t *c = build(SET_1TO1_RINGING);
        cs_effect_t eff;
        act(c, CS_EV_CANCEL, "alice", 4, "op-can", T0 + 3000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(eff.event->type, CS_EV_CANCEL);
        TEST_STREQ(eff.event->user_id, "alice");
        TEST_INTEQ(eff.event->platform_id, 4);
        TEST_INTEQ(eff.event->at, T0 + 3000);
        EXPECT_LIST(&eff.event->notify, "bob,alice");
        TEST_INTEQ(c->state, CS_CALL_ENDED);
        TEST_INTEQ(c->end_reason, CS_END_CANCELLED);
        TEST_INTEQ(c->ended_at, T0 + 3000);
        EXPECT_PARTS(c, "alice=left,bob=cancelled");
        TEST_INTEQ(cs_call_find(c, "alice")->platform_id, 4);
        EXPECT_SET(&eff.release, "alice,bob");
        TEST_ASSERT(eff.release_group, "group line ends");
        TEST_INTEQ(cs_call_next_ring_deadline(c), 0);
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* Group with a busy and a rejected invitee: only still-ringing
         * invitees are notified and released. */
        c = mk_call("g1", 2);
        must_invite(c, "alice", "op-1", "bob,carol,dave,erin", "carol", 30, T0);
        must_act(c, CS_EV_REJECT, "dave", "op-2", T0 + 1000);
        act(c, CS_EV_CANCEL, "alice", 1, "op-3", T0 + 2000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "bob,erin,alice");
        EXPECT_SET(&eff.release, "alice,bob,erin");
        TEST_ASSERT(eff.release_group, "ends");
        TEST_INTEQ(c->end_reason, CS_END_CANCELLED);
        EXPECT_PARTS(c, "alice=left,bob=cancelled,carol=busy,dave=rejected,"
                        "erin=cancelled");
        cs_effect_clear(&eff);
        cs_call_destroy(c);
}

/* ---- hung up ---------------------------------------------------------- */

static void test_hung_up_1to1(void) {
        /* A 1:1 call ends on any hang-up, even with a third user added to
         * it by roomID (where the group rule would let it go on). */
        static const struct {
                const char *group;
                int32_t session;
                const char *invitees;
                const char *sender;
                const char *notify;
                const char *parts;
                const char *release;
        } rows[] = {
                {"", 1, "bob", "bob", "alice,bob", "alice=left,bob=left",
                 "alice,bob"},
                {"", 1, "bob", "alice", "bob,alice", "alice=left,bob=left",
                 "alice,bob"},
                /* sessionType 0 with groupID "" is a 1:1 call too. */
                {"", 0, "bob", "bob", "alice,bob", "alice=left,bob=left",
                 "alice,bob"},
                {"", 0, "bob,carol", "bob", "alice,carol,bob",
                 "alice=left,bob=left,carol=left", "alice,bob,carol"},
                {"", 1, "bob,carol", "alice", "bob,carol,alice",
                 "alice=left,bob=left,carol=left", "alice,bob,carol"},
                /* call.c also takes sessionType 1 as 1:1 whatever the
                 * groupID (the handler never creates that combination). */
                {"g1", 1, "bob,carol", "bob", "alice,carol,bob",
                 "alice=left,bob=left,carol=left", "alice,bob,carol"},
        };
        for (size_t i = 0; i < CS_ARRAY_SIZE(rows); i++) {
                cs_call_t *c = mk_call(rows[i].group, rows[i].session);
                cs_strv_t inv = strv(rows[i].invitees);
                must_invite(c, "alice", "op-1", rows[i].invitees, "", 30, T0);
                for (size_t j = 0; j < inv.cnt; j++)
                        must_act(c, CS_EV_ACCEPT, inv.v[j], inv.v[j],
                                 T0 + 1000 + (int64_t)j);
                cs_strv_clear(&inv);
                cs_effect_t eff;
                act(c, CS_EV_HUNG_UP, rows[i].sender, 5, "op-3", T0 + 9000,
                    &eff);
                TEST_ASSERT(eff.code == CS_OK, "row %zu: code %d", i,
                            (int)eff.code);
                TEST_INTEQ(eff.event->type, CS_EV_HUNG_UP);
                TEST_STREQ(eff.event->user_id, rows[i].sender);
                TEST_INTEQ(eff.event->platform_id, 5);
                EXPECT_LIST(&eff.event->notify, rows[i].notify);
                TEST_ASSERT(c->state == CS_CALL_ENDED, "row %zu: state %s", i,
                            cs_call_state_name(c->state));
                TEST_INTEQ(c->end_reason, CS_END_HUNG_UP);
                TEST_INTEQ(c->ended_at, T0 + 9000);
                TEST_INTEQ(c->accepted_at, T0 + 1000);
                EXPECT_PARTS(c, rows[i].parts);
                TEST_INTEQ(cs_call_find(c, rows[i].sender)->platform_id, 5);
                EXPECT_SET(&eff.release, rows[i].release);
                TEST_ASSERT(eff.release_group, "group line ends");
                cs_effect_clear(&eff);
                cs_call_destroy(c);
        }
}

static void test_hung_up_as_cancel(void) {
        /* The inviter hanging up a still-ringing call is a cancel. */
        cs_call_t *c = build(SET_1TO1_RINGING);
        cs_effect_t eff;
        act(c, CS_EV_HUNG_UP, "alice", 1, "op-hup", T0 + 2000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(eff.event->type, CS_EV_CANCEL);
        TEST_STREQ(eff.event->operation_id, "op-hup");
        EXPECT_LIST(&eff.event->notify, "bob,alice");
        TEST_INTEQ(c->state, CS_CALL_ENDED);
        TEST_INTEQ(c->end_reason, CS_END_CANCELLED);
        EXPECT_PARTS(c, "alice=left,bob=cancelled");
        EXPECT_SET(&eff.release, "alice,bob");
        TEST_ASSERT(eff.release_group, "group line ends");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* Group, still ringing (one rejected, one busy). */
        c = mk_call("g1", 3);
        must_invite(c, "alice", "op-1", "bob,carol,dave", "dave", 30, T0);
        must_act(c, CS_EV_REJECT, "bob", "op-2", T0 + 1000);
        act(c, CS_EV_HUNG_UP, "alice", 1, "op-3", T0 + 2000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(eff.event->type, CS_EV_CANCEL);
        EXPECT_LIST(&eff.event->notify, "carol,alice");
        TEST_INTEQ(c->end_reason, CS_END_CANCELLED);
        EXPECT_PARTS(c, "alice=left,bob=rejected,carol=cancelled,dave=busy");
        EXPECT_SET(&eff.release, "alice,carol");
        TEST_ASSERT(eff.release_group, "ends");
        cs_effect_clear(&eff);
        cs_call_destroy(c);
}

static void test_hung_up_group(void) {
        /* alice, bob, carol accepted; dave ringing. */
        cs_call_t *c = mk_call("g1", 2);
        cs_effect_t eff;
        must_invite(c, "alice", "op-1", "bob,carol,dave", "", 30, T0);
        must_act(c, CS_EV_ACCEPT, "bob", "op-2", T0 + 1000);
        must_act(c, CS_EV_ACCEPT, "carol", "op-3", T0 + 2000);

        /* The inviter leaves; two remain: continues. */
        act(c, CS_EV_HUNG_UP, "alice", 1, "op-4", T0 + 3000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(eff.event->type, CS_EV_HUNG_UP);
        EXPECT_LIST(&eff.event->notify, "bob,carol,dave,alice");
        EXPECT_LIST(&eff.release, "alice");
        TEST_ASSERT(!eff.release_group, "continues");
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        TEST_INTEQ(c->end_reason, CS_END_NONE);
        TEST_INTEQ(c->ended_at, 0);
        EXPECT_PARTS(c, "alice=left,bob=accepted,carol=accepted,dave=ringing");
        TEST_ASSERT(!cs_call_user_is_live(c, "alice"), "alice free");
        cs_effect_clear(&eff);

        /* bob leaves: one remains but dave still rings: continues. */
        act(c, CS_EV_HUNG_UP, "bob", 1, "op-5", T0 + 4000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "carol,dave,bob");
        EXPECT_LIST(&eff.release, "bob");
        TEST_ASSERT(!eff.release_group, "continues");
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        cs_effect_clear(&eff);

        /* carol leaves: nobody remains (dave only rings): ends hung_up. */
        act(c, CS_EV_HUNG_UP, "carol", 1, "op-6", T0 + 5000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "dave,carol");
        EXPECT_SET(&eff.release, "carol,dave");
        TEST_ASSERT(eff.release_group, "ends");
        TEST_INTEQ(c->state, CS_CALL_ENDED);
        TEST_INTEQ(c->end_reason, CS_END_HUNG_UP);
        TEST_INTEQ(c->ended_at, T0 + 5000);
        EXPECT_PARTS(c, "alice=left,bob=left,carol=left,dave=cancelled");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* Nobody rings: the call goes on with two, ends when one is left. */
        c = mk_call("g1", 2);
        must_invite(c, "alice", "op-1", "bob,carol", "", 30, T0);
        must_act(c, CS_EV_ACCEPT, "bob", "op-2", T0 + 1000);
        must_act(c, CS_EV_ACCEPT, "carol", "op-3", T0 + 2000);
        act(c, CS_EV_HUNG_UP, "bob", 1, "op-4", T0 + 3000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "alice,carol,bob");
        EXPECT_LIST(&eff.release, "bob");
        TEST_ASSERT(!eff.release_group, "continues");
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        cs_effect_clear(&eff);
        act(c, CS_EV_HUNG_UP, "carol", 1, "op-5", T0 + 4000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "alice,carol");
        EXPECT_SET(&eff.release, "alice,carol");
        TEST_ASSERT(eff.release_group, "ends");
        TEST_INTEQ(c->state, CS_CALL_ENDED);
        TEST_INTEQ(c->end_reason, CS_END_HUNG_UP);
        EXPECT_PARTS(c, "alice=left,bob=left,carol=left");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* Recipients: call.c lists the accepted others first, then the
         * ringing ones (each in participant order), then the sender;
         * behaviour.md only says "every other participant accepted or
         * ringing, then sender". Here bob rings before carol accepted. */
        c = mk_call("g1", 2);
        must_invite(c, "alice", "op-1", "bob,carol,dave", "", 30, T0);
        must_act(c, CS_EV_ACCEPT, "carol", "op-2", T0 + 1000);
        act(c, CS_EV_HUNG_UP, "alice", 1, "op-3", T0 + 2000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "carol,bob,dave,alice");
        /* carol is the only one in it but bob and dave ring: continues. */
        TEST_ASSERT(!eff.release_group, "continues");
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        cs_effect_clear(&eff);
        cs_call_destroy(c);
}

/* ---- refusals of cs_call_act: the call stays byte-for-byte the same ---- */

static void test_act_refusals(void) {
        static const struct {
                setup_t setup;
                cs_event_type_t type;
                const char *user;
                cs_err_t code;
        } rows[] = {
                /* 1:1 ringing */
                {SET_1TO1_RINGING, CS_EV_ACCEPT, "alice", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_RINGING, CS_EV_REJECT, "alice", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_RINGING, CS_EV_ACCEPT, "zed", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_RINGING, CS_EV_REJECT, "zed", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_RINGING, CS_EV_CANCEL, "bob", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_RINGING, CS_EV_CANCEL, "zed", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_RINGING, CS_EV_HUNG_UP, "bob", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_RINGING, CS_EV_HUNG_UP, "zed", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_RINGING, CS_EV_TIMEOUT, "alice", CS_ERR_UNSUPPORTED},
                {SET_1TO1_RINGING, CS_EV_INVITE, "bob", CS_ERR_UNSUPPORTED},
                /* 1:1 active */
                {SET_1TO1_ACTIVE, CS_EV_ACCEPT, "bob", CS_ERR_CONFLICT},
                {SET_1TO1_ACTIVE, CS_EV_REJECT, "bob", CS_ERR_CONFLICT},
                {SET_1TO1_ACTIVE, CS_EV_CANCEL, "alice", CS_ERR_CONFLICT},
                {SET_1TO1_ACTIVE, CS_EV_CANCEL, "bob", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_ACTIVE, CS_EV_ACCEPT, "alice", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_ACTIVE, CS_EV_HUNG_UP, "zed", CS_ERR_NOT_PERMITTED},
                /* 1:1 ended (rejected, cancelled) */
                {SET_1TO1_REJECTED, CS_EV_ACCEPT, "bob", CS_ERR_CONFLICT},
                {SET_1TO1_REJECTED, CS_EV_REJECT, "bob", CS_ERR_CONFLICT},
                {SET_1TO1_REJECTED, CS_EV_HUNG_UP, "bob", CS_ERR_CONFLICT},
                {SET_1TO1_REJECTED, CS_EV_HUNG_UP, "alice", CS_ERR_CONFLICT},
                {SET_1TO1_REJECTED, CS_EV_ACCEPT, "alice", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_REJECTED, CS_EV_CANCEL, "bob", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_REJECTED, CS_EV_ACCEPT, "zed", CS_ERR_NOT_PERMITTED},
                {SET_1TO1_CANCELLED, CS_EV_ACCEPT, "bob", CS_ERR_CONFLICT},
                {SET_1TO1_CANCELLED, CS_EV_REJECT, "bob", CS_ERR_CONFLICT},
                {SET_1TO1_CANCELLED, CS_EV_HUNG_UP, "bob", CS_ERR_CONFLICT},
                {SET_1TO1_CANCELLED, CS_EV_HUNG_UP, "alice", CS_ERR_CONFLICT},
                /* group, active: alice+bob accepted, carol rejected, dave
                 * ringing, erin busy, frank timed out */
                {SET_GROUP_MIXED, CS_EV_ACCEPT, "bob", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_REJECT, "bob", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_ACCEPT, "carol", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_REJECT, "carol", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_HUNG_UP, "carol", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_ACCEPT, "erin", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_REJECT, "erin", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_HUNG_UP, "erin", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_ACCEPT, "frank", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_REJECT, "frank", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_HUNG_UP, "frank", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_HUNG_UP, "dave", CS_ERR_NOT_PERMITTED},
                {SET_GROUP_MIXED, CS_EV_CANCEL, "dave", CS_ERR_NOT_PERMITTED},
                {SET_GROUP_MIXED, CS_EV_CANCEL, "bob", CS_ERR_NOT_PERMITTED},
                {SET_GROUP_MIXED, CS_EV_CANCEL, "alice", CS_ERR_CONFLICT},
                {SET_GROUP_MIXED, CS_EV_ACCEPT, "alice", CS_ERR_NOT_PERMITTED},
                {SET_GROUP_MIXED, CS_EV_REJECT, "alice", CS_ERR_NOT_PERMITTED},
                {SET_GROUP_MIXED, CS_EV_REJECT, "zed", CS_ERR_NOT_PERMITTED},
                /* group, the inviter left */
                {SET_GROUP_LEFT, CS_EV_HUNG_UP, "alice", CS_ERR_CONFLICT},
                {SET_GROUP_LEFT, CS_EV_CANCEL, "alice", CS_ERR_CONFLICT},
                {SET_GROUP_LEFT, CS_EV_ACCEPT, "alice", CS_ERR_NOT_PERMITTED},
                {SET_GROUP_LEFT, CS_EV_REJECT, "alice", CS_ERR_NOT_PERMITTED},
                {SET_GROUP_LEFT, CS_EV_HUNG_UP, "dave", CS_ERR_NOT_PERMITTED},
                /* ended with parts still ringing/accepted in the record:
                 * the call state decides (1004), after who is asking */
                {SET_ROOM_FINISHED, CS_EV_ACCEPT, "dave", CS_ERR_CONFLICT},
                {SET_ROOM_FINISHED, CS_EV_REJECT, "dave", CS_ERR_CONFLICT},
                {SET_ROOM_FINISHED, CS_EV_HUNG_UP, "dave", CS_ERR_CONFLICT},
                {SET_ROOM_FINISHED, CS_EV_HUNG_UP, "bob", CS_ERR_CONFLICT},
                {SET_ROOM_FINISHED, CS_EV_HUNG_UP, "alice", CS_ERR_CONFLICT},
                {SET_ROOM_FINISHED, CS_EV_CANCEL, "alice", CS_ERR_CONFLICT},
                {SET_ROOM_FINISHED, CS_EV_CANCEL, "bob", CS_ERR_NOT_PERMITTED},
                {SET_ROOM_FINISHED, CS_EV_ACCEPT, "alice", CS_ERR_NOT_PERMITTED},
                {SET_ROOM_FINISHED, CS_EV_HUNG_UP, "zed", CS_ERR_NOT_PERMITTED},
        };
        for (size_t i = 0; i < CS_ARRAY_SIZE(rows); i++) {
                cs_call_t *c = build(rows[i].setup);
                char *before = dump_call(c);
                size_t events = c->event_cnt;
                cs_call_state_t state = c->state;
                cs_effect_t eff;
                cs_action_t a = {.type = rows[i].type,
                                 .user_id = rows[i].user,
                                 .platform_id = 8,
                                 .operation_id = "op-x",
                                 .now = T0 + 60000,
                                 .meta = bob_meta,
                                 .meta_len = sizeof(bob_meta)};
                cs_call_act(c, &a, &eff);
                TEST_ASSERT(eff.code == rows[i].code,
                            "row %zu (%s, %s by %s): code %d, want %d", i,
                            setup_names[rows[i].setup],
                            cs_event_type_name(rows[i].type), rows[i].user,
                            (int)eff.code, (int)rows[i].code);
                TEST_ASSERT(eff.why != NULL && eff.why[0], "why");
                EXPECT_EFFECT_EMPTY(&eff);
                TEST_INTEQ(c->event_cnt, events);
                TEST_INTEQ(c->state, state);
                TEST_INTEQ(c->rev, 7);
                TEST_ASSERT(cs_call_find_op(c, rows[i].user, "op-x") == NULL, "no event");
                char *after = dump_call(c);
                TEST_ASSERT(strcmp(before, after) == 0,
                            "row %zu changed the call:\n%s---\n%s", i, before,
                            after);
                free(after);
                free(before);
                cs_effect_clear(&eff);
                cs_call_destroy(c);
        }
}

/* ---- timer ------------------------------------------------------------ */

static void test_expire_1to1(void) {
        cs_call_t *c = build(SET_1TO1_RINGING);
        c->parts[0].platform_id = 3;
        cs_effect_t eff;

        /* Not due yet: false, nothing changes. */
        char *before = dump_call(c);
        TEST_ASSERT(!cs_call_expire(c, "timer-0", T0 + 29999, &eff), "early");
        EXPECT_EFFECT_EMPTY(&eff);
        TEST_INTEQ(eff.code, CS_OK);
        char *after = dump_call(c);
        TEST_STREQ(after, before);
        free(after);
        free(before);
        cs_effect_clear(&eff);

        /* Due at exactly ring_until. */
        TEST_ASSERT(cs_call_expire(c, "timer-1", T0 + 30000, &eff), "due");
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(c->event_cnt, 2);
        TEST_INTEQ(eff.event->type, CS_EV_TIMEOUT);
        TEST_STREQ(eff.event->user_id, "alice");
        TEST_INTEQ(eff.event->platform_id, 3);
        TEST_STREQ(eff.event->operation_id, "timer-1");
        TEST_INTEQ(eff.event->at, T0 + 30000);
        TEST_INTEQ(eff.event->code, 0);
        EXPECT_LIST(&eff.event->notify, "bob,alice");
        TEST_INTEQ(c->state, CS_CALL_ENDED);
        TEST_INTEQ(c->end_reason, CS_END_TIMEOUT);
        TEST_INTEQ(c->ended_at, T0 + 30000);
        EXPECT_PARTS(c, "alice=left,bob=timeout");
        TEST_INTEQ(cs_call_find(c, "bob")->updated_at, T0 + 30000);
        EXPECT_SET(&eff.release, "alice,bob");
        TEST_ASSERT(eff.release_group, "group line ends");
        cs_effect_clear(&eff);

        /* Ended: false, unchanged. */
        before = dump_call(c);
        TEST_ASSERT(!cs_call_expire(c, "timer-2", T0 + 99999, &eff), "ended");
        EXPECT_EFFECT_EMPTY(&eff);
        after = dump_call(c);
        TEST_STREQ(after, before);
        free(after);
        free(before);
        cs_effect_clear(&eff);
        cs_call_destroy(c);
}

static void test_expire_group(void) {
        /* bob accepted; carol, dave ring until T0+30s; erin (added at
         * T0+10s) until T0+40s; frank busy. */
        cs_call_t *c = mk_call("g1", 2);
        cs_effect_t eff;
        must_invite(c, "alice", "op-1", "bob,carol,dave,frank", "frank", 30, T0);
        must_act(c, CS_EV_ACCEPT, "bob", "op-2", T0 + 1000);
        must_invite(c, "bob", "op-3", "erin", "", 30, T0 + 10000);
        TEST_INTEQ(cs_call_next_ring_deadline(c), T0 + 30000);

        TEST_ASSERT(cs_call_expire(c, "timer-1", T0 + 30000, &eff), "due");
        TEST_INTEQ(eff.event->type, CS_EV_TIMEOUT);
        TEST_STREQ(eff.event->user_id, "alice");
        EXPECT_LIST(&eff.event->notify, "carol,dave,alice");
        EXPECT_SET(&eff.release, "carol,dave");
        TEST_ASSERT(!eff.release_group, "continues");
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        EXPECT_PARTS(c, "alice=accepted,bob=accepted,carol=timeout,"
                        "dave=timeout,frank=busy,erin=ringing");
        TEST_INTEQ(cs_call_next_ring_deadline(c), T0 + 40000);
        cs_effect_clear(&eff);

        TEST_ASSERT(!cs_call_expire(c, "timer-2", T0 + 39999, &eff), "erin");
        cs_effect_clear(&eff);

        /* Nobody rings any more but two are in it: continues. */
        TEST_ASSERT(cs_call_expire(c, "timer-3", T0 + 40000, &eff), "erin due");
        EXPECT_LIST(&eff.event->notify, "erin,alice");
        EXPECT_LIST(&eff.release, "erin");
        TEST_ASSERT(!eff.release_group, "continues");
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        TEST_INTEQ(c->end_reason, CS_END_NONE);
        TEST_INTEQ(cs_call_next_ring_deadline(c), 0);
        cs_effect_clear(&eff);
        TEST_ASSERT(!cs_call_expire(c, "timer-4", T0 + 99999, &eff), "none");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* Nobody accepted: everyone due -> ends timeout. */
        c = mk_call("g1", 2);
        must_invite(c, "alice", "op-1", "bob,carol", "", 30, T0);
        TEST_ASSERT(cs_call_expire(c, "timer-1", T0 + 31000, &eff), "due");
        EXPECT_LIST(&eff.event->notify, "bob,carol,alice");
        EXPECT_SET(&eff.release, "alice,bob,carol");
        TEST_ASSERT(eff.release_group, "ends");
        TEST_INTEQ(c->state, CS_CALL_ENDED);
        TEST_INTEQ(c->end_reason, CS_END_TIMEOUT);
        EXPECT_PARTS(c, "alice=left,bob=timeout,carol=timeout");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* Nobody accepted, staggered: the later invitee keeps it ringing. */
        c = mk_call("g1", 2);
        must_invite(c, "alice", "op-1", "bob", "", 30, T0);
        must_invite(c, "alice", "op-2", "carol", "", 30, T0 + 10000);
        TEST_ASSERT(cs_call_expire(c, "timer-1", T0 + 30000, &eff), "bob due");
        EXPECT_LIST(&eff.event->notify, "bob,alice");
        EXPECT_LIST(&eff.release, "bob");
        TEST_ASSERT(!eff.release_group, "continues");
        TEST_INTEQ(c->state, CS_CALL_RINGING);
        EXPECT_PARTS(c, "alice=accepted,bob=timeout,carol=ringing");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* The inviter left, one invitee in it, the rest time out: ends
         * timeout; the inviter is still the last recipient. */
        c = mk_call("g1", 2);
        must_invite(c, "alice", "op-1", "bob,carol,dave", "", 30, T0);
        must_act(c, CS_EV_ACCEPT, "bob", "op-2", T0 + 1000);
        act(c, CS_EV_HUNG_UP, "alice", 7, "op-3", T0 + 2000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(c->state, CS_CALL_ACTIVE);
        cs_effect_clear(&eff);
        TEST_ASSERT(cs_call_expire(c, "timer-1", T0 + 30000, &eff), "due");
        TEST_STREQ(eff.event->user_id, "alice");
        TEST_INTEQ(eff.event->platform_id, 7);
        EXPECT_LIST(&eff.event->notify, "carol,dave,alice");
        EXPECT_SET(&eff.release, "bob,carol,dave");
        TEST_ASSERT(eff.release_group, "ends");
        TEST_INTEQ(c->state, CS_CALL_ENDED);
        TEST_INTEQ(c->end_reason, CS_END_TIMEOUT);
        EXPECT_PARTS(c, "alice=left,bob=left,carol=timeout,dave=timeout");
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* An ended record whose dave still rings past his deadline: the
         * timer does nothing. */
        c = build(SET_ROOM_FINISHED);
        char *before0 = dump_call(c);
        TEST_ASSERT(!cs_call_expire(c, "timer-9", T0 + 99999, &eff), "ended");
        EXPECT_EFFECT_EMPTY(&eff);
        char *after0 = dump_call(c);
        TEST_STREQ(after0, before0);
        free(after0);
        free(before0);
        cs_effect_clear(&eff);
        cs_call_destroy(c);

        /* An active call with nobody ringing: nothing is due. */
        c = build(SET_1TO1_ACTIVE);
        char *before = dump_call(c);
        TEST_ASSERT(!cs_call_expire(c, "timer-9", T0 + 99999, &eff), "none");
        EXPECT_EFFECT_EMPTY(&eff);
        char *after = dump_call(c);
        TEST_STREQ(after, before);
        free(after);
        free(before);
        cs_effect_clear(&eff);
        cs_call_destroy(c);
}

/* ---- read access ------------------------------------------------------ */

static void test_checks(void) {
        static const struct {
                setup_t setup;
                const char *user;
                cs_err_t token;
                cs_err_t room;
        } rows[] = {
                {SET_1TO1_RINGING, "alice", CS_OK, CS_OK},
                {SET_1TO1_RINGING, "bob", CS_OK, CS_OK},
                {SET_1TO1_RINGING, "zed", CS_ERR_NOT_PERMITTED,
                 CS_ERR_NOT_PERMITTED},
                {SET_1TO1_ACTIVE, "bob", CS_OK, CS_OK},
                {SET_GROUP_MIXED, "bob", CS_OK, CS_OK},
                {SET_GROUP_MIXED, "dave", CS_OK, CS_OK},
                /* listed but rejected: no token, but may look the room up */
                {SET_GROUP_MIXED, "carol", CS_ERR_NOT_PERMITTED, CS_OK},
                /* listed, not rejected (busy, timed out, left) */
                {SET_GROUP_MIXED, "erin", CS_OK, CS_OK},
                {SET_GROUP_MIXED, "frank", CS_OK, CS_OK},
                {SET_GROUP_LEFT, "alice", CS_OK, CS_OK},
                {SET_GROUP_MIXED, "zed", CS_ERR_NOT_PERMITTED,
                 CS_ERR_NOT_PERMITTED},
                /* no live call: 1003 for everyone */
                {SET_1TO1_REJECTED, "alice", CS_ERR_NOT_FOUND, CS_ERR_NOT_FOUND},
                {SET_1TO1_REJECTED, "bob", CS_ERR_NOT_FOUND, CS_ERR_NOT_FOUND},
                {SET_1TO1_CANCELLED, "zed", CS_ERR_NOT_FOUND, CS_ERR_NOT_FOUND},
                {SET_ROOM_FINISHED, "bob", CS_ERR_NOT_FOUND, CS_ERR_NOT_FOUND},
        };
        for (size_t i = 0; i < CS_ARRAY_SIZE(rows); i++) {
                cs_call_t *c = build(rows[i].setup);
                char *before = dump_call(c);
                cs_err_t t = cs_call_check_token(c, rows[i].user);
                cs_err_t r = cs_call_check_room_lookup(c, rows[i].user);
                TEST_ASSERT(t == rows[i].token, "row %zu (%s, %s): token %d, "
                            "want %d", i, setup_names[rows[i].setup],
                            rows[i].user, (int)t, (int)rows[i].token);
                TEST_ASSERT(r == rows[i].room, "row %zu (%s, %s): room %d, "
                            "want %d", i, setup_names[rows[i].setup],
                            rows[i].user, (int)r, (int)rows[i].room);
                char *after = dump_call(c);
                TEST_STREQ(after, before);
                free(after);
                free(before);
                cs_call_destroy(c);
        }
}

/* ---- queries ---------------------------------------------------------- */

static void test_queries(void) {
        /* cs_call_user_is_live per participant state. */
        cs_call_t *c = build(SET_GROUP_MIXED);
        static const struct {
                const char *user;
                bool live;
        } rows[] = {{"alice", true},  {"bob", true},   {"carol", false},
                    {"dave", true},   {"erin", false}, {"frank", false},
                    {"zed", false}};
        for (size_t i = 0; i < CS_ARRAY_SIZE(rows); i++)
                TEST_ASSERT(cs_call_user_is_live(c, rows[i].user) ==
                                    rows[i].live,
                            "%s live=%d", rows[i].user, (int)rows[i].live);
        TEST_ASSERT(cs_call_is_live(c), "live");
        TEST_INTEQ(cs_call_next_ring_deadline(c), T0 + 30000);

        /* find_op: each operation by (sender, operationID), NULL for an
         * unknown one or another sender's, and the first event when a
         * pair repeats. */
        TEST_ASSERT(cs_call_find_op(c, "alice", "op-inv") == &c->events[0], "inv");
        TEST_ASSERT(cs_call_find_op(c, "bob", "op-acc") == &c->events[1], "acc");
        TEST_ASSERT(cs_call_find_op(c, "carol", "op-rej") == &c->events[2], "rej");
        TEST_ASSERT(cs_call_find_op(c, "bob", "op-inv2") == &c->events[3], "inv2");
        TEST_ASSERT(cs_call_find_op(c, "alice", "timer-1") == &c->events[4], "timer");
        TEST_INTEQ(c->events[4].type, CS_EV_TIMEOUT);
        TEST_ASSERT(cs_call_find_op(c, "carol", "op-acc") == NULL, "other sender");
        TEST_ASSERT(cs_call_find_op(c, "alice", "op-acc") == NULL, "inviter, not hers");
        TEST_ASSERT(cs_call_find_op(c, "bob", "op-none") == NULL, "unknown");
        TEST_ASSERT(cs_call_find_op(c, "bob", "op-in") == NULL, "no prefix match");
        TEST_ASSERT(cs_call_find_op(c, "bob", "") == NULL, "empty");
        cs_event_t *dup = cs_call_add_event(c, CS_EV_HUNG_UP, "bob", 1,
                                            "op-acc", T0 + 7000);
        TEST_ASSERT(dup == &c->events[5], "appended");
        TEST_INTEQ(dup->type, CS_EV_HUNG_UP);
        TEST_STREQ(dup->user_id, "bob");
        TEST_INTEQ(dup->at, T0 + 7000);
        TEST_INTEQ(dup->notify.cnt, 0);
        TEST_ASSERT(cs_call_find_op(c, "bob", "op-acc") == &c->events[1], "first");
        cs_call_destroy(c);

        /* Ended call: nobody's part is live. */
        c = build(SET_1TO1_REJECTED);
        TEST_ASSERT(!cs_call_is_live(c), "ended");
        TEST_ASSERT(!cs_call_user_is_live(c, "alice"), "alice");
        TEST_ASSERT(!cs_call_user_is_live(c, "bob"), "bob");
        /* Even a participant still marked accepted/ringing in an ended
         * record holds no line. */
        c->parts[0].state = CS_PART_ACCEPTED;
        TEST_ASSERT(!cs_call_user_is_live(c, "alice"), "ended call");
        cs_call_destroy(c);

        /* next_ring_deadline: the earliest ringing entry only. */
        c = mk_call("g1", 2);
        TEST_INTEQ(cs_call_next_ring_deadline(c), 0);
        must_invite(c, "alice", "op-1", "bob", "", 60, T0);
        must_invite(c, "alice", "op-2", "carol", "", 10, T0 + 5000);
        must_invite(c, "alice", "op-3", "dave", "dave", 5, T0 + 6000);
        TEST_INTEQ(cs_call_next_ring_deadline(c), T0 + 15000);
        must_act(c, CS_EV_REJECT, "carol", "op-4", T0 + 7000);
        TEST_INTEQ(cs_call_next_ring_deadline(c), T0 + 60000);
        cs_call_destroy(c);

        /* add_participant copies its strings. */
        c = mk_call("", 1);
        char name[] = "temp";
        cs_participant_t *p = cs_call_add_participant(c, name, false,
                                                      CS_PART_BUSY, 4, T0 + 1);
        name[0] = 'X';
        TEST_STREQ(p->user_id, "temp");
        TEST_INTEQ(p->state, CS_PART_BUSY);
        TEST_INTEQ(p->platform_id, 4);
        TEST_INTEQ(p->updated_at, T0 + 1);
        TEST_ASSERT(!p->inviter, "invitee");
        TEST_ASSERT(cs_call_find(c, "temp") == p, "found");
        cs_call_destroy(c);
}

/* ---- hardening: deadlines, late cancels, who added whom, bounds -------- */

static void test_accept_after_deadline(void) {
        /* bob's ring deadline is T0 + 30 s: an accept at the deadline or
         * later is refused 1004 although the timer has not fired. */
        cs_call_t *c = build(SET_1TO1_RINGING);
        cs_effect_t eff;
        int64_t deadline = cs_call_find(c, "bob")->ring_until;
        TEST_INTEQ(deadline, T0 + 30000);
        act(c, CS_EV_ACCEPT, "bob", 2, "op-late", deadline, &eff);
        TEST_INTEQ(eff.code, CS_ERR_CONFLICT);
        TEST_ASSERT(eff.event == NULL, "no event");
        EXPECT_PARTS(c, "alice=accepted,bob=ringing");
        /* A reject after the deadline still ends the call. */
        act(c, CS_EV_REJECT, "bob", 2, "op-rej", deadline + 1, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(c->end_reason, CS_END_REJECTED);
        cs_effect_clear(&eff);
        cs_call_destroy(c);
        /* One millisecond before the deadline is in time. */
        c = build(SET_1TO1_RINGING);
        act(c, CS_EV_ACCEPT, "bob", 2, "op-ok", deadline - 1, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        cs_effect_clear(&eff);
        cs_call_destroy(c);
}

static void test_cancel_after_unanswered_end(void) {
        /* The inviter's cancel of a call that ended unanswered (rejected,
         * cancelled, timed out, busy) is answered 0 and changes nothing. */
        static const setup_t done[] = {SET_1TO1_REJECTED, SET_1TO1_CANCELLED};
        for (size_t i = 0; i < CS_ARRAY_SIZE(done); i++) {
                cs_call_t *c = build(done[i]);
                char *before = dump_call(c);
                size_t events = c->event_cnt;
                cs_effect_t eff;
                act(c, CS_EV_CANCEL, "alice", 1, "op-late", T0 + 60000, &eff);
                TEST_ASSERT(eff.code == CS_OK, "%s: code %d",
                            setup_names[done[i]], (int)eff.code);
                TEST_ASSERT(eff.event == NULL, "no event");
                EXPECT_EFFECT_EMPTY(&eff);
                TEST_INTEQ(c->event_cnt, events);
                char *after = dump_call(c);
                TEST_STREQ(after, before);
                free(before);
                free(after);
                cs_call_destroy(c);
        }
        /* Timed out. */
        cs_call_t *c = build(SET_1TO1_RINGING);
        cs_effect_t eff;
        TEST_ASSERT(cs_call_expire(c, "timer-1", T0 + 30000, &eff), "expired");
        cs_effect_clear(&eff);
        TEST_INTEQ(c->end_reason, CS_END_TIMEOUT);
        act(c, CS_EV_CANCEL, "alice", 1, "op-late", T0 + 31000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_ASSERT(eff.event == NULL, "no event after timeout");
        cs_call_destroy(c);
        /* Every invitee busy. */
        c = mk_call("", 1);
        cs_strv_t inv = strv("bob"), busy = strv("bob");
        cs_call_invite(c, "alice", 1, "op-1", &inv, &busy, 30, MAX_INV, T0, &eff);
        TEST_INTEQ(eff.code, CS_ERR_ALL_BUSY);
        cs_effect_clear(&eff);
        act(c, CS_EV_CANCEL, "alice", 1, "op-late", T0 + 1000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_ASSERT(eff.event == NULL, "no event after busy");
        cs_strv_clear(&inv);
        cs_strv_clear(&busy);
        cs_call_destroy(c);
        /* A call that was answered and ended stays a conflict; so does
         * someone else's cancel. */
        c = build(SET_1TO1_ACTIVE);
        must_act(c, CS_EV_HUNG_UP, "bob", "op-h", T0 + 5000);
        act(c, CS_EV_CANCEL, "alice", 1, "op-late", T0 + 6000, &eff);
        TEST_INTEQ(eff.code, CS_ERR_CONFLICT);
        cs_call_destroy(c);
        c = build(SET_1TO1_REJECTED);
        act(c, CS_EV_CANCEL, "bob", 1, "op-late", T0 + 6000, &eff);
        TEST_INTEQ(eff.code, CS_ERR_NOT_PERMITTED);
        cs_call_destroy(c);
}

static void test_answer_notifies_adder(void) {
        /* bob (an accepted invitee) adds gina and hank: their answers go
         * to the inviter, to bob, and to themselves. */
        cs_call_t *c = build(SET_GROUP_MIXED);
        must_invite(c, "bob", "op-b1", "gina,hank", "", 30, T0 + 9000);
        TEST_STREQ(cs_call_find(c, "gina")->invited_by, "bob");
        TEST_STREQ(cs_call_find(c, "dave")->invited_by, "alice");
        cs_effect_t eff;
        act(c, CS_EV_ACCEPT, "gina", 2, "op-g", T0 + 10000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "alice,bob,gina");
        cs_effect_clear(&eff);
        act(c, CS_EV_REJECT, "hank", 2, "op-h", T0 + 10000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        EXPECT_LIST(&eff.event->notify, "alice,bob,hank");
        cs_effect_clear(&eff);
        /* Invited by the inviter: just the inviter. */
        act(c, CS_EV_ACCEPT, "dave", 2, "op-d", T0 + 10000, &eff);
        EXPECT_LIST(&eff.event->notify, "alice,dave");
        cs_effect_clear(&eff);
        cs_call_destroy(c);
}

static void test_trim_events(void) {
        /* Re-inviting and rejecting for ever: the record keeps the most
         * recent CS_CALL_KEEP_EVENTS events, the replay payload of the
         * most recent CS_CALL_REPLAY_EVENTS, and counts the rest; a
         * hang-up still applies afterwards. */
        cs_call_t *c = build(SET_1TO1_ACTIVE);
        c->group_id[0] = '\0';
        char op[32];
        for (int i = 0; i < 150; i++) {
                snprintf(op, sizeof(op), "op-inv-%d", i);
                cs_effect_t eff;
                cs_strv_t inv = strv("carol"), busy = strv("");
                cs_call_invite(c, "alice", 1, op, &inv, &busy, 30, MAX_INV,
                               T0 + 2000 + i, &eff);
                TEST_INTEQ(eff.code, CS_OK);
                cs_effect_clear(&eff);
                cs_strv_clear(&inv);
                cs_strv_clear(&busy);
                snprintf(op, sizeof(op), "op-rej-%d", i);
                must_act(c, CS_EV_REJECT, "carol", op, T0 + 2000 + i);
                cs_call_trim_events(c);
                TEST_ASSERT(c->event_cnt <= CS_CALL_KEEP_EVENTS, "bounded");
        }
        size_t total = 2 + 300;
        TEST_INTEQ(c->event_cnt, CS_CALL_KEEP_EVENTS);
        TEST_INTEQ(c->events_dropped, (int64_t)(total - CS_CALL_KEEP_EVENTS));
        TEST_STREQ(c->events[c->event_cnt - 1].operation_id, "op-rej-149");
        for (size_t i = 0; i < c->event_cnt; i++) {
                bool recent = i + CS_CALL_REPLAY_EVENTS >= c->event_cnt;
                TEST_ASSERT(c->events[i].replayable == recent,
                            "event %zu replayable=%d", i, (int)c->events[i].replayable);
                TEST_ASSERT(recent || (!c->events[i].content &&
                                       !c->events[i].notify.cnt),
                            "payload of old event %zu dropped", i);
        }
        TEST_ASSERT(cs_call_find_op(c, "alice", "op-inv-0") == NULL, "dropped");
        TEST_ASSERT(cs_call_find_op(c, "carol", "op-rej-149") != NULL, "kept");
        cs_effect_t eff;
        act(c, CS_EV_HUNG_UP, "bob", 2, "op-bye", T0 + 9000, &eff);
        TEST_INTEQ(eff.code, CS_OK);
        TEST_INTEQ(c->state, CS_CALL_ENDED);
        cs_effect_clear(&eff);
        cs_call_trim_events(c);
        TEST_STREQ(c->events[c->event_cnt - 1].operation_id, "op-bye");
        TEST_ASSERT(c->events[c->event_cnt - 1].replayable, "last replayable");
        cs_call_destroy(c);
}

static void test_meta_bound(void) {
        cs_call_t *c = build(SET_1TO1_RINGING);
        cs_participant_t *bob = cs_call_find(c, "bob");
        uint8_t big[CS_CALL_META_MAX + 1];
        memset(big, 'x', sizeof(big));
        cs_participant_set_meta(bob, big, CS_CALL_META_MAX);
        TEST_INTEQ(bob->meta_len, CS_CALL_META_MAX);
        cs_participant_set_meta(bob, big, sizeof(big));
        TEST_ASSERT(bob->meta == NULL && bob->meta_len == 0, "too large: dropped");
        cs_call_destroy(c);
}

/* Refusals kept in the record, and when the record alone knows a pair. */
static void test_refusals(void) {
        cs_call_t *c = build(SET_1TO1_RINGING);
        TEST_ASSERT(c->ops_in_record, "a new call keeps its operations");
        TEST_ASSERT(cs_call_knows_op(c, "op-x"), "a fresh record knows every pair");
        TEST_ASSERT(cs_call_find_refusal(c, "mallory", "op-x") == NULL, "none yet");
        cs_call_add_refusal(c, "mallory", "op-x", "accept", 1002, "not permitted", T0);
        cs_refusal_t *ref = cs_call_find_refusal(c, "mallory", "op-x");
        TEST_ASSERT(ref, "kept");
        TEST_STREQ(ref->request, "accept");
        TEST_INTEQ(ref->code, 1002);
        TEST_STREQ(ref->msg, "not permitted");
        /* the pair, never the operationID alone */
        TEST_ASSERT(cs_call_find_refusal(c, "bob", "op-x") == NULL, "other sender");
        TEST_ASSERT(cs_call_find_refusal(c, "mallory", "op-y") == NULL, "other op");
        /* an operationID over the bound goes to the ledger, so the record
         * cannot answer for it */
        char long_op[CS_CALL_REFUSAL_ID_MAX + 2];
        memset(long_op, 'o', sizeof(long_op) - 1);
        long_op[sizeof(long_op) - 1] = '\0';
        TEST_ASSERT(!cs_call_can_keep_refusal(c, long_op), "long operationID");
        TEST_ASSERT(!cs_call_knows_op(c, long_op), "long operationID: ask the ledger");
        long_op[CS_CALL_REFUSAL_ID_MAX] = '\0';
        TEST_ASSERT(cs_call_can_keep_refusal(c, long_op), "at the bound");
        /* full: later refusals go to the ledger, which is then asked */
        for (int i = 1; i < CS_CALL_KEEP_REFUSALS; i++) {
                char op[16];
                snprintf(op, sizeof(op), "r-%d", i);
                TEST_ASSERT(cs_call_can_keep_refusal(c, op), "room left at %d", i);
                cs_call_add_refusal(c, "mallory", op, "hungUp", 1002, NULL, T0);
        }
        TEST_INTEQ(c->refusal_cnt, CS_CALL_KEEP_REFUSALS);
        TEST_STREQ(cs_call_find_refusal(c, "mallory", "r-5")->msg, "");
        TEST_ASSERT(!cs_call_can_keep_refusal(c, "op-z"), "full");
        TEST_ASSERT(!cs_call_knows_op(c, "op-z"), "full: ask the ledger");
        cs_call_destroy(c);

        /* events dropped: a pair the record does not show may be in the
         * ledger */
        c = build(SET_1TO1_RINGING);
        c->events_dropped = 1;
        TEST_ASSERT(cs_call_can_keep_refusal(c, "op-x"), "still keeps refusals");
        TEST_ASSERT(!cs_call_knows_op(c, "op-x"), "trimmed: ask the ledger");
        /* a record written before issue 8 */
        c->events_dropped = 0;
        c->ops_in_record = false;
        TEST_ASSERT(!cs_call_can_keep_refusal(c, "op-x"), "old record: the ledger");
        TEST_ASSERT(!cs_call_knows_op(c, "op-x"), "old record: ask the ledger");
        cs_call_destroy(c);
}

int main(void) {
        test_refusals();
        test_names();
        test_strv();
        test_new();
        test_setups();
        test_invite_new_all_ringing();
        test_invite_new_some_busy();
        test_invite_new_all_busy();
        test_invite_live_by_inviter();
        test_invite_live_by_invitee();
        test_reinvite_ended_part();
        test_invite_max_boundary();
        test_invite_refusals();
        test_accept();
        test_reject();
        test_cancel();
        test_hung_up_1to1();
        test_hung_up_as_cancel();
        test_hung_up_group();
        test_act_refusals();
        test_expire_1to1();
        test_expire_group();
        test_checks();
        test_queries();
        test_accept_after_deadline();
        test_cancel_after_unanswered_end();
        test_answer_notifies_adder();
        test_trim_events();
        test_meta_bound();
        return test_done();
}
