/*
 * bench_e2e.c: end-to-end numbers through a real Apache Kafka broker, the
 * MongoDB-wire test server and the real callsig binary (issue 12 part 4,
 * issue 8).
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
 *   calls open RATE [CALLS [WORKERS]]
 *   calls closed K [CALLS [WORKERS]]
 *                           (c, issue 8) complete 1:1 calls (invite, accept,
 *                           hang-up) at RATE commands/s, or with K calls in
 *                           flight; every reply and notification is read;
 *                           latency from sentAt to reply, errors, duplicates,
 *                           missing replies, worker CPU and peak RSS, MongoDB
 *                           round trips per command (callsig's metric), and
 *                           the CPU of the bench, the store and the broker
 *                           (BENCH_STORE_PID, BENCH_BROKER_PID). The store:
 *                           the harness's test server, or
 *                           CALLSIG_TEST_MONGODB_URI (BENCH_STORE names it).
 *                           BENCH_RSS_EVERY=N prints peak RSS every N calls;
 *                           BENCH_OLD_DEFAULTS=1 uses the latency settings
 *                           from before issue 8.
 *   calls ceiling           the store's own round trips per second.
 *   history [RECORDS [REPS]]
 *                           (issue 11) the v3 call-history read path: seeds
 *                           RECORDS (100,000) ended calls straight into the
 *                           store in the shape callsig writes them (one heavy
 *                           user in a tenth of them, a tenth of those hidden
 *                           by that user, the rest spread over 1,000 users;
 *                           plus a dozen stale ringing records and one
 *                           pending invitation of the heavy user), then sends
 *                           getSignalInvitationRecords (pages 1, 25 and 50 of
 *                           20, page 51, sendID and time-window filters) and
 *                           getSignalInvitationInfoStartApp REPS (20) times
 *                           each, one at a time, to one worker in
 *                           openim.protocol v3: latency (produce -> reply
 *                           consumed) and MongoDB round trips per query.
 *   all                     first-contact, join classic, join consumer.
 *
 * Times are wall-clock milliseconds of one machine (the bench, the broker
 * and callsig run side by side).
 */
#include <inttypes.h>
#include <mongoc/mongoc.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "v3cmd.h"

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

