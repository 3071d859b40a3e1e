/*
 * cli.c: `callsig history` and `callsig stats` (see cli.h).
 *
 * Definitions used in the output:
 *   ring time  acceptedAt - createdAt for an answered call; endedAt -
 *              createdAt for one that ended unanswered; now - createdAt
 *              while it still rings;
 *   talk time  (endedAt, or now while active) - acceptedAt; none when the
 *              call was never answered;
 *   result     endReason of an ended call, "live" (ringing or active)
 *              otherwise;
 *   answer rate  answered calls (acceptedAt set) / calls that no longer
 *              ring (ended or active).
 *
 * A user's history walks the user_calls index (participants.userID +
 * createdAt descending). Stats scan the calls created in the window,
 * newest first, reading five small fields each, at most CLI_STATS_MAX of
 * them (said in the output when the window holds more): percentiles need
 * the values, and $percentile needs MongoDB 7.0.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "clientconf.h"
#include "config.h"

#define CLI_LIMIT_DEFAULT 20
#define CLI_LIMIT_MAX 1000
#define CLI_STATS_MAX 100000
#define CLI_STATS_MAX_TEXT "100000"
#define CLI_STATS_SINCE_DEFAULT (24 * 3600 * 1000LL)
#define CLI_PEERS_SHOWN 3
#define CLI_KEEP_EVENTS 64 /* CS_CALL_KEEP_EVENTS, as the README states it */

typedef struct cli_opts_s {
        const char *cmd;
        const char *config;
        const char *user;
        const char *room;
        int64_t since_ms; /* 0: not given */
        const char *since_text;
        int64_t limit;    /* 0: not given */
        bool json;
} cli_opts_t;

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cli_usage(FILE *fp) {
        fputs("usage: callsig history --user ID [--since DUR] [--limit N] [--json] "
              "[--config FILE]\n"
              "       callsig history --room ID [--json] [--config FILE]\n"
              "       callsig stats [--since DUR] [--json] [--config FILE]\n"
              "\n"
              "  history --user  a user's calls, newest first (default: the last "
              "20, at most 1000)\n"
              "  history --room  one call: participants and its timeline\n"
              "  stats           calls by result, answer rate, time to answer, "
              "talk time (default --since 24h)\n"
              "  DUR             a number and a unit: 90s, 30m, 24h, 7d, 2w\n"
              "MongoDB is read with the worker's configuration (--config, "
              "CALLSIG_* variables).\n"
              "Exit codes: 0 ok, 1 MongoDB unreachable or no such call, 2 bad "
              "arguments.\n",
              fp);
}

static int bad_args(const char *fmt, ...) CS_PRINTF(1, 2);
static int bad_args(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        fputs("callsig: ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\n\n", stderr);
        cli_usage(stderr);
        return 2;
}

/* "7d" -> ms. @returns false if not a positive number with a unit. */
static bool parse_duration(const char *s, int64_t *msp) {
        char *end;
        if (!s || *s < '0' || *s > '9')
                return false;
        errno = 0;
        long long n = strtoll(s, &end, 10);
        if (errno || n <= 0 || end[0] == '\0' || end[1] != '\0')
                return false;
        int64_t unit;
        switch (end[0]) {
        case 's': unit = 1000; break;
        case 'm': unit = 60 * 1000; break;
        case 'h': unit = 3600 * 1000; break;
        case 'd': unit = 86400 * 1000LL; break;
        case 'w': unit = 7 * 86400 * 1000LL; break;
        default: return false;
        }
        if (n > (long long)(100LL * 366 * 86400 * 1000 / unit))
                return false; /* more than a century */
        *msp = (int64_t)n * unit;
        return true;
}

static int parse_args(int argc, char **argv, cli_opts_t *o) {
        memset(o, 0, sizeof(*o));
        o->cmd = argv[0];
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                        cli_usage(stdout);
                        return -1;
                } else if (!strcmp(a, "--json")) {
                        o->json = true;
                } else if (!strncmp(a, "--config=", 9)) {
                        o->config = a + 9;
                } else if (!strcmp(a, "--config") || !strcmp(a, "-c") ||
                           !strcmp(a, "--user") || !strcmp(a, "--room") ||
                           !strcmp(a, "--since") || !strcmp(a, "--limit")) {
                        if (!v || !strncmp(v, "--", 2))
                                return bad_args("%s needs a value", a);
                        i++;
                        if (a[1] == 'c' || !strcmp(a, "--config")) {
                                o->config = v;
                        } else if (!strcmp(a, "--user")) {
                                if (!*v)
                                        return bad_args("%s", "--user needs a userID");
                                o->user = v;
                        } else if (!strcmp(a, "--room")) {
                                if (!*v)
                                        return bad_args("%s", "--room needs a roomID");
                                o->room = v;
                        } else if (!strcmp(a, "--since")) {
                                if (!parse_duration(v, &o->since_ms))
                                        return bad_args("--since: bad duration '%s' "
                                                        "(a number and a unit: 90s, "
                                                        "30m, 24h, 7d, 2w)", v);
                                o->since_text = v;
                        } else {
                                char *end;
                                errno = 0;
                                long long n = strtoll(v, &end, 10);
                                if (errno || *end || end == v || n < 1 ||
                                    n > CLI_LIMIT_MAX)
                                        return bad_args("--limit: '%s' is not a "
                                                        "number from 1 to 1000", v);
                                o->limit = n;
                        }
                } else {
                        return bad_args("unknown option '%s'", a);
                }
        }
        if (!strcmp(o->cmd, "history")) {
                if (!o->user && !o->room)
                        return bad_args("%s", "history needs --user ID or --room ID");
                if (o->user && o->room)
                        return bad_args("%s", "history takes --user or --room, not both");
                if (o->room && (o->since_ms || o->limit))
                        return bad_args("%s", "--since and --limit go with --user, "
                                              "not --room");
        } else {
                if (o->user || o->room || o->limit)
                        return bad_args("%s", "stats takes --since and --json only");
        }
        return 0;
}

