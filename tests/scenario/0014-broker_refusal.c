/*
 * 0014: an output the broker refuses for good does not block a partition.
 *
 * The broker leading alice's push topic refuses the next Produce request
 * with MSG_SIZE_TOO_LARGE, an answer that producing again cannot change.
 * The invite's outputs to alice cannot be delivered, so the command goes to
 * the dead-letter topic with the broker's reason (bytes unchanged), is
 * committed, and the next command on the same partition is answered
 * normally. Partition leaders are pinned so that only alice's topic is on
 * the refusing broker.
 */
#include "harness.h"

TEST_MAIN_DEFS

int main(void) {
        env_require_mock(); /* injects faults with the mock cluster */
        env_t *env = env_start("refusal", NULL);
        env_watch(env, "alice");
        env_watch(env, "bob");
        env_watch(env, "carol");
        env_watch_dlq(env);
        rd_kafka_mock_cluster_t *mc = env_cluster(env);
        rd_kafka_mock_partition_set_leader(mc, "push.alice", 0, 3);
        rd_kafka_mock_partition_set_leader(mc, "push.bob", 0, 2);
        rd_kafka_mock_partition_set_leader(mc, "push.carol", 0, 2);
        rd_kafka_mock_partition_set_leader(mc, "signal.dlq", 0, 1);
        rd_kafka_mock_partition_set_leader(mc, "signal.commands", 1, 1);
        rd_kafka_mock_broker_push_request_error_rtts(
                mc, 3, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, 0);

        cmd_t *c = cmd_invite("op-zed", "alice", (const char *[]){"bob", NULL},
                              "room-zed", NULL, "audio", 0);
        size_t len;
        uint8_t *bytes = cmd_pack(c, &len);
        env_send(env, c, "room-zed", 1);

        seen_t *d = env_expect_dlq(env);
        TEST_STREQ(d->key, "room-zed");
        TEST_INTEQ(d->len, len);
        TEST_ASSERT(memcmp(d->value, bytes, len) == 0, "bytes unchanged");
        TEST_STREQ(d->operation_id, "op-zed");
        TEST_ASSERT(d->error && strstr(d->error, "refused by the broker"),
                    "error header names the refusal: %s", d->error ? d->error : "");
        free(bytes);

        /* The same partition goes on: the next command is answered. */
        env_send(env, cmd_token("op-tok", "carol", "no-such-room"), "room-zed", 1);
        TEST_INTEQ(seen_reply(env_expect_reply(env, "carol", "op-tok"))->errcode, 1003);
        env_stop(env);
        return test_done();
}
