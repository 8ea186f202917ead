/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the safetensors probe: valid files (in memory and through a file
 * descriptor), every malformed header we know of, the MVMS_EBUFS protocol of parse, and
 * a few thousand random mutations of a valid header (run it under ASan).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mvms/errors.h"
#include "common.h"
#include "safetensors.h"
#include "tap.h"

typedef struct file {
	unsigned char *ptr;
	size_t size;
} file;

/* 8-byte length, the @n header bytes, then @data_len bytes of pattern. */
static file build_raw(const char *header, size_t n, size_t data_len)
{
	file f;

	f.size = 8 + n + data_len;
	f.ptr = malloc(f.size);
	if (!f.ptr)
		exit(99);
	mvms_le64_put(f.ptr, n);
	memcpy(f.ptr + 8, header, n);
	memset(f.ptr + 8 + n, 0xa5, data_len);
	return f;
}

static file build(const char *header, size_t data_len)
{
	return build_raw(header, strlen(header), data_len);
}

static int parse_file(mvms_safetensors **st, const file *f)
{
	size_t needed = 0;

	return mvms_safetensors_parse(st, &needed, f->ptr, f->size, f->size);
}

/* Parses a header that must be refused and frees everything. */
static void refused_raw(const char *header, size_t n, size_t data_len, const char *what)
{
	file f = build_raw(header, n, data_len);
	mvms_safetensors *st = (mvms_safetensors *)&f; /* must be reset to NULL */
	int rc = parse_file(&st, &f);

	if (!ok(rc == MVMS_ENOTFOUND && st == NULL, "refused: %s (%s)", what, mvms_error_last()))
		diag("rc %d (%s)", rc, mvms_error_last());
	mvms_safetensors_free(st == (mvms_safetensors *)&f ? NULL : st);
	free(f.ptr);
}

static void refused(const char *header, size_t data_len, const char *what)
{
	refused_raw(header, strlen(header), data_len, what);
}

static const char valid_header[] =
	"{\"b.weight\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[24,36]},"
	"\"__metadata__\":{\"format\":\"pt\",\"note\":\"x\\\"y\"},"
	"\"a.bias\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]},"
	"\"c.scale\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[36,44]},"
	"\"d.empty\":{\"dtype\":\"I8\",\"shape\":[0,5],\"data_offsets\":[44,44]},"
	"\"e.mask\":{\"dtype\":\"BOOL\",\"shape\":[1,1,4],\"data_offsets\":[44,48]}}    ";

static void check_valid(const mvms_safetensors *st, size_t n, const char *how)
{
	uint64_t base = 8 + n;

	ok(st != NULL, "%s: parsed", how);
	if (!st)
		return;
	is_int(st->header_end, base, "header_end is 8 + N");
	is_int(st->count, 5, "five tensors");
	if (st->count != 5)
		return;
	is_str(st->tensors[0].name, "a.bias", "sorted by offset: a.bias first");
	is_str(st->tensors[0].dtype, "F32", "a.bias dtype");
	is_str(st->tensors[0].shape, "[6]", "a.bias shape");
	is_int(st->tensors[0].offset, base, "a.bias absolute offset");
	is_int(st->tensors[0].length, 24, "a.bias length");
	is_str(st->tensors[1].name, "b.weight", "b.weight second");
	is_str(st->tensors[1].dtype, "BF16", "b.weight dtype");
	is_str(st->tensors[1].shape, "[2,3]", "b.weight shape has no spaces");
	is_int(st->tensors[1].offset, base + 24, "b.weight absolute offset");
	is_int(st->tensors[1].length, 12, "b.weight length");
	is_str(st->tensors[2].name, "c.scale", "scalar third");
	is_str(st->tensors[2].shape, "[]", "scalar shape is []");
	is_int(st->tensors[2].length, 8, "scalar length is the dtype size");
	is_str(st->tensors[3].name, "d.empty", "same offset: sorted by name, d before e");
	is_str(st->tensors[3].shape, "[0,5]", "zero-length shape");
	is_int(st->tensors[3].length, 0, "zero-length tensor");
	is_int(st->tensors[3].offset, base + 44, "zero-length offset");
	is_str(st->tensors[4].name, "e.mask", "e.mask last");
	is_str(st->tensors[4].shape, "[1,1,4]", "e.mask shape");
	is_str(st->metadata_json, "{\"format\":\"pt\",\"note\":\"x\\\"y\"}", "__metadata__ kept");
}