/* ---- reading documents ---- */

static const char *get_str(const bson_t *doc, const char *key) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
                return bson_iter_utf8(&it, NULL);
        return NULL;
}

/* A date (or a number of ms); 0 when absent. */
static int64_t get_ms(const bson_t *doc, const char *key) {
        bson_iter_t it;
        if (!bson_iter_init_find(&it, doc, key))
                return 0;
        if (BSON_ITER_HOLDS_DATE_TIME(&it))
                return bson_iter_date_time(&it);
        if (BSON_ITER_HOLDS_NUMBER(&it))
                return bson_iter_as_int64(&it);
        return 0;
}

static int64_t get_int(const bson_t *doc, const char *key) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_NUMBER(&it))
                return bson_iter_as_int64(&it);
        return 0;
}

static bool get_bool(const bson_t *doc, const char *key, bool *valp) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_BOOL(&it)) {
                *valp = bson_iter_bool(&it);
                return true;
        }
        return false;
}

/* Calls @p fn for every sub-document of array @p key. */
static void each_doc(const bson_t *doc, const char *key,
                     void (*fn)(const bson_t *sub, void *opaque), void *opaque) {
        bson_iter_t it, child;
        if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_ARRAY(&it) ||
            !bson_iter_recurse(&it, &child))
                return;
        while (bson_iter_next(&child)) {
                const uint8_t *data;
                uint32_t len;
                bson_t sub;
                if (!BSON_ITER_HOLDS_DOCUMENT(&child))
                        continue;
                bson_iter_document(&child, &len, &data);
                if (bson_init_static(&sub, data, len))
                        fn(&sub, opaque);
        }
}

/* The users of string array `hiddenFor` (who deleted the call from their
 * own history, contract section 12), as a JSON array. */
static json_t *hidden_for(const bson_t *doc) {
        bson_iter_t it, child;
        json_t *list = json_array();
        if (!bson_iter_init_find(&it, doc, "hiddenFor") || !BSON_ITER_HOLDS_ARRAY(&it) ||
            !bson_iter_recurse(&it, &child))
                return list;
        while (bson_iter_next(&child))
                if (BSON_ITER_HOLDS_UTF8(&child))
                        json_array_append_new(list, json_string(bson_iter_utf8(&child, NULL)));
        return list;
}

static bool json_list_has(const json_t *list, const char *s) {
        size_t i;
        json_t *v;
        json_array_foreach(list, i, v) if (!strcmp(json_string_value(v), s)) return true;
        return false;
}

/* ---- formatting ---- */

/* "2026-11-30 15:55:06Z" (+ ".123" with @p millis); "-" for 0. */
static const char *fmt_time(int64_t ms, bool millis, char *buf, size_t size) {
        if (!ms) {
                snprintf(buf, size, "-");
                return buf;
        }
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        char base[32];
        strftime(base, sizeof(base), "%Y-%m-%d %H:%M:%S", &tm);
        if (millis)
                snprintf(buf, size, "%s.%03dZ", base, (int)(ms % 1000));
        else
                snprintf(buf, size, "%sZ", base);
        return buf;
}

static json_t *json_time(int64_t ms) {
        if (!ms)
                return json_null();
        char buf[40], base[32];
        time_t s = (time_t)(ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf, sizeof(buf), "%s.%03dZ", base, (int)(ms % 1000));
        return json_string(buf);
}

/* "850ms", "12.3s", "4m05s", "2h03m"; "-" for < 0. */
static const char *fmt_dur(int64_t ms, char *buf, size_t size) {
        if (ms < 0)
                snprintf(buf, size, "-");
        else if (ms < 1000)
                snprintf(buf, size, "%" PRId64 "ms", ms);
        else if (ms < 60000)
                snprintf(buf, size, "%.1fs", (double)ms / 1000.0);
        else if (ms < 3600000)
                snprintf(buf, size, "%" PRId64 "m%02" PRId64 "s", ms / 60000,
                         ms / 1000 % 60);
        else
                snprintf(buf, size, "%" PRId64 "h%02" PRId64 "m", ms / 3600000,
                         ms / 60000 % 60);
        return buf;
}

