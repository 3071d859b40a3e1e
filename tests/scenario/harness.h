/*
 * harness.h: what every scenario test uses to drive the real callsig binary.
 *
 * An environment is: a librdkafka mock cluster (3 brokers, in this process,
 * reached by callsig over TCP), a MongoDB-wire server (tests/mongo/
 * mockmongod.py, or the real MongoDB named by CALLSIG_TEST_MONGODB_URI with a
 * database unique to the run), one or more callsig worker processes started
 * with a generated config file, a producer for commands and a consumer that
 * watches push topics.
 *
 * Waiting is done by polling with deadlines (never fixed sleeps for
 * correctness); every deadline is multiplied by CALLSIG_TEST_TIMEOUT_MULTIPLIER
 * (default 1; the sanitizer build sets 3). Every duration a harness function
 * takes (timeout_ms, ms) is given unscaled and scaled inside; a wait a test
 * makes on its own (a sleep, a client call's timeout) goes through env_ms().
 * The harness's consumer times a broker request out after 3 s (scaled), not
 * librdkafka's 60 s, so it resumes soon after the scenarios' broker outages.
 *
 * With CALLSIG_TEST_KAFKA=real, Kafka is a real Apache Kafka broker instead
 * of the mock cluster: the suite's (scripts/kafka-broker.sh, started once by
 * the ctest fixture; CALLSIG_TEST_KAFKA_BOOTSTRAP or the bootstrap file in
 * CALLSIG_TEST_KAFKA_DIR), or the test's own (env_opts_t.own_broker). Every
 * topic and consumer group then carries "<name>-<pid>" (env_commands_topic(),
 * env_dlq_topic(), env_push_topic()); env_cluster() is NULL, and a test that
 * needs the mock's fault injection calls env_require_mock() first.
 *
 * Environment variables read: CALLSIG_TEST_BIN (the binary, set by ctest),
 * CALLSIG_TEST_SOURCE_DIR (the repo, set by ctest), CALLSIG_TEST_MONGODB_URI,
 * CALLSIG_TEST_TIMEOUT_MULTIPLIER, CALLSIG_TEST_KEEP (keep the temp dir),
 * CALLSIG_TEST_KAFKA, CALLSIG_TEST_KAFKA_BOOTSTRAP, CALLSIG_TEST_KAFKA_DIR.
 */
#ifndef CALLSIG_HARNESS_H
#define CALLSIG_HARNESS_H

#include <bson/bson.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <sys/types.h>
#include <stdbool.h>
#include <stdint.h>

#include "callsig.pb-c.h"
#include "test.h"

#define LK_KEY "testkey"
#define LK_SECRET "test-secret-0123456789abcdef0123456789"
#define LK_URL "ws://livekit.test:7880"

typedef struct env_s env_t;

/* Options of env_start(); zero values are the defaults. */
typedef struct env_opts_s {
        const char *extra_yaml;  /* appended to the generated config */
        bool keyed;              /* push.mode: keyed */
        int workers;             /* callsig processes to start (default 1) */
        bool no_wait;            /* do not wait for partition assignment */
        const char *livekit_url; /* livekit.url of the workers (NULL: LK_URL,
                                    a fake); 0040 sets a real server's */
        bool own_broker;         /* real broker mode: start a broker of the
                                  * test's own (for env_broker_kill()) */
        const char *consumer_yaml; /* replaces the kafka.consumer block's
                                    * lines (each "    key: value\n");
                                    * NULL: session.timeout.ms 6000,
                                    * heartbeat.interval.ms 500, metadata
                                    * refresh 1000, auto commit 200 */
        const char *log_level;   /* the workers' log.level (NULL: debug) */
        int timer_interval_ms;   /* signal.timer_interval_ms (0: 100) */
        int http_port;           /* worker 0's http.listen port (0: a free
                                    one; 0041 picks it with env_free_port()
                                    to give livekit-server its webhook URL
                                    before the worker starts) */
} env_opts_t;

