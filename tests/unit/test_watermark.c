/*
 * test_watermark.c: unit tests for the per-partition commit watermark.
 *
 * Proves that the committable position only moves when every tracked
 * offset before it is done: in-order completion advances by one each time,
 * out-of-order completion returns -1 until the gap closes and then the
 * highest contiguous done offset + 1, partitions are independent, forget()
 * drops a partition's offsets, done() on an unknown partition or an
 * untracked offset does not advance, and in_flight() counts what is still
 * tracked across all partitions.
 */
#include <stdint.h>

#include "test.h"
#include "watermark.h"

TEST_MAIN_DEFS

static void test_in_order(void) {
        cs_watermark_t *wm = cs_watermark_new();
        TEST_INTEQ(cs_watermark_in_flight(wm), 0);
        for (int64_t o = 10; o < 15; o++)
                cs_watermark_track(wm, 0, o);
        TEST_INTEQ(cs_watermark_in_flight(wm), 5);
        for (int64_t o = 10; o < 15; o++) {
                TEST_INTEQ(cs_watermark_done(wm, 0, o), o + 1);
                TEST_INTEQ(cs_watermark_in_flight(wm), (int)(14 - o));
        }
        /* A second done of an offset already committed moves nothing. */
        TEST_INTEQ(cs_watermark_done(wm, 0, 14), -1);
        TEST_INTEQ(cs_watermark_in_flight(wm), 0);
        cs_watermark_destroy(wm);
}

static void test_out_of_order(void) {
        cs_watermark_t *wm = cs_watermark_new();
        for (int64_t o = 20; o < 25; o++)
                cs_watermark_track(wm, 3, o);
        /* 22 and 21 finish before 20: nothing may be committed yet. */
        TEST_INTEQ(cs_watermark_done(wm, 3, 22), -1);
        TEST_INTEQ(cs_watermark_in_flight(wm), 5);
        TEST_INTEQ(cs_watermark_done(wm, 3, 21), -1);
        TEST_INTEQ(cs_watermark_done(wm, 3, 24), -1);
        TEST_INTEQ(cs_watermark_in_flight(wm), 5);
        /* 20 closes the gap up to 22 (23 is still in flight). */
        TEST_INTEQ(cs_watermark_done(wm, 3, 20), 23);
        TEST_INTEQ(cs_watermark_in_flight(wm), 2);
        /* 23 closes the rest: 24 was already done. */
        TEST_INTEQ(cs_watermark_done(wm, 3, 23), 25);
        TEST_INTEQ(cs_watermark_in_flight(wm), 0);

        /* Offsets need not be consecutive (compaction, transactions). */
        cs_watermark_track(wm, 3, 40);
        cs_watermark_track(wm, 3, 45);
        cs_watermark_track(wm, 3, 47);
        TEST_INTEQ(cs_watermark_done(wm, 3, 45), -1);
        TEST_INTEQ(cs_watermark_done(wm, 3, 40), 46);
        TEST_INTEQ(cs_watermark_done(wm, 3, 47), 48);

        /* done() of an offset that was never tracked does not advance. */
        cs_watermark_track(wm, 3, 50);
        TEST_INTEQ(cs_watermark_done(wm, 3, 49), -1);
        TEST_INTEQ(cs_watermark_in_flight(wm), 1);
        TEST_INTEQ(cs_watermark_done(wm, 3, 50), 51);
        cs_watermark_destroy(wm);
}

static void test_partitions_independent(void) {
        cs_watermark_t *wm = cs_watermark_new();
        cs_watermark_track(wm, 0, 100);
        cs_watermark_track(wm, 1, 100);
        cs_watermark_track(wm, 0, 101);
        cs_watermark_track(wm, 1, 101);
        cs_watermark_track(wm, 2, 7);
        TEST_INTEQ(cs_watermark_in_flight(wm), 5);

        /* Partition 1 advancing says nothing about partition 0. */
        TEST_INTEQ(cs_watermark_done(wm, 1, 100), 101);
        TEST_INTEQ(cs_watermark_done(wm, 0, 101), -1);
        TEST_INTEQ(cs_watermark_done(wm, 2, 7), 8);
        TEST_INTEQ(cs_watermark_in_flight(wm), 3);
        TEST_INTEQ(cs_watermark_done(wm, 0, 100), 102);
        TEST_INTEQ(cs_watermark_done(wm, 1, 101), 102);
        TEST_INTEQ(cs_watermark_in_flight(wm), 0);

        /* The same offset in two partitions is two entries. */
        cs_watermark_track(wm, 0, 200);
        cs_watermark_track(wm, 1, 200);
        TEST_INTEQ(cs_watermark_done(wm, 0, 200), 201);
        TEST_INTEQ(cs_watermark_in_flight(wm), 1);
        TEST_INTEQ(cs_watermark_done(wm, 1, 200), 201);
        TEST_INTEQ(cs_watermark_in_flight(wm), 0);

        /* Many partitions (the table grows). */
        for (int32_t p = 0; p < 40; p++)
                cs_watermark_track(wm, p, 1000 + p);
        TEST_INTEQ(cs_watermark_in_flight(wm), 40);
        for (int32_t p = 39; p >= 0; p--)
                TEST_INTEQ(cs_watermark_done(wm, p, 1000 + p), 1001 + p);
        TEST_INTEQ(cs_watermark_in_flight(wm), 0);
        cs_watermark_destroy(wm);
}

static void test_forget(void) {
        cs_watermark_t *wm = cs_watermark_new();
        cs_watermark_track(wm, 0, 30);
        cs_watermark_track(wm, 0, 31);
        cs_watermark_track(wm, 1, 5);
        TEST_INTEQ(cs_watermark_done(wm, 0, 31), -1);
        cs_watermark_forget(wm, 0);
        TEST_INTEQ(cs_watermark_in_flight(wm), 1);
        /* Nothing of partition 0 is tracked any more. */
        TEST_INTEQ(cs_watermark_done(wm, 0, 30), -1);
        TEST_INTEQ(cs_watermark_in_flight(wm), 1);
        /* Partition 1 is untouched. */
        TEST_INTEQ(cs_watermark_done(wm, 1, 5), 6);

        /* After a rewind the partition is tracked afresh. */
        cs_watermark_track(wm, 0, 30);
        cs_watermark_track(wm, 0, 31);
        TEST_INTEQ(cs_watermark_in_flight(wm), 2);
        TEST_INTEQ(cs_watermark_done(wm, 0, 30), 31);
        TEST_INTEQ(cs_watermark_done(wm, 0, 31), 32);

        /* Forgetting an unknown or empty partition is harmless. */
        cs_watermark_forget(wm, 77);
        cs_watermark_forget(wm, 0);
        TEST_INTEQ(cs_watermark_in_flight(wm), 0);
        cs_watermark_destroy(wm);
}

static void test_unknown_partition(void) {
        cs_watermark_t *wm = cs_watermark_new();
        TEST_INTEQ(cs_watermark_done(wm, 9, 0), -1);
        cs_watermark_track(wm, 1, 0);
        TEST_INTEQ(cs_watermark_done(wm, 9, 0), -1);
        TEST_INTEQ(cs_watermark_in_flight(wm), 1);
        TEST_INTEQ(cs_watermark_done(wm, 1, 0), 1);
        cs_watermark_destroy(wm);
        /* destroy(NULL) is accepted. */
        cs_watermark_destroy(NULL);
}

int main(void) {
        test_in_order();
        test_out_of_order();
        test_partitions_independent();
        test_forget();
        test_unknown_partition();
        return test_done();
}
