/* badopts.c — a driver with an enum option that has no choices (test_loader). */
#include "stub.h"

static const struct arca_driver badopts_driver = {
	.abi_major = ARCA_ABI_MAJOR,
	.struct_size = sizeof(struct arca_driver),
	.name = "badopts",
	.version = "1",
	.description = "broken option table",
	.target_options = (const struct arca_option[]){
		{.name = "level", .type = ARCA_OPT_ENUM, .help = "no choices given"},
		{.name = NULL},
	},
	.target = &stub_target_ops,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	(void)host;
	return &badopts_driver;
}
