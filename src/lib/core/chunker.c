/* SPDX-License-Identifier: MIT */
/*
 * Gear-hash FastCDC with normalised chunking (level 1): finds the first content-defined
 * cut point in a buffer. It keeps no state between calls, does no I/O and knows nothing
 * about file formats: streaming and forced cuts at tensor boundaries belong to the caller.
 *
 * The rules below are frozen (docs/formats.md): changing any of them changes every chunk id.
 *
 *  1. Gear table: 256 u64 from splitmix64 seeded with 0x6d766d732d676561 ("mvms-gea"),
 *     one output per entry in index order (table below, produced once and pasted).
 *  2. avg is a power of two in [MVMS_CHUNKER_AVG_MIN, MVMS_CHUNKER_AVG_MAX], 64 KiB by
 *     default; min = avg / 8 and max = avg * 2, as Xet's 8/64/128 KiB.
 *  3. Fingerprint: fp = (fp << 1) + gear[byte]. After the shift a byte's influence only
 *     moves up, so the LOW bits of fp depend on the last few bytes only and the HIGH bits
 *     on the last 64: the masks therefore test high bits.
 *  4. With bits = log2(avg): mask_s has the top bits+1 bits set (cut chance 2^-(bits+1))
 *     and mask_l the top bits-1 bits (2^-(bits-1)). The stricter mask before avg and the
 *     looser one after it pull the sizes towards avg (normalised chunking, level 1).
 *  5. A chunk never ends before min: hashing starts at offset min with fp = 0, so the first
 *     min bytes do not influence the cut (FastCDC's sub-minimum skip).
 *  6. For i in [min, avg) cut after byte i when (fp & mask_s) == 0; for i in [avg, max)
 *     when (fp & mask_l) == 0; with no such byte the chunk is the whole of data[0..len),
 *     which the caller makes at most max bytes long (forced cut).
 */
#include "mvms/chunker.h"
#include "mvms/errors.h"

/*
 * splitmix64 from state 0x6d766d732d676561, for i in 0..255:
 *   state += 0x9e3779b97f4a7c15; z = state;
 *   z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9; z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
 *   gear[i] = z ^ (z >> 31);
 * A literal rather than computed at start-up, so there is no init call and no race.
 */