static json_t *json_secs(int64_t ms) {
        return ms < 0 ? json_null() : json_real((double)ms / 1000.0);
}

/* A string made safe for one table cell: control characters become '?'. */
static const char *cell(const char *s, char *buf, size_t size) {
        size_t i = 0;
        if (!s || !*s)
                s = "-";
        for (; *s && i + 1 < size; s++, i++)
                buf[i] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
        buf[i] = '\0';
        return buf;
}

/* An ISO time of the JSON form as a table shows it ("T" -> " "). */
static const char *iso_cell(json_t *iso, char *buf, size_t size) {
        cell(json_string_value(iso), buf, size);
        char *t = strchr(buf, 'T');
        if (t)
                *t = ' ';
        return buf;
}

static void json_out(json_t *doc) {
        json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(doc);
}

/* JSON strings must be UTF-8: anything else is shown with U+FFFD. */
static json_t *jstr(const char *s) {
        if (!s)
                return json_null();
        json_t *j = json_string(s);
        if (j)
                return j;
        char *copy = cs_xstrdup(s);
        for (char *p = copy; *p; p++)
                if ((unsigned char)*p >= 0x80)
                        *p = '?';
        j = json_string(copy);
        free(copy);
        return j ? j : json_null();
}

/* ---- call summaries ---- */

typedef struct summary_s {
        const char *state, *end_reason;
        int64_t created, accepted, ended;
        int64_t ring_ms, talk_ms; /* -1: none */
} summary_t;

static void summarize(const bson_t *doc, int64_t now, summary_t *s) {
        s->state = get_str(doc, "state");
        s->end_reason = get_str(doc, "endReason");
        s->created = get_ms(doc, "createdAt");
        s->accepted = get_ms(doc, "acceptedAt");
        s->ended = get_ms(doc, "endedAt");
        bool live = s->state && strcmp(s->state, "ended");
        if (s->accepted)
                s->ring_ms = s->accepted - s->created;
        else if (s->ended)
                s->ring_ms = s->ended - s->created;
        else
                s->ring_ms = live ? now - s->created : -1;
        if (s->accepted)
                s->talk_ms = (s->ended ? s->ended : now) - s->accepted;
        else
                s->talk_ms = -1;
        if (s->ring_ms < -1)
                s->ring_ms = -1;
        if (s->talk_ms < -1)
                s->talk_ms = -1;
}

static const char *result_of(const summary_t *s) {
        if (s->state && strcmp(s->state, "ended"))
                return "live";
        return s->end_reason ? s->end_reason : "ended";
}

/* ---- history --user ---- */

typedef struct peers_s {
        const char *user;
        const char *user_state;
        const char *user_role;
        json_t *list; /* other userIDs */
} peers_t;

static void collect_peer(const bson_t *part, void *opaque) {
        peers_t *p = opaque;
        const char *id = get_str(part, "userID");
        if (!id)
                return;
        if (!strcmp(id, p->user)) {
                p->user_state = get_str(part, "state");
                p->user_role = get_str(part, "role");
        } else {
                json_array_append_new(p->list, jstr(id));
        }
}

