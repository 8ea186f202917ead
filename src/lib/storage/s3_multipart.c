/* SPDX-License-Identifier: MIT */
/*
 * The S3 backend's multipart upload: CreateMultipartUpload, the parts PUT in parallel on a
 * curl multi handle (each retried on its own with back-off), CompleteMultipartUpload, and
 * AbortMultipartUpload on every failure after the upload exists. Single PUTs, reads and
 * listings are in backend_s3.c; the HTTP details in s3_http.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "s3_int.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


static int abort_upload(s3_backend *s, const char *key, const char *upload_id)
{
	mvms_sigv4_pair q[1] = { { "uploadId", upload_id } };
	s3_call c = { 0 };
	int rc;

	c.s = s;
	c.method = "DELETE";
	c.key = key;
	c.query = q;
	c.nquery = 1;
	rc = mvms_s3__call_run(&c);
	mvms_s3__call_dispose(&c);
	return rc;
}

typedef struct {
	s3_call call;
	mvms_sigv4_pair q[2];
	char num[24];
	int state; /* 0 waiting, 1 running, 2 done */
} s3_part;

/* Uploads the parts with up to s->concurrency transfers in flight. */
static int upload_parts(s3_backend *s, s3_part *parts, size_t nparts)
{
	CURLM *m = curl_multi_init();
	size_t next_done = 0, running = 0, i;
	int error = 0, rc;

	if (!m)
		return mvms_error_set(MVMS_ERROR, "s3: cannot create a curl multi handle");
	while (next_done < nparts) {
		double t = now_s();
		CURLMsg *msg;
		int still, left;

		for (i = 0; i < nparts && running < s->concurrency; i++) {
			s3_part *p = &parts[i];
			if (p->state != 0 || p->call.not_before > t)
				continue;
			if ((error = mvms_s3__call_setup(&p->call)) < 0)
				goto done;
			curl_easy_setopt(p->call.h, CURLOPT_PRIVATE, p);
			curl_multi_add_handle(m, p->call.h);
			p->state = 1;
			running++;
		}
		curl_multi_perform(m, &still);
		while ((msg = curl_multi_info_read(m, &left))) {
			s3_part *p = NULL;
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
			p->call.cc = msg->data.result;
			curl_multi_remove_handle(m, p->call.h);
			running--;
			rc = mvms_s3__call_judge(&p->call, "PUT (part)");
			if (rc == 1) {
				p->call.attempt++;
				p->call.not_before = now_s() + mvms_s3__backoff_ms(s, p->call.attempt - 1) / 1e3;
				p->state = 0;
				continue;
			}
			if (rc < 0) {
				error = rc;
				goto done;
			}
			if (!p->call.etag[0]) {
				error = mvms_error_set(MVMS_ERROR, "s3: PUT %s/%s%s part %s: no ETag",
						       s->bucket, s->prefix, p->call.key, p->num);
				goto done;
			}
			p->state = 2;
			mvms_s3__call_release(&p->call);
			next_done++;
		}
		if (next_done < nparts)
			curl_multi_poll(m, NULL, 0, running ? 200 : 20, NULL);
	}
done:
	for (i = 0; i < nparts; i++)
		if (parts[i].state == 1 && parts[i].call.h)
			curl_multi_remove_handle(m, parts[i].call.h);
	curl_multi_cleanup(m);
	return error;
}

/* CreateMultipartUpload: sets @upload_id. */
static int create_upload(mvms_buf *upload_id, s3_backend *s, const char *key)
{
	static const mvms_sigv4_pair uploads[1] = { { "uploads", "" } };
	s3_call c = { 0 };
	int error = 0;

	c.s = s;
	c.method = "POST";
	c.key = key;
	c.query = uploads;
	c.nquery = 1;
	MVMS_TRY(mvms_s3__call_run(&c));
	if (mvms_s3_xml_text(upload_id, c.resp.ptr, c.resp.size, "UploadId") != 0 ||
	    !upload_id->size)
		error = mvms_error_set(MVMS_ERROR, "s3: POST %s/%s%s?uploads: no UploadId in reply",
				       s->bucket, s->prefix, key);
done:
	mvms_s3__call_dispose(&c);
	return error;
}

