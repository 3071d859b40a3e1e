/*
 * common.h: small macros shared by every callsig module.
 *
 * Nothing here allocates or keeps state.
 */
#ifndef CALLSIG_COMMON_H
#define CALLSIG_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define CALLSIG_VERSION "0.1.0"

#if defined(__GNUC__)
#define CS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define CS_WUR __attribute__((warn_unused_result))
#else
#define CS_PRINTF(fmt, args)
#define CS_WUR
#endif

#define CS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Kafka's limit on topic name length. */
#define CS_TOPIC_MAX 249

#endif
