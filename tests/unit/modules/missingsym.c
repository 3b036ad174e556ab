/* missingsym.c — a driver that needs a symbol no loaded library provides, as
 * one built against a newer client library than the one installed
 * (test_loader: the loader must report the symbol by name). A variable is
 * used because data references are bound at load time even with lazy
 * binding. */
#include "stub.h"

extern int arca_test_missing_symbol;

static int missingsym_open(const struct arca_config *cfg, void **instance)
{
	(void)cfg;
	*instance = &arca_test_missing_symbol;
	return ARCA_OK;
}

static const struct arca_target_ops missingsym_ops = {
	.struct_size = sizeof(struct arca_target_ops),
	.open = missingsym_open,
	.check = stub_run,
	.snapshot = stub_run,
	.restore = stub_run,
	.close = stub_close,
};

static const struct arca_driver missingsym_driver = {
	.abi_major = ARCA_ABI_MAJOR,
	.struct_size = sizeof(struct arca_driver),
	.name = "missingsym",
	.version = "1",
	.description = "needs a symbol that is not there",
	.target = &missingsym_ops,
};

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	(void)host;
	return &missingsym_driver;
}
