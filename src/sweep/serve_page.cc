#include "sweep/serve_page.h"

#include "sweep/report_html.h"
#include "sweep/svg_chart.h"

namespace claimsweep {

namespace {

const char kScript[] = R"js(
(function () {
  'use strict';
  var nonce = document.querySelector('meta[name="sweep-nonce"]').getAttribute('content');
  var message = document.getElementById('message');
  var errors = document.getElementById('dash-errors');
  var OPS = ['stop', 'resume', 'retry', 'reset'];
  function record(msg) {
    errors.setAttribute('data-count', String(Number(errors.getAttribute('data-count')) + 1));
    var line = document.createElement('div');
    line.textContent = 'dashboard error: ' + msg;
    errors.appendChild(line);
  }
  window.addEventListener('error', function (e) { record(e.message); });
  // The printed URL holds the token; the cookie set from it carries on. Drop it from the address bar.
  if (window.location.search.indexOf('token=') >= 0) history.replaceState(null, '', '/');

  function sortRows(table, col, dir, numeric) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (r, i) {
      var cell = r.cells[col];
      var key = cell ? (cell.hasAttribute('data-v') ? cell.getAttribute('data-v') : cell.textContent) : '';
      if (numeric) key = key === '' ? NaN : Number(key);
      return { row: r, key: key, i: i };
    });
    rows.sort(function (a, b) {
      var an = numeric ? isNaN(a.key) : a.key === '', bn = numeric ? isNaN(b.key) : b.key === '';
      if (an || bn) return an === bn ? a.i - b.i : (an ? 1 : -1);
      var c = numeric ? a.key - b.key : String(a.key).localeCompare(String(b.key));
      return c !== 0 ? dir * c : a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
  }

  function control(sweep, op, indices) {
    if (indices.length === 0) { message.textContent = 'select trials first'; return; }
    var body = 'sweep=' + encodeURIComponent(sweep) + '&op=' + encodeURIComponent(op) +
               '&idx=' + encodeURIComponent(indices.join(' '));
    message.textContent = op + ' ' + indices.join(' ') + ' ...';
    fetch('/api/control', {
      method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Sweep-Nonce': nonce },
      body: body
    }).then(function (r) {
      return r.text().then(function (t) {
        message.setAttribute('data-exit', r.headers.get('X-Exit-Code') || String(r.status));
        message.textContent = t;
        var sec = document.querySelector('section.sweep[data-sweep="' + sweep + '"]');
        if (sec) poll(sec, true);
      });
    }).catch(function (e) { message.textContent = 'request failed: ' + e; });
  }

  function enhance(sec, state) {
    var table = sec.querySelector('table.sortable');
    if (!table) return;
    var heads = table.tHead.rows[0];
    var th = document.createElement('th');
    th.textContent = 'control';
    heads.insertBefore(th, heads.cells[0]);
    var rows = table.tBodies[0].rows;
    for (var i = 0; i < rows.length; i++) {
      var idx = rows[i].cells[0].getAttribute('data-v');
      var td = document.createElement('td');
      td.className = 'control';
      var box = document.createElement('input');
      box.type = 'checkbox';
      box.className = 'select';
      box.setAttribute('data-index', idx);
      box.checked = !!state.selected[idx];
      box.addEventListener('change', function (e) {
        state.selected[e.target.getAttribute('data-index')] = e.target.checked;
      });
      td.appendChild(box);
      OPS.forEach(function (op) {
        var b = document.createElement('button');
        b.type = 'button';
        b.textContent = op;
        b.setAttribute('data-op', op);
        b.setAttribute('data-index', idx);
        b.addEventListener('click', function (e) {
          control(sec.getAttribute('data-sweep'), op, [e.currentTarget.getAttribute('data-index')]);
        });
        td.appendChild(b);
      });
      rows[i].insertBefore(td, rows[i].cells[0]);
    }
    var cells = heads.cells;
    for (var c = 1; c < cells.length; c++) {
      (function (cell, col) {
        cell.classList.add('sortable-ready');
        cell.tabIndex = 0;
        var go = function () {
          var dir = state.sortCol === col && state.sortDir === 1 ? -1 : 1;
          state.sortCol = col;
          state.sortDir = dir;
          apply();
        };
        cell.addEventListener('click', go);
        cell.addEventListener('keydown', function (e) { if (e.key === 'Enter') go(); });
      })(cells[c], c);
    }
    function apply() {
      if (state.sortCol < 1 || state.sortCol >= cells.length) return;
      for (var k = 0; k < cells.length; k++) cells[k].removeAttribute('aria-sort');
      var h = cells[state.sortCol];
      h.setAttribute('aria-sort', state.sortDir === 1 ? 'ascending' : 'descending');
      sortRows(table, state.sortCol, state.sortDir, h.getAttribute('data-type') === 'num');
    }
    apply();
  }

  var states = {};
  function poll(sec, once) {
    var k = sec.getAttribute('data-sweep');
    var st = states[k] || (states[k] = { etag: '', selected: {}, sortCol: -1, sortDir: 1, timer: 0 });
    var headers = st.etag ? { 'If-None-Match': st.etag } : {};
    fetch('/api/view?sweep=' + encodeURIComponent(k), { credentials: 'same-origin', cache: 'no-store', headers: headers })
      .then(function (r) {
        if (r.status === 304) return null;
        if (!r.ok) throw new Error('HTTP ' + r.status);
        st.etag = r.headers.get('ETag') || '';
        return r.text();
      })
      .then(function (html) {
        sec.setAttribute('data-connected', '1');
        if (html === null) return;
        var live = sec.querySelector('.live');
        var open = {};
        var ds = live.querySelectorAll('details');
        for (var i = 0; i < ds.length; i++) open[i] = ds[i].open;
        live.innerHTML = html;
        ds = live.querySelectorAll('details');
        for (var j = 0; j < ds.length; j++) if (j in open) ds[j].open = open[j];
        enhance(sec, st);
        sec.setAttribute('data-version', st.etag);
      })
      .catch(function (e) { sec.setAttribute('data-connected', '0'); })
      .then(function () {
        if (once) return;
        st.timer = setTimeout(function () { poll(sec, false); }, 1000);
      });
  }

  var sections = document.querySelectorAll('section.sweep');
  for (var s = 0; s < sections.length; s++) {
    (function (sec) {
      var bar = sec.querySelector('.selection');
      OPS.forEach(function (op) {
        var b = document.createElement('button');
        b.type = 'button';
        b.textContent = op + ' selected';
        b.setAttribute('data-op', op);
        b.addEventListener('click', function () {
          var st = states[sec.getAttribute('data-sweep')] || { selected: {} };
          var idx = Object.keys(st.selected).filter(function (i) { return st.selected[i]; });
          control(sec.getAttribute('data-sweep'), op, idx);
        });
        bar.appendChild(b);
      });
      poll(sec, false);
    })(sections[s]);
  }
  document.body.setAttribute('data-ready', '1');
})();
)js";

const char kDashStyle[] = R"css(
.live { min-height: 4em; overflow-anchor: none; }
#message:empty { display: none; }
#message { white-space: pre-wrap; font-family: monospace; background: #f4f4f4; padding: .4em; min-height: 1.2em; }
td.control { white-space: nowrap; }
td.control button, .selection button { font-size: 80%; margin: 0 1px; }
.progress { margin: .2em 0; font-family: monospace; }
.progress progress { width: 16em; vertical-align: middle; }
section.sweep[data-connected="0"] .live { opacity: .5; }
)css";

}  // namespace

