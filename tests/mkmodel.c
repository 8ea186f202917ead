/* SPDX-License-Identifier: MIT */
/*
 * mkmodel: writes a sample safetensors model directory (OUTDIR/model.safetensors and,
 * with --extras, a few small side files) for the README demo, the command-line tests
 * and the benchmarks. Tensor values are pseudo-normal and deterministic: tensor i
 * depends only on (seed, i), unless --change picks it, in which case it also depends
 * on the change salt. So two models made with the same seed share every unchanged
 * tensor byte for byte. The data is streamed through a small buffer.
 *
 * Depends on libc only (no libm functions are called).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define HEADER_MAX (100u * 1000u * 1000u) /* the safetensors cap on the JSON header */
#define OUTBUF_SIZE (4u << 20)            /* streaming buffer */
#define MAX_COLS 1024u

enum dtype { DT_BF16, DT_F16, DT_F32 };

static const char *progname = "mkmodel";

/* ---- errors ---- */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [options] OUTDIR\n"
		"Writes OUTDIR/model.safetensors, a sample model of pseudo-normal tensors.\n"
		"  --size BYTES      total tensor bytes (suffixes K, M, G = KiB, MiB, GiB), default 8M\n"
		"  --tensors N       number of tensors, default 16\n"
		"  --dtype T         bf16, f16 or f32, default bf16\n"
		"  --seed S          base seed, default 1\n"
		"  --change PCT      percent of tensors whose values differ from the base model, default 0\n"
		"  --change-seed S   salt of the changed tensors' values, default 2\n"
		"  --std X           standard deviation of the values, default 0.02\n"
		"  --drift PCT       multiply every value by (1 + N(0, PCT/100)), as a short fine-tune\n"
		"                    does to its base model (same seed: the same base), default 0\n"
		"  --drift-seed S    seed of the drift noise, default 3\n"
		"  --extras          also write config.json, tokenizer.json and sub/readme.txt\n"
		"  -q, --quiet       print nothing on success\n"
		"  -h, --help        show this help\n",
		progname);
}

static void usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	exit(2);
}

/* ---- option values ---- */

static uint64_t parse_u64(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		die("invalid value for %s: '%s'", opt, s);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end != '\0')
		die("invalid value for %s: '%s'", opt, s);
	return (uint64_t)v;
}

/* "123", "64K", "8M", "1G" (also "8MiB", "8MB"; all binary multiples). */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (*s < '0' || *s > '9')
		die("invalid value for --size: '%s'", s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		die("invalid value for --size: '%s'", s);
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	default: die("invalid value for --size: '%s' (use BYTES with an optional K, M or G)", s);
	}
	if (mul > 1 && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
		end += strlen(end);
	if (*end != '\0')
		die("invalid value for --size: '%s' (use BYTES with an optional K, M or G)", s);
	if (v > UINT64_MAX / mul)
		die("--size too large: '%s'", s);
	return (uint64_t)v * mul;
}

static double parse_double(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno || !isfinite(v))
		die("invalid value for %s: '%s'", opt, s);
	return v;
}

/* ---- random numbers ---- */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix64(*s);
}

typedef struct { uint64_t s[4]; } rng_t;

static void rng_seed(rng_t *r, uint64_t key)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&key);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static inline uint64_t rng_next(rng_t *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

#define SALT_BASE 0x6d6b6d6f64656c31ull    /* "mkmodel1" */
#define SALT_CHANGED 0x6368616e67656421ull /* "changed!" */
#define SALT_PICK 0x7069636b74656e73ull    /* "picktens" */

/* The seed of tensor i's values: (seed, i) for a base tensor, plus the salt if changed. */
static uint64_t tensor_key(uint64_t seed, uint64_t i, int changed, uint64_t change_seed)
{
	uint64_t k = mix64(seed ^ SALT_BASE);

	k = mix64(k ^ mix64(i + 0x9e3779b97f4a7c15ull));
	if (changed)
		k = mix64(k ^ SALT_CHANGED ^ mix64(change_seed + 0x632be59bd9b4e019ull));
	return k;
}

/* sqrt by Newton's method (keeps libm out), for the few constants below. */
static double sqrt_newton(double x)
{
	double y = x > 1 ? x : 1;

	if (x <= 0)
		return 0;
	for (int i = 0; i < 200; i++) {
		double n = 0.5 * (y + x / y);
		if (n == y)
			break;
		y = n;
	}
	return y;
}

/*
 * Normal values: the sum of four independent uniforms (Irwin-Hall), centred and scaled
 * to the requested standard deviation. It is close to normal (tails cut at 3.46 sigma),
 * which is all a sample model needs, and costs one xoshiro step per value (16-bit parts,
 * for bf16 and f16) or two (32-bit parts, for f32, whose mantissa would otherwise show
 * the 16-bit granularity).
 */

/* ---- float conversions ---- */

static inline uint32_t f32_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	return u;
}

