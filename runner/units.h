/*
 * units.h: sizes and durations as pipeline files write them.
 */
#ifndef PR_UNITS_H
#define PR_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parses a size: a bare number is bytes; k/K/KiB, M/MiB, G/GiB, T/TiB are
 * powers of 1024; kB, MB, GB, TB powers of 1000; fractions are allowed with
 * a unit ("1.5MiB").  Returns 0, or -1 when S is not a size or overflows. */
int pr_parse_size(const char *s, uint64_t *out);

/* Parses a duration in seconds: a bare number is seconds; ms, s, m, h;
 * fractions allowed.  Returns 0, or -1 when S is not a duration. */
int pr_parse_duration(const char *s, double *out);

/* Writes duration S (seconds) as a pipeline file would: "250ms" under a
 * second, "1.5s" from one on.  Returns BUF, which holds LEN bytes. */
char *pr_format_duration(double s, char *buf, size_t len);

#endif
