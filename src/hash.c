/* hash.c: placeholder until the module lands. */
typedef int cs_hash_placeholder_t;
