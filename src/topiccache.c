/*
 * topiccache.c: a chained hash table of names plus a FIFO ring that says
 * which name to forget when the table is full. O(1) per operation.
 */
#include "topiccache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

typedef struct node_s {
        struct node_s *next; /* in its bucket */
        size_t slot;         /* its index in the ring */
        char name[];
} node_t;

struct cs_topiccache_s {
        node_t **buckets;
        size_t mask;  /* bucket count - 1 (a power of two) */
        node_t **ring; /* cap slots; NULL where a name was removed */
        size_t cap;
        size_t head;  /* the slot the next name goes to (the oldest) */
        size_t cnt;
};

/* FNV-1a: topic names are not attacker-chosen keys of a long-lived table
 * that a collision flood could slow (the cache is bounded anyway). */
static size_t hash(const char *s) {
        uint64_t h = 1469598103934665603ULL;
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 1099511628211ULL;
        }
        return (size_t)h;
}

cs_topiccache_t *cs_topiccache_new(size_t cap) {
        cs_topiccache_t *tc = cs_xcalloc(1, sizeof(*tc));
        size_t nb = 16;
        if (cap == 0)
                cap = 1;
        while (nb < cap)
                nb <<= 1;
        tc->buckets = cs_xcalloc(nb, sizeof(*tc->buckets));
        tc->mask = nb - 1;
        tc->ring = cs_xcalloc(cap, sizeof(*tc->ring));
        tc->cap = cap;
        return tc;
}

void cs_topiccache_destroy(cs_topiccache_t *tc) {
        if (!tc)
                return;
        for (size_t i = 0; i < tc->cap; i++)
                free(tc->ring[i]);
        free(tc->ring);
        free(tc->buckets);
        free(tc);
}

/* The link that points at @p topic's node, or at the NULL ending its
 * bucket when it is absent. */
static node_t **find(const cs_topiccache_t *tc, const char *topic) {
        node_t **link = &tc->buckets[hash(topic) & tc->mask];
        while (*link && strcmp((*link)->name, topic))
                link = &(*link)->next;
        return link;
}

bool cs_topiccache_has(const cs_topiccache_t *tc, const char *topic) {
        return *find(tc, topic) != NULL;
}

static void unlink_node(cs_topiccache_t *tc, node_t *n) {
        node_t **link = find(tc, n->name);
        *link = n->next;
        tc->ring[n->slot] = NULL;
        tc->cnt--;
        free(n);
}

void cs_topiccache_add(cs_topiccache_t *tc, const char *topic) {
        node_t **link = find(tc, topic);
        if (*link)
                return;
        /* The slot at head holds the oldest name (or none). */
        if (tc->ring[tc->head]) {
                unlink_node(tc, tc->ring[tc->head]);
                link = find(tc, topic); /* the bucket may have changed */
        }
        size_t len = strlen(topic);
        node_t *n = cs_xmalloc(sizeof(*n) + len + 1);
        memcpy(n->name, topic, len + 1);
        n->next = NULL;
        n->slot = tc->head;
        *link = n;
        tc->ring[tc->head] = n;
        tc->head = (tc->head + 1) % tc->cap;
        tc->cnt++;
}

void cs_topiccache_remove(cs_topiccache_t *tc, const char *topic) {
        node_t *n = *find(tc, topic);
        if (n)
                unlink_node(tc, n);
}

size_t cs_topiccache_count(const cs_topiccache_t *tc) {
        return tc->cnt;
}
