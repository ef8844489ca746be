/*
 * loader-fuzz.c: a libFuzzer target for the pipeline loader: any bytes as
 * a pipeline file must give a pipeline or errors, never a crash, a leak
 * or a hang.  Built and run by `make fuzz` (clang).
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "runner/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pr_load_opts o = { .have_inputs = 1 };
	struct pr_diag d;

	pr_diag_init(&d, "fuzz.yml");
	pr_pipeline_free(pr_pipeline_load_text("fuzz.yml", (const char *)data, size, &o, &d));
	pr_diag_free(&d);
	return 0;
}