static void test_valid(void)
{
	file f = build(valid_header, 48 + 16); /* data area need not be covered */
	mvms_safetensors *st = NULL;
	size_t needed = 0;
	char path[] = "/tmp/test-safetensors-XXXXXX";
	int fd, rc;

	rc = parse_file(&st, &f);
	is_int(rc, 0, "parse a valid header");
	check_valid(st, strlen(valid_header), "in memory");
	mvms_safetensors_free(st);
	st = NULL;

	rc = mvms_safetensors_parse(&st, &needed, f.ptr, 5, f.size);
	ok(rc == MVMS_EBUFS && needed == 8 && !st, "5 bytes: EBUFS, needed 8");
	needed = 0;
	rc = mvms_safetensors_parse(&st, &needed, f.ptr, 8, f.size);
	ok(rc == MVMS_EBUFS && needed == 8 + strlen(valid_header) && !st,
	   "8 bytes: EBUFS, needed 8 + N (%zu)", needed);
	needed = 0;
	rc = mvms_safetensors_parse(&st, &needed, f.ptr, 8 + strlen(valid_header) - 1, f.size);
	ok(rc == MVMS_EBUFS && needed == 8 + strlen(valid_header), "one byte short: EBUFS");
	rc = mvms_safetensors_parse(&st, &needed, f.ptr, 8 + strlen(valid_header), f.size);
	ok(rc == 0 && st, "exactly 8 + N bytes are enough");
	mvms_safetensors_free(st);
	st = NULL;
	rc = mvms_safetensors_parse(&st, NULL, f.ptr, 8 + strlen(valid_header), 8 + 40);
	ok(rc == MVMS_ENOTFOUND && !st, "same header, file too short for the data: refused");

	fd = mkstemp(path);
	if (fd < 0 || mvms_write_full(fd, f.ptr, f.size, path) < 0)
		exit(99);
	rc = mvms_safetensors_probe(&st, fd, f.size);
	is_int(rc, 0, "probe a valid file through its fd");
	check_valid(st, strlen(valid_header), "probe");
	mvms_safetensors_free(st);
	st = NULL;
	ok(lseek(fd, 0, SEEK_CUR) == (off_t)f.size, "probe does not move the file offset");
	rc = mvms_safetensors_probe(&st, fd, 7);
	ok(rc == MVMS_ENOTFOUND && !st, "probe: 7-byte file is not safetensors");
	rc = mvms_safetensors_probe(&st, fd, f.size + 100);
	ok(rc == 0 && st, "probe: a larger stated size is only more data area");
	mvms_safetensors_free(st);
	st = NULL;
	if (ftruncate(fd, 4) < 0)
		exit(99);
	rc = mvms_safetensors_probe(&st, fd, f.size);
	ok(rc == MVMS_ERROR && !st, "probe: file shorter than its stated size is an I/O error");
	close(fd);
	unlink(path);
	free(f.ptr);
}

static void test_probe_plain(void)
{
	char path[] = "/tmp/test-safetensors-XXXXXX";
	static const char text[] = "hello, world: this is not a model\n";
	mvms_safetensors *st = NULL;
	int fd = mkstemp(path);
	int rc;

	if (fd < 0 || mvms_write_full(fd, text, sizeof(text) - 1, path) < 0)
		exit(99);
	rc = mvms_safetensors_probe(&st, fd, sizeof(text) - 1);
	ok(rc == MVMS_ENOTFOUND && !st, "probe: a text file is not safetensors");
	close(fd);
	unlink(path);
}

