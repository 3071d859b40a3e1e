/*
 * 0012: the command line and configuration errors of the callsig binary
 * (contract section 8), without Kafka or MongoDB.
 *
 * Proves: exit 2 with file:line:col for an unknown key, a bad integer and a
 * YAML syntax error; a short or missing LiveKit secret is a configuration
 * error (exit 2) whose message never contains the secret; --check-config
 * exits 0 on a good file; --dump-config redacts the secret; --help and
 * --version exit 0 and names the librdkafka it runs ("callsig 0.1.0
 * (librdkafka 2.15.1)"), at least 2.15; an unknown option exits 2; the
 * environment overrides the file (CALLSIG_<KEY>), a bad value there names
 * the variable, and CALLSIG_LIVEKIT_API_SECRET alone satisfies the secret.
 * --check-config refuses (exit 2, file:line:col or the variable) what the
 * worker's start would: kafka.consumer.* / kafka.producer.* properties
 * librdkafka rejects alone or in combination, and a malformed mongodb.uri,
 * whose password is never shown. ICE servers (section 11): a bad TURN or
 * STUN URL or a turn.secret under 16 bytes exits 2 with file:line:col, and
 * so do TURN URLs without a secret.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

TEST_MAIN_DEFS

#define GOOD_SECRET "Fr0mFile-0123456789abcdef0123456789"
#define ENV_SECRET "Fr0mEnv-0123456789abcdef0123456789ab"
#define SHORT_SECRET "sh0rtSecretText"

extern char **environ;

static char dir[256];

typedef struct run_s {
        int rc;
        char *out;
        char *err;
} run_t;

/* The output a run wrote (the file must exist: the run made it). */
static char *slurp(const char *path) {
        TEST_ASSERT(access(path, F_OK) == 0, "open %s", path);
        return env_read_file(path);
}

static const char *write_conf(const char *name, const char *text) {
        /* Paths live until the test ends: one slot per file written. */
        static char paths[64][512];
        static int used;
        TEST_ASSERT(used < 64, "too many config files");
        char *path = paths[used++];
        snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
        FILE *fp = fopen(path, "w");
        TEST_ASSERT(fp, "write %s", path);
        fputs(text, fp);
        fclose(fp);
        return path;
}

/* Runs the binary with @p args (NULL-terminated, without argv[0]) and the
 * environment: the current one without any CALLSIG_* variable, plus the
 * NULL-terminated "NAME=value" list @p envs. Fails after 15 s. */
static run_t run(const char *const *args, const char *const *envs) {
        const char *bin = getenv("CALLSIG_TEST_BIN");
        TEST_ASSERT(bin, "CALLSIG_TEST_BIN is not set (run through ctest)");
        char out_path[600], err_path[600];
        snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
        snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
        pid_t pid = fork();
        TEST_ASSERT(pid >= 0, "fork");
        if (pid == 0) {
                int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fo < 0 || fe < 0)
                        _exit(126);
                dup2(fo, 1);
                dup2(fe, 2);
                /* Drop inherited CALLSIG_* variables (ctest sets some). */
                for (;;) {
                        char **e = environ;
                        while (*e && strncmp(*e, "CALLSIG_", 8))
                                e++;
                        if (!*e)
                                break;
                        char name[256];
                        size_t n = strcspn(*e, "=");
                        if (n >= sizeof(name))
                                n = sizeof(name) - 1;
                        memcpy(name, *e, n);
                        name[n] = '\0';
                        unsetenv(name);
                }
                for (size_t i = 0; envs && envs[i]; i++)
                        putenv(strdup(envs[i]));
                char *argv[32];
                size_t n = 0;
                argv[n++] = strdup("callsig");
                for (size_t i = 0; args && args[i] && n < 31; i++)
                        argv[n++] = strdup(args[i]);
                argv[n] = NULL;
                execv(bin, argv);
                _exit(127);
        }
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        int status = 0;
        for (;;) {
                pid_t r = waitpid(pid, &status, WNOHANG);
                if (r == pid)
                        break;
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec - start.tv_sec > env_ms(15000) / 1000) {
                        kill(pid, SIGKILL);
                        waitpid(pid, NULL, 0);
                        TEST_FAIL("callsig %s did not exit", args && args[0] ? args[0] : "");
                }
                struct timespec ts = {0, 10 * 1000000L};
                nanosleep(&ts, NULL);
        }
        run_t r;
        r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        r.out = slurp(out_path);
        r.err = slurp(err_path);
        TEST_SAY("rc=%d stderr: %.300s", r.rc, r.err);
        return r;
}

