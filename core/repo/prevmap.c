/* prevmap.c — compact name -> previous item map (see prevmap.h). */
#include "repo/prevmap.h"

#include <stdlib.h>
#include <string.h>

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;   /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void prevmap_free(struct prevmap *m)
{
	free(m->e);
	free(m->slots);
	buf_free(&m->strings);
	buf_free(&m->ids);
	memset(m, 0, sizeof *m);
}

static const char *entry_name(const struct prevmap *m, const struct prev_entry *e)
{
	return (const char *)m->strings.data + e->name_off;
}

static void slot_put(uint32_t *slots, size_t cap, uint64_t h, uint32_t v)
{
	size_t i = (size_t)h & (cap - 1);
	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = v;
}

const struct prev_entry *prevmap_get(const struct prevmap *m, const char *name)
{
	if (!m->slots_cap)
		return NULL;
	for (size_t i = (size_t)name_hash(name) & (m->slots_cap - 1);;
	     i = (i + 1) & (m->slots_cap - 1)) {
		uint32_t v = m->slots[i];
		if (!v)
			return NULL;
		if (!strcmp(entry_name(m, &m->e[v - 1]), name))
			return &m->e[v - 1];
	}
}

static uint64_t add_string(struct buf *b, const char *s)
{
	uint64_t off = b->len;
	buf_append(b, s, strlen(s) + 1);
	return off;
}

void prevmap_add(struct prevmap *m, const char *name, const char *fp, uint32_t type,
		 uint64_t size, const unsigned char *ids, size_t n_chunks)
{
	if (prevmap_get(m, name))
		return;
	if ((m->n + 1) * 2 > m->slots_cap) {
		size_t cap = m->slots_cap ? m->slots_cap * 2 : 1024;
		uint32_t *ns = xcalloc(cap, sizeof *ns);
		for (size_t i = 0; i < m->n; i++)
			slot_put(ns, cap, name_hash(entry_name(m, &m->e[i])), (uint32_t)i + 1);
		free(m->slots);
		m->slots = ns;
		m->slots_cap = cap;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 1024;
		m->e = xrealloc(m->e, m->cap * sizeof *m->e);
	}
	struct prev_entry *e = &m->e[m->n];
	e->name_off = add_string(&m->strings, name);
	e->fp_off = add_string(&m->strings, fp);
	e->size = size;
	e->type = type;
	e->n_chunks = (uint32_t)n_chunks;
	e->chunk_off = m->ids.len;
	buf_append(&m->ids, ids, n_chunks * ID_LEN);
	m->n++;
	slot_put(m->slots, m->slots_cap, name_hash(name), (uint32_t)m->n);
}

const char *prevmap_fp(const struct prevmap *m, const struct prev_entry *e)
{
	return (const char *)m->strings.data + e->fp_off;
}

const unsigned char *prevmap_chunk(const struct prevmap *m, const struct prev_entry *e,
				   size_t i)
{
	return m->ids.data + e->chunk_off + i * ID_LEN;
}
