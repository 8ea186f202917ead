// SPDX-License-Identifier: MIT
// transformers.js (@huggingface/transformers) loading the tiny model of mktiny.mjs from
// `mvms-store serve` through env.remoteHost, and running it (run by tests/cli/hf-client.sh).
// transformers.js sends HF_TOKEN only to huggingface.co, so a token goes in through env.fetch.
// Prints "PASS what" / "FAIL what :: why" lines, as client.mjs.
// Usage: node transformers.mjs URL TOKEN|- MODEL REVISION CACHE_DIR
import { env, pipeline } from "@huggingface/transformers";

const [url, token, model, revision, cacheDir] = process.argv.slice(2);

function report(pass, what, why) {
	console.log(`${pass ? "PASS" : "FAIL"} ${what}${pass ? "" : ` :: ${why}`}`);
}

env.allowLocalModels = false;
env.remoteHost = `${url}/`;
env.remotePathTemplate = "{model}/resolve/{revision}/";
env.cacheDir = cacheDir;
env.useBrowserCache = false;
const asked = [];
const plainFetch = globalThis.fetch;
env.fetch = (input, init = {}) => {
	asked.push(String(input));
	const headers = new Headers(init.headers);
	if (token !== "-") headers.set("Authorization", `Bearer ${token}`);
	return plainFetch(input, { ...init, headers });
};

const what = `[${token === "-" ? "anonymous" : "token"}, ${revision.slice(0, 12)}]`;
try {
	const extract = await pipeline("feature-extraction", model, { revision, dtype: "fp32", device: "cpu" });
	report(true, `${what} pipeline("feature-extraction") loads ${model} from the store`);
	// hello=1, store=4, nonsense=[UNK]=0: row i of the table is [i, i + 0.5, -i, 2i].
	const out = await extract("Hello store nonsense");
	const got = JSON.stringify(out.dims) + " " + JSON.stringify(Array.from(out.data));
	const want = "[1,3,4] " + JSON.stringify([1, 1.5, -1, 2, 4, 4.5, -4, 8, 0, 0.5, 0, 0]);
	report(got === want, `${what} and runs it: the tokenizer's ids and the graph's rows`, `got ${got}, want ${want}`);
	const mean = await extract("hello world", { pooling: "mean" });
	const mwant = JSON.stringify([1.5, 2, -1.5, 3]);
	report(JSON.stringify(Array.from(mean.data)) === mwant, `${what} mean pooling over the attention mask`,
		`got ${JSON.stringify(Array.from(mean.data))}, want ${mwant}`);
	const onnx = asked.filter((u) => u.endsWith("/onnx/model.onnx"));
	report(onnx.length > 0 && onnx.every((u) => u.startsWith(`${url}/${model}/resolve/`)),
		`${what} the ONNX file came from the store's resolve route`, asked.join(" "));
} catch (e) {
	report(false, `${what} pipeline("feature-extraction") loads ${model} from the store`,
		e && e.stack ? e.stack.split("\n").slice(0, 4).join(" | ") : String(e));
}
