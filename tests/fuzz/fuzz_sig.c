/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the signature file parser (mvms_sig__parse, src/lib/core/sig.c), which
 * reads the signature files a client uploads (POST .../signatures) and those read back from
 * a bucket. A file it accepts must be spelled exactly as a signer writes it (written again
 * from the parsed fields, it gives the same bytes: one spelling, so the signed bytes are
 * the stored bytes), its signed part must end where the signature line starts, and the
 * Ed25519 check must answer 0 or MVMS_EMISMATCH. The public key and secret key file parsers
 * get the same bytes (as text and as a file).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "common.h"
#include "sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char pk[MVMS_SIG_PK_BYTES], seed[MVMS_SIG_SEED_BYTES];
	char pktext[MVMS_PUBKEY_TEXTSZ + 1], sighex[2 * MVMS_SIG_BYTES + 1], *again, *text;
	mvms_sig s;
	int n, rc;

	if (mvms_sig__parse(&s, data, size) == 0) {
		again = malloc(MVMS_SIG_FILE_MAX + 512);
		if (!again)
			return 0;
		mvms_sig__pk_format(pktext, s.pk);
		pktext[MVMS_PUBKEY_TEXTSZ] = '\0';
		mvms_hex_encode(sighex, s.sig, sizeof(s.sig));
		n = snprintf(again, MVMS_SIG_FILE_MAX + 512, "mvms-signature v1\nkey %s\nmodel %s\n"
			     "version %s\ntime %lld\nstatement %s\n", pktext, s.model_uid, s.version,
			     (long long)s.signed_at, s.statement);
		if (n < 0 || (size_t)n != s.signed_len || memcmp(again, data, s.signed_len) != 0)
			__builtin_trap();
		n += snprintf(again + n, MVMS_SIG_FILE_MAX + 512 - (size_t)n, "signature %s\n", sighex);
		if ((size_t)n != size || memcmp(again, data, size) != 0)
			__builtin_trap();
		if (mvms_sig__statement_check(s.statement) != 0)
			__builtin_trap();
		rc = mvms_sig__check(&s, data);
		if (rc != 0 && rc != MVMS_EMISMATCH)
			__builtin_trap();
		free(again);
	}
	mvms_error_clear();
	if ((text = malloc(size + 1))) {
		memcpy(text, data, size);
		text[size] = '\0';
		if (mvms_sig__pk_parse(pk, text) == 0) {
			mvms_sig__pk_format(pktext, pk);
			if (strncasecmp(pktext, text, MVMS_PUBKEY_TEXTSZ) != 0)
				__builtin_trap();
		}
		free(text);
	}
	mvms_sig__sk_parse(seed, data, size);
	mvms_error_clear();
	return 0;
}
