/* store.c: placeholder until the module lands. */
typedef int cs_store_placeholder_t;
