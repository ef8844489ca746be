/*
 * yaml.h: a pipeline file as a tree of YAML nodes, with their places.
 *
 * The tree is composed from libyaml's events with the limits a pipeline file
 * needs: one document, bounded nesting, bounded alias expansion, merge keys
 * resolved, duplicate keys and unknown tags refused.  An alias shares the
 * node it names, so the tree is a DAG and costs no more memory than the
 * file.
 */
#ifndef PR_YAML_H
#define PR_YAML_H

#include <stddef.h>

#include "runner/diag.h"

#define PR_YAML_MAX_FILE  (1u << 20) /* bytes in a pipeline file */
#define PR_YAML_MAX_DEPTH 64         /* nested collections */
#define PR_YAML_MAX_NODES 100000     /* nodes once every alias is expanded */

enum pr_node_type { PR_NODE_SCALAR, PR_NODE_SEQ, PR_NODE_MAP };

struct pr_node {
	enum pr_node_type type;
	struct pr_mark mark;
	char *value;            /* scalar: its text, NUL-terminated */
	int quoted;             /* scalar: quoted, block or !!str: always a string */
	struct pr_node **kids;  /* seq: items; map: key, value, key, value ... */
	size_t nkids;
	size_t expanded;        /* nodes below and including this one, aliases expanded */
};

struct pr_yaml {
	struct pr_node *root;   /* NULL when the document is empty */
	struct pr_node **all;   /* every node, for freeing */
	size_t nall;
};

/* Parses LEN bytes of TEXT into DOC.  Returns 0, or -1 after reporting every
 * error it found to D (messages carry D's file name).  DOC is always safe to
 * pass to pr_yaml_free() afterwards. */
int pr_yaml_parse(const char *text, size_t len, struct pr_yaml *doc, struct pr_diag *d);

/* Reads PATH into *TEXT (the caller frees it) and *LEN, at most
 * PR_YAML_MAX_FILE + 1 bytes so that a larger file is caught by
 * pr_yaml_parse().  Returns 0, or -1 after reporting to D. */
int pr_yaml_read(const char *path, char **text, size_t *len, struct pr_diag *d);

void pr_yaml_free(struct pr_yaml *doc);

/* Map helpers: the number of entries and the I-th key and value. */
static inline size_t pr_map_len(const struct pr_node *n) { return n->nkids / 2; }
static inline struct pr_node *pr_map_key(const struct pr_node *n, size_t i) { return n->kids[2 * i]; }
static inline struct pr_node *pr_map_value(const struct pr_node *n, size_t i) { return n->kids[2 * i + 1]; }

/* Returns the value of KEY in map N, or NULL. */
struct pr_node *pr_map_get(const struct pr_node *n, const char *key);

/* Returns 1 when N is a plain null (empty, ~, null). */
int pr_node_is_null(const struct pr_node *n);

/* A word for N's type in messages: "a mapping", "a list", "a string"... */
const char *pr_node_what(const struct pr_node *n);

#endif