static void run_free(run_t *r) {
        free(r->out);
        free(r->err);
}

#define HAS(hay, needle)                                                     \
        TEST_ASSERT(strstr((hay), (needle)), "'%s' not in:\n%s", (needle), (hay))
#define LACKS(hay, needle)                                                   \
        TEST_ASSERT(!strstr((hay), (needle)), "'%s' must not be in:\n%s",    \
                    (needle), (hay))

int main(void) {
        snprintf(dir, sizeof(dir), "/tmp/callsig-configcli-XXXXXX");
        TEST_ASSERT(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
        char want[700];
        run_t r;

        /* A good file: --check-config passes, on stderr only. */
        const char *good = write_conf("good.yaml",
                                      "kafka:\n"
                                      "  brokers: \"127.0.0.1:1\"\n"
                                      "livekit:\n"
                                      "  api_key: mykey\n"
                                      "  api_secret: \"" GOOD_SECRET "\"\n"
                                      "signal:\n"
                                      "  max_timeout: 600\n");
        r = run((const char *[]){"--config", good, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        LACKS(r.err, GOOD_SECRET);
        LACKS(r.out, GOOD_SECRET);
        run_free(&r);

        /* --config=FILE works the same way */
        snprintf(want, sizeof(want), "--config=%s", good);
        r = run((const char *[]){want, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        run_free(&r);

        /* --dump-config: the effective configuration, secret redacted */
        r = run((const char *[]){"--config", good, "--dump-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        HAS(r.out, "api_secret");
        HAS(r.out, "mykey");
        HAS(r.out, "127.0.0.1:1");
        LACKS(r.out, GOOD_SECRET);
        LACKS(r.err, GOOD_SECRET);
        LACKS(r.out, "Fr0mFile"); /* not even a prefix of it */
        run_free(&r);

        /* unknown key: exit 2 and file:line:col of the key */
        const char *unknown = write_conf("unknown.yaml",
                                         "livekit:\n"
                                         "  api_key: mykey\n"
                                         "  api_secret: \"" GOOD_SECRET "\"\n"
                                         "  bogus_key: 1\n");
        r = run((const char *[]){"--config", unknown, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        snprintf(want, sizeof(want), "%s:4:3", unknown);
        HAS(r.err, want);
        HAS(r.err, "bogus_key");
        LACKS(r.err, GOOD_SECRET);
        run_free(&r);

        /* unknown top-level section */
        const char *unknown_top = write_conf("unknown_top.yaml",
                                             "livekit:\n"
                                             "  api_key: mykey\n"
                                             "  api_secret: \"" GOOD_SECRET "\"\n"
                                             "kafak:\n"
                                             "  brokers: x\n");
        r = run((const char *[]){"--config", unknown_top, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        snprintf(want, sizeof(want), "%s:4:1", unknown_top);
        HAS(r.err, want);
        HAS(r.err, "kafak");
        run_free(&r);

        /* bad integer: exit 2, file:line:col of the value */
        const char *badint = write_conf("badint.yaml",
                                        "livekit:\n"
                                        "  api_key: mykey\n"
                                        "  api_secret: \"" GOOD_SECRET "\"\n"
                                        "signal:\n"
                                        "  max_timeout: 12x\n");
        r = run((const char *[]){"--config", badint, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        snprintf(want, sizeof(want), "%s:5:16", badint);
        HAS(r.err, want);
        HAS(r.err, "max_timeout");
        run_free(&r);

        /* YAML syntax error: exit 2 with a position */
        const char *syntax = write_conf("syntax.yaml",
                                        "livekit:\n"
                                        "  api_key: mykey\n"
                                        "  - not a key\n"
                                        "  api_secret: \"" GOOD_SECRET "\"\n");
        r = run((const char *[]){"--config", syntax, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        snprintf(want, sizeof(want), "%s:3:3", syntax);
        HAS(r.err, want);
        LACKS(r.err, GOOD_SECRET);
        run_free(&r);

        /* a short secret: exit 2, the message names the key, never the secret */
        const char *shortsec = write_conf("short.yaml",
                                          "livekit:\n"
                                          "  api_key: mykey\n"
                                          "  api_secret: \"" SHORT_SECRET "\"\n");
        r = run((const char *[]){"--config", shortsec, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        HAS(r.err, "api_secret");
        HAS(r.err, "32");
        LACKS(r.err, SHORT_SECRET);
        LACKS(r.out, SHORT_SECRET);
        run_free(&r);
        /* ... also when the worker would run (no --check-config) */
        r = run((const char *[]){"--config", shortsec, NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        LACKS(r.err, SHORT_SECRET);
        LACKS(r.out, SHORT_SECRET);
        run_free(&r);
        /* ... and when it comes from the environment */
        r = run((const char *[]){"--config", good, "--check-config", NULL},
                (const char *[]){"CALLSIG_LIVEKIT_API_SECRET=" SHORT_SECRET, NULL});
        TEST_INTEQ(r.rc, 2);
        HAS(r.err, "api_secret");
        LACKS(r.err, SHORT_SECRET);
        LACKS(r.out, SHORT_SECRET);
        run_free(&r);

        /* a missing secret: exit 2 */
        const char *nosecret = write_conf("nosecret.yaml",
                                          "livekit:\n"
                                          "  api_key: mykey\n");
        r = run((const char *[]){"--config", nosecret, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        HAS(r.err, "api_secret");
        run_free(&r);
        r = run((const char *[]){"--config", nosecret, NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        run_free(&r);

        /* ... given by the environment instead: passes, and stays secret */
        r = run((const char *[]){"--config", nosecret, "--check-config", NULL},
                (const char *[]){"CALLSIG_LIVEKIT_API_SECRET=" ENV_SECRET, NULL});
        TEST_INTEQ(r.rc, 0);
        run_free(&r);
        r = run((const char *[]){"--config", nosecret, "--dump-config", NULL},
                (const char *[]){"CALLSIG_LIVEKIT_API_SECRET=" ENV_SECRET, NULL});
        TEST_INTEQ(r.rc, 0);
        LACKS(r.out, ENV_SECRET);
        LACKS(r.err, ENV_SECRET);
        HAS(r.out, "api_secret");
        run_free(&r);

        /* without --config: defaults plus the environment */
        r = run((const char *[]){"--check-config", NULL},
                (const char *[]){"CALLSIG_LIVEKIT_API_KEY=envkey",
                                 "CALLSIG_LIVEKIT_API_SECRET=" ENV_SECRET, NULL});
        TEST_INTEQ(r.rc, 0);
        run_free(&r);
        r = run((const char *[]){"--dump-config", NULL},
                (const char *[]){"CALLSIG_LIVEKIT_API_KEY=envkey",
                                 "CALLSIG_LIVEKIT_API_SECRET=" ENV_SECRET, NULL});
        TEST_INTEQ(r.rc, 0);
        HAS(r.out, "envkey");
        HAS(r.out, "localhost:9092"); /* the documented default */
        HAS(r.out, "push.{user}");
        LACKS(r.out, ENV_SECRET);
        run_free(&r);

        /* the environment wins over the file */
        r = run((const char *[]){"--config", good, "--dump-config", NULL},
                (const char *[]){"CALLSIG_SIGNAL_MAX_TIMEOUT=77",
                                 "CALLSIG_PUSH_TOPIC_TEMPLATE=u.{user}", NULL});
        TEST_INTEQ(r.rc, 0);
        HAS(r.out, "max_timeout: 77");
        LACKS(r.out, "max_timeout: 600");
        HAS(r.out, "u.{user}");
        run_free(&r);

        /* a bad value in the environment names the variable */
        r = run((const char *[]){"--config", good, "--check-config", NULL},
                (const char *[]){"CALLSIG_SIGNAL_MAX_TIMEOUT=abc", NULL});
        TEST_INTEQ(r.rc, 2);
        HAS(r.err, "CALLSIG_SIGNAL_MAX_TIMEOUT");
        run_free(&r);

        /* ---- what librdkafka and libmongoc refuse (the worker's start
         * refuses it too): exit 2 from --check-config, with file:line:col
         * of the value or the variable's name ---- */
#define LK_LINES "livekit:\n  api_key: mykey\n  api_secret: \"" GOOD_SECRET "\"\n"
        /* a value rd_kafka_conf_set() refuses */
        const char *badval = write_conf("badval.yaml", LK_LINES
                                        "kafka:\n"
                                        "  consumer:\n"
                                        "    fetch.wait.max.ms: abc\n");
        r = run((const char *[]){"--config", badval, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        snprintf(want, sizeof(want), "%s:6:24: kafka.consumer.fetch.wait.max.ms: ",
                 badval);
        HAS(r.err, want);
        LACKS(r.err, "configuration OK");
        run_free(&r);
        /* a property librdkafka does not know */
        const char *noprop = write_conf("noprop.yaml", LK_LINES
                                        "kafka.producer.no.such.property: 1\n");
        r = run((const char *[]){"--config", noprop, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        snprintf(want, sizeof(want), "%s:4:34: kafka.producer.no.such.property: ",
                 noprop);
        HAS(r.err, want);
        HAS(r.err, "No such configuration property");
        run_free(&r);
        /* a combination rd_kafka_new() refuses: acks=1 with callsig's
         * idempotent producer */
        const char *acks = write_conf("acks.yaml", LK_LINES
                                      "kafka:\n"
                                      "  brokers: \"127.0.0.1:1\"\n"
                                      "  producer:\n"
                                      "    linger.ms: 5\n"
                                      "    acks: 1\n");
        r = run((const char *[]){"--config", acks, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        snprintf(want, sizeof(want), "%s:8:11: kafka.producer.acks: ", acks);
        HAS(r.err, want);
        HAS(r.err, "enable.idempotence");
        run_free(&r);
        /* ... and one of the consumer */
        const char *fetch = write_conf("fetch.yaml", LK_LINES
                                       "kafka:\n"
                                       "  consumer:\n"
                                       "    fetch.max.bytes: 100\n");
        r = run((const char *[]){"--config", fetch, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        snprintf(want, sizeof(want), "%s:6:22: kafka.consumer.fetch.max.bytes: ",
                 fetch);
        HAS(r.err, want);
        run_free(&r);
        /* a malformed mongodb.uri; its password is never shown */
        const char *baduri = write_conf("baduri.yaml", LK_LINES
                                        "mongodb:\n"
                                        "  uri: \"mongodb://user:pa:ss-Secr3t@db:27017/\"\n");
        r = run((const char *[]){"--config", baduri, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        snprintf(want, sizeof(want), "%s:5:8: mongodb.uri: ", baduri);
        HAS(r.err, want);
        LACKS(r.err, "pa:ss-Secr3t");
        LACKS(r.err, "Secr3t");
        run_free(&r);
        const char *baduri2 = write_conf("baduri2.yaml", LK_LINES
                                         "mongodb:\n"
                                         "  uri: \"mongodb://db:27017/?serverSelectionTimeoutMS=abc\"\n");
        r = run((const char *[]){"--config", baduri2, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        snprintf(want, sizeof(want), "%s:5:8: mongodb.uri: ", baduri2);
        HAS(r.err, want);
        run_free(&r);
        /* ... from the environment: named by the variable */
        r = run((const char *[]){"--config", good, "--check-config", NULL},
                (const char *[]){"CALLSIG_MONGODB_URI=notmongo://db", NULL});
        TEST_INTEQ(r.rc, 2);
        HAS(r.err, "env CALLSIG_MONGODB_URI: mongodb.uri: ");
        run_free(&r);
        /* no false alarms: the pass-through properties the scenarios give
         * every worker, a secret one, and a well-formed URI with a
         * password pass, and nothing is connected to (nothing listens on
         * 127.0.0.1:1 or db.invalid) */
        const char *passes = write_conf("passes.yaml", LK_LINES
                                        "kafka:\n"
                                        "  brokers: \"127.0.0.1:1\"\n"
                                        "  consumer:\n"
                                        "    session.timeout.ms: 6000\n"
                                        "    heartbeat.interval.ms: 500\n"
                                        "    topic.metadata.refresh.interval.ms: 1000\n"
                                        "    auto.commit.interval.ms: 200\n"
                                        "    group.id: overridden\n"
                                        "  producer:\n"
                                        "    message.timeout.ms: 3000\n"
                                        "    sasl.password: \"hunter2-Secr3t\"\n"
                                        "mongodb:\n"
                                        "  uri: \"mongodb://user:Secr3t@db.invalid:27017/?replicaSet=rs0\"\n");
        r = run((const char *[]){"--config", passes, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        HAS(r.err, "configuration OK");
        LACKS(r.err, "Secr3t");
        run_free(&r);

        /* the KIP-848 consumer group protocol (Kafka 4.x) is a pass-through
         * choice; classic stays the default. Its broker-side session
         * timeout makes a classic-only property a refused combination. */
        const char *kip848 = write_conf("kip848.yaml", LK_LINES
                                        "kafka:\n"
                                        "  brokers: \"127.0.0.1:1\"\n"
                                        "  consumer:\n"
                                        "    group.protocol: consumer\n");
        r = run((const char *[]){"--config", kip848, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        run_free(&r);
        const char *kip848_bad = write_conf("kip848-bad.yaml", LK_LINES
                                            "kafka:\n"
                                            "  consumer:\n"
                                            "    group.protocol: consumer\n"
                                            "    session.timeout.ms: 6000\n");
        r = run((const char *[]){"--config", kip848_bad, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        HAS(r.err, "session.timeout.ms");
        HAS(r.err, "group.protocol=consumer");
        run_free(&r);

        /* --help, --version, unknown option */
        r = run((const char *[]){"--help", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        HAS(r.out, "usage");
        HAS(r.out, "--config");
        run_free(&r);
        r = run((const char *[]){"-h", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        run_free(&r);
        r = run((const char *[]){"--version", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        {
                /* "callsig 0.1.0 (librdkafka 2.15.1)": the librdkafka it
                 * runs, which must be the pinned one, never Debian's 2.0.2. */
                int major = 0, minor = 0, patch = 0, end = 0;
                TEST_ASSERT(sscanf(r.out, "callsig 0.1.0 (librdkafka %d.%d.%d)\n%n",
                                   &major, &minor, &patch, &end) == 3 &&
                                    end == (int)strlen(r.out),
                            "--version printed: %s", r.out);
                TEST_ASSERT(major > 2 || (major == 2 && minor >= 15),
                            "librdkafka %d.%d.%d is older than 2.15", major, minor,
                            patch);
        }
        run_free(&r);
        r = run((const char *[]){"--no-such-option", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        HAS(r.err, "--no-such-option");
        run_free(&r);
        r = run((const char *[]){"--config", NULL}, NULL); /* missing FILE */
        TEST_INTEQ(r.rc, 2);
        run_free(&r);

        /* a config file that does not exist */
        snprintf(want, sizeof(want), "%s/absent.yaml", dir);
        r = run((const char *[]){"--config", want, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 2);
        HAS(r.err, "absent.yaml");
        run_free(&r);

        /* ICE servers (contract section 11): a bad TURN or STUN URL and a
         * short TURN secret are refused with file:line:col, exit 2, the
         * secret never shown; TURN URLs need the secret; a good set runs. */
        static const struct {
                const char *yaml, *pos, *needle;
        } ice_bad[] = {
                {"turn:\n  urls: [\"turn:turn.example.com:3478?transport=sctp\"]\n"
                 "  secret: sixteen-bytes-ok\n",
                 ":5:10", "transport=udp or ?transport=tcp"},
                {"turn:\n  urls:\n    - \"turn:a:3478\"\n    - \"turns:b:70000\"\n"
                 "  secret: sixteen-bytes-ok\n",
                 ":7:7", "port must be 1 to 65535"},
                {"stun:\n  urls: \"https://stun.example.com\"\n", ":5:9",
                 "must start with stun:, turn: or turns:"},
                {"turn:\n  urls: [\"turn:a\"]\n  secret: \"fifteen-bytes!!\"\n", ":6:11",
                 "turn.secret: must be at least 16 bytes (got 15)"},
                {"turn:\n  urls: [\"turn:a\"]\n", ":5:9",
                 "turn.secret: required when turn.urls is set"},
        };
        for (size_t i = 0; i < sizeof(ice_bad) / sizeof(ice_bad[0]); i++) {
                char text[1024], name[32];
                snprintf(text, sizeof(text),
                         "livekit:\n  api_key: mykey\n  api_secret: \"" GOOD_SECRET
                         "\"\n%s", ice_bad[i].yaml);
                snprintf(name, sizeof(name), "ice%zu.yaml", i);
                const char *path = write_conf(name, text);
                r = run((const char *[]){"--config", path, "--check-config", NULL}, NULL);
                TEST_INTEQ(r.rc, 2);
                snprintf(want, sizeof(want), "%s%s", path, ice_bad[i].pos);
                HAS(r.err, want);
                HAS(r.err, ice_bad[i].needle);
                LACKS(r.err, "fifteen-bytes");
                run_free(&r);
        }
        const char *ice_good = write_conf(
                "ice-good.yaml",
                "livekit:\n  api_key: mykey\n  api_secret: \"" GOOD_SECRET "\"\n"
                "stun:\n  urls: [\"stun:127.0.0.1:3478\"]\n"
                "turn:\n  urls: [\"turn:127.0.0.1:3478?transport=udp\", \"turns:[::1]:5349\"]\n"
                "  secret: sixteen-bytes-ok\n");
        r = run((const char *[]){"--config", ice_good, "--check-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        run_free(&r);
        r = run((const char *[]){"--config", ice_good, "--dump-config", NULL}, NULL);
        TEST_INTEQ(r.rc, 0);
        HAS(r.out, "turn:127.0.0.1:3478?transport=udp,turns:[::1]:5349");
        LACKS(r.out, "sixteen-bytes-ok");
        run_free(&r);

        if (!getenv("CALLSIG_TEST_KEEP")) {
                char cmd[400];
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
                if (system(cmd) != 0)
                        TEST_SAY("could not remove %s", dir);
        }
        return test_done();
}
