/*
 * plugin.c: loading a stage from a shared object.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runner/plugin.h"
#include "runner/util.h"

/* The smallest descriptor this host can use: up to and including close. */
#define DESC_MIN_SIZE (offsetof(struct piperun_stage, close) + sizeof(void (*)(void *)))

int
pr_stage_name_valid(const char *name)
{
	return name[0] != '\0' &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
	               strlen(name);
}

int
pr_plugin_load(const char *path, void **handle, const struct piperun_stage **desc, char *err,
               size_t errlen)
{
	const struct piperun_stage *d;
	struct stat st;
	char *dir;
	void *h;

	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "cannot load plugin '%s': %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "cannot load plugin '%s': not a regular file", path);
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen, "refusing plugin '%s': it is writable by others", path);
		return -1;
	}
	dir = pr_strdup(path);
	if (stat(dirname(dir), &st) == 0 && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen, "refusing plugin '%s': its folder is writable by others", path);
		free(dir);
		return -1;
	}
	free(dir);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(err, errlen, "cannot load plugin '%s': %s", path, dlerror());
		return -1;
	}
	d = dlsym(h, PIPERUN_STAGE_SYMBOL);
	if (d == NULL) {
		snprintf(err, errlen, "plugin '%s' exports no '%s' symbol: is it a piperun stage?",
		         path, PIPERUN_STAGE_SYMBOL);
		dlclose(h);
		return -1;
	}
	if (d->abi >> 16 != PIPERUN_STAGE_ABI_MAJOR) {
		snprintf(err, errlen,
		         "plugin '%s' was built for stage interface %u.%u; this piperun provides %u.%u",
		         path, (unsigned)(d->abi >> 16), (unsigned)(d->abi & 0xffff),
		         PIPERUN_STAGE_ABI_MAJOR, PIPERUN_STAGE_ABI_MINOR);
		dlclose(h);
		return -1;
	}
	if (d->size < DESC_MIN_SIZE) {
		snprintf(err, errlen, "plugin '%s' has a descriptor of %u bytes, smaller than the %zu "
		         "of stage interface %u.0", path, (unsigned)d->size, (size_t)DESC_MIN_SIZE,
		         PIPERUN_STAGE_ABI_MAJOR);
		dlclose(h);
		return -1;
	}
	if (d->name == NULL || d->process == NULL) {
		snprintf(err, errlen, "plugin '%s' has no %s", path,
		         d->name == NULL ? "name" : "process callback");
		dlclose(h);
		return -1;
	}
	/* As piperun-stage(3) defines it, so that it reads well in messages
	 * and lists, whatever the plugin put there. */
	if (!pr_stage_name_valid(d->name)) {
		snprintf(err, errlen, "plugin '%s' has an invalid name '%.64s': a stage's name holds "
		         "only letters, digits, '_' and '-'", path, d->name);
		dlclose(h);
		return -1;
	}
	if (d->kind > PIPERUN_KIND_SYNC) {
		snprintf(err, errlen, "plugin '%s' has an invalid kind %u: it must be "
		         "PIPERUN_KIND_NONE, _IO, _CPU or _SYNC", path, (unsigned)d->kind);
		dlclose(h);
		return -1;
	}
	*handle = h;
	*desc = d;
	return 0;
}