static int history_user(mongoc_collection_t *coll, const cli_opts_t *o) {
        int64_t now = now_ms();
        int64_t limit = o->limit ? o->limit : CLI_LIMIT_DEFAULT;
        bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, child;
        BSON_APPEND_UTF8(&filter, "participants.userID", o->user);
        if (o->since_ms) {
                BSON_APPEND_DOCUMENT_BEGIN(&filter, "createdAt", &child);
                BSON_APPEND_DATE_TIME(&child, "$gte", now - o->since_ms);
                bson_append_document_end(&filter, &child);
        }
        BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &child);
        BSON_APPEND_INT32(&child, "createdAt", -1);
        bson_append_document_end(&opts, &child);
        BSON_APPEND_INT64(&opts, "limit", limit);
        BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &child);
        BSON_APPEND_INT32(&child, "events", 0);
        BSON_APPEND_INT32(&child, "customData", 0);
        bson_append_document_end(&opts, &child);

        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
        const bson_t *doc;
        json_t *calls = json_array();
        while (mongoc_cursor_next(cur, &doc)) {
                summary_t s;
                peers_t p = {.user = o->user, .list = json_array()};
                summarize(doc, now, &s);
                each_doc(doc, "participants", collect_peer, &p);
                const char *group = get_str(doc, "groupID");
                const char *inviter = get_str(doc, "inviterUserID");
                json_t *row = json_object();
                json_object_set_new(row, "roomID", jstr(get_str(doc, "_id")));
                json_object_set_new(row, "createdAt", json_time(s.created));
                json_object_set_new(row, "direction",
                                    json_string(inviter && !strcmp(inviter, o->user)
                                                        ? "out" : "in"));
                json_object_set_new(row, "peers", p.list);
                json_object_set_new(row, "groupID",
                                    group && *group ? jstr(group) : json_null());
                json_object_set_new(row, "mediaType", jstr(get_str(doc, "mediaType")));
                json_object_set_new(row, "result", json_string(result_of(&s)));
                json_object_set_new(row, "state", jstr(s.state));
                json_object_set_new(row, "endReason", jstr(s.end_reason));
                json_object_set_new(row, "userState", jstr(p.user_state));
                json_object_set_new(row, "ringSeconds", json_secs(s.ring_ms));
                json_object_set_new(row, "talkSeconds", json_secs(s.talk_ms));
                json_t *hidden = hidden_for(doc);
                json_object_set_new(row, "hiddenByUser",
                                    json_boolean(json_list_has(hidden, o->user)));
                json_decref(hidden);
                json_array_append_new(calls, row);
        }
        bson_error_t error;
        bool failed = mongoc_cursor_error(cur, &error);
        mongoc_cursor_destroy(cur);
        bson_destroy(&filter);
        bson_destroy(&opts);
        if (failed) {
                fprintf(stderr, "callsig: reading the calls of %s failed: %s\n",
                        o->user, error.message);
                json_decref(calls);
                return 1;
        }

        if (o->json) {
                json_t *out = json_object();
                json_object_set_new(out, "user", jstr(o->user));
                json_object_set_new(out, "since",
                                    o->since_ms ? json_time(now - o->since_ms) : json_null());
                json_object_set_new(out, "limit", json_integer(limit));
                json_object_set_new(out, "calls", calls);
                json_out(out);
                return 0;
        }
        char tb[40], rb[24], kb[24], c1[64], c2[64], c3[64], c4[300];
        printf("calls of %s%s%s, newest first (at most %" PRId64 ")\n",
               cell(o->user, c4, sizeof(c4)), o->since_ms ? " since " : "",
               o->since_ms ? fmt_time(now - o->since_ms, false, tb, sizeof(tb)) : "",
               limit);
        printf("%-20s  %-3s  %-28s  %-5s  %-12s  %-9s  %8s  %8s  %s\n", "TIME (UTC)",
               "DIR", "PEERS", "MEDIA", "RESULT", "USER", "RING", "TALK", "ROOM");
        size_t i;
        json_t *row;
        json_array_foreach(calls, i, row) {
                char peers[200] = "";
                size_t n = json_array_size(json_object_get(row, "peers")), o2 = 0;
                json_t *grp = json_object_get(row, "groupID");
                if (json_is_string(grp))
                        o2 += (size_t)snprintf(peers, sizeof(peers), "[%s] ",
                                               json_string_value(grp));
                for (size_t k = 0; k < n && k < CLI_PEERS_SHOWN && o2 < sizeof(peers); k++)
                        o2 += (size_t)snprintf(peers + o2, sizeof(peers) - o2, "%s%s",
                                               k ? "," : "",
                                               json_string_value(json_array_get(
                                                       json_object_get(row, "peers"), k)));
                if (n > CLI_PEERS_SHOWN && o2 < sizeof(peers))
                        snprintf(peers + o2, sizeof(peers) - o2, " +%zu", n - CLI_PEERS_SHOWN);
                json_t *ring = json_object_get(row, "ringSeconds");
                json_t *talk = json_object_get(row, "talkSeconds");
                int64_t ring_ms = json_is_real(ring) ? (int64_t)(json_real_value(ring) * 1000.0 + 0.5) : -1;
                int64_t talk_ms = json_is_real(talk) ? (int64_t)(json_real_value(talk) * 1000.0 + 0.5) : -1;
                /* "2026-11-30T15:55:06.123Z" -> "2026-11-30 15:55:06Z" */
                const char *iso = json_string_value(json_object_get(row, "createdAt"));
                char when[24];
                snprintf(when, sizeof(when), "%.10s %.8sZ", iso ? iso : "-",
                         iso && strlen(iso) > 11 ? iso + 11 : "");
                bool hid = json_is_true(json_object_get(row, "hiddenByUser"));
                printf("%-20s  %-3s  %-28s  %-5s  %-12s  %-9s  %8s  %8s  %s%s\n",
                       iso ? when : "-",
                       json_string_value(json_object_get(row, "direction")),
                       cell(peers, c4, sizeof(c4)),
                       cell(json_string_value(json_object_get(row, "mediaType")), c1, sizeof(c1)),
                       json_string_value(json_object_get(row, "result")),
                       cell(json_string_value(json_object_get(row, "userState")), c2, sizeof(c2)),
                       fmt_dur(ring_ms, rb, sizeof(rb)), fmt_dur(talk_ms, kb, sizeof(kb)),
                       cell(json_string_value(json_object_get(row, "roomID")), c3, sizeof(c3)),
                       hid ? "  (hidden by the user)" : "");
        }
        printf("%zu call(s)\n", json_array_size(calls));
        json_decref(calls);
        return 0;
}

/* ---- history --room ---- */

typedef struct timeline_s {
        json_t *parts;
        json_t *items; /* {at (ms, removed before output), source, type, ...} */
} timeline_t;