static char *worker_log(env_t *env, int idx) {
        char path[400];
        snprintf(path, sizeof(path), "%s/worker%d.log", env_dir(env), idx);
        return env_read_file(path);
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

/* ---- (c) complete 1:1 calls (issue 8) ---- */

static void store_ceiling(env_t *env, const char *label, int ms, size_t calls);

#define CALL_STEPS 3 /* invite, accept, hang-up */

static const char *const step_names[CALL_STEPS] = {"i", "a", "h"};

typedef struct call_s {
        int pair;
        int step;                 /* next step to send (closed loop) */
        int64_t sent[CALL_STEPS]; /* wall ms, the command's sentAt */
        int64_t lat[CALL_STEPS];  /* reply recv - sentAt; -1 none yet */
        int replies[CALL_STEPS];  /* replies seen (duplicates > 1) */
        int32_t code[CALL_STEPS];
        int notes;
} call_t;

typedef struct calls_s {
        env_t *env;
        call_t *calls;
        size_t cnt, cap;
        size_t sent_cmds, replies, dups, errors, notes, strays;
        int workers;
} calls_t;

/* /proc/PID/stat utime + stime in ms; -1 if gone. */
static int64_t proc_cpu_ms(pid_t pid) {
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *p = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                         &ut, &st) != 2)
                return -1;
        return (int64_t)((ut + st) * 1000 / (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* /proc/PID/status VmHWM (peak RSS) in KiB; -1 if gone. */
static long proc_hwm_kib(pid_t pid) {
        char path[64], line[256];
        long kib = -1;
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (!strncmp(line, "VmHWM:", 6))
                        kib = atol(line + 6);
        fclose(f);
        return kib;
}

/* The counter @p name from worker @p idx's /metrics; -1 if absent. */
static int64_t metric(env_t *env, int idx, const char *name) {
        http_reply_t r = env_http(env, idx, "GET", "/metrics", NULL, NULL, 0);
        int64_t v = -1;
        if (r.status == 200 && r.body) {
                char needle[128];
                snprintf(needle, sizeof(needle), "\n%s ", name);
                const char *p = strstr(r.body, needle);
                if (p)
                        v = atoll(p + strlen(needle));
        }
        free(r.body);
        return v;
}

static int64_t workers_metric(calls_t *c, const char *name) {
        int64_t sum = 0;
        for (int w = 0; w < c->workers; w++)
                sum += metric(c->env, w, name);
        return sum;
}

static int64_t workers_cpu(calls_t *c) {
        int64_t sum = 0;
        for (int w = 0; w < c->workers; w++)
                sum += proc_cpu_ms(env_worker_pid(c->env, w));
        return sum;
}

static pid_t pid_from_env(const char *var) {
        const char *v = getenv(var);
        return v && *v ? (pid_t)atoi(v) : 0;
}

static int64_t self_cpu_ms(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return (int64_t)ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 +
               (int64_t)ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000;
}

static void call_send(calls_t *c, size_t n, int step) {
        call_t *call = &c->calls[n];
        char op[48], a[24], b[24], room[32];
        snprintf(op, sizeof(op), "c%zu-%s", n, step_names[step]);
        snprintf(a, sizeof(a), "ca%d", call->pair);
        snprintf(b, sizeof(b), "cb%d", call->pair);
        snprintf(room, sizeof(room), "r%d-%zu", (int)getpid(), n);
        cmd_t *cmd;
        if (step == 0) {
                const char *inv[] = {b, NULL};
                cmd = cmd_invite(op, a, inv, room, NULL, "audio", 30);
        } else if (step == 1) {
                cmd = cmd_action(op, b, OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT, room);
        } else {
                cmd = cmd_action(op, a, OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP, room);
        }
        call->sent[step] = cmd_msg(cmd)->sentat;
        call->step = step + 1;
        c->sent_cmds++;
        env_send_async(c->env, cmd);
}

/* Reads what arrived (every reply and notification), then forgets it.
 * @returns the number of replies that completed a step. */
static size_t calls_collect(calls_t *c, int ms) {
        size_t cnt, done = 0;
        const seen_t *all = env_seen_all(c->env, ms, &cnt);
        for (size_t i = 0; i < cnt; i++) {
                const seen_t *s = &all[i];
                const char *op = s->operation_id;
                size_t n;
                char st;
                if (!op || sscanf(op, "c%zu-%c", &n, &st) != 2 || n >= c->cnt) {
                        c->strays++;
                        continue;
                }
                int step = st == 'i' ? 0 : st == 'a' ? 1 : st == 'h' ? 2 : -1;
                call_t *call = &c->calls[n];
                if (step < 0) {
                        c->strays++;
                } else if (s->kind && !strcmp(s->kind, "reply")) {
                        c->replies++;
                        if (call->replies[step]++) {
                                c->dups++;
                                continue;
                        }
                        call->lat[step] = s->recv_ms - call->sent[step];
                        call->code[step] = s->push && s->push->body_case ==
                                                   CALLSIG__V1__PUSH_MESSAGE__BODY_REPLY
                                                   ? s->push->reply->errcode
                                                   : -1;
                        if (call->code[step])
                                c->errors++;
                        done++;
                } else if (s->kind && !strcmp(s->kind, "notification")) {
                        call->notes++;
                        c->notes++;
                } else {
                        c->strays++;
                }
        }
        env_seen_drop(c->env);
        return done;
}

/* Long runs (BENCH_RSS_EVERY): deletes the call and operation records of
 * the finished calls among [@p from, @p to) from the store, so that the test
 * stores, which scan, stay as fast as at the start; the worker never reads
 * a finished call's records again in this run. @returns the lowest
 * unfinished call (where the next trim starts). */
static size_t trim_store(calls_t *c, size_t from, size_t to) {
        size_t lowest = to;
        mongoc_client_t *cl = mongoc_client_new(env_mongo_uri(c->env));
        mongoc_collection_t *calls = mongoc_client_get_collection(
                cl, env_mongo_db(c->env), "calls");
        mongoc_collection_t *ops = mongoc_client_get_collection(
                cl, env_mongo_db(c->env), "operations");
        bson_t cf = BSON_INITIALIZER, of = BSON_INITIALIZER, cin, oin, carr, oarr;
        BSON_APPEND_DOCUMENT_BEGIN(&cf, "_id", &cin);
        BSON_APPEND_ARRAY_BEGIN(&cin, "$in", &carr);
        BSON_APPEND_DOCUMENT_BEGIN(&of, "_id", &oin);
        BSON_APPEND_ARRAY_BEGIN(&oin, "$in", &oarr);
        size_t ci = 0, oi = 0;
        for (size_t n = from; n < to; n++) {
                char key[16], id[64], user[24];
                const char *k;
                if (c->calls[n].step <= CALL_STEPS) {
                        if (lowest == to)
                                lowest = n;
                        continue;
                }
                snprintf(id, sizeof(id), "r%d-%zu", (int)getpid(), n);
                bson_uint32_to_string((uint32_t)ci++, &k, key, sizeof(key));
                bson_append_utf8(&carr, k, -1, id, -1);
                for (int st = 0; st < CALL_STEPS; st++) {
                        snprintf(user, sizeof(user), "%s%d", st == 1 ? "cb" : "ca",
                                 c->calls[n].pair);
                        snprintf(id, sizeof(id), "%zu:%s:c%zu-%s", strlen(user), user, n,
                                 step_names[st]);
                        bson_uint32_to_string((uint32_t)oi++, &k, key, sizeof(key));
                        bson_append_utf8(&oarr, k, -1, id, -1);
                }
        }
        bson_append_array_end(&cin, &carr);
        bson_append_document_end(&cf, &cin);
        bson_append_array_end(&oin, &oarr);
        bson_append_document_end(&of, &oin);
        bson_error_t berr;
        if (!mongoc_collection_delete_many(calls, &cf, NULL, NULL, &berr) ||
            !mongoc_collection_delete_many(ops, &of, NULL, NULL, &berr))
                printf("  (trimming the store failed: %s)\n", berr.message);
        bson_destroy(&cf);
        bson_destroy(&of);
        mongoc_collection_destroy(calls);
        mongoc_collection_destroy(ops);
        mongoc_client_destroy(cl);
        return lowest;
}

typedef struct calls_opts_s {
        const char *store;  /* label */
        int workers;        /* 1 or 2 */
        int rate;           /* open loop: commands/s; 0: closed loop */
        int inflight;       /* closed loop: calls in flight */
        size_t calls;       /* calls to make */
        size_t rss_every;   /* print the workers' peak RSS every this many calls */
} calls_opts_t;

static void calls_run(const calls_opts_t *o) {
        const char *threads = getenv("CALLSIG_SIGNAL_CONCURRENCY");
        printf("\n== calls: %s, %d worker(s) with %s lane thread(s), store %s, %zu calls "
               "(%zu commands) ==\n",
               o->rate ? "open loop" : "closed loop", o->workers,
               threads ? threads : "8 (default)", o->store, o->calls,
               o->calls * CALL_STEPS);
        if (o->rate)
                printf("  open loop at %d commands/s\n", o->rate);
        else
                printf("  closed loop, %d calls in flight (each sends its next command "
                       "when the previous reply arrived)\n", o->inflight);
        fflush(stdout);
        /* RoomService calls (two RemoveParticipant and a DeleteRoom per
         * hang-up) go to worker 0's own http port, which answers 404 (done
         * for RoomService): their cost stays in the figures without a
         * LiveKit server, and the queue never fills with unreachable ones. */
        int http_port = env_free_port();
        char extra[256];
        /* BENCH_OLD_DEFAULTS=1: the latency settings callsig had before
         * issue 8, to compare on the same broker. */
        bool old_defaults = getenv("BENCH_OLD_DEFAULTS") &&
                            !strcmp(getenv("BENCH_OLD_DEFAULTS"), "1");
        snprintf(extra, sizeof(extra), "livekit.api_url: \"http://127.0.0.1:%d\"\n%s",
                 http_port,
                 old_defaults ? "kafka.producer.linger.ms: 2\n"
                                "kafka.consumer.fetch.wait.max.ms: 100\n"
                              : "");
        if (old_defaults)
                printf("  with the latency settings before issue 8: linger.ms 2, "
                       "fetch.wait.max.ms 100\n");
        /* The production timer interval (500 ms), not the scenarios' 100 ms:
         * both test stores answer the timer's range queries by scanning the
         * calls collection, which a real MongoDB answers from its index. */
        env_opts_t eo = {.keyed = true, .workers = o->workers, .log_level = "info",
                         .http_port = http_port, .extra_yaml = extra,
                         .timer_interval_ms = 500};
        env_t *env = env_start("bcalls", &eo);
        calls_t c = {.env = env, .workers = o->workers, .cnt = o->calls, .cap = o->calls};
        c.calls = calloc(c.cap, sizeof(call_t));
        env_watch(env, "ca0"); /* keyed: the one push topic of everyone */
        /* Warm-up call on pair 0's users, then start counting. */
        {
                const char *inv[] = {"warm-b", NULL};
                env_send(env, cmd_invite("warm-i", "warm-a", inv, "warm-room", NULL,
                                         "audio", 30), NULL, -1);
                env_expect_reply(env, "warm-a", "warm-i");
                env_send(env, cmd_action("warm-h", "warm-a",
                                         OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP,
                                         "warm-room"), NULL, -1);
                env_expect_reply(env, "warm-a", "warm-h");
                env_seen_all(env, 200, &(size_t){0});
                env_seen_drop(env);
        }
        pid_t store_pid = env_mongo_pid(env) ? env_mongo_pid(env)
                                             : pid_from_env("BENCH_STORE_PID");
        pid_t broker_pid = pid_from_env("BENCH_BROKER_PID");
        int64_t cpu0 = workers_cpu(&c), self0 = self_cpu_ms();
        int64_t store0 = store_pid ? proc_cpu_ms(store_pid) : -1;
        int64_t broker0 = broker_pid ? proc_cpu_ms(broker_pid) : -1;
        int64_t mongo0 = workers_metric(&c, "callsig_mongodb_commands_total");
        int64_t t0 = wall();
        size_t next_rss = o->rss_every;
        int pairs = o->rate ? (o->rate > 100 ? o->rate : 100) : o->inflight;
        size_t started = 0, finished = 0;

        if (o->rate) {
                size_t total = o->calls * CALL_STEPS;
                for (size_t k = 0; k < total;) {
                        int64_t due = t0 + (int64_t)((double)k * 1000.0 / o->rate);
                        if (wall() >= due) {
                                size_t n = k / CALL_STEPS;
                                if (k % CALL_STEPS == 0)
                                        c.calls[n].pair = (int)(n % (size_t)pairs);
                                call_send(&c, n, (int)(k % CALL_STEPS));
                                k++;
                                continue;
                        }
                        calls_collect(&c, 0);
                        int64_t wait = due - wall();
                        if (wait > 1)
                                calls_collect(&c, (int)(wait > 5 ? 5 : wait - 1));
                        if (o->rss_every && k / CALL_STEPS >= next_rss) {
                                printf("  after %zu calls: worker peak RSS %ld KiB\n",
                                       next_rss, proc_hwm_kib(env_worker_pid(env, 0)));
                                fflush(stdout);
                                next_rss += o->rss_every;
                        }
                }
                int64_t drain = wall() + 30000;
                while (c.replies - c.dups < c.sent_cmds && wall() < drain)
                        calls_collect(&c, 20);
        } else {
                /* Slot s runs calls one after the other on pair s. */
                size_t trimmed = 0;
                size_t *slot_call = calloc((size_t)o->inflight, sizeof(size_t));
                for (int s = 0; s < o->inflight && started < o->calls; s++) {
                        slot_call[s] = started;
                        c.calls[started].pair = s;
                        call_send(&c, started++, 0);
                }
                int64_t idle_since = wall();
                while (finished < o->calls && wall() - idle_since < 30000) {
                        if (!calls_collect(&c, 1))
                                continue;
                        idle_since = wall();
                        for (int s = 0; s < o->inflight; s++) {
                                call_t *call = &c.calls[slot_call[s]];
                                if (call->step > CALL_STEPS ||
                                    !call->replies[call->step - 1])
                                        continue;
                                if (call->step < CALL_STEPS) {
                                        call_send(&c, slot_call[s], call->step);
                                        continue;
                                }
                                call->step++; /* finished */
                                finished++;
                                if (o->rss_every && finished >= next_rss) {
                                        printf("  after %zu calls: worker peak RSS %ld KiB\n",
                                               next_rss, proc_hwm_kib(env_worker_pid(env, 0)));
                                        fflush(stdout);
                                        next_rss += o->rss_every;
                                }
                                if (o->rss_every && finished % 5000 == 0)
                                        trimmed = trim_store(&c, trimmed, started);
                                if (started < o->calls) {
                                        slot_call[s] = started;
                                        c.calls[started].pair = s;
                                        call_send(&c, started++, 0);
                                }
                        }
                }
                free(slot_call);
        }
        int64_t t1 = wall();
        /* Late notifications of the last calls. */
        calls_collect(&c, 300);
        int64_t cpu = workers_cpu(&c) - cpu0, self = self_cpu_ms() - self0;
        int64_t store = store_pid ? proc_cpu_ms(store_pid) - store0 : -1;
        int64_t broker = broker_pid ? proc_cpu_ms(broker_pid) - broker0 : -1;
        int64_t mongo = workers_metric(&c, "callsig_mongodb_commands_total") - mongo0;

        size_t ncmd = c.sent_cmds, nlat = 0, missing = 0, differing = 0;
        int64_t *lat = calloc(ncmd + 1, sizeof(int64_t));
        int64_t *step_lat[CALL_STEPS];
        size_t step_n[CALL_STEPS] = {0};
        int expect_notes = -1;
        for (int s = 0; s < CALL_STEPS; s++)
                step_lat[s] = calloc(c.cnt + o->calls + 1, sizeof(int64_t));
        size_t note_hist_other = 0;
        for (size_t n = 0; n < o->calls; n++) {
                call_t *call = &c.calls[n];
                for (int s = 0; s < CALL_STEPS; s++) {
                        if (!call->sent[s])
                                continue;
                        if (!call->replies[s]) {
                                missing++;
                                continue;
                        }
                        lat[nlat++] = call->lat[s];
                        step_lat[s][step_n[s]++] = call->lat[s];
                }
                if (call->replies[0] && call->replies[2]) {
                        if (expect_notes < 0)
                                expect_notes = call->notes;
                        else if (call->notes != expect_notes)
                                note_hist_other++;
                }
        }
        differing = note_hist_other;
        double secs = (double)(t1 - t0) / 1000.0;
        printf("  %zu commands in %.2f s: %.0f commands/s (%.0f calls/s)\n", ncmd, secs,
               (double)ncmd / secs, (double)ncmd / CALL_STEPS / secs);
        print_dist("latency sentAt -> reply, all commands", lat, nlat);
        static const char *const labels[CALL_STEPS] = {
                "latency, invite", "latency, accept", "latency, hang-up"};
        for (int s = 0; s < CALL_STEPS; s++)
                print_dist(labels[s], step_lat[s], step_n[s]);
        qsort(lat, nlat, sizeof(*lat), cmp64);
        printf("  p95 %" PRId64 " ms\n", pct(lat, nlat, .95));
        printf("  replies %zu, errors (errCode != 0) %zu, duplicates %zu, missing %zu, "
               "notifications %zu (%d per call; %zu calls differ), stray messages %zu\n",
               c.replies, c.errors, c.dups, missing, c.notes, expect_notes, differing,
               c.strays);
        printf("  worker CPU %.3f ms per command (%" PRId64 " ms in all); MongoDB round "
               "trips %.2f per command (%" PRId64 ")\n",
               (double)cpu / (double)ncmd, cpu, (double)mongo / (double)ncmd, mongo);
        for (int w = 0; w < o->workers; w++)
                printf("  worker %d peak RSS %ld KiB\n", w,
                       proc_hwm_kib(env_worker_pid(env, w)));
        printf("  CPU over the run: workers %.0f%%, bench (load generator) %.0f%%, store "
               "%.0f%%, broker %.0f%% (of one core)\n",
               100.0 * (double)cpu / (double)(t1 - t0),
               100.0 * (double)self / (double)(t1 - t0),
               store >= 0 ? 100.0 * (double)store / (double)(t1 - t0) : -1.0,
               broker >= 0 ? 100.0 * (double)broker / (double)(t1 - t0) : -1.0);
        fflush(stdout);
        if (!o->rate)
                store_ceiling(env, o->store, 5000, o->calls);
        for (int s = 0; s < CALL_STEPS; s++)
                free(step_lat[s]);
        free(lat);
        free(c.calls);
        env_stop(env);
}

/* ---- the store's own ceiling ---- */

/* Round trips per second the store answers one client doing, one after the
 * other, what a worker does most: a find by _id and an update by _id. With
 * @p calls > 0 on the run's own call records (collection "calls", as large
 * as the run left it: the test server scans, so size matters); otherwise on
 * a 16-document collection of its own. */
static void store_ceiling(env_t *env, const char *label, int ms, size_t calls) {
        mongoc_client_t *cl = mongoc_client_new(env_mongo_uri(env));
        mongoc_collection_t *coll = mongoc_client_get_collection(
                cl, env_mongo_db(env), calls ? "calls" : "bench_ceiling");
        bson_error_t berr;
        for (int i = 0; !calls && i < 16; i++) {
                char id[32];
                snprintf(id, sizeof(id), "r%d-%d", (int)getpid(), i);
                bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "n", BCON_INT32(0));
                mongoc_collection_insert_one(coll, doc, NULL, NULL, &berr);
                bson_destroy(doc);
        }
        size_t ids = calls ? calls : 16;
        int64_t t0 = wall(), end = t0 + ms;
        long trips = 0, failed = 0;
        for (size_t i = 0; wall() < end; i++) {
                char id[32];
                snprintf(id, sizeof(id), "r%d-%zu", (int)getpid(), (i * 7919) % ids);
                bson_t *q = BCON_NEW("_id", BCON_UTF8(id));
                bson_t *u = BCON_NEW("$inc", "{", "benchTouch", BCON_INT32(1), "}");
                mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, q, NULL, NULL);
                const bson_t *d;
                while (mongoc_cursor_next(cur, &d))
                        ;
                if (mongoc_cursor_error(cur, &berr))
                        failed++;
                mongoc_cursor_destroy(cur);
                if (!mongoc_collection_update_one(coll, q, u, NULL, NULL, &berr))
                        failed++;
                bson_destroy(q);
                bson_destroy(u);
                trips += 2;
        }
        double secs = (double)(wall() - t0) / 1000.0;
        printf("  store ceiling (%s, %s): %.0f round trips/s from one client (find + "
               "update by _id, serial; %ld failed)\n",
               label, calls ? "the run's call records" : "16 documents",
               (double)trips / secs, failed);
        fflush(stdout);
        mongoc_collection_destroy(coll);
        mongoc_client_destroy(cl);
}

