/*
 * Small SVG line charts for the deployments page (request rate, error rate, latency per
 * version), drawn with DOM calls only. No library, no canvas: the CSP allows nothing else
 * and the charts are a few dozen points each.
 */
'use strict';
var MvmsCharts = (function () {
  var NS = 'http://www.w3.org/2000/svg';
  var COLORS = ['#1f6feb', '#e36209', '#2e7d32', '#8250df', '#c62828', '#00838f', '#6d4c41'];

  function el(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }

  function fmt(v) {
    if (!isFinite(v)) return '–';
    if (v >= 100) return v.toFixed(0);
    if (v >= 10) return v.toFixed(1);
    return v.toFixed(2);
  }

  /*
   * series: [{name, points: [number|null, ...]}], all of the same length (one per poll).
   * Returns an <svg class="spark"> with one polyline per series, the scale's top on the
   * left and the last value of each series in its title.
   */
  function line(series, opts) {
    var w = opts.width || 260, h = opts.height || 80, pad = 22;
    var svg = el('svg', { 'class': 'spark', width: w, height: h, viewBox: '0 0 ' + w + ' ' + h,
                          role: 'img' });
    var max = opts.min_max || 0, n = 0;
    series.forEach(function (s) {
      n = Math.max(n, s.points.length);
      s.points.forEach(function (v) { if (v != null && v > max) max = v; });
    });
    if (max <= 0) max = 1;
    svg.appendChild(el('line', { 'class': 'axis', x1: pad, y1: h - 12, x2: w, y2: h - 12 }));
    svg.appendChild(el('line', { 'class': 'axis', x1: pad, y1: 4, x2: pad, y2: h - 12 }));
    var top = el('text', { x: 0, y: 12 });
    top.textContent = fmt(max);
    svg.appendChild(top);
    var zero = el('text', { x: 0, y: h - 12 });
    zero.textContent = '0';
    svg.appendChild(zero);
    var unit = el('text', { x: pad + 2, y: h - 1 });
    unit.textContent = opts.unit || '';
    svg.appendChild(unit);
    series.forEach(function (s, i) {
      var pts = [];
      s.points.forEach(function (v, k) {
        if (v == null) return;
        var x = pad + (n <= 1 ? 0 : (w - pad - 2) * k / (n - 1));
        var y = (h - 12) - (h - 18) * v / max;
        pts.push(x.toFixed(1) + ',' + y.toFixed(1));
      });
      var pl = el('polyline', { points: pts.join(' '), stroke: s.color || COLORS[i % COLORS.length],
                                'data-series': s.name });
      var t = el('title');
      var last = s.points.length ? s.points[s.points.length - 1] : null;
      t.textContent = s.name + ': ' + (last == null ? '–' : fmt(last)) + ' ' + (opts.unit || '');
      pl.appendChild(t);
      svg.appendChild(pl);
    });
    return svg;
  }

  return { line: line, colors: COLORS, fmt: fmt };
})();