/** @returns true when CALLSIG_TEST_KAFKA=real (a real broker). */
bool env_is_real(void);
/** Exits with ctest's skip code 77 ("skipped: needs the mock cluster") when
 *  the suite runs against a real broker; call it before env_start(). */
void env_require_mock(void);
/** The opposite: exits 77 unless the suite runs against a real broker. */
void env_require_real(void);

/** Clocks in unix ms (wall) and a monotonic ms count (for deadlines). */
int64_t env_wall_ms(void);
int64_t env_mono_ms(void);

/** Starts an environment named @p name (used in topic and database names).
 *  Fails the test on any error. */
env_t *env_start(const char *name, const env_opts_t *opts);

/** Stops the workers (SIGTERM, expects exit 0 unless already stopped),
 *  the Mongo server, the cluster; removes the temp dir. */
void env_stop(env_t *env);

/* ---- accessors ---- */
/** The mock cluster; NULL on a real broker. */
rd_kafka_mock_cluster_t *env_cluster(env_t *env);
/** @returns true if @p env runs on a real broker. */
bool env_real(env_t *env);
const char *env_bootstraps(env_t *env);
const char *env_dir(env_t *env);
const char *env_commands_topic(env_t *env);
const char *env_dlq_topic(env_t *env);
/** The workers' consumer group. */
const char *env_group_id(env_t *env);
/** @returns @p user's push topic (static buf, valid until the next call). */
const char *env_push_topic(env_t *env, const char *user);

/* ---- the test's own broker (own_broker) ---- */
/** SIGKILLs the broker (scripts/kafka-broker.sh kill). */
void env_broker_kill(env_t *env);
/** Starts it again on the same data and ports; returns once it answers. */
void env_broker_restart(env_t *env);
const char *env_mongo_uri(env_t *env);
const char *env_mongo_db(env_t *env);
/** @returns the path of a test asset under the source tree (static buf). */
const char *env_source_path(const char *rel);
/** @returns @p ms times CALLSIG_TEST_TIMEOUT_MULTIPLIER: every wall-clock
 *  wait of a scenario goes through it. */
int env_ms(int ms);

/* ---- workers ---- */
/** Starts another worker process; @returns its index. */
int env_worker_start(env_t *env);
/** The process id of worker @p idx (the benchmark reads its /proc). */
pid_t env_worker_pid(env_t *env, int idx);
/** The MongoDB-wire test server's process id; 0 with CALLSIG_TEST_MONGODB_URI. */
pid_t env_mongo_pid(env_t *env);
/** Sends @p sig to worker @p idx. */
void env_worker_signal(env_t *env, int idx, int sig);
/** Waits for worker @p idx to exit; @returns its exit code (or 128+signal);
 *  fails the test after @p timeout_ms. */
int env_worker_wait(env_t *env, int idx, int timeout_ms);
/** Waits until worker @p idx's log contains @p needle @p count times. */
void env_worker_wait_log(env_t *env, int idx, const char *needle, int count,
                         int timeout_ms);
/** @returns how many times worker @p idx's log contains @p needle. */
int env_worker_log_count(env_t *env, int idx, const char *needle);
/** @returns the index of the one worker whose log shows it handled
 *  operation @p op; fails unless exactly one did. */
int env_worker_of(env_t *env, const char *op);
/** @returns true if worker @p idx's log contains @p needle. */
bool env_worker_log_has(env_t *env, int idx, const char *needle);

/* ---- HTTP (each worker listens on a free port of its own) ---- */

/* An HTTP answer; body owned (free()). status -1: no answer. */
typedef struct http_reply_s {
        int status;
        char *body;
        size_t len;
} http_reply_t;

/** @returns a TCP port of 127.0.0.1 that was free a moment ago. */
/** @returns the whole file at @p path (owned; "" when it cannot be
 *  opened). */
