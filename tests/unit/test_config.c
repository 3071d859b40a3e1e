/*
 * test_config.c: unit tests of the configuration module (src/config.c).
 *
 * YAML fixtures are written to temporary files (mkstemp) so each case sits
 * next to its assertions; error texts are compared exactly, file:line:col
 * included. The reference case compares cs_config_write_reference() with
 * docs/CONFIGURATION.md under $CALLSIG_SOURCE_DIR byte for byte; run with
 * CALLSIG_TEST_REGEN_DOCS=1 to rewrite that file (and the example check
 * reads config/callsig.example.yaml from the same tree).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

TEST_MAIN_DEFS

#define SECRET "0123456789abcdef0123456789abcdef-s3cr3t"

static char tmp_paths[256][64];
static size_t tmp_cnt;

/* Writes @p text to a new temporary file. @returns its path (static). */
static const char *tmp_yaml(const char *text) {
        char *path;
        int fd;
        size_t len = strlen(text);

        TEST_ASSERT(tmp_cnt < CS_ARRAY_SIZE(tmp_paths), "too many temp files");
        path = tmp_paths[tmp_cnt++];
        snprintf(path, sizeof(tmp_paths[0]), "/tmp/callsig-cfg-XXXXXX");
        fd = mkstemp(path);
        TEST_ASSERT(fd >= 0, "mkstemp: %s", strerror(errno));
        TEST_ASSERT(write(fd, text, len) == (ssize_t)len, "write failed");
        close(fd);
        return path;
}

static void tmp_cleanup(void) {
        for (size_t i = 0; i < tmp_cnt; i++)
                unlink(tmp_paths[i]);
}

/* Reads a whole file into a malloc'ed string, or NULL. */
static char *slurp(const char *path, size_t *lenp) {
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;
        size_t len = 0, size = 0, n;

        if (!fp)
                return NULL;
        do {
                if (len == size) {
                        size = size ? size * 2 : 4096;
                        buf = realloc(buf, size + 1);
                        TEST_ASSERT(buf, "out of memory");
                }
                n = fread(buf + len, 1, size - len, fp);
                len += n;
        } while (n > 0);
        fclose(fp);
        buf[len] = '\0';
        if (lenp)
                *lenp = len;
        return buf;
}

/* Captures what @p fn writes for @p conf. Caller frees. */
static char *capture(void (*fn)(const cs_config_t *, FILE *),
                     void (*fn0)(FILE *), const cs_config_t *conf) {
        char *buf = NULL;
        size_t size = 0;
        FILE *fp = open_memstream(&buf, &size);

        TEST_ASSERT(fp, "open_memstream failed");
        if (fn)
                fn(conf, fp);
        else
                fn0(fp);
        fclose(fp);
        return buf;
}

static char *dump(const cs_config_t *conf) {
        return capture(cs_config_dump, NULL, conf);
}

static cs_config_t *load_ok(const char *text) {
        cs_config_t *conf = cs_config_new();
        char errstr[512] = "";
        const char *path = tmp_yaml(text);

        if (cs_config_load_file(conf, path, errstr, sizeof(errstr)) != 0)
                TEST_FAIL("unexpected load error: %s\n--- yaml:\n%s", errstr,
                          text);
        test_passed++;
        return conf;
}

/* Loads @p text and expects the error "<path>:<expect>". */
static void load_err(const char *text, const char *expect) {
        cs_config_t *conf = cs_config_new();
        char errstr[512] = "", want[600];
        const char *path = tmp_yaml(text);
        char *before = dump(conf), *after;

        snprintf(want, sizeof(want), "%s:%s", path, expect);
        TEST_ASSERT(cs_config_load_file(conf, path, errstr, sizeof(errstr)) ==
                            -1,
                    "load should fail: %s\n--- yaml:\n%s", want, text);
        if (strcmp(errstr, want))
                TEST_FAIL("error text\n got: %s\nwant: %s\n--- yaml:\n%s",
                          errstr, want, text);
        test_passed++;
        /* A failed load changes nothing. */
        after = dump(conf);
        TEST_STREQ(after, before);
        free(before);
        free(after);
        cs_config_destroy(conf);
}

static void env_err(char *const *envp, const char *expect) {
        cs_config_t *conf = cs_config_new();
        char errstr[512] = "";
        char *before = dump(conf), *after;

        TEST_ASSERT(cs_config_apply_env(conf, envp, errstr, sizeof(errstr)) ==
                            -1,
                    "env should fail: %s", expect);
        TEST_STREQ(errstr, expect);
        after = dump(conf);
        TEST_STREQ(after, before);
        free(before);
        free(after);
        cs_config_destroy(conf);
}

static void set_livekit(cs_config_t *conf, const char *key,
                        const char *secret) {
        free(conf->livekit_api_key);
        free(conf->livekit_api_secret);
        conf->livekit_api_key = key ? strdup(key) : NULL;
        conf->livekit_api_secret = secret ? strdup(secret) : NULL;
}

static void validate_err(cs_config_t *conf, const char *expect) {
        char errstr[512] = "";

        TEST_ASSERT(cs_config_validate(conf, errstr, sizeof(errstr)) == -1,
                    "validate should fail: %s", expect);
        TEST_STREQ(errstr, expect);
}

static void validate_ok(const cs_config_t *conf) {
        char errstr[512] = "";

        if (cs_config_validate(conf, errstr, sizeof(errstr)) != 0)
                TEST_FAIL("unexpected validate error: %s", errstr);
        test_passed++;
}

static const char *prop_get(const cs_config_prop_t *props, size_t cnt,
                            const char *name) {
        for (size_t i = 0; i < cnt; i++)
                if (!strcmp(props[i].name, name))
                        return props[i].value;
        return NULL;
}


static void test_defaults(void) {
        cs_config_t *conf = cs_config_new();

        TEST_STREQ(conf->kafka_brokers, "localhost:9092");
        TEST_STREQ(conf->kafka_group_id, "callsig");
        TEST_STREQ(conf->topic_commands, "signal.commands");
        TEST_STREQ(conf->topic_dlq, "signal.dlq");
        TEST_INTEQ(conf->push_mode, CS_PUSH_PER_USER);
        TEST_STREQ(conf->push_topic_template, "push.{user}");
        TEST_STREQ(conf->push_topic, "push");
        TEST_STREQ(conf->mongodb_uri, "mongodb://localhost:27017");
        TEST_STREQ(conf->mongodb_database, "callsig");
        TEST_STREQ(conf->livekit_url, "ws://localhost:7880");
        TEST_ASSERT(conf->livekit_api_key == NULL, "api_key has no default");
        TEST_ASSERT(conf->livekit_api_secret == NULL,
                    "api_secret has no default");
        TEST_INTEQ(conf->livekit_token_ttl, 3600);
        TEST_INTEQ(conf->signal_default_timeout, 35);
        TEST_INTEQ(conf->signal_max_timeout, 600);
        TEST_INTEQ(conf->signal_max_invitees, 64);
        TEST_INTEQ(conf->signal_timer_interval_ms, 500);
        TEST_INTEQ(conf->signal_operation_retention, 604800);
        TEST_INTEQ(conf->store_retry_max_backoff_ms, 5000);
        TEST_STREQ(conf->log_level, "info");
        TEST_INTEQ(conf->consumer_prop_cnt, 0);
        TEST_INTEQ(conf->producer_prop_cnt, 0);

        validate_err(conf, "livekit.api_key: required (set it in the file or "
                           "with CALLSIG_LIVEKIT_API_KEY)");
        set_livekit(conf, "devkey", NULL);
        validate_err(conf, "livekit.api_secret: required (set it in the file "
                           "or with CALLSIG_LIVEKIT_API_SECRET)");
        set_livekit(conf, "devkey", SECRET);
        validate_ok(conf);
        cs_config_destroy(conf);
        cs_config_destroy(NULL);
}

