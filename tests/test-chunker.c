/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the FastCDC chunker: parameter validation, size bounds, determinism,
 * independence from read sizes, shift resistance, and known answers that pin the gear
 * table and the cut points. It does not test forced cuts at tensor boundaries (the caller's).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mvms/chunker.h"
#include "mvms/errors.h"
#include "mvms/oid.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* xorshift64 (13, 7, 17), 8 little-endian bytes per step: fixed so known answers hold. */
static void fill_xorshift(unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t x = seed;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		p[i] = (unsigned char)(x >> (8 * (i % 8)));
	}
}

/* The rules written out as plainly as possible, to check the unrolled scan against. */
static size_t ref_next(const mvms_chunker_params *p, const unsigned char *d, size_t len)
{
	const uint64_t *g = mvms_chunker_gear();
	uint64_t fp = 0;
	size_t i, normal;

	if (len <= p->min_size)
		return len;
	normal = len < p->avg_size ? len : p->avg_size;
	for (i = p->min_size; i < normal; i++) {
		fp = (fp << 1) + g[d[i]];
		if (!(fp & p->mask_s))
			return i + 1;
	}
	for (; i < len; i++) {
		fp = (fp << 1) + g[d[i]];
		if (!(fp & p->mask_l))
			return i + 1;
	}
	return len;
}

typedef struct cuts {
	size_t n;
	size_t *len;
} cuts;

static void cuts_push(cuts *c, size_t len)
{
	size_t *p = realloc(c->len, (c->n + 1) * sizeof(*p));

	if (!p) {
		fprintf(stderr, "out of memory\n");
		exit(99);
	}
	c->len = p;
	c->len[c->n++] = len;
}

static void cuts_free(cuts *c)
{
	free(c->len);
	c->len = NULL;
	c->n = 0;
}

/* All input in memory: each call sees min(rest, max_size) bytes. */
static void chunk_all(cuts *out, const mvms_chunker_params *p, const unsigned char *d, size_t len)
{
	size_t off = 0;

	while (off < len) {
		size_t n = len - off;
		size_t c;

		if (n > p->max_size)
			n = p->max_size;
		c = mvms_chunker_next(p, d + off, n);
		if (c == 0 || c > n) {
			fprintf(stderr, "chunker returned %zu for %zu bytes\n", c, n);
			exit(99);
		}
		cuts_push(out, c);
		off += c;
	}
}

/*
 * A streaming caller as the contract asks: refill a max_size buffer with reads of odd
 * sizes and pass fewer than max_size bytes only at end of input.
 */
static void chunk_stream(cuts *out, const mvms_chunker_params *p, const unsigned char *src,
			 size_t len, size_t read_step)
{
	unsigned char *buf = malloc(p->max_size);
	size_t fill = 0, pos = 0, k = 0;

	if (!buf)
		exit(99);
	for (;;) {
		size_t c;

		while (fill < p->max_size && pos < len) {
			size_t r = 1 + (read_step * ++k) % 7919;

			if (r > p->max_size - fill)
				r = p->max_size - fill;
			if (r > len - pos)
				r = len - pos;
			memcpy(buf + fill, src + pos, r);
			fill += r;
			pos += r;
		}
		if (fill == 0)
			break;
		c = mvms_chunker_next(p, buf, fill);
		cuts_push(out, c);
		memmove(buf, buf + c, fill - c);
		fill -= c;
	}
	free(buf);
}

static int cuts_equal(const cuts *a, const cuts *b)
{
	return a->n == b->n && memcmp(a->len, b->len, a->n * sizeof(size_t)) == 0;
}

