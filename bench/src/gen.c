/*
 * gen.c: deterministic workload generator of the piperun benchmarks.  The
 * same arguments give the same bytes on every machine (integer PRNG only).
 *
 *   gen text FILE BYTES SEED            text of exactly BYTES bytes
 *   gen files DIR COUNT BYTES SEED      DIR/fNNN.txt, COUNT files of text,
 *                                       file i from seed SEED + i
 *   gen lines FILE COUNT SEED           COUNT short lines that are already
 *                                       clean ([a-z0-9] words, single spaces)
 *
 * The text looks like prose mixed with log lines: words of a skewed
 * vocabulary, capitals, punctuation, numbers, tabs and runs of blanks,
 * UTF-8 words, empty and blank lines, so that every rule of `clean` is
 * exercised and gzip compresses it about as much as real text.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB 4096

static uint64_t rng;

static uint64_t
next(void)
{ /* splitmix64 */
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned
below(unsigned n)
{
	return (unsigned)((next() >> 32) * n >> 32);
}

static char vocab[VOCAB][16];

static void
make_vocab(void)
{
	static const char cons[] = "bcdfghjklmnprstvwxz", vow[] = "aeiouy";
	uint64_t save = rng;
	rng = 12345; /* the vocabulary is the same for every seed */
	for (int i = 0; i < VOCAB; i++) {
		unsigned len = 1 + below(4) + below(4) + below(5);
		for (unsigned j = 0; j < len; j++)
			vocab[i][j] = (j % 2 == 0) ? cons[below(sizeof(cons) - 1)] : vow[below(sizeof(vow) - 1)];
		vocab[i][len] = '\0';
	}
	rng = save;
}

/* A skewed (roughly Zipf-like) pick: small indices are much more likely. */
static const char *
word(void)
{
	uint64_t u = next() >> 40; /* 24 bits */
	uint64_t k = ((u * u) >> 24) * u >> 24;
	return vocab[(k * VOCAB) >> 24];
}

static const char *const utf8[] = {"caf\xc3\xa9", "na\xc3\xafve", "stra\xc3\x9f" "e",
                                   "\xe6\x97\xa5\xe6\x9c\xac", "\xc3\x85ngstr\xc3\xb6m",
                                   "\xe2\x82\xac" "42", "se\xc3\xb1or"};
static const char *const punct[] = {",", ".", ";", ":", "!", "?", "'s", " -", "...", ")", "\"", "/"};

/* Appends one line (with its newline) to BUF; returns its length. */
static size_t
text_line(char *buf)
{
	char *w = buf;
	unsigned kind = below(100);

	if (kind < 3) { /* empty */
		*w++ = '\n';
		return (size_t)(w - buf);
	}
	if (kind < 5) { /* blanks and punctuation only */
		unsigned n = 1 + below(12);
		for (unsigned i = 0; i < n; i++)
			*w++ = " \t-=*#.,"[below(8)];
		*w++ = '\n';
		return (size_t)(w - buf);
	}
	if (kind < 25) { /* a log line */
		w += sprintf(w, "2024-%02u-%02uT%02u:%02u:%02u.%03uZ %s [%s] ", 1 + below(12), 1 + below(28),
		             below(24), below(60), below(60), below(1000),
		             (const char *[]){"INFO", "WARN", "ERROR", "DEBUG"}[below(4)], word());
	}
	if (below(20) == 0)
		w += sprintf(w, "%s", below(2) ? "  " : "\t");
	unsigned n = 1 + below(8) + below(8) + below(4);
	for (unsigned i = 0; i < n; i++) {
		unsigned r = below(1000);
		if (i > 0)
			*w++ = below(40) == 0 ? (below(2) ? '\t' : ' ') : ' ';
		if (below(60) == 0)
			*w++ = ' ';
		if (r < 80)
			w += sprintf(w, "%u", below(100000));
		else if (r < 100)
			w += sprintf(w, "%s", utf8[below(sizeof(utf8) / sizeof(*utf8))]);
		else if (r < 120) {
			const char *s = word();
			while (*s)
				*w++ = (char)(*s++ - 'a' + 'A');
		} else if (r < 250) {
			const char *s = word();
			*w++ = (char)(*s++ - 'a' + 'A');
			while (*s)
				*w++ = *s++;
		} else if (r < 270)
			w += sprintf(w, "%s_%s", word(), word());
		else
			w += sprintf(w, "%s", word());
		if (below(7) == 0)
			w += sprintf(w, "%s", punct[below(sizeof(punct) / sizeof(*punct))]);
	}
	if (below(25) == 0)
		*w++ = ' ';
	*w++ = '\n';
	return (size_t)(w - buf);
}

static void
die(const char *what, const char *path)
{
	fprintf(stderr, "gen: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void
text_file(const char *path, uint64_t bytes, uint64_t seed)
{
	FILE *f = fopen(path, "wb");
	char line[2048];
	uint64_t done = 0;

	if (f == NULL)
		die("cannot create", path);
	rng = seed * 0x2545f4914f6cdd1dull + 1;
	while (done < bytes) {
		size_t n = text_line(line);
		if (done + n >= bytes) { /* end exactly at BYTES, with a newline */
			n = (size_t)(bytes - done);
			line[n - 1] = '\n';
		}
		if (fwrite(line, 1, n, f) != n)
			die("cannot write", path);
		done += n;
	}
	if (fclose(f) != 0)
		die("cannot write", path);
}

static void
lines_file(const char *path, unsigned long count, uint64_t seed)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		die("cannot create", path);
	rng = seed * 0x2545f4914f6cdd1dull + 1;
	for (unsigned long i = 0; i < count; i++) {
		unsigned n = 1 + below(6);
		for (unsigned j = 0; j < n; j++) {
			if (below(8) == 0)
				fprintf(f, "%s%u", j ? " " : "", below(10000));
			else
				fprintf(f, "%s%s", j ? " " : "", word());
		}
		fputc('\n', f);
	}
	if (fclose(f) != 0)
		die("cannot write", path);
}

int
main(int argc, char **argv)
{
	make_vocab();
	if (argc == 5 && strcmp(argv[1], "text") == 0) {
		text_file(argv[2], strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
		return 0;
	}
	if (argc == 6 && strcmp(argv[1], "files") == 0) {
		unsigned long count = strtoul(argv[3], NULL, 10);
		uint64_t seed = strtoull(argv[5], NULL, 10);
		char path[4096];
		for (unsigned long i = 0; i < count; i++) {
			snprintf(path, sizeof(path), "%s/f%03lu.txt", argv[2], i);
			text_file(path, strtoull(argv[4], NULL, 10), seed + i);
		}
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "lines") == 0) {
		lines_file(argv[2], strtoul(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
		return 0;
	}
	fprintf(stderr, "usage: gen text FILE BYTES SEED | files DIR COUNT BYTES SEED | lines FILE COUNT SEED\n");
	return 2;
}
