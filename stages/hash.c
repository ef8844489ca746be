/*
 * hash.c: the hash stage: replaces an item's data with the line sha256sum
 * prints for it, "HEX  NAME\n" (with sha256sum's escaping of a name that
 * holds a backslash, a newline or a carriage return).  SHA-256 comes from
 * OpenSSL's libcrypto, which the stage loads when it opens: linked in, it
 * would be loaded, and its symbols bound, at the start of every piperun
 * process and worker, whatever their stages.
 */
#include "config.h"

#include <dlfcn.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stages/stages.h"

#define STR_(x) #x
#define STR(x)  STR_(x)
/* The library's file name, with the ABI version of the headers compiled
 * here, which OpenSSL's own build gives its libcrypto. */
#ifdef OPENSSL_SHLIB_VERSION
#define CRYPTO_SONAME "libcrypto.so." STR(OPENSSL_SHLIB_VERSION)
#else
#define CRYPTO_SONAME "libcrypto.so." SHLIB_VERSION_NUMBER
#endif

/* What the stage takes from libcrypto. */
static struct {
	int (*digest)(const void *data, size_t len, unsigned char *md, unsigned int *mdlen,
	              const EVP_MD *type, ENGINE *impl);
	const EVP_MD *sha256;
	const char *error; /* why they could not be had, or NULL */
} crypto;
static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;

/* Loads libcrypto, once per process; never unloads it. */
static void
load_crypto(void)
{
	static char why[256];
	void *lib = dlopen(CRYPTO_SONAME, RTLD_NOW | RTLD_LOCAL);
	const EVP_MD *(*sha256)(void) = NULL;

	if (lib != NULL) {
		*(void **)&crypto.digest = dlsym(lib, "EVP_Digest");
		*(void **)&sha256 = dlsym(lib, "EVP_sha256");
	}
	if (sha256 != NULL)
		crypto.sha256 = sha256();
	if (crypto.digest == NULL || crypto.sha256 == NULL) {
		const char *e = dlerror();
		if (e != NULL)
			snprintf(why, sizeof(why), "cannot load OpenSSL's libcrypto: %s", e);
		else
			snprintf(why, sizeof(why), "%s has no SHA-256", CRYPTO_SONAME);
		crypto.error = why;
	}
}

static int
hash_open(const struct piperun_host *host, struct piperun_opts *opts, void **state)
{
	(void)state;
	pthread_once(&crypto_once, load_crypto);
	if (crypto.error != NULL) {
		host->open_error(opts, "%s", crypto.error);
		return -1;
	}
	return 0;
}

static int
hash_process(void *state, const struct piperun_host *host, const struct piperun_item *item,
             struct piperun_out *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	const char *name = item->name;
	int escape = strpbrk(name, "\\\n\r") != NULL;
	char *buf, *w;

	(void)state;
	if (!crypto.digest(item->data ? item->data : (const unsigned char *)"", item->len, md, &mdlen,
	                   crypto.sha256, NULL)) {
		host->item_error(out, "SHA-256 failed");
		return -1;
	}
	/* At worst every byte of the name doubles when escaped. */
	buf = host->alloc(1 + 2 * mdlen + 2 + 2 * strlen(name) + 1);
	if (buf == NULL) {
		host->item_error(out, "out of memory");
		return -1;
	}
	w = buf;
	if (escape)
		*w++ = '\\';
	for (unsigned i = 0; i < mdlen; i++) {
		*w++ = hex[md[i] >> 4];
		*w++ = hex[md[i] & 15];
	}
	*w++ = ' ';
	*w++ = ' ';
	for (; *name != '\0'; name++) {
		if (escape && *name == '\\') {
			*w++ = '\\';
			*w++ = '\\';
		} else if (escape && *name == '\n') {
			*w++ = '\\';
			*w++ = 'n';
		} else if (escape && *name == '\r') {
			*w++ = '\\';
			*w++ = 'r';
		} else {
			*w++ = *name;
		}
	}
	*w++ = '\n';
	return host->emit_owned(out, NULL, buf, (size_t)(w - buf));
}

const struct piperun_stage pr_stage_hash = {
	PIPERUN_STAGE_HEADER,
	.name = "hash",
	.summary = "replace data with \"SHA256  NAME\", as sha256sum prints it",
	.flags = PIPERUN_STAGE_THREAD_SAFE,
	.kind = PIPERUN_KIND_CPU,
	.open = hash_open,
	.process = hash_process,
};