static void add_item(timeline_t *t, int64_t at, const char *source,
                     const char *type, const char *user, json_t *platform,
                     const char *op, json_t *code) {
        json_t *e = json_object();
        json_object_set_new(e, "atMs", json_integer(at));
        json_object_set_new(e, "at", json_time(at));
        json_object_set_new(e, "source", json_string(source));
        json_object_set_new(e, "type", jstr(type));
        json_object_set_new(e, "userID", jstr(user));
        json_object_set_new(e, "platformID", platform ? platform : json_null());
        json_object_set_new(e, "operationID", jstr(op));
        json_object_set_new(e, "code", code ? code : json_null());
        json_array_append_new(t->items, e);
}

static void collect_part(const bson_t *part, void *opaque) {
        timeline_t *t = opaque;
        const char *user = get_str(part, "userID");
        int64_t joined = get_ms(part, "joinedRoomAt");
        int64_t left = get_ms(part, "leftRoomAt");
        bool in_room, has_in = get_bool(part, "inRoom", &in_room);
        json_t *p = json_object();
        json_object_set_new(p, "userID", jstr(user));
        json_object_set_new(p, "role", jstr(get_str(part, "role")));
        json_object_set_new(p, "state", jstr(get_str(part, "state")));
        json_object_set_new(p, "platformID", json_integer(get_int(part, "platformID")));
        json_object_set_new(p, "updatedAt", json_time(get_ms(part, "updatedAt")));
        json_object_set_new(p, "inRoom", has_in ? json_boolean(in_room) : json_null());
        json_object_set_new(p, "joinedRoomAt", json_time(joined));
        json_object_set_new(p, "leftRoomAt", json_time(left));
        json_array_append_new(t->parts, p);
        if (joined)
                add_item(t, joined, "room", "room_joined", user, NULL, NULL, NULL);
        if (left)
                add_item(t, left, "room", "room_left", user, NULL, NULL, NULL);
}

static void collect_event(const bson_t *ev, void *opaque) {
        timeline_t *t = opaque;
        bson_iter_t it;
        json_t *code = bson_iter_init_find(&it, ev, "code") && BSON_ITER_HOLDS_NUMBER(&it)
                               ? json_integer(bson_iter_as_int64(&it)) : NULL;
        add_item(t, get_ms(ev, "at"), "signal", get_str(ev, "type"),
                 get_str(ev, "userID"), json_integer(get_int(ev, "platformID")),
                 get_str(ev, "operationID"), code);
}

static int by_time(const void *a, const void *b) {
        const json_t *const *x = a, *const *y = b;
        int64_t ta = json_integer_value(json_object_get(*x, "atMs"));
        int64_t tb = json_integer_value(json_object_get(*y, "atMs"));
        if (ta != tb)
                return ta < tb ? -1 : 1;
        /* Equal times: the order of collection (signal events first). */
        int64_t sa = json_integer_value(json_object_get(*x, "seq"));
        int64_t sb = json_integer_value(json_object_get(*y, "seq"));
        return sa < sb ? -1 : sa > sb;
}

