/*
 * harness.c: environments for scenario tests (see harness.h).
 *
 * Processes: the test itself hosts the Kafka mock cluster and talks to it
 * as an outside client (its own producer and consumer over TCP); callsig
 * runs as child processes with stdout/stderr in <dir>/worker<N>.log; the
 * MongoDB-wire server runs as a child process of /usr/bin/python3.
 *
 * With CALLSIG_TEST_KAFKA=real there is no mock cluster: the test uses the
 * Apache Kafka broker the suite started (scripts/kafka-broker.sh, bootstrap
 * in CALLSIG_TEST_KAFKA_BOOTSTRAP or CALLSIG_TEST_KAFKA_DIR/bootstrap), or
 * one of its own (env_opts_t.own_broker), and every name it uses on the
 * broker (topics, consumer groups) carries "<name>-<pid>", so tests that run
 * at the same time never meet. The topics are deleted by env_stop().
 */
#include "harness.h"

#include "dialect.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "topic.h"

#define MAX_WORKERS 8

typedef struct watch_s {
        char *topic;
} watch_t;

typedef struct token_check_s {
        char *token;
        char *user;
        char *room;
} token_check_t;

struct env_s {
        char name[64];
        bool real;              /* a real broker, not the mock cluster */
        char sfx[96];           /* "<name>-<pid>": in every name on a real broker */
        char commands_topic[200];
        char dlq_topic[200];
        char events_topic[200];
        char group[200];        /* the workers' consumer group */
        char broker_dir[300];   /* own broker (env_opts_t.own_broker), or "" */
        char dir[256];
        char config_path[300];
        rd_kafka_t *mock_rk;
        rd_kafka_mock_cluster_t *mcluster;
        char *bootstraps;
        rd_kafka_t *producer;
        rd_kafka_t *consumer;
        rd_kafka_resp_err_t last_dr_err;
        pid_t mongo_pid;
        char mongo_uri[512];
        char mongo_db[128];
        mongoc_client_t *mongo;
        pid_t workers[MAX_WORKERS];
        int http_port[MAX_WORKERS]; /* each worker's http.listen port */
        int first_http_port;        /* env_opts_t.http_port */
        int worker_status[MAX_WORKERS];
        bool worker_exited[MAX_WORKERS];
        int worker_cnt;
        cs_config_t *conf; /* for push topic names */
        watch_t *watches;
        size_t watch_cnt;
        seen_t *seen;
        size_t seen_cnt;
        token_check_t *tokens;
        size_t token_cnt;
};

/* ---- time ---- */

int64_t env_mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t env_wall_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int env_ms(int ms) {
        const char *m = getenv("CALLSIG_TEST_TIMEOUT_MULTIPLIER");
        int mult = m ? atoi(m) : 1;
        return ms * (mult > 0 ? mult : 1);
}

static void sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

static char *xstrdup(const char *s) {
        char *d = strdup(s ? s : "");
        if (!d)
                abort();
        return d;
}

const char *env_source_path(const char *rel) {
        static char buf[1024];
        const char *src = getenv("CALLSIG_TEST_SOURCE_DIR");
        snprintf(buf, sizeof(buf), "%s/%s", src ? src : ".", rel);
        return buf;
}

/* ---- files ---- */

char *env_read_file(const char *path) {
        FILE *fp = fopen(path, "rb");
        if (!fp)
                return xstrdup("");
        fseek(fp, 0, SEEK_END);
        long len = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        char *buf = malloc((size_t)len + 1);
        if (!buf)
                abort();
        size_t n = fread(buf, 1, (size_t)len, fp);
        buf[n] = '\0';
        fclose(fp);
        return buf;
}

static void write_file(const char *path, const char *text) {
        FILE *fp = fopen(path, "w");
        TEST_ASSERT(fp, "cannot write %s: %s", path, strerror(errno));
        fputs(text, fp);
        fclose(fp);
}

/* ---- Kafka clients ---- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque) {
        (void)rk;
        env_t *env = opaque;
        if (rkm->err)
                env->last_dr_err = rkm->err;
}

/* How long the test's own clients wait for one broker answer (scaled). */
#define CLIENT_SOCKET_TIMEOUT_MS 3000

static void set_conf(rd_kafka_conf_t *conf, const char *name,
                     const char *value) {
        char errstr[512];
        TEST_ASSERT(rd_kafka_conf_set(conf, name, value, errstr,
                                      sizeof(errstr)) == RD_KAFKA_CONF_OK,
                    "%s=%s: %s", name, value, errstr);
}

static rd_kafka_t *new_client(env_t *env, rd_kafka_type_t type) {
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set_opaque(conf, env);
        TEST_ASSERT(rd_kafka_conf_set(conf, "bootstrap.servers", env->bootstraps,
                                      errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK,
                    "%s", errstr);
        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
        /* Recover quickly after the broker faults some scenarios inject. */
        rd_kafka_conf_set(conf, "topic.metadata.refresh.interval.ms", "1000", NULL, 0);
        rd_kafka_conf_set(conf, "reconnect.backoff.ms", "50", NULL, 0);
        rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "1000", NULL, 0);
        /* A connection attempt to a broker that is down fails fast. */
        char timeout[32];
        snprintf(timeout, sizeof(timeout), "%d", env_ms(CLIENT_SOCKET_TIMEOUT_MS));
        set_conf(conf, "socket.connection.setup.timeout.ms", timeout);
        if (type == RD_KAFKA_PRODUCER) {
                rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
                rd_kafka_conf_set(conf, "linger.ms", "0", NULL, 0);
        } else {
                char group[160];
                snprintf(group, sizeof(group), "harness-%s", env->sfx);
                rd_kafka_conf_set(conf, "group.id", env->real ? group : "harness",
                                  NULL, 0);
                rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
                /* Looking a topic up must never create it (first-contact
                 * tests wait for callsig to create it). */
                rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", NULL, 0);
                rd_kafka_conf_set(conf, "fetch.wait.max.ms", "20", NULL, 0);
                rd_kafka_conf_set(conf, "fetch.error.backoff.ms", "100", NULL, 0);
                /* A Fetch in flight when the mock's brokers go down gets no
                 * answer; librdkafka gives up on it only after
                 * socket.timeout.ms (default 60 s) and does not fetch that
                 * partition again before, so a message produced after the
                 * outage arrived after the test's deadline (0013 failed
                 * about every other suite run that way). A few seconds is
                 * plenty for a broker in this process. The producer keeps
                 * the default: a timed-out Produce is retried, and the
                 * retry could duplicate a command. */
                set_conf(conf, "socket.timeout.ms", timeout);
        }
        rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        TEST_ASSERT(rk, "rd_kafka_new: %s", errstr);
        return rk;
}

void req_op_and_invitation(const Openim__V2__SignalReq *req,
                           const char **op_userp,
                           const Openim__V2__InvitationInfo **invp) {
        *op_userp = NULL;
        *invp = NULL;
        switch (req->payload_case) {
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE:
                *op_userp = req->invite->opuserid;
                *invp = req->invite->invitation;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP:
                *op_userp = req->inviteingroup->opuserid;
                *invp = req->inviteingroup->invitation;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL:
                *op_userp = req->cancel->opuserid;
                *invp = req->cancel->invitation;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT:
                *op_userp = req->accept->opuserid;
                *invp = req->accept->invitation;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP:
                *op_userp = req->hungup->opuserid;
                *invp = req->hungup->invitation;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT:
                *op_userp = req->reject->opuserid;
                *invp = req->reject->invitation;
                break;
        default:
                break;
        }
}

/* ---- MongoDB ---- */

