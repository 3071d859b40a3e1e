/* topic.c: placeholder until the module lands. */
typedef int cs_topic_placeholder_t;