/* bfloat16: the top half of the float32, rounded to nearest even. */
static inline uint16_t f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);

	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

/* IEEE binary16, rounded to nearest even, with subnormals, overflow to inf and NaN. */
static inline uint16_t f32_to_f16(float f)
{
	uint32_t u = f32_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
	uint32_t a = u & 0x7fffffffu;

	if (a >= 0x7f800000u) /* inf or NaN */
		return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x0200u : 0u));
	if (a >= 0x477ff000u) /* >= 65520 rounds to inf */
		return (uint16_t)(sign | 0x7c00u);
	if (a >= 0x38800000u) { /* normal half: rebias the exponent, round 13 bits away */
		a -= 112u << 23;
		a += 0x0fffu + ((a >> 13) & 1u);
		return (uint16_t)(sign | (a >> 13));
	}
	if (a < 0x33000000u) /* below 2^-25: rounds to zero */
		return sign;
	{ /* subnormal half: m * 2^-24 */
		uint32_t e = a >> 23;
		uint32_t m = (a & 0x007fffffu) | 0x00800000u;
		uint32_t shift = 126u - e; /* 14..24 */
		uint32_t q = m >> shift;
		uint32_t rem = m & ((1u << shift) - 1u);
		uint32_t half = 1u << (shift - 1u);

		if (rem > half || (rem == half && (q & 1u)))
			q++;
		return (uint16_t)(sign | q);
	}
}

/* ---- output ---- */

typedef struct {
	int fd;
	const char *path;
	unsigned char *buf;
	size_t len;
	uint64_t written;
} out_t;

static void out_flush(out_t *o)
{
	size_t off = 0;

	while (off < o->len) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("cannot write %s: %s", o->path, strerror(errno));
		}
		off += (size_t)n;
	}
	o->written += o->len;
	o->len = 0;
}

static void out_bytes(out_t *o, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n > 0) {
		size_t k = OUTBUF_SIZE - o->len;
		if (k > n)
			k = n;
		memcpy(o->buf + o->len, c, k);
		o->len += k;
		c += k;
		n -= k;
		if (o->len == OUTBUF_SIZE)
			out_flush(o);
	}
}

#define SALT_DRIFT 0x6472696674656421ull /* "drifted!" */

/* 1 + N(0, rel) (approximately: the sum of four 16-bit uniforms), from @d; 1 when rel is 0. */
static inline double drift_factor(rng_t *d, double rel)
{
	uint64_t a;
	int32_t s;

	if (rel == 0)
		return 1.0;
	a = rng_next(d);
	s = (int32_t)((a & 0xffff) + ((a >> 16) & 0xffff) + ((a >> 32) & 0xffff) + (a >> 48)) - 131070;
	return 1.0 + (double)s * rel / 37837.0; /* sqrt((65536^2 - 1) / 3) */
}

/* Writes @count values of one tensor, generated from @key; with @drift (relative), each
 * value is then multiplied by drift_factor, whose noise comes from @dkey. */
