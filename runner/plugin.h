/*
 * plugin.h: loading a stage from a shared object.
 */
#ifndef PR_PLUGIN_H
#define PR_PLUGIN_H

#include <stddef.h>

#include "stages/piperun-stage.h"

/*
 * Loads the stage exported by the shared object at PATH (which must hold a
 * slash, so the library search path is never consulted).  Refuses a file
 * or folder writable by others, a file that is not a shared object, one
 * without the PIPERUN_STAGE_SYMBOL descriptor, a descriptor of another ABI
 * major version or too small to hold this version's fields, one without
 * a process callback, and one whose name or kind is not one that
 * piperun-stage(3) allows.  Nothing of the stage is called.
 *
 * Returns 0 and sets *HANDLE (for dlclose) and *DESC, or -1 and writes a
 * message of at most ERRLEN bytes to ERR.
 */
int pr_plugin_load(const char *path, void **handle, const struct piperun_stage **desc, char *err,
                   size_t errlen);

/* 1 when NAME is made of letters, digits, '_' and '-', and is not empty:
 * a stage's name, in a pipeline file or a plugin's descriptor. */
int pr_stage_name_valid(const char *name);

#endif
