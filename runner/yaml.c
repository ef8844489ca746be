/*
 * yaml.c: a pipeline file as a tree of YAML nodes, with their places.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "runner/util.h"
#include "runner/yaml.h"

struct anchor {
	char *name;
	struct pr_node *node;
};

/* The composer's state while events come in. */
struct composer {
	struct pr_yaml *doc;
	struct pr_diag *d;
	struct pr_node **stack; /* open collections */
	char **stack_anchor;    /* the anchor each open collection will get */
	size_t depth;
	struct anchor *anchors;
	size_t nanchors;
	int documents;
	int failed; /* an error was reported */
	int stop;   /* the rest of the file cannot be composed */
};

static struct pr_mark
mark_of(yaml_mark_t m)
{
	return (struct pr_mark){ (unsigned)m.line + 1, (unsigned)m.column + 1 };
}

static struct pr_node *
node_new(struct composer *c, enum pr_node_type type, yaml_mark_t m)
{
	struct pr_node *n = pr_calloc(1, sizeof(*n));
	struct pr_yaml *doc = c->doc;

	n->type = type;
	n->mark = mark_of(m);
	n->expanded = 1;
	doc->all = pr_reallocarray(doc->all, doc->nall + 1, sizeof(*doc->all));
	doc->all[doc->nall++] = n;
	return n;
}

static void
kid_add(struct pr_node *parent, struct pr_node *kid)
{
	parent->kids = pr_reallocarray(parent->kids, parent->nkids + 1, sizeof(*parent->kids));
	parent->kids[parent->nkids++] = kid;
}

static void
anchor_set(struct composer *c, const char *name, struct pr_node *n)
{
	for (size_t i = 0; i < c->nanchors; i++) {
		if (strcmp(c->anchors[i].name, name) == 0) {
			c->anchors[i].node = n;
			return;
		}
	}
	c->anchors = pr_reallocarray(c->anchors, c->nanchors + 1, sizeof(*c->anchors));
	c->anchors[c->nanchors].name = pr_strdup(name);
	c->anchors[c->nanchors].node = n;
	c->nanchors++;
}

static struct pr_node *
anchor_get(struct composer *c, const char *name)
{
	for (size_t i = 0; i < c->nanchors; i++)
		if (strcmp(c->anchors[i].name, name) == 0)
			return c->anchors[i].node;
	return NULL;
}

/* Accepts the tags of the YAML core schema and nothing else; returns 1 when
 * the tag makes a scalar a string. */
static int
tag_check(struct composer *c, const yaml_char_t *tag, yaml_mark_t m, enum pr_node_type type)
{
	static const char core[] = "tag:yaml.org,2002:";
	static const char *const scalar_tags[] = { "str", "int", "bool", "null", "float", NULL };
	const char *t = (const char *)tag;

	if (t == NULL || strcmp(t, "!") == 0)
		return 0;
	if (strncmp(t, core, sizeof(core) - 1) == 0) {
		const char *s = t + sizeof(core) - 1;
		if (type == PR_NODE_MAP && strcmp(s, "map") == 0)
			return 0;
		if (type == PR_NODE_SEQ && strcmp(s, "seq") == 0)
			return 0;
		if (type == PR_NODE_SCALAR)
			for (size_t i = 0; scalar_tags[i] != NULL; i++)
				if (strcmp(s, scalar_tags[i]) == 0)
					return strcmp(s, "str") == 0;
		pr_diag_error(c->d, mark_of(m), "tag '!!%s' does not fit here", s);
	} else {
		pr_diag_error(c->d, mark_of(m), "unsupported tag '%s'", t);
	}
	c->failed = 1;
	return 0;
}

static int
is_merge_key(const struct pr_node *k)
{
	return k->type == PR_NODE_SCALAR && !k->quoted && strcmp(k->value, "<<") == 0;
}

static int
map_has(const struct pr_node *map, size_t upto, const char *key)
{
	for (size_t i = 0; i < upto; i += 2)
		if (strcmp(map->kids[i]->value, key) == 0)
			return 1;
	return 0;
}

/* Checks a finished mapping: scalar keys, no duplicates, merge keys folded
 * in (explicit keys win, earlier merge sources before later ones). */