static void test_empty_files(void) {
        static const char *const texts[] = {
                "", "# only a comment\n\n", "---\n", "---\n...\n", "~\n",
                /* Sections left empty keep the defaults. */
                "kafka:\nsignal:\n  # max_timeout: 5\nkafka.consumer:\n",
        };
        cs_config_t *def = cs_config_new();
        char *want = dump(def);

        for (size_t i = 0; i < CS_ARRAY_SIZE(texts); i++) {
                cs_config_t *conf = load_ok(texts[i]);
                char *got = dump(conf);
                TEST_STREQ(got, want);
                free(got);
                cs_config_destroy(conf);
        }
        free(want);
        cs_config_destroy(def);
}

static void test_nested_and_flat(void) {
        const char *nested = "kafka:\n"
                             "  brokers: b1:9092,b2:9092\n"
                             "  group_id: g1\n"
                             "topics:\n"
                             "  commands: in.cmd\n"
                             "  dlq: \"in.dlq\"\n"
                             "push:\n"
                             "  mode: keyed\n"
                             "  topic: 'pushes'\n"
                             "  topic_template: p-{user}-x\n"
                             "mongodb:\n"
                             "  uri: mongodb://db:27017/?replicaSet=rs0\n"
                             "  database: calls\n"
                             "  retry_max_backoff_ms: 100\n"
                             "livekit:\n"
                             "  url: wss://lk.example.com\n"
                             "  api_key: APIkey\n"
                             "  api_secret: " SECRET "\n"
                             "  token_ttl: 86400\n"
                             "signal:\n"
                             "  default_timeout: 1\n"
                             "  max_timeout: 86400\n"
                             "  max_invitees: 1000\n"
                             "  timer_interval_ms: 50\n"
                             "  operation_retention: 31536000\n"
                             "log:\n"
                             "  level: debug\n";
        const char *flat = "kafka.brokers: b1:9092,b2:9092\n"
                           "kafka.group_id: g1\n"
                           "topics.commands: in.cmd\n"
                           "topics.dlq: in.dlq\n"
                           "push.mode: keyed\n"
                           "push.topic: pushes\n"
                           "push.topic_template: p-{user}-x\n"
                           "mongodb.uri: mongodb://db:27017/?replicaSet=rs0\n"
                           "mongodb.database: calls\n"
                           "mongodb.retry_max_backoff_ms: 100\n"
                           "livekit.url: wss://lk.example.com\n"
                           "livekit.api_key: APIkey\n"
                           "livekit.api_secret: " SECRET "\n"
                           "livekit.token_ttl: 86400\n"
                           "signal.default_timeout: 1\n"
                           "signal.max_timeout: 86400\n"
                           "signal.max_invitees: 1000\n"
                           "signal.timer_interval_ms: 50\n"
                           "signal.operation_retention: 31536000\n"
                           "log.level: debug\n";
        /* Both forms mixed, flow style, dotted keys inside a mapping. */
        const char *mixed = "kafka: {brokers: \"b1:9092,b2:9092\", "
                            "group_id: g1}\n"
                            "topics.commands: in.cmd\n"
                            "topics:\n"
                            "  dlq: in.dlq\n"
                            "push: {mode: keyed, topic: pushes, "
                            "topic_template: \"p-{user}-x\"}\n"
                            "mongodb:\n"
                            "  uri: mongodb://db:27017/?replicaSet=rs0\n"
                            "  database: calls\n"
                            "mongodb.retry_max_backoff_ms: 100\n"
                            "livekit: {url: wss://lk.example.com, "
                            "api_key: APIkey, api_secret: " SECRET ", "
                            "token_ttl: 86400}\n"
                            "signal:\n"
                            "  default_timeout: 1\n"
                            "  max_timeout: 86400\n"
                            "  max_invitees: 1000\n"
                            "  timer_interval_ms: 50\n"
                            "  operation_retention: 31536000\n"
                            "log.level: debug\n";
        const char *const texts[] = {nested, flat, mixed};
        char *first = NULL;

        for (size_t i = 0; i < CS_ARRAY_SIZE(texts); i++) {
                cs_config_t *conf = load_ok(texts[i]);
                char *got;

                TEST_STREQ(conf->kafka_brokers, "b1:9092,b2:9092");
                TEST_STREQ(conf->kafka_group_id, "g1");
                TEST_STREQ(conf->topic_commands, "in.cmd");
                TEST_STREQ(conf->topic_dlq, "in.dlq");
                TEST_INTEQ(conf->push_mode, CS_PUSH_KEYED);
                TEST_STREQ(conf->push_topic, "pushes");
                TEST_STREQ(conf->push_topic_template, "p-{user}-x");
                TEST_STREQ(conf->mongodb_uri,
                           "mongodb://db:27017/?replicaSet=rs0");
                TEST_STREQ(conf->mongodb_database, "calls");
                TEST_INTEQ(conf->store_retry_max_backoff_ms, 100);
                TEST_STREQ(conf->livekit_url, "wss://lk.example.com");
                TEST_STREQ(conf->livekit_api_key, "APIkey");
                TEST_STREQ(conf->livekit_api_secret, SECRET);
                TEST_INTEQ(conf->livekit_token_ttl, 86400);
                TEST_INTEQ(conf->signal_default_timeout, 1);
                TEST_INTEQ(conf->signal_max_timeout, 86400);
                TEST_INTEQ(conf->signal_max_invitees, 1000);
                TEST_INTEQ(conf->signal_timer_interval_ms, 50);
                TEST_INTEQ(conf->signal_operation_retention, 31536000);
                TEST_STREQ(conf->log_level, "debug");
                validate_ok(conf);

                got = dump(conf);
                if (first)
                        TEST_STREQ(got, first);
                free(first);
                first = got;
                cs_config_destroy(conf);
        }
        free(first);
}

static void test_partial_keeps_values(void) {
        cs_config_t *conf = cs_config_new();
        char errstr[512] = "";
        const char *a = tmp_yaml("signal:\n  max_timeout: 90\n");
        const char *b = tmp_yaml("signal.max_invitees: 3\n"
                                 "push.topic_template: x.{user}\n");

        TEST_INTEQ(cs_config_load_file(conf, a, errstr, sizeof(errstr)), 0);
        TEST_INTEQ(cs_config_load_file(conf, b, errstr, sizeof(errstr)), 0);
        TEST_INTEQ(conf->signal_max_timeout, 90);
        TEST_INTEQ(conf->signal_max_invitees, 3);
        TEST_INTEQ(conf->signal_default_timeout, 35);
        TEST_STREQ(conf->push_topic_template, "x.{user}");
        TEST_STREQ(conf->kafka_brokers, "localhost:9092");
        cs_config_destroy(conf);
}

