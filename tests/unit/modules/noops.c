/* noops.c — a driver that is neither a target nor a destination (test_loader). */
#include "stub.h"

static const struct arca_driver noops_driver = {
	.abi_major = ARCA_ABI_MAJOR,
	.struct_size = sizeof(struct arca_driver),
	.name = "noops",
	.version = "1",
	.description = "nothing to offer",
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	(void)host;
	return &noops_driver;
}
