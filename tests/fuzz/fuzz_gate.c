/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the server's gate (src/server/gate.c), which reads every request's
 * framing before libevent does. The input goes through in pieces whose sizes come from its
 * first byte. Checked besides crashes, leaks and hangs: what the gate hands on is always a
 * prefix of the input, followed by nothing or by exactly one of its stand-ins for a refused
 * request; bytes are never invented, reordered or changed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include "server.h"

static const char *const standins[] = { "GET /-/refused HTTP/1.1\r\n\r\n", "0\r\n\r\n", "\r\n" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	srv_gate *g = NULL;
	struct evbuffer *out = evbuffer_new();
	size_t off = 1, piece, n, i;
	const unsigned char *o;
	int fine = 0;

	if (size < 1 || !out || srv_gate_new(&g, 65536) < 0)
		goto done;
	piece = (size_t)data[0] % 64 + 1;
	while (off < size) {
		n = size - off < piece ? size - off : piece;
		srv_gate_feed(g, 3, data + off, n, out);
		off += n;
		piece = piece * 7 % 61 + 1;
	}
	n = evbuffer_get_length(out);
	o = n ? evbuffer_pullup(out, -1) : (const unsigned char *)"";
	for (i = 0; i <= sizeof(standins) / sizeof(standins[0]) && !fine; i++) {
		const char *st = i ? standins[i - 1] : "";
		size_t k = strlen(st);
		if (n >= k && memcmp(o + n - k, st, k) == 0 && n - k <= size - 1 &&
		    memcmp(o, data + 1, n - k) == 0)
			fine = 1;
	}
	if (!fine) {
		fprintf(stderr, "gate handed on %zu bytes that are not a prefix of the input plus "
			"a stand-in\n", n);
		abort();
	}
done:
	srv_gate_free(g);
	if (out)
		evbuffer_free(out);
	return 0;
}
