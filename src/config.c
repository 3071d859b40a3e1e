/*
 * config.c: callsig's configuration, driven by one property table.
 *
 * cs_props[] lists every key once: dotted name, type, place in cs_config_t,
 * default, bounds, flags and description. Everything else reads that table:
 * cs_config_new() (defaults), the YAML loader (libyaml event API, nested
 * mappings flattened to dotted keys, a literal dotted key accepted at any
 * level), the CALLSIG_* environment overrides, cs_config_validate(), --help,
 * the redacted dump and docs/CONFIGURATION.md.
 *
 * kafka.consumer.* and kafka.producer.* are not in the table: their scalar
 * values are collected as text for librdkafka (file only, not environment).
 *
 * Loading is two-phase: every value of a file (or of the environment) is
 * parsed and checked into a list of changes first, and the changes are only
 * applied when all of them are good, so a failed load leaves the config as
 * it was. Running out of memory aborts, as in cs_config_new().
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <yaml.h>

#include "alloc.h"
#include "err.h"
#include "ice.h"

/* Caps on what a file may hold; exceeding one is a configuration error. */
#define CS_CONFIG_FILE_MAX (1024 * 1024) /* bytes of one YAML file */
#define CS_CONFIG_KEY_MAX 255            /* bytes of a flattened key */
#define CS_CONFIG_VALUE_MAX (64 * 1024)  /* bytes of one value (PEM fits) */
#define CS_CONFIG_DEPTH_MAX 16           /* nested mappings */
#define CS_CONFIG_KEYS_MAX 1024          /* keys and sections in one file */
#define CS_CONFIG_PROPS_MAX 256          /* kafka.consumer.* (and producer) */

#define CS_ENV_PREFIX "CALLSIG_"
#define CS_REDACTED "[redacted]"
#define CS_TOPIC_CHARS "A-Z a-z 0-9 . _ -"

typedef enum cs_prop_type_e {
        CS_PROP_STRING,
        CS_PROP_INT,  /* int64_t */
        CS_PROP_ENUM, /* one of values[]: index as int, or text (ENUM_TEXT) */
} cs_prop_type_t;

#define CS_PROP_F_SECRET 0x01    /* never printed, "[redacted]" in dumps */
#define CS_PROP_F_REQUIRED 0x02  /* no default: must be set */
#define CS_PROP_F_TOPIC 0x04     /* a Kafka topic name */
#define CS_PROP_F_TEMPLATE 0x08  /* a topic name with {user} once */
#define CS_PROP_F_ENUM_TEXT 0x10 /* enum stored as its name (char *) */
#define CS_PROP_F_URI 0x20       /* password in the URI redacted in dumps */
#define CS_PROP_F_EMPTY_OK 0x40  /* "" is a value (meaning: off / derived) */
#define CS_PROP_F_LIST 0x80      /* comma-separated; YAML may give a sequence */
#define CS_PROP_F_STUN_URLS 0x100 /* list of stun: URLs */
#define CS_PROP_F_TURN_URLS 0x200 /* list of turn:/turns: URLs */
#define CS_PROP_F_MIN_NOW 0x400  /* min bytes checked where the value is set
                                    ("" allowed: unset) */

typedef struct cs_prop_s {
        const char *name; /* dotted key: "section.leaf" */
        cs_prop_type_t type;
        size_t offset;            /* of the field in cs_config_t */
        const char *def;          /* default as text, NULL: none */
        int64_t min, max;         /* ints: bounds; strings: min bytes */
        const char *const *values; /* enums: NULL-terminated names */
        int flags;
        const char *desc; /* one or two sentences, no '|' (Markdown) */
} cs_prop_t;

/* An enum stored as an index is written through an int. */
_Static_assert(sizeof(cs_push_mode_t) == sizeof(int),
               "cs_push_mode_t must be int-sized");

static const char *const cs_push_modes[] = {"per_user", "keyed", NULL};
_Static_assert(sizeof(cs_protocol_t) == sizeof(int),
               "cs_protocol_t must be int-sized");
static const char *const cs_protocols[] = {"v2", "v3", NULL};
static const char *const cs_log_levels[] = {"error", "warn", "info", "debug",
                                            NULL};

#define CS_OFF(field) offsetof(cs_config_t, field)

/* The order here is the order of --help, the dump and the reference; keys
 * of one section must be adjacent. */
