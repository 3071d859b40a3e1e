/*
 * load.c: a steady load of calls for the chaos scenarios (see load.h).
 */
#include "load.h"

#include <time.h>

#define MAX_LANES 8
#define RING_TIMEOUT_S 2

typedef struct lane_s {
        char caller[32], callee[32]; /* answered calls */
        char ucaller[32], ucallee[32]; /* unanswered calls */
        int done;      /* answered calls finished */
        bool busy;     /* call number `done` is under way */
        int udone;     /* unanswered calls finished */
        bool ubusy;
} lane_t;

struct load_s {
        env_t *env;
        int lanes;
        lane_t lane[MAX_LANES];
        int sent;
};

load_t *load_new(env_t *env, int lanes) {
        TEST_ASSERT(lanes > 0 && lanes <= MAX_LANES, "lanes %d", lanes);
        load_t *ld = calloc(1, sizeof(*ld));
        TEST_ASSERT(ld, "calloc");
        ld->env = env;
        ld->lanes = lanes;
        for (int l = 0; l < lanes; l++) {
                lane_t *ln = &ld->lane[l];
                snprintf(ln->caller, sizeof(ln->caller), "c%d", l);
                snprintf(ln->callee, sizeof(ln->callee), "e%d", l);
                snprintf(ln->ucaller, sizeof(ln->ucaller), "u%d", l);
                snprintf(ln->ucallee, sizeof(ln->ucallee), "v%d", l);
                env_watch(env, ln->caller);
                env_watch(env, ln->callee);
                env_watch(env, ln->ucaller);
                env_watch(env, ln->ucallee);
        }
        return ld;
}

void load_free(load_t *ld) { free(ld); }

static void op_name(char *buf, size_t size, const char *user, int n,
                    const char *what) {
        snprintf(buf, size, "%s-%d-%s", user, n, what);
}

static void room_name(char *buf, size_t size, const char *user, int n) {
        snprintf(buf, size, "room-%s-%d", user, n);
}

static int count(const seen_t *all, size_t cnt, const char *user,
                 const char *op, const char *kind) {
        int n = 0;
        for (size_t i = 0; i < cnt; i++)
                if (all[i].kind && !strcmp(all[i].kind, kind) &&
                    !strcmp(all[i].key, user) && all[i].operation_id &&
                    !strcmp(all[i].operation_id, op))
                        n++;
        return n;
}

static void start_call(load_t *ld, lane_t *ln) {
        char op[96], room[96];
        int n = ln->done;
        room_name(room, sizeof(room), ln->caller, n);
        op_name(op, sizeof(op), ln->caller, n, "inv");
        env_send_async(ld->env, cmd_invite(op, ln->caller,
                                           (const char *[]){ln->callee, NULL},
                                           room, NULL, "audio", 30));
        op_name(op, sizeof(op), ln->caller, n, "acc");
        env_send_async(ld->env, cmd_action(op, ln->callee,
                                           OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT, room));
        op_name(op, sizeof(op), ln->caller, n, "hup");
        env_send_async(ld->env, cmd_action(op, ln->caller,
                                           OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP, room));
        ld->sent += 3;
        ln->busy = true;
}

static bool call_done(load_t *ld, lane_t *ln, const seen_t *all, size_t cnt) {
        char op[96];
        int n = ln->done;
        op_name(op, sizeof(op), ln->caller, n, "inv");
        if (!count(all, cnt, ln->caller, op, "reply"))
                return false;
        op_name(op, sizeof(op), ln->caller, n, "acc");
        if (!count(all, cnt, ln->callee, op, "reply"))
                return false;
        op_name(op, sizeof(op), ln->caller, n, "hup");
        (void)ld;
        return count(all, cnt, ln->caller, op, "reply") > 0;
}

static void start_unanswered(load_t *ld, lane_t *ln) {
        char op[96], room[96];
        room_name(room, sizeof(room), ln->ucaller, ln->udone);
        op_name(op, sizeof(op), ln->ucaller, ln->udone, "inv");
        env_send_async(ld->env, cmd_invite(op, ln->ucaller,
                                           (const char *[]){ln->ucallee, NULL},
                                           room, NULL, "video", RING_TIMEOUT_S));
        ld->sent++;
        ln->ubusy = true;
}

