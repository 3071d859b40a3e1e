/*
 * bench_e2e.c: end-to-end numbers through a real Apache Kafka broker, the
 * MongoDB-wire test server and the real callsig binary (issue 12 part 4).
 * Run by `scripts/bench.sh e2e`, which starts the broker and sets the
 * harness's environment (CALLSIG_TEST_KAFKA=real, CALLSIG_TEST_KAFKA_BOOTSTRAP,
 * CALLSIG_TEST_BIN, CALLSIG_TEST_SOURCE_DIR). It prints numbers on stdout and
 * asserts nothing about them; the harness's own lines go to stderr.
 *
 *   first-contact [USERS]   (a) USERS (200) getTokenByRoomID commands, one at
 *                           a time, each from a user whose push topic does
 *                           not exist; then the same users again (topics
 *                           exist). Per command: produce -> reply's
 *                           timestamp (callsig's producer stamps it when it
 *                           hands the reply to librdkafka, i.e. after the
 *                           topic is prepared) and produce -> reply consumed
 *                           by the bench. Plus the worker's own "first
 *                           contact: ... prepared in X ms" figures.
 *   join [classic|consumer] (b) a worker restarted into its group: start ->
 *                           first answered command (3 times); then one
 *                           worker under a steady load (RATE commands/s), a
 *                           second worker joins, later leaves (SIGTERM): the
 *                           longest gap between replies and the latency of
 *                           the commands sent in each window. "consumer" is
 *                           the KIP-848 group protocol, with a config without
 *                           session.timeout.ms / heartbeat.interval.ms.
 *   all                     first-contact, join classic, join consumer.
 *
 * Times are wall-clock milliseconds of one machine (the bench, the broker
 * and callsig run side by side).
 */
#include <inttypes.h>
#include <signal.h>
#include <time.h>

#include "harness.h"

TEST_MAIN_DEFS

#define LOAD_USERS 8
#define RATE 20              /* commands per second under load */
#define STEADY_S 10          /* before the second worker starts */
#define JOINED_S 25          /* the second worker runs this long */
#define AFTER_S 20           /* after it left */
#define RESTARTS 3