static void start_mongo(env_t *env) {
        const char *uri = getenv("CALLSIG_TEST_MONGODB_URI");
        snprintf(env->mongo_db, sizeof(env->mongo_db), "callsig_%s_%d",
                 env->name, (int)getpid());
        if (uri && *uri) {
                snprintf(env->mongo_uri, sizeof(env->mongo_uri), "%s", uri);
                TEST_SAY("using real MongoDB %s database %s", uri, env->mongo_db);
                return;
        }
        char port_file[300], log_path[300];
        snprintf(port_file, sizeof(port_file), "%s/mongo.port", env->dir);
        snprintf(log_path, sizeof(log_path), "%s/mongo.log", env->dir);
        const char *script = env_source_path("tests/mongo/mockmongod.py");
        char script_copy[1024];
        snprintf(script_copy, sizeof(script_copy), "%s", script);
        pid_t pid = fork();
        TEST_ASSERT(pid >= 0, "fork");
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM); /* die with the test */
                int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                execl("/usr/bin/python3", "python3", script_copy, "--port", "0",
                      "--port-file", port_file, (char *)NULL);
                _exit(127);
        }
        env->mongo_pid = pid;
        int64_t deadline = env_mono_ms() + env_ms(15000);
        while (env_mono_ms() < deadline) {
                char *port = env_read_file(port_file);
                if (port[0]) {
                        snprintf(env->mongo_uri, sizeof(env->mongo_uri),
                                 "mongodb://127.0.0.1:%d/", atoi(port));
                        free(port);
                        return;
                }
                free(port);
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        char *log = env_read_file(log_path);
                        TEST_FAIL("mockmongod exited early:\n%s", log);
                }
                sleep_ms(20);
        }
        TEST_FAIL("mockmongod did not start");
}

/* ---- workers ---- */

/* A TCP port nobody listens on now. It is taken below the kernel's
 * ephemeral range (ip_local_port_range): a port the kernel hands out for
 * port 0 can be taken again, between this check and the server's bind, as
 * the local port of any outgoing connection (a Kafka or MongoDB client),
 * which made a worker fail with "cannot listen there". Below that range
 * only another test's choice can collide, and the random pick with a trial
 * bind makes that rare. */
int env_free_port(void) {
        static unsigned seed;
        if (!seed)
                seed = (unsigned)getpid() ^ (unsigned)env_mono_ms();
        int low = 32768;
        FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
        if (f) {
                if (fscanf(f, "%d", &low) != 1)
                        low = 32768;
                fclose(f);
        }
        int first = 10000, span = low - first;
        for (int attempt = 0; span > 1000 && attempt < 200; attempt++) {
                int port = first + (int)(rand_r(&seed) % (unsigned)span);
                int fd = socket(AF_INET, SOCK_STREAM, 0);
                TEST_ASSERT(fd >= 0, "socket");
                struct sockaddr_in sin = {.sin_family = AF_INET,
                                          .sin_port = htons((uint16_t)port),
                                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                bool ok = !bind(fd, (struct sockaddr *)&sin, sizeof(sin));
                close(fd);
                if (ok)
                        return port;
        }
        /* an unusual range: the kernel's choice */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        TEST_ASSERT(fd >= 0, "socket");
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t slen = sizeof(sin);
        TEST_ASSERT(!bind(fd, (struct sockaddr *)&sin, sizeof(sin)), "bind");
        TEST_ASSERT(!getsockname(fd, (struct sockaddr *)&sin, &slen), "getsockname");
        close(fd);
        return ntohs(sin.sin_port);
}

pid_t env_worker_pid(env_t *env, int idx) {
        return env->workers[idx];
}

pid_t env_mongo_pid(env_t *env) {
        return env->mongo_pid;
}

int env_worker_http_port(env_t *env, int idx) {
        return env->http_port[idx];
}

/* Collects a response body. */
static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata) {
        http_reply_t *r = userdata;
        size_t n = size * nmemb;
        r->body = realloc(r->body, r->len + n + 1);
        TEST_ASSERT(r->body, "out of memory");
        memcpy(r->body + r->len, ptr, n);
        r->len += n;
        r->body[r->len] = '\0';
        return n;
}

http_reply_t env_http(env_t *env, int idx, const char *method, const char *path,
                      const char *auth, const void *body, size_t len) {
        http_reply_t r = {0};
        char url[256];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", env->http_port[idx], path);
        CURL *curl = curl_easy_init();
        TEST_ASSERT(curl, "curl_easy_init");
        struct curl_slist *hdrs = NULL;
        char auth_hdr[8192];
        if (auth) {
                snprintf(auth_hdr, sizeof(auth_hdr), "Authorization: %s", auth);
                hdrs = curl_slist_append(hdrs, auth_hdr);
        }
        hdrs = curl_slist_append(hdrs, "Content-Type: application/webhook+json");
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)env_ms(30000));
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
        if (!strcmp(method, "POST")) {
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        }
        CURLcode cc = curl_easy_perform(curl);
        if (cc == CURLE_OK) {
                long status = 0;
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
                r.status = (int)status;
        } else {
                r.status = -1;
                TEST_SAY("%s %s: %s", method, url, curl_easy_strerror(cc));
        }
        if (!r.body)
                r.body = xstrdup("");
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(curl);
        return r;
}

int64_t env_metric(env_t *env, int idx, const char *series) {
        http_reply_t r = env_http(env, idx, "GET", "/metrics", NULL, NULL, 0);
        TEST_ASSERT(r.status == 200 && r.body, "worker %d /metrics: %d", idx, r.status);
        size_t len = strlen(series);
        int64_t v = -1;
        for (const char *p = r.body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                if (!strncmp(p, series, len) && p[len] == ' ') {
                        v = strtoll(p + len + 1, NULL, 10);
                        break;
                }
        }
        free(r.body);
        return v;
}

int env_worker_start(env_t *env) {
        TEST_ASSERT(env->worker_cnt < MAX_WORKERS, "too many workers");
        int idx = env->worker_cnt++;
        char log_path[300];
        snprintf(log_path, sizeof(log_path), "%s/worker%d.log", env->dir, idx);
        const char *bin = getenv("CALLSIG_TEST_BIN");
        TEST_ASSERT(bin, "CALLSIG_TEST_BIN is not set (run through ctest)");
        env->http_port[idx] = idx == 0 && env->first_http_port
                                      ? env->first_http_port
                                      : env_free_port();
        char listen_at[64];
        snprintf(listen_at, sizeof(listen_at), "127.0.0.1:%d", env->http_port[idx]);
        pid_t pid = fork();
        TEST_ASSERT(pid >= 0, "fork");
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL); /* die with the test */
                setenv("CALLSIG_HTTP_LISTEN", listen_at, 1);
                int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                execl(bin, "callsig", "--config", env->config_path, (char *)NULL);
                _exit(127);
        }
        env->workers[idx] = pid;
        env->worker_exited[idx] = false;
        return idx;
}

void env_worker_signal(env_t *env, int idx, int sig) {
        if (!env->worker_exited[idx])
                kill(env->workers[idx], sig);
}

int env_worker_wait(env_t *env, int idx, int timeout_ms) {
        int64_t deadline = env_mono_ms() + env_ms(timeout_ms);
        while (!env->worker_exited[idx]) {
                int status;
                pid_t r = waitpid(env->workers[idx], &status, WNOHANG);
                if (r == env->workers[idx]) {
                        env->worker_exited[idx] = true;
                        env->worker_status[idx] = WIFEXITED(status)
                                                          ? WEXITSTATUS(status)
                                                          : 128 + WTERMSIG(status);
                        break;
                }
                if (env_mono_ms() > deadline)
                        TEST_FAIL("worker %d did not exit", idx);
                sleep_ms(20);
        }
        return env->worker_status[idx];
}

static char *worker_log(env_t *env, int idx) {
        char log_path[300];
        snprintf(log_path, sizeof(log_path), "%s/worker%d.log", env->dir, idx);
        return env_read_file(log_path);
}

