/* kafka.c: placeholder until the module lands. */
typedef int cs_kafka_placeholder_t;
