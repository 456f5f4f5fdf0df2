// The console's only script and style sheet, served from the plugin (no CDN: the console works
// with no network access). The script never writes HTML: answers go in with textContent.
#include "console/internal.h"

namespace danvan::console {

const char kConsoleJs[] = R"JS('use strict';
(function () {
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : '';
  }
  function setPath(obj, path, value) {
    var parts = path.split('.');
    for (var i = 0; i < parts.length - 1; i++) {
      if (typeof obj[parts[i]] !== 'object' || obj[parts[i]] === null) obj[parts[i]] = {};
      obj = obj[parts[i]];
    }
    obj[parts[parts.length - 1]] = value;
  }
  function show(out, ok, text) {
    if (!out) return;
    out.textContent = text;
    out.className = 'result ' + (ok ? 'ok' : 'error');
  }
  function errorText(doc) {
    if (doc && doc.errors) {
      return doc.errors.map(function (e) { return (e.path ? e.path + ': ' : '') + e.message; }).join('\n');
    }
    return 'Lỗi không xác định';
  }
  function post(url, body, contentType) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': contentType, 'X-CSRF-Token': csrf()}, body: body
    }).then(function (r) {
      return r.text().then(function (t) {
        var doc = null;
        try { doc = JSON.parse(t); } catch (e) { doc = null; }
        return {ok: r.ok, doc: doc};
      });
    });
  }
  // Progress bars of long operations ([data-job], drawn by the server from the `progress` op):
  // refreshed every half second while one of them runs.
  var stateLabels = {running: 'đang chạy', done: 'xong', failed: 'lỗi', cancelled: 'đã dừng', idle: 'chưa chạy'};
  var polling = false;
  function drawJob(el, j) {
    var total = Math.max(j.total, 1), bar = el.querySelector('progress');
    bar.max = total;
    bar.value = j.state === 'done' ? total : Math.min(j.done, total);
    el.querySelector('.progress-text').textContent =
        j.done + '/' + j.total + ' (' + j.percent + '%) — ' + (stateLabels[j.state] || j.state);
    el.dataset.state = j.state;
  }
  function pollProgress(keepGoingMs) {
    if (polling || !document.querySelector('[data-job]')) return;
    polling = true;
    var until = Date.now() + (keepGoingMs || 0);
    (function tick() {
      post('/api/query', JSON.stringify({op: 'progress'}), 'application/json').then(function (r) {
        var running = false, seen = {};
        if (r.ok && r.doc && r.doc.jobs) {
          r.doc.jobs.forEach(function (j) {
            if (seen[j.job]) return;  // the most recent run of each job comes first
            seen[j.job] = true;
            var el = document.querySelector('[data-job="' + j.job + '"]');
            if (el) drawJob(el, j);
            if (el && j.state === 'running') running = true;
          });
        }
        if (running || Date.now() < until) setTimeout(tick, 500); else polling = false;
      }, function () { polling = false; });
    })();
  }
  document.addEventListener('DOMContentLoaded', function () {
    if (document.querySelector('[data-job][data-state="running"]')) pollProgress(0);
    var report = document.getElementById('report-form');
    // A download keeps the page: follow the report's progress while it is made.
    if (report) report.addEventListener('submit', function () { pollProgress(3000); });
  });
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    var out = form.querySelector('output.result');
    if (form.dataset.op) {
      ev.preventDefault();
      var req = {op: form.dataset.op};
      var fields = form.querySelectorAll('input[name], select[name], textarea[name]');
      for (var i = 0; i < fields.length; i++) {
        var f = fields[i], v = f.value, type = f.dataset.type;
        if (f.type === 'checkbox') v = f.checked;
        else if (type === 'int') v = parseInt(v, 10);
        else if (type === 'bool') v = (v === 'true');
        else if (type === 'json') {
          try { v = JSON.parse(v); } catch (e) { show(out, false, f.name + ': JSON không hợp lệ'); return; }
        } else if (v === '') continue;
        setPath(req, f.name, v);
      }
      post('/api/query', JSON.stringify(req), 'application/json').then(function (r) {
        if (!r.ok) { show(out, false, errorText(r.doc)); return; }
        show(out, true, 'Đã xong.');
        if (form.dataset.progress) pollProgress(3000);
        else if (form.dataset.reload) setTimeout(function () { window.location.reload(); }, 300);
      }, function () { show(out, false, 'Không kết nối được máy chủ'); });
    } else if (form.dataset.endpoint) {
      ev.preventDefault();
      var text = form.querySelector('textarea').value;
      post(form.dataset.endpoint, text, 'application/json').then(function (r) {
        show(out, r.ok, r.ok ? 'Cấu hình hợp lệ.' : errorText(r.doc));
      }, function () { show(out, false, 'Không kết nối được máy chủ'); });
    }
  });
})();
)JS";

const char kConsoleCss[] = R"CSS(body { font-family: "Segoe UI", "Noto Sans", Arial, sans-serif; margin: 0; color: #1b1b1b; }
header { background: #12395f; color: #fff; padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; }
header nav a { color: #fff; margin-right: .8rem; text-decoration: none; }
header nav a[aria-current] { text-decoration: underline; font-weight: bold; }
header form.logout { margin-left: auto; }
main { padding: 1rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #c8d0d8; padding: .25rem .5rem; text-align: left; vertical-align: top; }
table.kv th { background: #eef2f6; }
table.grid th { background: #dfe7ef; }
.error { color: #9b1111; background: #fde8e8; padding: .4rem; white-space: pre-wrap; }
.result.ok { color: #14622a; }
.result.error { display: block; }
form.op { display: inline-block; margin: .2rem; }
form.filter label { margin-right: 1rem; }
body.login main { max-width: 24rem; margin: 4rem auto; }
body.login label { display: block; margin: .5rem 0; }
pre { background: #f4f6f8; padding: .5rem; overflow: auto; }
svg.chart { display: block; margin: 1rem 0; }
div.job { margin: .3rem 0; }
div.job .job-name { display: inline-block; min-width: 14rem; }
div.job progress { width: 20rem; vertical-align: middle; }
div.job[data-state="failed"] .progress-text { color: #9b1111; }
)CSS";

}  // namespace danvan::console
