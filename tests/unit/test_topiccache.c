/*
 * test_topiccache.c: unit tests for the bounded cache of topics known to
 * exist (the first-contact preparation of per-user push topics).
 *
 * Proves: an empty cache knows nothing; added names are known and adding
 * one twice counts once; the cache never holds more than its cap and
 * forgets the oldest name first (first in, first out), also after a name
 * was removed; removal of a present or absent name; names that collide in
 * the hash table stay distinct; a cap of 0 is treated as 1.
 */
#include <stdio.h>

#include "test.h"
#include "topiccache.h"

TEST_MAIN_DEFS

static void name_of(char *buf, size_t size, int i) {
        snprintf(buf, size, "push.user-%d", i);
}

static void test_basics(void) {
        cs_topiccache_t *tc = cs_topiccache_new(8);
        TEST_INTEQ(cs_topiccache_count(tc), 0);
        TEST_ASSERT(!cs_topiccache_has(tc, "push.alice"), "empty");
        cs_topiccache_add(tc, "push.alice");
        cs_topiccache_add(tc, "push.alice");
        TEST_INTEQ(cs_topiccache_count(tc), 1);
        TEST_ASSERT(cs_topiccache_has(tc, "push.alice"), "added");
        TEST_ASSERT(!cs_topiccache_has(tc, "push.alic"), "prefix is not a match");
        TEST_ASSERT(!cs_topiccache_has(tc, "push.alice2"), "longer is not a match");
        cs_topiccache_remove(tc, "push.bob"); /* absent: nothing */
        TEST_INTEQ(cs_topiccache_count(tc), 1);
        cs_topiccache_remove(tc, "push.alice");
        TEST_INTEQ(cs_topiccache_count(tc), 0);
        TEST_ASSERT(!cs_topiccache_has(tc, "push.alice"), "removed");
        cs_topiccache_destroy(tc);
        cs_topiccache_destroy(NULL);
}

static void test_bounded_fifo(void) {
        char name[64];
        cs_topiccache_t *tc = cs_topiccache_new(100);
        for (int i = 0; i < 1000; i++) {
                name_of(name, sizeof(name), i);
                cs_topiccache_add(tc, name);
                TEST_ASSERT(cs_topiccache_count(tc) <= 100, "over the cap at %d", i);
        }
        TEST_INTEQ(cs_topiccache_count(tc), 100);
        /* The last 100 are known, every earlier one was forgotten. */
        for (int i = 0; i < 1000; i++) {
                name_of(name, sizeof(name), i);
                TEST_ASSERT(cs_topiccache_has(tc, name) == (i >= 900),
                            "%s known: %d", name, cs_topiccache_has(tc, name));
        }
        /* Adding a known name does not refresh or duplicate it. */
        cs_topiccache_add(tc, "push.user-900");
        TEST_INTEQ(cs_topiccache_count(tc), 100);
        cs_topiccache_add(tc, "push.new");
        TEST_ASSERT(!cs_topiccache_has(tc, "push.user-900"), "oldest forgotten");
        TEST_ASSERT(cs_topiccache_has(tc, "push.user-901"), "next oldest kept");
        TEST_ASSERT(cs_topiccache_has(tc, "push.new"), "newest kept");
        TEST_INTEQ(cs_topiccache_count(tc), 100);
        cs_topiccache_destroy(tc);
}

static void test_remove_then_fill(void) {
        char name[64];
        cs_topiccache_t *tc = cs_topiccache_new(4);
        for (int i = 0; i < 4; i++) {
                name_of(name, sizeof(name), i);
                cs_topiccache_add(tc, name);
        }
        cs_topiccache_remove(tc, "push.user-2");
        TEST_INTEQ(cs_topiccache_count(tc), 3);
        /* Two more: the oldest (0) goes first, then 1; never over 4. */
        cs_topiccache_add(tc, "push.a");
        TEST_ASSERT(!cs_topiccache_has(tc, "push.user-0"), "0 forgotten");
        TEST_INTEQ(cs_topiccache_count(tc), 3);
        cs_topiccache_add(tc, "push.b");
        TEST_ASSERT(!cs_topiccache_has(tc, "push.user-1"), "1 forgotten");
        cs_topiccache_add(tc, "push.c"); /* lands in the removed slot */
        TEST_INTEQ(cs_topiccache_count(tc), 4);
        TEST_ASSERT(cs_topiccache_has(tc, "push.user-3"), "3 kept");
        TEST_ASSERT(cs_topiccache_has(tc, "push.a") && cs_topiccache_has(tc, "push.b") &&
                            cs_topiccache_has(tc, "push.c"),
                    "new ones kept");
        cs_topiccache_destroy(tc);
}

static void test_many_and_tiny(void) {
        char name[64];
        /* Far more names than buckets of a small table: chains work. */
        cs_topiccache_t *tc = cs_topiccache_new(5000);
        for (int i = 0; i < 5000; i++) {
                name_of(name, sizeof(name), i);
                cs_topiccache_add(tc, name);
        }
        for (int i = 0; i < 5000; i++) {
                name_of(name, sizeof(name), i);
                TEST_ASSERT(cs_topiccache_has(tc, name), "%s lost", name);
        }
        for (int i = 0; i < 5000; i += 2) {
                name_of(name, sizeof(name), i);
                cs_topiccache_remove(tc, name);
        }
        TEST_INTEQ(cs_topiccache_count(tc), 2500);
        for (int i = 0; i < 5000; i++) {
                name_of(name, sizeof(name), i);
                TEST_ASSERT(cs_topiccache_has(tc, name) == (i % 2 == 1), "%s", name);
        }
        cs_topiccache_destroy(tc);

        tc = cs_topiccache_new(0);
        cs_topiccache_add(tc, "x");
        cs_topiccache_add(tc, "y");
        TEST_INTEQ(cs_topiccache_count(tc), 1);
        TEST_ASSERT(cs_topiccache_has(tc, "y") && !cs_topiccache_has(tc, "x"), "cap 1");
        cs_topiccache_destroy(tc);
}

int main(void) {
        test_basics();
        test_bounded_fifo();
        test_remove_then_fill();
        test_many_and_tiny();
        return test_done();
}
