/*
 * 0018: a rebalance that lands while partitions are paused for a retry
 * backoff does not leave any of them paused for good.
 *
 * One worker owns all four partitions of the command topic. A failpoint
 * fails every MongoDB command of callsig, so a command on each partition
 * is retried with a backoff that grows to mongodb.retry_max_backoff_ms
 * (8 s here): the partitions spend nearly all their time paused. A second
 * worker joins (a rebalance during the backoff: the first worker gets two
 * partitions back), then the failpoint is cleared. Every command must be
 * answered within a bounded time, whichever worker ends up with it.
 */
#include "harness.h"

#include <stdlib.h>

TEST_MAIN_DEFS

int main(void) {
        setenv("CALLSIG_SIGNAL_MAX_ATTEMPTS", "1000", 1); /* never give up here */
        setenv("CALLSIG_MONGODB_RETRY_MAX_BACKOFF_MS", "8000", 1);
        env_t *env = env_start("rebalance", NULL);
        char users[4][16], ops[4][16];
        for (int p = 0; p < 4; p++) {
                snprintf(users[p], sizeof(users[p]), "rb-user-%d", p);
                snprintf(ops[p], sizeof(ops[p]), "rb-tok-%d", p);
                env_watch(env, users[p]);
        }

        env_admin_command(env,
                          "{\"configureFailPoint\": \"failCommand\", \"mode\": \"alwaysOn\","
                          " \"data\": {\"failCommands\": [\"find\", \"insert\", \"update\","
                          " \"delete\", \"findAndModify\", \"aggregate\", \"count\"],"
                          " \"errorCode\": 91, \"appName\": \"callsig\"}}");
        for (int p = 0; p < 4; p++)
                env_send(env, cmd_token(ops[p], users[p], "no-such-room"), users[p], p);
        /* Backoffs at the cap: every partition is paused most of the time. */
        env_worker_wait_log(env, 0, "will be retried in 8000 ms", 2, 60000);
        TEST_SAY("partitions in long backoffs; a second worker joins");

        int w1 = env_worker_start(env);
        env_worker_wait_log(env, w1, "assigned", 1, 30000);
        env_worker_wait_log(env, 0, "assigned", 2, 30000);
        TEST_SAY("rebalanced; store back");
        env_admin_command(env, "{\"configureFailPoint\": \"failCommand\", \"mode\": \"off\"}");

        /* env_expect_reply waits 20 s (scaled): more than two backoffs. */
        for (int p = 0; p < 4; p++)
                TEST_INTEQ(seen_reply(env_expect_reply(env, users[p], ops[p]))->errcode, 1003);
        env_stop(env);
        return test_done();
}
