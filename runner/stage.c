/*
 * stage.c: the one adaptor through which executors call a stage, and the
 * host table that stages use to read options and emit items.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runner/block.h"
#include "runner/stage.h"
#include "runner/units.h"
#include "runner/util.h"

struct piperun_opts {
	const struct pr_node *with;
	const struct pr_pipeline *pipeline;
	const struct pr_stage_conf *conf;
	struct pr_diag *diag;
	int checking;
	const char **asked;  /* keys the stage asked for */
	size_t nasked;
	void **keep;         /* memory handed to the stage, freed at close */
	size_t nkeep;
};

struct piperun_out {
	struct pr_item *in;
	struct pr_item_list items;
	int may_take; /* the stage may take the input's memory (no retry) */
	int taken;    /* it did */
	char *error;
	const atomic_int *cancel;
	double deadline; /* pr_now() seconds, 0 for none */
};

static void *
keep(struct piperun_opts *o, void *p)
{
	o->keep = pr_reallocarray(o->keep, o->nkeep + 1, sizeof(*o->keep));
	o->keep[o->nkeep++] = p;
	return p;
}

/* Finds KEY, remembering that the stage knows it. */
static const struct pr_node *
opt_find(struct piperun_opts *o, const char *key)
{
	o->asked = pr_reallocarray(o->asked, o->nasked + 1, sizeof(*o->asked));
	o->asked[o->nasked++] = key;
	return pr_map_get(o->with, key);
}

static int
opt_bad(struct piperun_opts *o, const struct pr_node *v, const char *key, const char *want)
{
	if (v->type == PR_NODE_SCALAR && !pr_node_is_null(v))
		pr_diag_error(o->diag, v->mark, "option '%s' of stage '%s' must be %s, not '%s'", key,
		              o->conf->name, want, v->value);
	else
		pr_diag_error(o->diag, v->mark, "option '%s' of stage '%s' must be %s, not %s", key,
		              o->conf->name, want, pr_node_what(v));
	return -1;
}

static int
host_opt_string(struct piperun_opts *o, const char *key, const char **value)
{
	const struct pr_node *v = opt_find(o, key);

	if (v == NULL)
		return 1;
	if (v->type != PR_NODE_SCALAR || pr_node_is_null(v))
		return opt_bad(o, v, key, "a string");
	*value = v->value;
	return 0;
}

static int
host_opt_path(struct piperun_opts *o, const char *key, const char **value)
{
	const char *s;
	int rc = host_opt_string(o, key, &s);

	if (rc != 0)
		return rc;
	if (s[0] == '\0') {
		pr_diag_error(o->diag, pr_map_get(o->with, key)->mark,
		              "option '%s' of stage '%s' must be a path, not an empty string", key,
		              o->conf->name);
		return -1;
	}
	*value = keep(o, pr_path_join(o->pipeline->dir, s));
	return 0;
}

static int
host_opt_int(struct piperun_opts *o, const char *key, long long min, long long max,
             long long *value)
{
	const struct pr_node *v = opt_find(o, key);
	char want[96];
	char *end;
	long long n;

	if (v == NULL)
		return 1;
	snprintf(want, sizeof(want), "a whole number from %lld to %lld", min, max);
	if (v->type != PR_NODE_SCALAR || v->quoted || v->value[0] == '\0')
		return opt_bad(o, v, key, want);
	n = strtoll(v->value, &end, 10);
	if (*end != '\0' || n < min || n > max)
		return opt_bad(o, v, key, want);
	*value = n;
	return 0;
}

static int
host_opt_bool(struct piperun_opts *o, const char *key, int *value)
{
	static const char *const yaml11[] = { "yes", "no", "on", "off", "y", "n", "Yes", "No",
		                              "On", "Off", "YES", "NO", "ON", "OFF", "True",
		                              "False", "TRUE", "FALSE", NULL };
	const struct pr_node *v = opt_find(o, key);

	if (v == NULL)
		return 1;
	if (v->type == PR_NODE_SCALAR && !v->quoted) {
		if (strcmp(v->value, "true") == 0 || strcmp(v->value, "false") == 0) {
			*value = v->value[0] == 't';
			return 0;
		}
		for (size_t i = 0; yaml11[i] != NULL; i++) {
			if (strcmp(v->value, yaml11[i]) == 0) {
				pr_diag_error(o->diag, v->mark,
				              "option '%s' of stage '%s' must be true or false, not '%s' "
				              "(YAML 1.2 booleans are true and false only)",
				              key, o->conf->name, v->value);
				return -1;
			}
		}
	}
	return opt_bad(o, v, key, "true or false");
}

