/* provenance.c - files, digests and metadata of a version (provenance.h).
 * The digests come from OpenSSL's EVP interface, the JSON from jansson. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <msgpack.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "provenance.h"
#include "wire.h"

#define MAX_FILES 256

/* sha256 of the file at path, as 64 hex digits. */
static int sha256_file(const char *path, char hex[65], char *err, size_t errlen)
{
	FILE *f = fopen(path, "rbe");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	size_t n;
	while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
		ok = EVP_DigestUpdate(ctx, buf, n) == 1;
	ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	EVP_MD_CTX_free(ctx);
	fclose(f);
	if (!ok) {
		snprintf(err, errlen, "%s: cannot compute its sha256", path);
		return -1;
	}
	for (unsigned i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* A jansson value as MessagePack. */
static int pack_json(msgpack_packer *pk, const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *v;
		if (msgpack_pack_map(pk, (uint32_t)json_object_size(j)))
			return -1;
		json_object_foreach((json_t *)j, k, v)
			if (wire_pack_cstr(pk, k) || pack_json(pk, v))
				return -1;
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *v;
		if (msgpack_pack_array(pk, (uint32_t)json_array_size(j)))
			return -1;
		json_array_foreach((json_t *)j, i, v)
			if (pack_json(pk, v))
				return -1;
		return 0;
	}
	case JSON_STRING:
		return msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j));
	case JSON_INTEGER: return msgpack_pack_int64(pk, json_integer_value(j));
	case JSON_REAL: return msgpack_pack_double(pk, json_real_value(j));
	case JSON_TRUE: return msgpack_pack_true(pk);
	case JSON_FALSE: return msgpack_pack_false(pk);
	default: return msgpack_pack_nil(pk);
	}
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *provenance_compute(const char *dir, size_t *len, char *err, size_t errlen)
{
	char *names[MAX_FILES];
	size_t n = 0;
	DIR *dh = opendir(dir);
	if (dh == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	struct dirent *e;
	while ((e = readdir(dh)) != NULL && n < MAX_FILES) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (e->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			names[n++] = strdup(e->d_name);
	}
	closedir(dh);
	qsort(names, n, sizeof *names, cmp_name);

	err[0] = '\0';
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	json_t *meta = NULL;
	int rc = msgpack_pack_map(&pk, 2) || wire_pack_cstr(&pk, "files") ||
	    msgpack_pack_array(&pk, (uint32_t)n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char path[4096], hex[65];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		rc = names[i] == NULL || stat(path, &st) != 0 ||
		    sha256_file(path, hex, err, errlen) != 0;
		if (rc == 0)
			rc = msgpack_pack_map(&pk, 3) || wire_pack_kv_str(&pk, "name", names[i]) ||
			    wire_pack_cstr(&pk, "size") || wire_pack_i64(&pk, (int64_t)st.st_size) ||
			    wire_pack_kv_str(&pk, "sha256", hex);
		else if (err[0] == '\0')
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
	}
	if (rc == 0) {
		char path[4096];
		json_error_t jerr;
		snprintf(path, sizeof path, "%s/metadata.json", dir);
		if (access(path, F_OK) == 0 &&
		    ((meta = json_load_file(path, 0, &jerr)) == NULL || !json_is_object(meta))) {
			snprintf(err, errlen, "%s: %s", path,
			    meta ? "not a JSON object" : jerr.text);
			rc = -1;
		}
	}
	if (rc == 0)
		rc = wire_pack_cstr(&pk, "metadata") ||
		    (meta ? pack_json(&pk, meta) : msgpack_pack_map(&pk, 0));
	json_decref(meta);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	if (rc != 0) {
		msgpack_sbuffer_destroy(&sb);
		return NULL;
	}
	*len = sb.size;
	return msgpack_sbuffer_release(&sb);
}
