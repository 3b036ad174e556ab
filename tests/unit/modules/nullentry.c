/* nullentry.c — a driver whose entry point declines to start (test_loader). */
#include "arca/plugin.h"

ARCA_DRIVER_EXPORT const struct arca_driver *arca_driver_entry(const struct arca_host *host);

const struct arca_driver *arca_driver_entry(const struct arca_host *host)
{
	if (host && host->log)
		host->log(ARCA_LOG_ERROR, "nullentry: refusing to start, as tests want");
	return NULL;
}