static void
map_finish(struct composer *c, struct pr_node *map)
{
	struct pr_node **kids = map->kids;
	size_t nkids = map->nkids;
	struct pr_node **merges = NULL;
	size_t nmerges = 0;

	map->kids = NULL;
	map->nkids = 0;
	for (size_t i = 0; i < nkids; i += 2) {
		struct pr_node *k = kids[i], *v = kids[i + 1];

		if (is_merge_key(k)) {
			if (v->type == PR_NODE_MAP) {
				merges = pr_reallocarray(merges, nmerges + 1, sizeof(*merges));
				merges[nmerges++] = v;
			} else if (v->type == PR_NODE_SEQ) {
				for (size_t j = 0; j < v->nkids; j++) {
					if (v->kids[j]->type != PR_NODE_MAP) {
						pr_diag_error(c->d, v->kids[j]->mark,
						              "a merge key takes mappings, not %s",
						              pr_node_what(v->kids[j]));
						c->failed = 1;
						continue;
					}
					merges = pr_reallocarray(merges, nmerges + 1, sizeof(*merges));
					merges[nmerges++] = v->kids[j];
				}
			} else {
				pr_diag_error(c->d, v->mark, "a merge key takes a mapping or a list of mappings, not %s",
				              pr_node_what(v));
				c->failed = 1;
			}
			continue;
		}
		if (k->type != PR_NODE_SCALAR) {
			pr_diag_error(c->d, k->mark, "a key must be a plain value, not %s", pr_node_what(k));
			c->failed = 1;
			continue;
		}
		for (size_t j = 0; j < map->nkids; j += 2) {
			if (strcmp(map->kids[j]->value, k->value) == 0) {
				pr_diag_error(c->d, k->mark, "duplicate key '%s' (first at line %u)",
				              k->value, map->kids[j]->mark.line);
				c->failed = 1;
				goto next;
			}
		}
		kid_add(map, k);
		kid_add(map, v);
	next:;
	}
	for (size_t m = 0; m < nmerges; m++) {
		struct pr_node *src = merges[m];
		for (size_t j = 0; j < src->nkids; j += 2) {
			if (map_has(map, map->nkids, src->kids[j]->value))
				continue;
			kid_add(map, src->kids[j]);
			kid_add(map, src->kids[j + 1]);
		}
	}
	free(merges);
	free(kids);
	map->expanded = 1;
	for (size_t i = 0; i < map->nkids && map->expanded <= PR_YAML_MAX_NODES; i++)
		map->expanded += map->kids[i]->expanded;
}

/* Adds a finished node to the open collection, or makes it the root. */
static void
attach(struct composer *c, struct pr_node *n)
{
	if (c->depth == 0) {
		c->doc->root = n;
		return;
	}
	struct pr_node *parent = c->stack[c->depth - 1];
	kid_add(parent, n);
	if (parent->expanded <= PR_YAML_MAX_NODES)
		parent->expanded += n->expanded;
}

static void
push(struct composer *c, struct pr_node *n, const yaml_char_t *anchor, yaml_mark_t m)
{
	if (c->depth >= PR_YAML_MAX_DEPTH) {
		pr_diag_error(c->d, mark_of(m), "nesting deeper than %d levels", PR_YAML_MAX_DEPTH);
		c->failed = c->stop = 1;
		return;
	}
	c->stack = pr_reallocarray(c->stack, c->depth + 1, sizeof(*c->stack));
	c->stack_anchor = pr_reallocarray(c->stack_anchor, c->depth + 1, sizeof(*c->stack_anchor));
	c->stack[c->depth] = n;
	c->stack_anchor[c->depth] = anchor ? pr_strdup((const char *)anchor) : NULL;
	c->depth++;
}

static void
pop(struct composer *c)
{
	struct pr_node *n = c->stack[--c->depth];
	char *anchor = c->stack_anchor[c->depth];

	if (n->type == PR_NODE_MAP)
		map_finish(c, n);
	if (n->expanded > PR_YAML_MAX_NODES) {
		pr_diag_error(c->d, n->mark,
		              "aliases expand to more than %d nodes; refusing to expand them",
		              PR_YAML_MAX_NODES);
		c->failed = c->stop = 1;
	}
	if (anchor != NULL) {
		anchor_set(c, anchor, n);
		free(anchor);
	}
	attach(c, n);
}

static void
on_event(struct composer *c, yaml_event_t *ev)
{
	struct pr_node *n;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++c->documents > 1) {
			pr_diag_error(c->d, mark_of(ev->start_mark),
			              "a pipeline file holds one YAML document, this is a second one");
			c->failed = 1;
		}
		break;
	case YAML_SCALAR_EVENT:
		n = node_new(c, PR_NODE_SCALAR, ev->start_mark);
		n->value = pr_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (strlen(n->value) != ev->data.scalar.length) {
			pr_diag_error(c->d, n->mark, "a value holds a NUL byte");
			c->failed = 1;
		}
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		if (tag_check(c, ev->data.scalar.tag, ev->start_mark, PR_NODE_SCALAR))
			n->quoted = 1;
		if (ev->data.scalar.anchor != NULL)
			anchor_set(c, (const char *)ev->data.scalar.anchor, n);
		attach(c, n);
		break;
	case YAML_ALIAS_EVENT:
		n = anchor_get(c, (const char *)ev->data.alias.anchor);
		if (n == NULL) {
			pr_diag_error(c->d, mark_of(ev->start_mark), "undefined alias '*%s'",
			              (const char *)ev->data.alias.anchor);
			c->failed = 1;
			/* A stand-in keeps the structure whole for later checks. */
			n = node_new(c, PR_NODE_SCALAR, ev->start_mark);
			n->value = pr_strdup("");
		}
		attach(c, n);
		break;
	case YAML_SEQUENCE_START_EVENT:
		n = node_new(c, PR_NODE_SEQ, ev->start_mark);
		tag_check(c, ev->data.sequence_start.tag, ev->start_mark, PR_NODE_SEQ);
		push(c, n, ev->data.sequence_start.anchor, ev->start_mark);
		break;
	case YAML_MAPPING_START_EVENT:
		n = node_new(c, PR_NODE_MAP, ev->start_mark);
		tag_check(c, ev->data.mapping_start.tag, ev->start_mark, PR_NODE_MAP);
		push(c, n, ev->data.mapping_start.anchor, ev->start_mark);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		pop(c);
		break;
	default:
		break;
	}
}

