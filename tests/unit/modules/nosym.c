/* nosym.c — a module whose arca_driver_entry is not exported, as when a
 * driver forgets ARCA_DRIVER_EXPORT under -fvisibility=hidden (test_loader). */
#include "stub.h"

static const struct arca_driver nosym_driver = {
	.abi_major = ARCA_ABI_MAJOR,
	.struct_size = sizeof(struct arca_driver),
	.name = "nosym",
	.version = "1",
	.description = "entry point not exported",
	.target = &stub_target_ops,
};

__attribute__((visibility("hidden")))
const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	(void)host;
	return &nosym_driver;
}
