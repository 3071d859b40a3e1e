/*
 * p2p.c: see p2p.h.
 */
#define _GNU_SOURCE
#include "p2p.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define AIORTC_VENV ".cache/aiortc-1.16.0/bin/python"
#define RQ(x) OPENIM__V2__SIGNAL_REQ__PAYLOAD_##x
#define RS(x) OPENIM__V2__SIGNAL_RESP__PAYLOAD_##x

static const char *python_bin(void) {
        const char *p = getenv("CALLSIG_TEST_AIORTC_PYTHON");
        return p && *p ? p : env_source_path(AIORTC_VENV);
}

static bool on_path(const char *name) {
        const char *path = getenv("PATH");
        char buf[1024];
        while (path && *path) {
                size_t n = strcspn(path, ":");
                snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, name);
                if (access(buf, X_OK) == 0)
                        return true;
                path += n + (path[n] == ':');
        }
        return false;
}

const char *p2p_missing(void) {
        if (!on_path("turnserver"))
                return "coturn is not installed (turnserver not found; "
                       "apt-get install coturn, or scripts/install-deps.sh)";
        if (access(python_bin(), X_OK) != 0)
                return "aiortc is not installed (run scripts/deps-aiortc.sh)";
        return NULL;
}

void p2p_require(void) {
        const char *why = p2p_missing();
        if (!why)
                return;
        const char *req = getenv("CALLSIG_TEST_REQUIRE_P2P");
        TEST_ASSERT(!(req && *req && strcmp(req, "0")),
                    "%s, and CALLSIG_TEST_REQUIRE_P2P is set", why);
        fprintf(stderr, "SKIP: %s\n", why);
        exit(77);
}

/* ---- coturn ---- */

static pid_t turn_pid = -1;
static char turn_dir[64];

static void turn_kill(void) {
        if (turn_pid > 0) {
                kill(turn_pid, SIGTERM);
                waitpid(turn_pid, NULL, 0);
                turn_pid = -1;
        }
}