static const cs_prop_t cs_props[] = {
    {"kafka.brokers", CS_PROP_STRING, CS_OFF(kafka_brokers), "localhost:9092",
     0, 0, NULL, 0,
     "Kafka bootstrap servers, a comma-separated list of `host:port`."},
    {"kafka.group_id", CS_PROP_STRING, CS_OFF(kafka_group_id), "callsig", 0, 0,
     NULL, 0,
     "Consumer group; every worker of one deployment uses the same group."},
    {"topics.commands", CS_PROP_STRING, CS_OFF(topic_commands),
     "signal.commands", 0, 0, NULL, CS_PROP_F_TOPIC,
     "Input topic of SignalCommand messages (key = roomID)."},
    {"topics.dlq", CS_PROP_STRING, CS_OFF(topic_dlq), "signal.dlq", 0, 0, NULL,
     CS_PROP_F_TOPIC,
     "Dead-letter topic for commands that cannot be answered; must differ "
     "from `topics.commands`."},
    {"topics.livekit_events", CS_PROP_STRING, CS_OFF(topic_livekit_events),
     "livekit.events", 0, 0, NULL, CS_PROP_F_TOPIC,
     "Topic of verified LiveKit webhook events (key = room name, value = the "
     "webhook body); workers consume it beside `topics.commands`."},
    {"push.mode", CS_PROP_ENUM, CS_OFF(push_mode), "per_user", 0, 0,
     cs_push_modes, 0,
     "`per_user`: one push topic per user, named by `push.topic_template`; "
     "`keyed`: every push message on `push.topic`, keyed by recvID."},
    {"push.topic_template", CS_PROP_STRING, CS_OFF(push_topic_template),
     "push.{user}", 0, 0, NULL, CS_PROP_F_TEMPLATE,
     "Per-user push topic (per_user mode); `{user}` is the userID with every "
     "byte outside `A-Z a-z 0-9 . -` written as `_` and two lowercase hex "
     "digits."},
    {"push.topic", CS_PROP_STRING, CS_OFF(push_topic), "push", 0, 0, NULL,
     CS_PROP_F_TOPIC, "The one push topic in keyed mode."},
    {"push.topic_partitions", CS_PROP_INT, CS_OFF(push_topic_partitions), "1",
     -1, 100000, NULL, 0,
     "Partitions of a per-user push topic that callsig creates (per_user "
     "mode, CreateTopics before the first message to it); -1: the broker's "
     "default (`num.partitions`); 0 is refused."},
    {"push.topic_replication", CS_PROP_INT, CS_OFF(push_topic_replication),
     "-1", -1, 32767, NULL, 0,
     "Replication factor of a per-user push topic that callsig creates; -1: "
     "the broker's default (`default.replication.factor`); 0 is refused."},
    {"push.topic_create_timeout_ms", CS_PROP_INT,
     CS_OFF(push_topic_create_timeout_ms), "1000", 10, 30000, NULL, 0,
     "Longest the first message to new per-user push topics waits for their "
     "creation and metadata, milliseconds; then it is produced anyway."},
    {"mongodb.uri", CS_PROP_STRING, CS_OFF(mongodb_uri),
     "mongodb://localhost:27017", 0, 0, NULL, CS_PROP_F_URI,
     "MongoDB connection string; a password in it is shown as `[redacted]` "
     "in dumps."},
    {"mongodb.database", CS_PROP_STRING, CS_OFF(mongodb_database), "callsig",
     0, 0, NULL, 0, "Database holding calls and operation records."},
    {"mongodb.retry_max_backoff_ms", CS_PROP_INT,
     CS_OFF(store_retry_max_backoff_ms), "5000", 100, 600000, NULL, 0,
     "Cap of the retry backoff while MongoDB is unavailable, milliseconds."},
    {"http.listen", CS_PROP_STRING, CS_OFF(http_listen), "127.0.0.1:8080", 0,
     0, NULL, 0,
     "`host:port` of the HTTP listener serving `POST /webhooks/livekit`, "
     "`/healthz`, `/readyz` and `/metrics`; empty: no listener."},
    {"livekit.url", CS_PROP_STRING, CS_OFF(livekit_url), "ws://localhost:7880",
     0, 0, NULL, 0, "LiveKit server URL, returned to clients as liveURL."},
    {"livekit.api_key", CS_PROP_STRING, CS_OFF(livekit_api_key), NULL, 0, 0,
     NULL, CS_PROP_F_REQUIRED,
     "LiveKit API key, the issuer of the access tokens."},
    {"livekit.api_secret", CS_PROP_STRING, CS_OFF(livekit_api_secret), NULL,
     32, 0, NULL, CS_PROP_F_REQUIRED | CS_PROP_F_SECRET,
     "LiveKit API secret that signs the access tokens (HS256); at least 32 "
     "bytes. Never logged; `[redacted]` in dumps."},
    {"livekit.token_ttl", CS_PROP_INT, CS_OFF(livekit_token_ttl), "3600", 60,
     86400, NULL, 0, "Lifetime of issued access tokens, seconds."},
    {"livekit.api_url", CS_PROP_STRING, CS_OFF(livekit_api_url), "", 0, 0,
     NULL, CS_PROP_F_EMPTY_OK,
     "LiveKit HTTP API (`http://` or `https://`) for RoomService calls "
     "(RemoveParticipant, DeleteRoom); empty: derived from `livekit.url` "
     "(`ws` becomes `http`, `wss` becomes `https`)."},
    {"signal.default_timeout", CS_PROP_INT, CS_OFF(signal_default_timeout),
     "35", 1, 3600, NULL, 0,
     "Ring timeout when the invitation says 0, seconds; at most "
     "`signal.max_timeout`."},
    {"signal.max_timeout", CS_PROP_INT, CS_OFF(signal_max_timeout), "600", 1,
     86400, NULL, 0, "Upper clamp of the ring timeout, seconds."},
    {"signal.max_invitees", CS_PROP_INT, CS_OFF(signal_max_invitees), "64", 1,
     1000, NULL, 0, "Most invitees one call can have."},
    {"signal.timer_interval_ms", CS_PROP_INT,
     CS_OFF(signal_timer_interval_ms), "500", 50, 60000, NULL, 0,
     "How often due ring deadlines are polled, milliseconds."},
    {"signal.operation_retention", CS_PROP_INT,
     CS_OFF(signal_operation_retention), "604800", 60, 31536000, NULL, 0,
     "How long refused operationIDs are remembered, so that a redelivered "
     "command gets the same reply, seconds."},
    {"signal.command_max_age", CS_PROP_INT, CS_OFF(signal_command_max_age),
     "10", 0, 86400, NULL, 0,
     "A command whose `sentAt` is older than this when a worker takes it is "
     "answered 1008 and changes nothing, seconds; 0: never expires."},
    {"signal.max_attempts", CS_PROP_INT, CS_OFF(signal_max_attempts), "8", 1,
     1000, NULL, 0,
     "Attempts at one command while MongoDB or Kafka keep failing; after the "
     "last one it is answered 1009 and copied to the dead-letter topic."},
    {"signal.concurrency", CS_PROP_INT, CS_OFF(signal_concurrency), "8", 1, 256,
     NULL, 0,
     "Handler threads of one worker: commands of different rooms (and the "
     "ring timer, and LiveKit events) run side by side, those of one room in "
     "order (docs/CONCURRENCY.md); each thread uses its own MongoDB "
     "connection from the pool while it runs. 1: one at a time."},
    {"signal.max_in_flight", CS_PROP_INT, CS_OFF(signal_max_in_flight), "256",
     1, 100000, NULL, 0,
     "Messages one worker takes from Kafka and has not finished (queued in "
     "their room or running); at this many it stops fetching until half are "
     "done."},
    {"signal.revoke_drain_ms", CS_PROP_INT, CS_OFF(signal_revoke_drain_ms),
     "5000", 0, 600000, NULL, 0,
     "When a rebalance takes partitions away, how long the worker waits for "
     "their commands under way to finish (and their offsets to be "
     "committed) before it lets them go; the new owner handles the rest "
     "again, with the same answers. Keep it well below the consumer's "
     "`max.poll.interval.ms` (the time a rebalance waits for a member). "
     "Milliseconds."},
    {"signal.custom_max_bytes", CS_PROP_INT, CS_OFF(signal_custom_max_bytes),
     "32768", 1, 262144, NULL, 0,
     "Largest `customInfo` of a custom signal (sendCustomSignal), bytes; a "
     "longer one is answered 1001."},
    {"signal.custom_per_minute", CS_PROP_INT,
     CS_OFF(signal_custom_per_minute), "600", 1, 1000000, NULL, 0,
     "Custom signals one sender may send in one call within a minute; more "
     "are answered 1010 and not relayed."},
    {"stun.urls", CS_PROP_STRING, CS_OFF(stun_urls), "", 0, 0, NULL,
     CS_PROP_F_EMPTY_OK | CS_PROP_F_LIST | CS_PROP_F_STUN_URLS,
     "STUN URLs given to clients in `iceServers` (`stun:host[:port]`); a "
     "YAML list, or comma-separated; empty: none."},
    {"turn.urls", CS_PROP_STRING, CS_OFF(turn_urls), "", 0, 0, NULL,
     CS_PROP_F_EMPTY_OK | CS_PROP_F_LIST | CS_PROP_F_TURN_URLS,
     "TURN URLs given to clients in `iceServers` with time-limited "
     "credentials (`turn:` or `turns:` host[:port][?transport=udp or tcp]); "
     "a YAML list, or comma-separated; empty: none. Needs `turn.secret`."},
    {"turn.secret", CS_PROP_STRING, CS_OFF(turn_secret), "", 16, 0, NULL,
     CS_PROP_F_EMPTY_OK | CS_PROP_F_SECRET | CS_PROP_F_MIN_NOW,
     "The TURN server's REST API shared secret (coturn `static-auth-secret` "
     "with `use-auth-secret`), at least 16 bytes. Never logged; "
     "`[redacted]` in dumps."},
    {"turn.ttl", CS_PROP_INT, CS_OFF(turn_ttl), "3600", 60, 604800, NULL, 0,
     "Lifetime of the TURN credentials in a reply, seconds."},
    {"openim.protocol", CS_PROP_ENUM, CS_OFF(openim_protocol), "v2", 0, 0,
     cs_protocols, 0,
     "The OpenIM dialect of commands, replies and notifications: `v2` "
     "(SignalCommand.req) or `v3` (SignalCommand.rtc, the openim.rtc "
     "schema); a command in the other dialect is answered 1007."},
    {"log.level", CS_PROP_ENUM, CS_OFF(log_level), "info", 0, 0,
     cs_log_levels, CS_PROP_F_ENUM_TEXT, "Most verbose log level written."},
};

/* The pass-through namespaces: "kafka.consumer" and "kafka.producer". */
static const char *const cs_ns_names[2] = {"kafka.consumer", "kafka.producer"};

/* One parsed, checked value waiting to be applied. */
typedef struct cs_change_s {
        const cs_prop_t *prop; /* NULL: pass-through */
        int ns;                /* pass-through: 0 consumer, 1 producer */
        char *name;            /* pass-through: name without prefix, owned */
        char *text;            /* strings, ENUM_TEXT, pass-through: owned */
        int64_t ival;          /* ints: value; enums: index */
        size_t line, col;      /* 1-based position (file only) */
        char *origin;          /* "path:line:col" or "env NAME", owned */
} cs_change_t;

typedef struct cs_changes_s {
        cs_change_t *v;
        size_t cnt;
        size_t size;
} cs_changes_t;


/*
 * Small helpers.
 */

static char *cs_xstrndup(const char *s, size_t len) {
        return cs_xmemdup(s, len);
}

static bool cs_str_prefix(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool cs_topic_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Writes @p text into @p out for an error message: non-printable bytes as
 * \xNN, at most 48 bytes of the input, "..." when cut, quoted if @p quote. */
static void cs_msgtext(char *out, size_t out_size, const char *text,
                       bool quote) {
        static const char hex[] = "0123456789abcdef";
        size_t o = 0, i;

        if (out_size < 64) {
                if (out_size)
                        out[0] = '\0';
                return;
        }
        if (quote)
                out[o++] = '"';
        for (i = 0; text[i] && i < 48 && o + 10 < out_size; i++) {
                unsigned char c = (unsigned char)text[i];
                if (c < 0x20 || c == 0x7f || (quote && (c == '"' ||
                                                        c == '\\'))) {
                        out[o++] = '\\';
                        if (c == '"' || c == '\\') {
                                out[o++] = (char)c;
                                continue;
                        }
                        out[o++] = 'x';
                        out[o++] = hex[c >> 4];
                        out[o++] = hex[c & 0xf];
                } else {
                        out[o++] = (char)c;
                }
        }
        if (text[i]) {
                memcpy(out + o, "...", 3);
                o += 3;
        }
        if (quote)
                out[o++] = '"';
        out[o] = '\0';
}

/* Strict decimal: optional '-', digits, no leading zeros, nothing else.
 * @returns 0 ok, -1 not an integer, -2 an integer that overflows int64_t. */
static int cs_parse_int64(const char *s, int64_t *out) {
        bool neg = false, overflow = false;
        uint64_t acc = 0, limit;
        const char *p = s;

        if (*p == '-') {
                neg = true;
                p++;
        }
        if (!*p || (p[0] == '0' && p[1]))
                return -1;
        limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
        for (; *p; p++) {
                uint64_t d;
                if (*p < '0' || *p > '9')
                        return -1;
                d = (uint64_t)(*p - '0');
                if (acc > (limit - d) / 10)
                        overflow = true;
                else
                        acc = acc * 10 + d;
        }
        if (overflow)
                return -2;
        if (neg)
                *out = acc == (uint64_t)INT64_MAX + 1u ? INT64_MIN
                                                       : -(int64_t)acc;
        else
                *out = (int64_t)acc;
        return 0;
}

/* @returns true if @p name is a valid Kafka topic name. */
static bool cs_topic_valid(const char *name) {
        size_t len = strlen(name);

        if (len == 0 || len > CS_TOPIC_MAX || !strcmp(name, ".") ||
            !strcmp(name, ".."))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!cs_topic_char(name[i]))
                        return false;
        return true;
}