/* CompleteMultipartUpload with the parts' ETags. */
static int complete_upload(s3_backend *s, const char *key, const char *upload_id,
			   const s3_part *parts, size_t nparts)
{
	mvms_sigv4_pair q[1] = { { "uploadId", upload_id } };
	s3_call c = { 0 };
	mvms_buf xml = MVMS_BUF_INIT, errcode = MVMS_BUF_INIT;
	int error = 0;
	size_t i;

	MVMS_TRY(mvms_buf_puts(&xml, "<CompleteMultipartUpload>"));
	for (i = 0; i < nparts; i++)
		MVMS_TRY(mvms_buf_printf(&xml, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
					 i + 1, parts[i].call.etag));
	MVMS_TRY(mvms_buf_puts(&xml, "</CompleteMultipartUpload>"));
	c.s = s;
	c.method = "POST";
	c.key = key;
	c.query = q;
	c.nquery = 1;
	c.body = (const unsigned char *)xml.ptr;
	c.body_len = xml.size;
	MVMS_TRY(mvms_s3__call_run(&c));
	/* A 200 reply may still carry an <Error> (S3 reports late failures so). */
	if (c.resp.size && memmem(c.resp.ptr, c.resp.size, "<Error>", 7)) {
		mvms_s3_xml_text(&errcode, c.resp.ptr, c.resp.size, "Code");
		error = mvms_error_set(MVMS_ERROR, "s3: POST %s/%s%s?uploadId: %s", s->bucket,
				       s->prefix, key, errcode.ptr ? errcode.ptr : "error");
	}
done:
	mvms_s3__call_dispose(&c);
	mvms_buf_dispose(&xml);
	mvms_buf_dispose(&errcode);
	return error;
}

/* Everything after CreateMultipartUpload: the parts, then Complete. Any failure here leaves
 * an upload that the caller must abort. */
static int send_upload(s3_backend *s, const char *key, const char *upload_id,
		       const unsigned char *data, size_t len)
{
	s3_part *parts = NULL;
	uint64_t psize = s->part_size;
	size_t nparts, i;
	int error = 0;

	if (psize < S3_MIN_PART)
		psize = S3_MIN_PART;
	while ((len + psize - 1) / psize > S3_MAX_PARTS)
		psize *= 2;
	nparts = (size_t)((len + psize - 1) / psize);
	parts = calloc(nparts, sizeof(*parts));
	MVMS_CHECK_ALLOC(parts, error);
	for (i = 0; i < nparts; i++) {
		s3_part *p = &parts[i];
		uint64_t off = (uint64_t)i * psize;
		snprintf(p->num, sizeof(p->num), "%zu", i + 1);
		p->q[0] = (mvms_sigv4_pair){ "partNumber", p->num };
		p->q[1] = (mvms_sigv4_pair){ "uploadId", upload_id };
		p->call.s = s;
		p->call.method = "PUT";
		p->call.key = key;
		p->call.query = p->q;
		p->call.nquery = 2;
		p->call.body = data + off;
		p->call.body_len = (size_t)(len - off < psize ? len - off : psize);
		p->call.resp_max = S3_ERRBODY_MAX;
	}
	MVMS_TRY(upload_parts(s, parts, nparts));
	MVMS_TRY(complete_upload(s, key, upload_id, parts, nparts));
done:
	if (parts) {
		for (i = 0; i < nparts; i++)
			mvms_s3__call_dispose(&parts[i].call);
		free(parts);
	}
	return error;
}

int mvms_s3__put_multipart(s3_backend *s, const char *key, const unsigned char *data,
			   size_t len)
{
	mvms_buf upload_id = MVMS_BUF_INIT;
	int error = 0;

	MVMS_TRY(create_upload(&upload_id, s, key));
	/* From here on the upload exists: whatever fails (a part, Complete, or out of memory
	 * building them) aborts it, or its parts would sit in the bucket, billed and unseen. */
	if ((error = send_upload(s, key, upload_id.ptr, data, len)) < 0) {
		/* Keep the first error's message: abort is best effort. */
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", mvms_error_last());
		abort_upload(s, key, upload_id.ptr);
		mvms_error_set(error, "%s", msg);
	}
done:
	mvms_buf_dispose(&upload_id);
	return error;
}
