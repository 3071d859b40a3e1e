/*
 * 0016: a start-up error that retrying cannot fix stops the worker with
 * exit status 1 and a clear message (contract section 8), instead of a
 * retry loop that never ends.
 *
 * A first worker creates callsig's indexes and stops. The test then
 * replaces the `expire` index of `operations` by one with the same name and
 * key but other options (expireAfterSeconds 5 instead of 0): MongoDB (and
 * mockmongod) refuse callsig's createIndexes with code 85,
 * IndexOptionsConflict. A second worker must exit 1 within seconds, saying
 * why.
 *
 * Needs both halves: the store classifying codes 85/86 as not retriable
 * (store.c) and the worker exiting on any non-retriable set-up error
 * (worker.c).
 */
#include "harness.h"

#include <mongoc/mongoc.h>
#include <signal.h>

TEST_MAIN_DEFS

static void run(mongoc_client_t *client, const char *db, const char *json) {
        bson_error_t berr;
        bson_t *cmd = bson_new_from_json((const uint8_t *)json, -1, &berr);
        TEST_ASSERT(cmd, "json: %s", berr.message);
        TEST_ASSERT(mongoc_client_command_simple(client, db, cmd, NULL, NULL, &berr),
                    "%s: %s", json, berr.message);
        bson_destroy(cmd);
}

int main(void) {
        env_t *env = env_start("setuperr", NULL);
        env_worker_signal(env, 0, SIGTERM);
        TEST_INTEQ(env_worker_wait(env, 0, 30000), 0);

        mongoc_client_t *client = mongoc_client_new(env_mongo_uri(env));
        TEST_ASSERT(client, "mongoc_client_new");
        run(client, env_mongo_db(env), "{\"dropIndexes\": \"operations\", \"index\": \"expire\"}");
        run(client, env_mongo_db(env),
            "{\"createIndexes\": \"operations\", \"indexes\": [{\"key\": {\"expireAt\": 1},"
            " \"name\": \"expire\", \"expireAfterSeconds\": 5}]}");
        mongoc_client_destroy(client);

        int w = env_worker_start(env);
        int rc = env_worker_wait(env, w, 15000);
        TEST_INTEQ(rc, 1);
        TEST_ASSERT(env_worker_log_has(env, w, "cannot start"), "the log says why");
        TEST_ASSERT(env_worker_log_has(env, w, "expire"), "the log names the index");
        TEST_ASSERT(!env_worker_log_has(env, w, "consuming"), "never consumed");
        env_stop(env);
        return test_done();
}
