/*
 * load.h: a steady load of calls for the chaos scenarios (0030, 0031).
 *
 * Each lane is one command producer: caller c<l> calls callee e<l> (invite,
 * accept, hang up, sent back to back) and starts its next call once the
 * three replies are in; beside it, caller u<l> invites v<l> with a 2 s ring
 * timeout that nobody answers, the next one once the record has ended. The
 * test drives load_run() and makes its chaos (a worker or the broker killed
 * and restarted) from the callback; load_check() then proves that every
 * command got a reply with the expected code, that notifications repeated
 * for one (operation-id, recipient) are byte-identical, that every call
 * ended the way it should, that no call is still ringing past its deadline
 * and that no line stays busy.
 */
#ifndef CALLSIG_LOAD_H
#define CALLSIG_LOAD_H

#include "harness.h"

typedef struct load_s load_t;

/** Watches the lane users' topics; @p lanes at most 8. */
load_t *load_new(env_t *env, int lanes);
/** Runs the load for @p seconds of wall time (unscaled: it is a duration,
 *  not a deadline), calling @p tick(env, elapsed ms, opaque) about every
 *  50 ms; then waits for every started call to finish. */
void load_run(load_t *ld, int seconds,
              void (*tick)(env_t *env, int64_t elapsed_ms, void *opaque),
              void *opaque);
/** The checks above; prints the totals. */
void load_check(load_t *ld);
void load_free(load_t *ld);

#endif
