/*
 * 0013: timer notifications survive a worker that stops before delivering
 * them.
 *
 * The ring deadline fires while every broker is down, so the cancel
 * notifications cannot be delivered; the worker is stopped (SIGTERM, exit 0)
 * with the record's timer outbox still holding the event. A new worker,
 * started after the brokers are back, emits the same event again (same
 * operation-id) once the outbox slot is older than the redelivery age (the
 * producer's message.timeout.ms, 3 s here, plus 15 s), and clears it.
 */
#include "harness.h"

#include <signal.h>
#include <time.h>

TEST_MAIN_DEFS

int main(void) {
        env_require_mock(); /* injects faults with the mock cluster */
        env_opts_t opts = {
                .extra_yaml = "kafka.producer.message.timeout.ms: 3000\n",
        };
        env_t *env = env_start("timeroutbox", &opts);
        env_watch(env, "alice");
        env_watch(env, "bob");

        env_send(env, cmd_invite("op-inv", "alice", (const char *[]){"bob", NULL},
                                 "room-outbox", NULL, "audio", 3),
                 NULL, -1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "alice", "op-inv"))->errcode, 0);
        env_expect_note(env, "bob", "op-inv");
        env_expect_note(env, "alice", "op-inv");

        /* Brokers down before the deadline: the timer fires in MongoDB but
         * its notifications cannot be delivered. */
        for (int b = 1; b <= 3; b++)
                rd_kafka_mock_broker_set_down(env_cluster(env), b);
        bson_t *doc = env_wait_call(env, "room-outbox", "ended", "timeout");
        TEST_ASSERT(doc_str(doc, "pendingTimer")[0], "timer outbox holds the event");
        char op[64];
        snprintf(op, sizeof(op), "%s", doc_str(doc, "pendingTimer"));
        TEST_ASSERT(strncmp(op, "timer-", 6) == 0, "timer operationID %s", op);
        TEST_STREQ(doc_str(doc, "events.1.operationID"), op);
        bson_destroy(doc);
        env_worker_wait_log(env, 0, "delivery to push.bob failed", 1, 20000);

        env_worker_signal(env, 0, SIGTERM);
        TEST_INTEQ(env_worker_wait(env, 0, 60000), 0);
        TEST_ASSERT(env_worker_log_has(env, 0, "not delivered yet"),
                    "the stopping worker says the notifications are owed");

        for (int b = 1; b <= 3; b++)
                rd_kafka_mock_broker_set_up(env_cluster(env), b);
        int w = env_worker_start(env);
        env_worker_wait_log(env, w, "emitting undelivered timer event", 1, 60000);

        seen_t *s = env_expect_note(env, "bob", op);
        Openim__V2__SignalReq *req = seen_content(s);
        TEST_ASSERT(req->payload_case == OPENIM__V2__SIGNAL_REQ__PAYLOAD_CANCEL,
                    "timeout content is a cancel");
        TEST_STREQ(req->cancel->opuserid, "alice");
        openim__v2__signal_req__free_unpacked(req, NULL);
        env_expect_note(env, "alice", op);

        /* The slot is cleared once delivered, and nothing is sent twice. */
        int64_t deadline = env_mono_ms() + env_ms(10000);
        for (;;) {
                doc = env_call_doc(env, "room-outbox");
                bool cleared = !doc_has(doc, "pendingTimer");
                bson_destroy(doc);
                if (cleared)
                        break;
                TEST_ASSERT(env_mono_ms() < deadline, "outbox never cleared");
                env_count(env, "bob", NULL, "notification", 50);
        }
        TEST_INTEQ(env_count(env, "bob", op, "notification", 1500), 1);
        env_stop(env);
        return test_done();
}
