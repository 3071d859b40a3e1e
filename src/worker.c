/* worker.c: placeholder until the module lands. */
typedef int cs_worker_placeholder_t;
