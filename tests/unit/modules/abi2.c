/* abi2.c — a driver built for a future ABI 2 (test_loader). */
#include "stub.h"

static const struct arca_driver abi2_driver = {
	.abi_major = 2,
	.struct_size = sizeof(struct arca_driver),
	.name = "abi2",
	.version = "1",
	.description = "from the future",
	.target = &stub_target_ops,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	(void)host;
	return &abi2_driver;
}
