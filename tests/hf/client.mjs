// SPDX-License-Identifier: MIT
// The real @huggingface/hub client against `mvms-store serve` (run by tests/cli/hf-client.sh):
// modelInfo, listFiles, fileDownloadInfo and downloadFile with hubUrl set to the test server,
// for a branch, a tag and a version id, with a token and without (a server that allows
// anonymous reads), every download byte-compared with the file that was pushed. Prints one
// line per check: "PASS what" or "FAIL what :: why"; the shell script turns them into TAP.
// Usage: node client.mjs SPEC.json (written by hf-client.sh; see there).
import { readFileSync } from "node:fs";
import { modelInfo, listFiles, fileDownloadInfo, downloadFile, pathsInfo, listCommits } from "@huggingface/hub";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));

function report(pass, what, why) {
	console.log(`${pass ? "PASS" : "FAIL"} ${what}${pass ? "" : ` :: ${why}`}`);
}

// Runs @fn: it returns true, or a string saying what is wrong; a throw is a failure too.
async function check(what, fn) {
	try {
		const r = await fn();
		report(r === true, what, r);
	} catch (e) {
		report(false, what, e && e.stack ? e.stack.split("\n").slice(0, 3).join(" | ") : String(e));
	}
}

// What a call that should fail threw: its HubApiError status, or "none".
async function statusOf(fn) {
	try {
		await fn();
		return "none";
	} catch (e) {
		return e.statusCode ?? `not an HTTP error: ${e}`;
	}
}

function same(got, want, what) {
	const g = JSON.stringify(got), w = JSON.stringify(want);
	return g === w ? true : `${what}: got ${g}, want ${w}`;
}

for (const srv of spec.servers) {
	const cred = srv.accessToken ? { accessToken: srv.accessToken } : {};
	const base = { hubUrl: srv.url, ...cred };
	for (const rev of spec.revisions) {
		const tag = `[${srv.label}, ${rev.label} ${rev.revision.slice(0, 12)}]`;
		await check(`${tag} modelInfo`, async () => {
			const info = await modelInfo({ name: spec.model, revision: rev.revision, ...base,
				additionalFields: ["sha", "filePaths", "author"] });
			if (info.name !== spec.model) return `name ${info.name}`;
			if (info.sha !== rev.sha) return `sha ${info.sha}, want ${rev.sha}`;
			if (!(info.updatedAt instanceof Date) || isNaN(info.updatedAt.getTime()))
				return `updatedAt ${info.updatedAt}`;
			if (info.private !== !srv.anonymous) return `private ${info.private}`;
			if (info.author !== spec.model.split("/")[0]) return `author ${info.author}`;
			return same([...info.filePaths].sort(), Object.keys(rev.files).sort(), "filePaths");
		});
		await check(`${tag} listFiles (recursive)`, async () => {
			const got = {};
			const dirs = [];
			for await (const e of listFiles({ repo: spec.model, revision: rev.revision, recursive: true, ...base })) {
				if (e.type === "file") got[e.path] = e.size;
				else dirs.push(e.path);
			}
			const want = {};
			for (const [p, local] of Object.entries(rev.files)) want[p] = readFileSync(local).length;
			const r = same(Object.entries(got).sort(), Object.entries(want).sort(), "files and sizes");
			return r !== true ? r : same(dirs, ["sub"], "directories");
		});
		await check(`${tag} listFiles (a directory, not recursive)`, async () => {
			const got = [];
			for await (const e of listFiles({ repo: spec.model, revision: rev.revision, path: "sub", ...base }))
				got.push(e.path);
			return same(got, ["sub/readme.txt"], "sub");
		});
		await check(`${tag} listCommits`, async () => {
			const got = [];
			for await (const c of listCommits({ repo: spec.model, revision: rev.revision, ...base })) {
				if (!(c.date instanceof Date) || isNaN(c.date.getTime()) || !c.authors[0].username)
					return `commit ${JSON.stringify(c)}`;
				got.push([c.oid, c.title]);
			}
			return same(got, rev.commits, "commits");
		});
		await check(`${tag} pathsInfo`, async () => {
			const got = await pathsInfo({ repo: spec.model, paths: ["config.json", "sub", "nope"],
				revision: rev.revision, expand: true, ...base });
			return same(got.map((e) => [e.path, e.type, e.size]),
				[["config.json", "file", readFileSync(rev.files["config.json"]).length], ["sub", "directory", 0]],
				"entries");
		});
		for (const [path, local] of Object.entries(rev.files)) {
			const want = readFileSync(local);
			await check(`${tag} fileDownloadInfo ${path}`, async () => {
				const i = await fileDownloadInfo({ repo: spec.model, path, revision: rev.revision, ...base });
				if (!i) return "null";
				if (i.size !== want.length) return `size ${i.size}, want ${want.length}`;
				return /^"[0-9a-f]{64}"$/.test(i.etag) ? true : `etag ${i.etag}`;
			});
			await check(`${tag} downloadFile ${path}: the bytes pushed`, async () => {
				const blob = await downloadFile({ repo: spec.model, path, revision: rev.revision, ...base });
				if (!blob) return "null";
				const got = Buffer.from(await blob.arrayBuffer());
				if (!got.equals(want)) return `${got.length} bytes differ from the ${want.length} pushed`;
				if (want.length < 300) return true;
				// A slice is fetched with a Range request.
				const part = Buffer.from(await blob.slice(100, 300).arrayBuffer());
				return part.equals(want.subarray(100, 300)) ? true : "the slice 100-300 differs";
			});
		}
	}
	await check(`[${srv.label}] a missing file: fileDownloadInfo and downloadFile give null`, async () => {
		const i = await fileDownloadInfo({ repo: spec.model, path: "nope.bin", ...base });
		const b = await downloadFile({ repo: spec.model, path: "nope.bin", ...base });
		return i === null && b === null ? true : `got ${i} and ${b}`;
	});
	await check(`[${srv.label}] a missing model: modelInfo throws 404`, async () =>
		same(await statusOf(() => modelInfo({ name: "org/nope", ...base })), 404, "status"));
	await check(`[${srv.label}] a missing revision: modelInfo throws 404`, async () =>
		same(await statusOf(() => modelInfo({ name: spec.model, revision: "nope", ...base })), 404, "status"));
}

await check("no token where one is needed: a 401 HubApiError whose message is the server's", async () => {
	try {
		await modelInfo({ name: spec.model, hubUrl: spec.servers[0].url });
		return "no error";
	} catch (e) {
		return e.statusCode === 401 && /token is needed/.test(e.message) ? true : `${e.statusCode} ${e.message}`;
	}
});
if (spec.otherToken) {
	const base = { hubUrl: spec.servers[0].url, accessToken: spec.otherToken };
	await check("a token for other models: modelInfo throws 404, as for a missing model", async () =>
		same(await statusOf(() => modelInfo({ name: spec.model, ...base })), 404, "status"));
	await check("and downloadFile too", async () =>
		same(await statusOf(() => downloadFile({ repo: spec.model, path: "config.json", ...base })), 404, "status"));
}
if (spec.plainToken) {
	await check("the client refuses a token without hf_ (why the server takes hf_mvms_...)", async () => {
		try {
			await modelInfo({ name: spec.model, hubUrl: spec.servers[0].url, accessToken: spec.plainToken });
			return "accepted";
		} catch (e) {
			return e instanceof TypeError && /hf_/.test(e.message) ? true : `threw ${e}`;
		}
	});
}
