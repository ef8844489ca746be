/*
 * read.c: the read stage, which loads the file an item names.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stages/stages.h"

static int
read_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
             struct piperun_out *out)
{
	const char *path = item->path ? item->path : item->name;
	unsigned char *buf = NULL;
	size_t len = 0, cap;
	struct stat st;
	int fd;

	(void)state;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		host->item_error(out, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		host->item_error(out, "%s: %s", path, S_ISDIR(st.st_mode) ? strerror(EISDIR) : strerror(errno));
		close(fd);
		return -1;
	}
	/* The size is a hint: the file may grow, or be a pipe. */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
	for (;;) {
		ssize_t n;

		if (buf == NULL || len == cap) {
			unsigned char *bigger;
			if (buf != NULL)
				cap *= 2;
			bigger = host->resize(buf, cap);
			if (bigger == NULL) {
				host->release(buf);
				close(fd);
				host->item_error(out, "%s: out of memory", path);
				return -1;
			}
			buf = bigger;
		}
		n = host->read_data(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			host->item_error(out, "%s: %s", path, strerror(errno));
			host->release(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	return host->emit_owned(out, NULL, buf, len);
}

const struct piperun_stage pr_stage_read = {
	PIPERUN_STAGE_HEADER,
	.name = "read",
	.summary = "replace the item's data with the content of the file it names",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_IO,
	.process = read_process,
};