static int
host_opt_size(struct piperun_opts *o, const char *key, uint64_t *value)
{
	const struct pr_node *v = opt_find(o, key);

	if (v == NULL)
		return 1;
	if (v->type != PR_NODE_SCALAR || pr_parse_size(v->value, value) < 0)
		return opt_bad(o, v, key, "a size such as 4096, 64k or 1MiB");
	return 0;
}

static int
host_opt_duration(struct piperun_opts *o, const char *key, double *value)
{
	const struct pr_node *v = opt_find(o, key);

	if (v == NULL)
		return 1;
	if (v->type != PR_NODE_SCALAR || pr_parse_duration(v->value, value) < 0)
		return opt_bad(o, v, key, "a duration such as 30, 1.5s or 250ms");
	return 0;
}

static int
host_opt_list(struct piperun_opts *o, const char *key, const char *const **items, size_t *count)
{
	const struct pr_node *v = opt_find(o, key);
	const char **list;

	if (v == NULL)
		return 1;
	if (v->type == PR_NODE_MAP || pr_node_is_null(v))
		return opt_bad(o, v, key, "a string or a list of strings");
	if (v->type == PR_NODE_SCALAR) {
		list = keep(o, pr_calloc(2, sizeof(*list)));
		list[0] = v->value;
		*items = list;
		*count = 1;
		return 0;
	}
	for (size_t i = 0; i < v->nkids; i++)
		if (v->kids[i]->type != PR_NODE_SCALAR || pr_node_is_null(v->kids[i]))
			return opt_bad(o, v->kids[i], key, "a list of strings");
	list = keep(o, pr_calloc(v->nkids + 1, sizeof(*list)));
	for (size_t i = 0; i < v->nkids; i++)
		list[i] = v->kids[i]->value;
	*items = list;
	*count = v->nkids;
	return 0;
}

static int
host_opt_checking(struct piperun_opts *o)
{
	return o->checking;
}

static void
host_open_error(struct piperun_opts *o, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = pr_vasprintf(fmt, ap);
	va_end(ap);
	pr_diag_error(o->diag, o->conf->mark, "stage '%s': %s", o->conf->name, msg);
	free(msg);
}

static int
emit_item(struct piperun_out *out, const char *name, unsigned char *data, size_t len,
          struct pr_block *block)
{
	pr_item_list_push(&out->items,
	                  pr_item_new(name ? name : out->in->name, out->in->path, data, len, block));
	return 0;
}

/* Memory for SIZE bytes of item data, as pr_data_alloc() gives it, but
 * NULL when memory runs out. */
static void *
data_alloc(size_t size, struct pr_block **b)
{
	if ((*b = pr_block_alloc_data(size)) != NULL)
		return (*b)->map;
	return malloc(size ? size : 1);
}

static int
host_emit(struct piperun_out *out, const char *name, const void *data, size_t len)
{
	unsigned char *copy = NULL;
	struct pr_block *block = NULL;

	if (len > 0) {
		if ((copy = data_alloc(len, &block)) == NULL)
			return -1;
		memcpy(copy, data, len);
	}
	return emit_item(out, name, copy, len, block);
}

/* The block of memory at P that a stage has from alloc(), or from
 * reuse_input() in a peer's block (which TAKE takes back from it); NULL
 * for memory from malloc. */
static struct pr_block *
stage_block(const void *p, int take)
{
	struct pr_block *b = pr_block_find(p);

	return b != NULL ? b : pr_block_handed(p, take);
}

static void
host_release(void *ptr)
{
	struct pr_block *b = stage_block(ptr, 1);

	if (b != NULL)
		pr_block_release(b);
	else
		free(ptr);
}

static int
host_emit_owned(struct piperun_out *out, const char *name, void *data, size_t len)
{
	if (len == 0) {
		host_release(data);
		return emit_item(out, name, NULL, 0, NULL);
	}
	return emit_item(out, name, data, len, stage_block(data, 1));
}

static int
host_emit_input(struct piperun_out *out)
{
	if (out->taken) {
		free(out->error);
		out->error = pr_asprintf("the input was emitted after reuse_input() took it");
		return -1;
	}
	emit_item(out, NULL, NULL, 0, NULL);
	out->items.tail->from_input = 1;
	return 0;
}

/* The input's memory, which becomes the stage's, when it may have it and
 * it holds SIZE bytes: memory from malloc holds the input's bytes, a
 * block its size.  The view the stage has of the input still points at
 * it. */
