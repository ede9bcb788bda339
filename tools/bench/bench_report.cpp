// The HTML report of `zcnet bench`: one self-contained file (inline CSS, JS and SVG, no network
// fetch). The bench JSON is embedded as data; the script draws each chart as SVG, one
// <g class="series" data-series=NAME> per series, and sets data-charts-drawn on <body> when done
// (the Chromium test counts these).
#include <string>

#include "bench/bench.hpp"

namespace zcnet::cli {

namespace {

constexpr const char* kHead = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>zcnet bench</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1280px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.chart{display:inline-block;margin:8px 16px 8px 0;vertical-align:top}
.chart svg{background:#fcfcfc;border:1px solid #ddd}
.note{background:#fff8e0;border:1px solid #e8d9a0;padding:8px 12px}
.muted{color:#777}
</style></head>
<body>
<h1>zcnet bench</h1>
<p class="note" id="note"></p>
<p id="summary" class="muted"></p>
<h2>Charts</h2>
<div id="charts"></div>
<h2>Every cell (median [min-max] over runs; x = ratio to the baseline at the same point)</h2>
<div id="table"></div>
<h2>Machine</h2>
<pre id="machine"></pre>
<script type="application/json" id="zcnet-data">)HTML";

constexpr const char* kTail = R"HTML(</script>
<script>
(function () {
'use strict';
const R = JSON.parse(document.getElementById('zcnet-data').textContent);
const NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#1f77b4','#d62728','#2ca02c','#ff7f0e','#9467bd','#8c564b','#e377c2','#17becf','#7f7f7f','#bcbd22'];
const ok = R.cells.filter(c => c.ok_samples > 0);
const allStrategies = [...new Set(R.cells.map(c => c.strategy))];
const color = s => COLORS[allStrategies.indexOf(s) % COLORS.length];
const center = R.cells.find(c => c.axes.includes('strategy')) || R.cells[0];
let drawn = 0;

function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function text(parent, x, y, s, attrs) {
  const t = el('text', Object.assign({x: x, y: y, 'font-size': 11}, attrs || {}), parent);
  t.textContent = s;
  return t;
}
function human(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(a >= 1e10 ? 0 : 1) + 'G';
  if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
  if (a >= 1e3) return (v / 1e3).toFixed(a >= 1e4 ? 0 : 1) + 'k';
  if (a >= 1 || a === 0) return v.toFixed(a >= 10 || a === 0 ? 0 : 1);
  return v.toPrecision(2);
}
function sizeName(b) {
  if (b >= 1 << 30 && b % (1 << 30) === 0) return (b / (1 << 30)) + ' GiB';
  if (b >= 1 << 20 && b % (1 << 20) === 0) return (b / (1 << 20)) + ' MiB';
  if (b >= 1024 && b % 1024 === 0) return (b / 1024) + ' KiB';
  return b + ' B';
}

// A frame with a y axis from 0 (or log) to the max; returns mapping helpers.
function frame(id, title, yLabel, maxY, log, minY) {
  const W = 580, H = 300, L = 64, Rt = 130, T = 30, B = 44;
  const box = document.createElement('div');
  box.className = 'chart';
  document.getElementById('charts').appendChild(box);
  const svg = el('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'data-chart': id}, box);
  text(svg, L, 18, title, {'font-size': 13, 'font-weight': 'bold'});
  text(svg, 12, T + (H - T - B) / 2, yLabel, {transform: 'rotate(-90 12 ' + (T + (H - T - B) / 2) + ')', 'text-anchor': 'middle'});
  const lo = log ? Math.log10(Math.max(minY || 1, 1e-9)) : 0;
  const hi = log ? Math.log10(Math.max(maxY, 1e-9)) + 0.05 : (maxY > 0 ? maxY * 1.1 : 1);
  const y = v => {
    const t = log ? (Math.log10(Math.max(v, 1e-9)) - lo) / Math.max(hi - lo, 1e-9) : v / hi;
    return H - B - Math.max(0, Math.min(1, t)) * (H - T - B);
  };
  el('line', {x1: L, y1: H - B, x2: W - Rt, y2: H - B, stroke: '#333'}, svg);
  el('line', {x1: L, y1: T, x2: L, y2: H - B, stroke: '#333'}, svg);
  for (let i = 0; i <= 4; ++i) {
    const v = log ? Math.pow(10, lo + (hi - lo) * i / 4) : hi * i / 4;
    const yy = y(v);
    el('line', {x1: L - 4, y1: yy, x2: W - Rt, y2: yy, stroke: '#eee'}, svg);
    text(svg, L - 6, yy + 4, human(v), {'text-anchor': 'end'});
  }
  return {svg: svg, y: y, L: L, R: W - Rt, T: T, B: H - B, W: W};
}
function legend(f, i, name) {
  const g = el('g', {}, f.svg);
  el('rect', {x: f.R + 10, y: f.T + i * 16, width: 10, height: 10, fill: color(name)}, g);
  text(g, f.R + 24, f.T + i * 16 + 9, name);
}
function finish(f, nSeries) {
  f.svg.setAttribute('data-series-count', nSeries);
  if (nSeries > 0) ++drawn;
}

// Lines: one series per strategy, x = the distinct values of `xKey` among `cells`.
function lineChart(id, title, cells, xKey, xName, yKey, yLabel) {
  const xs = [...new Set(cells.map(c => c[xKey]))].sort((a, b) => a - b);
  const series = [...new Set(cells.map(c => c.strategy))];
  const maxY = Math.max(0, ...cells.map(c => c.median[yKey] || 0));
  const f = frame(id, title, yLabel, maxY, false);
  const xpos = i => xs.length === 1 ? (f.L + f.R) / 2 : f.L + 30 + i * (f.R - f.L - 60) / (xs.length - 1);
  xs.forEach((x, i) => text(f.svg, xpos(i), f.B + 16, xName(x), {'text-anchor': 'middle'}));
  series.forEach((s, si) => {
    const g = el('g', {class: 'series', 'data-series': s}, f.svg);
    const pts = xs.map((x, i) => {
      const c = cells.find(c => c.strategy === s && c[xKey] === x);
      return c && c.median[yKey] !== undefined ? [xpos(i), f.y(c.median[yKey]), c] : null;
    }).filter(p => p);
    if (pts.length > 1)
      el('polyline', {points: pts.map(p => p[0] + ',' + p[1]).join(' '), fill: 'none', stroke: color(s), 'stroke-width': 2}, g);
    pts.forEach(p => {
      const dot = el('circle', {cx: p[0], cy: p[1], r: 3.5, fill: color(s)}, g);
      const t = el('title', {}, dot);
      t.textContent = s + ' ' + xName(p[2][xKey]) + ': ' + human(p[2].median[yKey]) +
        ' [' + human(p[2].min[yKey]) + '-' + human(p[2].max[yKey]) + ']';
    });
    legend(f, si, s);
  });
  finish(f, series.length);
}

// Grouped bars: categories (strategies) x series (keys), each bar with its min-max whisker.
function barChart(id, title, cells, keys, yLabel, log) {
  const cats = cells.map(c => c.strategy);
  const vals = cells.flatMap(c => keys.map(k => c.max[k[0]] || c.median[k[0]] || 0));
  const pos = vals.filter(v => v > 0);
  const f = frame(id, title, yLabel, Math.max(0, ...vals), log, pos.length ? Math.min(...pos) / 2 : 1);
  const gw = (f.R - f.L - 10) / Math.max(cats.length, 1), bw = Math.max(2, (gw - 6) / keys.length);
  cats.forEach((cat, ci) => {
    const x0 = f.L + 6 + ci * gw;
    text(f.svg, x0 + gw / 2, f.B + 14, cat, {'text-anchor': 'end', transform: 'rotate(-30 ' + (x0 + gw / 2) + ' ' + (f.B + 14) + ')', 'font-size': 9});
  });
  const shades = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];
  keys.forEach((k, ki) => {
    const g = el('g', {class: 'series', 'data-series': k[1]}, f.svg);
    cells.forEach((c, ci) => {
      const v = c.median[k[0]];
      if (v === undefined) return;
      const x = f.L + 6 + ci * gw + ki * bw, y = f.y(v);
      const r = el('rect', {x: x, y: y, width: bw - 1, height: Math.max(0, f.B - y), fill: shades[ki % 4]}, g);
      el('title', {}, r).textContent = c.strategy + ' ' + k[1] + ': ' + human(v) +
        ' [' + human(c.min[k[0]]) + '-' + human(c.max[k[0]]) + ']';
      el('line', {x1: x + bw / 2, x2: x + bw / 2, y1: f.y(c.min[k[0]]), y2: f.y(c.max[k[0]]), stroke: '#000'}, g);
    });
    const lg = el('g', {}, f.svg);
    el('rect', {x: f.R + 10, y: f.T + ki * 16, width: 10, height: 10, fill: shades[ki % 4]}, lg);
    text(lg, f.R + 24, f.T + ki * 16 + 9, k[1]);
  });
  finish(f, keys.length);
}

const samePoint = (c, d) => c.size === d.size && c.concurrency === d.concurrency && c.backend === d.backend;
const atCenter = ok.filter(c => samePoint(c, center));
const bySize = ok.filter(c => c.concurrency === center.concurrency && c.backend === center.backend);
const byConc = ok.filter(c => c.size === center.size && c.backend === center.backend);
const where = sizeName(center.size) + ', ' + center.concurrency + ' conn., ' + center.backend;

lineChart('throughput-vs-concurrency', 'Throughput vs concurrency (' + sizeName(center.size) + ', ' + center.backend + ')',
          byConc, 'concurrency', x => String(x), 'throughput_bytes_per_s', 'bytes/s');
lineChart('throughput-vs-size', 'Throughput vs payload size (' + center.concurrency + ' conn., ' + center.backend + ')',
          bySize, 'size', sizeName, 'throughput_bytes_per_s', 'bytes/s');
barChart('cpu-per-gib', 'CPU seconds per GiB, sender vs receiver (' + where + ')', atCenter,
         [['server_cpu_s_per_gib', 'sender (server)'], ['client_cpu_s_per_gib', 'receiver (client)']], 'CPU s / GiB', false);
barChart('ctx-per-gib', 'Context switches per GiB (' + where + ')', atCenter,
         [['server_ctx_per_gib', 'sender (server)'], ['client_ctx_per_gib', 'receiver (client)']], 'switches / GiB', false);
barChart('latency', 'Latency per transfer (' + where + ', log scale)', atCenter,
         [['latency_p50_ns', 'p50'], ['latency_p99_ns', 'p99'], ['latency_p999_ns', 'p99.9']], 'ns', true);

// The table of every cell.
const cols = [['throughput_bytes_per_s', 'bytes/s'], ['transfers_per_s', 'transfers/s'],
  ['latency_p50_ns', 'p50 ns'], ['latency_p99_ns', 'p99 ns'], ['latency_p999_ns', 'p99.9 ns'],
  ['server_cpu_s_per_gib', 'server CPU s/GiB'], ['server_cpu_utilisation', 'server util'],
  ['server_ctx_per_gib', 'server ctx/GiB'], ['client_cpu_s_per_gib', 'client CPU s/GiB'],
  ['client_ctx_per_gib', 'client ctx/GiB'], ['syscalls_per_transfer', 'syscalls/transfer'],
  ['bytes_copied_user', 'B copied in user space'], ['bytes_not_copied', 'B not copied'],
  ['zc_completions', 'zc completions'], ['zc_copied', 'zc copied']];
const tbl = document.createElement('table');
let head = '<tr><th class="l">strategy</th><th>size</th><th>conc.</th><th class="l">backend</th><th class="l">ran</th>';
cols.forEach(c => head += '<th>' + c[1] + '</th>');
tbl.innerHTML = head + '</tr>';
R.cells.forEach(c => {
  const tr = document.createElement('tr');
  let h = '<td class="l">' + c.strategy + '</td><td>' + sizeName(c.size) + '</td><td>' + c.concurrency +
    '</td><td class="l">' + c.backend + '</td><td class="l">' + Object.keys(c.strategy_ran).join(',') + '</td>';
  if (!c.ok_samples) h += '<td class="l" colspan="' + cols.length + '">failed: ' + String(c.error || '').replace(/</g, '&lt;') + '</td>';
  else cols.forEach(k => {
    const m = c.median[k[0]];
    const ratio = c.ratio_to_baseline[k[0]];
    h += '<td>' + (m === undefined ? '-' : human(m) + ' <span class="muted">[' + human(c.min[k[0]]) + '-' + human(c.max[k[0]]) + ']</span>' +
      (ratio !== undefined ? '<br>x' + ratio.toFixed(2) : '')) + '</td>';
  });
  tr.innerHTML = h;
  tbl.appendChild(tr);
});
document.getElementById('table').appendChild(tbl);
document.getElementById('note').textContent = R.notes + ' Baseline: ' + R.baseline + '.';
document.getElementById('summary').textContent = 'zcnet ' + R.zcnet_version + ', ' + R.cells.length + ' cells x ' +
  R.options.runs + ' runs of ' + R.options.duration_s + ' s, ' + R.seconds.toFixed(1) + ' s in all.';
document.getElementById('machine').textContent = JSON.stringify(R.machine, null, 1);
document.body.setAttribute('data-charts-drawn', drawn);
})();
</script>
</body></html>
)HTML";

}  // namespace

std::string render_html(const nlohmann::json& report) {
  // ensure_ascii, and '<' escaped as \u003c: the data cannot close its <script> element.
  std::string data = report.dump(-1, ' ', true);
  std::string safe;
  safe.reserve(data.size());
  for (char ch : data) {
    if (ch == '<')
      safe += "\\u003c";
    else
      safe += ch;
  }
  return std::string(kHead) + safe + kTail;
}

}  // namespace zcnet::cli