int env_worker_log_count(env_t *env, int idx, const char *needle) {
        char *log = worker_log(env, idx);
        int n = 0;
        for (const char *p = log; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        free(log);
        return n;
}

int env_worker_of(env_t *env, const char *op) {
        char needle[300];
        int found = -1, cnt = 0;
        snprintf(needle, sizeof(needle), "op=%s from=", op);
        for (int i = 0; i < env->worker_cnt; i++) {
                if (env_worker_log_has(env, i, needle)) {
                        found = i;
                        cnt++;
                }
        }
        TEST_ASSERT(cnt == 1, "%s handled by %d workers", op, cnt);
        return found;
}

bool env_worker_log_has(env_t *env, int idx, const char *needle) {
        return env_worker_log_count(env, idx, needle) > 0;
}

void env_worker_wait_log(env_t *env, int idx, const char *needle, int count,
                         int timeout_ms) {
        int64_t deadline = env_mono_ms() + env_ms(timeout_ms);
        while (env_worker_log_count(env, idx, needle) < count) {
                if (env_mono_ms() > deadline) {
                        char *log = worker_log(env, idx);
                        TEST_FAIL("worker %d: no '%s' (x%d) in its log:\n%s", idx,
                                  needle, count, log);
                }
                int status;
                if (!env->worker_exited[idx] &&
                    waitpid(env->workers[idx], &status, WNOHANG) == env->workers[idx]) {
                        env->worker_exited[idx] = true;
                        env->worker_status[idx] = WIFEXITED(status)
                                                          ? WEXITSTATUS(status)
                                                          : 128 + WTERMSIG(status);
                        char *log = worker_log(env, idx);
                        TEST_FAIL("worker %d exited (%d) while waiting for '%s':\n%s",
                                  idx, env->worker_status[idx], needle, log);
                }
                sleep_ms(50);
        }
}

/* ---- a real broker ---- */

bool env_is_real(void) {
        const char *k = getenv("CALLSIG_TEST_KAFKA");
        return k && !strcmp(k, "real");
}

void env_require_mock(void) {
        if (!env_is_real())
                return;
        fprintf(stderr, "skipped: needs the mock cluster (its fault injection)\n");
        exit(77); /* ctest: SKIP_RETURN_CODE */
}

void env_require_real(void) {
        if (env_is_real())
                return;
        fprintf(stderr, "skipped: needs a real broker (CALLSIG_TEST_KAFKA=real, "
                        "ctest -L real)\n");
        exit(77);
}

/* @returns the suite's broker address (static buf); fails if there is none. */
static const char *real_bootstrap(void) {
        static char buf[256];
        const char *bs = getenv("CALLSIG_TEST_KAFKA_BOOTSTRAP");
        if (bs && *bs)
                return bs;
        const char *dir = getenv("CALLSIG_TEST_KAFKA_DIR");
        TEST_ASSERT(dir && *dir, "CALLSIG_TEST_KAFKA=real needs "
                    "CALLSIG_TEST_KAFKA_BOOTSTRAP or CALLSIG_TEST_KAFKA_DIR");
        char path[512];
        snprintf(path, sizeof(path), "%s/bootstrap", dir);
        char *text = env_read_file(path);
        snprintf(buf, sizeof(buf), "%s", text);
        free(text);
        buf[strcspn(buf, "\r\n")] = '\0';
        TEST_ASSERT(buf[0], "no broker address in %s (is the broker started? "
                    "scripts/kafka-broker.sh start %s)", path, dir);
        return buf;
}

/* Runs scripts/kafka-broker.sh @p verb on the environment's own broker;
 * its stdout (the bootstrap address) goes to <broker_dir>/last.out. */
static void env_broker(const char *verb, env_t *env) {
        char cmd[4096];
        snprintf(cmd, sizeof(cmd), "'%s' %s '%s' > '%s/last.out' 2>> '%s/script.log'",
                 env_source_path("scripts/kafka-broker.sh"), verb,
                 env->broker_dir, env->dir, env->dir);
        int64_t t0 = env_mono_ms();
        int rc = system(cmd);
        char log[400];
        snprintf(log, sizeof(log), "%s/script.log", env->dir);
        if (rc != 0) {
                char *text = env_read_file(log);
                TEST_FAIL("kafka-broker.sh %s failed (%d):\n%s", verb, rc, text);
        }
        TEST_SAY("kafka-broker.sh %s: %lld ms", verb, (long long)(env_mono_ms() - t0));
}

static void start_own_broker(env_t *env) {
        snprintf(env->broker_dir, sizeof(env->broker_dir), "%s/kafka", env->dir);
        env_broker("start", env);
        char path[400];
        snprintf(path, sizeof(path), "%s/last.out", env->dir);
        char *text = env_read_file(path);
        text[strcspn(text, "\r\n")] = '\0';
        TEST_ASSERT(text[0], "kafka-broker.sh start printed no address");
        env->bootstraps = text;
}

void env_broker_kill(env_t *env) {
        TEST_ASSERT(env->broker_dir[0], "env_broker_kill needs own_broker");
        env_broker("kill", env);
}

void env_broker_restart(env_t *env) {
        TEST_ASSERT(env->broker_dir[0], "env_broker_restart needs own_broker");
        env_broker("restart", env);
}

/* Waits until @p rk's metadata shows @p topic with all partitions led;
 * @returns its partition count (0 if it never did). Asking for it also makes
 * a producer know it at once (librdkafka 2.0.2 looks for unknown topics only
 * once a second). */
static int wait_topic(env_t *env, rd_kafka_t *rk, const char *topic,
                      int timeout_ms) {
        (void)env;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        int partitions = 0;
        int64_t deadline = env_mono_ms() + env_ms(timeout_ms);
        while (!partitions && env_mono_ms() < deadline) {
                const struct rd_kafka_metadata *md = NULL;
                if (rd_kafka_metadata(rk, 0, rkt, &md, env_ms(2000)) == 0) {
                        if (md->topic_cnt == 1 && !md->topics[0].err) {
                                partitions = md->topics[0].partition_cnt;
                                for (int p = 0; p < partitions; p++)
                                        if (md->topics[0].partitions[p].leader < 0)
                                                partitions = 0;
                        }
                        rd_kafka_metadata_destroy(md);
                }
                if (!partitions)
                        sleep_ms(50);
        }
        rd_kafka_topic_destroy(rkt);
        return partitions;
}

/* Creates @p topic on the real broker (an existing one stays as it is). */
static void create_topic(env_t *env, const char *topic, int partitions) {
        char errstr[512];
        rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1,
                                                        errstr, sizeof(errstr));
        TEST_ASSERT(nt, "NewTopic %s: %s", topic, errstr);
        rd_kafka_queue_t *q = rd_kafka_queue_new(env->producer);
        rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(
                env->producer, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(ao, env_ms(10000), errstr,
                                                    sizeof(errstr));
        rd_kafka_AdminOptions_set_request_timeout(ao, env_ms(15000), errstr,
                                                  sizeof(errstr));
        rd_kafka_CreateTopics(env->producer, &nt, 1, ao, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, env_ms(20000));
        TEST_ASSERT(ev, "CreateTopics %s: no answer", topic);
        TEST_ASSERT(!rd_kafka_event_error(ev), "CreateTopics %s: %s", topic,
                    rd_kafka_event_error_string(ev));
        size_t cnt;
        const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(
                rd_kafka_event_CreateTopics_result(ev), &cnt);
        TEST_ASSERT(cnt == 1, "CreateTopics %s: %zu results", topic, cnt);
        rd_kafka_resp_err_t err = rd_kafka_topic_result_error(res[0]);
        TEST_ASSERT(!err || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS,
                    "CreateTopics %s: %s", topic,
                    rd_kafka_topic_result_error_string(res[0]));
        rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(ao);
        rd_kafka_queue_destroy(q);
        rd_kafka_NewTopic_destroy(nt);
        TEST_ASSERT(wait_topic(env, env->producer, topic, 15000) > 0,
                    "created topic %s never showed in metadata", topic);
}

/* Deletes every topic whose name carries this environment's suffix. */
static void delete_own_topics(env_t *env) {
        const struct rd_kafka_metadata *md = NULL;
        if (rd_kafka_metadata(env->producer, 1, NULL, &md, env_ms(5000))) {
                TEST_SAY("no metadata: topics *.%s stay", env->sfx);
                return;
        }
        rd_kafka_DeleteTopic_t **dels = calloc((size_t)md->topic_cnt + 1, sizeof(*dels));
        TEST_ASSERT(dels, "calloc");
        size_t n = 0;
        char mark[120];
        snprintf(mark, sizeof(mark), ".%s", env->sfx);
        for (int i = 0; i < md->topic_cnt; i++) {
                const char *t = md->topics[i].topic;
                const char *at = strstr(t, mark);
                if (at && (at[strlen(mark)] == '\0' || at[strlen(mark)] == '.'))
                        dels[n++] = rd_kafka_DeleteTopic_new(t);
        }
        rd_kafka_metadata_destroy(md);
        if (n) {
                rd_kafka_queue_t *q = rd_kafka_queue_new(env->producer);
                rd_kafka_DeleteTopics(env->producer, dels, n, NULL, q);
                rd_kafka_event_t *ev = rd_kafka_queue_poll(q, env_ms(15000));
                if (!ev || rd_kafka_event_error(ev))
                        TEST_SAY("deleting topics *.%s: %s", env->sfx,
                                 ev ? rd_kafka_event_error_string(ev) : "no answer");
                if (ev)
                        rd_kafka_event_destroy(ev);
                rd_kafka_queue_destroy(q);
                rd_kafka_DeleteTopic_destroy_array(dels, n);
        }
        free(dels);
}

/* ---- environment ---- */

env_t *env_start(const char *name, const env_opts_t *opts) {
        static const env_opts_t no_opts;
        char errstr[512];
        if (!opts)
                opts = &no_opts;
        env_t *env = calloc(1, sizeof(*env));
        TEST_ASSERT(env, "calloc");
        snprintf(env->name, sizeof(env->name), "%s", name);
        snprintf(env->dir, sizeof(env->dir), "/tmp/callsig-%s-XXXXXX", name);
        TEST_ASSERT(mkdtemp(env->dir), "mkdtemp: %s", strerror(errno));
        TEST_SAY("environment %s in %s", name, env->dir);
        signal(SIGPIPE, SIG_IGN);

        env->real = env_is_real();
        snprintf(env->sfx, sizeof(env->sfx), "%s-%d", name, (int)getpid());
        snprintf(env->group, sizeof(env->group), "callsig-%s",
                 env->real ? env->sfx : name);
        if (env->real) {
                snprintf(env->commands_topic, sizeof(env->commands_topic),
                         "signal.commands.%s", env->sfx);
                snprintf(env->dlq_topic, sizeof(env->dlq_topic), "signal.dlq.%s",
                         env->sfx);
                snprintf(env->events_topic, sizeof(env->events_topic),
                         "livekit.events.%s", env->sfx);
                if (opts->own_broker)
                        start_own_broker(env);
                else
                        env->bootstraps = xstrdup(real_bootstrap());
                TEST_SAY("real broker %s, topics *.%s", env->bootstraps, env->sfx);
                env->producer = new_client(env, RD_KAFKA_PRODUCER);
                env->consumer = new_client(env, RD_KAFKA_CONSUMER);
                create_topic(env, env->commands_topic, 4);
                create_topic(env, env->events_topic, 4);
        } else {
                snprintf(env->commands_topic, sizeof(env->commands_topic),
                         "signal.commands");
                snprintf(env->dlq_topic, sizeof(env->dlq_topic), "signal.dlq");
                snprintf(env->events_topic, sizeof(env->events_topic),
                         "livekit.events");
                /* The mock cluster lives in a client handle of its own. */
                rd_kafka_conf_t *mconf = rd_kafka_conf_new();
                rd_kafka_conf_set(mconf, "log_level", "3", NULL, 0);
                env->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, errstr,
                                            sizeof(errstr));
                TEST_ASSERT(env->mock_rk, "%s", errstr);
                env->mcluster = rd_kafka_mock_cluster_new(env->mock_rk, 3);
                TEST_ASSERT(env->mcluster, "mock cluster");
                env->bootstraps = xstrdup(rd_kafka_mock_cluster_bootstraps(env->mcluster));
                rd_kafka_mock_topic_create(env->mcluster, "signal.commands", 4, 3);
                rd_kafka_mock_topic_create(env->mcluster, "livekit.events", 4, 3);
                env->producer = new_client(env, RD_KAFKA_PRODUCER);
                env->consumer = new_client(env, RD_KAFKA_CONSUMER);
        }

        start_mongo(env);
        mongoc_init();
        env->mongo = mongoc_client_new(env->mongo_uri);
        TEST_ASSERT(env->mongo, "mongoc_client_new %s", env->mongo_uri);

        env->conf = cs_config_new();
        if (opts->keyed)
                env->conf->push_mode = CS_PUSH_KEYED;
        char names[2048] = "";
        if (env->real) {
                char tmpl[200], keyed[200];
                snprintf(tmpl, sizeof(tmpl), "push.%s.{user}", env->sfx);
                snprintf(keyed, sizeof(keyed), "push.%s", env->sfx);
                free(env->conf->push_topic_template);
                env->conf->push_topic_template = xstrdup(tmpl);
                free(env->conf->push_topic);
                env->conf->push_topic = xstrdup(keyed);
                snprintf(names, sizeof(names),
                         "topics:\n"
                         "  commands: %s\n"
                         "  dlq: %s\n"
                         "  livekit_events: %s\n"
                         "push.topic_template: \"%s\"\n"
                         "push.topic: %s\n",
                         env->commands_topic, env->dlq_topic, env->events_topic,
                         tmpl, keyed);
        }

        char config[4096];
        snprintf(config, sizeof(config),
                 "kafka:\n"
                 "  brokers: \"%s\"\n"
                 "  group_id: %s\n"
                 "  consumer:\n"
                 "%s"
                 "mongodb:\n"
                 "  uri: \"%s\"\n"
                 "  database: %s\n"
                 "  retry_max_backoff_ms: 1000\n"
                 "livekit:\n"
                 "  url: %s\n"
                 "  api_key: %s\n"
                 "  api_secret: %s\n"
                 "  token_ttl: 600\n"
                 "signal:\n"
                 "  timer_interval_ms: %d\n"
                 /* Generous: a scenario may hold commands back for a
                  * while (restarts, outages); 0025 tests the expiry. */
                 "  command_max_age: 300\n"
                 "push:\n"
                 "  mode: %s\n"
                 "log:\n"
                 "  level: %s\n"
                 "%s%s",
                 env->bootstraps, env->group,
                 opts->consumer_yaml ? opts->consumer_yaml
                                     : "    session.timeout.ms: 6000\n"
                                       "    heartbeat.interval.ms: 500\n"
                                       "    topic.metadata.refresh.interval.ms: 1000\n"
                                       "    auto.commit.interval.ms: 200\n",
                 env->mongo_uri,
                 env->mongo_db, opts->livekit_url ? opts->livekit_url : LK_URL,
                 LK_KEY, LK_SECRET,
                 opts->timer_interval_ms ? opts->timer_interval_ms : 100,
                 opts->keyed ? "keyed" : "per_user",
                 opts->log_level ? opts->log_level : "debug", names,
                 opts->extra_yaml ? opts->extra_yaml : "");
        if (dialect_v3()) {
                size_t used = strlen(config);
                snprintf(config + used, sizeof(config) - used,
                         "openim:\n  protocol: v3\n");
                TEST_SAY("OpenIM v3 mode: commands and answers translated");
        }
        snprintf(env->config_path, sizeof(env->config_path), "%s/callsig.yaml",
                 env->dir);
        write_file(env->config_path, config);

        env->first_http_port = opts->http_port;
        int workers = opts->workers ? opts->workers : 1;
        for (int i = 0; i < workers; i++)
                env_worker_start(env);
        if (!opts->no_wait)
                for (int i = 0; i < workers; i++)
                        env_worker_wait_log(env, i, "assigned", 1,
                                            env->real ? 60000 : 30000);
        return env;
}