/* ---- the v3 call-history read path (issue 11) ---- */

#define HIST_USERS 1000       /* ordinary users the records are spread over */
#define HIST_HEAVY_EVERY 10   /* the heavy user is in every 10th record */
#define HIST_HIDDEN_EVERY 100 /* ... and hid every 100th */
#define HIST_STALE 12         /* the heavy user's stale ringing records */
#define HIST_SPACING_MS 30000 /* between two records' createdAt */
#define HIST_BATCH 1000       /* documents per insert */

static void hist_part(bson_t *arr, const char *k, const char *user,
                      const char *role, const char *state, int64_t at,
                      int64_t ring_until) {
        bson_t p;
        bson_append_document_begin(arr, k, -1, &p);
        BSON_APPEND_UTF8(&p, "userID", user);
        BSON_APPEND_UTF8(&p, "role", role);
        BSON_APPEND_UTF8(&p, "state", state);
        BSON_APPEND_INT32(&p, "platformID", 5);
        BSON_APPEND_DATE_TIME(&p, "updatedAt", at);
        if (ring_until)
                BSON_APPEND_DATE_TIME(&p, "ringUntil", ring_until);
        bson_append_document_end(arr, &p);
}

static void hist_event(bson_t *arr, const char *k, const char *type,
                       const char *user, const char *op, int64_t at) {
        bson_t e;
        bson_append_document_begin(arr, k, -1, &e);
        BSON_APPEND_UTF8(&e, "type", type);
        BSON_APPEND_UTF8(&e, "userID", user);
        BSON_APPEND_INT32(&e, "platformID", 5);
        BSON_APPEND_UTF8(&e, "operationID", op);
        BSON_APPEND_UTF8(&e, "request", "");
        BSON_APPEND_DATE_TIME(&e, "at", at);
        BSON_APPEND_INT32(&e, "code", 0);
        bson_append_document_end(arr, &e);
}

