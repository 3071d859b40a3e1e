/*
 * upstream.h: the OpenIM v3 schema as upstream publishes it
 * (github.com/openimsdk/protocol v0.0.72, rtc.proto and sdkws.proto compiled
 * with protoc by scripts/upstream-schema.sh), for tests and the demo.
 */
#ifndef CALLSIG_UPSTREAM_H
#define CALLSIG_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/** Fetches and builds the decoder (once; fails the test when it cannot). */
void upstream_prepare(void);
/** Runs the decoder: "decode" @p name @p arg (hex) gives JSON, "encode"
 *  @p name @p arg (JSON) gives hex; fails the test on a field unknown to
 *  the upstream schema. @returns the output line (owned). */
char *upstream(const char *mode, const char *name, const char *arg);
char *upstream_hex(const uint8_t *b, size_t n);
uint8_t *upstream_unhex(const char *h, size_t *np);
/** The bytes of length-delimited field @p fieldno of message @p b (its
 *  first occurrence), exactly as produced. */
const uint8_t *upstream_field(const uint8_t *b, size_t n, unsigned fieldno,
                              size_t *lenp);
/** @returns a v3 reply (of a signal command) or notification of @p s
 *  decoded with the upstream schema, as text (owned). */
char *upstream_describe(const seen_t *s);

#endif
