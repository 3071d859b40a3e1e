/*
 * hash.c: SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input
 * PRF", 2012) and the 128-bit hex identifiers built from it.
 *
 * callsig needs identifiers that are a pure function of their inputs (a
 * redelivered command must give the same roomID and clientMsgIDs) yet cannot
 * be predicted without the key. SipHash is small, keyed and well studied, so
 * it is written here from the paper instead of pulling in a dependency.
 *
 * The state is incremental (sip_update) so that cs_hash_hex128 can hash
 * NUL-joined parts without building a joined copy in memory.
 */
#include "hash.h"

#include <string.h>

/* SipHash state: v0..v3, up to 7 pending message bytes, total length. */
typedef struct sip_state_s {
        uint64_t v0, v1, v2, v3;
        uint8_t tail[8];
        size_t tail_len;
        uint64_t total_len;
} sip_state_t;

static uint64_t rotl64(uint64_t x, unsigned int b) {
        return (x << b) | (x >> (64u - b));
}

/* Reads 8 bytes as a little-endian word, whatever the host byte order. */
static uint64_t load_le64(const uint8_t *p) {
        return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
               (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
               (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
               (uint64_t)p[7] << 56;
}

/* One SipRound (paper, section 2). */
static void sip_round(sip_state_t *st) {
        st->v0 += st->v1;
        st->v1 = rotl64(st->v1, 13);
        st->v1 ^= st->v0;
        st->v0 = rotl64(st->v0, 32);
        st->v2 += st->v3;
        st->v3 = rotl64(st->v3, 16);
        st->v3 ^= st->v2;
        st->v0 += st->v3;
        st->v3 = rotl64(st->v3, 21);
        st->v3 ^= st->v0;
        st->v2 += st->v1;
        st->v1 = rotl64(st->v1, 17);
        st->v1 ^= st->v2;
        st->v2 = rotl64(st->v2, 32);
}

/* Compression: c = 2 rounds per message word. */
static void sip_compress(sip_state_t *st, uint64_t m) {
        st->v3 ^= m;
        sip_round(st);
        sip_round(st);
        st->v0 ^= m;
}

static void sip_init(sip_state_t *st, const uint8_t key[16]) {
        uint64_t k0 = load_le64(key);
        uint64_t k1 = load_le64(key + 8);

        /* "somepseudorandomlygeneratedbytes" */
        st->v0 = k0 ^ UINT64_C(0x736f6d6570736575);
        st->v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
        st->v2 = k0 ^ UINT64_C(0x6c7967656e657261);
        st->v3 = k1 ^ UINT64_C(0x7465646279746573);
        st->tail_len = 0;
        st->total_len = 0;
}

static void sip_update(sip_state_t *st, const uint8_t *p, size_t len) {
        st->total_len += (uint64_t)len;

        /* Complete a pending partial word first. */
        if (st->tail_len > 0) {
                size_t take = 8 - st->tail_len;

                if (take > len)
                        take = len;
                memcpy(st->tail + st->tail_len, p, take);
                st->tail_len += take;
                p += take;
                len -= take;
                if (st->tail_len < 8)
                        return;
                sip_compress(st, load_le64(st->tail));
                st->tail_len = 0;
        }

        for (; len >= 8; p += 8, len -= 8)
                sip_compress(st, load_le64(p));

        memcpy(st->tail, p, len);
        st->tail_len = len;
}

static uint64_t sip_final(sip_state_t *st) {
        uint64_t b = (st->total_len & 0xff) << 56;
        size_t i;

        /* Last word: remaining bytes little-endian, len mod 256 on top. */
        for (i = 0; i < st->tail_len; i++)
                b |= (uint64_t)st->tail[i] << (8 * i);
        sip_compress(st, b);

        /* Finalization: d = 4 rounds. */
        st->v2 ^= 0xff;
        sip_round(st);
        sip_round(st);
        sip_round(st);
        sip_round(st);
        return st->v0 ^ st->v1 ^ st->v2 ^ st->v3;
}

uint64_t cs_siphash(const uint8_t key[16], const void *data, size_t len) {
        sip_state_t st;

        sip_init(&st, key);
        if (len > 0)
                sip_update(&st, data, len);
        return sip_final(&st);
}

/* Hashes parts[0] NUL parts[1] NUL ... parts[n-1] (no trailing NUL).
 * A NULL part hashes like "". */
static uint64_t hash_parts(const uint8_t key[16], const char *const *parts,
                           size_t part_cnt) {
        static const uint8_t sep = 0;
        sip_state_t st;
        size_t i;

        sip_init(&st, key);
        for (i = 0; i < part_cnt; i++) {
                if (i > 0)
                        sip_update(&st, &sep, 1);
                if (parts[i])
                        sip_update(&st, (const uint8_t *)parts[i],
                                   strlen(parts[i]));
        }
        return sip_final(&st);
}

static void put_hex64(uint64_t x, char *out) {
        static const char digits[] = "0123456789abcdef";
        int i;

        for (i = 15; i >= 0; i--) {
                out[i] = digits[x & 0xf];
                x >>= 4;
        }
}

/*
 * The second half uses the key with every byte XORed with 0x5c, so the two
 * 64-bit halves come from independent-looking keys (an HMAC-style opad) and
 * the 128-bit id does not collide whenever one half does.
 */
void cs_hash_hex128(const uint8_t key[16], const char *const *parts,
                    size_t part_cnt, char out[33]) {
        uint8_t key2[16];
        size_t i;

        for (i = 0; i < sizeof(key2); i++)
                key2[i] = (uint8_t)(key[i] ^ 0x5c);

        put_hex64(hash_parts(key, parts, part_cnt), out);
        put_hex64(hash_parts(key2, parts, part_cnt), out + 16);
        out[32] = '\0';
}