static const uint64_t gear[256] = {
	0x6eb366839901ab90u, 0xdc5b6114433bcbb5u, 0xaca4f57e9336c2f0u,
	0x154bef0c1eb103a9u, 0xd11ff75961fc42d8u, 0x759d7a1e4225309eu,
	0xbb491431ac0436ffu, 0x997f03249c8d0781u, 0xb1d7d16626f6ea7du,
	0xd14690dc2faf08a6u, 0xc4e8b543be718370u, 0x94564ff35e20ed57u,
	0x91f63551128a50fbu, 0x2041f61c1ebe47e8u, 0x3fcf7ef3696a5992u,
	0x95c852a8b603cbd6u, 0x3e0541b5359b7fabu, 0xf707b6ed97015cc9u,
	0x9fe12f6a3a4899dcu, 0xce496636c996a49bu, 0x005dab2948a06707u,
	0x176d27b2bedea079u, 0xcfccd9f36c8190f6u, 0x5517e04e7111e667u,
	0xc119e311458ca3ddu, 0xdc02b664b13d6628u, 0x60dfc53996a98c50u,
	0x6dbf43de859bf569u, 0x237a5566f5f78f2au, 0x00125f4733d2e9b1u,
	0x6ad401b3be24f50du, 0x3d57325bd695ba50u, 0xcf049413962edd32u,
	0x49af2e46f50a5895u, 0x14c587dfc5cc516cu, 0x09b97b48096666aau,
	0xfc2f568bac25068au, 0xcea78de021eb5fd7u, 0x2afb8eba82cd6b45u,
	0xab87c09a68697603u, 0xce09127aebc48302u, 0xc73a7c1d32c65cfcu,
	0xac230f009ebbd9cdu, 0x2f35a33723e1d948u, 0x687fa1c69b4ce347u,
	0x7179a79cc32538b1u, 0xa69e72d6242f1c5cu, 0x4c8deb25302ef5bdu,
	0xcf7ff3d7694c6659u, 0xdd99060b224dac4eu, 0x30e085f178cb0d7fu,
	0xf9f5ed99cb5b234cu, 0x85701988a20efcc7u, 0xba58a958031a47e3u,
	0x9e65f1452bd97ef3u, 0x7afa5b66b3df739cu, 0x6b8f5072f15b7651u,
	0xef37f44e4d44e261u, 0x7b432501ae5fb990u, 0x226b51d3f8895032u,
	0x6c845a63e72234bfu, 0x44fbf0edac4c1c3eu, 0x38ba290f6e437f5fu,
	0xc907e23c998e6f25u, 0x1f4bf2bf074b566du, 0xbb8e48b29bb101dcu,
	0x8c834fcd42971f3fu, 0x7bd59192ba00b7aeu, 0xe22bc2a109341695u,
	0x9ecad55ba50584ffu, 0x677491ad212a8f62u, 0xb9747dcb383eb3f0u,
	0x4c10e26d9220c654u, 0xd26c3f4446e9f447u, 0x1d22792d15d90823u,
	0x9bf4487b6d979087u, 0x70d7ae020f9304a4u, 0x9453f0a84d34d877u,
	0x997e0413a9475730u, 0x9c99fd6c943417c1u, 0x02f1ba1e7d12c70bu,
	0x1038708807dc28eau, 0x80c05d4bf4eaf37cu, 0xbd6a0f07fd700ca2u,
	0xe7079d2cdba95f5eu, 0xbf3c362bed073a3cu, 0x1fa3c9943302393cu,
	0x59caa949f8aca89au, 0xb994c2a4b4f660a1u, 0x651b3fdd8494a341u,
	0xf80cf831f1930437u, 0x4639340d7a95b592u, 0x00541b52c1de0785u,
	0xc1537d412d3d3a63u, 0xc385b9228db4059bu, 0xedfe016cf74ba929u,
	0x149387f68e44e132u, 0xe398c9f5b6cf6aedu, 0xdbedfb747b69b3bdu,
	0x4fcc3d09a6750e29u, 0x934fc7fae002462eu, 0xe03e8775394578f9u,
	0x67dc65af9b353415u, 0x059ef76ef5aae558u, 0xdb6c9c0748615251u,
	0x2418c14df6ef97b8u, 0x6b44704783aa65afu, 0x610917e020a3fa55u,
	0x2f7391fb61db614du, 0x09450b0138236cdeu, 0x8a9203c69e5b4357u,
	0x0177d30815e6bd9bu, 0xb12a68f5f6863bc5u, 0x4143a228df9c5e60u,
	0x41c881ab65e9a853u, 0xbdc9f148b06c46bbu, 0xac13750f31de7593u,
	0xb1783c7ca63a5cf9u, 0xca612c44c8cff9ecu, 0x8a6f8029c939191du,
	0xa75ad5f34dcf1f54u, 0x6d6ddadcbd9b98cfu, 0x6afea3c26a1453fau,
	0x874cc0285d7c53d7u, 0x789d45419a4615e5u, 0x65a3f336884a7d56u,
	0xc1d9c5a944879235u, 0xd18ae8def7dd092eu, 0xb73e3640763472f5u,
	0x8889e98d518fddc3u, 0x6ce4fff4b076e1a0u, 0x1b7490e20d6d919au,
	0xfa51d4e1e2e0f41eu, 0x38ec0124e2b60e9fu, 0x0a075dcfa8cb4bfbu,
	0x65a66a1cfeacbfc2u, 0xc7899e775b06d4a9u, 0x6a429485a597596du,
	0x2fbdebde333c8ae8u, 0x3124dbb2cd39072eu, 0x1efd4b20b3d70bedu,
	0x636fde629ce0c655u, 0x6842839e99589c98u, 0x2d3a4c01155a5303u,
	0x9b58a9bfddf354e3u, 0x7e7ea57826112f8fu, 0xbf7816b8b6325538u,
	0xce20611b6e48fd77u, 0xb1433e263d956702u, 0x640bff6f7c801cc5u,
	0x6dbf727f1e5e2596u, 0xdf3b452996de40dfu, 0x75cd007cde40086cu,
	0xe18c29b8ef71841au, 0x520f507bd3823f3au, 0x9e12c4944c2ba596u,
	0x3e3f2915be859d7bu, 0xe8edd8e61c1db336u, 0xfa7b2521bc2bfa16u,
	0x18a4251eccecf92bu, 0x3f8f62c0992dbde6u, 0xc73da8bcb79e82e0u,
	0xe88f73f59017824fu, 0x0fdde5ac00617872u, 0xd3877df9463c2b3cu,
	0xab04e5438764a487u, 0xc37a8ceba16061bfu, 0x49bd0af6ea6949e6u,
	0x7fc945a45abde80du, 0xaea21938fdc81ed2u, 0x434419ef7b600a35u,
	0x696d503731071891u, 0x7abc047e22cf6ac6u, 0xa82f0a0cfb1e0178u,
	0xc2ed70e5b9f34e77u, 0x56702a8739505c0cu, 0x89172ea9ade4f6f5u,
	0x1a17afabd9358ee9u, 0x7ea84b687b5a4bd0u, 0x32bdaa6d90707d74u,
	0x2fd702067d31799au, 0x118e3e7cd3fd467fu, 0x038e68cc72b27e39u,
	0x05c93169d1dd160eu, 0x677bc5f713c03323u, 0xa80a65a04b4b28aeu,
	0xaca5652191728204u, 0x7353be2d853dad5au, 0xeb361dbbdbac1c97u,
	0xb3f76e2f413d2fd0u, 0x303472bc57f943adu, 0x2b4a9d142b9e9c6bu,
	0x912c975ab5f012bfu, 0xff12997bf216c137u, 0x7f1dc6c2918885bcu,
	0x94dbf4b38cd20961u, 0xbe3092ef9bbb5a3au, 0x6bc629f246930bb4u,
	0xa4f811c4f0efb9e8u, 0x67b3dc5d1a554baeu, 0x04672b2ce62a99a3u,
	0x7287fad173f10916u, 0xd39cf0a7ad8470c6u, 0xf440c2cfbe3fe5d8u,
	0x451a8b40a73fcae8u, 0x07d5d1387b4bed90u, 0x4d176d2bbfe66455u,
	0xc984f3f324ba78a0u, 0xbea34231a2121bb7u, 0x971bf740f1b86675u,
	0xd79d94928a9ecf93u, 0x89bd03848422cdc3u, 0x5b0fa3a447fb3a66u,
	0xb5e6abb50c54eef5u, 0x551b0e607078e860u, 0x10d186217f86ec1fu,
	0xc813a5531ab66f1cu, 0x43b77e389f429b76u, 0x037bb7525d2a0efcu,
	0x306bde9d575f0841u, 0x5e97a9e9a61e1504u, 0x218777cad650b583u,
	0xfc0a10a2611abe85u, 0x28b655354d7151d4u, 0x948291d27f486b05u,
	0xd4b7f57e3efc6a1fu, 0x09c47ab25dc587f5u, 0x9e637e7078f66e20u,
	0xeeb8dc8e0a611263u, 0xc90a55cd87cf6cd4u, 0xdbc510ae4fbba8e1u,
	0x34fbea27dd57d42fu, 0x7c18fa4d8c10f7ebu, 0xc9cb4d1fa2a1ebf7u,
	0x626ba9b48711392au, 0x27a4b6eabc197cedu, 0xbbf0a3665d8d65e1u,
	0x12e9a24e710357beu, 0xf4edb7dbf5b6991du, 0x99953e27293ec685u,
	0xa2b4af9cd5ecd950u, 0x33847ef02295f5f7u, 0xe43b58bd94670839u,
	0x2433b464b4372de7u, 0x6fa8f00c43eee458u, 0xedcd51cf7e64a0d5u,
	0xe1fdfe5354395848u, 0xbb30ef337a5a9072u, 0x0b4a91f4bcaeeabcu,
	0xcc8a096c1e12e0dbu, 0xc49d7d2e6dccbe97u, 0xf73991f7ea6e7348u,
	0xfb568fc2ac773d85u, 0x89265b9433753119u, 0x92a6962a4465f3bdu,
	0x2c78b5c08ee5caf7u
};

