/*
 * The web page of mvms-store (docs/web-ui.md): hash routes, each a page drawn from the /v1
 * JSON API with the token kept in this tab's sessionStorage. Every string from the store
 * (model names, messages, metadata, paths) goes into the page as text (textContent,
 * setAttribute), never as HTML. The server checks every request; what the page hides
 * (the rollback button) it hides only because the server would refuse it.
 */
'use strict';
(function () {
  var KEY = 'mvms-token';
  var GRAPH_PAGE = 200;   // versions per page of the graph (and generations of lineage asked)
  var POLL_MS = 2000;     // deployments page: how often the live counters are read
  var main = document.getElementById('main');
  var timers = [];        // intervals of the current page, cleared on navigation
  var seq = 0;            // the current page's number: late answers of an old page are dropped

  /* ---- small helpers ---- */

  function h(tag, attrs) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v == null || v === false) return;
      if (k === 'text') e.textContent = String(v);
      else if (k === 'on') Object.keys(v).forEach(function (ev) { e.addEventListener(ev, v[ev]); });
      else e.setAttribute(k, v === true ? '' : String(v));
    });
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(e, c) {
    if (c == null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(e, x); }); return; }
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  function seg(s) { return encodeURIComponent(s); }
  function pathSegs(p) { return p.split('/').map(encodeURIComponent).join('/'); }
  function modelUrl(m) { return '/v1/models/' + seg(m); }
  function bytes(n) {
    if (n == null) return '';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0, v = Number(n);
    while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(1) : String(v)) + ' ' + u[i];
  }
  function signedBytes(n) { return (n > 0 ? '+' : n < 0 ? '−' : '') + bytes(Math.abs(n)); }
  function token() { return sessionStorage.getItem(KEY) || ''; }
  function link(href, label, attrs) {
    var a = h('a', Object.assign({ href: href }, attrs || {}));
    a.textContent = label;
    return a;
  }
  function hashModel(m) { return '#/m/' + seg(m); }
  function hashVersion(m, ref) { return hashModel(m) + '/v/' + seg(ref); }
  function table(head, rows, attrs) {
    var t = h('table', attrs || {}), tr = h('tr');
    head.forEach(function (c) {
      var th = h('th', { text: c.replace(/^#/, '') });
      if (c[0] === '#') th.className = 'num';
      tr.appendChild(th);
    });
    t.appendChild(h('thead', {}, tr));
    var tb = h('tbody');
    rows.forEach(function (r) { tb.appendChild(r); });
    t.appendChild(tb);
    return t;
  }
  function row(cells, attrs) {
    var tr = h('tr', attrs || {});
    cells.forEach(function (c) {
      var td = h('td');
      if (c && c.num !== undefined) { td.className = 'num'; add(td, c.num); } else add(td, c);
      tr.appendChild(td);
    });
    return tr;
  }
  function num(v) { return { num: v }; }

  /* ---- the API ---- */

  function ApiError(status, code, message) {
    this.status = status; this.code = code; this.message = message;
  }
  function api(path, opts) {
    opts = opts || {};
    var headers = { 'Accept': 'application/json' };
    if (token()) headers['Authorization'] = 'Bearer ' + token();
    if (opts.body) headers['Content-Type'] = 'application/json';
    return fetch(path, { method: opts.method || 'GET', headers: headers,
                         body: opts.body ? JSON.stringify(opts.body) : undefined,
                         cache: 'no-store' })
      .then(function (res) {
        return res.text().then(function (body) {
          var doc = null;
          try { doc = body ? JSON.parse(body) : null; } catch (e) { doc = null; }
          if (!res.ok) {
            var err = doc && doc.error ? doc.error : {};
            throw new ApiError(res.status, err.code || 'error',
                               err.message || (res.status + ' ' + res.statusText));
          }
          return doc;
        });
      });
  }

  /* ---- the token box ---- */

  var me = null;   // GET /v1/whoami
  function showWho() {
    var who = document.getElementById('who');
    var forget = document.getElementById('token-forget');
    var input = document.getElementById('token-input');
    forget.hidden = !token();
    input.hidden = !!token();
    document.getElementById('token-use').hidden = !!token();
    if (!me) { who.textContent = ''; return; }
    who.textContent = me.anonymous ? (me.scope === 'none' ? 'no token' : 'anonymous (read)')
      : me.scope + ' token for ' + (me.models === '*' ? 'all models' : 'models ' + me.models);
  }
  function loadMe() {
    return api('/v1/whoami').then(function (d) { me = d; showWho(); return d; },
      function (e) { me = null; showWho(); throw e; });
  }
  document.getElementById('login').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var input = document.getElementById('token-input');
    var t = input.value.trim();
    if (!t) return;
    sessionStorage.setItem(KEY, t);
    input.value = '';
    loadMe().then(route, function (e) {
      sessionStorage.removeItem(KEY);
      showError(e, 'That token was not accepted');
    });
  });
  document.getElementById('token-forget').addEventListener('click', function () {
    sessionStorage.removeItem(KEY);
    me = null;
    loadMe().then(route, function (e) { showError(e); });
  });

  /* ---- pages ---- */

  function setPage(title, crumbs) {
    timers.forEach(clearInterval);
    timers = [];
    seq++;
    document.title = title + ' · mvms-store';
    var nav = document.getElementById('crumbs');
    nav.textContent = '';
    (crumbs || []).forEach(function (c, i) {
      if (i) nav.appendChild(document.createTextNode(' / '));
      nav.appendChild(c[1] ? link(c[1], c[0]) : document.createTextNode(c[0]));
    });
    main.textContent = '';
    return seq;
  }
  function live(s) { return s === seq; }
  /* The page is drawn: tests wait for the mark; bench/web reads the time (ms from navigation). */
  function ready() {
    main.setAttribute('data-ready', '1');
    main.setAttribute('data-ready-ms', String(Math.round(performance.now())));
  }
  function showError(e, prefix) {
    main.textContent = '';
    var msg = (prefix ? prefix + ': ' : '') + (e && e.message ? e.message : String(e));
    main.appendChild(h('p', { 'class': 'error', id: 'error', text: msg }));
    if (e && (e.status === 401 || e.status === 403) && !token())
      main.appendChild(h('p', { 'class': 'note',
        text: 'This server needs a token: paste one (mvms-store token create) in the box above.' }));
  }
  function fail(s) { return function (e) { if (live(s)) showError(e); }; }
  function modelCrumbs(m) { return [['models', '#/'], [m, hashModel(m)]]; }
  function modelTabs(m, here) {
    var tabs = h('nav', { 'class': 'tabs' });
    [['graph', hashModel(m)], ['deployments', hashModel(m) + '/deploy'],
     ['diff', hashModel(m) + '/diff']].forEach(function (t) {
      tabs.appendChild(t[0] === here ? h('strong', { text: t[0] }) : link(t[1], t[0]));
    });
    return tabs;
  }

  /* The models, each with its newest version (over all branches), size and time. */
  function pageModels() {
    var s = setPage('models', [['models']]);
    main.appendChild(h('h1', { text: 'Models' }));
    api('/v1/models').then(function (d) {
      if (!live(s)) return;
      var models = d.models || [];
      if (!models.length) {
        main.appendChild(h('p', { 'class': 'note', id: 'empty', text: 'No models yet (or none this token covers).' }));
        ready();
        return;
      }
      var pending = [];
      var rows = models.map(function (m) {
        var latest = h('td', { 'class': 'latest' }), size = h('td', { 'class': 'num' }),
            when = h('td');
        var tr = h('tr', { 'class': 'model-row', 'data-model': m.model },
                   h('td', {}, link(hashModel(m.model), m.model, { 'class': 'model-link' })),
                   latest, size, when, h('td', { 'class': 'num', text: m.versions }),
                   h('td', { text: m.description || '' }));
        // The newest branch head: two small requests (the log of a long history is not).
        pending.push(api(modelUrl(m.model) + '/branches').then(function (b) {
          var head = null;
          (b.branches || []).forEach(function (x) { if (!head || x.version > head.version) head = x; });
          return head ? api(modelUrl(m.model) + '/versions/' + seg(head.id)) : null;
        }).then(function (x) {
          if (!x) return;
          latest.appendChild(link(hashVersion(m.model, 'v' + x.version), 'v' + x.version));
          latest.appendChild(document.createTextNode(' ' + (x.message || '').split('\n')[0].slice(0, 60)));
          size.textContent = bytes(x.logical_bytes);
          when.textContent = x.created_at;
        }, function () { latest.textContent = '?'; }));
        return tr;
      });
      Promise.all(pending).then(function () { if (live(s)) ready(); });
      main.appendChild(table(['model', 'latest version', '#size', 'last change', '#versions', 'description'],
                             rows, { id: 'models' }));
    }, fail(s));
  }

  /*
   * The version graph, a window of the model's newest GRAPH_PAGE versions (by number) at a
   * time: the lineage (ancestors, GRAPH_PAGE generations deep) of every branch head in the
   * window, put together; "older" moves the window down by GRAPH_PAGE and asks the lineage
   * below each version whose parents are not loaded yet. The same nodes and edges as
   * lineage --json; what is below the window is a dotted stub.
   */
  function pageGraph(m, q) {
    var s = setPage(m, modelCrumbs(m));
    // ?page=N: another window size (tests use a small one).
    var page = /^[1-9][0-9]{0,5}$/.test(q.page || '') ? Number(q.page) : GRAPH_PAGE;
    main.appendChild(h('h1', { text: m }));
    main.appendChild(modelTabs(m, 'graph'));
    var info = h('span', { 'class': 'note', id: 'graph-info' });
    var older = h('button', { id: 'graph-older', type: 'button', text: 'Load older versions' });
    older.hidden = true;
    var wrap = h('div', { id: 'graph-wrap' });
    main.appendChild(h('div', { 'class': 'toolbar' }, info, older));
    main.appendChild(wrap);
    var nodes = {}, edges = {}, interior = {}, labels = {}, asked = {}, heads = [], lo = 0;
    function addLabel(id, kind, name) { (labels[id] = labels[id] || []).push({ kind: kind, name: name }); }
    function lineage(id) {
      if (asked[id]) return Promise.resolve();
      asked[id] = true;
      return api(modelUrl(m) + '/versions/' + seg(id) + '/lineage?direction=ancestors&depth=' + page)
        .then(function (l) {
          (l.nodes || []).forEach(function (n) {
            if (!nodes[n.id]) nodes[n.id] = n;
            if (n.depth < page) interior[n.id] = true;
          });
          (l.edges || []).forEach(function (e) { edges[e.child + ' ' + e.parent] = e; });
        });
    }
    function inWindow(n) { return n.model === m && n.version > lo; }
    // What is drawn: the window's versions and the other models' parents of them.
    function shown() {
      var vis = {}, out = [], el = [];
      Object.keys(nodes).forEach(function (k) { if (inWindow(nodes[k])) vis[k] = true; });
      Object.keys(edges).forEach(function (k) {
        var e = edges[k], p = nodes[e.parent];
        if (!vis[e.child] || !p) return;
        if (p.model !== m && !vis[p.id]) vis[p.id] = 'other';
        if (vis[p.id]) el.push(e);
      });
      Object.keys(vis).forEach(function (k) { out.push(nodes[k]); });
      return { nodes: out, edges: el, vis: vis };
    }
    // A version with history below it that is not drawn: parents not loaded, or below the window.
    function frontier(vis) {
      var below = {};
      Object.keys(edges).forEach(function (k) {
        var e = edges[k];
        if (vis[e.child] === true && !vis[e.parent]) below[e.child] = true;
      });
      return function (n) { return n.model === m && (below[n.id] || !interior[n.id]); };
    }
    function fetchWindow() {
      var ask = heads.filter(function (b) { return b.version > lo; }).map(function (b) { return b.id; });
      Object.keys(nodes).forEach(function (k) {
        var n = nodes[k];
        if (inWindow(n) && !interior[n.id]) ask.push(n.id);
      });
      return Promise.all(ask.map(lineage));
    }
    function draw() {
      var sh = shown(), more = frontier(sh.vis), t0 = performance.now();
      var g = MvmsGraph.render({ model: m, nodes: sh.nodes, edges: sh.edges, labels: labels, more: more,
        href: function (n) {
          return n.redacted ? '#' + location.hash.slice(1) : hashVersion(n.model, n.id); } });
      wrap.textContent = '';
      wrap.appendChild(g.svg);
      older.hidden = lo <= 0;
      info.textContent = g.nodes + ' versions and ' + g.edges + ' edges shown' +
        (lo > 0 ? ' (v' + (lo + 1) + ' and newer; older ones with the button)' : '') +
        ' · drawn in ' + Math.round(performance.now() - t0) + ' ms';
      info.setAttribute('data-nodes', g.nodes);
      info.setAttribute('data-edges', g.edges);
      ready();
    }
    older.addEventListener('click', function () {
      older.disabled = true;
      main.removeAttribute('data-ready');
      lo = Math.max(0, lo - page);
      fetchWindow().then(function () {
        if (!live(s)) return;
        older.disabled = false;
        draw();
      }, fail(s));
    });
    Promise.all([api(modelUrl(m) + '/branches'), api(modelUrl(m) + '/tags'),
                 api(modelUrl(m) + '/deployments')]).then(function (r) {
      if (!live(s)) return;
      heads = r[0].branches || [];
      heads.forEach(function (b) { addLabel(b.id, 'branch', b.name); });
      (r[1].tags || []).forEach(function (t) { addLabel(t.id, 'tag', t.name); });
      (r[2].deployments || []).forEach(function (d) {
        (d.targets || []).forEach(function (t) {
          addLabel(t.id, 'deploy', d.env + ((d.targets.length > 1) ? ' ' + Math.round(t.share) + '%' : ''));
        });
      });
      var top = 0;
      heads.forEach(function (b) { if (b.version > top) top = b.version; });
      lo = Math.max(0, top - page);
      return fetchWindow();
    }).then(function () { if (live(s)) draw(); }, fail(s));
  }

  /* One version: what it is, its files and tensors, what it shares with its parent. */
  function pageVersion(m, ref) {
    var s = setPage(m + '@' + ref, modelCrumbs(m).concat([[ref.length > 20 ? ref.slice(0, 12) : ref]]));
    var base = modelUrl(m) + '/versions/' + seg(ref);
    Promise.all([api(base), api(base + '/files?tensors=1')]).then(function (r) {
      if (!live(s)) return;
      var v = r[0], listing = r[1];
      main.appendChild(h('h1', { id: 'version-title', text: m + '@v' + v.version }));
      main.appendChild(modelTabs(m, ''));
      main.appendChild(h('pre', { 'class': 'msg', id: 'version-message', text: v.message || '(no message)' }));
      var kv = [
        ['id', h('code', { text: v.id })],
        ['author', v.author],
        ['created', v.created_at],
        ['files', String(v.files)],
        ['size', bytes(v.logical_bytes) + ' (' + v.logical_bytes + ' bytes)'],
        ['parents', (v.parents || []).map(function (p, i) {
          var label = p.redacted ? '(a version you may not see)' :
            (p.model === m ? 'v' + p.version : p.model + '@v' + p.version);
          return [i ? ', ' : '', p.redacted ? label : link(hashVersion(p.model, p.id), label)];
        })],
        ['refs', (v.refs || []).map(function (x) {
          var kind = x.split(':')[0];
          return h('span', { 'class': 'pill ' + (kind === 'branch' ? 'branch' : kind === 'tag' ? 'tag' : 'deploy'),
                             text: x });
        })]
      ];
      if (v.deleted) kv.push(['deleted', 'by ' + v.deleted.by + ' at ' + v.deleted.at]);
      main.appendChild(table(['', ''], kv.map(function (x) { return row([h('strong', { text: x[0] }), x[1]]); }),
                             { 'class': 'kv', id: 'version-info' }));
      var dedup = h('div', { id: 'dedup' });
      main.appendChild(h('h2', { text: 'Stored bytes and dedup' }));
      main.appendChild(dedup);
      var first = (v.parents || [])[0], self = seg(v.id);
      // What the store keeps: the diff's stored_bytes (compressed payloads of the version's
      // distinct chunks, docs/http-api.md). Without a visible parent, a diff of the version
      // with itself gives that figure alone.
      function storedRow(d) {
        var ratio = d.stored_bytes ? (v.logical_bytes / d.stored_bytes).toFixed(2) + '×' : '';
        return row([h('strong', { text: 'stored (compressed chunks, each once)' }),
                    num(bytes(d.stored_bytes) + ' of ' + bytes(v.logical_bytes) + ' raw'), ratio],
                   { id: 'stored-row', 'data-bytes': String(d.stored_bytes) });
      }
      function dedupFail(e) { dedup.appendChild(h('p', { 'class': 'note', text: 'dedup: ' + e.message })); }
      if (!first || first.redacted) {
        dedup.appendChild(h('p', { text: first ? 'Its parent is not visible to this token.' :
          'A first version: every byte of it was new to the model when it was pushed (' + bytes(v.logical_bytes) + ').' }));
        api(modelUrl(m) + '/diff?from=' + self + '&to=' + self).then(function (d) {
          dedup.appendChild(table(['', '#bytes', ''], [storedRow(d)], { 'class': 'kv' }));
        }, dedupFail);
      } else {
        var from = (first.model === m ? '' : first.model + '@') + first.id;
        api(modelUrl(m) + '/diff?from=' + seg(from) + '&to=' + self).then(function (d) {
          var total = d.shared_bytes + d.new_bytes, share = total ? 100 * d.shared_bytes / total : 0;
          dedup.appendChild(table(['', '#bytes', ''], [
            storedRow(d),
            row([h('strong', { text: 'shared with its parent' }), num(bytes(d.shared_bytes)), share.toFixed(1) + ' %']),
            row([h('strong', { text: 'new chunks (what a pull after the parent costs)' }), num(bytes(d.new_bytes)), '']),
            row([h('strong', { text: 'new chunks, stored' }), num(bytes(d.new_stored_bytes)), ''],
                { id: 'new-stored-row', 'data-bytes': String(d.new_stored_bytes) }),
            row([h('strong', { text: 'files unchanged' }), num(String(d.unchanged_files)), ''])
          ], { 'class': 'kv' }));
          dedup.appendChild(link(hashModel(m) + '/diff?from=' + seg(from) + '&to=' + self, 'diff against the parent'));
        }, dedupFail);
      }
      var meta = v.meta || {};
      main.appendChild(h('h2', { text: 'Metadata' }));
      var mk = Object.keys(meta);
      main.appendChild(mk.length ? table(['key', 'value'], mk.map(function (k) {
        return row([h('code', { text: k }), meta[k]], { 'class': 'meta-row' }); }), { id: 'meta' })
        : h('p', { 'class': 'note', text: 'none' }));
      // Signed releases (GET .../signatures, docs/http-api.md): a section only when there
      // are some; a server without signatures (404 no_route) shows nothing.
      var sigs = h('div', { id: 'signatures' });
      main.appendChild(sigs);
      api(base + '/signatures').then(function (d) {
        var list = (d && d.signatures) || [];
        if (!live(s) || !list.length) return;
        sigs.appendChild(h('h2', { text: 'Signatures (' + d.valid + ' valid, ' + d.invalid + ' invalid)' }));
        sigs.appendChild(table(['key', 'statement', 'signed', 'valid'], list.map(function (g) {
          var when = typeof g.signed_at === 'number' ? new Date(g.signed_at * 1000).toISOString().replace(/\.000Z$/, 'Z') : '';
          return row([h('code', { text: (g.key_id || '').slice(0, 16), title: g.public_key || '' }), g.statement || '',
                      when, g.valid ? 'yes' : 'NO: ' + (g.problem || 'invalid')], { 'class': 'sig-row' });
        })));
      }, function (e) {
        if (live(s) && !(e.status === 404 && e.code === 'no_route'))
          sigs.appendChild(h('p', { 'class': 'note', text: 'signatures: ' + e.message }));
      });
      main.appendChild(h('h2', { text: 'Files' }));
      var fileRows = [];
      (listing.files || []).forEach(function (f) {
        var url = modelUrl(m) + '/versions/' + seg(v.id) + '/files/' + pathSegs(f.path);
        var a = link(url, 'download', { 'class': 'download', 'data-path': f.path });
        a.addEventListener('click', function (ev) { download(ev, url, f.path); });
        fileRows.push(row([h('code', { text: f.path }), f.format || '', num(bytes(f.size)),
                           num(String(f.tensor_count)), num(String(f.chunks)), h('code', { text: f.id.slice(0, 12) }), a],
                          { 'class': 'file-row' }));
      });
      main.appendChild(table(['path', 'format', '#size', '#tensors', '#chunks', 'id', ''], fileRows, { id: 'files' }));
      var tensorRows = [];
      (listing.files || []).forEach(function (f) {
        (f.tensors || []).forEach(function (t) {
          tensorRows.push(row([h('code', { text: t.name }), t.dtype, '[' + (t.shape || []).join(', ') + ']',
                               num(bytes(t.length)), h('code', { text: f.path })], { 'class': 'tensor-row' }));
        });
      });
      main.appendChild(h('h2', { text: 'Tensors (' + tensorRows.length + ')' }));
      main.appendChild(tensorRows.length ? table(['name', 'dtype', 'shape', '#bytes', 'file'], tensorRows, { id: 'tensors' })
        : h('p', { 'class': 'note', text: 'no tensor tables in these files' }));
      ready();
    }, fail(s));
  }

  /* A download through the API with the token (a plain link would carry none); kept in
   * memory until saved, so very large files are better pulled with the CLI. */
  function download(ev, url, path) {
    if (!token()) return;   // anonymous reads: the link itself works
    ev.preventDefault();
    fetch(url, { headers: { 'Authorization': 'Bearer ' + token() } }).then(function (res) {
      if (!res.ok) throw new Error('download failed: ' + res.status);
      return res.blob();
    }).then(function (b) {
      var a = h('a', { href: URL.createObjectURL(b), download: path.split('/').pop() });
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    }, function (e) { alert(e.message); });
  }

  /* A diff between any two refs of the model (or model@ref for another model's). */
  function pageDiff(m, q) {
    var s = setPage('diff ' + m, modelCrumbs(m).concat([['diff']]));
    main.appendChild(h('h1', { text: m + ': diff' }));
    main.appendChild(modelTabs(m, 'diff'));
    var from = h('input', { type: 'text', id: 'diff-from', value: q.from || '', placeholder: 'from (v1, a branch, a tag, an id)' });
    var to = h('input', { type: 'text', id: 'diff-to', value: q.to || '', placeholder: 'to' });
    var go = h('button', { type: 'submit', text: 'Compare' });
    var form = h('form', { 'class': 'toolbar', id: 'diff-form' }, 'from ', from, ' to ', to, go);
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      location.hash = hashModel(m) + '/diff?from=' + seg(from.value.trim()) + '&to=' + seg(to.value.trim());
    });
    main.appendChild(form);
    if (!q.from || !q.to) { ready(); return; }
    api(modelUrl(m) + '/diff?tensors=1&from=' + seg(q.from) + '&to=' + seg(q.to)).then(function (d) {
      if (!live(s)) return;
      function vname(v) { return v.redacted ? '(hidden)' : v.model + '@v' + v.version; }
      main.appendChild(h('p', {}, link(hashVersion(d.from.model || m, d.from.id), vname(d.from)), ' → ',
                         link(hashVersion(d.to.model || m, d.to.id), vname(d.to)), ' · ',
                         (d.files || []).length + ' files changed, ' + d.unchanged_files + ' unchanged; new bytes ' +
                         bytes(d.new_bytes) + ', shared ' + bytes(d.shared_bytes)));
      var rows = [];
      (d.files || []).forEach(function (f) {
        rows.push(row([h('span', { 'class': 'st-' + f.status, text: f.status }),
                       h('code', { text: (f.old_path ? f.old_path + ' → ' : '') + f.path }),
                       num(f.old_size == null ? '' : bytes(f.old_size)), num(f.new_size == null ? '' : bytes(f.new_size)),
                       num(f.size_change == null ? '' : signedBytes(f.size_change)),
                       num(f.new_bytes == null ? '' : bytes(f.new_bytes)),
                       f.tensors ? f.tensors.changed + ' changed, ' + f.tensors.added + ' added, ' +
                         f.tensors.removed + ' removed of ' + f.tensors.total : ''],
                      { 'class': 'diff-file', 'data-status': f.status }));
        ((f.tensors && f.tensors.list) || []).forEach(function (t) {
          var shape = function (d0, s0) { return d0 ? d0 + ' [' + (s0 || []).join(', ') + ']' : ''; };
          rows.push(row([h('span', { 'class': 'st-' + t.status, text: t.status }), h('code', { text: t.name }),
                         shape(t.old_dtype, t.old_shape), shape(t.new_dtype, t.new_shape), '', '', ''],
                        { 'class': 'diff-tensor', 'data-status': t.status }));
        });
      });
      main.appendChild(rows.length ? table(['status', 'path / tensor', '#old', '#new', '#change', '#new bytes', 'tensors'],
                                           rows, { id: 'diff' })
        : h('p', { 'class': 'note', id: 'diff-none', text: 'The two versions have the same files.' }));
      if ((d.meta || []).length) {
        main.appendChild(h('h2', { text: 'Metadata' }));
        main.appendChild(table(['key', 'old', 'new'], d.meta.map(function (x) {
          return row([h('code', { text: x.key }), x.old == null ? '–' : x.old, x.new == null ? '–' : x.new],
                     { 'class': 'diff-meta' }); }), { id: 'diff-meta' }));
      }
      ready();
    }, fail(s));
  }

  function targetsTable(d, m) {
    return table(['version', '#weight', '#share', 'endpoint', 'id'], (d.targets || []).map(function (t) {
      return row([link(hashVersion(m, t.id), 'v' + t.version), num(String(t.weight)), num(t.share.toFixed(1) + ' %'),
                  h('code', { text: t.endpoint || '' }), h('code', { text: t.id.slice(0, 12) })], { 'class': 'target-row' });
    }));
  }

  function pageDeployments(m) {
    var s = setPage('deployments ' + m, modelCrumbs(m).concat([['deployments']]));
    main.appendChild(h('h1', { text: m + ': deployments' }));
    main.appendChild(modelTabs(m, 'deployments'));
    api(modelUrl(m) + '/deployments').then(function (r) {
      if (!live(s)) return;
      var list = r.deployments || [];
      if (!list.length) main.appendChild(h('p', { 'class': 'note', text: 'Not deployed anywhere.' }));
      list.forEach(function (d) {
        main.appendChild(h('h2', {}, link(hashModel(m) + '/deploy/' + seg(d.env), d.env, { 'class': 'env-link' }),
                           ' · revision ' + d.revision));
        main.appendChild(targetsTable(d, m));
      });
      ready();
    }, fail(s));
  }

  /* One environment: targets, the revision history, live counters, rollback. */
  function pageEnv(m, env) {
    var s = setPage(env + ' of ' + m, modelCrumbs(m).concat([['deployments', hashModel(m) + '/deploy'], [env]]));
    var base = modelUrl(m) + '/deployments/' + seg(env);
    main.appendChild(h('h1', { text: m + ': ' + env }));
    main.appendChild(modelTabs(m, ''));
    Promise.all([api(base), api(base + '/history'), api('/v1/whoami?model=' + seg(m))]).then(function (r) {
      if (!live(s)) return;
      var d = r[0], hist = r[1].revisions || [], who = r[2];
      main.appendChild(h('p', { id: 'env-state', text: 'revision ' + d.revision + ' (' + d.action + ' by ' + d.author +
        (d.created_at ? ' at ' + d.created_at : '') + (d.reason ? ': ' + d.reason : '') + ')' }));
      main.appendChild(targetsTable(d, m));
      if (who.may && who.may.write && hist.length > 1) {
        var btn = h('button', { 'class': 'danger', id: 'rollback', type: 'button', text: 'Roll back to the previous revision' });
        btn.addEventListener('click', function () {
          if (!confirm('Roll ' + env + ' of ' + m + ' back one revision?')) return;
          btn.disabled = true;
          api(base + '/rollback', { method: 'POST', body: { reason: 'rollback from the web page' } })
            .then(function () { if (live(s)) pageEnv(m, env); }, function (e) { btn.disabled = false; alert(e.message); });
        });
        main.appendChild(h('p', {}, btn));
      }
      main.appendChild(h('h2', { text: 'Live traffic (this server\'s counters since it started)' }));
      var charts = h('div', { 'class': 'charts', id: 'charts' });
      var legend = h('div', { 'class': 'legend', id: 'legend' });
      main.appendChild(legend);
      main.appendChild(charts);
      liveCharts(s, base, charts, legend);
      main.appendChild(h('h2', { text: 'Revisions' }));
      main.appendChild(table(['#revision', 'action', 'by', 'when', 'targets', 'reason'], hist.map(function (x) {
        return row([num(String(x.revision)), x.action + (x.from_revision ? ' (to ' + x.from_revision + ')' : ''),
                    x.author, x.created_at || '',
                    (x.targets || []).map(function (t) { return 'v' + t.version + ' ×' + t.weight; }).join(', '),
                    x.reason || ''], { 'class': 'revision-row' });
      }), { id: 'revisions' }));
      ready();
    }, fail(s));
  }

  /* Polls .../status: rates from the differences between two polls, latency as served. */
  function liveCharts(s, base, charts, legend) {
    var hist = {}, prev = null, names = [];
    var N = 60;
    function poll() {
      api(base + '/status').then(function (st) {
        if (!live(s)) return;
        var now = performance.now(), dt = prev ? (now - prev.t) / 1000 : 0;
        (st.versions || []).forEach(function (v) {
          var k = 'v' + v.version;
          if (!hist[k]) { hist[k] = { rate: [], err: [], p50: [], p99: [] }; names.push(k); }
          var p = prev && prev.v[k], x = hist[k];
          var dr = p ? v.requests - p.requests : null, de = p ? v.errors - p.errors : null;
          x.rate.push(dr == null || dt <= 0 ? null : dr / dt);
          x.err.push(dr == null ? null : dr > 0 ? 100 * de / dr : 0);
          x.p50.push(v.requests ? v.p50_ms : null);
          x.p99.push(v.requests ? v.p99_ms : null);
          ['rate', 'err', 'p50', 'p99'].forEach(function (f) { if (x[f].length > N) x[f].shift(); });
        });
        var cur = { t: now, v: {} };
        (st.versions || []).forEach(function (v) { cur.v['v' + v.version] = v; });
        prev = cur;
        draw(st);
      }, function () {});
    }
    function series(f) {
      return names.map(function (k, i) { return { name: k, points: hist[k][f], color: MvmsCharts.colors[i % MvmsCharts.colors.length] }; });
    }
    function draw(st) {
      charts.textContent = '';
      legend.textContent = '';
      names.forEach(function (k, i) {
        var sw = h('span', { 'class': 'swatch' });
        sw.style.background = MvmsCharts.colors[i % MvmsCharts.colors.length];
        var tot = (st.versions || []).filter(function (v) { return 'v' + v.version === k; })[0];
        legend.appendChild(h('span', {}, sw, k + (tot ? ' (' + tot.requests + ' requests, ' + tot.errors + ' errors)' : '')));
      });
      [['requests per second', 'rate', 'req/s', 0], ['error rate', 'err', '%', 1],
       ['latency p50', 'p50', 'ms', 0], ['latency p99', 'p99', 'ms', 0]].forEach(function (c) {
        charts.appendChild(h('div', { 'class': 'chart', 'data-chart': c[1] }, h('h3', { text: c[0] }),
                             MvmsCharts.line(series(c[1]), { unit: c[2], min_max: c[3] })));
      });
      charts.setAttribute('data-polls', String((Number(charts.getAttribute('data-polls')) || 0) + 1));
    }
    poll();
    timers.push(setInterval(poll, POLL_MS));
  }

  /* ---- routing: #/, #/m/MODEL, #/m/MODEL/v/REF, #/m/MODEL/diff?from=&to=,
   *      #/m/MODEL/deploy, #/m/MODEL/deploy/ENV; #/m/MODEL?page=N ---- */

  function route() {
    main.removeAttribute('data-ready');
    var hash = location.hash.replace(/^#/, '') || '/';
    var qpos = hash.indexOf('?'), q = {};
    if (qpos >= 0) {
      hash.slice(qpos + 1).split('&').forEach(function (kv) {
        var i = kv.indexOf('=');
        if (i > 0) {
          try { q[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1)); } catch (e) { /* ignored */ }
        }
      });
      hash = hash.slice(0, qpos);
    }
    var p = hash.split('/').slice(1).map(function (x) {
      try { return decodeURIComponent(x); } catch (e) { return x; }
    });
    // Without a token on a server that needs one, say so rather than collect 401s.
    if (me && me.scope === 'none') {
      setPage('token needed', []);
      main.appendChild(h('p', { 'class': 'note', id: 'need-token',
        text: 'This server needs a token: paste one (mvms-store token create --scope read) in the box above. ' +
              'It is kept in this tab only (sessionStorage) and sent as Authorization: Bearer.' }));
      return;
    }
    if (!p[0]) return pageModels();
    if (p[0] === 'm' && p[1]) {
      if (p.length === 2) return pageGraph(p[1], q);
      if (p[2] === 'v' && p[3]) return pageVersion(p[1], p[3]);
      if (p[2] === 'diff') return pageDiff(p[1], q);
      if (p[2] === 'deploy' && p.length === 3) return pageDeployments(p[1]);
      if (p[2] === 'deploy' && p[3]) return pageEnv(p[1], p[3]);
    }
    setPage('not found', [['models', '#/']]);
    main.appendChild(h('p', { 'class': 'error', id: 'error', text: 'No such page: #' + hash }));
  }

  window.addEventListener('hashchange', route);
  function restart(e) {
    // A stale token (revoked, another server): forget it and start without one.
    if (token() && e.status === 401) {
      sessionStorage.removeItem(KEY);
      loadMe().then(route, function (e2) { showError(e2); });
      return;
    }
    showError(e);
  }
  if (token()) {
    // With a token the page needs no answer of whoami to start: both at once.
    route();
    loadMe().catch(restart);
  } else {
    loadMe().then(route, restart);
  }
})();