static void test_file_errors(void) {
        cs_config_t *conf = cs_config_new();
        char errstr[512] = "";

        /* Keys. */
        load_err("kafka:\n"
                 "  group_id: g\n"
                 "  brokrs: x\n",
                 "3:3: kafka.brokrs: unknown key");
        load_err("kafka.brokrs: x\n", "1:1: kafka.brokrs: unknown key");
        load_err("bogus:\n  a: 1\n", "1:1: bogus: unknown key");
        load_err("signal: {max_timeout: 5, nope: 1}\n",
                 "1:26: signal.nope: unknown key");
        load_err("kafka:\n  brokers: a\nkafka.brokers: b\n",
                 "3:1: kafka.brokers: duplicate key (first at 2:3)");
        load_err("signal:\n  max_timeout: 5\nsignal:\n  max_invitees: 2\n",
                 "3:1: signal: duplicate key (first at 1:1)");
        load_err("kafka.consumer.a.b: 1\nkafka:\n  consumer:\n    a:\n"
                 "      b: 2\n",
                 "5:7: kafka.consumer.a.b: duplicate key (first at 1:1)");
        load_err("kafka:\n  consumer:\n    a: 1\n  consumer:\n    b: 2\n",
                 "4:3: kafka.consumer: duplicate key (first at 2:3)");
        load_err("kafka:\n  consumer:\n  consumer:\n",
                 "3:3: kafka.consumer: duplicate key (first at 2:3)");
        load_err("kafka..brokers: x\n",
                 "1:1: kafka..brokers: invalid key (empty part)");
        load_err("kafka:\n  .brokers: x\n",
                 "2:3: kafka..brokers: invalid key (empty part)");
        load_err("? [a, b]\n: x\n", "1:3: keys must be scalars");

        /* Shapes. */
        load_err("kafka:\n  brokers:\n    - a\n    - b\n",
                 "3:5: kafka.brokers: sequences are not supported");
        load_err("kafka:\n  brokers: [a, b]\n",
                 "2:12: kafka.brokers: sequences are not supported");
        load_err("x: &a one\nkafka:\n  brokers: *a\n",
                 "1:1: x: unknown key");
        load_err("kafka:\n  group_id: &a one\n  brokers: *a\n",
                 "3:12: kafka.brokers: aliases are not supported");
        load_err("kafka:\n  brokers:\n    host: a\n",
                 "3:5: kafka.brokers: expected a scalar value, got a "
                 "mapping");
        load_err("kafka: localhost\n",
                 "1:8: kafka: expected a mapping of keys, got a scalar");
        load_err("kafka:\n  consumer: 5\n",
                 "2:13: kafka.consumer: expected a mapping of keys, got a "
                 "scalar");
        load_err("- a\n- b\n", "1:1: the top level must be a mapping of keys");
        load_err("just text\n",
                 "1:1: the top level must be a mapping of keys");
        load_err("log.level: info\n---\nlog.level: debug\n",
                 "2:1: only one YAML document is allowed");

        /* Values. */
        load_err("signal:\n"
                 "  # a comment\n"
                 "  default_timeout: 30\n"
                 "\n"
                 "\n"
                 "\n"
                 "  max_timeout:      abc\n",
                 "7:21: signal.max_timeout: \"abc\" is not an integer");
        load_err("signal:\n  max_timeout: 0\n",
                 "2:16: signal.max_timeout: 0 is out of range [1, 86400]");
        load_err("signal:\n  max_timeout: 86401\n",
                 "2:16: signal.max_timeout: 86401 is out of range [1, 86400]");
        load_err("signal.max_timeout: -5\n",
                 "1:21: signal.max_timeout: -5 is out of range [1, 86400]");
        load_err("signal.max_timeout: 99999999999999999999\n",
                 "1:21: signal.max_timeout: 99999999999999999999 is out of "
                 "range [1, 86400]");
        load_err("signal.max_timeout: 60s\n",
                 "1:21: signal.max_timeout: \"60s\" is not an integer");
        load_err("signal.max_timeout: 0x10\n",
                 "1:21: signal.max_timeout: \"0x10\" is not an integer");
        load_err("signal.max_timeout: 010\n",
                 "1:21: signal.max_timeout: \"010\" is not an integer");
        load_err("signal.max_timeout: +10\n",
                 "1:21: signal.max_timeout: \"+10\" is not an integer");
        load_err("signal.max_timeout: 1.5\n",
                 "1:21: signal.max_timeout: \"1.5\" is not an integer");
        load_err("signal.max_timeout: \" 10\"\n",
                 "1:21: signal.max_timeout: \" 10\" is not an integer");
        load_err("signal.max_timeout:\n",
                 "1:20: signal.max_timeout: empty value");
        load_err("kafka.brokers: \"\"\n", "1:16: kafka.brokers: empty value");
        load_err("push:\n  mode: per-user\n",
                 "2:9: push.mode: \"per-user\" must be one of per_user, "
                 "keyed");
        load_err("log.level: verbose\n",
                 "1:12: log.level: \"verbose\" must be one of error, warn, "
                 "info, debug");
        load_err("topics.dlq: \"bad topic\"\n",
                 "1:13: topics.dlq: \"bad topic\" is not a valid topic name "
                 "(1 to 249 bytes of A-Z a-z 0-9 . _ -)");
        load_err("topics.commands: ..\n",
                 "1:18: topics.commands: \"..\" is not a valid topic name "
                 "(1 to 249 bytes of A-Z a-z 0-9 . _ -)");
        load_err("push.topic_template: push.user\n",
                 "1:22: push.topic_template: \"push.user\" must contain "
                 "{user} exactly once");
        load_err("push.topic_template: \"{user}.{user}\"\n",
                 "1:22: push.topic_template: \"{user}.{user}\" must contain "
                 "{user} exactly once");
        load_err("push.topic_template: push/{user}\n",
                 "1:22: push.topic_template: \"push/{user}\" may only hold "
                 "A-Z a-z 0-9 . _ - besides {user}");
        load_err("kafka.brokers: \"a\\0b\"\n",
                 "1:16: kafka.brokers: value contains a NUL byte");
        load_err("kafka.consumer.x:\n", "1:18: kafka.consumer.x: empty value");

        /* YAML syntax: libyaml's mark and problem. */
        load_err("kafka:\n  brokers: a\n bad\n",
                 "3:2: did not find expected key (while parsing a block "
                 "mapping)");
        load_err("kafka.brokers: b: c\n",
                 "1:17: mapping values are not allowed in this context");
        load_err("kafka:\n  brokers: \"abc\n",
                 "3:1: found unexpected end of stream (while scanning a "
                 "quoted scalar)");
        load_err("kafka: {brokers: a\n",
                 "2:1: did not find expected ',' or '}' (while parsing a "
                 "flow mapping)");
        load_err("kafka:\n\tbrokers: a\n",
                 "2:1: found character that cannot start any token (while "
                 "scanning for the next token)");
        load_err("a: \xff\n", " invalid leading UTF-8 octet at byte 3");

        /* Caps. */
        load_err("kafka.consumer.a:\n b:\n  c:\n   d:\n    e:\n     f:\n"
                 "      g:\n       h:\n        i:\n         j:\n"
                 "          k:\n           l:\n            m:\n"
                 "             n:\n              o:\n               p:\n"
                 "                q: 1\n",
                 "17:17: kafka.consumer.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p: "
                 "nested too deep (max 16)");
        {
                char text[70000];
                memcpy(text, "kafka.brokers: ", 15);
                memset(text + 15, 'x', 65537);
                memcpy(text + 15 + 65537, "\n", 2);
                load_err(text, "1:16: kafka.brokers: value too long (max "
                               "65536 bytes)");
                memcpy(text, "kafka.consumer.", 15);
                memset(text + 15, 'x', 250);
                memcpy(text + 15 + 250, ": 1\n", 5);
                load_err(text, "1:1: key too long (max 255 bytes)");
        }

        /* Files. */
        TEST_INTEQ(cs_config_load_file(conf, "/nonexistent/callsig.yaml",
                                       errstr, sizeof(errstr)),
                   -1);
        TEST_STREQ(errstr,
                   "/nonexistent/callsig.yaml: No such file or directory");
        TEST_INTEQ(cs_config_load_file(conf, "/tmp", errstr, sizeof(errstr)),
                   -1);
        TEST_STREQ(errstr, "/tmp: Is a directory");
        /* A tiny errstr is truncated, never overrun; NULL is accepted. */
        {
                char small[8];
                TEST_INTEQ(cs_config_load_file(conf, "/nonexistent", small,
                                               sizeof(small)),
                           -1);
                TEST_STREQ(small, "/nonexi");
                TEST_INTEQ(cs_config_load_file(conf, "/nonexistent", NULL, 0),
                           -1);
        }
        cs_config_destroy(conf);
}

