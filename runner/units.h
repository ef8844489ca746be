/*
 * units.h: sizes and durations as pipeline files write them.
 */
#ifndef PR_UNITS_H
#define PR_UNITS_H

#include <stdint.h>

/* Parses a size: a bare number is bytes; k/K/KiB, M/MiB, G/GiB, T/TiB are
 * powers of 1024; kB, MB, GB, TB powers of 1000; fractions are allowed with
 * a unit ("1.5MiB").  Returns 0, or -1 when S is not a size or overflows. */
int pr_parse_size(const char *s, uint64_t *out);

/* Parses a duration in seconds: a bare number is seconds; ms, s, m, h;
 * fractions allowed.  Returns 0, or -1 when S is not a duration. */
int pr_parse_duration(const char *s, double *out);

#endif