const uint64_t *mvms_chunker_gear(void)
{
	return gear;
}

int mvms_chunker_params_init(mvms_chunker_params *out, uint32_t avg)
{
	unsigned bits;

	if (!out)
		return mvms_error_set(MVMS_EINVALID, "chunker: no params");
	if (avg == 0)
		avg = MVMS_CHUNKER_AVG_DEFAULT;
	if (avg < MVMS_CHUNKER_AVG_MIN || avg > MVMS_CHUNKER_AVG_MAX || (avg & (avg - 1)) != 0)
		return mvms_error_set(MVMS_EINVALID,
				      "chunker: average size %u: not a power of two in [%u, %u]",
				      (unsigned)avg, MVMS_CHUNKER_AVG_MIN, MVMS_CHUNKER_AVG_MAX);
	bits = (unsigned)__builtin_ctz(avg);
	out->min_size = avg / 8;
	out->avg_size = avg;
	out->max_size = avg * 2;
	/* bits is in [10, 24], so both shifts are in range. */
	out->mask_s = ~UINT64_C(0) << (64 - (bits + 1));
	out->mask_l = ~UINT64_C(0) << (64 - (bits - 1));
	return 0;
}

/*
 * Scans data[i..end) and returns the offset just past the first byte where the updated
 * fingerprint has no bit of mask set, or 0 when there is none (a cut is never at 0).
 * *fp_io carries the fingerprint into the next scan.
 *
 * The plain loop is bound by the shift-then-add chain (2 cycles a byte). Four steps at
 * once let the chain advance by 16 * fp + (8g0 + 4g1 + 2g2 + g3), where the gear sum is
 * computed off the chain, and the three intermediate values hang off the old fp, so the
 * processor overlaps them. Same fingerprints; 1.8 instead of 1.5 GB/s on the dev box
 * (gcc -O2, avg 64 KiB), where instruction issue, not latency, becomes the limit.
 */
