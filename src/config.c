/* config.c: placeholder until the module lands. */
typedef int cs_config_placeholder_t;