int p2p_turn_start(const char *secret) {
        TEST_ASSERT(turn_pid < 0, "coturn already running");
        snprintf(turn_dir, sizeof(turn_dir), "/tmp/callsig-turn-XXXXXX");
        TEST_ASSERT(mkdtemp(turn_dir), "mkdtemp: %s", strerror(errno));
        int port = env_free_port();
        /* A small relay range of 20 ports, per process (two tests at once
         * do not share it); coturn skips ports in use. */
        int min_port = 40000 + (int)(getpid() % 500) * 40;
        char a_port[32], a_min[32], a_max[32], a_secret[256], a_log[128],
                a_pid[128], a_db[128];
        snprintf(a_port, sizeof(a_port), "--listening-port=%d", port);
        snprintf(a_min, sizeof(a_min), "--min-port=%d", min_port);
        snprintf(a_max, sizeof(a_max), "--max-port=%d", min_port + 19);
        snprintf(a_secret, sizeof(a_secret), "--static-auth-secret=%s", secret);
        snprintf(a_log, sizeof(a_log), "%s/turnserver.log", turn_dir);
        snprintf(a_pid, sizeof(a_pid), "--pidfile=%s/turnserver.pid", turn_dir);
        snprintf(a_db, sizeof(a_db), "--db=%s/turndb", turn_dir);
        fflush(NULL);
        turn_pid = fork();
        TEST_ASSERT(turn_pid >= 0, "fork");
        if (turn_pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int fd = open(a_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                execlp("turnserver", "turnserver", "-n", "--verbose", "--listening-ip=127.0.0.1",
                       "--relay-ip=127.0.0.1", a_port, a_min, a_max,
                       "--use-auth-secret", a_secret, "--realm=callsig.test",
                       "--allow-loopback-peers", "--no-tls", "--no-dtls", "--no-cli",
                       "--no-tcp-relay", "--fingerprint", "--log-file=stdout",
                       "--simple-log", "--no-software-attribute", a_pid, a_db,
                       (char *)NULL);
                _exit(127);
        }
        atexit(turn_kill);
        /* Ready when it listens on the UDP port. */
        char probe[256];
        snprintf(probe, sizeof(probe),
                 "ss -Hlun 'sport = :%d' 2>/dev/null | grep -q .", port);
        int64_t deadline = env_mono_ms() + env_ms(10000);
        while (system(probe) != 0) {
                int status;
                TEST_ASSERT(waitpid(turn_pid, &status, WNOHANG) == 0,
                            "turnserver exited (log: %s)", a_log);
                TEST_ASSERT(env_mono_ms() < deadline,
                            "turnserver does not listen on %d (log: %s)", port, a_log);
                usleep(50 * 1000);
        }
        TEST_SAY("coturn on 127.0.0.1:%d, relay ports %d-%d (log: %s)", port,
                 min_port, min_port + 19, a_log);
        return port;
}

bool p2p_turn_log_has(const char *needle) {
        char path[128], line[4096];
        snprintf(path, sizeof(path), "%s/turnserver.log", turn_dir);
        FILE *fp = fopen(path, "r");
        bool found = false;
        while (fp && !found && fgets(line, sizeof(line), fp))
                found = strstr(line, needle) != NULL;
        if (fp)
                fclose(fp);
        return found;
}

void p2p_turn_stop(void) {
        turn_kill();
        if (turn_dir[0] && !getenv("CALLSIG_TEST_KEEP")) {
                char cmd[128];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", turn_dir);
                if (system(cmd) != 0)
                        TEST_SAY("could not remove %s", turn_dir);
        }
        turn_dir[0] = '\0';
}

/* ---- the peers ---- */

typedef struct peer_s {
        const char *user;
        pid_t pid;
        int in, out; /* its stdin (we write), its stdout (we read) */
        char buf[262144];
        size_t len;
        bool done;
} peer_t;

static void peer_start(peer_t *p, const char *role, const char *user,
                       int timeout_ms) {
        int to_child[2], from_child[2];
        TEST_ASSERT(pipe(to_child) == 0 && pipe(from_child) == 0, "pipe");
        char timeout_s[32], log[256];
        snprintf(timeout_s, sizeof(timeout_s), "%d", env_ms(timeout_ms) / 1000);
        snprintf(log, sizeof(log), "%s/peer-%s.log", turn_dir, user);
        /* env_source_path() returns one static buffer: copy each */
        char py[1024], script[1024];
        snprintf(py, sizeof(py), "%s", python_bin());
        snprintf(script, sizeof(script), "%s", env_source_path("tests/p2p/peer.py"));
        memset(p, 0, sizeof(*p));
        p->user = user;
        fflush(NULL);
        p->pid = fork();
        TEST_ASSERT(p->pid >= 0, "fork");
        if (p->pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(to_child[0], 0);
                dup2(from_child[1], 1);
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd >= 0)
                        dup2(fd, 2);
                close(to_child[1]);
                close(from_child[0]);
                execl(py, py, script, role, user, timeout_s, (char *)NULL);
                _exit(127);
        }
        close(to_child[0]);
        close(from_child[1]);
        p->in = to_child[1];
        p->out = from_child[0];
        fcntl(p->out, F_SETFL, O_NONBLOCK);
}

static void peer_send(peer_t *p, json_t *msg) {
        char *text = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        TEST_ASSERT(text, "json_dumps");
        size_t len = strlen(text);
        text[len] = '\n';
        /* a peer that already ended is not an error here */
        ssize_t n = write(p->in, text, len + 1);
        (void)n;
        free(text);
}

/* @returns the next complete line of @p p's output (caller frees), NULL
 * when none is there yet. */
static char *peer_line(peer_t *p) {
        for (;;) {
                char *nl = memchr(p->buf, '\n', p->len);
                if (nl) {
                        size_t n = (size_t)(nl - p->buf);
                        char *line = strndup(p->buf, n);
                        memmove(p->buf, nl + 1, p->len - n - 1);
                        p->len -= n + 1;
                        return line;
                }
                TEST_ASSERT(p->len < sizeof(p->buf), "peer line too long");
                ssize_t r = read(p->out, p->buf + p->len, sizeof(p->buf) - p->len);
                if (r <= 0)
                        return NULL;
                p->len += (size_t)r;
        }
}

