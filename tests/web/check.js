// SPDX-License-Identifier: MIT
// Drives headless Chromium (Debian's chromium, through puppeteer-core) over the web page of a
// running `mvms-store serve` (tests/cli/web.sh starts it and makes the store). Reads a JSON
// file of what to expect (argv[2]); prints one line per check for web.sh to turn into TAP:
// "ok DESC", "not_ok DESC", "diag TEXT". Screenshots go to cfg.shots.
//   node check.js CFG.json            the checks
//   node check.js CFG.json bench      page load times of cfg.bench_model (bench/web)
'use strict';
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const mode = process.argv[3] || 'check';
const out = (s) => process.stdout.write(s + '\n');
const ok = (cond, desc, why) => {
  out((cond ? 'ok ' : 'not_ok ') + desc);
  if (!cond && why) String(why).split('\n').forEach((l) => out('diag ' + l));
  return cond;
};
const enc = encodeURIComponent;

async function open(browser, problems) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 860 });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // A server built without signed releases answers .../signatures with 404 no_route,
    // which the page takes as "no signatures"; Chromium still logs the 404.
    if (/\/signatures$/.test(m.location().url || '') && /404/.test(m.text())) return;
    problems.push('console: ' + m.text());
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('requestfailed', (r) => problems.push('request failed: ' + r.url()));
  page.on('dialog', async (d) => {
    // Only the rollback's confirm() is expected; an alert would be a script that ran.
    if (d.type() === 'confirm' && page.acceptConfirm) await d.accept();
    else { problems.push('unexpected ' + d.type() + ' dialog: ' + d.message()); await d.dismiss(); }
  });
  return page;
}

async function go(page, hash) {
  await page.evaluate(() => document.getElementById('main').removeAttribute('data-ready'));
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForSelector('main[data-ready], #error', { timeout: 20000 });
  const err = await page.$('#error');
  if (err) throw new Error('page ' + hash + ' shows an error: ' + await page.$eval('#error', (e) => e.textContent));
}

async function login(page, token) {
  await page.waitForSelector('#need-token, #models, #error', { timeout: 20000 });
  await page.type('#token-input', token);
  await page.click('#token-use');
  await page.waitForSelector('#models', { timeout: 20000 });
}

const count = (page, sel) => page.$$eval(sel, (l) => l.length);
const shot = (page, name) => page.screenshot({ path: path.join(cfg.shots, name + '.png'), fullPage: false });

