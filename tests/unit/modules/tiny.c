/* tiny.c — a descriptor smaller than ABI 1 allows (test_loader). */
#include "stub.h"

static const struct arca_driver tiny_driver = {
	.abi_major = ARCA_ABI_MAJOR,
	.struct_size = 2 * sizeof(void *),
	.name = "tiny",
	.version = "1",
	.description = "struct_size too small",
	.target = &stub_target_ops,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	(void)host;
	return &tiny_driver;
}
