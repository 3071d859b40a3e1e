/*
 * cli.h: `callsig history` and `callsig stats`, the operators' view of the
 * call records (contract section 10), read from MongoDB with the worker's
 * configuration (--config FILE, then CALLSIG_* environment variables; only
 * the mongodb.* keys are used, and the LiveKit secret is not required).
 *
 *   callsig history --user ID [--since DUR] [--limit N] [--json]
 *   callsig history --room ID [--json]
 *   callsig stats [--since DUR] [--json]
 *
 * DUR is a positive integer with a unit: s, m, h, d or w (90s, 30m, 24h,
 * 7d, 2w). Tables for people, one JSON document with --json.
 *
 * Exit codes: 0 shown; 1 MongoDB unreachable or failing, or no call record
 * with that roomID; 2 bad arguments or configuration.
 *
 * @locality main thread; nothing else runs.
 */
#ifndef CALLSIG_CLI_H
#define CALLSIG_CLI_H

#include <stdbool.h>

/** @returns true if @p arg names a CLI command ("history", "stats"). */
bool cs_cli_is_command(const char *arg);

/**
 * Runs the command @p argv[0] with its options @p argv[1..argc-1] against
 * the environment @p envp ("NAME=value" list, NULL-terminated).
 * @returns the process exit code.
 */
int cs_cli_main(int argc, char **argv, char *const *envp);

#endif