async function checks(browser) {
  const problems = [];
  const page = await open(browser, problems);
  const res = await page.goto(cfg.url + '/', { waitUntil: 'load' });
  const csp = res.headers()['content-security-policy'] || '';
  ok(/default-src 'self'/.test(csp) && !/unsafe/.test(csp), 'the page comes with a strict Content-Security-Policy', csp);
  await page.waitForSelector('#need-token', { timeout: 20000 });
  ok(true, 'without a token the page asks for one');
  await login(page, cfg.admin);
  ok(await page.evaluate(() => sessionStorage.getItem('mvms-token') !== null), 'the token is kept in sessionStorage');
  await page.waitForFunction(() => [...document.querySelectorAll('#models td.latest')].every((td) => td.textContent), { timeout: 20000 });
  const models = await page.$$eval('tr.model-row', (l) => l.map((r) => r.getAttribute('data-model')));
  ok(JSON.stringify(models.sort()) === JSON.stringify(cfg.models.slice().sort()), 'models list: ' + models.join(', '), models);
  const latest = await page.$eval(`tr.model-row[data-model="${cfg.model}"] td.latest a`, (a) => a.textContent);
  ok(latest === cfg.latest, `models list: ${cfg.model}'s latest version is ${cfg.latest}`, latest);
  await shot(page, 'web-models');

  await go(page, '#/m/' + enc(cfg.model));
  const nodes = await count(page, 'svg.graph g.node'), edges = await count(page, 'svg.graph path.edge');
  ok(nodes === cfg.graph_nodes, `graph: ${nodes} nodes, as lineage --json (${cfg.graph_nodes})`);
  ok(edges === cfg.graph_edges, `graph: ${edges} edges, as lineage --json (${cfg.graph_edges})`);
  ok(await count(page, 'svg.graph g.node.other') === 1, 'graph: the cross-model parent is drawn as a link to its model');
  ok(await count(page, 'svg.graph path.edge.merge') >= 1, 'graph: the merge has its second-parent edge');
  const labels = await page.$$eval('svg.graph text.label-text', (l) => l.map((t) => t.textContent));
  for (const want of cfg.labels)
    ok(labels.some((l) => l === want || l.startsWith(want + ' ')), 'graph: label ' + want, labels.join(', '));
  const other = await page.$eval('svg.graph g.node.other a', (a) => a.getAttribute('href'));
  ok(other.startsWith('#/m/' + enc(cfg.base_model) + '/v/'), 'graph: the other model\'s node links to its version page', other);
  await shot(page, 'web-graph');

  // Paged: a window of the 2 newest versions, then older ones with the button.
  await go(page, '#/m/' + enc(cfg.model) + '?page=2');
  const n2 = await count(page, 'svg.graph g.node'), stubs = await count(page, 'svg.graph path.stub');
  ok(n2 === 2 && stubs >= 1, `graph, paged by 2: ${n2} versions with a stub below`, `${n2} nodes, ${stubs} stubs`);
  await page.evaluate(() => document.getElementById('main').removeAttribute('data-ready'));
  await page.click('#graph-older');
  await page.waitForSelector('main[data-ready]', { timeout: 20000 });
  const n3 = await count(page, 'svg.graph g.node'), e3 = await count(page, 'svg.graph path.edge');
  ok(n3 === cfg.graph_nodes && e3 === cfg.graph_edges, `graph, paged by 2: "older" shows all ${n3} versions and ${e3} edges`);
  ok(await page.$eval('#graph-older', (b) => b.hidden), 'graph: no "older" button once everything is shown');

  await go(page, '#/m/' + enc(cfg.model) + '/v/v1');
  const msg = await page.$eval('#version-message', (e) => e.textContent);
  ok(msg === cfg.evil_message, 'version: a message with HTML is shown as text', msg);
  ok(await count(page, 'main script, main img, main b, main iframe, svg.graph script') === 0, 'version: no element was made from user input');
  const metaVal = await page.$$eval('tr.meta-row td', (l) => l.map((t) => t.textContent));
  ok(metaVal.includes(cfg.evil_meta), 'version: metadata with HTML is shown as text', metaVal.join(' | '));
  await page.waitForSelector('#dedup table', { timeout: 20000 });

  await go(page, '#/m/' + enc(cfg.model) + '/v/' + cfg.latest);
  const trows = await count(page, 'tr.tensor-row'), frows = await count(page, 'tr.file-row');
  ok(trows === cfg.tensors, `version: ${trows} tensor rows, as ls -t (${cfg.tensors})`);
  ok(frows === cfg.files, `version: ${frows} file rows (${cfg.files})`);
  ok(await count(page, 'a.download') === cfg.files, 'version: a download link per file');
  await page.waitForSelector('#dedup table', { timeout: 20000 });
  const rowBytes = (sel) => page.$eval(sel, (r) => [Number(r.dataset.bytes), r.textContent]).catch(() => [null, '']);
  const [sl, slText] = await rowBytes('#stored-row');
  ok(sl === cfg.stored_latest && /stored.* of .* raw/.test(slText),
     `version: the stored row shows ${cfg.stored_latest} bytes, as diff --json's stored_bytes`, sl + ' ' + slText);
  const [nl] = await rowBytes('#new-stored-row');
  ok(nl === cfg.new_stored_latest, `version: the new chunks' stored size is ${cfg.new_stored_latest} bytes, as diff --json's new_stored_bytes`, nl);
  await shot(page, 'web-version');

  // A first version (no parent): its stored bytes are what its push added to an empty
  // store, from stats --json less the pack framing (web.sh computes it).
  await go(page, '#/m/' + enc(cfg.base_model) + '/v/v1');
  await page.waitForSelector('#dedup table', { timeout: 20000 });
  const [sb, sbText] = await rowBytes('#stored-row');
  ok(sb === cfg.stored_first && sbText.includes(sb < 1024 ? sb + ' B' : (sb / 1024).toFixed(1) + ' KiB'),
     `first version: the stored row shows ${cfg.stored_first} bytes, as stats --json after its push`, sb + ' ' + sbText);

  await go(page, '#/m/' + enc(cfg.model) + '/diff?from=v1&to=' + cfg.latest);
  const df = await count(page, 'tr.diff-file'), dt = await count(page, 'tr.diff-tensor');
  ok(df === cfg.diff_files, `diff: ${df} file rows, as diff --json (${cfg.diff_files})`);
  ok(dt === cfg.diff_tensors, `diff: ${dt} tensor rows, as diff --json --tensors (${cfg.diff_tensors})`);
  const added = await page.$$eval('tr.diff-file[data-status="added"] code', (l) => l.map((c) => c.textContent));
  ok(added.includes(cfg.diff_added), 'diff: the added file is listed as added', added);
  await shot(page, 'web-diff');

  await go(page, '#/m/' + enc(cfg.model) + '/deploy/' + enc(cfg.env));
  ok(await page.$('#rollback') !== null, 'deployments: an admin token sees the rollback button');
  ok(await count(page, 'tr.target-row') === cfg.targets, `deployments: ${cfg.targets} targets`);
  ok(await count(page, 'tr.revision-row') === cfg.revisions, `deployments: ${cfg.revisions} revisions`);
  await page.waitForFunction(() => Number(document.getElementById('charts').getAttribute('data-polls')) >= 3, { timeout: 20000 });
  ok(await count(page, '#charts .chart svg.spark') === 4, 'deployments: four live charts, polled');
  const lines = await count(page, '#charts .chart[data-chart="rate"] polyline');
  ok(lines === cfg.targets, 'deployments: one request-rate line per version', lines);
  await shot(page, 'web-deploy');

  // A read token: the same page without the button (and the server would refuse it).
  const rp = await open(browser, problems);
  await rp.goto(cfg.url + '/', { waitUntil: 'load' });
  await login(rp, cfg.read);
  await go(rp, '#/m/' + enc(cfg.model) + '/deploy/' + enc(cfg.env));
  ok(await rp.$('#rollback') === null, 'deployments: a read token sees no rollback button');
  await rp.close();

  // The button works: one revision back, a new revision recorded.
  page.acceptConfirm = true;
  await page.click('#rollback');
  await page.waitForFunction((n) => {
    const e = document.getElementById('env-state');
    return e && e.textContent.startsWith('revision ' + n + ' ');
  }, { timeout: 20000 }, cfg.revisions + 1);
  ok(true, 'deployments: rollback made revision ' + (cfg.revisions + 1));

  await page.evaluate(() => { location.hash = '#/m/x/nope'; });
  await page.waitForSelector('#error', { timeout: 20000 });
  ok(/No such page/.test(await page.$eval('#error', (e) => e.textContent)), 'an unknown page says so');
  ok(problems.length === 0, 'no console errors, page errors, failed requests or dialogs', problems.join('\n'));
}

