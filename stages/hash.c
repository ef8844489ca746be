/*
 * hash.c: the hash stage: replaces an item's data with the line sha256sum
 * prints for it, "HEX  NAME\n" (with sha256sum's escaping of a name that
 * holds a backslash, a newline or a carriage return).  SHA-256 comes from OpenSSL's libcrypto.
 */
#include "config.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "stages/stages.h"

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
	if (!EVP_Digest(item->data ? item->data : (const unsigned char *)"", item->len, md, &mdlen,
	                EVP_sha256(), NULL)) {
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
	.process = hash_process,
};