static void seen_clear(seen_t *s) {
        free(s->topic);
        free(s->key);
        free(s->kind);
        free(s->operation_id);
        free(s->error);
        free(s->source_offset);
        free(s->value);
        if (s->push)
                callsig__v1__push_message__free_unpacked(s->push, NULL);
}

void env_stop(env_t *env) {
        for (int i = 0; i < env->worker_cnt; i++)
                env_worker_signal(env, i, SIGTERM);
        for (int i = 0; i < env->worker_cnt; i++) {
                bool already = env->worker_exited[i];
                int rc = env_worker_wait(env, i, 30000);
                if (!already && rc != 0) {
                        char *log = worker_log(env, i);
                        TEST_FAIL("worker %d exited with %d after SIGTERM:\n%s", i,
                                  rc, log);
                }
        }
        if (env->mongo_pid == 0) {
                /* A real MongoDB: drop this run's database. */
                bson_error_t berr;
                mongoc_database_t *db = mongoc_client_get_database(env->mongo,
                                                                   env->mongo_db);
                if (!mongoc_database_drop(db, &berr))
                        TEST_SAY("could not drop %s: %s", env->mongo_db, berr.message);
                mongoc_database_destroy(db);
        }
        mongoc_client_destroy(env->mongo);
        mongoc_cleanup();
        if (env->mongo_pid > 0) {
                kill(env->mongo_pid, SIGTERM);
                waitpid(env->mongo_pid, NULL, 0);
        }
        rd_kafka_consumer_close(env->consumer);
        rd_kafka_destroy(env->consumer);
        rd_kafka_flush(env->producer, env_ms(5000));
        if (env->real && !env->broker_dir[0])
                delete_own_topics(env);
        rd_kafka_destroy(env->producer);
        if (env->mcluster)
                rd_kafka_mock_cluster_destroy(env->mcluster);
        if (env->mock_rk)
                rd_kafka_destroy(env->mock_rk);
        if (env->broker_dir[0])
                env_broker("stop", env);
        for (size_t i = 0; i < env->seen_cnt; i++)
                seen_clear(&env->seen[i]);
        free(env->seen);
        for (size_t i = 0; i < env->watch_cnt; i++)
                free(env->watches[i].topic);
        free(env->watches);
        for (size_t i = 0; i < env->token_cnt; i++) {
                free(env->tokens[i].token);
                free(env->tokens[i].user);
                free(env->tokens[i].room);
        }
        free(env->tokens);
        cs_config_destroy(env->conf);
        free(env->bootstraps);
        if (!getenv("CALLSIG_TEST_KEEP")) {
                char cmd[400];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", env->dir);
                if (system(cmd) != 0)
                        TEST_SAY("could not remove %s", env->dir);
        }
        free(env);
}