static void test_params(void)
{
	mvms_chunker_params p;
	static const uint32_t bad[] = { 1, 512, 1023, 1025, 3000, 65535, 65537, 96 * 1024,
					32u * 1024 * 1024, 0x80000000u, 0xffffffffu };
	size_t i;
	int all_bad = 1;

	is_int(mvms_chunker_params_init(&p, 0), 0, "params_init(0) succeeds");
	is_int(p.avg_size, 64 * 1024, "default avg is 64 KiB");
	is_int(p.min_size, 8 * 1024, "default min is 8 KiB");
	is_int(p.max_size, 128 * 1024, "default max is 128 KiB");
	ok(p.mask_s == 0xffff800000000000u, "default mask_s is the top 17 bits");
	ok(p.mask_l == 0xfffe000000000000u, "default mask_l is the top 15 bits");

	is_int(mvms_chunker_params_init(&p, MVMS_CHUNKER_AVG_MIN), 0, "AVG_MIN accepted");
	is_int(p.min_size, 128, "AVG_MIN: min is avg/8");
	is_int(mvms_chunker_params_init(&p, MVMS_CHUNKER_AVG_MAX), 0, "AVG_MAX accepted");
	is_int(p.max_size, 32u * 1024 * 1024, "AVG_MAX: max is avg*2");
	ok(p.mask_s == ~UINT64_C(0) << (64 - 25) && p.mask_l == ~UINT64_C(0) << (64 - 23),
	   "AVG_MAX: masks have 25 and 23 bits");

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int rc = mvms_chunker_params_init(&p, bad[i]);

		if (rc != MVMS_EINVALID) {
			diag("avg %" PRIu32 " gave %d", bad[i], rc);
			all_bad = 0;
		}
	}
	ok(all_bad, "non-powers of two and out-of-range sizes give MVMS_EINVALID");
	ok(strncmp(mvms_error_last(), "chunker: ", 9) == 0, "message names the chunker: %s",
	   mvms_error_last());
}

/* splitmix64 from "mvms-gea", as the comment in chunker.c says. */
static void test_gear(void)
{
	const uint64_t *g = mvms_chunker_gear();
	uint64_t s = UINT64_C(0x6d766d732d676561);
	int i, same = 1;

	ok(g[0] == UINT64_C(0x6eb366839901ab90), "gear[0] pinned");
	ok(g[1] == UINT64_C(0xdc5b6114433bcbb5), "gear[1] pinned");
	ok(g[2] == UINT64_C(0xaca4f57e9336c2f0), "gear[2] pinned");
	for (i = 0; i < 256; i++) {
		uint64_t z;

		s += UINT64_C(0x9e3779b97f4a7c15);
		z = s;
		z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
		z ^= z >> 31;
		if (g[i] != z)
			same = 0;
	}
	ok(same, "gear table is splitmix64 from 0x6d766d732d676561");
}

static void test_small_inputs(void)
{
	mvms_chunker_params p;
	unsigned char d[4096];

	mvms_chunker_params_init(&p, MVMS_CHUNKER_AVG_MIN);
	fill_xorshift(d, sizeof(d), 7);
	is_int(mvms_chunker_next(&p, d, 0), 0, "empty input gives 0");
	is_int(mvms_chunker_next(&p, d, 1), 1, "one byte gives 1");
	is_int(mvms_chunker_next(&p, d, p.min_size), p.min_size, "min_size bytes: one chunk");
	ok(mvms_chunker_next(&p, d, sizeof(d)) <= p.max_size, "longer than max: cut at max");
}

static void test_bounds(const unsigned char *d, size_t len, uint32_t avg)
{
	mvms_chunker_params p;
	cuts c = { 0, NULL }, again = { 0, NULL };
	size_t i, total = 0, nbad = 0, nref = 0, off = 0;
	double mean;

	mvms_chunker_params_init(&p, avg);
	chunk_all(&c, &p, d, len);
	for (i = 0; i < c.n; i++) {
		total += c.len[i];
		if (c.len[i] > p.max_size || (c.len[i] < p.min_size && i + 1 < c.n))
			nbad++;
		if (ref_next(&p, d + off, len - off < p.max_size ? len - off : p.max_size) !=
		    c.len[i])
			nref++;
		off += c.len[i];
	}
	ok(total == len, "avg %" PRIu32 ": chunks cover the input", avg);
	ok(nbad == 0, "avg %" PRIu32 ": min <= size <= max for %zu chunks (%zu bad)", avg, c.n,
	   nbad);
	ok(nref == 0, "avg %" PRIu32 ": cuts equal the plain reference loop (%zu differ)", avg,
	   nref);
	/* Normalised chunking with min = avg/8 lands near 1.1 * avg on random data. */
	mean = (double)len / (double)c.n;
	ok(mean > 0.75 * avg && mean < 1.5 * avg, "avg %" PRIu32 ": mean chunk size %.0f", avg,
	   mean);
	chunk_all(&again, &p, d, len);
	ok(cuts_equal(&c, &again), "avg %" PRIu32 ": same data, same cuts", avg);
	cuts_free(&c);
	cuts_free(&again);
}