static void *
host_reuse_input(struct piperun_out *out, size_t size)
{
	struct pr_item *in = out->in;
	void *p = in->data;

	if (!out->may_take || out->taken || p == NULL)
		return NULL;
	if (in->block != NULL ? p != in->block->map || size > in->block->size : size > in->len)
		return NULL;
	if (in->block != NULL && in->block->home != NULL)
		pr_block_hand(in->block);
	in->data = NULL;
	in->len = 0;
	in->block = NULL;
	out->taken = 1;
	return p;
}

static void
host_item_error(struct piperun_out *out, const char *fmt, ...)
{
	va_list ap;

	free(out->error);
	va_start(ap, fmt);
	out->error = pr_vasprintf(fmt, ap);
	va_end(ap);
}

static int
host_stopping(struct piperun_out *out)
{
	if (out->cancel != NULL && atomic_load(out->cancel))
		return PIPERUN_STOP_INTERRUPT;
	if (out->deadline > 0 && pr_now() >= out->deadline)
		return PIPERUN_STOP_TIMEOUT;
	return 0;
}

/* Large buffers come from shared blocks when the run has worker
 * processes (see block.h), so that they cross to a worker, or back, where
 * they are. */
static void *
host_alloc(size_t size)
{
	struct pr_block *b;

	return data_alloc(size, &b);
}

static void *
host_resize(void *ptr, size_t size)
{
	struct pr_block *b = stage_block(ptr, 0);
	void *bigger;

	if (b == NULL) {
		if (ptr == NULL)
			return host_alloc(size);
		return realloc(ptr, size ? size : 1);
	}
	if (size <= b->size)
		return ptr;
	if ((bigger = host_alloc(size)) == NULL)
		return NULL;
	memcpy(bigger, ptr, b->size);
	host_release(ptr);
	return bigger;
}

static int
host_opt_type(struct piperun_opts *o, const char *key)
{
	const struct pr_node *v = opt_find(o, key);

	if (v == NULL)
		return PIPERUN_OPT_ABSENT;
	return v->type == PR_NODE_SEQ ? PIPERUN_OPT_LIST
	       : v->type == PR_NODE_MAP ? PIPERUN_OPT_MAP
	                                : PIPERUN_OPT_STRING;
}

const struct piperun_host pr_host = {
	.abi = PIPERUN_STAGE_ABI,
	.size = sizeof(struct piperun_host),
	.opt_string = host_opt_string,
	.opt_path = host_opt_path,
	.opt_int = host_opt_int,
	.opt_bool = host_opt_bool,
	.opt_size = host_opt_size,
	.opt_duration = host_opt_duration,
	.opt_list = host_opt_list,
	.opt_checking = host_opt_checking,
	.open_error = host_open_error,
	.emit = host_emit,
	.emit_owned = host_emit_owned,
	.emit_input = host_emit_input,
	.item_error = host_item_error,
	.alloc = host_alloc,
	.resize = host_resize,
	.release = host_release,
	.opt_type = host_opt_type,
	.stopping = host_stopping,
	.reuse_input = host_reuse_input,
	.read_data = pr_data_read,
};

static void
opts_free(struct piperun_opts *o)
{
	if (o == NULL)
		return;
	for (size_t i = 0; i < o->nkeep; i++)
		free(o->keep[i]);
	free(o->keep);
	free(o->asked);
	free(o);
}

/* Reports every `with:` key the stage did not ask for; with ONLY_NEAR,
 * only those close to a key it asked for (a stage that refused to open
 * may not have asked for all of its keys). */
static int
opts_check_unknown(struct piperun_opts *o, int only_near)
{
	int bad = 0;

	if (o->with == NULL)
		return 0;
	for (size_t i = 0; i < pr_map_len(o->with); i++) {
		const struct pr_node *k = pr_map_key(o->with, i);
		const char **known = pr_calloc(o->nasked + 1, sizeof(*known));
		const char *hint;
		int found = 0;

		for (size_t j = 0; j < o->nasked; j++) {
			known[j] = o->asked[j];
			found |= strcmp(o->asked[j], k->value) == 0;
		}
		hint = found ? NULL : pr_diag_suggest(k->value, known);
		if (!found && (hint != NULL || !only_near)) {
			if (hint != NULL)
				pr_diag_error(o->diag, k->mark,
				              "unknown option '%s' for stage '%s' (did you mean '%s'?)",
				              k->value, o->conf->name, hint);
			else
				pr_diag_error(o->diag, k->mark, "unknown option '%s' for stage '%s'",
				              k->value, o->conf->name);
			bad = 1;
		}
		free(known);
	}
	return bad ? -1 : 0;
}