/* Checks a push topic template; @returns a static problem or NULL. */
static const char *cs_template_problem(const char *tmpl) {
        const char *at = strstr(tmpl, "{user}");
        size_t len = strlen(tmpl);

        if (!at || strstr(at + 6, "{user}"))
                return "must contain {user} exactly once";
        for (size_t i = 0; i < len; i++) {
                if (tmpl + i == at) {
                        i += 5;
                        continue;
                }
                if (!cs_topic_char(tmpl[i]))
                        return "may only hold " CS_TOPIC_CHARS
                               " besides {user}";
        }
        /* {user} gives at least one byte. */
        if (len - 6 + 1 > CS_TOPIC_MAX)
                return "is too long for a topic name (249 bytes)";
        return NULL;
}

static int cs_hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* @returns true if some userID escapes so that @p tmpl gives @p topic. */
static bool cs_template_can_give(const char *tmpl, const char *topic) {
        const char *at = strstr(tmpl, "{user}");
        size_t plen, slen, tlen = strlen(topic), i;

        if (!at)
                return false;
        plen = (size_t)(at - tmpl);
        slen = strlen(at + 6);
        if (tlen < plen + slen + 1 || strncmp(topic, tmpl, plen) ||
            strcmp(topic + tlen - slen, at + 6))
                return false;
        for (i = plen; i < tlen - slen; i++) {
                char c = topic[i];
                int hi, lo;
                if (c != '_') {
                        if (!cs_topic_char(c))
                                return false;
                        continue;
                }
                /* "_xx" is only written for bytes outside [A-Za-z0-9.-]. */
                if (i + 2 >= tlen - slen)
                        return false;
                hi = cs_hexval(topic[i + 1]);
                lo = cs_hexval(topic[i + 2]);
                if (hi < 0 || lo < 0)
                        return false;
                c = (char)(hi * 16 + lo);
                if (c == '\0' || (cs_topic_char(c) && c != '_'))
                        return false;
                i += 2;
        }
        return true;
}

static const cs_prop_t *cs_prop_find(const char *name) {
        for (size_t i = 0; i < CS_ARRAY_SIZE(cs_props); i++)
                if (!strcmp(cs_props[i].name, name))
                        return &cs_props[i];
        return NULL;
}

static size_t cs_enum_cnt(const cs_prop_t *prop) {
        size_t n = 0;
        while (prop->values[n])
                n++;
        return n;
}

/* @returns the index of @p text in the values of @p prop, or -1. */
static int cs_enum_index(const cs_prop_t *prop, const char *text) {
        for (size_t i = 0; prop->values[i]; i++)
                if (!strcmp(prop->values[i], text))
                        return (int)i;
        return -1;
}

/* Writes CALLSIG_<NAME uppercased, '.' as '_'> into @p out. */
static void cs_prop_env_name(const cs_prop_t *prop, char *out,
                             size_t out_size) {
        size_t plen = strlen(CS_ENV_PREFIX), o = 0;

        if (out_size < plen + 1) {
                if (out_size)
                        out[0] = '\0';
                return;
        }
        memcpy(out, CS_ENV_PREFIX, plen);
        o = plen;
        for (const char *p = prop->name; *p && o + 1 < out_size; p++) {
                char c = *p;
                if (c == '.')
                        c = '_';
                else if (c >= 'a' && c <= 'z')
                        c = (char)(c - 'a' + 'A');
                out[o++] = c;
        }
        out[o] = '\0';
}

/* @returns 0 (consumer) or 1 (producer) if @p key is inside a pass-through
 * namespace with a non-empty rest (set in *@p restp), else -1. */
static int cs_passthrough_ns(const char *key, const char **restp) {
        for (int ns = 0; ns < 2; ns++) {
                size_t len = strlen(cs_ns_names[ns]);
                if (!strncmp(key, cs_ns_names[ns], len) && key[len] == '.' &&
                    key[len + 1]) {
                        *restp = key + len + 1;
                        return ns;
                }
        }
        return -1;
}

/* @returns true if @p key names a section: a mapping that holds keys. */
static bool cs_is_section(const char *key) {
        size_t len = strlen(key);
        const char *rest = NULL;

        if (!strcmp(key, cs_ns_names[0]) || !strcmp(key, cs_ns_names[1]) ||
            cs_passthrough_ns(key, &rest) >= 0)
                return true;
        for (size_t i = 0; i < CS_ARRAY_SIZE(cs_props); i++)
                if (!strncmp(cs_props[i].name, key, len) &&
                    cs_props[i].name[len] == '.')
                        return true;
        return false;
}

/* Pass-through names whose values are redacted in dumps. */
bool cs_config_passthrough_secret(const char *name) {
        static const char *const words[] = {"password", "secret", "sasl",
                                            "ssl.key"};
        for (size_t w = 0; w < CS_ARRAY_SIZE(words); w++) {
                size_t wlen = strlen(words[w]);
                for (const char *p = name; *p; p++)
                        if (!strncasecmp(p, words[w], wlen))
                                return true;
        }
        return false;
}


/*
 * Values: checking text for a property, applying changes.
 */

/**
 * Parses and checks @p text for @p prop into @p chg (ival, or text: a copy
 * owned by @p chg). Secret values are never quoted in the problem.
 * @returns 0, or -1 with the problem in @p problem.
 */
static int cs_prop_parse(const cs_prop_t *prop, const char *text,
                         cs_change_t *chg, char *problem,
                         size_t problem_size) {
        char shown[128];
        const char *tp;
        int64_t v;
        int r;

        chg->prop = prop;
        if (!*text && !(prop->flags & CS_PROP_F_EMPTY_OK)) {
                cs_errf(problem, problem_size, "empty value");
                return -1;
        }
        if (!(prop->flags & CS_PROP_F_SECRET))
                cs_msgtext(shown, sizeof(shown), text, true);
        else
                cs_msgtext(shown, sizeof(shown), CS_REDACTED, true);

        switch (prop->type) {
        case CS_PROP_INT:
                r = cs_parse_int64(text, &v);
                if (r == -1) {
                        cs_errf(problem, problem_size, "%s is not an integer",
                                shown);
                        return -1;
                }
                if (r == -2 || v < prop->min || v > prop->max) {
                        cs_msgtext(shown, sizeof(shown), text, false);
                        cs_errf(problem, problem_size,
                                "%s is out of range [%" PRId64 ", %" PRId64
                                "]",
                                shown, prop->min, prop->max);
                        return -1;
                }
                chg->ival = v;
                return 0;

        case CS_PROP_ENUM:
                if ((r = cs_enum_index(prop, text)) >= 0) {
                        chg->ival = r;
                        if (prop->flags & CS_PROP_F_ENUM_TEXT)
                                chg->text = cs_xstrdup(text);
                        return 0;
                }
                {
                        char list[256];
                        size_t o = 0;
                        list[0] = '\0';
                        for (size_t i = 0; prop->values[i]; i++) {
                                size_t len = strlen(prop->values[i]);
                                if (o + len + 3 >= sizeof(list))
                                        break;
                                if (i > 0) {
                                        memcpy(list + o, ", ", 2);
                                        o += 2;
                                }
                                memcpy(list + o, prop->values[i], len + 1);
                                o += len;
                        }
                        cs_errf(problem, problem_size,
                                "%s must be one of %s", shown, list);
                }
                return -1;

        case CS_PROP_STRING:
                if ((prop->flags & CS_PROP_F_TOPIC) && !cs_topic_valid(text)) {
                        cs_errf(problem, problem_size,
                                "%s is not a valid topic name (1 to %d bytes "
                                "of " CS_TOPIC_CHARS ")",
                                shown, CS_TOPIC_MAX);
                        return -1;
                }
                if ((prop->flags & CS_PROP_F_TEMPLATE) &&
                    (tp = cs_template_problem(text))) {
                        cs_errf(problem, problem_size, "%s %s", shown, tp);
                        return -1;
                }
                if ((prop->flags & (CS_PROP_F_STUN_URLS | CS_PROP_F_TURN_URLS)) &&
                    !cs_ice_url_list_valid(text,
                                           prop->flags & CS_PROP_F_TURN_URLS,
                                           problem, problem_size))
                        return -1;
                if ((prop->flags & CS_PROP_F_MIN_NOW) && *text &&
                    strlen(text) < (size_t)prop->min) {
                        cs_errf(problem, problem_size,
                                "must be at least %" PRId64 " bytes (got %zu)",
                                prop->min, strlen(text));
                        return -1;
                }
                chg->text = cs_xstrdup(text);
                return 0;
        }
        cs_errf(problem, problem_size, "unknown property type");
        return -1;
}

static void cs_change_clear(cs_change_t *chg) {
        free(chg->name);
        free(chg->text);
        free(chg->origin);
        chg->name = NULL;
        chg->text = NULL;
        chg->origin = NULL;
}

static cs_change_t *cs_changes_add(cs_changes_t *changes) {
        cs_change_t *chg;

        if (changes->cnt == changes->size) {
                changes->size = changes->size ? changes->size * 2 : 16;
                changes->v = cs_xrealloc(changes->v,
                                         changes->size * sizeof(*changes->v));
        }
        chg = &changes->v[changes->cnt++];
        memset(chg, 0, sizeof(*chg));
        return chg;
}