char *env_read_file(const char *path);
int env_free_port(void);
/** @returns worker @p idx's http.listen port. */
int env_worker_http_port(env_t *env, int idx);
/** Sends @p method @p path to worker @p idx, with an Authorization header
 *  of @p auth (NULL: none) and @p body (POST). */
http_reply_t env_http(env_t *env, int idx, const char *method, const char *path,
                      const char *auth, const void *body, size_t len);
/** @returns the value of the series @p series (a metric name with its
 *  labels, as /metrics prints it) of worker @p idx, -1 if absent. */
int64_t env_metric(env_t *env, int idx, const char *series);

/* ---- commands ---- */

/** A SignalCommand under construction (a thin owner of generated structs). */
typedef struct cmd_s cmd_t;

/** invite (case 1) or inviteInGroup (case 2) from @p sender.
 *  @p invitees is a NULL-terminated list; room/group may be NULL. */
cmd_t *cmd_invite(const char *op, const char *sender,
                  const char *const *invitees, const char *room,
                  const char *group, const char *media, int32_t timeout);
/** accept / reject / cancel / hungUp of @p room by @p sender
 *  (req_case: OPENIM__V2__SIGNAL_REQ__PAYLOAD_*). */
cmd_t *cmd_action(const char *op, const char *sender, int req_case,
                  const char *room);
cmd_t *cmd_room_lookup(const char *op, const char *sender, const char *group);
cmd_t *cmd_token(const char *op, const char *sender, const char *room);
/** sendCustomSignal (case 100) of @p info to the others in @p room, or to
 *  the NULL-terminated @p recv (NULL: everyone else). */
cmd_t *cmd_custom(const char *op, const char *sender, const char *room,
                  const char *info, const char *const *recv);
/** A command with no payload, or with case 8 / 9. */
cmd_t *cmd_bare(const char *op, const char *sender, int req_case);

/** The generated struct, for tests that set more fields. */
Callsig__V1__SignalCommand *cmd_msg(cmd_t *c);
/** Sets nickname (and a faceURL) in the request's participant metadata. */
void cmd_set_nickname(cmd_t *c, const char *nickname);
/** Packs @p c (does not free it). */
uint8_t *cmd_pack(cmd_t *c, size_t *lenp);
void cmd_free(cmd_t *c);

/** Produces @p c (freed) with key @p key (NULL: the roomID or sender, as the
 *  contract says), to @p partition (-1: partitioner); waits for the ack. */
void env_send(env_t *env, cmd_t *c, const char *key, int32_t partition);
/** Produces @p a and @p b (both freed) with their keys to the given
 *  partitions back to back, one flush for both, so that two workers see
 *  them at the same time. */
void env_send_pair(env_t *env, cmd_t *a, const char *key_a, int32_t part_a,
                   cmd_t *b, const char *key_b, int32_t part_b);
/** Queues @p c (freed) for the command topic with its default key, without
 *  waiting (load tests; the producer keeps retrying while the broker is
 *  down); env_flush() waits for every ack. */
void env_send_async(env_t *env, cmd_t *c);
void env_flush(env_t *env, int timeout_ms);
/** Produces raw bytes to the command topic. */
void env_send_raw(env_t *env, const void *buf, size_t len, const char *key,
                  int32_t partition);

/* ---- push topics ---- */

/* One message seen on a watched topic. */
typedef struct seen_s {
        char *topic;
        char *key;
        char *kind;          /* header kind */
        char *operation_id;  /* header operation-id, NULL if absent */
        char *error;         /* header error (dead letters) */
        char *source_offset; /* header source-offset (dead letters) */
        uint8_t *value;
        size_t len;
        int32_t partition;
        int64_t offset;
        int64_t recv_ms;      /* wall clock (ms) when the harness consumed it */
        int64_t timestamp_ms; /* the message's timestamp (the producer's
                                 CreateTime unless the topic says otherwise) */
        Callsig__V1__PushMessage *push; /* NULL for dead letters */
        bool taken;          /* returned by env_expect already */
} seen_t;