static void test_big_file(void) {
        size_t size = 1024 * 1024 + 100;
        char *text = malloc(size + 1);

        TEST_ASSERT(text, "out of memory");
        memset(text, '#', size);
        text[size] = '\0';
        load_err(text, " larger than 1048576 bytes");
        free(text);
}

static void test_env(void) {
        cs_config_t *conf;
        char errstr[512] = "";
        char *envp[] = {
                "PATH=/usr/bin",
                "CALLSIG_SIGNAL_MAX_TIMEOUT=120",
                "CALLSIG_PUSH_TOPIC_TEMPLATE=env.{user}",
                "CALLSIG_LIVEKIT_API_SECRET=" SECRET,
                "CALLSIG_LIVEKIT_API_KEY=envkey",
                "CALLSIG_PUSH_MODE=keyed",
                "CALLSIG_LOG_LEVEL=warn",
                "CALLSIG_MONGODB_RETRY_MAX_BACKOFF_MS=250",
                "CALLSIG_CONFIG=/etc/callsig.yaml",
                "CALLSIG_TEST_ANYTHING=1",
                "CALLSIG_TEST_=1",
                "CALLSIG_SIGNAL_MAX_TIMEOUT=999", /* first one wins */
                "NOEQUALS",
                NULL,
        };

        conf = load_ok("signal:\n  max_timeout: 90\n  max_invitees: 7\n"
                       "push.topic_template: file.{user}\n"
                       "livekit.api_key: filekey\n");
        TEST_INTEQ(cs_config_apply_env(conf, envp, errstr, sizeof(errstr)),
                   0);
        TEST_INTEQ(conf->signal_max_timeout, 120);
        TEST_INTEQ(conf->signal_max_invitees, 7);
        TEST_STREQ(conf->push_topic_template, "env.{user}");
        TEST_STREQ(conf->livekit_api_key, "envkey");
        TEST_STREQ(conf->livekit_api_secret, SECRET);
        TEST_INTEQ(conf->push_mode, CS_PUSH_KEYED);
        TEST_STREQ(conf->log_level, "warn");
        TEST_INTEQ(conf->store_retry_max_backoff_ms, 250);
        validate_ok(conf);
        /* NULL and empty environments are no-ops. */
        TEST_INTEQ(cs_config_apply_env(conf, NULL, errstr, sizeof(errstr)), 0);
        cs_config_destroy(conf);

        {
                char *e[] = {"CALLSIG_BROKERS=x", NULL};
                env_err(e, "env CALLSIG_BROKERS: unknown configuration "
                           "variable");
        }
        {
                char *e[] = {"CALLSIG_KAFKA_BROKERS=ok:1", "CALLSIG_=x", NULL};
                env_err(e, "env CALLSIG_: unknown configuration variable");
        }
        {
                char *e[] = {"CALLSIG_CONFIGX=1", NULL};
                env_err(e, "env CALLSIG_CONFIGX: unknown configuration "
                           "variable");
        }
        {
                /* Lower case is not folded. */
                char *e[] = {"CALLSIG_kafka_brokers=x", NULL};
                env_err(e, "env CALLSIG_kafka_brokers: unknown configuration "
                           "variable");
        }
        {
                char *e[] = {"CALLSIG_KAFKA_CONSUMER_SESSION_TIMEOUT_MS=1",
                             NULL};
                env_err(e, "env CALLSIG_KAFKA_CONSUMER_SESSION_TIMEOUT_MS: "
                           "unknown configuration variable (kafka.consumer.* "
                           "and kafka.producer.* can only be set in the "
                           "file)");
        }
        {
                char *e[] = {"CALLSIG_KAFKA_BROKERS=ok:1",
                             "CALLSIG_SIGNAL_MAX_TIMEOUT=abc", NULL};
                env_err(e, "env CALLSIG_SIGNAL_MAX_TIMEOUT: \"abc\" is not "
                           "an integer");
        }
        {
                char *e[] = {"CALLSIG_SIGNAL_MAX_TIMEOUT=86401", NULL};
                env_err(e, "env CALLSIG_SIGNAL_MAX_TIMEOUT: 86401 is out of "
                           "range [1, 86400]");
        }
        {
                char *e[] = {"CALLSIG_PUSH_MODE=both", NULL};
                env_err(e, "env CALLSIG_PUSH_MODE: \"both\" must be one of "
                           "per_user, keyed");
        }
        {
                char *e[] = {"CALLSIG_KAFKA_GROUP_ID=", NULL};
                env_err(e, "env CALLSIG_KAFKA_GROUP_ID: empty value");
        }
        {
                char *e[] = {"CALLSIG_TOPICS_DLQ=a/b", NULL};
                env_err(e, "env CALLSIG_TOPICS_DLQ: \"a/b\" is not a valid "
                           "topic name (1 to 249 bytes of A-Z a-z 0-9 . _ -)");
        }
}

