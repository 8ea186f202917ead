/*
 * The version graph of one model as SVG: rows newest first, branches as lanes, merges as
 * extra edges, versions of other models (fine-tune bases) as purple nodes that link to
 * their own model, and branch, tag and deployment names as labels. Layout only here; the
 * page (app.js) fetches the lineage pages and hands over what it has.
 */
'use strict';
var MvmsGraph = (function () {
  var NS = 'http://www.w3.org/2000/svg';
  var ROW = 26, LANE = 16, X0 = 14;
  var LANE_COLORS = ['#1f6feb', '#2e7d32', '#e36209', '#c62828', '#00838f', '#6d4c41',
                     '#ad1457', '#5c6bc0'];

  function el(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }
  function text(x, y, s, cls) {
    var t = el('text', { x: x, y: y });
    if (cls) t.setAttribute('class', cls);
    t.textContent = s;
    return t;
  }

  /*
   * Rows and lanes. Versions of @model come newest first by number (a child always has a
   * higher number than a parent of its own model); a version of another model (or a stub
   * the token may not see) sits right below its oldest child here, and its own ancestry is
   * left out: it is a link to that model, not part of this one's graph.
   */
  function layout(model, nodes, edges) {
    var byId = {}, parents = {}, rows = [], kept = [];
    nodes.forEach(function (n) { byId[n.id] = n; });
    edges.forEach(function (e) {
      var c = byId[e.child];
      if (!c || c.model !== model) return;
      (parents[e.child] = parents[e.child] || []).push(e);
    });
    Object.keys(parents).forEach(function (k) {
      parents[k].sort(function (a, b) { return a.position - b.position; });
    });
    var own = nodes.filter(function (n) { return n.model === model; });
    own.sort(function (a, b) { return b.version - a.version; });
    var below = {};      // own id -> other-model parents placed right after it
    var lastChild = {};  // other id -> its oldest own child
    own.forEach(function (n) {
      (parents[n.id] || []).forEach(function (e) {
        var p = byId[e.parent];
        if (p && p.model !== model) lastChild[p.id] = n.id;
      });
    });
    Object.keys(lastChild).forEach(function (pid) {
      (below[lastChild[pid]] = below[lastChild[pid]] || []).push(byId[pid]);
    });
    own.forEach(function (n) {
      rows.push(n);
      (below[n.id] || []).forEach(function (p) { rows.push(p); });
    });
    var rowOf = {};
    rows.forEach(function (n, i) { rowOf[n.id] = i; });
    // Lanes: each lane waits for one version; a version takes the first lane waiting for
    // it (others waiting for it end there: a merge of lines), its first parent keeps the
    // lane, further parents get a lane of their own.
    var lanes = [], laneOf = {}, width = 0;
    function freeLane(not) {
      for (var i = 0; i < lanes.length; i++) if (lanes[i] == null && i !== not) return i;
      lanes.push(null);
      return lanes.length - 1;
    }
    rows.forEach(function (n) {
      var idx = lanes.indexOf(n.id);
      if (idx < 0) idx = freeLane(-1);
      for (var j = 0; j < lanes.length; j++) if (lanes[j] === n.id) lanes[j] = null;
      laneOf[n.id] = idx;
      var ps = (parents[n.id] || []).filter(function (e) { return rowOf[e.parent] != null; });
      if (ps.length) lanes[idx] = ps[0].parent;
      for (var k = 1; k < ps.length; k++) {
        if (lanes.indexOf(ps[k].parent) >= 0) continue;
        lanes[freeLane(idx)] = ps[k].parent;
      }
      while (lanes.length && lanes[lanes.length - 1] == null) lanes.pop();
      width = Math.max(width, lanes.length, idx + 1);
    });
    edges.forEach(function (e) {
      if (rowOf[e.child] != null && byId[e.child].model === model) kept.push(e);
    });
    return { rows: rows, rowOf: rowOf, laneOf: laneOf, lanes: Math.max(width, 1), edges: kept,
             byId: byId };
  }

  function short(id) { return id ? id.slice(0, 12) : ''; }

  /*
   * An <svg class="graph">: one g.node per version (data-id, data-version), one path.edge
   * per parent edge drawn, a dashed stub under a version whose older history is not loaded
   * yet. @o: {model, nodes, edges, labels: {id: [{kind, name}]}, href(node), more(node)}.
   */
  function render(o) {
    var L = layout(o.model, o.nodes, o.edges);
    var xText = X0 + L.lanes * LANE + 8;
    var h = Math.max(1, L.rows.length) * ROW + 12, w = xText + 900;
    var svg = el('svg', { 'class': 'graph', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h });
    var gEdges = el('g', { 'class': 'edges' }), gRows = el('g', { 'class': 'rows' });
    svg.appendChild(gRows);
    svg.appendChild(gEdges);
    function cx(id) { return X0 + L.laneOf[id] * LANE; }
    function cy(id) { return 14 + L.rowOf[id] * ROW; }
    L.edges.forEach(function (e) {
      var c = e.child, p = e.parent;
      if (L.rowOf[p] == null) return;
      var x1 = cx(c), y1 = cy(c), x2 = cx(p), y2 = cy(p);
      var d = 'M' + x1 + ',' + y1;
      if (x1 === x2) d += ' L' + x2 + ',' + y2;
      else d += ' C' + x1 + ',' + (y1 + ROW * 0.6) + ' ' + x2 + ',' + (y1 + ROW * 0.4) + ' ' +
        x2 + ',' + (y1 + ROW) + ' L' + x2 + ',' + y2;
      var other = L.byId[p].model !== o.model;
      var cls = 'edge' + (e.position > 0 ? ' merge' : '') + (other ? ' cross' : '');
      var path = el('path', { 'class': cls, d: d, 'data-child': c, 'data-parent': p });
      if (!other) path.setAttribute('stroke', LANE_COLORS[L.laneOf[e.position > 0 ? c : p] % LANE_COLORS.length]);
      gEdges.appendChild(path);
    });
    L.rows.forEach(function (n, i) {
      var y = 14 + i * ROW, x = cx(n.id), own = n.model === o.model;
      var row = el('g', { 'class': 'row' });
      row.appendChild(el('rect', { 'class': 'rowbg', x: 0, y: y - ROW / 2, width: w, height: ROW }));
      var g = el('g', { 'class': 'node' + (own ? '' : ' other') + (n.deleted_at ? ' deleted' : ''),
                        'data-id': n.id, 'data-version': n.version == null ? '' : n.version });
      var a = el('a', { href: o.href(n) });
      var c = el('circle', { cx: x, cy: y, r: 5 });
      if (own && !n.deleted_at) c.setAttribute('fill', LANE_COLORS[L.laneOf[n.id] % LANE_COLORS.length]);
      a.appendChild(c);
      var name = n.redacted ? '(a version you may not see)' :
        own ? 'v' + n.version : n.model + '@v' + n.version;
      var tName = text(xText, y + 4, name);
      tName.setAttribute('font-weight', '600');
      a.appendChild(tName);
      g.appendChild(a);
      var tx = xText + Math.max(40, 8.5 * name.length + 10);
      g.appendChild(text(tx, y + 4, short(n.id), 'muted mono'));
      tx += 100;
      (o.labels[n.id] || []).forEach(function (lb) {
        var s = lb.name, lw = 10 + 7 * s.length;
        g.appendChild(el('rect', { 'class': 'label ' + lb.kind, x: tx, y: y - 8, width: lw,
                                   height: 16, rx: 7 }));
        var lt = text(tx + 5, y + 4, s, 'label-text ' + lb.kind);
        g.appendChild(lt);
        tx += lw + 4;
      });
      if (!n.redacted) {
        var msg = (n.message || '').split('\n')[0];
        if (msg.length > 100) msg = msg.slice(0, 99) + '…';
        g.appendChild(text(tx + 4, y + 4, msg, 'msg-text'));
        g.appendChild(text(tx + 4 + Math.max(60, 7 * msg.length) + 10, y + 4,
                           n.created_at || '', 'muted'));
      }
      if (own && o.more(n)) {
        g.appendChild(el('path', { 'class': 'stub', d: 'M' + x + ',' + (y + 6) + ' L' + x + ',' + (y + ROW - 4) }));
      }
      var tip = el('title');
      tip.textContent = name + ' ' + n.id + (n.message ? '\n' + n.message : '');
      g.appendChild(tip);
      row.appendChild(g);
      gRows.appendChild(row);
    });
    return { svg: svg, nodes: L.rows.length, edges: L.edges.filter(function (e) {
      return L.rowOf[e.parent] != null; }).length };
  }

  return { layout: layout, render: render };
})();
