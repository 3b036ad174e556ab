/* stub.h — do-nothing ops shared by the test modules of test_loader. The
 * loader only checks that these exist; it never calls them. */
#ifndef TEST_MODULE_STUB_H
#define TEST_MODULE_STUB_H

#include "arca/plugin.h"

#define STUB __attribute__((unused)) static

STUB int stub_open(const struct arca_config *cfg, void **instance)
{
	(void)cfg;
	*instance = NULL;
	return ARCA_OK;
}

STUB int stub_run(void *instance, struct arca_ctx *ctx)
{
	(void)instance, (void)ctx;
	return ARCA_OK;
}

STUB void stub_close(void *instance)
{
	(void)instance;
}

STUB const struct arca_target_ops stub_target_ops = {
	.struct_size = sizeof(struct arca_target_ops),
	.open = stub_open,
	.check = stub_run,
	.snapshot = stub_run,
	.restore = stub_run,
	.close = stub_close,
};

#endif
