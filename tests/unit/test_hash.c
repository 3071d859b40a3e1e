/*
 * test_hash.c: SipHash-2-4 against the paper's test vector and vectors from
 * an independent reference implementation, plus cs_hash_hex128.
 *
 * The vectors other than the paper's were computed once with a separate
 * Python implementation written from the paper (key 00..0f, message
 * 00 01 .. (n-1), bytes taken mod 256) and are hard-coded here.
 */
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "hash.h"
#include "test.h"

TEST_MAIN_DEFS

static uint8_t key[16];
static uint8_t msg[300];

static void setup(void) {
        size_t i;

        for (i = 0; i < sizeof(key); i++)
                key[i] = (uint8_t)i;
        for (i = 0; i < sizeof(msg); i++)
                msg[i] = (uint8_t)(i & 0xff);
}

static void test_paper_vectors(void) {
        /* Aumasson & Bernstein 2012, appendix A: 15-byte message. */
        TEST_ASSERT(cs_siphash(key, msg, 15) == UINT64_C(0xa129ca6149be45e5),
                    "paper vector");
        /* Empty message (first entry of the reference vectors). */
        TEST_ASSERT(cs_siphash(key, msg, 0) == UINT64_C(0x726fdb47dd0e0e31),
                    "empty vector");
        TEST_ASSERT(cs_siphash(key, NULL, 0) == UINT64_C(0x726fdb47dd0e0e31),
                    "empty vector, NULL data");
}

static void test_lengths(void) {
        static const struct {
                size_t len;
                uint64_t want;
        } vec[] = {
                {1, UINT64_C(0x74f839c593dc67fd)},
                {2, UINT64_C(0x0d6c8009d9a94f5a)},
                {7, UINT64_C(0xab0200f58b01d137)},
                {8, UINT64_C(0x93f5f5799a932462)},
                {9, UINT64_C(0x9e0082df0ba9e4b0)},
                {16, UINT64_C(0x3f2acc7f57c29bdb)},
                {17, UINT64_C(0x699ae9f52cbe4794)},
                {31, UINT64_C(0x32d892fad841c342)},
                {32, UINT64_C(0x7127512f72f27cce)},
                {33, UINT64_C(0xa7f32346f95978e3)},
                {63, UINT64_C(0x958a324ceb064572)},
                {64, UINT64_C(0xacd2c40b8502cad8)},
                /* the final word holds len & 0xff: all 8 bits, then wrap */
                {128, UINT64_C(0xdeb79e256c8736ae)},
                {200, UINT64_C(0x10849fe512591651)},
                {255, UINT64_C(0xa9c169fec74db21a)},
                {256, UINT64_C(0x999d0526d2a7bfd7)},
                {300, UINT64_C(0x4b0b710db6117839)},
        };
        size_t i;

        for (i = 0; i < CS_ARRAY_SIZE(vec); i++) {
                uint64_t got = cs_siphash(key, msg, vec[i].len);

                TEST_ASSERT(got == vec[i].want, "len %zu: got %016llx",
                            vec[i].len, (unsigned long long)got);
        }
}

/* Unaligned input must hash like aligned input. */
static void test_unaligned(void) {
        uint8_t buf[80];

        memcpy(buf + 3, msg, 64);
        TEST_ASSERT(cs_siphash(key, buf + 3, 64) == UINT64_C(0xacd2c40b8502cad8),
                    "unaligned 64 bytes");
}

static void test_hex128(void) {
        const char *parts3[] = {"op-1", "invite", "bob"};
        const char *parts4[] = {"server", "op-1", "invite", "bob"};
        const char *one_empty[] = {""};
        const char *two_empty[] = {"", ""};
        const char *uneven[] = {"abcdefg", "h", "ijklmnopqrstuvwxyz0123"};
        char out[33];
        size_t i;

        cs_hash_hex128(key, parts3, 3, out);
        TEST_STREQ(out, "3104251701f9633507886cd8128b1840");
        TEST_INTEQ(strlen(out), 32);
        for (i = 0; i < 32; i++)
                TEST_ASSERT((out[i] >= '0' && out[i] <= '9') ||
                                    (out[i] >= 'a' && out[i] <= 'f'),
                            "lowercase hex at %zu", i);

        cs_hash_hex128(key, parts4, 4, out);
        TEST_STREQ(out, "aa174aa1b62fc959feaa9ce369f5c5e3");

        /* No parts and one empty part both hash the empty message: the
         * first half is then the paper's empty vector. */
        cs_hash_hex128(key, NULL, 0, out);
        TEST_STREQ(out, "726fdb47dd0e0e31c55b2682c3099509");
        cs_hash_hex128(key, one_empty, 1, out);
        TEST_STREQ(out, "726fdb47dd0e0e31c55b2682c3099509");

        /* Two empty parts are the single byte 00 (separator, no trailer):
         * the first half is the 1-byte reference vector. */
        cs_hash_hex128(key, two_empty, 2, out);
        TEST_STREQ(out, "74f839c593dc67fda6bda920cad8e423");

        /* Parts crossing 8-byte word boundaries in the incremental state. */
        cs_hash_hex128(key, uneven, 3, out);
        TEST_STREQ(out, "bd2fd17ccf28f0ff57f4b1390857074f");

        /* The separator makes ("abcdefg", "h") differ from "abcdefgh". */
        {
                const char *glued[] = {"abcdefgh"};
                const char *split[] = {"abcdefg", "h"};
                char a[33], b[33];

                cs_hash_hex128(key, glued, 1, a);
                cs_hash_hex128(key, split, 2, b);
                TEST_ASSERT(strcmp(a, b) != 0, "separator matters");
        }
}

int main(void) {
        setup();
        test_paper_vectors();
        test_lengths();
        test_unaligned();
        test_hex128();
        return test_done();
}