/* @returns true if @p p's output still holds bytes (it may have exited
 * after writing its report). */
static bool peer_has_output(peer_t *p) {
        struct pollfd pfd = {.fd = p->out, .events = POLLIN};
        return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN);
}

static void peer_stop(peer_t *p) {
        close(p->in);
        int64_t deadline = env_mono_ms() + env_ms(5000);
        while (waitpid(p->pid, NULL, WNOHANG) == 0) {
                if (env_mono_ms() > deadline) {
                        kill(p->pid, SIGKILL);
                        waitpid(p->pid, NULL, 0);
                        break;
                }
                usleep(20 * 1000);
        }
        close(p->out);
}

/* {"type": "ice", "servers": [...]} from a reply's iceServers. */
static json_t *ice_message(const Callsig__V1__SignalReply *r) {
        json_t *servers = json_array();
        for (size_t i = 0; i < r->n_iceservers; i++) {
                const Callsig__V1__IceServer *s = r->iceservers[i];
                json_t *urls = json_array();
                for (size_t u = 0; u < s->n_urls; u++)
                        json_array_append_new(urls, json_string(s->urls[u]));
                json_array_append_new(servers,
                                      json_pack("{s:o, s:s, s:s}", "urls", urls,
                                                "username", s->username,
                                                "credential", s->credential));
        }
        return json_pack("{s:s, s:o}", "type", "ice", "servers", servers);
}

static void turn_user(const Callsig__V1__SignalReply *r, char *out, size_t size) {
        out[0] = '\0';
        for (size_t i = 0; i < r->n_iceservers; i++)
                if (r->iceservers[i]->username[0])
                        snprintf(out, size, "%s", r->iceservers[i]->username);
}

static void copy_str(char *dst, size_t size, json_t *obj, const char *key) {
        const char *v = json_string_value(json_object_get(obj, key));
        snprintf(dst, size, "%s", v ? v : "");
}