static void test_validate(void) {
        cs_config_t *conf = cs_config_new();
        char errstr[512] = "";
        const char *shortsecret = "tooshort-but-secret-value";

        set_livekit(conf, "key", shortsecret);
        TEST_INTEQ(cs_config_validate(conf, errstr, sizeof(errstr)), -1);
        TEST_STREQ(errstr,
                   "livekit.api_secret: must be at least 32 bytes (got 25)");
        TEST_ASSERT(!strstr(errstr, shortsecret), "secret leaked");
        /* 31 and 32 bytes. */
        set_livekit(conf, "key", "0123456789012345678901234567890");
        validate_err(conf,
                     "livekit.api_secret: must be at least 32 bytes (got 31)");
        set_livekit(conf, "key", "01234567890123456789012345678901");
        validate_ok(conf);
        set_livekit(conf, "", "01234567890123456789012345678901");
        validate_err(conf, "livekit.api_key: empty value");
        set_livekit(conf, "key", "");
        validate_err(conf, "livekit.api_secret: empty value");
        set_livekit(conf, "key", SECRET);

        conf->signal_default_timeout = 601;
        validate_err(conf, "signal.default_timeout: 601 is greater than "
                           "signal.max_timeout (600)");
        conf->signal_max_timeout = 601;
        validate_ok(conf);
        conf->signal_max_invitees = 0;
        validate_err(conf, "signal.max_invitees: 0 is out of range [1, 1000]");
        conf->signal_max_invitees = 64;
        /* Created push topics: -1 is the broker's default, 0 is nothing. */
        TEST_INTEQ(conf->push_topic_partitions, 1);
        TEST_INTEQ(conf->push_topic_replication, -1);
        TEST_INTEQ(conf->push_topic_create_timeout_ms, 1000);
        conf->push_topic_partitions = 0;
        validate_err(conf, "push.topic_partitions: 0 is not allowed (-1: the "
                           "broker's default)");
        conf->push_topic_partitions = -1;
        conf->push_topic_replication = 0;
        validate_err(conf, "push.topic_replication: 0 is not allowed (-1: the "
                           "broker's default)");
        conf->push_topic_replication = 3;
        validate_ok(conf);
        conf->push_topic_partitions = -2;
        validate_err(conf, "push.topic_partitions: -2 is out of range [-1, 100000]");
        conf->push_topic_partitions = 1;
        conf->push_topic_replication = -1;
        conf->push_mode = (cs_push_mode_t)7;
        validate_err(conf, "push.mode: invalid value 7");
        {
                char *out = dump(conf);
                TEST_ASSERT(strstr(out, "  mode: 7 # invalid\n"), "%s", out);
                free(out);
        }
        conf->push_mode = CS_PUSH_PER_USER;
        free(conf->log_level);
        conf->log_level = strdup("loud");
        validate_err(conf, "log.level: \"loud\" must be one of error, warn, "
                           "info, debug");
        free(conf->log_level);
        conf->log_level = strdup("error");
        validate_ok(conf);

        free(conf->push_topic_template);
        conf->push_topic_template = strdup("push.{user}.{user}");
        validate_err(conf, "push.topic_template: \"push.{user}.{user}\" must "
                           "contain {user} exactly once");
        free(conf->push_topic_template);
        conf->push_topic_template = strdup("push {user}");
        validate_err(conf, "push.topic_template: \"push {user}\" may only "
                           "hold A-Z a-z 0-9 . _ - besides {user}");
        free(conf->push_topic_template);
        {
                /* 243 bytes + {user}: the user gets at most 6 bytes. */
                char tmpl[300];
                memset(tmpl, 'a', 243);
                memcpy(tmpl + 243, "{user}", 7);
                conf->push_topic_template = strdup(tmpl);
                validate_ok(conf);
                free(conf->push_topic_template);
                memset(tmpl, 'a', 249);
                memcpy(tmpl + 249, "{user}", 7);
                conf->push_topic_template = strdup(tmpl);
                TEST_INTEQ(cs_config_validate(conf, errstr, sizeof(errstr)),
                           -1);
                TEST_ASSERT(strstr(errstr, "is too long for a topic name"),
                            "%s", errstr);
                free(conf->push_topic_template);
        }

        /* Push topics never hit the input or the dead-letter topic. */
        conf->push_topic_template = strdup("signal.{user}");
        validate_err(conf, "push.topic_template: some userIDs would get "
                           "topics.commands or topics.dlq as their push "
                           "topic");
        free(conf->push_topic_template);
        conf->push_topic_template = strdup("{user}.dlq");
        validate_err(conf, "push.topic_template: some userIDs would get "
                           "topics.commands or topics.dlq as their push "
                           "topic");
        /* "_2e" is never produced: '.' is written as itself. */
        free(conf->topic_dlq);
        conf->topic_dlq = strdup("signal_2edlq");
        validate_ok(conf);
        /* "_2f" is what "/" becomes. */
        free(conf->topic_dlq);
        conf->topic_dlq = strdup("signal_2fdlq.dlq");
        TEST_INTEQ(cs_config_validate(conf, errstr, sizeof(errstr)), -1);
        /* Keyed mode ignores the template, but checks push.topic. */
        conf->push_mode = CS_PUSH_KEYED;
        validate_ok(conf);
        free(conf->push_topic);
        conf->push_topic = strdup("signal.commands");
        validate_err(conf, "push.topic: must differ from topics.commands and "
                           "topics.dlq");
        free(conf->push_topic);
        conf->push_topic = strdup("push");
        free(conf->topic_dlq);
        conf->topic_dlq = strdup("signal.commands");
        validate_err(conf, "topics.dlq: must differ from topics.commands");
        free(conf->topic_dlq);
        conf->topic_dlq = strdup("signal.dlq");
        free(conf->topic_commands);
        conf->topic_commands = strdup("");
        validate_err(conf, "topics.commands: empty value");
        cs_config_destroy(conf);
}

static void test_passthrough(void) {
        cs_config_t *conf;
        char errstr[512] = "";
        const char *more;

        conf = load_ok("kafka:\n"
                       "  brokers: b:9092\n"
                       "  consumer:\n"
                       "    session.timeout.ms: 45000\n"
                       "    enable:\n"
                       "      auto.commit: false\n"
                       "    fetch: {wait: {max.ms: 100}}\n"
                       "  producer:\n"
                       "    linger.ms: 5\n"
                       "    sasl.password: hunter2-pass\n"
                       "kafka.consumer.client.id: \"c 1\"\n"
                       "kafka.producer:\n"
                       "  ssl.key.password: hunter3-pass\n");
        TEST_INTEQ(conf->consumer_prop_cnt, 4);
        TEST_STREQ(conf->consumer_props[0].name, "session.timeout.ms");
        TEST_STREQ(conf->consumer_props[0].value, "45000");
        TEST_STREQ(conf->consumer_props[1].name, "enable.auto.commit");
        TEST_STREQ(conf->consumer_props[1].value, "false");
        TEST_STREQ(conf->consumer_props[2].name, "fetch.wait.max.ms");
        TEST_STREQ(conf->consumer_props[2].value, "100");
        TEST_STREQ(conf->consumer_props[3].name, "client.id");
        TEST_STREQ(conf->consumer_props[3].value, "c 1");
        TEST_INTEQ(conf->producer_prop_cnt, 3);
        TEST_STREQ(prop_get(conf->producer_props, conf->producer_prop_cnt,
                            "linger.ms"),
                   "5");
        TEST_STREQ(prop_get(conf->producer_props, conf->producer_prop_cnt,
                            "sasl.password"),
                   "hunter2-pass");
        TEST_STREQ(prop_get(conf->producer_props, conf->producer_prop_cnt,
                            "ssl.key.password"),
                   "hunter3-pass");

        /* A second file replaces values by name and appends new names. */
        more = tmp_yaml("kafka.consumer.session.timeout.ms: 6000\n"
                        "kafka.consumer.max.poll.interval.ms: 300000\n");
        TEST_INTEQ(cs_config_load_file(conf, more, errstr, sizeof(errstr)), 0);
        TEST_INTEQ(conf->consumer_prop_cnt, 5);
        TEST_STREQ(conf->consumer_props[0].value, "6000");
        TEST_STREQ(conf->consumer_props[4].name, "max.poll.interval.ms");
        cs_config_destroy(conf);

        load_err("kafka.consumer:\n  session.timeout.ms: [1, 2]\n",
                 "2:23: kafka.consumer.session.timeout.ms: sequences are not "
                 "supported");
        load_err("kafka.consumer.a: 1\nkafka.consumer.a: 2\n",
                 "2:1: kafka.consumer.a: duplicate key (first at 1:1)");
        load_err("kafka.consumers.a: 1\n",
                 "1:1: kafka.consumers.a: unknown key");

        /* The cap: 256 names per namespace, counted across loads. */
        {
                size_t size = 300 * 40, o = 0;
                char *text = malloc(size);
                TEST_ASSERT(text, "out of memory");
                o += (size_t)snprintf(text + o, size - o,
                                      "kafka.producer:\n");
                for (int i = 0; i < 257; i++)
                        o += (size_t)snprintf(text + o, size - o,
                                              "  p%d: %d\n", i, i);
                load_err(text, "258:9: kafka.producer.p256: too many "
                               "kafka.producer.* properties (max 256)");
                free(text);
        }
}