rd_kafka_mock_cluster_t *env_cluster(env_t *env) { return env->mcluster; }
const char *env_bootstraps(env_t *env) { return env->bootstraps; }
const char *env_dir(env_t *env) { return env->dir; }
const char *env_commands_topic(env_t *env) { return env->commands_topic; }
const char *env_dlq_topic(env_t *env) { return env->dlq_topic; }
const char *env_group_id(env_t *env) { return env->group; }
bool env_real(env_t *env) { return env->real; }
const char *env_mongo_uri(env_t *env) { return env->mongo_uri; }
const char *env_mongo_db(env_t *env) { return env->mongo_db; }

/* ---- commands ---- */

#define CMD_ARENA 128

struct cmd_s {
        Callsig__V1__SignalCommand cmd;
        Openim__V2__SignalReq req;
        Openim__V2__SignalInviteReq invite;
        Openim__V2__SignalInviteInGroupReq invite_in_group;
        Openim__V2__SignalCancelReq cancel;
        Openim__V2__SignalAcceptReq accept;
        Openim__V2__SignalHungUpReq hung_up;
        Openim__V2__SignalRejectReq reject;
        Openim__V2__SignalGetRoomByGroupIDReq room;
        Openim__V2__SignalGetTokenByRoomIDReq token;
        Openim__V2__SignalOnRoomParticipantConnectedReq connected;
        Openim__V2__SignalOnRoomParticipantDisconnectedReq disconnected;
        Openim__V2__SignalSendCustomSignalReq custom;
        Openim__V2__InvitationInfo inv;
        Openim__V2__OfflinePushInfo push;
        Openim__V2__ParticipantMetaData pm;
        Openim__V2__PublicUserInfo ui;
        char *invitees[80];
        void *arena[CMD_ARENA];
        int arena_cnt;
};

static char *cmd_str(cmd_t *c, const char *s) {
        TEST_ASSERT(c->arena_cnt < CMD_ARENA, "cmd arena full");
        char *d = xstrdup(s);
        c->arena[c->arena_cnt++] = d;
        return d;
}

static cmd_t *cmd_new(const char *op, const char *sender) {
        cmd_t *c = calloc(1, sizeof(*c));
        TEST_ASSERT(c, "calloc");
        callsig__v1__signal_command__init(&c->cmd);
        openim__v2__signal_req__init(&c->req);
        openim__v2__signal_invite_req__init(&c->invite);
        openim__v2__signal_invite_in_group_req__init(&c->invite_in_group);
        openim__v2__signal_cancel_req__init(&c->cancel);
        openim__v2__signal_accept_req__init(&c->accept);
        openim__v2__signal_hung_up_req__init(&c->hung_up);
        openim__v2__signal_reject_req__init(&c->reject);
        openim__v2__signal_get_room_by_group_idreq__init(&c->room);
        openim__v2__signal_get_token_by_room_idreq__init(&c->token);
        openim__v2__signal_on_room_participant_connected_req__init(&c->connected);
        openim__v2__signal_on_room_participant_disconnected_req__init(&c->disconnected);
        openim__v2__signal_send_custom_signal_req__init(&c->custom);
        openim__v2__invitation_info__init(&c->inv);
        openim__v2__offline_push_info__init(&c->push);
        openim__v2__participant_meta_data__init(&c->pm);
        openim__v2__public_user_info__init(&c->ui);
        c->cmd.operationid = cmd_str(c, op);
        c->cmd.sendid = cmd_str(c, sender);
        c->cmd.platformid = 5;
        c->cmd.connid = cmd_str(c, "conn-1");
        c->cmd.msgincr = cmd_str(c, "incr-1");
        c->cmd.sentat = env_wall_ms();
        c->cmd.req = &c->req;
        /* Clients send their own idea of these; callsig must overwrite. */
        c->ui.userid = cmd_str(c, sender);
        c->pm.userinfo = &c->ui;
        return c;
}

cmd_t *cmd_invite(const char *op, const char *sender,
                  const char *const *invitees, const char *room,
                  const char *group, const char *media, int32_t timeout) {
        cmd_t *c = cmd_new(op, sender);
        size_t n = 0;
        while (invitees && invitees[n]) {
                TEST_ASSERT(n < CS_ARRAY_SIZE(c->invitees), "too many invitees");
                c->invitees[n] = cmd_str(c, invitees[n]);
                n++;
        }
        c->inv.inviteruserid = cmd_str(c, "someone-else");
        c->inv.n_inviteeuseridlist = n;
        c->inv.inviteeuseridlist = c->invitees;
        c->inv.roomid = cmd_str(c, room ? room : "");
        c->inv.groupid = cmd_str(c, group ? group : "");
        c->inv.mediatype = cmd_str(c, media ? media : "video");
        c->inv.timeout = timeout;
        c->inv.platformid = 5;
        c->inv.sessiontype = group ? 2 : 1;
        c->inv.customdata = cmd_str(c, "{\"app\":\"test\"}");
        c->push.title = cmd_str(c, "Incoming call");
        c->push.desc = cmd_str(c, "from the test");
        if (group) {
                c->req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE_IN_GROUP;
                c->req.inviteingroup = &c->invite_in_group;
                c->invite_in_group.opuserid = cmd_str(c, "spoofed");
                c->invite_in_group.invitation = &c->inv;
                c->invite_in_group.offlinepushinfo = &c->push;
                c->invite_in_group.participant = &c->pm;
        } else {
                c->req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_INVITE;
                c->req.invite = &c->invite;
                c->invite.opuserid = cmd_str(c, "spoofed");
                c->invite.invitation = &c->inv;
                c->invite.offlinepushinfo = &c->push;
                c->invite.participant = &c->pm;
        }
        return c;
}