static void test_streaming(const unsigned char *d, size_t len)
{
	static const uint32_t avgs[] = { 1024, 4096, 65536 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(avgs); i++) {
		mvms_chunker_params p;
		cuts whole = { 0, NULL }, s1 = { 0, NULL }, s2 = { 0, NULL };

		mvms_chunker_params_init(&p, avgs[i]);
		chunk_all(&whole, &p, d, len);
		chunk_stream(&s1, &p, d, len, 3);
		chunk_stream(&s2, &p, d, len, 4099);
		ok(cuts_equal(&whole, &s1) && cuts_equal(&whole, &s2),
		   "avg %" PRIu32 ": streamed with odd read sizes, same %zu cuts", avgs[i],
		   whole.n);
		cuts_free(&whole);
		cuts_free(&s1);
		cuts_free(&s2);
	}
}

static void chunk_ids(mvms_oid **ids, size_t *n, const mvms_chunker_params *p,
		      const unsigned char *d, size_t len)
{
	cuts c = { 0, NULL };
	size_t i, off = 0;

	chunk_all(&c, p, d, len);
	*ids = malloc(c.n * sizeof(**ids));
	if (!*ids)
		exit(99);
	for (i = 0; i < c.n; i++) {
		mvms_oid_hash(&(*ids)[i], d + off, c.len[i]);
		off += c.len[i];
	}
	*n = c.n;
	cuts_free(&c);
}

static void test_shift(const unsigned char *d, size_t len)
{
	mvms_chunker_params p;
	unsigned char *e = malloc(len + 100);
	mvms_oid *a = NULL, *b = NULL;
	size_t na, nb, common = 0;

	if (!e)
		exit(99);
	/* 100 bytes inserted at offset 1000, inside the first chunk. */
	memcpy(e, d, 1000);
	fill_xorshift(e + 1000, 100, 99);
	memcpy(e + 1100, d + 1000, len - 1000);
	mvms_chunker_params_init(&p, 0);
	chunk_ids(&a, &na, &p, d, len);
	chunk_ids(&b, &nb, &p, e, len + 100);
	while (common < na && common < nb &&
	       mvms_oid_cmp(&a[na - 1 - common], &b[nb - 1 - common]) == 0)
		common++;
	ok(na > 50 && common + 3 >= na && common + 3 >= nb,
	   "insert 100 bytes: %zu of %zu chunk ids unchanged at the end", common, na);
	ok(mvms_oid_cmp(&a[0], &b[0]) != 0, "insert 100 bytes: the first chunk id changes");
	free(a);
	free(b);
	free(e);
}