static void out_tensor(out_t *o, enum dtype dt, uint64_t count, uint64_t key, double std,
		       double drift, uint64_t dkey)
{
	rng_t r, d;

	rng_seed(&r, key);
	rng_seed(&d, dkey);
	if (dt == DT_F32) {
		/* four 32-bit uniforms: mean 2 (2^32 - 1), variance 4 (2^64 - 1) / 12 */
		const double mean = 2.0 * 4294967295.0;
		const double scale = std / sqrt_newton(18446744073709551615.0 / 3.0);

		while (count > 0) {
			size_t room = (OUTBUF_SIZE - o->len) / 4;
			size_t n = count < room ? (size_t)count : room;
			unsigned char *p = o->buf + o->len;

			for (size_t j = 0; j < n; j++, p += 4) {
				uint64_t a = rng_next(&r), b = rng_next(&r);
				uint64_t s = (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32);
				uint32_t u = f32_bits((float)(((double)s - mean) * scale *
							      drift_factor(&d, drift)));
				p[0] = (unsigned char)u;
				p[1] = (unsigned char)(u >> 8);
				p[2] = (unsigned char)(u >> 16);
				p[3] = (unsigned char)(u >> 24);
			}
			o->len += n * 4;
			count -= n;
			if (o->len + 4 > OUTBUF_SIZE)
				out_flush(o);
		}
	} else {
		/* four 16-bit uniforms: mean 2 * 65535, variance 4 (65536^2 - 1) / 12 */
		const float scale = (float)(std / sqrt_newton((65536.0 * 65536.0 - 1.0) / 3.0));

		while (count > 0) {
			size_t room = (OUTBUF_SIZE - o->len) / 2;
			size_t n = count < room ? (size_t)count : room;
			unsigned char *p = o->buf + o->len;

			for (size_t j = 0; j < n; j++, p += 2) {
				uint64_t a = rng_next(&r);
				int32_t s = (int32_t)((a & 0xffff) + ((a >> 16) & 0xffff) +
						      ((a >> 32) & 0xffff) + (a >> 48)) - 131070;
				float v = (float)((double)((float)s * scale) * drift_factor(&d, drift));
				uint16_t h = dt == DT_BF16 ? f32_to_bf16(v) : f32_to_f16(v);
				p[0] = (unsigned char)h;
				p[1] = (unsigned char)(h >> 8);
			}
			o->len += n * 2;
			count -= n;
			if (o->len + 2 > OUTBUF_SIZE)
				out_flush(o);
		}
	}
}

/* ---- a growing string ---- */

typedef struct {
	char *s;
	size_t len, cap;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		int n;

		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			die("formatting failed");
		if (b->s && (size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s)
			die("out of memory");
		b->s = s;
		b->cap = cap;
	}
}

/* ---- files and directories ---- */