/* One call record in the shape store.c writes it (call_to_bson): an ended
 * 1:1 call (accepted, hung up a minute later), or, with @p ring_until, a
 * ringing one whose invitee rings until then. nextRingAt is null either
 * way, so the worker's ring timer leaves the stale ones alone, as a timer
 * that has not run yet would. */
static bson_t *hist_doc(const char *id, const char *inviter, const char *invitee,
                        int64_t created, int64_t ring_until, bool hidden) {
        bson_t *d = bson_new(), arr;
        char op[64];
        bool ended = !ring_until;
        BSON_APPEND_UTF8(d, "_id", id);
        BSON_APPEND_UTF8(d, "state", ended ? "ended" : "ringing");
        if (ended)
                BSON_APPEND_UTF8(d, "endReason", "hung_up");
        else
                BSON_APPEND_NULL(d, "endReason");
        bson_append_array_begin(d, "participants", -1, &arr);
        hist_part(&arr, "0", inviter, "inviter", ended ? "left" : "accepted",
                  created + 65000, 0);
        hist_part(&arr, "1", invitee, "invitee", ended ? "left" : "ringing",
                  created + 65000, ring_until);
        bson_append_array_end(d, &arr);
        if (ended) {
                BSON_APPEND_DATE_TIME(d, "acceptedAt", created + 5000);
                BSON_APPEND_DATE_TIME(d, "endedAt", created + 65000);
        }
        BSON_APPEND_NULL(d, "nextRingAt");
        bson_append_array_begin(d, "events", -1, &arr);
        snprintf(op, sizeof(op), "%s-i", id);
        hist_event(&arr, "0", "invite", inviter, op, created);
        if (ended) {
                snprintf(op, sizeof(op), "%s-h", id);
                hist_event(&arr, "1", "hung_up", inviter, op, created + 65000);
        }
        bson_append_array_end(d, &arr);
        BSON_APPEND_INT64(d, "eventsDropped", 0);
        BSON_APPEND_UTF8(d, "inviterUserID", inviter);
        BSON_APPEND_UTF8(d, "groupID", "");
        BSON_APPEND_UTF8(d, "mediaType", "video");
        BSON_APPEND_UTF8(d, "customData", "");
        BSON_APPEND_INT32(d, "sessionType", 1);
        BSON_APPEND_INT32(d, "platformID", 5);
        BSON_APPEND_INT32(d, "timeout", 30);
        BSON_APPEND_DATE_TIME(d, "createdAt", created);
        BSON_APPEND_DATE_TIME(d, "deadline", created + 30000);
        BSON_APPEND_INT64(d, "rev", 1);
        if (hidden) {
                bson_append_array_begin(d, "hiddenFor", -1, &arr);
                BSON_APPEND_UTF8(&arr, "0", inviter);
                bson_append_array_end(d, &arr);
        }
        return d;
}

