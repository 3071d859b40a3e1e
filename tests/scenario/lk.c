/*
 * lk.c: a real livekit-server and the media join client (see lk.h).
 */
#include "lk.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static char dir[256];
static char url[256];
static FILE *spec;
static int checks;
static bool in_participants;
static int participants;

const char *lk_server_bin(void) {
        static char path[1024];
        const char *env = getenv("CALLSIG_LIVEKIT_BIN");
        if (env && *env)
                snprintf(path, sizeof(path), "%s", env);
        else
                snprintf(path, sizeof(path), "%s",
                         env_source_path(".cache/livekit-1.13.5/server"));
        return access(path, X_OK) == 0 ? path : NULL;
}

const char *lk_dir(void) {
        return dir;
}

const char *lk_server_start(void) {
        return lk_server_start_webhook(NULL);
}

const char *lk_server_start_webhook(const char *webhook_url) {
        snprintf(dir, sizeof(dir), "/tmp/callsig-livekit-XXXXXX");
        TEST_ASSERT(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
        char pid[32], cmd[2048], path[300];
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("LIVEKIT_OWNER_PID", pid, 1); /* no server outlives us */
        snprintf(cmd, sizeof(cmd), "'%s' start '%s' '%s' '%s' '%s' >'%s/start.log' 2>&1",
                 env_source_path("scripts/livekit-server.sh"), dir, LK_KEY,
                 LK_SECRET, webhook_url ? webhook_url : "", dir);
        int64_t t0 = env_mono_ms();
        int rc = system(cmd);
        snprintf(path, sizeof(path), "%s/start.log", dir);
        char *log = env_read_file(path);
        TEST_ASSERT(rc == 0, "livekit-server.sh start failed (%d):\n%s", rc, log);
        free(log);
        snprintf(path, sizeof(path), "%s/url", dir);
        char *text = env_read_file(path);
        text[strcspn(text, "\n")] = '\0';
        TEST_ASSERT(strncmp(text, "ws://127.0.0.1:", 15) == 0, "url '%s'", text);
        snprintf(url, sizeof(url), "%s", text);
        free(text);
        TEST_SAY("livekit-server ready at %s in %lld ms (dir %s)", url,
                 (long long)(env_mono_ms() - t0), dir);
        return url;
}

void lk_server_stop(void) {
        char cmd[2048];
        snprintf(cmd, sizeof(cmd), "'%s' stop '%s'",
                 env_source_path("scripts/livekit-server.sh"), dir);
        TEST_ASSERT(system(cmd) == 0, "livekit-server.sh stop");
        const char *keep = getenv("CALLSIG_TEST_KEEP");
        if (keep && *keep && strcmp(keep, "0")) {
                TEST_SAY("kept %s", dir);
                return;
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
                TEST_SAY("could not remove %s", dir);
}

/* ---- the join spec ---- */

static void close_participants(void) {
        if (in_participants)
                fputs("]", spec);
        in_participants = false;
}

static void close_check(void) {
        close_participants();
        if (checks)
                fputs("}", spec);
}

void lk_spec_begin(int timeout_ms) {
        char path[300];
        snprintf(path, sizeof(path), "%s/join-spec.json", dir);
        spec = fopen(path, "w");
        TEST_ASSERT(spec, "cannot write %s", path);
        fchmod(fileno(spec), 0600); /* it holds tokens */
        fprintf(spec, "{\"url\": \"%s\", \"timeout_ms\": %d, \"checks\": [", url,
                env_ms(timeout_ms));
        checks = 0;
        in_participants = false;
}

void lk_spec_check(const char *name, const char *expect) {
        close_check();
        fprintf(spec, "%s\n  {\"name\": \"%s\", \"expect\": \"%s\"",
                checks++ ? "," : "", name, expect);
        participants = 0;
}

void lk_spec_participant(const char *identity, const char *token,
                         const char *room, const char *const *sees) {
        if (!in_participants)
                fputs(", \"participants\": [", spec);
        in_participants = true;
        fprintf(spec, "%s\n    {\"identity\": \"%s\", \"token\": \"%s\", "
                      "\"room\": \"%s\", \"sees\": [",
                participants++ ? "," : "", identity, token, room);
        for (int i = 0; sees[i]; i++)
                fprintf(spec, "%s\"%s\"", i ? ", " : "", sees[i]);
        fputs("]}", spec);
}

void lk_spec_refused(const char *identity, const char *token) {
        fprintf(spec, ", \"identity\": \"%s\", \"token\": \"%s\"", identity, token);
}

void lk_spec_list(const char *key, const char *const *ids) {
        close_participants();
        fprintf(spec, ", \"%s\": [", key);
        for (int i = 0; ids[i]; i++)
                fprintf(spec, "%s\"%s\"", i ? ", " : "", ids[i]);
        fputs("]", spec);
}

char *lk_spec_run(bool *okp, int64_t *msp) {
        close_check();
        fputs("\n]}\n", spec);
        fclose(spec);
        spec = NULL;
        char cmd[2048];
        snprintf(cmd, sizeof(cmd),
                 "node '%s' '%s/join-spec.json' --result '%s/join-result.txt' "
                 ">'%s/join.log' 2>&1",
                 env_source_path("tests/js/lk-join.mjs"), dir, dir, dir);
        int64_t t0 = env_mono_ms();
        int rc = system(cmd);
        *msp = env_mono_ms() - t0;
        *okp = WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
        char path[300];
        snprintf(path, sizeof(path), "%s/join-result.txt", dir);
        return env_read_file(path);
}

/* ---- sessions ---- */

struct lk_sess_s {
        char name[64];
        json_t *check;  /* the session check of the spec */
        int timeout_ms; /* scaled */
        pid_t pid;
};

lk_sess_t *lk_sess_new(const char *name, int timeout_ms) {
        lk_sess_t *sess = calloc(1, sizeof(*sess));
        TEST_ASSERT(sess, "calloc");
        snprintf(sess->name, sizeof(sess->name), "%s", name);
        sess->timeout_ms = env_ms(timeout_ms);
        sess->check = json_pack("{s:s, s:s, s:[]}", "name", name, "expect",
                                "session", "participants");
        return sess;
}

static void sess_path(const lk_sess_t *sess, const char *what, char *buf,
                      size_t size) {
        snprintf(buf, size, "%s/%s-%s", dir, sess->name, what);
}

void lk_sess_add(lk_sess_t *sess, const char *identity, const char *token,
                 const char *room, bool until_disconnected) {
        json_t *p = json_pack("{s:s, s:s, s:s}", "identity", identity, "token",
                              token, "room", room);
        if (until_disconnected) {
                json_object_set_new(p, "until_disconnected", json_true());
        } else {
                char what[128], path[512];
                snprintf(what, sizeof(what), "leave-%s", identity);
                sess_path(sess, what, path, sizeof(path));
                json_object_set_new(p, "leave_when", json_string(path));
        }
        json_array_append_new(json_object_get(sess->check, "participants"), p);
}

void lk_sess_start(lk_sess_t *sess) {
        char spec_path[512], result_path[512], log_path[512];
        sess_path(sess, "spec.json", spec_path, sizeof(spec_path));
        sess_path(sess, "result.txt", result_path, sizeof(result_path));
        sess_path(sess, "join.log", log_path, sizeof(log_path));
        json_t *root = json_pack("{s:s, s:i, s:[O]}", "url", url, "timeout_ms",
                                 sess->timeout_ms, "checks", sess->check);
        int fd = open(spec_path, O_WRONLY | O_CREAT | O_TRUNC, 0600); /* tokens */
        TEST_ASSERT(fd >= 0, "cannot write %s", spec_path);
        TEST_ASSERT(json_dumpfd(root, fd, JSON_INDENT(1)) == 0, "write spec");
        close(fd);
        json_decref(root);
        sess->pid = fork();
        TEST_ASSERT(sess->pid >= 0, "fork");
        if (sess->pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int lfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
                if (lfd >= 0) {
                        dup2(lfd, 1);
                        dup2(lfd, 2);
                }
                execlp("node", "node", env_source_path("tests/js/lk-join.mjs"),
                       spec_path, "--result", result_path, (char *)NULL);
                _exit(127);
        }
}

void lk_sess_leave(lk_sess_t *sess, const char *identity) {
        char what[128], path[512];
        snprintf(what, sizeof(what), "leave-%s", identity);
        sess_path(sess, what, path, sizeof(path));
        FILE *fp = fopen(path, "w");
        TEST_ASSERT(fp, "cannot write %s", path);
        fclose(fp);
}

static bool field_is(json_t *obj, const char *key, const char *want) {
        const char *v = json_string_value(json_object_get(obj, key));
        return v && !strcmp(v, want);
}

char *lk_sess_find(lk_sess_t *sess, const char *event, const char *identity,
                   const char *other) {
        char path[512];
        sess_path(sess, "result.txt", path, sizeof(path));
        char *all = env_read_file(path);
        char *found = NULL;
        for (char *line = strtok(all, "\n"); line && !found; line = strtok(NULL, "\n")) {
                if (strncmp(line, "RESULT ", 7))
                        continue;
                json_t *e = json_loads(line + 7, 0, NULL); /* may be partial */
                if (e && field_is(e, "event", event) && field_is(e, "identity", identity) &&
                    (!other || field_is(e, "other", other)))
                        found = strdup(line + 7);
                json_decref(e);
        }
        free(all);
        return found;
}

char *lk_sess_wait(lk_sess_t *sess, const char *event, const char *identity,
                   const char *other, int timeout_ms) {
        int64_t end = env_mono_ms() + env_ms(timeout_ms);
        for (;;) {
                char *line = lk_sess_find(sess, event, identity, other);
                if (line)
                        return line;
                int status;
                if (env_mono_ms() > end || waitpid(sess->pid, &status, WNOHANG) == sess->pid) {
                        char path[512];
                        sess_path(sess, "result.txt", path, sizeof(path));
                        char *all = env_read_file(path);
                        TEST_FAIL("session %s: no %s of %s%s%s within %d ms; "
                                  "events so far:\n%s(log %s/%s-join.log)",
                                  sess->name, event, identity, other ? " about " : "",
                                  other ? other : "", timeout_ms, all, dir, sess->name);
                }
                usleep(20000);
        }
}

bool lk_sess_end(lk_sess_t *sess, char **resultp) {
        int status = 0;
        int64_t end = env_mono_ms() + sess->timeout_ms + env_ms(15000);
        while (waitpid(sess->pid, &status, WNOHANG) != sess->pid) {
                if (env_mono_ms() > end) {
                        kill(sess->pid, SIGKILL);
                        waitpid(sess->pid, &status, 0);
                        break;
                }
                usleep(20000);
        }
        char path[512];
        sess_path(sess, "result.txt", path, sizeof(path));
        if (resultp)
                *resultp = env_read_file(path);
        json_decref(sess->check);
        free(sess);
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void lk_require_server(void) {
        if (lk_server_bin())
                return;
        const char *req = getenv("CALLSIG_TEST_REQUIRE_LIVEKIT");
        TEST_ASSERT(!(req && *req && strcmp(req, "0")),
                    "livekit-server is not built and "
                    "CALLSIG_TEST_REQUIRE_LIVEKIT is set: run "
                    "scripts/livekit-server.sh build");
        fprintf(stderr, "SKIP: livekit-server is not built (run "
                        "scripts/livekit-server.sh build)\n");
        exit(77);
}
