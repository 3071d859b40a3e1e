/*
 * test.h: the assertions every callsig test uses.
 *
 * TEST_ASSERT fails fast: it prints file:line and the message and exits 1,
 * so ctest reports the test as failed. TEST_CHECK counts a check without
 * stopping. test_done() prints "N passed, M failed" and returns the exit
 * code.
 */
#ifndef CALLSIG_TEST_H
#define CALLSIG_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int test_passed;
extern int test_failed;

#define TEST_SAY(...)                                                        \
        do {                                                                 \
                fprintf(stderr, "[test] " __VA_ARGS__);                      \
                fputc('\n', stderr);                                         \
        } while (0)

#define TEST_FAIL(...)                                                       \
        do {                                                                 \
                fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);        \
                fprintf(stderr, __VA_ARGS__);                                \
                fputc('\n', stderr);                                         \
                test_failed++;                                               \
                fprintf(stderr, "%d passed, %d failed\n", test_passed,       \
                        test_failed);                                        \
                exit(1);                                                     \
        } while (0)

#define TEST_ASSERT(cond, ...)                                               \
        do {                                                                 \
                if (!(cond)) {                                               \
                        fprintf(stderr, "%s:%d: assertion '%s': ", __FILE__, \
                                __LINE__, #cond);                            \
                        TEST_FAIL(__VA_ARGS__);                              \
                }                                                            \
                test_passed++;                                               \
        } while (0)

#define TEST_STREQ(a, b)                                                     \
        do {                                                                 \
                const char *test_a_ = (a), *test_b_ = (b);                   \
                TEST_ASSERT(test_a_ && test_b_ && !strcmp(test_a_, test_b_), \
                            "\"%s\" != \"%s\"", test_a_ ? test_a_ : "(null)", \
                            test_b_ ? test_b_ : "(null)");                   \
        } while (0)

#define TEST_INTEQ(a, b)                                                     \
        do {                                                                 \
                long long test_a_ = (long long)(a), test_b_ = (long long)(b); \
                TEST_ASSERT(test_a_ == test_b_, "%lld != %lld", test_a_,     \
                            test_b_);                                        \
        } while (0)

/* Defines the counters; use once per test program, then call test_done(). */
#define TEST_MAIN_DEFS int test_passed = 0, test_failed = 0;

static inline int test_done(void) {
        fprintf(stderr, "%d passed, %d failed\n", test_passed, test_failed);
        return test_failed ? 1 : 0;
}

#endif