static void hist_flush(mongoc_collection_t *coll, bson_t **docs, size_t *n) {
        bson_error_t berr;
        bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
        const bson_t *cdocs[HIST_BATCH];
        for (size_t i = 0; i < *n; i++)
                cdocs[i] = docs[i];
        if (*n && !mongoc_collection_insert_many(coll, cdocs, *n, opts, NULL, &berr))
                TEST_FAIL("seeding: %s", berr.message);
        bson_destroy(opts);
        for (size_t i = 0; i < *n; i++)
                bson_destroy(docs[i]);
        *n = 0;
}

/* Seeds @p records ended calls, newest first from @p newest, and the
 * heavy user's ringing records (HIST_STALE stale, one pending). The heavy
 * user is the inviter of every other call of theirs, so the calls they hid
 * (hiddenFor holds the inviter) are their own. */
static void hist_seed(env_t *env, size_t records, int64_t newest) {
        mongoc_client_t *cl = mongoc_client_new(env_mongo_uri(env));
        mongoc_collection_t *coll =
                mongoc_client_get_collection(cl, env_mongo_db(env), "calls");
        bson_t *docs[HIST_BATCH];
        size_t n = 0;
        int64_t t0 = wall();
        for (size_t i = 0; i < records; i++) {
                char id[32], a[16], b[16];
                const char *inviter = a, *invitee = b;
                snprintf(id, sizeof(id), "h-%zu", i);
                snprintf(a, sizeof(a), "u%04zu", i % HIST_USERS);
                snprintf(b, sizeof(b), "u%04zu", (i * 7919 + 1) % HIST_USERS);
                if (!strcmp(a, b))
                        snprintf(b, sizeof(b), "u%04zu", (i + 1) % HIST_USERS);
                bool heavy = i % HIST_HEAVY_EVERY == 0;
                if (heavy && i % (2 * HIST_HEAVY_EVERY) == 0)
                        inviter = "heavy";
                else if (heavy)
                        invitee = "heavy";
                docs[n++] = hist_doc(id, inviter, invitee,
                                     newest - (int64_t)i * HIST_SPACING_MS, 0,
                                     heavy && i % HIST_HIDDEN_EVERY == 0);
                if (n == HIST_BATCH)
                        hist_flush(coll, docs, &n);
        }
        hist_flush(coll, docs, &n);
        int64_t now = wall();
        for (int i = 0; i <= HIST_STALE; i++) {
                char id[32], from[16];
                snprintf(id, sizeof(id), "ring-%d", i);
                snprintf(from, sizeof(from), "u%04d", i);
                /* ring-0 is pending (rings another hour); the others'
                 * ringUntil passed */
                docs[n++] = hist_doc(id, from, "heavy", now - 60000 * (i + 1),
                                     i ? now - 60000 * i : now + 3600000, false);
        }
        hist_flush(coll, docs, &n);
        int64_t cnt = mongoc_collection_estimated_document_count(coll, NULL, NULL,
                                                                 NULL, NULL);
        printf("  seeded %zu ended calls + %d ringing into %s in %.1f s "
               "(collection: %" PRId64 " documents)\n",
               records, HIST_STALE + 1, getenv("BENCH_STORE") ? getenv("BENCH_STORE")
                                                              : "the test server",
               (double)(wall() - t0) / 1000.0, cnt);
        fflush(stdout);
        mongoc_collection_destroy(coll);
        mongoc_client_destroy(cl);
}

