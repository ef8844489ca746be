/*
 * units.c: sizes and durations as pipeline files write them.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/units.h"

struct unit {
	const char *suffix;
	double factor;
};

static const struct unit size_units[] = {
	{ "", 1 },
	{ "B", 1 },
	{ "k", 1024.0 }, { "K", 1024.0 }, { "KiB", 1024.0 }, { "kB", 1e3 },
	{ "M", 1048576.0 }, { "MiB", 1048576.0 }, { "MB", 1e6 },
	{ "G", 1073741824.0 }, { "GiB", 1073741824.0 }, { "GB", 1e9 },
	{ "T", 1099511627776.0 }, { "TiB", 1099511627776.0 }, { "TB", 1e12 },
	{ NULL, 0 }
};

static const struct unit time_units[] = {
	{ "", 1 }, { "ms", 1e-3 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { NULL, 0 }
};

/* Splits S into a non-negative decimal number and a unit from TABLE. */
static int
parse_scaled(const char *s, const struct unit *table, double *out, int *fraction)
{
	const char *p = s;
	size_t digits = 0;
	double v;
	char *end;

	*fraction = 0;
	/* strtod alone would take "inf", hex and exponents: check the shape. */
	while (isdigit((unsigned char)*p)) {
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		*fraction = 1;
		while (isdigit((unsigned char)*p)) {
			p++;
			digits++;
		}
	}
	if (digits == 0)
		return -1;
	v = strtod(s, &end);
	if (end != p)
		return -1;
	while (*p == ' ')
		p++;
	for (size_t i = 0; table[i].suffix != NULL; i++) {
		if (strcmp(p, table[i].suffix) == 0) {
			*out = v * table[i].factor;
			return isfinite(*out) ? 0 : -1;
		}
	}
	return -1;
}

int
pr_parse_size(const char *s, uint64_t *out)
{
	double v;
	int fraction;

	if (parse_scaled(s, size_units, &v, &fraction) < 0)
		return -1;
	if (v >= 18446744073709551616.0)
		return -1;
	/* A bare fraction of a byte means nothing. */
	if (fraction && v != floor(v) && strspn(s, "0123456789.") == strlen(s))
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int
pr_parse_duration(const char *s, double *out)
{
	int fraction;

	return parse_scaled(s, time_units, out, &fraction);
}

char *
pr_format_duration(double s, char *buf, size_t len)
{
	if (s < 1)
		snprintf(buf, len, "%gms", s * 1e3);
	else
		snprintf(buf, len, "%gs", s);
	return buf;
}
