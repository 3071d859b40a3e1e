/* codec.c: placeholder until the module lands. */
typedef int cs_codec_placeholder_t;