typedef struct hist_query_s {
        const char *label;
        int page, show;         /* getSignalInvitationRecords; page 0: StartApp */
        const char *send_id;
        int64_t start_ms, end_ms;
        int code;               /* the errCode expected */
} hist_query_t;

static void hist_send(env_t *env, const char *op, const hist_query_t *q) {
        Callsig__V1__RtcRequest rtc;
        Openim__Rtc__GetSignalInvitationRecordsReq r;
        Openim__Rtc__GetSignalInvitationInfoStartAppReq sa;
        Openim__Sdkws__RequestPagination pg;
        callsig__v1__rtc_request__init(&rtc);
        if (!q->page) {
                openim__rtc__get_signal_invitation_info_start_app_req__init(&sa);
                sa.userid = (char *)(uintptr_t) "heavy";
                rtc.payload_case =
                        CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_SIGNAL_INVITATION_INFO_START_APP;
                rtc.getsignalinvitationinfostartapp = &sa;
        } else {
                openim__rtc__get_signal_invitation_records_req__init(&r);
                openim__sdkws__request_pagination__init(&pg);
                pg.pagenumber = q->page;
                pg.shownumber = q->show;
                r.pagination = &pg;
                r.sendid = (char *)(uintptr_t)(q->send_id ? q->send_id : "");
                r.recvid = (char *)(uintptr_t) "";
                r.starttime = q->start_ms;
                r.endtime = q->end_ms;
                rtc.payload_case =
                        CALLSIG__V1__RTC_REQUEST__PAYLOAD_GET_SIGNAL_INVITATION_RECORDS;
                rtc.getsignalinvitationrecords = &r;
        }
        v3_send(env, op, "heavy", &rtc, "heavy");
}

