/* call.c: placeholder until the module lands. */
typedef int cs_call_placeholder_t;