cmd_t *cmd_action(const char *op, const char *sender, int req_case,
                  const char *room) {
        cmd_t *c = cmd_new(op, sender);
        c->inv.roomid = cmd_str(c, room);
        c->inv.inviteruserid = cmd_str(c, "spoofed");
        c->inv.mediatype = cmd_str(c, "video");
        c->req.payload_case = (Openim__V2__SignalReq__PayloadCase)req_case;
        switch (req_case) {
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ACCEPT:
                c->req.accept = &c->accept;
                c->accept.opuserid = cmd_str(c, "spoofed");
                c->accept.invitation = &c->inv;
                c->accept.participant = &c->pm;
                c->accept.opuserplatformid = 2;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_REJECT:
                c->req.reject = &c->reject;
                c->reject.opuserid = cmd_str(c, "spoofed");
                c->reject.invitation = &c->inv;
                c->reject.opuserplatformid = 2;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL:
                c->req.cancel = &c->cancel;
                c->cancel.opuserid = cmd_str(c, "spoofed");
                c->cancel.invitation = &c->inv;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_HUNG_UP:
                c->req.hungup = &c->hung_up;
                c->hung_up.opuserid = cmd_str(c, "spoofed");
                c->hung_up.invitation = &c->inv;
                break;
        default:
                TEST_FAIL("cmd_action: case %d", req_case);
        }
        return c;
}

cmd_t *cmd_room_lookup(const char *op, const char *sender, const char *group) {
        cmd_t *c = cmd_new(op, sender);
        c->req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_ROOM_BY_GROUP_ID;
        c->req.getroombygroupid = &c->room;
        c->room.opuserid = cmd_str(c, "spoofed");
        c->room.groupid = cmd_str(c, group);
        c->room.participant = &c->pm;
        return c;
}

cmd_t *cmd_token(const char *op, const char *sender, const char *room) {
        cmd_t *c = cmd_new(op, sender);
        c->req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_GET_TOKEN_BY_ROOM_ID;
        c->req.gettokenbyroomid = &c->token;
        c->token.roomid = cmd_str(c, room);
        c->token.opuserid = cmd_str(c, "spoofed");
        c->token.participant = &c->pm;
        return c;
}

cmd_t *cmd_custom(const char *op, const char *sender, const char *room,
                  const char *info, const char *const *recv) {
        cmd_t *c = cmd_new(op, sender);
        c->req.payload_case = OPENIM__V2__SIGNAL_REQ__PAYLOAD_SEND_CUSTOM_SIGNAL;
        c->req.sendcustomsignal = &c->custom;
        c->custom.roomid = cmd_str(c, room);
        c->custom.custominfo = cmd_str(c, info);
        size_t n = 0;
        while (recv && recv[n]) {
                TEST_ASSERT(n < CS_ARRAY_SIZE(c->invitees), "too many recvUserIDs");
                c->invitees[n] = cmd_str(c, recv[n]);
                n++;
        }
        c->custom.n_recvuserids = n;
        c->custom.recvuserids = n ? c->invitees : NULL;
        return c;
}

cmd_t *cmd_bare(const char *op, const char *sender, int req_case) {
        cmd_t *c = cmd_new(op, sender);
        switch (req_case) {
        case 0:
                c->cmd.req = NULL;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_CONNECTED_REQ:
                c->req.payload_case = (Openim__V2__SignalReq__PayloadCase)req_case;
                c->req.onroomparticipantconnectedreq = &c->connected;
                break;
        case OPENIM__V2__SIGNAL_REQ__PAYLOAD_ON_ROOM_PARTICIPANT_DISCONNECTED_REQ:
                c->req.payload_case = (Openim__V2__SignalReq__PayloadCase)req_case;
                c->req.onroomparticipantdisconnectedreq = &c->disconnected;
                break;
        default:
                TEST_FAIL("cmd_bare: case %d", req_case);
        }
        return c;
}

Callsig__V1__SignalCommand *cmd_msg(cmd_t *c) { return &c->cmd; }

void cmd_set_nickname(cmd_t *c, const char *nickname) {
        c->ui.nickname = cmd_str(c, nickname);
        c->ui.faceurl = cmd_str(c, "https://example.test/face.png");
}

uint8_t *cmd_pack(cmd_t *c, size_t *lenp) {
        if (dialect_v3())
                return dialect_command_to_v3(&c->cmd, lenp);
        size_t len = callsig__v1__signal_command__get_packed_size(&c->cmd);
        uint8_t *buf = malloc(len + 1);
        TEST_ASSERT(buf, "malloc");
        *lenp = callsig__v1__signal_command__pack(&c->cmd, buf);
        return buf;
}

void cmd_free(cmd_t *c) {
        if (!c)
                return;
        for (int i = 0; i < c->arena_cnt; i++)
                free(c->arena[i]);
        free(c);
}

/* Queues @p len bytes for the command topic; the caller flushes. */
static void produce_command(env_t *env, const void *buf, size_t len,
                            const char *key, int32_t partition) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
                env->producer, RD_KAFKA_V_TOPIC(env->commands_topic),
                RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                RD_KAFKA_V_VALUE((void *)(uintptr_t)buf, len),
                RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        TEST_ASSERT(!err, "produce: %s", rd_kafka_err2str(err));
}

static void flush_commands(env_t *env) {
        TEST_ASSERT(rd_kafka_flush(env->producer, env_ms(10000)) == 0, "flush");
        TEST_ASSERT(!env->last_dr_err, "delivery: %s",
                    rd_kafka_err2str(env->last_dr_err));
}

void env_send_raw(env_t *env, const void *buf, size_t len, const char *key,
                  int32_t partition) {
        env->last_dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        produce_command(env, buf, len, key, partition);
        flush_commands(env);
}

void env_send_pair(env_t *env, cmd_t *a, const char *key_a, int32_t part_a,
                   cmd_t *b, const char *key_b, int32_t part_b) {
        cmd_t *cmds[2] = {a, b};
        const char *keys[2] = {key_a, key_b};
        int32_t parts[2] = {part_a, part_b};
        env->last_dr_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int i = 0; i < 2; i++) {
                size_t len;
                uint8_t *buf = cmd_pack(cmds[i], &len);
                produce_command(env, buf, len, keys[i], parts[i]);
                free(buf);
                cmd_free(cmds[i]);
        }
        flush_commands(env);
}

static const char *default_key(const cmd_t *c) {
        return c->inv.roomid && c->inv.roomid[0] ? c->inv.roomid
               : c->token.roomid && c->token.roomid[0] ? c->token.roomid
               : c->custom.roomid && c->custom.roomid[0] ? c->custom.roomid
                                                          : c->cmd.sendid;
}

void env_send(env_t *env, cmd_t *c, const char *key, int32_t partition) {
        size_t len;
        uint8_t *buf = cmd_pack(c, &len);
        env_send_raw(env, buf, len, key ? key : default_key(c), partition);
        free(buf);
        cmd_free(c);
}

void env_send_async(env_t *env, cmd_t *c) {
        size_t len;
        uint8_t *buf = cmd_pack(c, &len);
        produce_command(env, buf, len, default_key(c), -1);
        rd_kafka_poll(env->producer, 0);
        free(buf);
        cmd_free(c);
}

void env_flush(env_t *env, int timeout_ms) {
        TEST_ASSERT(rd_kafka_flush(env->producer, env_ms(timeout_ms)) == 0,
                    "flush: %d message(s) still undelivered",
                    rd_kafka_outq_len(env->producer));
        TEST_ASSERT(!env->last_dr_err, "delivery: %s",
                    rd_kafka_err2str(env->last_dr_err));
}

/* ---- watching ---- */