/* Sends @p q @p reps times, one at a time, and prints its latency, MongoDB
 * round trips per query and what the last answer held. */
static void hist_run(env_t *env, int qi, const hist_query_t *q, int reps) {
        int64_t *lat = calloc((size_t)reps, sizeof(*lat));
        int bad = 0, records = -1, total = -1;
        bool invitation = false;
        int64_t mongo0 = metric(env, 0, "callsig_mongodb_commands_total");
        for (int i = 0; i < reps; i++) {
                char op[32];
                snprintf(op, sizeof(op), "hq%d-%d", qi, i);
                int64_t t0 = wall();
                hist_send(env, op, q);
                seen_t *s = env_expect_reply(env, "heavy", op);
                lat[i] = s->recv_ms - t0;
                Callsig__V1__SignalReply *r = seen_reply(s);
                if (r->errcode != q->code)
                        bad++;
                if (r->rtc && r->rtc->getsignalinvitationrecords) {
                        records = (int)r->rtc->getsignalinvitationrecords->n_signalrecords;
                        total = r->rtc->getsignalinvitationrecords->total;
                }
                if (r->rtc && r->rtc->getsignalinvitationinfostartapp)
                        invitation = r->rtc->getsignalinvitationinfostartapp->invitation;
        }
        int64_t mongo = metric(env, 0, "callsig_mongodb_commands_total") - mongo0;
        print_dist(q->label, lat, (size_t)reps);
        if (q->page)
                printf("    errCode %d as expected in %d/%d; records %d, total %d; "
                       "MongoDB round trips / query %.2f\n",
                       q->code, reps - bad, reps, records, total, (double)mongo / reps);
        else
                printf("    errCode 0 in %d/%d; invitation %s; MongoDB round trips / "
                       "query %.2f\n",
                       reps - bad, reps, invitation ? "found" : "NOT found",
                       (double)mongo / reps);
        fflush(stdout);
        free(lat);
}

