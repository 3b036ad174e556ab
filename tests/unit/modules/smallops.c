/* smallops.c — a destination whose ops table is smaller than ABI 1's
 * (test_loader). */
#include "stub.h"

static const struct arca_dest_ops smallops_dest = {
	.struct_size = sizeof(size_t) + sizeof(unsigned),
	.open = stub_open,
};

static const struct arca_driver smallops_driver = {
	.abi_major = ARCA_ABI_MAJOR,
	.struct_size = sizeof(struct arca_driver),
	.name = "smallops",
	.version = "1",
	.description = "truncated destination ops",
	.dest = &smallops_dest,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	(void)host;
	return &smallops_driver;
}