static int64_t wall(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp64(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted @p v. */
static int64_t pct(const int64_t *v, size_t n, double p) {
        if (!n)
                return -1;
        size_t k = (size_t)(p * (double)n + 0.999999);
        if (k < 1)
                k = 1;
        if (k > n)
                k = n;
        return v[k - 1];
}

static void print_dist(const char *label, int64_t *v, size_t n) {
        qsort(v, n, sizeof(*v), cmp64);
        printf("  %-44s n=%-4zu p50 %5" PRId64 "  p90 %5" PRId64 "  p99 %5" PRId64
               "  max %5" PRId64 " ms\n",
               label, n, pct(v, n, .50), pct(v, n, .90), pct(v, n, .99),
               n ? v[n - 1] : -1);
        fflush(stdout);
}

static char *slurp(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f)
                return strdup("");
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *s = malloc((size_t)n + 1);
        size_t got = fread(s, 1, (size_t)n, f);
        s[got] = '\0';
        fclose(f);
        return s;
}

static char *worker_log(env_t *env, int idx) {
        char path[400];
        snprintf(path, sizeof(path), "%s/worker%d.log", env_dir(env), idx);
        return slurp(path);
}

/* ---- (a) first contact ---- */

static void first_contact(int users) {
        printf("\n== first contact: %d new users, one command at a time, one worker, "
               "per_user push topics ==\n", users);
        env_t *env = env_start("bfc", NULL);
        env_watch(env, "warm");
        env_send(env, cmd_token("fc-warm", "warm", "no-such-room"), NULL, -1);
        env_expect_reply(env, "warm", "fc-warm");

        int64_t *stamp[2], *e2e[2];
        for (int r = 0; r < 2; r++) {
                stamp[r] = calloc((size_t)users, sizeof(int64_t));
                e2e[r] = calloc((size_t)users, sizeof(int64_t));
        }
        for (int r = 0; r < 2; r++) {
                for (int i = 0; i < users; i++) {
                        char user[32], op[32];
                        snprintf(user, sizeof(user), "fc%03d", i);
                        snprintf(op, sizeof(op), "fc-%d-%03d", r, i);
                        int64_t t0 = wall();
                        env_send(env, cmd_token(op, user, "no-such-room"), NULL, -1);
                        if (r == 0)
                                env_watch_created(env, user, 30000);
                        seen_t *s = env_expect_reply(env, user, op);
                        stamp[r][i] = s->timestamp_ms - t0;
                        e2e[r][i] = s->recv_ms - t0;
                }
        }
        print_dist("new topic: produce -> reply produced (stamp)", stamp[0], (size_t)users);
        print_dist("new topic: produce -> reply consumed", e2e[0], (size_t)users);
        print_dist("existing:  produce -> reply produced (stamp)", stamp[1], (size_t)users);
        print_dist("existing:  produce -> reply consumed", e2e[1], (size_t)users);

        /* The worker's own account of each preparation. */
        char *log = worker_log(env, 0);
        int64_t *prep = calloc((size_t)users + 16, sizeof(int64_t));
        size_t np = 0;
        const char *needle = "new topic(s) prepared in ";
        for (const char *p = log; (p = strstr(p, needle)) && np < (size_t)users + 16;
             p += strlen(needle)) {
                /* "...prepared in X ms: C created, E existed, ..." */
                const char *c = strstr(p, "ms: ");
                if (c && atoll(c + 4) > 0) /* not the warm-up's existing topic */
                        prep[np++] = atoll(p + strlen(needle));
        }
        print_dist("worker log: first contact prepared in", prep, np);
        free(prep);
        free(log);
        for (int r = 0; r < 2; r++) {
                free(stamp[r]);
                free(e2e[r]);
        }
        env_stop(env);
}

/* ---- (b) worker join and leave ---- */

typedef struct op_s {
        int64_t sent, recv;
} op_t;

typedef struct run_s {
        env_t *env;
        op_t *ops;
        size_t cnt, cap;
        size_t scanned; /* seen entries looked at */
        int64_t *recvs; /* reply receive times, in arrival order */
        size_t nrecv;
} run_t;

/* Pumps for @p ms and records the replies to load commands ("ld-N"). */
static void collect(run_t *r, int ms) {
        size_t cnt;
        const seen_t *all = env_seen_all(r->env, ms, &cnt);
        for (; r->scanned < cnt; r->scanned++) {
                const seen_t *s = &all[r->scanned];
                if (!s->operation_id || strncmp(s->operation_id, "ld-", 3) ||
                    !s->kind || strcmp(s->kind, "reply"))
                        continue;
                size_t n = (size_t)atoll(s->operation_id + 3);
                if (n < r->cnt && !r->ops[n].recv) {
                        r->ops[n].recv = s->recv_ms;
                        r->recvs[r->nrecv++] = s->recv_ms;
                }
        }
}

static void send_load(run_t *r) {
        char op[32], user[16], room[32];
        size_t n = r->cnt++;
        snprintf(op, sizeof(op), "ld-%zu", n);
        snprintf(user, sizeof(user), "ld%zu", n % LOAD_USERS);
        snprintf(room, sizeof(room), "room-%zu", n); /* spreads the keys */
        r->ops[n].sent = wall();
        env_send_async(r->env, cmd_token(op, user, room));
}

/* Prints the window [@p from, @p to): latency of the commands sent in it,
 * the longest gap between consecutive replies (counting from the last reply
 * before it), unanswered commands. */
static void window(run_t *r, const char *label, int64_t from, int64_t to) {
        int64_t *lat = calloc(r->cnt + 1, sizeof(int64_t));
        size_t n = 0, lost = 0;
        for (size_t i = 0; i < r->cnt; i++) {
                if (r->ops[i].sent < from || r->ops[i].sent >= to)
                        continue;
                if (r->ops[i].recv)
                        lat[n++] = r->ops[i].recv - r->ops[i].sent;
                else
                        lost++;
        }
        int64_t prev = -1, gap = 0;
        for (size_t i = 0; i < r->nrecv; i++) {
                int64_t t = r->recvs[i];
                if (t < from) {
                        prev = t;
                        continue;
                }
                if (t >= to)
                        break;
                if (prev >= 0 && t - prev > gap)
                        gap = t - prev;
                prev = t;
        }
        char l[128];
        snprintf(l, sizeof(l), "%s: latency", label);
        print_dist(l, lat, n);
        printf("  %-44s %" PRId64 " ms (normal spacing %d ms); unanswered %zu\n",
               "  longest gap between replies", gap, 1000 / RATE, lost);
        fflush(stdout);
        free(lat);
}

/* @returns the receive time of the first load reply that worker @p idx
 * handled among the commands sent at or after @p since; -1 if none. */
static int64_t first_handled_by(run_t *r, int idx, int64_t since) {
        char *log = worker_log(r->env, idx);
        int64_t at = -1;
        for (size_t i = 0; i < r->cnt && at < 0; i++) {
                if (r->ops[i].sent < since || !r->ops[i].recv)
                        continue;
                char needle[64];
                snprintf(needle, sizeof(needle), "op=ld-%zu from=", i);
                if (strstr(log, needle))
                        at = r->ops[i].recv;
        }
        free(log);
        return at;
}

static void join_leave(const char *protocol) {
        bool kip848 = !strcmp(protocol, "consumer");
        printf("\n== worker join/leave, group.protocol %s%s ==\n", protocol,
               kip848 ? " (KIP-848; no session.timeout.ms / heartbeat.interval.ms)"
                      : " (session.timeout.ms 6000, heartbeat.interval.ms 500)");
        env_opts_t o = {0};
        if (kip848)
                o.consumer_yaml = "    group.protocol: consumer\n"
                                  "    topic.metadata.refresh.interval.ms: 1000\n"
                                  "    auto.commit.interval.ms: 200\n";
        int64_t t_env = wall();
        env_t *env = env_start(kip848 ? "bjoin848" : "bjoincl", &o);
        printf("  first worker of a new group: env ready (worker assigned) %" PRId64
               " ms after env_start (includes MongoDB server and topic set-up)\n",
               wall() - t_env);
        char user[16];
        for (int u = 0; u < LOAD_USERS; u++) {
                snprintf(user, sizeof(user), "ld%d", u);
                env_watch(env, user);
        }
        env_watch(env, "warm");
        env_send(env, cmd_token("jw-0", "warm", "no-such-room"), NULL, -1);
        env_expect_reply(env, "warm", "jw-0");

        /* A worker restarted into its group: start -> first answer. */
        int cur = 0;
        int64_t restart[RESTARTS];
        for (int k = 0; k < RESTARTS; k++) {
                env_worker_signal(env, cur, SIGTERM);
                env_worker_wait(env, cur, 30000);
                char op[32];
                snprintf(op, sizeof(op), "jw-%d", k + 1);
                int64_t t0 = wall();
                cur = env_worker_start(env);
                env_send(env, cmd_token(op, "warm", "no-such-room"), NULL, -1);
                restart[k] = env_expect_reply(env, "warm", op)->recv_ms - t0;
        }
        print_dist("worker restarted: start -> first answer", restart, RESTARTS);

        /* Steady load; a second worker joins, then leaves. */
        run_t r = {.env = env};
        r.cap = (size_t)RATE * (STEADY_S + JOINED_S + AFTER_S + 5);
        r.ops = calloc(r.cap, sizeof(op_t));
        r.recvs = calloc(r.cap, sizeof(int64_t));
        size_t base;
        env_seen_all(env, 0, &base);
        r.scanned = base;
        int64_t t0 = wall(), t_join = 0, t_leave = 0, t_end;
        t_end = t0 + (STEADY_S + JOINED_S + AFTER_S) * 1000;
        int second = -1;
        int64_t t_exit = 0;
        while (wall() < t_end) {
                int64_t now = wall();
                while (r.cnt < r.cap &&
                       t0 + (int64_t)r.cnt * 1000 / RATE <= now)
                        send_load(&r);
                if (!t_join && now >= t0 + STEADY_S * 1000) {
                        t_join = wall();
                        second = env_worker_start(env);
                }
                if (!t_leave && now >= t0 + (STEADY_S + JOINED_S) * 1000) {
                        t_leave = wall();
                        env_worker_signal(env, second, SIGTERM);
                }
                collect(&r, 10);
        }
        /* Drain: every command should be answered eventually. */
        int64_t drain_until = wall() + 30000;
        while (r.nrecv < r.cnt && wall() < drain_until)
                collect(&r, 50);
        env_worker_wait(env, second, 30000);
        (void)t_exit;

        printf("  load: %d commands/s (getTokenByRoomID, %d users, keys spread over "
               "the 4 command partitions), %zu sent, %zu answered\n",
               RATE, LOAD_USERS, r.cnt, r.nrecv);
        window(&r, "steady, one worker (2 s .. join)", t0 + 2000, t_join);
        window(&r, "join: 2nd worker starts .. +15 s", t_join, t_join + 15000);
        int64_t first = first_handled_by(&r, second, t_join);
        if (first >= 0)
                printf("  %-44s %" PRId64 " ms\n", "  2nd worker: start -> its first answer",
                       first - t_join);
        else
                printf("  2nd worker answered no load command\n");
        window(&r, "two workers (join +15 s .. leave)", t_join + 15000, t_leave);
        window(&r, "leave: SIGTERM 2nd worker .. +15 s", t_leave, t_leave + 15000);
        window(&r, "one worker again (leave +15 s .. end)", t_leave + 15000, t_end);
        free(r.ops);
        free(r.recvs);
        env_stop(env);
}

int main(int argc, char **argv) {
        const char *what = argc > 1 ? argv[1] : "all";
        signal(SIGPIPE, SIG_IGN);
        printf("callsig end-to-end bench: librdkafka %s (bench side; the worker "
               "links the same build), broker %s\n",
               rd_kafka_version_str(),
               getenv("CALLSIG_TEST_KAFKA_BOOTSTRAP") ? getenv("CALLSIG_TEST_KAFKA_BOOTSTRAP")
                                                      : "?");
        if (!strcmp(what, "first-contact") || !strcmp(what, "all"))
                first_contact(argc > 2 && strcmp(what, "all") ? atoi(argv[2]) : 200);
        if (!strcmp(what, "join"))
                join_leave(argc > 2 ? argv[2] : "classic");
        if (!strcmp(what, "all")) {
                join_leave("classic");
                join_leave("consumer");
        }
        return 0;
}
