/* good.c — a valid target driver with an option table (test_loader). */
#include "stub.h"

static const struct arca_option good_options[] = {
	{.name = "path", .type = ARCA_OPT_PATH, .flags = ARCA_OPT_REQUIRED,
	 .help = "directory to protect"},
	{.name = "mode", .type = ARCA_OPT_ENUM, .default_value = "fast", .choices = "fast|slow",
	 .help = "how hard to try"},
	{.name = "password", .type = ARCA_OPT_STRING, .flags = ARCA_OPT_SECRET,
	 .help = "a secret"},
	{.name = "jobs", .type = ARCA_OPT_INT, .default_value = "2", .min = 1, .max = 64,
	 .help = "parallel jobs"},
	{.name = NULL},
};

static const struct arca_driver good_driver = {
	.abi_major = ARCA_ABI_MAJOR,
	.struct_size = sizeof(struct arca_driver),
	.name = "good",
	.version = "1.2.3",
	.description = "a driver that passes every check",
	.target_options = good_options,
	.target = &stub_target_ops,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	/* The test passes a host; a driver may refuse an older engine this way. */
	if (!host || host->abi_major != ARCA_ABI_MAJOR)
		return NULL;
	return &good_driver;
}