/* cs_config_origin(): where each key got its value, for the messages of
 * checks made after loading (clientconf.c). */
static void test_origin(void) {
        cs_config_t *conf = cs_config_new();
        char errstr[512] = "", want[128];
        const char *path, *path2;
        char *const envp[] = {"CALLSIG_MONGODB_URI=mongodb://e:1/",
                              "CALLSIG_SIGNAL_MAX_TIMEOUT=bad", NULL};
        char *const envp_ok[] = {"CALLSIG_MONGODB_URI=mongodb://e:1/", NULL};

        TEST_ASSERT(cs_config_origin(conf, "mongodb.uri") == NULL,
                    "a default has no origin");
        path = tmp_yaml("mongodb:\n"
                        "  uri: \"mongodb://f:1/\"\n"
                        "kafka:\n"
                        "  consumer:\n"
                        "    fetch.wait.max.ms: 100\n"
                        "kafka.producer.linger.ms: 5\n");
        TEST_INTEQ(cs_config_load_file(conf, path, errstr, sizeof(errstr)), 0);
        snprintf(want, sizeof(want), "%s:2:8", path);
        TEST_STREQ(cs_config_origin(conf, "mongodb.uri"), want);
        snprintf(want, sizeof(want), "%s:5:24", path);
        TEST_STREQ(cs_config_origin(conf, "kafka.consumer.fetch.wait.max.ms"),
                   want);
        snprintf(want, sizeof(want), "%s:6:27", path);
        TEST_STREQ(cs_config_origin(conf, "kafka.producer.linger.ms"), want);
        TEST_ASSERT(cs_config_origin(conf, "kafka.brokers") == NULL,
                    "not in the file");

        /* A later file moves the origin; a failed load leaves it. */
        path2 = tmp_yaml("\n\nkafka.consumer.fetch.wait.max.ms: 200\n");
        TEST_INTEQ(cs_config_load_file(conf, path2, errstr, sizeof(errstr)), 0);
        snprintf(want, sizeof(want), "%s:3:35", path2);
        TEST_STREQ(cs_config_origin(conf, "kafka.consumer.fetch.wait.max.ms"),
                   want);
        path2 = tmp_yaml("mongodb.uri: \"mongodb://g:1/\"\nbogus: 1\n");
        TEST_INTEQ(cs_config_load_file(conf, path2, errstr, sizeof(errstr)),
                   -1);
        snprintf(want, sizeof(want), "%s:2:8", path);
        TEST_STREQ(cs_config_origin(conf, "mongodb.uri"), want);

        /* The environment: the variable's name, only when all applied. */
        TEST_INTEQ(cs_config_apply_env(conf, envp, errstr, sizeof(errstr)),
                   -1);
        TEST_STREQ(cs_config_origin(conf, "mongodb.uri"), want);
        TEST_INTEQ(cs_config_apply_env(conf, envp_ok, errstr, sizeof(errstr)),
                   0);
        TEST_STREQ(cs_config_origin(conf, "mongodb.uri"),
                   "env CALLSIG_MONGODB_URI");
        cs_config_destroy(conf);
}

static void test_dump(void) {
        cs_config_t *conf, *again;
        char errstr[512] = "";
        char *out, *out2;
        const char *path;

        conf = load_ok("livekit:\n"
                       "  api_key: the-key\n"
                       "  api_secret: " SECRET "\n"
                       "mongodb.uri: mongodb://user:dbpa55word@h1,h2/db"
                       "?authSource=admin\n"
                       "kafka.consumer:\n"
                       "  sasl.username: kuser\n"
                       "  sasl.password: kafkapa55\n"
                       "  some.secret.thing: s3cr3tvalue\n"
                       "  ssl.key.pem: PEMDATA\n"
                       "  client.id: \"quote\\\" and \\\\ back\"\n"
                       "kafka.producer:\n"
                       "  linger.ms: 5\n");
        out = dump(conf);
        TEST_ASSERT(!strstr(out, SECRET), "secret in dump:\n%s", out);
        TEST_ASSERT(!strstr(out, "s3cr3t"), "secret in dump:\n%s", out);
        TEST_ASSERT(!strstr(out, "dbpa55word"), "password in dump:\n%s", out);
        TEST_ASSERT(!strstr(out, "kafkapa55"), "password in dump:\n%s", out);
        TEST_ASSERT(!strstr(out, "kuser"), "sasl value in dump:\n%s", out);
        TEST_ASSERT(!strstr(out, "PEMDATA"), "key in dump:\n%s", out);
        TEST_ASSERT(strstr(out, "  api_secret: \"[redacted]\"\n"), "%s", out);
        TEST_ASSERT(strstr(out, "  api_key: \"the-key\"\n"), "%s", out);
        TEST_ASSERT(strstr(out, "  uri: \"mongodb://user:[redacted]@h1,h2/"
                                "db?authSource=admin\"\n"),
                    "%s", out);
        TEST_ASSERT(strstr(out, "kafka:\n  brokers: \"localhost:9092\"\n"
                                "  group_id: \"callsig\"\n  consumer:\n"
                                "    \"sasl.username\": \"[redacted]\"\n"),
                    "%s", out);
        TEST_ASSERT(strstr(out, "    \"client.id\": \"quote\\\" and \\\\ "
                                "back\"\n  producer:\n"
                                "    \"linger.ms\": \"5\"\ntopics:\n"),
                    "%s", out);
        TEST_ASSERT(strstr(out, "signal:\n  default_timeout: 35\n"), "%s",
                    out);
        TEST_ASSERT(strstr(out, "push:\n  mode: per_user\n"), "%s", out);
        TEST_ASSERT(strstr(out, "log:\n  level: info\n"), "%s", out);

        /* The dump is valid config: reloading it gives the same dump. */
        path = tmp_yaml(out);
        again = cs_config_new();
        TEST_INTEQ(cs_config_load_file(again, path, errstr, sizeof(errstr)),
                   0);
        out2 = dump(again);
        TEST_STREQ(out2, out);
        free(out2);
        cs_config_destroy(again);
        free(out);

        /* Unset keys are listed as comments. */
        cs_config_destroy(conf);
        conf = cs_config_new();
        out = dump(conf);
        TEST_ASSERT(strstr(out, "  # api_key: not set\n  # api_secret: not "
                                "set\n"),
                    "%s", out);
        /* URIs without a password are shown whole. */
        free(conf->mongodb_uri);
        conf->mongodb_uri = strdup("mongodb://user@host/?x=a:b@c");
        free(out);
        out = dump(conf);
        TEST_ASSERT(strstr(out, "  uri: \"mongodb://user@host/?x=a:b@c\"\n"),
                    "%s", out);
        free(out);
        cs_config_destroy(conf);
}

