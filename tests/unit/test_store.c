/*
 * test_store.c: unit tests for reading call records (src/store.c), no
 * server needed.
 *
 * Proves that a record written before issue 8 (no opsInRecord, no
 * refusals: a rolling upgrade has both versions running) is read as one
 * whose operations the ledger must be asked about, and that a record of
 * issue 8 gives back its kept refusals and answers for its pairs alone.
 */
#include <bson/bson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "store.h"
#include "test.h"

TEST_MAIN_DEFS

static cs_call_t *decode(const char *json) {
        bson_error_t berr;
        bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &berr);
        TEST_ASSERT(doc, "json: %s", berr.message);
        cs_call_t *call = cs_store_decode_call(bson_get_data(doc), doc->len);
        bson_destroy(doc);
        return call;
}

#define OLD_RECORD                                                            \
        "{\"_id\": \"room-old\", \"state\": \"active\", \"endReason\": null," \
        " \"inviterUserID\": \"alice\", \"groupID\": \"\", \"rev\": 3,"      \
        " \"participants\": [{\"userID\": \"alice\", \"role\": \"inviter\","  \
        " \"state\": \"accepted\"}, {\"userID\": \"bob\", \"role\":"          \
        " \"invitee\", \"state\": \"accepted\"}], \"events\": [{\"type\":"    \
        " \"invite\", \"userID\": \"alice\", \"operationID\": \"op-1\","      \
        " \"request\": \"invite\", \"code\": 0}, {\"type\": \"accept\","      \
        " \"userID\": \"bob\", \"operationID\": \"op-2\", \"request\":"       \
        " \"accept\", \"code\": 0}], \"eventsDropped\": 0"

static void test_old_record(void) {
        cs_call_t *c = decode(OLD_RECORD "}");
        TEST_ASSERT(c, "decoded");
        TEST_STREQ(c->room_id, "room-old");
        TEST_INTEQ(c->rev, 3);
        TEST_INTEQ(c->part_cnt, 2);
        TEST_INTEQ(c->event_cnt, 2);
        TEST_ASSERT(!c->ops_in_record, "no opsInRecord: written before issue 8");
        TEST_INTEQ(c->refusal_cnt, 0);
        /* its events still answer a redelivery; anything else: the ledger */
        TEST_ASSERT(cs_call_find_op(c, "bob", "op-2"), "applied accept found");
        TEST_ASSERT(!cs_call_knows_op(c, "op-3"), "the ledger is asked");
        TEST_ASSERT(!cs_call_can_keep_refusal(c, "op-3"), "refusals to the ledger");
        cs_call_destroy(c);
}

static void test_new_record(void) {
        cs_call_t *c = decode(
                OLD_RECORD ", \"opsInRecord\": true, \"refusals\": [{\"userID\":"
                " \"mallory\", \"operationID\": \"op-1\", \"request\": \"accept\","
                " \"errCode\": 1002, \"errMsg\": \"sender is not a participant\","
                " \"at\": {\"$date\": 1795270000000}}, {\"userID\": \"bob\","
                " \"operationID\": \"op-9\", \"request\": \"hungUp\", \"errCode\":"
                " {\"$numberDouble\": \"1004\"}}, \"not a document\"]}");
        TEST_ASSERT(c, "decoded");
        TEST_ASSERT(c->ops_in_record, "opsInRecord");
        TEST_INTEQ(c->refusal_cnt, 2);
        const cs_refusal_t *ref = cs_call_find_refusal(c, "mallory", "op-1");
        TEST_ASSERT(ref, "mallory's refusal");
        TEST_STREQ(ref->request, "accept");
        TEST_INTEQ(ref->code, 1002);
        TEST_STREQ(ref->msg, "sender is not a participant");
        TEST_INTEQ(ref->at, 1795270000000);
        ref = cs_call_find_refusal(c, "bob", "op-9");
        TEST_ASSERT(ref, "bob's refusal");
        TEST_INTEQ(ref->code, 1004); /* a number an operator wrote as double */
        TEST_STREQ(ref->msg, "");
        TEST_ASSERT(cs_call_knows_op(c, "op-3"), "the record answers alone");
        cs_call_destroy(c);

        /* opsInRecord of another type (hand-edited) reads as absent */
        c = decode(OLD_RECORD ", \"opsInRecord\": 1}");
        TEST_ASSERT(c && !c->ops_in_record, "only true is true");
        cs_call_destroy(c);
        /* events trimmed: the ledger is asked */
        c = decode("{\"_id\": \"r\", \"state\": \"ended\", \"opsInRecord\": true,"
                   " \"eventsDropped\": 5}");
        TEST_ASSERT(c && !cs_call_knows_op(c, "op-3"), "trimmed");
        cs_call_destroy(c);
}

int main(void) {
        test_old_record();
        test_new_record();
        return test_done();
}