static size_t scan(uint64_t *fp_io, const unsigned char *data, size_t i, size_t end,
		   uint64_t mask)
{
	uint64_t fp = *fp_io;

	while (end - i >= 4) {
		uint64_t g0 = gear[data[i]], g1 = gear[data[i + 1]];
		uint64_t g2 = gear[data[i + 2]], g3 = gear[data[i + 3]];
		uint64_t s1 = 2 * g0 + g1;
		uint64_t s2 = 2 * s1 + g2;
		uint64_t s3 = 2 * s2 + g3;
		uint64_t f0 = 2 * fp + g0;
		uint64_t f1 = 4 * fp + s1;
		uint64_t f2 = 8 * fp + s2;
		uint64_t f3 = 16 * fp + s3;

		if (__builtin_expect(!(f0 & mask), 0))
			return i + 1;
		if (__builtin_expect(!(f1 & mask), 0))
			return i + 2;
		if (__builtin_expect(!(f2 & mask), 0))
			return i + 3;
		if (__builtin_expect(!(f3 & mask), 0))
			return i + 4;
		fp = f3;
		i += 4;
	}
	for (; i < end; i++) {
		fp = (fp << 1) + gear[data[i]];
		if (!(fp & mask))
			return i + 1;
	}
	*fp_io = fp;
	return 0;
}

size_t mvms_chunker_next(const mvms_chunker_params *p, const unsigned char *data, size_t len)
{
	uint64_t fp = 0;
	size_t normal, cut;

	/* The contract caps len at max_size; capping here too keeps a careless caller's
	 * chunks within the format's limit instead of producing one huge chunk. */
	if (len > p->max_size)
		len = p->max_size;
	if (len <= p->min_size)
		return len;
	normal = len < p->avg_size ? len : p->avg_size;
	cut = scan(&fp, data, p->min_size, normal, p->mask_s);
	if (cut == 0 && normal < len)
		cut = scan(&fp, data, normal, len, p->mask_l);
	return cut ? cut : len;
}
