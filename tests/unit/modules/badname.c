/* badname.c — a driver whose name cannot be written in arca.ini (test_loader). */
#include "stub.h"

static const struct arca_driver badname_driver = {
	.abi_major = ARCA_ABI_MAJOR,
	.struct_size = sizeof(struct arca_driver),
	.name = "Bad Name!",
	.version = "1",
	.description = "upper case and spaces",
	.target = &stub_target_ops,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	(void)host;
	return &badname_driver;
}