/* mkdir -p */
static void make_dirs(const char *path)
{
	char *p = strdup(path);
	struct stat st;

	if (!p)
		die("out of memory");
	for (char *c = p + 1; ; c++) {
		if (*c == '/' || *c == '\0') {
			char saved = *c;
			*c = '\0';
			if (mkdir(p, 0755) != 0 && errno != EEXIST)
				die("cannot create directory %s: %s", p, strerror(errno));
			*c = saved;
			if (saved == '\0')
				break;
		}
	}
	if (stat(path, &st) != 0)
		die("cannot create directory %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die("%s exists and is not a directory", path);
	free(p);
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *s = malloc(n);

	if (!s)
		die("out of memory");
	snprintf(s, n, "%s/%s", dir, name);
	return s;
}

static void write_text(const char *dir, const char *name, const char *text, size_t len)
{
	char *path = join(dir, name);
	FILE *f = fopen(path, "w");

	if (!f)
		die("cannot create %s: %s", path, strerror(errno));
	if (fwrite(text, 1, len, f) != len || fflush(f) != 0 || ferror(f)) {
		int e = errno;
		fclose(f);
		die("cannot write %s: %s", path, strerror(e));
	}
	if (fclose(f) != 0)
		die("cannot write %s: %s", path, strerror(errno));
	free(path);
}

static const char *dtype_name(enum dtype dt)
{
	return dt == DT_BF16 ? "BF16" : dt == DT_F16 ? "F16" : "F32";
}

static const char *dtype_torch(enum dtype dt)
{
	return dt == DT_BF16 ? "bfloat16" : dt == DT_F16 ? "float16" : "float32";
}

/* config.json, tokenizer.json and sub/readme.txt: small deterministic text. */
static void write_extras(const char *dir, enum dtype dt, uint64_t ntensors, uint64_t cols,
			 uint64_t seed)
{
	static const char *const words[] = {
		"the", "model", "store", "tensor", "weight", "layer", "chunk", "pack",
		"delta", "byte", "shard", "token", "vector", "matrix", "float", "half",
	};
	sbuf_t b = { 0 };
	char *sub;

	sb_printf(&b,
		  "{\n"
		  "  \"architectures\": [\"MkModelForTesting\"],\n"
		  "  \"model_type\": \"mkmodel\",\n"
		  "  \"hidden_size\": %" PRIu64 ",\n"
		  "  \"num_hidden_layers\": %" PRIu64 ",\n"
		  "  \"torch_dtype\": \"%s\",\n"
		  "  \"vocab_size\": 256,\n"
		  "  \"seed\": %" PRIu64 "\n"
		  "}\n",
		  cols, ntensors, dtype_torch(dt), seed);
	write_text(dir, "config.json", b.s, b.len);

	b.len = 0;
	sb_printf(&b, "{\n  \"version\": \"1.0\",\n  \"model\": {\n    \"type\": \"WordLevel\",\n"
		      "    \"unk_token\": \"[UNK]\",\n    \"vocab\": {\n");
	for (unsigned i = 0; i < 256; i++)
		sb_printf(&b, "      \"%s_%s_%u\": %u%s\n", words[i % 16], words[(i / 16) % 16], i,
			  i, i == 255 ? "" : ",");
	sb_printf(&b, "    }\n  }\n}\n");
	write_text(dir, "tokenizer.json", b.s, b.len);

	sub = join(dir, "sub");
	make_dirs(sub);
	b.len = 0;
	sb_printf(&b, "A sample model written by mkmodel for the mvms-store tests.\n"
		      "%" PRIu64 " tensors of %s, seed %" PRIu64 ".\n",
		  ntensors, dtype_name(dt), seed);
	write_text(sub, "readme.txt", b.s, b.len);
	free(sub);
	free(b.s);
}

/* ---- main ---- */

int main(int argc, char **argv)
{
	enum { OPT_SIZE = 256, OPT_TENSORS, OPT_DTYPE, OPT_SEED, OPT_CHANGE, OPT_CHANGE_SEED,
	       OPT_STD, OPT_EXTRAS, OPT_DRIFT, OPT_DRIFT_SEED };
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "tensors", required_argument, NULL, OPT_TENSORS },
		{ "dtype", required_argument, NULL, OPT_DTYPE },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "change", required_argument, NULL, OPT_CHANGE },
		{ "change-seed", required_argument, NULL, OPT_CHANGE_SEED },
		{ "std", required_argument, NULL, OPT_STD },
		{ "drift", required_argument, NULL, OPT_DRIFT },
		{ "drift-seed", required_argument, NULL, OPT_DRIFT_SEED },
		{ "extras", no_argument, NULL, OPT_EXTRAS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t size = 8ull << 20, ntensors = 16, seed = 1, change_seed = 2, drift_seed = 3;
	double change = 0, std = 0.02, drift = 0;
	enum dtype dt = DT_BF16;
	int extras = 0, quiet = 0, c;

	if (argc > 0 && argv[0] && *argv[0]) {
		const char *slash = strrchr(argv[0], '/');
		progname = slash ? slash + 1 : argv[0];
	}
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":qh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SIZE: size = parse_size(optarg); break;
		case OPT_TENSORS: ntensors = parse_u64("--tensors", optarg); break;
		case OPT_DTYPE:
			if (strcmp(optarg, "bf16") == 0)
				dt = DT_BF16;
			else if (strcmp(optarg, "f16") == 0)
				dt = DT_F16;
			else if (strcmp(optarg, "f32") == 0)
				dt = DT_F32;
			else
				die("invalid value for --dtype: '%s' (use bf16, f16 or f32)", optarg);
			break;
		case OPT_SEED: seed = parse_u64("--seed", optarg); break;
		case OPT_CHANGE: change = parse_double("--change", optarg); break;
		case OPT_CHANGE_SEED: change_seed = parse_u64("--change-seed", optarg); break;
		case OPT_STD: std = parse_double("--std", optarg); break;
		case OPT_DRIFT: drift = parse_double("--drift", optarg); break;
		case OPT_DRIFT_SEED: drift_seed = parse_u64("--drift-seed", optarg); break;
		case OPT_EXTRAS: extras = 1; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return 0;
		case ':': usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt)
				usage_error("unknown option '-%c'", optopt);
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		usage_error(argc - optind < 1 ? "missing OUTDIR" : "too many arguments");

	/* the output directory, without trailing slashes (except "/") */
	char *outdir = strdup(argv[optind]);
	if (!outdir)
		die("out of memory");
	for (size_t n = strlen(outdir); n > 1 && outdir[n - 1] == '/'; n--)
		outdir[n - 1] = '\0';
	if (!*outdir)
		die("OUTDIR is empty");

	if (ntensors < 1)
		die("--tensors must be at least 1");
	if (ntensors > 1000000)
		die("--tensors must be at most 1000000");
	if (change < 0 || change > 100)
		die("--change must be a percentage between 0 and 100");
	if (!(drift >= 0) || drift > 100)
		die("--drift must be a percentage between 0 and 100");
	if (!(std > 0) || std > 1e30)
		die("--std must be positive");

	/* shapes: [rows, cols], cols = 1024 (fewer for small tensors); rows split evenly */
	const uint64_t esize = dt == DT_F32 ? 4 : 2;
	const uint64_t elems = size / esize;
	if (elems < ntensors)
		die("--size %" PRIu64 " is too small for %" PRIu64 " tensors of %s (%" PRIu64
		    " bytes at least)", size, ntensors, dtype_name(dt), ntensors * esize);
	const uint64_t cols = elems / ntensors < MAX_COLS ? elems / ntensors : MAX_COLS;
	const uint64_t total_rows = elems / cols;

	/* the changed tensors: evenly spaced, offset by the seed */
	unsigned char *changed = calloc((size_t)ntensors, 1);
	uint64_t nchanged = 0;
	if (!changed)
		die("out of memory");
	if (change > 0) {
		nchanged = (uint64_t)((double)ntensors * change / 100.0 + 0.5);
		if (nchanged < 1)
			nchanged = 1;
		if (nchanged > ntensors)
			nchanged = ntensors;
		uint64_t off = mix64(seed ^ SALT_PICK) % (ntensors / nchanged);
		for (uint64_t j = 0; j < nchanged; j++)
			changed[j * ntensors / nchanged + off] = 1;
	}

	/* the header */
	sbuf_t h = { 0 };
	uint64_t data_off = 0;
	sb_printf(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
	for (uint64_t i = 0; i < ntensors; i++) {
		uint64_t rows = total_rows / ntensors + (i < total_rows % ntensors ? 1 : 0);
		uint64_t len = rows * cols * esize;
		sb_printf(&h, ",\"layers.%" PRIu64 ".weight\":{\"dtype\":\"%s\",\"shape\":[%" PRIu64
			      ",%" PRIu64 "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}",
			  i, dtype_name(dt), rows, cols, data_off, data_off + len);
		data_off += len;
	}
	sb_printf(&h, "}");
	while (h.len % 8)
		sb_printf(&h, " ");
	if (h.len > HEADER_MAX)
		die("the header would be %zu bytes, over the safetensors limit of %u", h.len,
		    HEADER_MAX);

	/* the file */
	make_dirs(outdir);
	char *path = join(outdir, "model.safetensors");
	out_t o = { .path = path };
	o.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (o.fd < 0)
		die("cannot create %s: %s", path, strerror(errno));
	o.buf = malloc(OUTBUF_SIZE);
	if (!o.buf)
		die("out of memory");

	unsigned char len8[8];
	for (int k = 0; k < 8; k++)
		len8[k] = (unsigned char)((uint64_t)h.len >> (8 * k));
	out_bytes(&o, len8, 8);
	out_bytes(&o, h.s, h.len);
	for (uint64_t i = 0; i < ntensors; i++) {
		uint64_t rows = total_rows / ntensors + (i < total_rows % ntensors ? 1 : 0);
		out_tensor(&o, dt, rows * cols, tensor_key(seed, i, changed[i], change_seed), std,
			   drift / 100.0, mix64(tensor_key(seed, i, 0, 0) ^ SALT_DRIFT ^ mix64(drift_seed)));
	}
	out_flush(&o);
	if (close(o.fd) != 0)
		die("cannot write %s: %s", path, strerror(errno));

	if (extras)
		write_extras(outdir, dt, ntensors, cols, seed);

	if (!quiet)
		printf("wrote %s: %" PRIu64 " tensors, %" PRIu64 " bytes, %" PRIu64 " changed\n",
		       path, ntensors, o.written, nchanged);
	free(o.buf);
	free(path);
	free(h.s);
	free(changed);
	free(outdir);
	return fflush(stdout) == 0 ? 0 : 1;
}