struct pr_stage_inst *
pr_stage_open(const struct pr_pipeline *p, const struct pr_stage_conf *conf, int checking,
              struct pr_diag *d)
{
	struct pr_stage_inst *inst = pr_calloc(1, sizeof(*inst));
	struct piperun_opts *o = pr_calloc(1, sizeof(*o));
	size_t errors = d->errors;
	int rc = 0;

	o->with = conf->with;
	o->pipeline = p;
	o->conf = conf;
	o->diag = d;
	o->checking = checking;
	inst->conf = conf;
	inst->opts = o;
	if (conf->desc->open != NULL)
		rc = conf->desc->open(&pr_host, o, &inst->state);
	if (rc == 0 && opts_check_unknown(o, 0) < 0) {
		if (conf->desc->close != NULL)
			conf->desc->close(inst->state);
		rc = -1;
	} else if (rc != 0) {
		opts_check_unknown(o, 1);
	}
	if (rc != 0) {
		if (d->errors == errors)
			pr_diag_error(d, conf->mark, "stage '%s' refused to open", conf->name);
		opts_free(o);
		free(inst);
		return NULL;
	}
	return inst;
}

int
pr_stage_process(struct pr_stage_inst *inst, struct pr_item *in, struct pr_item_list *out,
                 char **err)
{
	/* A retry needs the input as it was. */
	struct piperun_out o = { .in = in, .cancel = inst->cancel,
		                 .may_take = inst->conf->on_error != PR_ON_ERROR_RETRY };
	struct piperun_item view = { in->name, in->path, in->data, in->len };
	const struct piperun_stage *desc = inst->conf->desc;
	int rc;

	if (inst->conf->timeout > 0)
		o.deadline = pr_now() + inst->conf->timeout;
	rc = desc->process(inst->state, &pr_host, &view, &o);
	if (rc != 0) {
		pr_item_list_clear(&o.items);
		*err = o.error ? o.error : pr_asprintf("stage '%s' failed", inst->conf->name);
		return -1;
	}
	free(o.error);
	/* "The input, unchanged": the first stand-in takes the input's data,
	 * any later one copies it. */
	struct pr_item *taken = NULL;
	for (struct pr_item *it = o.items.head; it != NULL; it = it->next) {
		if (!it->from_input)
			continue;
		it->from_input = 0;
		if (taken == NULL) {
			it->data = in->data;
			it->len = in->len;
			it->block = in->block;
			in->data = NULL;
			in->len = 0;
			in->block = NULL;
			taken = it;
		} else if (taken->len > 0) {
			it->data = pr_data_alloc(taken->len, &it->block);
			memcpy(it->data, taken->data, taken->len);
			it->len = taken->len;
		}
	}
	if (out->tail != NULL)
		out->tail->next = o.items.head;
	else
		out->head = o.items.head;
	if (o.items.tail != NULL)
		out->tail = o.items.tail;
	out->count += o.items.count;
	return 0;
}

static void
backoff(unsigned attempt)
{
	double s = 0.1;
	struct timespec ts;

	for (unsigned i = 0; i < attempt && s < PR_BACKOFF_MAX; i++)
		s *= 2;
	if (s > PR_BACKOFF_MAX)
		s = PR_BACKOFF_MAX;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int
pr_stage_try(struct pr_stage_inst *inst, struct pr_item *in, struct pr_attempt *at,
             struct pr_item_list *out, char **err)
{
	const struct pr_stage_conf *c = inst->conf;
	unsigned attempts = c->on_error == PR_ON_ERROR_RETRY ? c->retries + 1 : 1;
	/* Only a timeout reads when an attempt began: no clock otherwise. */
	struct pr_attempt *timed = c->timeout > 0 ? at : NULL;
	int rc;

	*err = NULL;
	for (unsigned a = in->tries; a < attempts; a++) {
		if (a > 0 && inst->cancel != NULL && atomic_load(inst->cancel))
			break;
		if (at != NULL)
			atomic_store(&at->tried, a + 1);
		if (a > 0) {
			free(*err);
			*err = NULL;
			backoff(a - 1);
		}
		if (timed != NULL)
			atomic_store(&timed->since_us, (uint64_t)(pr_now() * 1e6));
		rc = pr_stage_process(inst, in, out, err);
		if (timed != NULL)
			atomic_store(&timed->since_us, 0);
		if (rc == 0)
			return 0;
	}
	return -1;
}

void
pr_stage_close(struct pr_stage_inst *inst)
{
	if (inst == NULL)
		return;
	if (inst->conf->desc->close != NULL)
		inst->conf->desc->close(inst->state);
	opts_free(inst->opts);
	free(inst);
}
