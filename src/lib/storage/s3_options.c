/* SPDX-License-Identifier: MIT */
/*
 * The S3 backend's options from the environment: a s3:// or gs:// URL split into bucket
 * and prefix, and the AWS and Google variables (keys, region, endpoint, path style,
 * multipart threshold) read into mvms_backend_s3_options. No I/O, no network, no defaults
 * beyond the region (the constructor in backend_s3.c fills the rest).
 */
#include <stdlib.h>
#include <string.h>
#include "s3_int.h"

const char *mvms_s3__env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int mvms_backend_s3_options_from_env(mvms_backend_s3_options *out, char *buf, size_t bufsize,
				     const char *url)
{
	const char *rest, *t;
	char *slash;
	int gs;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->version = 1;
	if (!url)
		return mvms_error_set(MVMS_EINVALID, "s3: no URL");
	if (strncmp(url, "s3://", 5) == 0)
		gs = 0;
	else if (strncmp(url, "gs://", 5) == 0)
		gs = 1;
	else
		return mvms_error_set(MVMS_EINVALID,
				      "backend '%.200s': expected s3://BUCKET[/PREFIX] or "
				      "gs://BUCKET[/PREFIX]", url);
	rest = url + 5;
	n = strlen(rest);
	if (!buf || bufsize < n + 1)
		return mvms_error_set(MVMS_EINVALID, "s3: options buffer too small for '%.200s'",
				      url);
	memcpy(buf, rest, n + 1);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (!*buf || strchr(buf, '?') || strchr(buf, '#') || strchr(buf, '@') || strchr(buf, ':'))
		return mvms_error_set(MVMS_EINVALID, "backend '%.200s': bad bucket name", url);
	out->bucket = buf;
	out->prefix = slash ? slash + 1 : "";
	if (*out->prefix == '/' || strstr(out->prefix, "//"))
		return mvms_error_set(MVMS_EINVALID, "backend '%.200s': empty prefix component",
				      url);

	if ((t = mvms_s3__env("MVMS_S3_MULTIPART_THRESHOLD"))) {
		char *end = NULL;
		unsigned long long v = strtoull(t, &end, 10);
		unsigned shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
		if (end == t || (shift && end[1]) || (!shift && *end) || v == 0 || v > (1ull << 40) >> shift)
			return mvms_error_set(MVMS_EINVALID, "MVMS_S3_MULTIPART_THRESHOLD '%.40s': want "
					      "a size in bytes, with K, M or G", t);
		out->multipart_threshold = (uint64_t)v << shift;
	}
	out->gcs = gs;
	/* Unset: the default (virtual host, path style where the endpoint needs it). */
	if ((t = mvms_s3__env("MVMS_S3_PATH_STYLE"))) {
		if (strcmp(t, "1") != 0 && strcmp(t, "0") != 0)
			return mvms_error_set(MVMS_EINVALID, "MVMS_S3_PATH_STYLE '%.40s': want 1 (path "
					      "style) or 0 (virtual host)", t);
		out->path_style = *t == '1' ? 1 : -1;
	}
	out->session_token = mvms_s3__env("AWS_SESSION_TOKEN");
	if (!gs) {
		out->access_key = mvms_s3__env("AWS_ACCESS_KEY_ID");
		out->secret_key = mvms_s3__env("AWS_SECRET_ACCESS_KEY");
		out->region = mvms_s3__env("AWS_REGION") ? mvms_s3__env("AWS_REGION") : mvms_s3__env("AWS_DEFAULT_REGION");
		if (!out->region)
			out->region = "us-east-1";
		out->endpoint = mvms_s3__env("AWS_ENDPOINT_URL"); /* NULL: https://s3.REGION.amazonaws.com */
	} else {
		if (mvms_s3__env("GOOGLE_HMAC_ACCESS_ID")) {
			out->access_key = mvms_s3__env("GOOGLE_HMAC_ACCESS_ID");
			out->secret_key = mvms_s3__env("GOOGLE_HMAC_SECRET");
			out->session_token = NULL;
		} else {
			out->access_key = mvms_s3__env("AWS_ACCESS_KEY_ID");
			out->secret_key = mvms_s3__env("AWS_SECRET_ACCESS_KEY");
		}
		out->bearer_token = mvms_s3__env("GOOGLE_OAUTH_ACCESS_TOKEN");
		/* GCS signs in region "auto"; an S3-compatible stand-in (an emulator, a local
		 * S3 server) may insist on its own, so MVMS_GCS_REGION overrides it. AWS_REGION is
		 * not used: it is often set for AWS work and would break real GCS. */
		out->region = mvms_s3__env("MVMS_GCS_REGION") ? mvms_s3__env("MVMS_GCS_REGION") : "auto";
		out->endpoint = mvms_s3__env("MVMS_GCS_ENDPOINT") ? mvms_s3__env("MVMS_GCS_ENDPOINT")
							 : mvms_s3__env("STORAGE_EMULATOR_HOST");
	}
	return 0;
}