/* Watches @p topic from its beginning. @p create: pre-create it (with one
 * partition; the worker would auto-create it with the cluster default
 * otherwise; an existing topic stays); else wait up to @p timeout_ms for it
 * to appear. */
static void watch_topic_ex(env_t *env, const char *topic, bool create,
                           int timeout_ms) {
        for (size_t i = 0; i < env->watch_cnt; i++)
                if (!strcmp(env->watches[i].topic, topic))
                        return;
        if (create && env->real)
                create_topic(env, topic, 1);
        else if (create)
                rd_kafka_mock_topic_create(env->mcluster, topic, 1, 3);
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(env->consumer, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        int partitions = 0;
        int64_t deadline = env_mono_ms() + env_ms(timeout_ms);
        while (env_mono_ms() < deadline) {
                if (rd_kafka_metadata(env->consumer, 0, rkt, &md,
                                      env_ms(2000)) == 0) {
                        if (md->topic_cnt == 1 && !md->topics[0].err)
                                partitions = md->topics[0].partition_cnt;
                        rd_kafka_metadata_destroy(md);
                        if (partitions > 0)
                                break;
                }
                sleep_ms(create ? 50 : 10);
        }
        rd_kafka_topic_destroy(rkt);
        TEST_ASSERT(partitions > 0, "no metadata for %s", topic);
        rd_kafka_topic_partition_list_t *parts =
                rd_kafka_topic_partition_list_new(partitions);
        for (int p = 0; p < partitions; p++)
                rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_error_t *error = rd_kafka_incremental_assign(env->consumer, parts);
        TEST_ASSERT(!error, "assign %s: %s", topic,
                    error ? rd_kafka_error_string(error) : "");
        rd_kafka_topic_partition_list_destroy(parts);
        env->watches = realloc(env->watches, (env->watch_cnt + 1) * sizeof(*env->watches));
        TEST_ASSERT(env->watches, "realloc");
        env->watches[env->watch_cnt++].topic = xstrdup(topic);
}

static void watch_topic(env_t *env, const char *topic) {
        watch_topic_ex(env, topic, true, 10000);
}

static const char *topic_of(env_t *env, const char *user) {
        static char topic[CS_TOPIC_MAX + 1];
        TEST_ASSERT(cs_topic_for_user(env->conf, user, topic, sizeof(topic)),
                    "no topic for %s", user);
        return topic;
}

void env_watch(env_t *env, const char *user) {
        watch_topic(env, topic_of(env, user));
}

void env_watch_dlq(env_t *env) {
        watch_topic(env, env->dlq_topic);
}

void env_watch_created(env_t *env, const char *user, int timeout_ms) {
        watch_topic_ex(env, topic_of(env, user), false, timeout_ms);
}

const char *env_push_topic(env_t *env, const char *user) {
        return topic_of(env, user);
}

static char *header(const rd_kafka_message_t *rkm, const char *name) {
        rd_kafka_headers_t *hdrs = NULL;
        const void *val;
        size_t size;
        if (rd_kafka_message_headers(rkm, &hdrs) ||
            rd_kafka_header_get_last(hdrs, name, &val, &size))
                return NULL;
        char *s = malloc(size + 1);
        TEST_ASSERT(s, "malloc");
        memcpy(s, val, size);
        s[size] = '\0';
        return s;
}

/* Consumes what arrives within @p ms into the seen log. */
static void pump(env_t *env, int ms) {
        int64_t until = env_mono_ms() + ms;
        do {
                /* Slices of 20 ms; a short or zero wait stays short. */
                int64_t left = until - env_mono_ms();
                rd_kafka_message_t *rkm = rd_kafka_consumer_poll(
                        env->consumer, left >= 20 ? 20 : left > 0 ? (int)left : 0);
                if (!rkm)
                        continue;
                if (rkm->err) {
                        rd_kafka_message_destroy(rkm);
                        continue;
                }
                env->seen = realloc(env->seen, (env->seen_cnt + 1) * sizeof(*env->seen));
                TEST_ASSERT(env->seen, "realloc");
                seen_t *s = &env->seen[env->seen_cnt++];
                memset(s, 0, sizeof(*s));
                s->topic = xstrdup(rd_kafka_topic_name(rkm->rkt));
                s->key = malloc(rkm->key_len + 1);
                TEST_ASSERT(s->key, "malloc");
                if (rkm->key_len)
                        memcpy(s->key, rkm->key, rkm->key_len);
                s->key[rkm->key_len] = '\0';
                s->kind = header(rkm, "kind");
                s->operation_id = header(rkm, "operation-id");
                s->error = header(rkm, "error");
                s->source_offset = header(rkm, "source-offset");
                s->len = rkm->len;
                s->value = malloc(rkm->len + 1);
                TEST_ASSERT(s->value, "malloc");
                if (rkm->len)
                        memcpy(s->value, rkm->payload, rkm->len);
                s->partition = rkm->partition;
                s->offset = rkm->offset;
                s->recv_ms = env_wall_ms();
                s->timestamp_ms = rd_kafka_message_timestamp(rkm, NULL);
                if (!s->kind || strcmp(s->kind, "dead_letter"))
                        s->push = callsig__v1__push_message__unpack(NULL, rkm->len,
                                                                    rkm->payload);
                if (s->push && dialect_v3())
                        s->push = dialect_push_to_v2(s->push);
                rd_kafka_message_destroy(rkm);
        } while (env_mono_ms() < until);
}

static bool matches(env_t *env, const seen_t *s, const char *user,
                    const char *kind, const char *op) {
        if (s->taken || !s->kind || strcmp(s->kind, kind))
                return false;
        if (user && (strcmp(s->key, user) || strcmp(s->topic, topic_of(env, user))))
                return false;
        if (op && (!s->operation_id || strcmp(s->operation_id, op)))
                return false;
        return true;
}

static seen_t *expect(env_t *env, const char *user, const char *kind,
                      const char *op) {
        int64_t deadline = env_mono_ms() + env_ms(20000);
        for (;;) {
                for (size_t i = 0; i < env->seen_cnt; i++) {
                        seen_t *s = &env->seen[i];
                        if (matches(env, s, user, kind, op)) {
                                s->taken = true;
                                return s;
                        }
                }
                if (env_mono_ms() > deadline)
                        TEST_FAIL("no %s for %s (operation-id %s) arrived",
                                  kind, user ? user : "anyone", op ? op : "any");
                pump(env, 50);
        }
}

seen_t *env_expect_reply(env_t *env, const char *user, const char *op) {
        return expect(env, user, "reply", op);
}

seen_t *env_expect_note(env_t *env, const char *user, const char *op) {
        return expect(env, user, "notification", op);
}

seen_t *env_expect_dlq(env_t *env) {
        return expect(env, NULL, "dead_letter", NULL);
}

void env_expect_quiet(env_t *env, const char *user, int ms) {
        pump(env, env_ms(ms));
        for (size_t i = 0; i < env->seen_cnt; i++) {
                seen_t *s = &env->seen[i];
                if (!s->taken && !strcmp(s->key, user))
                        TEST_FAIL("unexpected %s for %s (operation-id %s)",
                                  s->kind ? s->kind : "?", user,
                                  s->operation_id ? s->operation_id : "-");
        }
}

void env_seen_drop(env_t *env) {
        for (size_t i = 0; i < env->seen_cnt; i++)
                seen_clear(&env->seen[i]);
        env->seen_cnt = 0;
}

const seen_t *env_seen_all(env_t *env, int ms, size_t *cntp) {
        pump(env, env_ms(ms));
        *cntp = env->seen_cnt;
        return env->seen;
}

int env_count(env_t *env, const char *user, const char *op, const char *kind,
              int ms) {
        pump(env, env_ms(ms));
        int n = 0;
        for (size_t i = 0; i < env->seen_cnt; i++) {
                const seen_t *s = &env->seen[i];
                if (!strcmp(s->key, user) && s->kind && !strcmp(s->kind, kind) &&
                    (!op || (s->operation_id && !strcmp(s->operation_id, op))))
                        n++;
        }
        return n;
}

Callsig__V1__SignalReply *env_expect_code(env_t *env, const char *user,
                                          const char *op, int code,
                                          int resp_case) {
        Callsig__V1__SignalReply *r = seen_reply(env_expect_reply(env, user, op));
        TEST_ASSERT(r->errcode == code, "%s from %s: errCode %d, want %d (%s)",
                    op, user, r->errcode, code, r->errmsg);
        TEST_STREQ(r->operationid, op);
        TEST_ASSERT(r->resp && (int)r->resp->payload_case == resp_case,
                    "%s: resp case %d, want %d", op,
                    r->resp ? (int)r->resp->payload_case : -1, resp_case);
        return r;
}

Callsig__V1__SignalReply *seen_reply(seen_t *s) {
        TEST_ASSERT(s->push, "undecodable push message");
        TEST_ASSERT(s->push->body_case == CALLSIG__V1__PUSH_MESSAGE__BODY_REPLY,
                    "not a reply");
        TEST_STREQ(s->push->recvid, s->key);
        return s->push->reply;
}

Openim__V2__MsgData *seen_note(seen_t *s) {
        TEST_ASSERT(s->push, "undecodable push message");
        TEST_ASSERT(s->push->body_case == CALLSIG__V1__PUSH_MESSAGE__BODY_NOTIFICATION,
                    "not a notification");
        TEST_STREQ(s->push->recvid, s->key);
        return s->push->notification;
}

Openim__V2__SignalReq *seen_content(seen_t *s) {
        Openim__V2__MsgData *md = seen_note(s);
        Openim__V2__SignalReq *req = openim__v2__signal_req__unpack(
                NULL, md->content.len, md->content.data);
        TEST_ASSERT(req, "notification content is not a SignalReq");
        return req;
}

/* ---- MongoDB ---- */

static mongoc_collection_t *coll(env_t *env, const char *name) {
        return mongoc_client_get_collection(env->mongo, env->mongo_db, name);
}

bson_t *env_call_doc(env_t *env, const char *room) {
        mongoc_collection_t *c = coll(env, "calls");
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(room));
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, NULL, NULL);
        const bson_t *doc;
        bson_t *copy = NULL;
        if (mongoc_cursor_next(cur, &doc))
                copy = bson_copy(doc);
        bson_error_t berr;
        TEST_ASSERT(!mongoc_cursor_error(cur, &berr), "find: %s", berr.message);
        mongoc_cursor_destroy(cur);
        bson_destroy(filter);
        mongoc_collection_destroy(c);
        return copy;
}