static int history_room(mongoc_collection_t *coll, const cli_opts_t *o) {
        int64_t now = now_ms();
        bson_t filter = BSON_INITIALIZER;
        BSON_APPEND_UTF8(&filter, "_id", o->room);
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
        const bson_t *found;
        bson_t *doc = mongoc_cursor_next(cur, &found) ? bson_copy(found) : NULL;
        bson_error_t error;
        bool failed = mongoc_cursor_error(cur, &error);
        mongoc_cursor_destroy(cur);
        bson_destroy(&filter);
        if (failed) {
                fprintf(stderr, "callsig: reading call %s failed: %s\n", o->room,
                        error.message);
                bson_destroy(doc);
                return 1;
        }
        if (!doc) {
                fprintf(stderr, "callsig: no call record with roomID '%s'\n", o->room);
                return 1;
        }

        summary_t s;
        summarize(doc, now, &s);
        timeline_t t = {.parts = json_array(), .items = json_array()};
        each_doc(doc, "events", collect_event, &t);
        size_t kept = json_array_size(t.items);
        each_doc(doc, "participants", collect_part, &t);
        int64_t dropped = get_int(doc, "eventsDropped");

        /* Sort the timeline by time, stable. */
        size_t n = json_array_size(t.items);
        json_t **v = cs_xcalloc(n ? n : 1, sizeof(*v));
        for (size_t i = 0; i < n; i++) {
                v[i] = json_incref(json_array_get(t.items, i));
                json_object_set_new(v[i], "seq", json_integer((json_int_t)i));
        }
        qsort(v, n, sizeof(*v), by_time);
        json_t *timeline = json_array();
        for (size_t i = 0; i < n; i++) {
                json_object_del(v[i], "seq");
                json_array_append_new(timeline, v[i]);
        }
        free(v);
        json_decref(t.items);

        const char *group = get_str(doc, "groupID");
        if (o->json) {
                json_t *out = json_object();
                json_object_set_new(out, "roomID", jstr(o->room));
                json_object_set_new(out, "state", jstr(s.state));
                json_object_set_new(out, "endReason", jstr(s.end_reason));
                json_object_set_new(out, "result", json_string(result_of(&s)));
                json_object_set_new(out, "inviterUserID", jstr(get_str(doc, "inviterUserID")));
                json_object_set_new(out, "groupID",
                                    group && *group ? jstr(group) : json_null());
                json_object_set_new(out, "mediaType", jstr(get_str(doc, "mediaType")));
                json_object_set_new(out, "sessionType",
                                    json_integer(get_int(doc, "sessionType")));
                json_object_set_new(out, "createdAt", json_time(s.created));
                json_object_set_new(out, "acceptedAt", json_time(s.accepted));
                json_object_set_new(out, "endedAt", json_time(s.ended));
                json_object_set_new(out, "ringSeconds", json_secs(s.ring_ms));
                json_object_set_new(out, "talkSeconds", json_secs(s.talk_ms));
                json_object_set_new(out, "participants", t.parts);
                json_object_set_new(out, "hiddenFor", hidden_for(doc));
                json_object_set_new(out, "eventsKept", json_integer((json_int_t)kept));
                json_object_set_new(out, "eventsDropped", json_integer(dropped));
                size_t i;
                json_t *e;
                json_array_foreach(timeline, i, e) json_object_del(e, "atMs");
                json_object_set_new(out, "timeline", timeline);
                json_out(out);
                bson_destroy(doc);
                return 0;
        }

        char b1[40], b2[40], b3[40], d1[24], d2[24], c1[300], c2[64], c3[64], c4[300];
        printf("room       %s\n", cell(o->room, c1, sizeof(c1)));
        printf("state      %s%s%s%s\n", cell(s.state, c2, sizeof(c2)),
               s.end_reason ? " (" : "", s.end_reason ? s.end_reason : "",
               s.end_reason ? ")" : "");
        printf("inviter    %s   group %s   media %s   sessionType %" PRId64 "\n",
               cell(get_str(doc, "inviterUserID"), c1, sizeof(c1)),
               cell(group, c4, sizeof(c4)),
               cell(get_str(doc, "mediaType"), c3, sizeof(c3)),
               get_int(doc, "sessionType"));
        printf("created    %s   accepted %s   ended %s\n",
               fmt_time(s.created, true, b1, sizeof(b1)),
               fmt_time(s.accepted, true, b2, sizeof(b2)),
               fmt_time(s.ended, true, b3, sizeof(b3)));
        printf("ring time  %s   talk time %s\n", fmt_dur(s.ring_ms, d1, sizeof(d1)),
               fmt_dur(s.talk_ms, d2, sizeof(d2)));
        {
                json_t *hidden = hidden_for(doc);
                size_t hi;
                json_t *hv;
                if (json_array_size(hidden)) {
                        printf("hidden for");
                        json_array_foreach(hidden, hi, hv)
                                printf("%s%s", hi ? ", " : " ",
                                       cell(json_string_value(hv), c1, sizeof(c1)));
                        printf("   (deleted from their own history; the record stays)\n");
                }
                json_decref(hidden);
        }
        printf("\nPARTICIPANTS\n%-20s  %-7s  %-9s  %8s  %-24s  %-7s  %-24s  %s\n",
               "USER", "ROLE", "STATE", "PLATFORM", "UPDATED", "IN ROOM",
               "JOINED ROOM", "LEFT ROOM");
        size_t i;
        json_t *p;
        json_array_foreach(t.parts, i, p) {
                json_t *in = json_object_get(p, "inRoom");
                printf("%-20s  %-7s  %-9s  %8" PRId64 "  %-24s  %-7s  %-24s  %s\n",
                       cell(json_string_value(json_object_get(p, "userID")), c1, sizeof(c1)),
                       cell(json_string_value(json_object_get(p, "role")), c2, sizeof(c2)),
                       cell(json_string_value(json_object_get(p, "state")), c3, sizeof(c3)),
                       (int64_t)json_integer_value(json_object_get(p, "platformID")),
                       iso_cell(json_object_get(p, "updatedAt"), b1, sizeof(b1)),
                       json_is_null(in) ? "-" : json_is_true(in) ? "yes" : "no",
                       iso_cell(json_object_get(p, "joinedRoomAt"), b2, sizeof(b2)),
                       iso_cell(json_object_get(p, "leftRoomAt"), b3, sizeof(b3)));
        }
        printf("\nTIMELINE\n");
        if (dropped > 0)
                printf("note: %" PRId64 " earlier event(s) were dropped: the record "
                       "keeps only its most recent %d events (eventsDropped)\n",
                       dropped, CLI_KEEP_EVENTS);
        printf("%-24s  %-6s  %-12s  %-20s  %8s  %-24s  %s\n", "TIME (UTC)", "SOURCE",
               "EVENT", "USER", "PLATFORM", "OPERATION", "CODE");
        json_t *e;
        json_array_foreach(timeline, i, e) {
                json_t *plat = json_object_get(e, "platformID");
                json_t *code = json_object_get(e, "code");
                char pb[24] = "-", cb[24] = "-";
                if (json_is_integer(plat))
                        snprintf(pb, sizeof(pb), "%" JSON_INTEGER_FORMAT, json_integer_value(plat));
                if (json_is_integer(code))
                        snprintf(cb, sizeof(cb), "%" JSON_INTEGER_FORMAT, json_integer_value(code));
                printf("%-24s  %-6s  %-12s  %-20s  %8s  %-24s  %s\n",
                       fmt_time(json_integer_value(json_object_get(e, "atMs")), true, b1, sizeof(b1)),
                       json_string_value(json_object_get(e, "source")),
                       cell(json_string_value(json_object_get(e, "type")), c2, sizeof(c2)),
                       cell(json_string_value(json_object_get(e, "userID")), c1, sizeof(c1)),
                       pb, cell(json_string_value(json_object_get(e, "operationID")), c4, sizeof(c4)),
                       cb);
        }
        printf("%zu signalling event(s) kept, %" PRId64 " dropped\n", kept, dropped);
        json_decref(t.parts);
        json_decref(timeline);
        bson_destroy(doc);
        return 0;
}

