/*
 * worker.c: piperun re-executed as a worker process of a cpu stage.
 *
 * The worker never writes to the user's terminal or to standard output:
 * results and messages travel to the parent, which alone prints.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/ipc.h"
#include "runner/loader.h"
#include "runner/stage.h"
#include "runner/util.h"
#include "runner/worker.h"

static int
refuse(struct pr_conn *c, const char *msg)
{
	struct pr_buf meta = { 0 };

	pr_buf_str(&meta, msg);
	pr_conn_send(c, PR_FRAME_REFUSED, &meta, NULL, 0);
	pr_conn_flush(c);
	free(meta.p);
	return 1;
}

/* Runs one item frame and sends its results. */
static int
serve_item(struct pr_conn *c, struct pr_stage_inst *inst, unsigned char *meta, size_t meta_len,
           unsigned char *data, size_t len, int slot)
{
	struct pr_rd r = { meta, meta_len };
	struct pr_item_list out = { 0 };
	struct pr_buf reply = { 0 };
	struct pr_item *item, *it;
	uint64_t seq;
	char *name, *path, *err = NULL;
	double t0;
	int rc;

	if (pr_rd_u64(&r, &seq) < 0 || pr_rd_str(&r, &name) < 0 || pr_rd_str(&r, &path) < 0 ||
	    name == NULL) {
		free(name);
		free(path);
		if (slot < 0)
			free(data);
		return -1;
	}
	/* Data in a slot is read where it is, and the slot given back. */
	item = pr_item_new(name, path, data, len);
	free(name);
	free(path);
	t0 = pr_now();
	rc = pr_stage_try(inst, item, &out, &err);
	if (slot >= 0) {
		/* A stand-in for the input took the slot's bytes: copy them. */
		for (it = out.head; it != NULL; it = it->next) {
			if (it->data == data) {
				it->data = pr_malloc(len);
				memcpy(it->data, data, len);
			}
		}
		item->data = NULL;
		pr_conn_release(c, slot);
	}
	pr_item_free(item);
	while ((it = pr_item_list_pop(&out)) != NULL) {
		reply.len = 0;
		pr_buf_str(&reply, it->name);
		if (pr_conn_send(c, PR_FRAME_OUT, &reply, it->data, it->len) < 0)
			rc = -2;
		pr_item_free(it);
		if (rc == -2)
			break;
	}
	pr_item_list_clear(&out);
	if (rc != -2) {
		reply.len = 0;
		pr_buf_u64(&reply, rc == 0 ? 0 : 1);
		pr_buf_u64(&reply, (uint64_t)((pr_now() - t0) * 1e6));
		pr_buf_str(&reply, rc == 0 ? NULL : err);
		if (pr_conn_send(c, PR_FRAME_DONE, &reply, NULL, 0) < 0)
			rc = -2;
	}
	free(reply.p);
	free(err);
	return rc == -2 ? -1 : 0;
}

int
pr_worker_main(int fd)
{
	struct pr_load_opts lo = { .have_inputs = 1 };
	struct pr_pipeline *p = NULL;
	struct pr_stage_inst *inst = NULL;
	struct pr_diag d;
	struct pr_conn c;
	unsigned char *meta, *data;
	size_t meta_len, len;
	uint32_t type;
	uint64_t index;
	char *file = NULL;
	int rc;

	/* The user's Ctrl-C reaches the whole process group: the parent alone
	 * decides what happens to the work, and ends workers itself. */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGPIPE);
	sigprocmask(SIG_BLOCK, &block, NULL);

	fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* Stray writes of a stage go to stderr, never into piperun's output. */
	dup2(STDERR_FILENO, STDOUT_FILENO);

	pr_conn_init(&c, fd);
	int slot;
	if (pr_conn_recv(&c, &type, &meta, &meta_len, &data, &len, &slot) != 1 ||
	    type != PR_FRAME_HELLO) {
		pr_conn_free(&c);
		return 1;
	}
	if (slot >= 0) {
		unsigned char *copy = pr_malloc(len);
		memcpy(copy, data, len);
		pr_conn_release(&c, slot);
		data = copy;
	}
	struct pr_rd r = { meta, meta_len };
	if (pr_rd_str(&r, &file) < 0 || file == NULL || pr_rd_u64(&r, &index) < 0) {
		free(meta);
		free(data);
		rc = refuse(&c, "piperun: worker: a malformed greeting");
		pr_conn_free(&c);
		return rc;
	}
	free(meta);
	pr_diag_init(&d, file);
	p = pr_pipeline_load_text(file, (const char *)data, len, &lo, &d);
	free(data);
	if (p != NULL && index < p->nstages)
		inst = pr_stage_open(p, &p->stages[index], 0, &d);
	if (inst == NULL) {
		rc = refuse(&c, d.count > 0 ? d.msgs[0] : "piperun: worker: cannot open the stage");
		pr_conn_free(&c);
		pr_diag_free(&d);
		pr_pipeline_free(p);
		free(file);
		return rc;
	}
	pr_diag_free(&d);
	free(file);
	rc = pr_conn_send(&c, PR_FRAME_READY, NULL, NULL, 0) < 0;
	for (;;) {
		/* Each item's results go out as soon as it is done, in one write:
		 * if a later item kills this process, the parent knows which. */
		int got;
		if (rc != 0 || pr_conn_flush(&c) < 0 ||
		    (got = pr_conn_recv(&c, &type, &meta, &meta_len, &data, &len, &slot)) <= 0)
			break;
		if (got == 2)
			continue; /* only slots given back */
		if (type != PR_FRAME_ITEM) {
			if (slot < 0)
				free(data);
			rc = 1;
		} else if (serve_item(&c, inst, meta, meta_len, data, len, slot) < 0)
			rc = 1;
		free(meta);
	}
	pr_conn_free(&c);
	pr_stage_close(inst);
	pr_pipeline_free(p);
	close(fd);
	return rc;
}