static void cs_changes_clear(cs_changes_t *changes) {
        for (size_t i = 0; i < changes->cnt; i++)
                cs_change_clear(&changes->v[i]);
        free(changes->v);
        memset(changes, 0, sizeof(*changes));
}

static cs_config_prop_t **cs_ns_props(cs_config_t *conf, int ns,
                                      size_t **cntp) {
        if (ns == 0) {
                *cntp = &conf->consumer_prop_cnt;
                return &conf->consumer_props;
        }
        *cntp = &conf->producer_prop_cnt;
        return &conf->producer_props;
}

static bool cs_ns_has(const cs_config_t *conf, int ns, const char *name) {
        const cs_config_prop_t *props =
                ns == 0 ? conf->consumer_props : conf->producer_props;
        size_t cnt = ns == 0 ? conf->consumer_prop_cnt
                             : conf->producer_prop_cnt;
        for (size_t i = 0; i < cnt; i++)
                if (!strcmp(props[i].name, name))
                        return true;
        return false;
}

/* Where a key got its value (cs_config_origin()). */
struct cs_config_origin_s {
        char *key;    /* dotted, pass-through keys with their prefix */
        char *origin; /* "path:line:col" or "env NAME" */
};

/* Records that @p key got its value at @p origin (moved into @p conf). */
static void cs_origin_set(cs_config_t *conf, char *key, char *origin) {
        for (size_t i = 0; i < conf->origin_cnt; i++) {
                if (!strcmp(conf->origins[i].key, key)) {
                        free(key);
                        free(conf->origins[i].origin);
                        conf->origins[i].origin = origin;
                        return;
                }
        }
        conf->origins = cs_xrealloc(conf->origins, (conf->origin_cnt + 1) *
                                                           sizeof(*conf->origins));
        conf->origins[conf->origin_cnt].key = key;
        conf->origins[conf->origin_cnt].origin = origin;
        conf->origin_cnt++;
}

const char *cs_config_origin(const cs_config_t *conf, const char *key) {
        for (size_t i = 0; i < conf->origin_cnt; i++)
                if (!strcmp(conf->origins[i].key, key))
                        return conf->origins[i].origin;
        return NULL;
}

/* Moves the value of @p chg into @p conf, freeing the value it replaces. */
static void cs_change_apply(cs_config_t *conf, cs_change_t *chg) {
        void *field;

        if (chg->origin) {
                char *key;
                if (chg->prop) {
                        key = cs_xstrdup(chg->prop->name);
                } else {
                        size_t nlen = strlen(cs_ns_names[chg->ns]);
                        size_t rlen = strlen(chg->name);
                        key = cs_xmalloc(nlen + 1 + rlen + 1);
                        memcpy(key, cs_ns_names[chg->ns], nlen);
                        key[nlen] = '.';
                        memcpy(key + nlen + 1, chg->name, rlen + 1);
                }
                cs_origin_set(conf, key, chg->origin);
                chg->origin = NULL;
        }

        if (!chg->prop) {
                size_t *cntp;
                cs_config_prop_t **propsp = cs_ns_props(conf, chg->ns, &cntp);
                size_t i;
                for (i = 0; i < *cntp; i++)
                        if (!strcmp((*propsp)[i].name, chg->name))
                                break;
                if (i == *cntp) {
                        *propsp = cs_xrealloc(*propsp,
                                              (*cntp + 1) * sizeof(**propsp));
                        (*propsp)[i].name = chg->name;
                        (*propsp)[i].value = NULL;
                        chg->name = NULL;
                        (*cntp)++;
                }
                free((*propsp)[i].value);
                (*propsp)[i].value = chg->text;
                chg->text = NULL;
                return;
        }

        field = (char *)conf + chg->prop->offset;
        if (chg->prop->type == CS_PROP_INT) {
                int64_t *ip = field;
                *ip = chg->ival;
        } else if (chg->prop->type == CS_PROP_ENUM &&
                   !(chg->prop->flags & CS_PROP_F_ENUM_TEXT)) {
                int *ep = field;
                *ep = (int)chg->ival;
        } else {
                char **sp = field;
                free(*sp);
                *sp = chg->text;
                chg->text = NULL;
        }
}

/* Checks the pass-through caps for @p changes on top of @p conf.
 * @returns the change that would exceed a cap, or NULL. */
static const cs_change_t *cs_changes_over_cap(const cs_config_t *conf,
                                              const cs_changes_t *changes) {
        size_t cnt[2] = {conf->consumer_prop_cnt, conf->producer_prop_cnt};

        for (size_t i = 0; i < changes->cnt; i++) {
                const cs_change_t *chg = &changes->v[i];
                if (chg->prop || cs_ns_has(conf, chg->ns, chg->name))
                        continue;
                if (++cnt[chg->ns] > CS_CONFIG_PROPS_MAX)
                        return chg;
        }
        return NULL;
}

static void cs_changes_apply(cs_config_t *conf, cs_changes_t *changes) {
        for (size_t i = 0; i < changes->cnt; i++)
                cs_change_apply(conf, &changes->v[i]);
}


/*
 * Life cycle.
 */

cs_config_t *cs_config_new(void) {
        cs_config_t *conf = cs_xmalloc(sizeof(*conf));
        char problem[256];

        memset(conf, 0, sizeof(*conf));
        for (size_t i = 0; i < CS_ARRAY_SIZE(cs_props); i++) {
                cs_change_t chg;
                memset(&chg, 0, sizeof(chg));
                if (!cs_props[i].def)
                        continue;
                /* A bad default is a bug in the table (caught by tests). */
                if (cs_prop_parse(&cs_props[i], cs_props[i].def, &chg,
                                  problem, sizeof(problem)) == -1)
                        abort();
                cs_change_apply(conf, &chg);
                cs_change_clear(&chg);
        }
        return conf;
}

static void cs_props_free(cs_config_prop_t *props, size_t cnt) {
        for (size_t i = 0; i < cnt; i++) {
                free(props[i].name);
                free(props[i].value);
        }
        free(props);
}

void cs_config_destroy(cs_config_t *conf) {
        if (!conf)
                return;
        for (size_t i = 0; i < CS_ARRAY_SIZE(cs_props); i++) {
                const cs_prop_t *prop = &cs_props[i];
                if (prop->type == CS_PROP_STRING ||
                    (prop->flags & CS_PROP_F_ENUM_TEXT)) {
                        char **sp = (void *)((char *)conf + prop->offset);
                        free(*sp);
                }
        }
        cs_props_free(conf->consumer_props, conf->consumer_prop_cnt);
        cs_props_free(conf->producer_props, conf->producer_prop_cnt);
        for (size_t i = 0; i < conf->origin_cnt; i++) {
                free(conf->origins[i].key);
                free(conf->origins[i].origin);
        }
        free(conf->origins);
        free(conf);
}


/*
 * YAML file.
 */

/* A key seen in the file, for duplicate detection. A leaf may appear once
 * in whichever form; a section may be opened again from another mapping
 * (kafka: {producer: ...} and kafka.producer: ...) but not twice in the
 * same one. */
typedef struct cs_seen_s {
        char *key;
        unsigned map; /* section: the mapping it sits in; 0: a leaf */
        size_t line, col;
} cs_seen_t;

typedef struct cs_yload_s {
        yaml_parser_t parser;
        const char *path;
        cs_changes_t changes;
        cs_seen_t *seen;
        size_t seen_cnt;
        unsigned map_seq; /* mappings started so far */
        char *errstr;
        size_t errstr_size;
} cs_yload_t;

static void cs_yload_err(cs_yload_t *yl, const yaml_mark_t *mark,
                         const char *key, const char *fmt, ...)
        CS_PRINTF(4, 5);

/* Writes "path:line:col: key: problem" (key left out when NULL). */
static void cs_yload_err(cs_yload_t *yl, const yaml_mark_t *mark,
                         const char *key, const char *fmt, ...) {
        char problem[512], shown[128];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(problem, sizeof(problem), fmt, ap);
        va_end(ap);
        if (key) {
                cs_msgtext(shown, sizeof(shown), key, false);
                cs_errf(yl->errstr, yl->errstr_size, "%s:%zu:%zu: %s: %s",
                        yl->path, mark->line + 1, mark->column + 1, shown,
                        problem);
        } else {
                cs_errf(yl->errstr, yl->errstr_size, "%s:%zu:%zu: %s",
                        yl->path, mark->line + 1, mark->column + 1, problem);
        }
}

/* Reads the next event, converting libyaml errors. @returns 0 or -1. */
static int cs_yload_event(cs_yload_t *yl, yaml_event_t *ev) {
        const yaml_parser_t *pr = &yl->parser;

        if (yaml_parser_parse(&yl->parser, ev))
                return 0;
        if (pr->error == YAML_READER_ERROR) {
                cs_errf(yl->errstr, yl->errstr_size, "%s: %s at byte %zu",
                        yl->path, pr->problem ? pr->problem : "read error",
                        pr->problem_offset);
        } else if (pr->context) {
                cs_errf(yl->errstr, yl->errstr_size, "%s:%zu:%zu: %s (%s)",
                        yl->path, pr->problem_mark.line + 1,
                        pr->problem_mark.column + 1,
                        pr->problem ? pr->problem : "syntax error",
                        pr->context);
        } else {
                cs_errf(yl->errstr, yl->errstr_size, "%s:%zu:%zu: %s",
                        yl->path, pr->problem_mark.line + 1,
                        pr->problem_mark.column + 1,
                        pr->problem ? pr->problem : "syntax error");
        }
        return -1;
}