static void test_small(void)
{
	mvms_safetensors *st = NULL;
	file f = build("{}", 0);
	unsigned char b[8] = { 0 };
	size_t needed = 0;
	int rc;

	rc = parse_file(&st, &f);
	ok(rc == 0 && st && st->count == 0 && st->header_end == 10 && !st->metadata_json,
	   "{} is a valid file with no tensors");
	mvms_safetensors_free(st);
	st = NULL;
	free(f.ptr);

	f = build("{\"__metadata__\":{}}", 0);
	rc = parse_file(&st, &f);
	ok(rc == 0 && st && st->count == 0 && st->metadata_json &&
	   strcmp(st->metadata_json, "{}") == 0, "empty __metadata__");
	mvms_safetensors_free(st);
	st = NULL;
	free(f.ptr);

	rc = mvms_safetensors_parse(&st, &needed, b, 5, 5);
	ok(rc == MVMS_ENOTFOUND && !st, "5-byte file is not safetensors");
	rc = mvms_safetensors_parse(&st, &needed, b, 8, 8);
	ok(rc == MVMS_ENOTFOUND && !st, "N == 0 is not safetensors");
	mvms_le64_put(b, (uint64_t)MVMS_SAFETENSORS_HEADER_MAX + 1);
	rc = mvms_safetensors_parse(&st, &needed, b, 8, UINT64_C(1) << 40);
	ok(rc == MVMS_ENOTFOUND && !st, "N above HEADER_MAX is not safetensors");
	mvms_le64_put(b, UINT64_MAX);
	rc = mvms_safetensors_parse(&st, &needed, b, 8, UINT64_MAX);
	ok(rc == MVMS_ENOTFOUND && !st, "N = 2^64-1 is not safetensors");
	mvms_le64_put(b, 100);
	rc = mvms_safetensors_parse(&st, &needed, b, 8, 107);
	ok(rc == MVMS_ENOTFOUND && !st, "N beyond the file is not safetensors");
	rc = mvms_safetensors_parse(&st, &needed, b, 8, 108);
	ok(rc == MVMS_EBUFS && needed == 108, "N up to the end of the file: EBUFS for 108 bytes");
	is_int(mvms_safetensors_dtype_size("BF16"), 2, "dtype size BF16");
	is_int(mvms_safetensors_dtype_size("F8_E5M2"), 1, "dtype size F8_E5M2");
	is_int(mvms_safetensors_dtype_size("I64"), 8, "dtype size I64");
	is_int(mvms_safetensors_dtype_size("f32"), 0, "dtype names are case-sensitive");
	is_int(mvms_safetensors_dtype_size(NULL), 0, "dtype size of NULL");
}

/* One tensor entry as JSON text. */
#define T(dtype, shape, offs)                                                        \
	"{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

/* A literal that holds a NUL, with its length. */
#define RAW(s) s, sizeof(s) - 1

