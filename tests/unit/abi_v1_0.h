/* abi_v1_0.h — what abi_v1_0.c (built against the ABI 1.0 header) exports. */
#ifndef TEST_ABI_V1_0_H
#define TEST_ABI_V1_0_H
#include <stddef.h>

struct abi_entry {
	const char *type;    /* struct name, or "const" */
	const char *member;  /* member or constant name */
	size_t offset;       /* offset, or the constant's value */
	size_t size;
};

extern const struct abi_entry abi_v1_0[];
extern const size_t abi_v1_0_target_ops_size, abi_v1_0_dest_ops_size, abi_v1_0_host_size;
int abi_v1_0_read_target(const void *table);

#endif