/* Records @p key at @p mark: a leaf (@p map 0) or a section in mapping
 * @p map. @returns -1 if that is a duplicate. */
static int cs_yload_seen(cs_yload_t *yl, const char *key,
                         const yaml_mark_t *mark, unsigned map) {
        for (size_t i = 0; i < yl->seen_cnt; i++) {
                if (!strcmp(yl->seen[i].key, key) &&
                    (!map || !yl->seen[i].map || map == yl->seen[i].map)) {
                        cs_yload_err(yl, mark, key,
                                     "duplicate key (first at %zu:%zu)",
                                     yl->seen[i].line, yl->seen[i].col);
                        return -1;
                }
        }
        if (yl->seen_cnt == CS_CONFIG_KEYS_MAX) {
                cs_yload_err(yl, mark, key, "too many keys (max %d)",
                             CS_CONFIG_KEYS_MAX);
                return -1;
        }
        yl->seen = cs_xrealloc(yl->seen,
                               (yl->seen_cnt + 1) * sizeof(*yl->seen));
        yl->seen[yl->seen_cnt].key = cs_xstrdup(key);
        yl->seen[yl->seen_cnt].map = map;
        yl->seen[yl->seen_cnt].line = mark->line + 1;
        yl->seen[yl->seen_cnt].col = mark->column + 1;
        yl->seen_cnt++;
        return 0;
}

/* A plain empty, "~" or "null" scalar: YAML's null. */
static bool cs_scalar_is_null(const yaml_event_t *ev) {
        const char *v = (const char *)ev->data.scalar.value;
        return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
               (!*v || !strcmp(v, "~") || !strcmp(v, "null") ||
                !strcmp(v, "Null") || !strcmp(v, "NULL"));
}

/* A scalar @p ev is the value of @p key (named at @p kmark in mapping
 * @p map). */
static int cs_yload_scalar(cs_yload_t *yl, const char *key,
                           const yaml_mark_t *kmark, const yaml_event_t *ev,
                           unsigned map) {
        const char *text = (const char *)ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        const yaml_mark_t *vmark = &ev->start_mark;
        const cs_prop_t *prop = cs_prop_find(key);
        const char *rest = NULL;
        char problem[512];
        cs_change_t *chg;
        int ns = -1;

        if (!prop)
                ns = cs_passthrough_ns(key, &rest);
        if (!prop && ns < 0) {
                if (!cs_is_section(key)) {
                        cs_yload_err(yl, kmark, key, "unknown key");
                        return -1;
                }
                if (cs_scalar_is_null(ev))
                        return cs_yload_seen(yl, key, kmark, map); /* empty */
                cs_yload_err(yl, vmark, key, "expected a mapping of keys, "
                                             "got a scalar");
                return -1;
        }
        if (cs_yload_seen(yl, key, kmark, 0) == -1)
                return -1;
        if (memchr(text, '\0', len)) {
                cs_yload_err(yl, vmark, key, "value contains a NUL byte");
                return -1;
        }
        if (len > CS_CONFIG_VALUE_MAX) {
                cs_yload_err(yl, vmark, key, "value too long (max %d bytes)",
                             CS_CONFIG_VALUE_MAX);
                return -1;
        }

        chg = cs_changes_add(&yl->changes);
        chg->line = vmark->line + 1;
        chg->col = vmark->column + 1;
        {
                int n = snprintf(NULL, 0, "%s:%zu:%zu", yl->path, chg->line,
                                 chg->col);
                chg->origin = cs_xmalloc((size_t)n + 1);
                snprintf(chg->origin, (size_t)n + 1, "%s:%zu:%zu", yl->path,
                         chg->line, chg->col);
        }
        if (!prop) {
                if (!len) {
                        cs_yload_err(yl, vmark, key, "empty value");
                        return -1;
                }
                chg->ns = ns;
                chg->name = cs_xstrdup(rest);
                chg->text = cs_xstrndup(text, len);
                return 0;
        }
        if (cs_prop_parse(prop, text, chg, problem, sizeof(problem)) == -1) {
                cs_yload_err(yl, vmark, key, "%s", problem);
                return -1;
        }
        return 0;
}

static int cs_yload_mapping(cs_yload_t *yl, const char *prefix, int depth);

/* A sequence of scalars (started by @p start) is the value of list key
 * @p key: each item is checked where it stands, the list is kept joined
 * with commas. */
static int cs_yload_list(cs_yload_t *yl, const char *key,
                         const yaml_mark_t *kmark, const yaml_event_t *start) {
        const cs_prop_t *prop = cs_prop_find(key);
        char problem[512];
        char *joined = cs_xstrdup("");
        size_t joined_len = 0;
        int r = -1;

        if (cs_yload_seen(yl, key, kmark, 0) == -1)
                goto done;
        for (;;) {
                yaml_event_t ev;
                if (cs_yload_event(yl, &ev) == -1)
                        goto done;
                if (ev.type == YAML_SEQUENCE_END_EVENT) {
                        yaml_event_delete(&ev);
                        break;
                }
                if (ev.type != YAML_SCALAR_EVENT) {
                        cs_yload_err(yl, &ev.start_mark, key,
                                     "list items must be scalars");
                        yaml_event_delete(&ev);
                        goto done;
                }
                const char *text = (const char *)ev.data.scalar.value;
                size_t len = ev.data.scalar.length;
                cs_change_t item;
                memset(&item, 0, sizeof(item));
                if (!len || memchr(text, '\0', len) || memchr(text, ',', len) ||
                    joined_len + len + 1 > CS_CONFIG_VALUE_MAX) {
                        cs_yload_err(yl, &ev.start_mark, key,
                                     "list item empty, too long or holding "
                                     "a comma or NUL");
                        yaml_event_delete(&ev);
                        goto done;
                }
                if (cs_prop_parse(prop, text, &item, problem,
                                  sizeof(problem)) == -1) {
                        cs_yload_err(yl, &ev.start_mark, key, "%s", problem);
                        cs_change_clear(&item);
                        yaml_event_delete(&ev);
                        goto done;
                }
                cs_change_clear(&item);
                joined = cs_xrealloc(joined, joined_len + len + 2);
                if (joined_len)
                        joined[joined_len++] = ',';
                memcpy(joined + joined_len, text, len);
                joined_len += len;
                joined[joined_len] = '\0';
                yaml_event_delete(&ev);
        }
        cs_change_t *chg = cs_changes_add(&yl->changes);
        chg->line = start->start_mark.line + 1;
        chg->col = start->start_mark.column + 1;
        int n = snprintf(NULL, 0, "%s:%zu:%zu", yl->path, chg->line, chg->col);
        chg->origin = cs_xmalloc((size_t)n + 1);
        snprintf(chg->origin, (size_t)n + 1, "%s:%zu:%zu", yl->path, chg->line,
                 chg->col);
        chg->prop = prop;
        chg->text = joined;
        joined = NULL;
        r = 0;
done:
        free(joined);
        return r;
}

/* Reads one key and its value in mapping @p map; *@p endp is set at the end
 * of the mapping. @returns 0 or -1. */
static int cs_yload_pair(cs_yload_t *yl, const char *prefix, int depth,
                         unsigned map, bool *endp) {
        yaml_event_t kev, vev;
        bool have_k = false, have_v = false;
        char key[CS_CONFIG_KEY_MAX + 1];
        size_t plen = prefix ? strlen(prefix) : 0, klen;
        const char *ktext;
        int r = -1;

        if (cs_yload_event(yl, &kev) == -1)
                goto done;
        have_k = true;
        if (kev.type == YAML_MAPPING_END_EVENT) {
                *endp = true;
                r = 0;
                goto done;
        }
        if (kev.type != YAML_SCALAR_EVENT) {
                cs_yload_err(yl, &kev.start_mark, prefix,
                             "keys must be scalars");
                goto done;
        }
        ktext = (const char *)kev.data.scalar.value;
        klen = kev.data.scalar.length;
        if (plen + 1 + klen > CS_CONFIG_KEY_MAX) {
                cs_yload_err(yl, &kev.start_mark, NULL,
                             "key too long (max %d bytes)", CS_CONFIG_KEY_MAX);
                goto done;
        }
        if (plen) {
                memcpy(key, prefix, plen);
                key[plen] = '.';
                memcpy(key + plen + 1, ktext, klen);
                key[plen + 1 + klen] = '\0';
        } else {
                memcpy(key, ktext, klen);
                key[klen] = '\0';
        }
        if (!klen || memchr(ktext, '\0', klen) || ktext[0] == '.' ||
            ktext[klen - 1] == '.' || strstr(ktext, "..")) {
                cs_yload_err(yl, &kev.start_mark, key,
                             "invalid key (empty part)");
                goto done;
        }

        if (cs_yload_event(yl, &vev) == -1)
                goto done;
        have_v = true;
        switch (vev.type) {
        case YAML_SCALAR_EVENT:
                r = cs_yload_scalar(yl, key, &kev.start_mark, &vev, map);
                break;
        case YAML_MAPPING_START_EVENT:
                if (cs_prop_find(key)) {
                        cs_yload_err(yl, &vev.start_mark, key,
                                     "expected a scalar value, got a "
                                     "mapping");
                        break;
                }
                if (!cs_is_section(key)) {
                        cs_yload_err(yl, &kev.start_mark, key,
                                     "unknown key");
                        break;
                }
                if (depth + 1 > CS_CONFIG_DEPTH_MAX) {
                        cs_yload_err(yl, &vev.start_mark, key,
                                     "nested too deep (max %d)",
                                     CS_CONFIG_DEPTH_MAX);
                        break;
                }
                if (cs_yload_seen(yl, key, &kev.start_mark, map) == -1)
                        break;
                r = cs_yload_mapping(yl, key, depth + 1);
                break;
        case YAML_SEQUENCE_START_EVENT:
                if (cs_prop_find(key) &&
                    (cs_prop_find(key)->flags & CS_PROP_F_LIST)) {
                        r = cs_yload_list(yl, key, &kev.start_mark, &vev);
                        break;
                }
                cs_yload_err(yl, &vev.start_mark, key,
                             "sequences are not supported");
                break;
        case YAML_ALIAS_EVENT:
                cs_yload_err(yl, &vev.start_mark, key,
                             "aliases are not supported");
                break;
        default:
                cs_yload_err(yl, &vev.start_mark, key, "unexpected YAML");
                break;
        }

done:
        if (have_v)
                yaml_event_delete(&vev);
        if (have_k)
                yaml_event_delete(&kev);
        return r;
}