/* Cut points of 1 MiB of fill_xorshift(seed 42), printed once and pasted here. */
static const size_t known_64k[] = {
	130329, 13335, 88394, 88468, 94637, 67814, 71093, 131072,
	19152, 85482, 38998, 76940, 131072, 11790
};
static const size_t known_4k[] = {
	4755, 2329, 5962, 1646, 6465, 6917, 5965, 7209,
	5813, 4099, 745, 8192, 4722, 4437, 1271, 756,
	5236, 1504, 6863, 8192, 2350, 8192, 4219, 651,
	3559, 4551, 4378, 3994, 5046, 4687, 4730, 4229,
	7023, 5760, 3683, 7267, 5349, 8192, 8192, 5313,
	3887, 7663, 4075, 1031, 2190, 6923, 4868, 4177,
	2801, 4188, 4428, 575, 8192, 8051, 5419, 2818,
	7920, 1518, 5212, 8192, 1282, 986, 6584, 8192,
	6220, 7848, 843, 909, 704, 1149, 5762, 4554,
	1448, 952, 8192, 2513, 7802, 4131, 4268, 3159,
	1343, 5292, 8192, 4526, 4113, 8192, 4231, 1276,
	931, 4940, 528, 5530, 2831, 8192, 7058, 1967,
	4469, 4202, 4891, 5188, 8192, 5611, 4265, 3193,
	2110, 5645, 1354, 4467, 8192, 1873, 5184, 7029,
	6931, 5483, 2764, 2360, 4353, 6746, 8192, 5400,
	765, 2863, 4797, 7726, 1332, 2379, 1066, 6520,
	1858, 6430, 1039, 4614, 2838, 6105, 1662, 2990,
	2583, 8192, 3526, 2441, 4280, 8192, 978, 1706,
	1421, 4967, 8192, 5062, 4732, 2602, 563, 4913,
	3689, 5071, 4314, 919, 564, 7271, 8144, 1683,
	894, 8192, 623, 7504, 5234, 1039, 2693, 4542,
	4684, 3086, 5446, 5469, 4839, 5349, 1827, 4881,
	2914, 8192, 5921, 2153, 4118, 4871, 8192, 3301,
	8192, 4109, 5726, 7960, 1228, 6693, 8192, 4890,
	611, 5760, 8192, 4821, 8192, 4307, 4330, 4626,
	5214, 2413, 4613, 4321, 7203, 6640, 3062, 4320,
	2747, 4532, 6087, 4502, 1710, 7715, 8060, 8192,
	6959, 6889, 4602, 8192, 7845, 7650, 580, 8192,
	8192, 4226, 4057, 1774
};

static void test_known(void)
{
	size_t len = 1024 * 1024;
	unsigned char *d = malloc(len);
	mvms_chunker_params p;
	cuts c64 = { 0, NULL }, c4 = { 0, NULL };
	size_t i;

	if (!d)
		exit(99);
	fill_xorshift(d, len, 42);
	mvms_chunker_params_init(&p, 64 * 1024);
	chunk_all(&c64, &p, d, len);
	mvms_chunker_params_init(&p, 4 * 1024);
	chunk_all(&c4, &p, d, len);
	if (getenv("MVMS_PRINT_KNOWN")) {
		for (i = 0; i < c64.n; i++)
			printf("%zu,%s", c64.len[i], i % 8 == 7 ? "\n" : " ");
		printf("\n--\n");
		for (i = 0; i < c4.n; i++)
			printf("%zu,%s", c4.len[i], i % 8 == 7 ? "\n" : " ");
		printf("\n");
	}
	ok(c64.n == ARRAY_SIZE(known_64k) &&
	   memcmp(c64.len, known_64k, sizeof(known_64k)) == 0,
	   "known answer: avg 64 KiB, %zu cuts", c64.n);
	ok(c4.n == ARRAY_SIZE(known_4k) && memcmp(c4.len, known_4k, sizeof(known_4k)) == 0,
	   "known answer: avg 4 KiB, %zu cuts", c4.n);
	cuts_free(&c64);
	cuts_free(&c4);
	free(d);
}

int main(void)
{
	size_t len = 16u * 1024 * 1024;
	unsigned char *d = malloc(len);

	if (!d)
		return 99;
	fill_xorshift(d, len, 0x1234567890abcdefu);
	test_params();
	test_gear();
	test_small_inputs();
	test_bounds(d, len, 1024);
	test_bounds(d, len, 4096);
	test_bounds(d, len, 65536);
	test_bounds(d, len, 1024 * 1024);
	test_streaming(d, 4u * 1024 * 1024);
	test_shift(d, 8u * 1024 * 1024);
	test_known();
	free(d);
	return done_testing();
}