void p2p_call(env_t *env, const char *caller, const char *callee,
              const char *intruder, const char *room, int timeout_ms,
              p2p_result_t *res) {
        memset(res, 0, sizeof(*res));
        env_watch(env, caller);
        env_watch(env, callee);
        env_watch(env, intruder);
        size_t cursor;
        env_seen_all(env, 0, &cursor); /* only what comes from now on */

        peer_t peers[2];
        peer_start(&peers[0], "caller", caller, timeout_ms);
        peer_start(&peers[1], "callee", callee, timeout_ms);

        /* the call, through callsig; each peer gets its own reply's
         * iceServers */
        char op[160];
        snprintf(op, sizeof(op), "%s-invite", room);
        env_send(env, cmd_invite(op, caller, (const char *[]){callee, NULL}, room,
                                 NULL, "video", 60),
                 NULL, -1);
        const Callsig__V1__SignalReply *r = env_expect_code(env, caller, op, 0,
                                                            RS(INVITE));
        turn_user(r, res->turn_user[0], sizeof(res->turn_user[0]));
        peer_send(&peers[0], ice_message(r));
        env_expect_note(env, callee, op);
        snprintf(op, sizeof(op), "%s-accept", room);
        env_send(env, cmd_action(op, callee, RQ(ACCEPT), room), NULL, -1);
        r = env_expect_code(env, callee, op, 0, RS(ACCEPT));
        turn_user(r, res->turn_user[1], sizeof(res->turn_user[1]));
        peer_send(&peers[1], ice_message(r));
        env_expect_note(env, caller, op);
        int64_t t0 = env_mono_ms();
        peer_send(&peers[0], json_pack("{s:s}", "type", "start"));

        /* a stranger tries the room: refused, and must reach no one */
        char intruder_op[160];
        snprintf(intruder_op, sizeof(intruder_op), "%s-intruder", room);
        env_send(env, cmd_custom(intruder_op, intruder, room,
                                 "{\"kind\": \"end\"}", NULL),
                 NULL, -1);
        res->intruder_code = env_expect_code(env, intruder, intruder_op, 1002,
                                             100)->errcode;

        int64_t deadline = env_mono_ms() + env_ms(timeout_ms) + env_ms(10000);
        int sent = 0;
        while (!(peers[0].done && peers[1].done)) {
                TEST_ASSERT(env_mono_ms() < deadline,
                            "the peers did not report (logs in %s)", turn_dir);
                for (int i = 0; i < 2; i++) {
                        int status;
                        TEST_ASSERT(peers[i].done || waitpid(peers[i].pid, &status, WNOHANG) == 0 ||
                                            peers[i].len || peer_has_output(&peers[i]),
                                    "peer %s exited without a report (log in %s)",
                                    peers[i].user, turn_dir);
                }
                struct pollfd pfd[2] = {{.fd = peers[0].out, .events = POLLIN},
                                        {.fd = peers[1].out, .events = POLLIN}};
                poll(pfd, 2, 10);
                for (int i = 0; i < 2; i++) {
                        char *line;
                        while ((line = peer_line(&peers[i]))) {
                                json_error_t jerr;
                                json_t *msg = json_loads(line, 0, &jerr);
                                TEST_ASSERT(msg, "peer %s wrote: %s", peers[i].user, line);
                                const char *type = json_string_value(json_object_get(msg, "type"));
                                if (type && !strcmp(type, "custom")) {
                                        snprintf(op, sizeof(op), "%s-%s-%d", room,
                                                 peers[i].user, ++sent);
                                        env_send(env, cmd_custom(op, peers[i].user, room,
                                                                 json_string_value(json_object_get(msg, "info")),
                                                                 NULL),
                                                 NULL, -1);
                                        env_expect_code(env, peers[i].user, op, 0, 100);
                                } else if (type && !strcmp(type, "done")) {
                                        peers[i].done = true;
                                        res->connected[i] = json_is_true(json_object_get(msg, "ok"));
                                        copy_str(res->received[i], sizeof(res->received[i]), msg, "received");
                                        copy_str(res->local[i], sizeof(res->local[i]), msg, "local");
                                        copy_str(res->remote[i], sizeof(res->remote[i]), msg, "remote");
                                        copy_str(res->error[i], sizeof(res->error[i]), msg, "error");
                                        if (i == 0)
                                                res->connect_ms = env_mono_ms() - t0;
                                        TEST_SAY("%s: %s", peers[i].user, line);
                                }
                                json_decref(msg);
                                free(line);
                        }
                }
                /* forward what callsig relayed: 1605 notifications only */
                size_t cnt;
                const seen_t *seen = env_seen_all(env, 0, &cnt);
                for (; cursor < cnt; cursor++) {
                        const seen_t *s = &seen[cursor];
                        if (!s->push || s->push->body_case !=
                                                CALLSIG__V1__PUSH_MESSAGE__BODY_NOTIFICATION ||
                            s->push->notification->contenttype != 1605)
                                continue;
                        const Openim__V2__MsgData *md = s->push->notification;
                        int to = !strcmp(md->recvid, caller) ? 0
                                 : !strcmp(md->recvid, callee) ? 1 : -1;
                        if (to < 0)
                                continue;
                        if (s->operation_id && !strcmp(s->operation_id, intruder_op))
                                res->intruder_reached = true;
                        Openim__V2__SignalSendCustomSignalReq *c =
                                openim__v2__signal_send_custom_signal_req__unpack(
                                        NULL, md->content.len, md->content.data);
                        TEST_ASSERT(c, "1605 content does not decode");
                        peer_send(&peers[to], json_pack("{s:s, s:s, s:s}", "type", "signal",
                                                        "from", md->sendid, "info",
                                                        c->custominfo));
                        openim__v2__signal_send_custom_signal_req__free_unpacked(c, NULL);
                        res->signals_relayed++;
                }
        }
        res->signals_sent = sent;
        peer_stop(&peers[0]);
        peer_stop(&peers[1]);
        snprintf(op, sizeof(op), "%s-hangup", room);
        env_send(env, cmd_action(op, caller, RQ(HUNG_UP), room), NULL, -1);
        env_expect_code(env, caller, op, 0, RS(HUNG_UP));
}