std::string ServePageHtml(const std::vector<std::string>& names,
                          const std::vector<std::string>& dirs, const std::string& nonce) {
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<meta name=\"sweep-nonce\" content=\"" +
      HtmlEscape(nonce) +
      "\">\n<link rel=\"icon\" href=\"data:,\">\n"
      "<link rel=\"stylesheet\" href=\"/app.css\">\n"
      "<title>claimsweep dashboard</title>\n"
      "<script src=\"/app.js\" defer></script></head>\n<body>\n"
      "<div id=\"dash-errors\" data-count=\"0\"></div>\n"
      "<p id=\"message\" aria-live=\"polite\"></p>\n";
  for (size_t k = 0; k < dirs.size(); ++k) {
    h += "<section class=\"sweep\" data-sweep=\"" + std::to_string(k) + "\"><h1>Sweep " +
         HtmlEscape(k < names.size() ? names[k] : "") +
         "</h1>\n<p class=\"meta\">Directory <code>" + HtmlEscape(dirs[k]) +
         "</code> &middot; live: <code>sweep serve</code></p>\n"
         "<p class=\"selection\">Selected trials: </p>\n"
         "<div class=\"live\"><p class=\"note\">loading...</p></div></section>\n";
  }
  return h + "</body></html>\n";
}

const char* ServeScript() { return kScript; }

std::string ServeStyle() { return ReportStyle() + kDashStyle; }

}  // namespace claimsweep