static void test_malformed(void)
{
	refused(" {\"a\":" T("U8", "[4]", "[0,4]") "}", 4, "leading space before '{'");
	refused("[1,2]", 16, "header is an array");
	refused("{\"a\":" T("U8", "[4]", "[0,4]"), 4, "invalid JSON: unterminated");
	refused("{\"a\":" T("U8", "[4]", "[0,4]") "}x", 4, "junk after the object");
	refused("{\"a\":" T("U8", "[4]", "[0,4]") "}{}", 4, "two objects");
	refused("{\"a\":{\"dtype\":\"U8\",\"shape\":[4]}}", 4, "missing data_offsets");
	refused("{\"a\":{\"shape\":[4],\"data_offsets\":[0,4]}}", 4, "missing dtype");
	refused("{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,4]}}", 4, "missing shape");
	refused("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4],\"x\":1}}", 4,
		"extra member in a tensor entry");
	refused("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
		"duplicate member in a tensor entry");
	refused("{\"a\":[1,2,3]}", 4, "tensor entry is an array");
	refused("{\"a\":\"x\"}", 4, "tensor entry is a string");
	refused("{\"a\":{\"dtype\":8,\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
		"dtype is a number");
	refused("{\"a\":" T("U8", "4", "[0,4]") "}", 4, "shape is a number");
	refused("{\"a\":" T("U8", "[\"4\"]", "[0,4]") "}", 4, "shape holds a string");
	refused("{\"a\":" T("U8", "[4]", "{}") "}", 4, "data_offsets is an object");
	refused("{\"a\":" T("U8", "[4]", "[0]") "}", 4, "data_offsets has one number");
	refused("{\"a\":" T("U8", "[4]", "[0,4,4]") "}", 4, "data_offsets has three numbers");
	refused("{\"a\":" T("U8", "[4]", "[0,\"4\"]") "}", 4, "data_offsets holds a string");
	refused("{\"a\":" T("F128", "[4]", "[0,4]") "}", 64, "unknown dtype");
	refused("{\"a\":" T("", "[4]", "[0,4]") "}", 4, "empty dtype");
	refused("{\"a\":" T("U8", "[-4]", "[0,4]") "}", 4, "negative dim");
	refused("{\"a\":" T("U8", "[2.5]", "[0,4]") "}", 4, "fractional dim");
	refused("{\"a\":" T("U8", "[4]", "[-1,3]") "}", 4, "negative begin");
	refused("{\"a\":" T("U8", "[4]", "[0.5,4.5]") "}", 5, "fractional offsets");
	refused("{\"a\":" T("U8", "[0]", "[4,0]") "}", 4, "begin > end");
	refused("{\"a\":" T("U8", "[4]", "[4,8]") "}", 7, "end beyond the file");
	refused("{\"a\":" T("U8", "[1]", "[18446744073709551615,18446744073709551616]") "}", 4,
		"offsets beyond 2^64");
	refused("{\"a\":" T("F32", "[4]", "[0,8]") "}", 16, "length does not match shape");
	refused("{\"a\":" T("F32", "[2,2]", "[0,15]") "}", 16, "length off by one");
	refused("{\"a\":" T("U8", "[4]", "[0,4]") ",\"b\":" T("U8", "[4]", "[2,6]") "}", 8,
		"overlapping tensors");
	refused("{\"a\":" T("U8", "[4]", "[0,4]") ",\"b\":" T("U8", "[4]", "[0,4]") "}", 8,
		"two tensors on the same bytes");
	refused("{\"a\":" T("U8", "[8]", "[0,8]") ",\"b\":" T("U8", "[0]", "[4,4]") "}", 8,
		"empty tensor inside another");
	refused("{\"a\":" T("U8", "[4]", "[0,4]") ",\"a\":" T("U8", "[4]", "[4,8]") "}", 8,
		"duplicate tensor name");
	refused("{\"a\\u0000x\":" T("U8", "[4]", "[0,4]") ",\"a\":" T("U8", "[4]", "[4,8]") "}",
		8, "names equal after \\u0000");
	refused("{\"a\":" T("U8", "[4294967296,4294967296,4294967296]", "[0,4]") "}", 4,
		"shape product overflows");
	refused("{\"a\":" T("U64", "[4294967296,536870912]", "[0,0]") "}", 4,
		"shape times dtype size overflows");
	refused("{\"a\":" T("U8", "[1e300]", "[0,4]") "}", 4, "huge dim");
	refused("{\"__metadata__\":[\"x\"]}", 0, "__metadata__ is an array");
	refused("{\"__metadata__\":{\"n\":1}}", 0, "__metadata__ holds a number");
	refused("{\"__metadata__\":{\"n\":{}}}", 0, "__metadata__ holds an object");
	refused("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "two __metadata__");
	refused("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "duplicate metadata key");
	refused("{\"a\xff\":" T("U8", "[4]", "[0,4]") "}", 4, "invalid UTF-8 in a name");
	refused("{\"a\xc0\xae\":" T("U8", "[4]", "[0,4]") "}", 4, "overlong UTF-8");
	refused("{\"a\xed\xa0\x80\":" T("U8", "[4]", "[0,4]") "}", 4, "UTF-8 surrogate");
	refused_raw(RAW("{\"a\":" T("U8", "[4]", "[0,4]") "}\0 "), 4, "NUL byte in the padding");
	refused_raw(RAW("{\"a\0\":" T("U8", "[4]", "[0,4]") "}"), 4, "NUL byte in a name");
}

static void test_accepted_variants(void)
{
	static const char *const good[] = {
		"{\"a\":" T("U8", "[4]", "[0,4]") "}\n\t  ",
		"{ \"a\" : { \"dtype\" : \"U8\", \"shape\" : [ 4 ], "
		"\"data_offsets\" : [ 0, 4 ] } }",
		"{\"\xc3\xa9t\xc3\xa9\":" T("U8", "[4]", "[0,4]") "}",
		"{\"a\":" T("U8", "[4]", "[4,8]") ",\"b\":" T("U8", "[4]", "[0,4]") "}",
		"{\"a\":" T("U8", "[8]", "[0,8]") ",\"b\":" T("U8", "[0]", "[8,8]") "}",
	};
	size_t i;

	for (i = 0; i < MVMS_ARRAY_SIZE(good); i++) {
		file f = build(good[i], 8);
		mvms_safetensors *st = NULL;
		int rc = parse_file(&st, &f);

		if (!ok(rc == 0 && st, "accepted variant %zu", i))
			diag("rc %d (%s)", rc, mvms_error_last());
		mvms_safetensors_free(st);
		free(f.ptr);
	}
}

/* Dense: the tensors fill the data area, so a file rebuilt from them loses no byte. */
static void test_dense(void)
{
	static const struct {
		const char *header;
		size_t data_len;
		int dense;
		const char *what;
	} cases[] = {
		{ "{\"a\":" T("U8", "[4]", "[4,8]") ",\"b\":" T("U8", "[4]", "[0,4]") "}", 8, 1,
		  "two tensors back to back (out of order in the header)" },
		{ "{\"a\":" T("U8", "[8]", "[0,8]") ",\"b\":" T("U8", "[0]", "[0,0]") ",\"c\":"
		  T("U8", "[0]", "[8,8]") "}", 8, 1, "empty tensors on the boundaries" },
		{ "{\"__metadata__\":{\"k\":\"v\"}}", 0, 1, "no tensors, no data" },
		{ "{\"a\":" T("U8", "[4]", "[0,4]") ",\"b\":" T("U8", "[4]", "[6,10]") "}", 10, 0,
		  "a gap of 2 bytes between two tensors" },
		{ "{\"a\":" T("U8", "[4]", "[2,6]") "}", 6, 0, "a gap before the first tensor" },
		{ "{\"a\":" T("U8", "[4]", "[0,4]") "}", 9, 0, "5 bytes after the last tensor" },
		{ "{\"__metadata__\":{\"k\":\"v\"}}", 3, 0, "no tensors, 3 bytes of data" },
	};
	size_t i;

	for (i = 0; i < MVMS_ARRAY_SIZE(cases); i++) {
		file f = build(cases[i].header, cases[i].data_len);
		mvms_safetensors *st = NULL;
		int rc = parse_file(&st, &f);

		if (!ok(rc == 0 && st, "parsed: %s", cases[i].what))
			diag("rc %d (%s)", rc, mvms_error_last());
		else
			ok(mvms_safetensors_dense(st, f.size) == cases[i].dense, "%s: %s",
			   cases[i].what, cases[i].dense ? "dense" : "bytes outside the tensors");
		mvms_safetensors_free(st);
		free(f.ptr);
	}
}

/* xorshift64: fixed seed, so a failing mutation can be replayed. */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_mutations(void)
{
	static const char tokens[] = "{}[]\",:0123456789-.e \\u";
	size_t n = strlen(valid_header), data = 64;
	uint64_t x = 0x5eedf00dcafe1234u;
	int i, accepted = 0, refused_n = 0, other = 0;

	for (i = 0; i < 5000; i++) {
		file f = build(valid_header, data);
		unsigned char *h = f.ptr + 8;
		mvms_safetensors *st = NULL;
		size_t needed = 0, k, edits = 1 + rnd(&x) % 4, head;
		int rc;

		for (k = 0; k < edits; k++) {
			size_t at = rnd(&x) % n;

			switch (rnd(&x) % 4) {
			case 0:
				h[at] = (unsigned char)rnd(&x);
				break;
			case 1:
				h[at] = (unsigned char)tokens[rnd(&x) % (sizeof(tokens) - 1)];
				break;
			case 2:
				h[at] ^= (unsigned char)(1u << (rnd(&x) % 8));
				break;
			default:
				mvms_le64_put(f.ptr, n - rnd(&x) % 16);
				break;
			}
		}
		/* Hand parse a copy of exactly the head, so ASan sees any read past it. */
		head = 8 + n;
		{
			unsigned char *copy = malloc(head);

			if (!copy)
				exit(99);
			memcpy(copy, f.ptr, head);
			rc = mvms_safetensors_parse(&st, &needed, copy, head, f.size);
			free(copy);
		}
		if (rc == 0 && st) {
			accepted++;
			for (k = 0; k < st->count; k++) {
				const mvms_tensor_info *t = &st->tensors[k];

				if (t->offset < st->header_end || t->offset + t->length > f.size)
					other++;
			}
		} else if (rc == MVMS_ENOTFOUND && !st) {
			refused_n++;
		} else {
			other++;
			diag("mutation %d: rc %d (%s)", i, rc, mvms_error_last());
		}
		mvms_safetensors_free(st);
		free(f.ptr);
	}
	ok(other == 0, "5000 mutations: %d accepted, %d refused, nothing else", accepted,
	   refused_n);
}

int main(void)
{
	test_valid();
	test_probe_plain();
	test_small();
	test_malformed();
	test_accepted_variants();
	test_dense();
	test_mutations();
	return done_testing();
}