bson_t *env_wait_call(env_t *env, const char *room, const char *state,
                      const char *end_reason) {
        int64_t deadline = env_mono_ms() + env_ms(20000);
        for (;;) {
                bson_t *doc = env_call_doc(env, room);
                if (doc && !strcmp(doc_str(doc, "state"), state) &&
                    (!end_reason || !strcmp(doc_str(doc, "endReason"), end_reason)))
                        return doc;
                if (env_mono_ms() > deadline) {
                        char *json = doc ? bson_as_relaxed_extended_json(doc, NULL) : NULL;
                        TEST_FAIL("call %s never reached %s/%s: %s", room, state,
                                  end_reason ? end_reason : "*", json ? json : "(none)");
                }
                if (doc)
                        bson_destroy(doc);
                sleep_ms(50);
        }
}

static bool find_path(const bson_t *doc, const char *path, bson_iter_t *it) {
        bson_iter_t root;
        return bson_iter_init(&root, doc) &&
               bson_iter_find_descendant(&root, path, it);
}

const char *doc_str(const bson_t *doc, const char *path) {
        bson_iter_t it;
        if (find_path(doc, path, &it) && BSON_ITER_HOLDS_UTF8(&it))
                return bson_iter_utf8(&it, NULL);
        return "";
}

int64_t doc_int(const bson_t *doc, const char *path) {
        bson_iter_t it;
        if (!find_path(doc, path, &it))
                return -1;
        if (BSON_ITER_HOLDS_DATE_TIME(&it))
                return bson_iter_date_time(&it);
        return bson_iter_as_int64(&it);
}

bool doc_has(const bson_t *doc, const char *path) {
        bson_iter_t it;
        return find_path(doc, path, &it);
}

int64_t env_count_docs(env_t *env, const char *name, const char *filter_json) {
        bson_error_t berr;
        bson_t *filter = bson_new_from_json((const uint8_t *)filter_json, -1, &berr);
        TEST_ASSERT(filter, "filter json: %s", berr.message);
        mongoc_collection_t *c = coll(env, name);
        int64_t n = mongoc_collection_count_documents(c, filter, NULL, NULL, NULL, &berr);
        TEST_ASSERT(n >= 0, "count: %s", berr.message);
        mongoc_collection_destroy(c);
        bson_destroy(filter);
        return n;
}

void env_admin_command(env_t *env, const char *json) {
        bson_error_t berr;
        bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &berr);
        TEST_ASSERT(cmd, "command json: %s", berr.message);
        if (!mongoc_client_command_simple(env->mongo, "admin", cmd, NULL, NULL,
                                          &berr)) {
                /* Our test server implements what the scenarios send; an
                 * outside backend may not (a mongod without
                 * enableTestCommands, mongo-java-server): the scenario
                 * cannot run there. */
                TEST_ASSERT(env->mongo_pid == 0, "admin command: %s", berr.message);
                fprintf(stderr, "skipped: the MongoDB backend %s refuses the admin "
                                "command %s (%s); the scenario needs MongoDB's "
                                "failpoints (a mongod with enableTestCommands=1)\n",
                        env->mongo_uri, json, berr.message);
                bson_destroy(cmd);
                env_stop(env);
                exit(77); /* ctest: SKIP_RETURN_CODE */
        }
        bson_destroy(cmd);
}

/* ---- tokens ---- */

void env_verify_token_later(env_t *env, const char *token, const char *user,
                            const char *room) {
        TEST_ASSERT(token && token[0], "empty token");
        env->tokens = realloc(env->tokens, (env->token_cnt + 1) * sizeof(*env->tokens));
        TEST_ASSERT(env->tokens, "realloc");
        token_check_t *t = &env->tokens[env->token_cnt++];
        t->token = xstrdup(token);
        t->user = xstrdup(user);
        t->room = xstrdup(room);
}

void env_verify_tokens(env_t *env) {
        char out_path[400], cmd[2048];
        snprintf(out_path, sizeof(out_path), "%s/lk-verify.out", env->dir);
        snprintf(cmd, sizeof(cmd), "node '%s' --batch > '%s'",
                 env_source_path("tests/js/lk-verify.mjs"), out_path);
        FILE *fp = popen(cmd, "w");
        TEST_ASSERT(fp, "popen node");
        for (size_t i = 0; i < env->token_cnt; i++)
                fprintf(fp, "%s %s %s\n", env->tokens[i].token, LK_KEY, LK_SECRET);
        int status = pclose(fp);
        char *out = env_read_file(out_path);
        TEST_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                    "livekit-server-sdk rejected a token (exit %d):\n%s",
                    WEXITSTATUS(status), out);
        /* One claims line per token, in order. */
        char *line = out;
        for (size_t i = 0; i < env->token_cnt; i++) {
                char *nl = strchr(line, '\n');
                TEST_ASSERT(nl, "lk-verify printed too few lines");
                *nl = '\0';
                char want_sub[300], want_room[300];
                snprintf(want_sub, sizeof(want_sub), "\"sub\":\"%s\"", env->tokens[i].user);
                snprintf(want_room, sizeof(want_room), "\"room\":\"%s\"", env->tokens[i].room);
                TEST_ASSERT(strstr(line, want_sub) && strstr(line, want_room),
                            "token %zu claims %s lack %s or %s", i, line,
                            want_sub, want_room);
                line = nl + 1;
        }
        TEST_SAY("livekit-server-sdk verified %zu token(s)", env->token_cnt);
        free(out);
}