/* Reads the pairs of a mapping whose start event was consumed. */
static int cs_yload_mapping(cs_yload_t *yl, const char *prefix, int depth) {
        unsigned map = ++yl->map_seq;
        bool end = false;

        while (!end)
                if (cs_yload_pair(yl, prefix, depth, map, &end) == -1)
                        return -1;
        return 0;
}

/* Reads the stream: nothing, or one document holding a mapping or null. */
static int cs_yload_stream(cs_yload_t *yl) {
        yaml_event_t ev;
        bool have = false;
        int r = -1;

        /* Stream start. */
        if (cs_yload_event(yl, &ev) == -1)
                goto done;
        yaml_event_delete(&ev);

        if (cs_yload_event(yl, &ev) == -1)
                goto done;
        have = true;
        if (ev.type == YAML_STREAM_END_EVENT) {
                r = 0; /* empty file: all defaults */
                goto done;
        }
        yaml_event_delete(&ev); /* document start */
        have = false;

        if (cs_yload_event(yl, &ev) == -1)
                goto done;
        have = true;
        if (ev.type == YAML_MAPPING_START_EVENT) {
                if (cs_yload_mapping(yl, NULL, 1) == -1)
                        goto done;
        } else if (!(ev.type == YAML_SCALAR_EVENT && cs_scalar_is_null(&ev))) {
                cs_yload_err(yl, &ev.start_mark, NULL,
                             "the top level must be a mapping of keys");
                goto done;
        }
        yaml_event_delete(&ev);
        have = false;

        /* Document end, then the stream must end. */
        if (cs_yload_event(yl, &ev) == -1)
                goto done;
        yaml_event_delete(&ev);
        if (cs_yload_event(yl, &ev) == -1)
                goto done;
        have = true;
        if (ev.type != YAML_STREAM_END_EVENT) {
                cs_yload_err(yl, &ev.start_mark, NULL,
                             "only one YAML document is allowed");
                goto done;
        }
        r = 0;

done:
        if (have)
                yaml_event_delete(&ev);
        return r;
}

/* Reads all of @p path (at most CS_CONFIG_FILE_MAX bytes) into *@p bufp
 * (caller frees). @returns 0, or -1 with "path: problem". */
static int cs_read_file(const char *path, char **bufp, size_t *lenp,
                        char *errstr, size_t errstr_size) {
        FILE *fp = NULL;
        char *buf = NULL;
        size_t len = 0, size = 0;
        struct stat st;
        int r = -1;

        fp = fopen(path, "rb");
        if (!fp) {
                cs_errf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                goto done;
        }
        if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
                cs_errf(errstr, errstr_size, "%s: %s", path, strerror(EISDIR));
                goto done;
        }
        for (;;) {
                size_t n;
                if (len == size) {
                        size = size ? size * 2 : 4096;
                        buf = cs_xrealloc(buf, size);
                }
                n = fread(buf + len, 1, size - len, fp);
                len += n;
                if (len > CS_CONFIG_FILE_MAX) {
                        cs_errf(errstr, errstr_size,
                                "%s: larger than %d bytes", path,
                                CS_CONFIG_FILE_MAX);
                        goto done;
                }
                if (n == 0) {
                        if (ferror(fp)) {
                                cs_errf(errstr, errstr_size, "%s: %s", path,
                                        strerror(errno ? errno : EIO));
                                goto done;
                        }
                        break;
                }
        }
        *bufp = buf;
        *lenp = len;
        buf = NULL;
        r = 0;

done:
        free(buf);
        if (fp)
                fclose(fp);
        return r;
}

int cs_config_load_file(cs_config_t *conf, const char *path, char *errstr,
                        size_t errstr_size) {
        cs_yload_t yl;
        char *buf = NULL;
        size_t len = 0;
        bool parser_init = false;
        const cs_change_t *over;
        int r = -1;

        memset(&yl, 0, sizeof(yl));
        yl.path = path;
        yl.errstr = errstr;
        yl.errstr_size = errstr_size;

        if (cs_read_file(path, &buf, &len, errstr, errstr_size) == -1)
                goto done;
        if (!yaml_parser_initialize(&yl.parser))
                abort();
        parser_init = true;
        yaml_parser_set_input_string(&yl.parser, (const unsigned char *)buf,
                                     len);
        if (cs_yload_stream(&yl) == -1)
                goto done;

        over = cs_changes_over_cap(conf, &yl.changes);
        if (over) {
                cs_errf(errstr, errstr_size,
                        "%s:%zu:%zu: %s.%s: too many %s.* properties "
                        "(max %d)",
                        path, over->line, over->col, cs_ns_names[over->ns],
                        over->name, cs_ns_names[over->ns],
                        CS_CONFIG_PROPS_MAX);
                goto done;
        }
        cs_changes_apply(conf, &yl.changes);
        r = 0;

done:
        cs_changes_clear(&yl.changes);
        for (size_t i = 0; i < yl.seen_cnt; i++)
                free(yl.seen[i].key);
        free(yl.seen);
        if (parser_init)
                yaml_parser_delete(&yl.parser);
        free(buf);
        return r;
}


/*
 * Environment.
 */

int cs_config_apply_env(cs_config_t *conf, char *const *envp, char *errstr,
                        size_t errstr_size) {
        cs_changes_t changes;
        bool done_prop[CS_ARRAY_SIZE(cs_props)];
        char envname[CS_CONFIG_KEY_MAX + 16], shown[128], problem[512];
        int r = -1;

        memset(&changes, 0, sizeof(changes));
        memset(done_prop, 0, sizeof(done_prop));

        for (size_t e = 0; envp && envp[e]; e++) {
                const char *var = envp[e], *eq = strchr(var, '=');
                size_t nlen, i;

                if (!eq || !cs_str_prefix(var, CS_ENV_PREFIX))
                        continue;
                nlen = (size_t)(eq - var);
                if ((nlen == strlen("CALLSIG_CONFIG") &&
                     !strncmp(var, "CALLSIG_CONFIG", nlen)) ||
                    cs_str_prefix(var, "CALLSIG_TEST_"))
                        continue;

                for (i = 0; i < CS_ARRAY_SIZE(cs_props); i++) {
                        cs_prop_env_name(&cs_props[i], envname,
                                         sizeof(envname));
                        if (strlen(envname) == nlen &&
                            !strncmp(envname, var, nlen))
                                break;
                }
                if (i == CS_ARRAY_SIZE(cs_props)) {
                        char *name = cs_xstrndup(var, nlen);
                        cs_msgtext(shown, sizeof(shown), name, false);
                        free(name);
                        if (cs_str_prefix(var, "CALLSIG_KAFKA_CONSUMER_") ||
                            cs_str_prefix(var, "CALLSIG_KAFKA_PRODUCER_"))
                                cs_errf(errstr, errstr_size,
                                        "env %s: unknown configuration "
                                        "variable (kafka.consumer.* and "
                                        "kafka.producer.* can only be set "
                                        "in the file)",
                                        shown);
                        else
                                cs_errf(errstr, errstr_size,
                                        "env %s: unknown configuration "
                                        "variable",
                                        shown);
                        goto done;
                }
                /* The first of repeated names wins, as with getenv(). */
                if (done_prop[i])
                        continue;
                done_prop[i] = true;
                cs_change_t *chg = cs_changes_add(&changes);
                if (cs_prop_parse(&cs_props[i], eq + 1, chg, problem,
                                  sizeof(problem)) == -1) {
                        cs_errf(errstr, errstr_size, "env %s: %s", envname,
                                problem);
                        goto done;
                }
                chg->origin = cs_xmalloc(strlen(envname) + 5);
                memcpy(chg->origin, "env ", 4);
                memcpy(chg->origin + 4, envname, strlen(envname) + 1);
        }
        cs_changes_apply(conf, &changes);
        r = 0;

done:
        cs_changes_clear(&changes);
        return r;
}


