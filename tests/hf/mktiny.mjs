// SPDX-License-Identifier: MIT
// Writes a tiny model that transformers.js can run, with nothing downloaded: DIR/config.json
// (a "bert" with hidden size 4), DIR/tokenizer.json (a word-level tokenizer of 6 words),
// DIR/tokenizer_config.json and DIR/onnx/model.onnx, an ONNX graph of one Gather: the
// embedding row of each token id is its "last_hidden_state". Row i of the table is
// [i, i + 0.5, -i, 2i], so a feature-extraction result shows which ids the tokenizer made
// and that the graph ran. The ONNX protobuf is encoded by hand (the few fields it needs).
// Usage: node mktiny.mjs DIR
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.argv[2];
const words = ["[UNK]", "hello", "world", "model", "store", "tiny"];
const H = 4;

// ---- protobuf, by hand ----
function varint(n) {
	const out = [];
	let v = BigInt(n);
	do {
		let b = Number(v & 0x7fn);
		v >>= 7n;
		if (v) b |= 0x80;
		out.push(b);
	} while (v);
	return Buffer.from(out);
}
const key = (field, wire) => varint((field << 3) | wire);
const int = (field, n) => Buffer.concat([key(field, 0), varint(n)]);
const bytes = (field, b) => {
	const buf = Buffer.isBuffer(b) ? b : Buffer.from(b, "utf8");
	return Buffer.concat([key(field, 2), varint(buf.length), buf]);
};
const msg = (field, ...parts) => bytes(field, Buffer.concat(parts));

// TypeProto { tensor_type { elem_type, shape { dim... } } }, dims as names or numbers
function tensorType(elem, dims) {
	const dimMsgs = dims.map((d) => msg(1, typeof d === "number" ? int(1, d) : bytes(2, d)));
	return msg(1, int(1, elem), msg(2, ...dimMsgs));
}
const valueInfo = (field, name, elem, dims) => msg(field, bytes(1, name), msg(2, tensorType(elem, dims)));

const table = new Float32Array(words.length * H);
for (let i = 0; i < words.length; i++) table.set([i, i + 0.5, -i, 2 * i], i * H);
const FLOAT = 1, INT64 = 7;
const initializer = msg(5, int(1, words.length), int(1, H), int(2, FLOAT), bytes(8, "embeddings"),
	bytes(9, Buffer.from(table.buffer)));
const node = msg(1, bytes(1, "embeddings"), bytes(1, "input_ids"), bytes(2, "last_hidden_state"),
	bytes(3, "lookup"), bytes(4, "Gather"));
const graph = msg(7, node, bytes(2, "tiny"), initializer,
	valueInfo(11, "input_ids", INT64, ["batch", "sequence"]),
	valueInfo(12, "last_hidden_state", FLOAT, ["batch", "sequence", H]));
const model = Buffer.concat([int(1, 8), bytes(2, "mvms-store tests"), graph, msg(8, bytes(1, ""), int(2, 13))]);

mkdirSync(join(dir, "onnx"), { recursive: true });
writeFileSync(join(dir, "onnx", "model.onnx"), model);
writeFileSync(join(dir, "config.json"), JSON.stringify({
	model_type: "bert", architectures: ["BertModel"], hidden_size: H, vocab_size: words.length,
	num_attention_heads: 1, num_hidden_layers: 1,
}, null, 1) + "\n");
writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({
	tokenizer_class: "PreTrainedTokenizer", model_max_length: 64, unk_token: "[UNK]",
}, null, 1) + "\n");
writeFileSync(join(dir, "tokenizer.json"), JSON.stringify({
	version: "1.0", truncation: null, padding: null,
	added_tokens: [{ id: 0, content: "[UNK]", single_word: false, lstrip: false, rstrip: false,
		normalized: false, special: true }],
	normalizer: { type: "Lowercase" }, pre_tokenizer: { type: "Whitespace" }, post_processor: null,
	decoder: null,
	model: { type: "WordLevel", vocab: Object.fromEntries(words.map((w, i) => [w, i])), unk_token: "[UNK]" },
}, null, 1) + "\n");