async function bench(browser) {
  const problems = [];
  const page = await open(browser, problems);
  await page.goto(cfg.url + '/', { waitUntil: 'load' });
  await login(page, cfg.admin);
  const runs = [];
  for (const [name, hash] of cfg.bench_pages) {
    const times = [], walls = [];
    for (let i = 0; i < (cfg.bench_runs || 5); i++) {
      await page.goto('about:blank');
      const t0 = Date.now();
      await page.goto(cfg.url + '/' + hash, { waitUntil: 'domcontentloaded' });
      await page.waitForSelector('main[data-ready], #error', { timeout: 60000 });
      if (await page.$('#error')) throw new Error(name + ': ' + await page.$eval('#error', (e) => e.textContent));
      // From the navigation's start to the page's own ready mark (performance.now() in the
      // page), so the driver's round trips are not counted; the wall time beside it.
      times.push(Number(await page.$eval('main', (e) => e.getAttribute('data-ready-ms'))));
      walls.push(Date.now() - t0);
    }
    times.sort((a, b) => a - b);
    const extra = name === 'graph' ? await page.$eval('#graph-info', (e) => e.textContent) : '';
    runs.push(name);
    walls.sort((a, b) => a - b);
    const mid = (a) => a[Math.floor(a.length / 2)];
    out(`${name}: median ${mid(times)} ms, min ${times[0]} ms, max ${times[times.length - 1]} ms (${times.length} loads; wall time with the driver: median ${mid(walls)} ms)${extra ? '; ' + extra : ''}`);
    if (name === 'graph') await page.screenshot({ path: path.join(cfg.shots, 'web-graph-10k.png') });
  }
  if (problems.length) out('problems: ' + problems.join('; '));
}

(async () => {
  let browser;
  try {
    browser = await puppeteer.launch({
      executablePath: cfg.chromium,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    });
    if (mode === 'bench') { await bench(browser); return; }
    await checks(browser).catch((e) => ok(false, 'the checks ran to the end', e.stack || e.message));
  } catch (e) {
    ok(false, 'the browser ran', e.stack || e.message);
  } finally {
    if (browser) await browser.close();
  }
})();
