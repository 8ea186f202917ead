/* SPDX-License-Identifier: MIT */
/*
 * Test-only: writes a synthetic safetensors model of float tensors for the delta tests, and
 * its fine-tuned versions: the same seed gives the same weights; --drift PCT multiplies every
 * value by (1 + PCT/100 * a normal deviate), as a short fine-tune does; --change PCT gives
 * that share of the tensors wholly new values instead. Deterministic (xorshift, Box-Muller).
 *   mkdelta OUT [--size BYTES] [--tensors N] [--seed S] [--dtype BF16|F16|F32]
 *               [--drift PCT] [--drift-seed S] [--change PCT]
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rs;

static int mkdelta_run(int argc, char **argv);

#ifndef MKDELTA_LIB
int main(int argc, char **argv)
{
	return mkdelta_run(argc, argv);
}
#endif

static double uni(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (double)(rs >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(void)
{
	double a = uni(), b = uni();

	if (a < 1e-300)
		a = 1e-300;
	return sqrt(-2 * log(a)) * cos(6.283185307179586 * b);
}

static void put(unsigned char *p, const char *dtype, double v)
{
	float f = (float)v;
	uint32_t x;

	memcpy(&x, &f, 4);
	if (strcmp(dtype, "F32") == 0) {
		p[0] = (unsigned char)x; p[1] = (unsigned char)(x >> 8);
		p[2] = (unsigned char)(x >> 16); p[3] = (unsigned char)(x >> 24);
	} else if (strcmp(dtype, "BF16") == 0) {
		x += 0x7fff + ((x >> 16) & 1);
		p[0] = (unsigned char)(x >> 16); p[1] = (unsigned char)(x >> 24);
	} else { /* F16, normal range only (weights are small) */
		uint32_t s = (x >> 16) & 0x8000u, m = (x >> 13) & 0x3ffu;
		int e = (int)((x >> 23) & 0xff) - 127 + 15;
		uint16_t h = (uint16_t)(e <= 0 ? s : (s | (uint32_t)e << 10 | m));
		p[0] = (unsigned char)h; p[1] = (unsigned char)(h >> 8);
	}
}

/* The program's work; tests/test-delta.c includes this file with MKDELTA_LIB defined and
 * calls it to make its models. */
static int mkdelta_run(int argc, char **argv)
{
	uint64_t size = 1u << 20, seed = 1, dseed = 7;
	unsigned tensors = 8, t, i;
	double drift = 0, change = 0;
	const char *dtype = "BF16", *out = NULL;
	unsigned esz;
	size_t per, hlen, off = 0;
	char *hdr;
	FILE *f;
	int a;

	for (a = 1; a < argc; a++) {
		if (a + 1 < argc && strcmp(argv[a], "--size") == 0) size = strtoull(argv[++a], NULL, 10);
		else if (a + 1 < argc && strcmp(argv[a], "--tensors") == 0) tensors = (unsigned)atoi(argv[++a]);
		else if (a + 1 < argc && strcmp(argv[a], "--seed") == 0) seed = strtoull(argv[++a], NULL, 10);
		else if (a + 1 < argc && strcmp(argv[a], "--dtype") == 0) dtype = argv[++a];
		else if (a + 1 < argc && strcmp(argv[a], "--drift") == 0) drift = atof(argv[++a]) / 100;
		else if (a + 1 < argc && strcmp(argv[a], "--drift-seed") == 0) dseed = strtoull(argv[++a], NULL, 10);
		else if (a + 1 < argc && strcmp(argv[a], "--change") == 0) change = atof(argv[++a]);
		else if (!out) out = argv[a];
		else { fprintf(stderr, "mkdelta: bad argument %s\n", argv[a]); return 2; }
	}
	if (!out || !tensors) { fprintf(stderr, "usage: mkdelta OUT [options]\n"); return 2; }
	esz = strcmp(dtype, "F32") == 0 ? 4 : 2;
	per = (size_t)(size / tensors / esz);
	hdr = malloc(64 + (size_t)tensors * 128);
	hlen = (size_t)sprintf(hdr, "{");
	for (t = 0; t < tensors; t++, off += per * esz)
		hlen += (size_t)sprintf(hdr + hlen, "%s\"layer.%u.weight\":{\"dtype\":\"%s\",\"shape\":[%zu],"
				       "\"data_offsets\":[%zu,%zu]}", t ? "," : "", t, dtype, per,
				       off, off + per * esz);
	hlen += (size_t)sprintf(hdr + hlen, "}");
	while (hlen % 8)
		hdr[hlen++] = ' ';
	if (!(f = fopen(out, "wb"))) { perror(out); return 1; }
	for (i = 0; i < 8; i++)
		fputc((int)((uint64_t)hlen >> (8 * i) & 0xff), f);
	fwrite(hdr, 1, hlen, f);
	for (t = 0; t < tensors; t++) {
		unsigned char e[4];
		uint64_t ws = seed * 1000003u + t + 1, ds = dseed * 7919u + t + 1;
		int changed;
		size_t k;

		rs = ds * 0x9e3779b97f4a7c15ull | 1;
		changed = uni() * 100 < change;
		for (k = 0; k < per; k++) {
			double v, g;
			rs = (ws + k * 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull | 1;
			uni();
			v = 0.02 * gauss();
			if (changed || drift) {
				rs = (ds + k * 0x9e3779b97f4a7c15ull) * 0x94d049bb133111ebull | 1;
				uni();
				g = gauss();
				v = changed ? 0.02 * g : v * (1 + drift * g);
			}
			put(e, dtype, v);
			fwrite(e, 1, esz, f);
		}
	}
	free(hdr);
	return fclose(f) == 0 ? 0 : 1;
}
