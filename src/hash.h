/*
 * hash.h: SipHash-2-4, a keyed 64-bit PRF (Aumasson and Bernstein).
 *
 * Used for identifiers that must be deterministic (the same command gives the
 * same roomID and clientMsgIDs when Kafka redelivers it) but not guessable
 * from outside (roomIDs are keyed with a secret).
 */
#ifndef CALLSIG_HASH_H
#define CALLSIG_HASH_H

#include <stddef.h>
#include <stdint.h>

/** @returns SipHash-2-4 of @p data under the 16-byte @p key. */
uint64_t cs_siphash(const uint8_t key[16], const void *data, size_t len);

/**
 * Writes 32 lowercase hex digits (+ NUL) into @p out: two SipHash values of
 * the parts joined with NUL separators, under @p key.
 */
void cs_hash_hex128(const uint8_t key[16], const char *const *parts,
                    size_t part_cnt, char out[33]);

#endif