/** Starts watching @p user's push topic (all partitions, from the start). */
void env_watch(env_t *env, const char *user);
/** Watches the dead-letter topic. */
void env_watch_dlq(env_t *env);
/** Like env_watch() but does not create the topic: waits up to @p timeout_ms
 *  (scaled) for callsig to create it (first-contact tests). */
void env_watch_created(env_t *env, const char *user, int timeout_ms);

/** Waits for the next not-yet-taken reply to @p user whose operation-id is
 *  @p op; fails the test after the deadline. */
seen_t *env_expect_reply(env_t *env, const char *user, const char *op);
/** Waits for the next not-yet-taken notification to @p user with
 *  operation-id @p op (NULL: any). */
seen_t *env_expect_note(env_t *env, const char *user, const char *op);
/** Waits for @p user's reply to @p op and asserts its operationID, its
 *  errCode @p code and its resp case @p resp_case; @returns the reply. */
Callsig__V1__SignalReply *env_expect_code(env_t *env, const char *user,
                                          const char *op, int code,
                                          int resp_case);
/** Waits for the next dead letter. */
seen_t *env_expect_dlq(env_t *env);
/** Polls for @p ms (scaled) and asserts nothing new arrived for @p user. */
void env_expect_quiet(env_t *env, const char *user, int ms);
/** Number of messages seen so far for @p user with operation-id @p op
 *  (after polling @p ms, scaled). */
int env_count(env_t *env, const char *user, const char *op,
              const char *kind, int ms);

/** Forgets every message seen so far (long benchmark runs that have
 *  looked at them; invalidates what env_seen_all() returned). */
void env_seen_drop(env_t *env);
/** Polls for @p ms (scaled); @returns every message seen so far (taken or
 *  not; valid until the next harness call that polls) and their count. */
const seen_t *env_seen_all(env_t *env, int ms, size_t *cntp);

/** The reply payload; asserts kind reply. */
Callsig__V1__SignalReply *seen_reply(seen_t *s);
/** The notification MsgData; asserts kind notification. */
Openim__V2__MsgData *seen_note(seen_t *s);
/** Decodes a notification's content (caller frees with
 *  openim__v2__signal_req__free_unpacked). */
Openim__V2__SignalReq *seen_content(seen_t *s);

/** The opUserID and invitation of a SignalReq, whatever its case (both NULL
 *  for cases that carry neither). Pointers borrowed from @p req. */
void req_op_and_invitation(const Openim__V2__SignalReq *req,
                           const char **op_userp,
                           const Openim__V2__InvitationInfo **invp);

/* ---- MongoDB ---- */

/** @returns the call document of @p room (caller bson_destroy()s) or NULL. */
bson_t *env_call_doc(env_t *env, const char *room);
/** Waits until the call's state (and endReason if non-NULL) match. */
bson_t *env_wait_call(env_t *env, const char *room, const char *state,
                      const char *end_reason);
/** Reads a string at dotted @p path of @p doc ("participants.1.state"). */
const char *doc_str(const bson_t *doc, const char *path);
int64_t doc_int(const bson_t *doc, const char *path);
bool doc_has(const bson_t *doc, const char *path);
/** Counts documents of @p coll matching the JSON @p filter. */
int64_t env_count_docs(env_t *env, const char *coll, const char *filter_json);
/** Runs a command on the admin database (e.g. configureFailPoint). When an
 *  outside backend (CALLSIG_TEST_MONGODB_URI) refuses it, the test stops
 *  here as skipped (exit 77) with the reason on stderr. */
void env_admin_command(env_t *env, const char *json);

/* ---- tokens ---- */

/** Queues @p token for verification with livekit-server-sdk; the claims
 *  checked are sub == @p user and video.room == @p room. */
void env_verify_token_later(env_t *env, const char *token, const char *user,
                            const char *room);
/** Verifies every queued token with one node process; fails on any. */
void env_verify_tokens(env_t *env);

#endif