int
pr_yaml_parse(const char *text, size_t len, struct pr_yaml *doc, struct pr_diag *d)
{
	struct composer c = { .doc = doc, .d = d };
	yaml_parser_t parser;
	yaml_event_t ev;
	int done = 0;

	memset(doc, 0, sizeof(*doc));
	if (len > PR_YAML_MAX_FILE) {
		pr_diag_error(d, (struct pr_mark){ 0, 0 }, "the file is larger than %u bytes",
		              PR_YAML_MAX_FILE);
		return -1;
	}
	if (!yaml_parser_initialize(&parser)) {
		pr_diag_error(d, (struct pr_mark){ 0, 0 }, "cannot start the YAML parser");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done && !c.stop) {
		if (!yaml_parser_parse(&parser, &ev)) {
			struct pr_mark m = mark_of(parser.problem_mark);
			if (parser.context != NULL)
				pr_diag_error(d, m, "%s %s", parser.problem ? parser.problem : "invalid YAML",
				              parser.context);
			else
				pr_diag_error(d, m, "%s", parser.problem ? parser.problem : "invalid YAML");
			c.failed = c.stop = 1;
			break;
		}
		on_event(&c, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	for (size_t i = 0; i < c.depth; i++)
		free(c.stack_anchor[i]);
	free(c.stack);
	free(c.stack_anchor);
	for (size_t i = 0; i < c.nanchors; i++)
		free(c.anchors[i].name);
	free(c.anchors);
	if (c.failed) {
		doc->root = NULL;
		return -1;
	}
	return 0;
}

int
pr_yaml_read(const char *path, char **text, size_t *len, struct pr_diag *d)
{
	struct stat st;
	char *buf;
	size_t n = 0;
	int fd;

	*text = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		pr_diag_error(d, (struct pr_mark){ 0, 0 }, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		pr_diag_error(d, (struct pr_mark){ 0, 0 }, "%s", strerror(EISDIR));
		close(fd);
		return -1;
	}
	/* Read at most one byte past the limit, whatever st_size says (pipes). */
	buf = pr_malloc(PR_YAML_MAX_FILE + 1);
	while (n <= PR_YAML_MAX_FILE) {
		ssize_t r = read(fd, buf + n, PR_YAML_MAX_FILE + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pr_diag_error(d, (struct pr_mark){ 0, 0 }, "%s", strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*text = buf;
	*len = n;
	return 0;
}

void
pr_yaml_free(struct pr_yaml *doc)
{
	if (doc == NULL)
		return;
	for (size_t i = 0; i < doc->nall; i++) {
		free(doc->all[i]->value);
		free(doc->all[i]->kids);
		free(doc->all[i]);
	}
	free(doc->all);
	memset(doc, 0, sizeof(*doc));
}

struct pr_node *
pr_map_get(const struct pr_node *n, const char *key)
{
	if (n == NULL || n->type != PR_NODE_MAP)
		return NULL;
	for (size_t i = 0; i < pr_map_len(n); i++)
		if (strcmp(pr_map_key(n, i)->value, key) == 0)
			return pr_map_value(n, i);
	return NULL;
}

int
pr_node_is_null(const struct pr_node *n)
{
	if (n->type != PR_NODE_SCALAR || n->quoted)
		return 0;
	return n->value[0] == '\0' || strcmp(n->value, "~") == 0 || strcmp(n->value, "null") == 0 ||
	       strcmp(n->value, "Null") == 0 || strcmp(n->value, "NULL") == 0;
}

const char *
pr_node_what(const struct pr_node *n)
{
	switch (n->type) {
	case PR_NODE_MAP:
		return n->nkids == 0 ? "an empty mapping" : "a mapping";
	case PR_NODE_SEQ:
		return n->nkids == 0 ? "an empty list" : "a list";
	default:
		return pr_node_is_null(n) ? "an empty value" : "a single value";
	}
}