/* ---- stats ---- */

typedef struct i64v_s {
        int64_t *v;
        size_t cnt, size;
} i64v_t;

static void i64v_add(i64v_t *a, int64_t x) {
        if (a->cnt == a->size) {
                a->size = a->size ? a->size * 2 : 64;
                a->v = cs_xrealloc(a->v, a->size * sizeof(*a->v));
        }
        a->v[a->cnt++] = x;
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
        return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted @p a; -1 when empty. */
static int64_t pct(const i64v_t *a, int p) {
        if (!a->cnt)
                return -1;
        size_t rank = (a->cnt * (size_t)p + 99) / 100;
        return a->v[rank ? rank - 1 : 0];
}

static int stats(mongoc_collection_t *coll, const cli_opts_t *o) {
        int64_t now = now_ms();
        int64_t span = o->since_ms ? o->since_ms : CLI_STATS_SINCE_DEFAULT;
        int64_t since = now - span;
        bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, child;
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "createdAt", &child);
        BSON_APPEND_DATE_TIME(&child, "$gte", since);
        bson_append_document_end(&filter, &child);
        BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &child);
        BSON_APPEND_INT32(&child, "createdAt", -1);
        bson_append_document_end(&opts, &child);
        BSON_APPEND_INT64(&opts, "limit", CLI_STATS_MAX + 1);
        BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &child);
        const char *fields[] = {"state", "endReason", "createdAt", "acceptedAt", "endedAt"};
        for (size_t i = 0; i < CS_ARRAY_SIZE(fields); i++)
                BSON_APPEND_INT32(&child, fields[i], 1);
        bson_append_document_end(&opts, &child);

        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, &opts, NULL);
        const bson_t *doc;
        json_t *by_result = json_object();
        i64v_t answer = {0}, talk = {0};
        int64_t calls = 0, decided = 0, answered = 0;
        bool truncated = false;
        while (mongoc_cursor_next(cur, &doc)) {
                if (calls == CLI_STATS_MAX) {
                        truncated = true;
                        break;
                }
                summary_t s;
                summarize(doc, now, &s);
                calls++;
                const char *r = result_of(&s);
                json_t *n = json_object_get(by_result, r);
                json_object_set_new(by_result, r,
                                    json_integer(n ? json_integer_value(n) + 1 : 1));
                if (!s.state || strcmp(s.state, "ringing"))
                        decided++;
                if (s.accepted) {
                        answered++;
                        i64v_add(&answer, s.accepted - s.created);
                        if (s.ended)
                                i64v_add(&talk, s.ended - s.accepted);
                }
        }
        bson_error_t error;
        bool failed = mongoc_cursor_error(cur, &error);
        mongoc_cursor_destroy(cur);
        bson_destroy(&filter);
        bson_destroy(&opts);
        if (failed) {
                fprintf(stderr, "callsig: reading the calls failed: %s\n", error.message);
                json_decref(by_result);
                free(answer.v);
                free(talk.v);
                return 1;
        }
        if (answer.cnt)
                qsort(answer.v, answer.cnt, sizeof(int64_t), cmp_i64);
        if (talk.cnt)
                qsort(talk.v, talk.cnt, sizeof(int64_t), cmp_i64);
        int64_t med = pct(&answer, 50), p50 = pct(&talk, 50), p90 = pct(&talk, 90),
                p99 = pct(&talk, 99);

        if (o->json) {
                json_t *out = json_object();
                json_object_set_new(out, "since", json_time(since));
                json_object_set_new(out, "until", json_time(now));
                json_object_set_new(out, "calls", json_integer(calls));
                json_object_set_new(out, "truncated", json_boolean(truncated));
                json_object_set_new(out, "scanLimit", json_integer(CLI_STATS_MAX));
                json_object_set_new(out, "byResult", by_result);
                json_object_set_new(out, "answered", json_integer(answered));
                json_object_set_new(out, "decided", json_integer(decided));
                json_object_set_new(out, "answerRate",
                                    decided ? json_real((double)answered / (double)decided)
                                            : json_null());
                json_object_set_new(out, "timeToAnswerMedianSeconds", json_secs(med));
                json_t *tt = json_object();
                json_object_set_new(tt, "count", json_integer((json_int_t)talk.cnt));
                json_object_set_new(tt, "p50", json_secs(p50));
                json_object_set_new(tt, "p90", json_secs(p90));
                json_object_set_new(tt, "p99", json_secs(p99));
                json_object_set_new(out, "talkTimeSeconds", tt);
                json_out(out);
        } else {
                char b1[40], b2[40], d1[24], d2[24], d3[24];
                printf("calls created %s .. %s: %" PRId64 "%s\n",
                       fmt_time(since, false, b1, sizeof(b1)),
                       fmt_time(now, false, b2, sizeof(b2)), calls,
                       truncated ? " (the newest " CLI_STATS_MAX_TEXT
                                   " only: narrow --since for all)" : "");
                printf("%-14s  %8s\n", "RESULT", "CALLS");
                const char *key;
                json_t *val;
                json_object_foreach(by_result, key, val)
                        printf("%-14s  %8" JSON_INTEGER_FORMAT "\n", key,
                               json_integer_value(val));
                if (decided)
                        printf("answer rate     %.1f%% (%" PRId64 " answered of %" PRId64
                               " no longer ringing)\n",
                               100.0 * (double)answered / (double)decided, answered,
                               decided);
                else
                        printf("answer rate     - (no call has been answered or ended)\n");
                printf("time to answer  median %s\n", fmt_dur(med, d1, sizeof(d1)));
                printf("talk time       p50 %s  p90 %s  p99 %s  (%zu ended answered "
                       "call(s))\n",
                       fmt_dur(p50, d1, sizeof(d1)), fmt_dur(p90, d2, sizeof(d2)),
                       fmt_dur(p99, d3, sizeof(d3)), talk.cnt);
                json_decref(by_result);
        }
        free(answer.v);
        free(talk.v);
        return 0;
}

