/* SPDX-License-Identifier: MIT */
/*
 * Rules of the S3 backend that need no connection, kept apart from backend_s3.c so they
 * can be tested alone: when an endpoint needs path-style addressing (the AWS SDKs' endpoint
 * rules), which failures are worth a retry, which replies are refusals, and what a refused
 * request (401/403) means, said in words that name the access key id and never the secret.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>
#include "s3.h"

/* A host name label as DNS wants it: what a bucket must be to prefix the endpoint. */
static int dns_label(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

int mvms_s3_needs_path_style(const char *authority, const char *bucket, int https)
{
	char host[256];
	const char *colon, *p, *dot;
	size_t n;
	struct in_addr a4;

	if (!authority || !*authority || *authority == '[')
		return 1; /* an IPv6 literal: no name to put the bucket in front of */
	colon = strrchr(authority, ':');
	n = colon ? (size_t)(colon - authority) : strlen(authority);
	if (n >= sizeof(host))
		return 0;
	memcpy(host, authority, n);
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0 || inet_pton(AF_INET, host, &a4) == 1)
		return 1;
	/* The bucket becomes part of the host name: it must be valid there, and over HTTPS
	 * hold no dot (the certificate's wildcard covers one label). */
	if (!bucket)
		return 0;
	for (p = bucket; (dot = strchr(p, '.')); p = dot + 1) {
		if (https || !dns_label(p, (size_t)(dot - p)))
			return 1;
	}
	return !dns_label(p, strlen(p));
}

/* The server's <Message>, on one line and bounded. */
static int put_server_message(mvms_buf *out, const char *msg)
{
	size_t i, n = msg ? strlen(msg) : 0;
	int error = 0;

	if (n == 0)
		return 0;
	MVMS_TRY(mvms_buf_puts(out, " (server: \""));
	for (i = 0; i < n && i < 200; i++)
		MVMS_TRY(mvms_buf_put(out, (unsigned char)msg[i] < 0x20 ? " " : &msg[i], 1));
	MVMS_TRY(mvms_buf_puts(out, i < n ? "...\")" : "\")"));
done:
	return error;
}

int mvms_s3_auth_reason(mvms_buf *out, long status, const char *code, const char *message,
			const char *key_id, int bearer)
{
	char who[160];
	int error = 0, more = 1; /* the server's words add to a reason we cannot tell */

	if (bearer)
		snprintf(who, sizeof(who), "the OAuth access token (GOOGLE_OAUTH_ACCESS_TOKEN)");
	else if (key_id)
		snprintf(who, sizeof(who), "access key id '%.100s'", key_id);
	if (!bearer && !key_id) {
		MVMS_TRY(mvms_buf_puts(out, "no credentials: set AWS_ACCESS_KEY_ID and "
				       "AWS_SECRET_ACCESS_KEY"));
	} else if (bearer && (!code || strcmp(code, "AccessDenied") != 0)) {
		MVMS_TRY(mvms_buf_printf(out, "%s was refused (expired? get a new one)", who));
	} else if (!code || !*code) {
		/* A reply to HEAD has no body, so no reason. */
		MVMS_TRY(mvms_buf_printf(out, "%s for %s (a wrong secret, an unknown key id or a "
				      "missing permission)", status == 401 ? "not authenticated"
									    : "access refused", who));
	} else if (strcmp(code, "SignatureDoesNotMatch") == 0) {
		MVMS_TRY(mvms_buf_printf(out, "bad signature: the secret key does not match %s",
					 who));
		more = 0;
	} else if (strcmp(code, "InvalidAccessKeyId") == 0) {
		MVMS_TRY(mvms_buf_printf(out, "bad credentials: the server does not know %s", who));
		more = 0;
	} else if (strcmp(code, "AccessDenied") == 0 || strcmp(code, "AllAccessDisabled") == 0) {
		MVMS_TRY(mvms_buf_printf(out, "access denied to %s: the credentials are valid but "
				      "lack a permission on this bucket or prefix", who));
	} else if (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "TokenRefreshRequired") == 0 ||
		   strcmp(code, "InvalidToken") == 0) {
		MVMS_TRY(mvms_buf_printf(out, "expired or invalid session token of %s "
				      "(renew AWS_SESSION_TOKEN)", who));
	} else if (strcmp(code, "RequestTimeTooSkewed") == 0) {
		MVMS_TRY(mvms_buf_puts(out, "this machine's clock is too far from the server's"));
		more = 0;
	} else {
		MVMS_TRY(mvms_buf_printf(out, "access refused for %s", who));
	}
	if (more)
		MVMS_TRY(put_server_message(out, message));
done:
	return error;
}

int mvms_s3_retryable(int curl_code, long status, const char *code)
{
	switch (curl_code) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return 1;
	default:
		return 0;
	}
	/* 501 NotImplemented (Swift, conditional PUT) is an answer, not a hiccup. */
	if ((status >= 500 && status != 501) || status == 429)
		return 1;
	/* S3 answers 400 RequestTimeout when the client was too slow to send the body. */
	return code && (strcmp(code, "RequestTimeout") == 0 || strcmp(code, "SlowDown") == 0);
}

int mvms_s3_is_auth_error(long status, const char *code)
{
	if (status == 401 || status == 403)
		return 1;
	/* AWS answers 400 to an expired or malformed session token. */
	return code && (strcmp(code, "SignatureDoesNotMatch") == 0 ||
			strcmp(code, "InvalidAccessKeyId") == 0 || strcmp(code, "AccessDenied") == 0 ||
			strcmp(code, "ExpiredToken") == 0 || strcmp(code, "InvalidToken") == 0 ||
			strcmp(code, "TokenRefreshRequired") == 0);
}
