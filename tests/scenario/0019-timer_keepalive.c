/*
 * 0019: a timer delivery that keeps failing neither makes its worker leave
 * the group nor lets another worker re-emit it while it may still be in
 * flight.
 *
 * Two workers; the producer's message.timeout.ms is 40 s, the consumer's
 * max.poll.interval.ms 6 s. Bob's push topic is led by broker 3, which goes
 * down after the invite was delivered; the ring deadline then fires and
 * its notifications to bob cannot be delivered for about 33 s. Meanwhile:
 *   - the worker retrying that delivery keeps polling its consumer: no
 *     "maximum poll interval ... leaving group" in any log;
 *   - no worker emits the timer event again while the first delivery may
 *     still be in flight (the redelivery age follows message.timeout.ms; it
 *     used to be a fixed 30 s);
 *   - a command sent during the outage is not lost: it is answered once
 *     the outage ends.
 * Finally bob gets the timeout notification exactly once (checked on the
 * topic, and the content checked on alice's copy).
 *
 * The 33 s observation window is a "must not happen before" bound set by
 * the old fixed 30 s age, so it is not scaled by env_ms() (that would only
 * lengthen the test); deadlines for things that must happen are.
 */
#include "harness.h"

#include <stdio.h>
#include <time.h>

TEST_MAIN_DEFS

static void sleep_ms(int ms) {
        struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* How many messages of @p kind with operation-id @p op are on @p user's
 * push topic, read by a fresh kcat client. */
static int count_on_topic(env_t *env, const char *user, const char *op,
                          const char *kind) {
        char cmd[800], want[200], line[2048];
        snprintf(cmd, sizeof(cmd),
                 "kcat -b '%s' -C -t 'push.%s' -o beginning -e -q -f '%%h\\n' 2>/dev/null",
                 env_bootstraps(env), user);
        snprintf(want, sizeof(want), "operation-id=%s,kind=%s", op, kind);
        FILE *fp = popen(cmd, "r");
        TEST_ASSERT(fp, "popen kcat");
        int n = 0;
        while (fgets(line, sizeof(line), fp))
                if (strstr(line, want))
                        n++;
        pclose(fp);
        return n;
}

static int both_logs(env_t *env, const char *needle) {
        return env_worker_log_count(env, 0, needle) + env_worker_log_count(env, 1, needle);
}

int main(void) {
        env_require_mock(); /* injects faults with the mock cluster */
        env_opts_t opts = {
                .workers = 2,
                .extra_yaml = "kafka.producer.message.timeout.ms: 40000\n"
                              "kafka.consumer.max.poll.interval.ms: 6000\n",
        };
        env_t *env = env_start("timerkeep", &opts);
        rd_kafka_mock_cluster_t *mc = env_cluster(env);
        env_watch(env, "alice");
        env_watch(env, "bob");
        env_watch(env, "carol");
        /* Only bob's topic on broker 3; the group and everything else
         * elsewhere. */
        rd_kafka_mock_coordinator_set(mc, "group", "callsig-timerkeep", 1);
        for (int p = 0; p < 4; p++)
                rd_kafka_mock_partition_set_leader(mc, "signal.commands", p, 1 + p % 2);
        rd_kafka_mock_partition_set_leader(mc, "push.alice", 0, 1);
        rd_kafka_mock_partition_set_leader(mc, "push.carol", 0, 2);
        rd_kafka_mock_partition_set_leader(mc, "push.bob", 0, 3);

        env_send(env, cmd_invite("tk-inv", "alice", (const char *[]){"bob", NULL}, "room-tk",
                                 NULL, "audio", 3),
                 NULL, -1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "alice", "tk-inv"))->errcode, 0);
        env_expect_note(env, "bob", "tk-inv");
        env_expect_note(env, "alice", "tk-inv");

        TEST_INTEQ(rd_kafka_mock_broker_set_down(mc, 3), 0);
        bson_t *doc = env_wait_call(env, "room-tk", "ended", "timeout");
        char op[64];
        snprintf(op, sizeof(op), "%s", doc_str(doc, "pendingTimer"));
        TEST_ASSERT(op[0], "timer outbox holds the event");
        bson_destroy(doc);
        TEST_SAY("timer fired (%s); bob's broker is down", op);

        sleep_ms(10000); /* past max.poll.interval.ms */
        env_send(env, cmd_token("tk-tok", "carol", "no-such-room"), "carol", -1);
        sleep_ms(23000); /* past the old fixed 30 s redelivery age */

        TEST_INTEQ(both_logs(env, "maximum poll interval"), 0);
        TEST_INTEQ(both_logs(env, "leaving group"), 0);
        TEST_INTEQ(both_logs(env, "emitting undelivered timer event"), 0);
        TEST_SAY("33 s of outage: still in the group, nothing re-emitted");

        TEST_INTEQ(rd_kafka_mock_broker_set_up(mc, 3), 0);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "carol", "tk-tok"))->errcode, 1003);
        Openim__V2__SignalReq *req = seen_content(env_expect_note(env, "alice", op));
        TEST_ASSERT(req->payload_case == OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL,
                    "timeout content is a cancel");
        openim__v2__signal_req__free_unpacked(req, NULL);
        /* The slot is cleared once delivered (acknowledged by the broker). */
        for (int i = 0;; i++) {
                doc = env_call_doc(env, "room-tk");
                bool cleared = !doc_has(doc, "pendingTimer");
                bson_destroy(doc);
                if (cleared)
                        break;
                TEST_ASSERT(i < env_ms(30000) / 100, "outbox never cleared");
                sleep_ms(100);
        }
        /* Read bob's topic back with a fresh client: the test's long-lived
         * consumer does not always resume a partition whose broker was down
         * (see 0009). */
        TEST_INTEQ(count_on_topic(env, "bob", op, "notification"), 1);
        sleep_ms(1500);
        TEST_INTEQ(count_on_topic(env, "bob", op, "notification"), 1);
        TEST_INTEQ(both_logs(env, "emitting undelivered timer event"), 0);
        env_stop(env);
        return test_done();
}
