/*
 * units-t.c: tests runner/units.c.
 */
#include "config.h"

#include "runner/units.h"
#include "tests/tap/basic.h"

int
main(void)
{
	static const struct {
		const char *s;
		long long want; /* -1: refused */
	} sizes[] = {
		{ "0", 0 }, { "512", 512 }, { "1k", 1024 }, { "1K", 1024 }, { "1KiB", 1024 },
		{ "1kB", 1000 }, { "2M", 2097152 }, { "2MiB", 2097152 }, { "2MB", 2000000 },
		{ "1G", 1073741824 }, { "1GiB", 1073741824 }, { "1GB", 1000000000 },
		{ "1.5MiB", 1572864 }, { "1 MiB", 1048576 }, { "1T", 1099511627776LL },
		{ "", -1 }, { "k", -1 }, { "-1", -1 }, { "1x", -1 }, { "1.5", -1 }, { "0x10", -1 },
		{ "inf", -1 }, { "1e3", -1 }, { "1mib", -1 }, { "99999999999999999999T", -1 },
	};
	static const struct {
		const char *s;
		double want; /* < 0: refused */
	} durations[] = {
		{ "30", 30 }, { "1.5s", 1.5 }, { "250ms", 0.25 }, { "2m", 120 }, { "1h", 3600 },
		{ "0.5", 0.5 }, { "", -1 }, { "s", -1 }, { "1d", -1 }, { "-2s", -1 }, { "nan", -1 },
	};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t v = 0;
		int rc = pr_parse_size(sizes[i].s, &v);
		if (sizes[i].want < 0)
			is_int(-1, rc, "size '%s' refused", sizes[i].s);
		else
			ok(rc == 0 && v == (uint64_t)sizes[i].want, "size '%s' = %lld", sizes[i].s,
			   sizes[i].want);
	}
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		double v = 0;
		int rc = pr_parse_duration(durations[i].s, &v);
		if (durations[i].want < 0)
			is_int(-1, rc, "duration '%s' refused", durations[i].s);
		else
			ok(rc == 0 && v == durations[i].want, "duration '%s' = %g", durations[i].s,
			   durations[i].want);
	}
	static const struct {
		double s;
		const char *want;
	} formats[] = {
		{ 0.2, "200ms" }, { 0.25, "250ms" }, { 0.0015, "1.5ms" }, { 1, "1s" },
		{ 1.5, "1.5s" }, { 120, "120s" },
	};
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		char buf[32];
		is_string(formats[i].want, pr_format_duration(formats[i].s, buf, sizeof(buf)),
		          "duration %g is written %s", formats[i].s, formats[i].want);
	}
	return test_done();
}
