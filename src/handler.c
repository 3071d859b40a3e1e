/* handler.c: placeholder until the module lands. */
typedef int cs_handler_placeholder_t;