/*
 * Validation.
 */

/* Re-checks one property of @p conf. @returns 0 or -1 with errstr set. */
static int cs_prop_validate(const cs_config_t *conf, const cs_prop_t *prop,
                            char *errstr, size_t errstr_size) {
        const void *field = (const char *)conf + prop->offset;
        char problem[512], envname[CS_CONFIG_KEY_MAX + 16];
        cs_change_t chg;
        int r = -1;

        memset(&chg, 0, sizeof(chg));
        if (prop->type == CS_PROP_INT) {
                const int64_t *ip = field;
                if (*ip < prop->min || *ip > prop->max) {
                        cs_errf(errstr, errstr_size,
                                "%s: %" PRId64 " is out of range [%" PRId64
                                ", %" PRId64 "]",
                                prop->name, *ip, prop->min, prop->max);
                        goto done;
                }
        } else if (prop->type == CS_PROP_ENUM &&
                   !(prop->flags & CS_PROP_F_ENUM_TEXT)) {
                const int *ep = field;
                if (*ep < 0 || (size_t)*ep >= cs_enum_cnt(prop)) {
                        cs_errf(errstr, errstr_size,
                                "%s: invalid value %d", prop->name, *ep);
                        goto done;
                }
        } else {
                const char *const *sp = field;
                if (!*sp) {
                        cs_prop_env_name(prop, envname, sizeof(envname));
                        cs_errf(errstr, errstr_size,
                                "%s: required (set it in the file or with "
                                "%s)",
                                prop->name, envname);
                        goto done;
                }
                if (cs_prop_parse(prop, *sp, &chg, problem,
                                  sizeof(problem)) == -1) {
                        cs_errf(errstr, errstr_size, "%s: %s", prop->name,
                                problem);
                        goto done;
                }
                if (prop->min > 0 && strlen(*sp) < (size_t)prop->min &&
                    !((prop->flags & CS_PROP_F_MIN_NOW) && !**sp)) {
                        cs_errf(errstr, errstr_size,
                                "%s: must be at least %" PRId64
                                " bytes (got %zu)",
                                prop->name, prop->min, strlen(*sp));
                        goto done;
                }
        }
        r = 0;

done:
        cs_change_clear(&chg);
        return r;
}

int cs_config_validate(const cs_config_t *conf, char *errstr,
                       size_t errstr_size) {
        for (size_t i = 0; i < CS_ARRAY_SIZE(cs_props); i++)
                if (cs_prop_validate(conf, &cs_props[i], errstr,
                                     errstr_size) == -1)
                        return -1;

        if (conf->turn_urls[0] && !conf->turn_secret[0]) {
                const char *origin = cs_config_origin(conf, "turn.urls");
                cs_errf(errstr, errstr_size,
                        "%s%sturn.secret: required when turn.urls is set",
                        origin ? origin : "", origin ? ": " : "");
                return -1;
        }
        if (conf->signal_default_timeout > conf->signal_max_timeout) {
                cs_errf(errstr, errstr_size,
                        "signal.default_timeout: %" PRId64
                        " is greater than signal.max_timeout (%" PRId64 ")",
                        conf->signal_default_timeout,
                        conf->signal_max_timeout);
                return -1;
        }
        if (conf->livekit_api_url[0] &&
            strncmp(conf->livekit_api_url, "http://", 7) &&
            strncmp(conf->livekit_api_url, "https://", 8)) {
                cs_errf(errstr, errstr_size,
                        "livekit.api_url: must start with http:// or "
                        "https:// (or be empty)");
                return -1;
        }
        if (!strcmp(conf->topic_livekit_events, conf->topic_commands) ||
            !strcmp(conf->topic_livekit_events, conf->topic_dlq)) {
                cs_errf(errstr, errstr_size,
                        "topics.livekit_events: must differ from topics.commands "
                        "and topics.dlq");
                return -1;
        }
        if (conf->http_listen[0]) {
                const char *colon = strrchr(conf->http_listen, ':');
                char *end = NULL;
                long port = colon ? strtol(colon + 1, &end, 10) : -1;
                if (!colon || colon == conf->http_listen || !colon[1] || *end ||
                    port < 0 || port > 65535) {
                        cs_errf(errstr, errstr_size,
                                "http.listen: \"%s\" is not host:port",
                                conf->http_listen);
                        return -1;
                }
        }
        if (conf->push_topic_partitions == 0 ||
            conf->push_topic_replication == 0) {
                const char *key = conf->push_topic_partitions == 0
                                          ? "push.topic_partitions"
                                          : "push.topic_replication";
                const char *origin = cs_config_origin(conf, key);
                cs_errf(errstr, errstr_size,
                        "%s%s%s: 0 is not allowed (-1: the broker's default)",
                        origin ? origin : "", origin ? ": " : "", key);
                return -1;
        }
        if (!strcmp(conf->topic_commands, conf->topic_dlq)) {
                cs_errf(errstr, errstr_size,
                        "topics.dlq: must differ from topics.commands");
                return -1;
        }
        /* Push messages must never land on the input or dead-letter topic. */
        if (conf->push_mode == CS_PUSH_KEYED &&
            (!strcmp(conf->push_topic, conf->topic_commands) ||
             !strcmp(conf->push_topic, conf->topic_dlq))) {
                cs_errf(errstr, errstr_size,
                        "push.topic: must differ from topics.commands and "
                        "topics.dlq");
                return -1;
        }
        if (conf->push_mode == CS_PUSH_PER_USER &&
            (cs_template_can_give(conf->push_topic_template,
                                  conf->topic_commands) ||
             cs_template_can_give(conf->push_topic_template,
                                  conf->topic_dlq))) {
                cs_errf(errstr, errstr_size,
                        "push.topic_template: some userIDs would get "
                        "topics.commands or topics.dlq as their push topic");
                return -1;
        }
        return 0;
}


/*
 * Output: dump, help, reference.
 */

/* Writes @p s as a YAML double-quoted scalar. */
static void cs_yaml_quoted(FILE *fp, const char *s) {
        fputc('"', fp);
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c == '"' || c == '\\')
                        fprintf(fp, "\\%c", c);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(fp, "\\x%02x", c);
                else
                        fputc(c, fp);
        }
        fputc('"', fp);
}

/* Writes a URI with the password of its userinfo replaced. */
static void cs_yaml_uri(FILE *fp, const char *uri) {
        const char *auth = strstr(uri, "://"), *end, *at, *colon;
        char *shown;

        if (!auth) {
                cs_yaml_quoted(fp, uri);
                return;
        }
        auth += 3;
        end = auth + strcspn(auth, "/?#");
        at = NULL;
        for (const char *p = auth; p < end; p++)
                if (*p == '@')
                        at = p;
        colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (!colon) {
                cs_yaml_quoted(fp, uri);
                return;
        }
        {
                size_t head = (size_t)(colon + 1 - uri), tail = strlen(at);
                size_t rlen = strlen(CS_REDACTED);
                shown = cs_xmalloc(head + rlen + tail + 1);
                memcpy(shown, uri, head);
                memcpy(shown + head, CS_REDACTED, rlen);
                memcpy(shown + head + rlen, at, tail + 1);
        }
        cs_yaml_quoted(fp, shown);
        free(shown);
}

static void cs_dump_passthrough(const cs_config_t *conf, FILE *fp) {
        static const char *const leaves[2] = {"consumer", "producer"};

        for (int ns = 0; ns < 2; ns++) {
                const cs_config_prop_t *props =
                        ns == 0 ? conf->consumer_props : conf->producer_props;
                size_t cnt = ns == 0 ? conf->consumer_prop_cnt
                                     : conf->producer_prop_cnt;
                if (!cnt)
                        continue;
                fprintf(fp, "  %s:\n", leaves[ns]);
                for (size_t i = 0; i < cnt; i++) {
                        fputs("    ", fp);
                        cs_yaml_quoted(fp, props[i].name);
                        fputs(": ", fp);
                        cs_yaml_quoted(fp,
                                       cs_config_passthrough_secret(props[i].name)
                                               ? CS_REDACTED
                                               : props[i].value);
                        fputc('\n', fp);
                }
        }
}