static bool unanswered_done(load_t *ld, lane_t *ln, const seen_t *all,
                            size_t cnt) {
        char op[96], room[96];
        op_name(op, sizeof(op), ln->ucaller, ln->udone, "inv");
        if (!count(all, cnt, ln->ucaller, op, "reply"))
                return false;
        room_name(room, sizeof(room), ln->ucaller, ln->udone);
        bson_t *doc = env_call_doc(ld->env, room);
        bool ended = doc && !strcmp(doc_str(doc, "state"), "ended");
        if (doc)
                bson_destroy(doc);
        return ended;
}

void load_run(load_t *ld, int seconds,
              void (*tick)(env_t *env, int64_t elapsed_ms, void *opaque),
              void *opaque) {
        int64_t t0 = env_mono_ms();
        int64_t give_up = (int64_t)seconds * 1000 + env_ms(120000);
        int64_t last_tick = -1000;
        for (;;) {
                int64_t elapsed = env_mono_ms() - t0;
                bool running = elapsed < (int64_t)seconds * 1000;
                size_t cnt;
                const seen_t *all = env_seen_all(ld->env, 0, &cnt);
                bool busy = false;
                for (int l = 0; l < ld->lanes; l++) {
                        lane_t *ln = &ld->lane[l];
                        if (ln->busy && call_done(ld, ln, all, cnt)) {
                                ln->busy = false;
                                ln->done++;
                        }
                        if (ln->ubusy && unanswered_done(ld, ln, all, cnt)) {
                                ln->ubusy = false;
                                ln->udone++;
                        }
                        if (running && !ln->busy)
                                start_call(ld, ln);
                        if (running && !ln->ubusy)
                                start_unanswered(ld, ln);
                        busy = busy || ln->busy || ln->ubusy;
                }
                if (!running && !busy)
                        break;
                if (elapsed > give_up) {
                        for (int l = 0; l < ld->lanes; l++)
                                TEST_SAY("lane %d: call %d %s, unanswered %d %s", l,
                                         ld->lane[l].done,
                                         ld->lane[l].busy ? "pending" : "-",
                                         ld->lane[l].udone,
                                         ld->lane[l].ubusy ? "pending" : "-");
                        TEST_FAIL("the load did not finish %d ms after it stopped",
                                  env_ms(120000));
                }
                if (tick && elapsed - last_tick >= 50) {
                        last_tick = elapsed;
                        tick(ld->env, elapsed, opaque);
                }
        }
        env_flush(ld->env, 30000);
        int calls = 0, unanswered = 0;
        for (int l = 0; l < ld->lanes; l++) {
                calls += ld->lane[l].done;
                unanswered += ld->lane[l].udone;
        }
        TEST_SAY("load: %d commands, %d answered calls, %d unanswered calls in "
                 "%lld ms", ld->sent, calls, unanswered,
                 (long long)(env_mono_ms() - t0));
}

/* Every reply to @p user for @p op has errCode @p code; @returns how many. */
static int replies_with(const seen_t *all, size_t cnt, const char *user,
                        const char *op, int code) {
        int n = 0;
        for (size_t i = 0; i < cnt; i++) {
                const seen_t *s = &all[i];
                if (!s->kind || strcmp(s->kind, "reply") || strcmp(s->key, user) ||
                    !s->operation_id || strcmp(s->operation_id, op))
                        continue;
                TEST_ASSERT(s->push && s->push->reply, "%s: undecodable reply", op);
                TEST_ASSERT(s->push->reply->errcode == code,
                            "%s to %s: errCode %d (%s), expected %d", op, user,
                            s->push->reply->errcode, s->push->reply->errmsg, code);
                n++;
        }
        return n;
}

static void expect_notes(const seen_t *all, size_t cnt, const char *op,
                         const char *a, const char *b) {
        TEST_ASSERT(count(all, cnt, a, op, "notification") > 0,
                    "no notification %s to %s", op, a);
        TEST_ASSERT(count(all, cnt, b, op, "notification") > 0,
                    "no notification %s to %s", op, b);
}