/* @returns <source dir>/@p rel in @p buf. The source dir comes from
 * $CALLSIG_TEST_SOURCE_DIR or else $CALLSIG_SOURCE_DIR (which ctest sets). */
static const char *source_path(char *buf, size_t size, const char *rel) {
        const char *dir = getenv("CALLSIG_TEST_SOURCE_DIR");

        if (!dir || !*dir)
                dir = getenv("CALLSIG_SOURCE_DIR");

        if (!dir || !*dir)
                TEST_FAIL("CALLSIG_SOURCE_DIR is not set (ctest sets it; "
                          "run as CALLSIG_SOURCE_DIR=/path/to/callsig %s)",
                          "tests/test_config");
        snprintf(buf, size, "%s/%s", dir, rel);
        return buf;
}

static void test_reference(void) {
        char path[4096];
        char *want = capture(NULL, cs_config_write_reference, NULL);
        char *got;
        size_t got_len = 0;
        const char *regen = getenv("CALLSIG_TEST_REGEN_DOCS");

        source_path(path, sizeof(path), "docs/CONFIGURATION.md");
        if (regen && !strcmp(regen, "1")) {
                FILE *fp = fopen(path, "wb");
                TEST_ASSERT(fp, "%s: %s", path, strerror(errno));
                fputs(want, fp);
                TEST_ASSERT(fclose(fp) == 0, "%s: write failed", path);
                TEST_SAY("regenerated %s", path);
        }
        got = slurp(path, &got_len);
        if (!got || got_len != strlen(want) || strcmp(got, want))
                TEST_FAIL("%s is not the output of "
                          "cs_config_write_reference(): regenerate it with\n"
                          "  CALLSIG_TEST_REGEN_DOCS=1 CALLSIG_SOURCE_DIR=%.*s "
                          "<build>/tests/test_config\n(or callsig "
                          "--config-reference > docs/CONFIGURATION.md) and "
                          "commit the result",
                          path,
                          (int)(strlen(path) -
                                strlen("/docs/CONFIGURATION.md")),
                          path);
        test_passed++;

        /* Every key row names a distinct environment variable, and no
         * description breaks the table. */
        {
                char *envs[64];
                size_t n = 0;
                for (char *line = want; line && *line;) {
                        char *nl = strchr(line, '\n');
                        if (nl)
                                *nl = '\0';
                        if (!strncmp(line, "| `", 3)) {
                                int bars = 0;
                                char *env = NULL;
                                for (char *p = line; *p; p++) {
                                        if (*p != '|')
                                                continue;
                                        if (++bars == 4)
                                                env = p + 3;
                                }
                                TEST_INTEQ(bars, 6);
                                TEST_ASSERT(env && n < 64, "%s", line);
                                *strchr(env, '`') = '\0';
                                for (size_t i = 0; i < n; i++)
                                        TEST_ASSERT(strcmp(envs[i], env),
                                                    "duplicate %s", env);
                                envs[n++] = env;
                        }
                        line = nl ? nl + 1 : NULL;
                }
                TEST_INTEQ(n, 38);
        }
        free(got);
        free(want);
}

/* Every key of the table, then the pass-through placeholders. */
static const char *const all_keys[] = {
                "kafka.brokers", "kafka.group_id", "topics.commands",
                "topics.dlq", "topics.livekit_events", "push.mode", "push.topic_template",
                "push.topic", "push.topic_partitions",
                "push.topic_replication", "push.topic_create_timeout_ms",
                "mongodb.uri", "mongodb.database",
                "mongodb.retry_max_backoff_ms", "http.listen", "livekit.url",
                "livekit.api_key", "livekit.api_secret", "livekit.token_ttl",
                "livekit.api_url",
                "signal.default_timeout", "signal.max_timeout",
                "signal.max_invitees", "signal.timer_interval_ms",
                "signal.operation_retention", "signal.command_max_age",
                "signal.max_attempts", "signal.concurrency",
                "signal.max_in_flight", "signal.revoke_drain_ms", "signal.custom_max_bytes",
                "signal.custom_per_minute", "stun.urls", "turn.urls",
                "turn.secret", "turn.ttl", "openim.protocol", "log.level",
                "kafka.consumer.<name>", "kafka.producer.<name>"};

static void test_help(void) {
        char *help = capture(NULL, cs_config_write_help, NULL);
        char *out = malloc(strlen(help) + 2);

        /* One line per key, nothing else. */
        TEST_ASSERT(out, "out of memory");
        out[0] = '\n';
        memcpy(out + 1, help, strlen(help) + 1);
        free(help);
        {
                size_t lines = 0;
                for (const char *p = out + 1; (p = strchr(p, '\n')); p++)
                        lines++;
                TEST_INTEQ(lines, CS_ARRAY_SIZE(all_keys));
        }

        for (size_t i = 0; i < CS_ARRAY_SIZE(all_keys); i++) {
                char want[128];
                snprintf(want, sizeof(want), "\n  %s ", all_keys[i]);
                TEST_ASSERT(strstr(out, want), "help lacks %s:\n%s",
                            all_keys[i], out);
        }
        TEST_ASSERT(strstr(out, "  signal.max_timeout             600 "
                                "[1..86400]\n"),
                    "%s", out);
        TEST_ASSERT(strstr(out, "  livekit.api_secret             (required) "
                                "[>= 32 bytes] (secret)\n"),
                    "%s", out);
        for (char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1)
                TEST_ASSERT(nl - p <= 80, "help line over 80 columns: %.*s",
                            (int)(nl - p), p);
        free(out);
}