static void history(size_t records, int reps) {
        printf("== v3 call history: %zu records, store %s, %d queries each ==\n",
               records, getenv("BENCH_STORE") ? getenv("BENCH_STORE")
                                              : "MongoDB-wire test server",
               reps);
        /* the ring timer polls the store; once a minute keeps it out of the
         * round-trip counts */
        env_opts_t eo = {.extra_yaml = "openim:\n  protocol: v3\n",
                         .log_level = "info", .timer_interval_ms = 60000};
        env_t *env = env_start("bhist", &eo);
        env_watch(env, "heavy");
        int64_t newest = wall() - 3600000;
        hist_seed(env, records, newest);
        int64_t idle0 = metric(env, 0, "callsig_mongodb_commands_total");
        usleep(2000000);
        printf("  idle worker: %" PRId64 " MongoDB commands in 2 s\n",
               metric(env, 0, "callsig_mongodb_commands_total") - idle0);
        /* a day in the middle of the heavy user's history */
        int64_t day_end = newest - (int64_t)(records / 2) * HIST_SPACING_MS;
        const hist_query_t qs[] = {
                {"page 1 of 20", 1, 20, NULL, 0, 0, 0},
                {"page 25 of 20 (skip 480)", 25, 20, NULL, 0, 0, 0},
                {"page 50 of 20 (skip 980, the deepest)", 50, 20, NULL, 0, 0, 0},
                {"page 10 of 100 (skip 900, the deepest)", 10, 100, NULL, 0, 0, 0},
                {"page 51 of 20 (past 1000: refused 1001)", 51, 20, NULL, 0, 0, 1001},
                {"sendID heavy (own calls), page 1", 1, 20, "heavy", 0, 0, 0},
                {"sendID u0042 (rare partner), page 1", 1, 20, "u0042", 0, 0, 0},
                {"startTime/endTime one day, page 1", 1, 20, NULL,
                 day_end - 86400000, day_end, 0},
                {"StartApp (12 stale ringing + 1 pending)", 0, 0, NULL, 0, 0, 0},
        };
        /* one unmeasured query first: connections, topic metadata */
        hist_run(env, 99, &qs[0], 1);
        printf("  (the line above warmed up; measured:)\n");
        for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
                hist_run(env, (int)i, &qs[i], reps);
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
        if (!strcmp(what, "calls")) {
                /* calls open RATE [CALLS [WORKERS]] | calls closed K [CALLS [WORKERS]]
                 * | calls ceiling */
                const char *mode = argc > 2 ? argv[2] : "closed";
                const char *store = getenv("BENCH_STORE")
                                            ? getenv("BENCH_STORE")
                                            : "MongoDB-wire test server";
                if (!strcmp(mode, "ceiling")) {
                        env_opts_t eo = {.keyed = true};
                        env_t *env = env_start("bceil", &eo);
                        store_ceiling(env, store, 5000, 0);
                        env_stop(env);
                        return 0;
                }
                bool open = !strcmp(mode, "open");
                int arg = argc > 3 ? atoi(argv[3]) : open ? 100 : 64;
                calls_opts_t co = {
                        .store = store,
                        .rate = open ? arg : 0,
                        .inflight = open ? 0 : arg,
                        .calls = argc > 4 ? (size_t)atoll(argv[4]) : 1000,
                        .workers = argc > 5 ? atoi(argv[5]) : 1,
                        .rss_every = getenv("BENCH_RSS_EVERY")
                                             ? (size_t)atoll(getenv("BENCH_RSS_EVERY"))
                                             : 0,
                };
                calls_run(&co);
        }
        if (!strcmp(what, "history"))
                history(argc > 2 ? (size_t)atoll(argv[2]) : 100000,
                        argc > 3 ? atoi(argv[3]) : 20);
        if (!strcmp(what, "all")) {
                join_leave("classic");
                join_leave("consumer");
        }
        return 0;
}
