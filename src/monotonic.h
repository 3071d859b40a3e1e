/*
 * monotonic.h: condition variables that wait on CLOCK_MONOTONIC, and
 * their deadlines (a wall clock set back must not stretch a wait).
 */
#ifndef CALLSIG_MONOTONIC_H
#define CALLSIG_MONOTONIC_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/** Initialises @p cond to time its waits on CLOCK_MONOTONIC. */
static inline void cs_cond_init_monotonic(pthread_cond_t *cond) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(cond, &attr);
        pthread_condattr_destroy(&attr);
}

/** @returns the CLOCK_MONOTONIC time @p ms from now, for
 *  pthread_cond_timedwait() on a cs_cond_init_monotonic() condition. */
static inline struct timespec cs_monotonic_deadline(int64_t ms) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(ms / 1000);
        until.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
        }
        return until;
}

#endif