static void test_example(void) {
        char path[4096], errstr[512] = "";
        cs_config_t *conf = cs_config_new(), *def = cs_config_new();
        char *got, *want, *text;
        char *envp[] = {"CALLSIG_LIVEKIT_API_SECRET=" SECRET, NULL};

        source_path(path, sizeof(path), "config/callsig.example.yaml");
        if (cs_config_load_file(conf, path, errstr, sizeof(errstr)))
                TEST_FAIL("%s", errstr);
        /* The placeholder secret must be replaced before callsig runs. */
        TEST_INTEQ(cs_config_validate(conf, errstr, sizeof(errstr)), -1);
        TEST_ASSERT(strstr(errstr, "livekit.api_secret: must be at least 32 "
                                   "bytes"),
                    "%s", errstr);
        TEST_INTEQ(cs_config_apply_env(conf, envp, errstr, sizeof(errstr)), 0);
        validate_ok(conf);

        /* Apart from the LiveKit credentials it holds the defaults. */
        TEST_ASSERT(conf->livekit_api_key && strstr(conf->livekit_api_key,
                                                    "CHANGE"),
                    "placeholder key");
        set_livekit(conf, NULL, NULL);

        /* Every key is written out, under its section. */
        text = slurp(path, NULL);
        TEST_ASSERT(text, "%s: %s", path, strerror(errno));
        for (size_t i = 0; i + 2 < CS_ARRAY_SIZE(all_keys); i++) {
                const char *dot = strchr(all_keys[i], '.'), *sec, *end;
                char pat[128];
                snprintf(pat, sizeof(pat), "\n%.*s:\n",
                         (int)(dot - all_keys[i]), all_keys[i]);
                sec = strstr(text, pat);
                TEST_ASSERT(sec, "example lacks section %s", pat + 1);
                end = strstr(sec + 1, "\n\n");
                if (!end)
                        end = sec + strlen(sec);
                snprintf(pat, sizeof(pat), "\n  %s: ", dot + 1);
                TEST_ASSERT(strstr(sec, pat) && strstr(sec, pat) < end,
                            "example lacks %s", all_keys[i]);
        }
        free(text);

        got = dump(conf);
        want = dump(def);
        TEST_STREQ(got, want);
        free(got);
        free(want);
        cs_config_destroy(conf);
        cs_config_destroy(def);
}

/* livekit.api_url: empty by default (derived from livekit.url), an empty
 * value is accepted where other strings refuse one, and only http(s)://
 * passes validation. */
static void test_api_url(void) {
        cs_config_t *conf = cs_config_new();
        char errstr[512] = "";
        char *envp[] = {"CALLSIG_LIVEKIT_API_URL=", NULL};

        TEST_STREQ(conf->livekit_api_url, "");
        set_livekit(conf, "devkey", SECRET);
        validate_ok(conf);
        free(conf->livekit_api_url);
        conf->livekit_api_url = strdup("ws://lk:7880");
        validate_err(conf, "livekit.api_url: must start with http:// or "
                           "https:// (or be empty)");
        free(conf->livekit_api_url);
        conf->livekit_api_url = strdup("https://lk.example.com");
        validate_ok(conf);
        TEST_INTEQ(cs_config_apply_env(conf, envp, errstr, sizeof(errstr)),
                   0);
        TEST_STREQ(conf->livekit_api_url, "");
        cs_config_destroy(conf);

        conf = load_ok("livekit: {api_url: \"http://127.0.0.1:7880\"}\n");
        TEST_STREQ(conf->livekit_api_url, "http://127.0.0.1:7880");
        cs_config_destroy(conf);
        load_err("livekit: {url: \"\"}\n", "1:16: livekit.url: empty value");
}

/* ICE servers and custom signals (contract sections 8 and 11). */
static void test_ice(void) {
        cs_config_t *conf = load_ok(
                "stun:\n"
                "  urls: [\"stun:127.0.0.1:3478\", stun:s.example.com]\n"
                "turn:\n"
                "  urls:\n"
                "    - turn:127.0.0.1:3478?transport=udp\n"
                "    - turns:t.example.com:5349?transport=tcp\n"
                "  secret: sixteen-bytes-ok\n"
                "  ttl: 600\n"
                "signal: {custom_max_bytes: 100, custom_per_minute: 5}\n");
        TEST_STREQ(conf->stun_urls, "stun:127.0.0.1:3478,stun:s.example.com");
        TEST_STREQ(conf->turn_urls, "turn:127.0.0.1:3478?transport=udp,"
                                    "turns:t.example.com:5349?transport=tcp");
        TEST_STREQ(conf->turn_secret, "sixteen-bytes-ok");
        TEST_INTEQ(conf->turn_ttl, 600);
        TEST_INTEQ(conf->signal_custom_max_bytes, 100);
        TEST_INTEQ(conf->signal_custom_per_minute, 5);
        set_livekit(conf, "devkey", SECRET);
        validate_ok(conf);
        {
                char *got = dump(conf);
                TEST_ASSERT(!strstr(got, "sixteen-bytes-ok"), "turn.secret leaked");
                free(got);
        }
        cs_config_destroy(conf);

        load_err("turn:\n  urls: [\"turn:h:3478?transport=sctp\"]\n",
                 "2:10: turn.urls: \"turn:h:3478?transport=sctp\": may end only "
                 "in ?transport=udp or ?transport=tcp");
        load_err("turn:\n  urls:\n    - turn:ok:3478\n    - http://x\n",
                 "4:7: turn.urls: \"http://x\": must start with stun:, turn: or "
                 "turns:");
        load_err("turn:\n  urls: turn:h:99999\n",
                 "2:9: turn.urls: \"turn:h:99999\": port must be 1 to 65535");
        load_err("stun:\n  urls: [turn:h]\n",
                 "2:10: stun.urls: \"turn:h\": must be a stun: URL");
        load_err("turn:\n  urls: [[a]]\n", "2:10: turn.urls: list items must be scalars");
        load_err("turn:\n  secret: fifteen-bytes!!\n",
                 "2:11: turn.secret: must be at least 16 bytes (got 15)");
        load_err("signal: {custom_per_minute: 0}\n",
                 "1:29: signal.custom_per_minute: 0 is out of range [1, 1000000]");
        {
                char *e[] = {"CALLSIG_TURN_URLS=turn:a:1,turn:b:2?transport=tcp",
                             "CALLSIG_TURN_SECRET=sixteen-bytes-ok", NULL};
                char errstr[512] = "";
                conf = cs_config_new();
                TEST_INTEQ(cs_config_apply_env(conf, e, errstr, sizeof(errstr)), 0);
                TEST_STREQ(conf->turn_urls, "turn:a:1,turn:b:2?transport=tcp");
                cs_config_destroy(conf);
                char *bad[] = {"CALLSIG_TURN_SECRET=short", NULL};
                env_err(bad, "env CALLSIG_TURN_SECRET: must be at least 16 bytes "
                             "(got 5)");
        }
        /* TURN URLs without a secret */
        const char *path = tmp_yaml("turn:\n  urls: [turn:h]\n");
        char errstr[512] = "", want[600];
        conf = cs_config_new();
        TEST_INTEQ(cs_config_load_file(conf, path, errstr, sizeof(errstr)), 0);
        set_livekit(conf, "devkey", SECRET);
        snprintf(want, sizeof(want), "%s:2:9: turn.secret: required when "
                 "turn.urls is set", path);
        validate_err(conf, want);
        cs_config_destroy(conf);
}

int main(void) {
        atexit(tmp_cleanup); /* also when an assertion exits early */
        test_defaults();
        test_empty_files();
        test_nested_and_flat();
        test_partial_keeps_values();
        test_file_errors();
        test_big_file();
        test_env();
        test_validate();
        test_passthrough();
        test_origin();
        test_dump();
        test_reference();
        test_help();
        test_example();
        test_api_url();
        test_ice();
        return test_done();
}