void cs_config_dump(const cs_config_t *conf, FILE *fp) {
        for (size_t i = 0; i < CS_ARRAY_SIZE(cs_props); i++) {
                const cs_prop_t *prop = &cs_props[i];
                const void *field = (const char *)conf + prop->offset;
                const char *dot = strchr(prop->name, '.');
                size_t slen = (size_t)(dot - prop->name);

                if (i == 0 || strncmp(cs_props[i - 1].name, prop->name, slen) ||
                    cs_props[i - 1].name[slen] != '.')
                        fprintf(fp, "%.*s:\n", (int)slen, prop->name);

                if (prop->type == CS_PROP_INT) {
                        const int64_t *ip = field;
                        fprintf(fp, "  %s: %" PRId64 "\n", dot + 1, *ip);
                } else if (prop->type == CS_PROP_ENUM &&
                           !(prop->flags & CS_PROP_F_ENUM_TEXT)) {
                        const int *ep = field;
                        if (*ep >= 0 && (size_t)*ep < cs_enum_cnt(prop))
                                fprintf(fp, "  %s: %s\n", dot + 1,
                                        prop->values[*ep]);
                        else
                                fprintf(fp, "  %s: %d # invalid\n", dot + 1,
                                        *ep);
                } else {
                        const char *const *sp = field;
                        if (!*sp) {
                                fprintf(fp, "  # %s: not set\n", dot + 1);
                        } else {
                                fprintf(fp, "  %s: ", dot + 1);
                                if ((prop->flags & CS_PROP_F_SECRET) && **sp)
                                        cs_yaml_quoted(fp, CS_REDACTED);
                                else if (prop->type == CS_PROP_ENUM &&
                                         cs_enum_index(prop, *sp) >= 0)
                                        fputs(*sp, fp); /* plain, like
                                                           push.mode */
                                else if (prop->flags & CS_PROP_F_URI)
                                        cs_yaml_uri(fp, *sp);
                                else
                                        cs_yaml_quoted(fp, *sp);
                                fputc('\n', fp);
                        }
                }

                /* Pass-through properties close the kafka section. */
                if (!strncmp(prop->name, "kafka.", 6) &&
                    (i + 1 == CS_ARRAY_SIZE(cs_props) ||
                     strncmp(cs_props[i + 1].name, "kafka.", 6)))
                        cs_dump_passthrough(conf, fp);
        }
}

/* Writes the enum names of @p prop separated by @p sep, each in @p quote. */
static void cs_write_values(FILE *fp, const cs_prop_t *prop, const char *sep,
                            const char *quote) {
        for (size_t v = 0; prop->values[v]; v++)
                fprintf(fp, "%s%s%s%s", v ? sep : "", quote, prop->values[v],
                        quote);
}

void cs_config_write_help(FILE *fp) {
        for (size_t i = 0; i < CS_ARRAY_SIZE(cs_props); i++) {
                const cs_prop_t *prop = &cs_props[i];
                fprintf(fp, "  %-30s ", prop->name);
                if (prop->def && !*prop->def)
                        fputs("(empty)", fp);
                else if (prop->def)
                        fputs(prop->def, fp);
                else
                        fputs("(required)", fp);
                if (prop->type == CS_PROP_INT) {
                        fprintf(fp, " [%" PRId64 "..%" PRId64 "]", prop->min,
                                prop->max);
                } else if (prop->type == CS_PROP_ENUM) {
                        fputs(" [", fp);
                        cs_write_values(fp, prop, "|", "");
                        fputc(']', fp);
                } else if (prop->min > 0) {
                        fprintf(fp, " [>= %" PRId64 " bytes]", prop->min);
                }
                if (prop->flags & CS_PROP_F_SECRET)
                        fputs(" (secret)", fp);
                fputc('\n', fp);
        }
        fprintf(fp, "  %-30s librdkafka consumer property (file only)\n",
                "kafka.consumer.<name>");
        fprintf(fp, "  %-30s librdkafka producer property (file only)\n",
                "kafka.producer.<name>");
}

void cs_config_write_reference(FILE *fp) {
        char envname[CS_CONFIG_KEY_MAX + 16];

        fputs("# callsig configuration\n"
              "\n"
              "<!-- Generated by cs_config_write_reference() in "
              "src/config.c: do not edit by hand. -->\n"
              "\n"
              "callsig takes each setting from its built-in default, then "
              "from the YAML file given with `--config`, then from the "
              "environment: a later source wins (defaults < file < "
              "environment). Every key below can be set from the environment "
              "as `CALLSIG_` plus the key uppercased with `.` written as `_` "
              "(`push.topic_template` is `CALLSIG_PUSH_TOPIC_TEMPLATE`). "
              "Unknown keys, duplicate keys and bad values are errors, "
              "reported as `file:line:col: key: problem` for the file "
              "(the position of the offending value, or of the key when the "
              "key is unknown) and `env CALLSIG_X: problem` for the "
              "environment; callsig then exits with status 2. Unknown "
              "`CALLSIG_*` variables are errors too, except `CALLSIG_CONFIG` "
              "and names starting with `CALLSIG_TEST_`.\n"
              "\n"
              "| key | type | default | environment variable | description "
              "|\n"
              "|---|---|---|---|---|\n",
              fp);
        for (size_t i = 0; i < CS_ARRAY_SIZE(cs_props); i++) {
                const cs_prop_t *prop = &cs_props[i];
                cs_prop_env_name(prop, envname, sizeof(envname));
                fprintf(fp, "| `%s` | ", prop->name);
                switch (prop->type) {
                case CS_PROP_INT:
                        fprintf(fp, "integer, %" PRId64 " to %" PRId64,
                                prop->min, prop->max);
                        break;
                case CS_PROP_ENUM:
                        fputs("one of ", fp);
                        cs_write_values(fp, prop, ", ", "`");
                        break;
                case CS_PROP_STRING:
                        fputs((prop->flags & CS_PROP_F_SECRET)
                                      ? "string, secret"
                                      : (prop->flags & CS_PROP_F_TOPIC)
                                                ? "topic name"
                                      : (prop->flags & CS_PROP_F_TEMPLATE)
                                                ? "topic template"
                                      : (prop->flags & CS_PROP_F_LIST)
                                                ? "list of URLs"
                                                : "string",
                              fp);
                        break;
                }
                if (prop->def && !*prop->def)
                        fputs(" | empty | ", fp);
                else if (prop->def)
                        fprintf(fp, " | `%s` | ", prop->def);
                else
                        fputs(" | none: required | ", fp);
                fprintf(fp, "`%s` | %s", envname, prop->desc);
                if (prop->flags & CS_PROP_F_TOPIC)
                        fputs(" 1 to 249 bytes of `A-Z a-z 0-9 . _ -`.", fp);
                if (prop->flags & CS_PROP_F_TEMPLATE)
                        fputs(" Must contain `{user}` exactly once, "
                              "otherwise only `A-Z a-z 0-9 . _ -`.",
                              fp);
                fputs(" |\n", fp);
        }
        fputs("\n"
              "## File format\n"
              "\n"
              "* Nested mappings and dotted keys are the same key, at any "
              "level: `kafka: {brokers: x}`, `kafka.brokers: x` and "
              "`kafka: {consumer.session.timeout.ms: 45000}` all work. A "
              "key may be given once, in whichever form.\n"
              "* Values are scalars; sequences, aliases and multiple "
              "documents are errors. An empty file, or a section left empty "
              "(`kafka:` with nothing under it), keeps the defaults.\n"
              "* Integers are plain decimal (digits, an optional `-`; no "
              "`+`, leading zeros, hex or units) and must lie in the range "
              "shown.\n"
              "* Checks that involve more than one key, and the length of "
              "`livekit.api_secret`, run after the environment is applied: "
              "`signal.default_timeout` must not exceed "
              "`signal.max_timeout`, `topics.dlq` must differ from "
              "`topics.commands`, and push topics must never be "
              "`topics.commands` or `topics.dlq`.\n",
              fp);
        fprintf(fp,
                "* Limits: a file of at most %d bytes, values of at most %d "
                "bytes, mappings nested at most %d deep, at most %d "
                "`kafka.consumer.*` and %d `kafka.producer.*` properties.\n",
                CS_CONFIG_FILE_MAX, CS_CONFIG_VALUE_MAX, CS_CONFIG_DEPTH_MAX,
                CS_CONFIG_PROPS_MAX, CS_CONFIG_PROPS_MAX);
        fputs("\n"
              "## librdkafka pass-through: `kafka.consumer.*`, "
              "`kafka.producer.*`\n"
              "\n"
              "Any key under `kafka.consumer.` or `kafka.producer.` is "
              "handed to librdkafka as a property of the consumer or the "
              "producer, with the prefix removed and the value as text: "
              "`kafka.consumer.session.timeout.ms: 45000` sets "
              "`session.timeout.ms=45000` on the consumer. Nested mappings "
              "flatten with dots here too. These properties override the "
              "librdkafka settings callsig derives itself (such as "
              "`bootstrap.servers` and `group.id`), so use them with care; "
              "librdkafka rejects unknown names and bad values at startup. "
              "They can only be set in the file, not from the environment. "
              "Values of properties whose name contains `password`, "
              "`secret`, `sasl` or `ssl.key` are shown as `[redacted]` in "
              "dumps.\n"
              "\n"
              "callsig's own defaults, which these properties override: "
              "producer `enable.idempotence: true`, `linger.ms: 0`, "
              "`message.timeout.ms: 60000`; consumer "
              "`enable.auto.offset.store: false`, `enable.auto.commit: true`, "
              "`auto.offset.reset: earliest`, "
              "`allow.auto.create.topics: true`, "
              "`enable.partition.eof: false`, `fetch.wait.max.ms: 10`. "
              "`linger.ms` and `fetch.wait.max.ms` are tuned for latency "
              "(a worker answers in milliseconds); docs/BEHAVIOUR.md "
              "(\"Latency defaults\") gives the trade-off and when to raise "
              "them.\n"
              "\n"
              "```yaml\n"
              "kafka:\n"
              "  consumer:\n"
              "    session.timeout.ms: 45000\n"
              "  producer:\n"
              "    linger.ms: 5\n"
              "    compression.type: lz4\n"
              "```\n",
              fp);
}
