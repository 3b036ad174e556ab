/* abi_v1_0.c — the layout of ABI 1.0 as its own header gives it, and a
 * reader of that header's size (what an engine of ABI 1.0 does with a
 * driver's tables), for test_abi.c. Built against modules/plugin_v1_0.h
 * only: it must not see the current header. */
#include <stddef.h>
#include "modules/plugin_v1_0.h"
#include "abi_v1_0.h"

#if ARCA_ABI_MINOR != 0
#error "abi_v1_0.c must be built against the ABI 1.0 header"
#endif

#define M(s, m) {#s, #m, offsetof(struct s, m), sizeof(((struct s *)0)->m)},
#define C(c) {"const", #c, (size_t)(c), 0},
const struct abi_entry abi_v1_0[] = {
#include "abi_members.h"
	{NULL, NULL, 0, 0},
};
#undef M
#undef C

const size_t abi_v1_0_target_ops_size = sizeof(struct arca_target_ops);
const size_t abi_v1_0_dest_ops_size = sizeof(struct arca_dest_ops);
const size_t abi_v1_0_host_size = sizeof(struct arca_host);

/* What an ABI 1.0 engine's loader accepted, and all it read: every 1.0
 * member of the target ops, by the 1.0 layout. Returns how many of the
 * required ops it found (5), or -1 when struct_size is too small. */
int abi_v1_0_read_target(const void *table)
{
	const struct arca_target_ops *t = table;
	if (t->struct_size < sizeof *t)
		return -1;
	return !!t->open + !!t->check + !!t->snapshot + !!t->restore + !!t->close;
}