void load_check(load_t *ld) {
        env_t *env = ld->env;
        size_t cnt;
        /* Let late duplicates arrive too. */
        const seen_t *all = env_seen_all(env, 1000, &cnt);
        int replies = 0, cmds = 0;
        for (int l = 0; l < ld->lanes; l++) {
                lane_t *ln = &ld->lane[l];
                char op[96], room[96];
                for (int n = 0; n < ln->done; n++) {
                        op_name(op, sizeof(op), ln->caller, n, "inv");
                        TEST_ASSERT(replies_with(all, cnt, ln->caller, op, 0) > 0, "%s", op);
                        replies += replies_with(all, cnt, ln->caller, op, 0);
                        expect_notes(all, cnt, op, ln->caller, ln->callee);
                        op_name(op, sizeof(op), ln->caller, n, "acc");
                        replies += replies_with(all, cnt, ln->callee, op, 0);
                        expect_notes(all, cnt, op, ln->caller, ln->callee);
                        op_name(op, sizeof(op), ln->caller, n, "hup");
                        replies += replies_with(all, cnt, ln->caller, op, 0);
                        expect_notes(all, cnt, op, ln->caller, ln->callee);
                        cmds += 3;
                        room_name(room, sizeof(room), ln->caller, n);
                        bson_destroy(env_wait_call(env, room, "ended", "hung_up"));
                }
                for (int n = 0; n < ln->udone; n++) {
                        op_name(op, sizeof(op), ln->ucaller, n, "inv");
                        TEST_ASSERT(replies_with(all, cnt, ln->ucaller, op, 0) > 0, "%s", op);
                        replies += replies_with(all, cnt, ln->ucaller, op, 0);
                        expect_notes(all, cnt, op, ln->ucaller, ln->ucallee);
                        cmds++;
                        room_name(room, sizeof(room), ln->ucaller, n);
                        bson_destroy(env_wait_call(env, room, "ended", "timeout"));
                }
                /* One timer notification (a cancel) per timed-out call, to
                 * the invitee and to the inviter. */
                for (int w = 0; w < 2; w++) {
                        const char *user = w ? ln->ucaller : ln->ucallee;
                        int timer_ops = 0;
                        for (size_t i = 0; i < cnt; i++) {
                                const seen_t *s = &all[i];
                                if (!s->kind || strcmp(s->kind, "notification") ||
                                    strcmp(s->key, user) || !s->operation_id ||
                                    strncmp(s->operation_id, "timer-", 6))
                                        continue;
                                bool first = true;
                                for (size_t j = 0; j < i && first; j++)
                                        if (all[j].operation_id && all[j].kind &&
                                            !strcmp(all[j].kind, "notification") &&
                                            !strcmp(all[j].key, user) &&
                                            !strcmp(all[j].operation_id, s->operation_id))
                                                first = false;
                                timer_ops += first;
                        }
                        TEST_ASSERT(timer_ops == ln->udone,
                                    "%s got %d timer notifications for %d timed-out calls",
                                    user, timer_ops, ln->udone);
                }
        }
        /* Repeated notifications are byte-identical per (operation-id,
         * recipient). */
        int notes = 0, dups = 0;
        for (size_t i = 0; i < cnt; i++) {
                const seen_t *s = &all[i];
                if (!s->kind || strcmp(s->kind, "notification"))
                        continue;
                notes++;
                for (size_t j = 0; j < i; j++) {
                        const seen_t *f = &all[j];
                        if (!f->kind || strcmp(f->kind, "notification") ||
                            strcmp(f->key, s->key) || !f->operation_id ||
                            !s->operation_id ||
                            strcmp(f->operation_id, s->operation_id))
                                continue;
                        TEST_ASSERT(f->len == s->len && !memcmp(f->value, s->value, s->len),
                                    "notification %s to %s repeated with other bytes",
                                    s->operation_id, s->key);
                        dups++;
                        break;
                }
        }
        /* Nothing rings past its deadline, no line stays busy. */
        char filter[256];
        snprintf(filter, sizeof(filter),
                 "{\"participants\": {\"$elemMatch\": {\"state\": \"ringing\", "
                 "\"ringUntil\": {\"$lt\": {\"$date\": {\"$numberLong\": \"%lld\"}}}}}}",
                 (long long)(env_wall_ms() - 5000));
        TEST_INTEQ(env_count_docs(env, "calls", filter), 0);
        TEST_INTEQ(env_count_docs(env, "calls", "{\"state\": {\"$ne\": \"ended\"}}"), 0);
        TEST_INTEQ(env_count_docs(env, "lines", "{}"), 0);
        TEST_SAY("load checked: %d commands, %d replies (%d repeated), %d "
                 "notifications (%d repeated, all byte-identical)",
                 cmds, replies, replies - cmds, notes, dups);
}