/* ---- entry ---- */

static void drop_log(mongoc_log_level_t level, const char *domain,
                     const char *message, void *opaque) {
        (void)level, (void)domain, (void)message, (void)opaque;
}

bool cs_cli_is_command(const char *arg) {
        return arg && (!strcmp(arg, "history") || !strcmp(arg, "stats"));
}

int cs_cli_main(int argc, char **argv, char *const *envp) {
        cli_opts_t o;
        char errstr[1024];
        int rc = parse_args(argc, argv, &o);
        if (rc)
                return rc < 0 ? 0 : rc;

        cs_config_t *conf = cs_config_new();
        bool inited = false;
        mongoc_uri_t *uri = NULL;
        mongoc_client_t *client = NULL;
        mongoc_collection_t *coll = NULL;
        rc = 2;
        if ((o.config && cs_config_load_file(conf, o.config, errstr, sizeof(errstr))) ||
            cs_config_apply_env(conf, envp, errstr, sizeof(errstr))) {
                fprintf(stderr, "callsig: %s\n", errstr);
                goto done;
        }
        mongoc_init();
        inited = true;
        mongoc_log_set_handler(drop_log, NULL);
        uri = cs_clientconf_mongo_uri(conf, errstr, sizeof(errstr));
        if (!uri) {
                fprintf(stderr, "callsig: %s\n", errstr);
                goto done;
        }
        rc = 1;
        client = mongoc_client_new_from_uri(uri);
        char hosts[512] = "";
        size_t off = 0;
        for (const mongoc_host_list_t *h = mongoc_uri_get_hosts(uri); h && off < sizeof(hosts);
             h = h->next)
                off += (size_t)snprintf(hosts + off, sizeof(hosts) - off, "%s%s",
                                        off ? "," : "", h->host_and_port);
        bson_t ping = BSON_INITIALIZER;
        bson_error_t error;
        BSON_APPEND_INT32(&ping, "ping", 1);
        bool ok = client && mongoc_client_command_simple(client, "admin", &ping, NULL,
                                                         NULL, &error);
        bson_destroy(&ping);
        if (!ok) {
                fprintf(stderr, "callsig: cannot reach MongoDB at %s: %s\n",
                        hosts[0] ? hosts : "(no host)",
                        client ? error.message : "client not created");
                goto done;
        }
        coll = mongoc_client_get_collection(client, conf->mongodb_database, "calls");
        if (!strcmp(o.cmd, "stats"))
                rc = stats(coll, &o);
        else if (o.user)
                rc = history_user(coll, &o);
        else
                rc = history_room(coll, &o);
        fflush(stdout);
done:
        mongoc_collection_destroy(coll);
        mongoc_client_destroy(client);
        mongoc_uri_destroy(uri);
        cs_config_destroy(conf);
        if (inited)
                mongoc_cleanup();
        return rc;
}
