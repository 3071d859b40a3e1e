/* token.c: placeholder until the module lands. */
typedef int cs_token_placeholder_t;
