/* SPDX-License-Identifier: Apache-2.0 */
/*
 * app.js - the conduit dashboard: plain JavaScript, no framework, no
 * network but this server's /api/ (the public API, proxied). Pages are
 * #fragments, so the page works under any path prefix (the Kubernetes
 * API server's service proxy, `conduit dashboard`):
 *   #/                         namespaces
 *   #/deployments              every deployment
 *   #/namespaces/NS            the deployments of NS
 *   #/deployments/NS/NAME      one deployment: its pods and edges
 *   #/tap?resource=&namespace=&name=&method=&path=&start=1
 * Data is written with textContent only: names from the cluster are
 * never parsed as HTML.
 */
'use strict';
(function () {
  var REFRESH_MS = 5000;
  var API_TIMEOUT_MS = 8000;
  var main = document.getElementById('main');
  var banner = document.getElementById('banner');
  var winSel = document.getElementById('window');
  var timer = null;
  var gen = 0; /* bumped per page: answers for an old page are dropped */
  var tap = null; /* the running tap: {ctl, rows, count} */

  /* --- helpers ------------------------------------------------------------ */

  function el(tag, attrs) {
    var e = document.createElement(tag);
    var k, i;
    for (k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    }
    for (i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  function isNum(v) { return typeof v === 'number' && isFinite(v); }
  function fmtPct(v) { return isNum(v) ? (v * 100).toFixed(2) + '%' : '–'; }
  function fmtRps(v) { return isNum(v) ? v.toFixed(1) : '–'; }
  function fmtMs(v) { return isNum(v) ? (v < 10 ? v.toFixed(1) : v.toFixed(0)) + ' ms' : '–'; }
  function fmtUs(v) { return isNum(v) ? (v < 10000 ? (v / 1000).toFixed(2) : (v / 1000).toFixed(0)) + ' ms' : '–'; }
  function srClass(v) {
    if (!isNum(v)) return '';
    return v >= 0.99 ? 'sr-ok' : v >= 0.9 ? 'sr-warn' : 'sr-bad';
  }
  function enc(s) { return encodeURIComponent(s); }
  function win() { return winSel.value; }

  function setBanner(msg) {
    if (msg) {
      banner.textContent = 'The public API is unreachable: ' + msg +
        '. The figures below may be stale; retrying every ' + REFRESH_MS / 1000 + ' s.';
      banner.hidden = false;
    } else if (!banner.hidden) {
      banner.hidden = true;
      banner.textContent = '';
    }
  }

  function ApiError(msg, status) { this.message = msg; this.status = status; }

  /* api - GET api/v1/<path> as JSON; the banner says when the API is down */
  function api(path) {
    var ctl = new AbortController();
    var t = setTimeout(function () { ctl.abort(); }, API_TIMEOUT_MS);
    return fetch('api/v1/' + path, { signal: ctl.signal, headers: { Accept: 'application/json' } })
      .then(function (res) {
        return res.text().then(function (text) {
          var body = null;
          clearTimeout(t);
          try { body = JSON.parse(text); } catch (e) { body = null; }
          var why = body && typeof body.error === 'string' ? body.error : 'HTTP ' + res.status;
          if (res.status === 502 || res.status === 503 || res.status === 504) {
            setBanner(why);
            throw new ApiError(why, res.status);
          }
          if (body === null && res.ok) {
            setBanner('its answer is not JSON');
            throw new ApiError('not JSON', res.status);
          }
          setBanner(null);
          if (!res.ok) throw new ApiError(why, res.status);
          return body;
        });
      }, function (e) {
        clearTimeout(t);
        var why = e && e.name === 'AbortError' ? 'no answer in ' + API_TIMEOUT_MS / 1000 + ' s'
          : 'the dashboard server does not answer';
        setBanner(why);
        throw new ApiError(why, 0);
      });
  }

  function table(headers, rows, emptyText) {
    if (!rows.length) return el('div', { class: 'card empty', text: emptyText });
    var tr = el('tr');
    headers.forEach(function (h) {
      tr.appendChild(el('th', { scope: 'col', class: h.cls || null, text: h.label }));
    });
    var tbody = el('tbody');
    rows.forEach(function (r) { tbody.appendChild(r); });
    return el('div', { class: 'card' }, el('table', null, el('thead', null, tr), tbody));
  }

  function td(text, cls) { return el('td', { class: cls || null, text: text }); }

  function statCells(r, tr) {
    var sr = td(fmtPct(r.success_rate), 'num sr ' + srClass(r.success_rate));
    tr.appendChild(sr);
    tr.appendChild(td(fmtRps(r.rps), 'num rps'));
    tr.appendChild(td(fmtMs(r.latency_ms_p50), 'num hide-sm'));
    tr.appendChild(td(fmtMs(r.latency_ms_p95), 'num hide-sm'));
    tr.appendChild(td(fmtMs(r.latency_ms_p99), 'num'));
  }

  var STAT_HEADERS = [
    { label: 'Success', cls: 'num' }, { label: 'RPS', cls: 'num' },
    { label: 'P50', cls: 'num hide-sm' }, { label: 'P95', cls: 'num hide-sm' },
    { label: 'P99', cls: 'num' }
  ];

  function render(title, nodes) {
    main.textContent = '';
    main.appendChild(el('h1', { text: title }));
    nodes.forEach(function (n) { if (n) main.appendChild(n); });
  }

  function errorBox(e) {
    return el('p', { class: 'card empty', role: 'status', text: 'Cannot show this page: ' + e.message });
  }

  /* --- pages ------------------------------------------------------------------ */

  function overview(g) {
    return api('stat?resource=namespace&window=' + enc(win())).then(function (d) {
      if (g !== gen) return;
      var rows = d.rows.map(function (r) {
        var tr = el('tr', { 'data-namespace': r.name });
        tr.appendChild(el('td', null, el('a', { href: '#/namespaces/' + enc(r.name), text: r.name })));
        tr.appendChild(td(r.meshed_pods + '/' + r.total_pods, 'num meshed'));
        statCells(r, tr);
        return tr;
      });
      render('Namespaces', [
        el('p', { class: 'muted', text: 'Inbound traffic of the meshed pods, over the last ' + d.window + '.' }),
        table([{ label: 'Namespace' }, { label: 'Meshed pods', cls: 'num' }].concat(STAT_HEADERS),
          rows, 'No pods yet.')
      ]);
    });
  }

  function deployments(g, ns) {
    var q = 'stat?resource=deployment&window=' + enc(win()) + (ns ? '&namespace=' + enc(ns) : '');
    return api(q).then(function (d) {
      if (g !== gen) return;
      var rows = d.rows.map(function (r) {
        var tr = el('tr', { 'data-namespace': r.namespace, 'data-name': r.name, class: 'deploy' });
        if (!ns) tr.appendChild(td(r.namespace));
        tr.appendChild(el('td', { class: 'name' }, el('a', {
          href: '#/deployments/' + enc(r.namespace) + '/' + enc(r.name), text: r.name })));
        tr.appendChild(td(r.meshed_pods + '/' + r.total_pods, 'num meshed'));
        statCells(r, tr);
        tr.appendChild(el('td', { class: 'hide-sm' }, el('a', {
          href: '#/tap?resource=deployment&namespace=' + enc(r.namespace) + '&name=' + enc(r.name),
          'aria-label': 'Tap ' + r.name, text: 'tap' })));
        return tr;
      });
      var heads = (ns ? [] : [{ label: 'Namespace' }]).concat(
        [{ label: 'Deployment' }, { label: 'Meshed', cls: 'num' }], STAT_HEADERS,
        [{ label: '', cls: 'hide-sm' }]);
      render(ns ? 'Deployments in ' + ns : 'Deployments', [
        el('p', { class: 'muted' }, 'Inbound traffic, over the last ' + d.window +
          '. Success rate, requests a second and latency percentiles, as ',
          el('code', { text: 'conduit stat deploy' }), ' shows them.'),
        table(heads, rows, ns ? 'No deployments in ' + ns + '.' : 'No deployments yet.')
      ]);
    });
  }

  function tile(label, value, cls) {
    return el('div', { class: 'tile' }, el('b', { class: cls || null, text: value }), el('span', { text: label }));
  }

  function deployment(g, ns, name) {
    var w = enc(win());
    return Promise.all([
      api('stat?resource=deployment&namespace=' + enc(ns) + '&name=' + enc(name) + '&window=' + w),
      api('pods?namespace=' + enc(ns)),
      api('stat?resource=pod&namespace=' + enc(ns) + '&window=' + w),
      api('edges?resource=deployment&namespace=' + enc(ns) + '&window=' + w)
    ]).then(function (a) {
      if (g !== gen) return;
      var r = a[0].rows[0] || {};
      var podStat = {};
      a[2].rows.forEach(function (p) { podStat[p.name] = p; });
      var pods = a[1].pods.filter(function (p) { return p.owner === name; }).map(function (p) {
        var s = podStat[p.name] || {};
        var tr = el('tr', { 'data-name': p.name, class: 'pod' });
        tr.appendChild(td(p.name));
        tr.appendChild(td(p.status));
        tr.appendChild(td(p.ready ? 'yes' : 'no'));
        tr.appendChild(td(p.meshed ? 'yes' : 'no'));
        tr.appendChild(td(p.ip || '–', 'hide-sm'));
        statCells(s, tr);
        return tr;
      });
      var edges = a[3].edges.filter(function (e) {
        return (e.src === name && e.src_namespace === ns) || (e.dst === name && e.dst_namespace === ns);
      }).map(function (e) {
        var out = e.src === name && e.src_namespace === ns;
        var tr = el('tr', { class: 'edge' });
        tr.appendChild(td(out ? 'outbound' : 'inbound'));
        tr.appendChild(td((e.src_namespace ? e.src_namespace + '/' : '') + e.src));
        tr.appendChild(td((e.dst_namespace ? e.dst_namespace + '/' : '') + e.dst));
        tr.appendChild(td(isNum(e.requests) ? String(Math.round(e.requests)) : '–', 'num'));
        tr.appendChild(td(e.secured ? 'yes' : 'no'));
        return tr;
      });
      render('Deployment ' + ns + '/' + name, [
        el('div', { class: 'tiles', id: 'deploy-tiles' },
          tile('success rate', fmtPct(r.success_rate), srClass(r.success_rate)),
          tile('requests / s', fmtRps(r.rps)),
          tile('p50', fmtMs(r.latency_ms_p50)), tile('p95', fmtMs(r.latency_ms_p95)),
          tile('p99', fmtMs(r.latency_ms_p99)),
          tile('meshed pods', (r.meshed_pods || 0) + '/' + (r.total_pods || 0))),
        el('p', null, el('a', { href: '#/tap?resource=deployment&namespace=' + enc(ns) + '&name=' + enc(name) + '&start=1',
          text: 'Tap its live requests' })),
        el('h2', { text: 'Pods' }),
        table([{ label: 'Pod' }, { label: 'Status' }, { label: 'Ready' }, { label: 'Meshed' },
          { label: 'IP', cls: 'hide-sm' }].concat(STAT_HEADERS), pods, 'No pods.'),
        el('h2', { text: 'Edges (last ' + a[3].window + ')' }),
        table([{ label: 'Direction' }, { label: 'From' }, { label: 'To' },
          { label: 'Requests', cls: 'num' }, { label: 'mTLS' }], edges, 'No traffic to or from it in this window.')
      ]);
    });
  }

  /* --- tap ---------------------------------------------------------------------- */

  function stopTap(why) {
    if (!tap) return;
    tap.ctl.abort();
    tap.done(why || 'Stopped.');
    tap = null;
  }

  function tapPage(params) {
    var f = {};
    ['resource', 'namespace', 'name', 'method', 'path', 'max_rps', 'rows'].forEach(function (k) {
      f[k] = params.get(k) || '';
    });
    var input = function (label, key, value, extra) {
      var i = el('input', Object.assign({ name: key, value: value, autocomplete: 'off' }, extra || {}));
      return el('label', null, label, i);
    };
    var res = el('select', { name: 'resource' });
    ['deployment', 'pod', 'namespace'].forEach(function (r) {
      var o = el('option', { value: r, text: r });
      if ((f.resource || 'deployment') === r) o.selected = true;
      res.appendChild(o);
    });
    var start = el('button', { type: 'submit', id: 'tap-start', text: 'Start' });
    var stop = el('button', { type: 'button', class: 'secondary', id: 'tap-stop', text: 'Stop', disabled: '' });
    var form = el('form', { class: 'tap', 'aria-label': 'Tap filters' },
      el('label', null, 'Resource', res),
      input('Namespace', 'namespace', f.namespace || 'default'),
      input('Name', 'name', f.name, { placeholder: 'every one' }),
      input('Method', 'method', f.method, { placeholder: 'any' }),
      input('Path prefix', 'path', f.path, { placeholder: 'any' }),
      input('Max rps', 'max_rps', f.max_rps || '100', { type: 'number', min: '1', max: '100000' }),
      input('Max rows', 'rows', f.rows || '100', { type: 'number', min: '10', max: '5000' }),
      start, stop);
    var status = el('p', { class: 'status', id: 'tap-status', role: 'status', text: 'Not started.' });
    var tbody = el('tbody', { id: 'tap-rows' });
    var heads = el('tr');
    ['Time', 'Dir', 'Pod', 'From', 'To', 'Method', 'Path', 'Status', 'Latency', 'gRPC'].forEach(function (h) {
      heads.appendChild(el('th', { scope: 'col', text: h }));
    });
    render('Tap', [el('p', { class: 'muted', text: 'Live requests seen by the proxies of a resource, newest first.' }),
      form, status, el('div', { class: 'card' }, el('table', { id: 'tap-table' }, el('thead', null, heads), tbody))]);

    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      stopTap();
      var fd = new FormData(form);
      var q = ['resource', 'namespace', 'name', 'method', 'path', 'max_rps'].map(function (k) {
        return k + '=' + enc(String(fd.get(k) || '').trim());
      }).join('&');
      var maxRows = Math.max(10, Math.min(5000, parseInt(fd.get('rows'), 10) || 100));
      var byId = new Map();
      var count = 0;
      var ctl = new AbortController();
      var me = {
        ctl: ctl,
        done: function (why) {
          status.textContent = why + ' ' + count + ' events.';
          start.disabled = false;
          stop.disabled = true;
        }
      };
      tap = me;
      tbody.textContent = '';
      start.disabled = true;
      stop.disabled = false;
      status.textContent = 'Connecting…';

      var onEvent = function (e) {
        count++;
        if (e.type === 'error') { status.textContent = 'A pod\'s tap ended: ' + e.pod + ': ' + e.error; return; }
        var row = byId.get(e.id);
        if (!row) {
          if (e.type !== 'req') return;
          row = el('tr', { class: 'tap-row', 'data-id': e.id });
          var when = new Date();
          [when.toLocaleTimeString(), e.proxy === 'in' ? 'in' : 'out', e.pod, e.src, e.dst,
            e.method || '', (e.authority || '') + (e.path || '')].forEach(function (v, i) {
            var c = td(v, i === 6 ? 'path' : null);
            if (i === 6) c.title = v;
            row.appendChild(c);
          });
          row.appendChild(td('…', 'st'));
          row.appendChild(td('', 'num lat'));
          row.appendChild(td('', 'grpc'));
          byId.set(e.id, row);
          tbody.insertBefore(row, tbody.firstChild);
          while (tbody.childNodes.length > maxRows) {
            var old = tbody.lastChild;
            byId.delete(old.getAttribute('data-id'));
            tbody.removeChild(old);
          }
        } else if (e.type === 'rsp') {
          var st = row.querySelector('.st');
          st.textContent = String(e.status);
          st.className = 'st ' + (e.status >= 500 ? 'sr-bad' : 'sr-ok');
          row.querySelector('.lat').textContent = fmtUs(e.latency_us);
        } else if (e.type === 'end') {
          if (isNum(e.grpc_status)) {
            var gs = row.querySelector('.grpc');
            gs.textContent = String(e.grpc_status);
            if (e.grpc_status !== 0) gs.className = 'grpc sr-bad';
          }
          if (isNum(e.duration_us)) row.querySelector('.lat').textContent = fmtUs(e.duration_us);
          byId.delete(e.id);
        }
        if (tap === me) status.textContent = 'Streaming… ' + count + ' events.';
      };

      fetch('api/v1/tap?' + q, { signal: ctl.signal }).then(function (res) {
        if (!res.ok) {
          return res.text().then(function (t) {
            var m = 'HTTP ' + res.status;
            try { m = JSON.parse(t).error || m; } catch (x) { /* not JSON */ }
            if (res.status >= 502) setBanner(m);
            throw new ApiError(m, res.status);
          });
        }
        setBanner(null);
        status.textContent = 'Streaming… 0 events.';
        var reader = res.body.getReader();
        var dec = new TextDecoder();
        var buf = '';
        var pump = function () {
          return reader.read().then(function (chunk) {
            if (chunk.done) { if (tap === me) { tap = null; me.done('The stream ended.'); } return; }
            buf += dec.decode(chunk.value, { stream: true });
            var nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              var line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (!line) continue;
              try { onEvent(JSON.parse(line)); } catch (x) { /* a line that is not an event */ }
            }
            if (buf.length > 1 << 20) buf = ''; /* no newline for 1 MiB: drop it */
            return pump();
          });
        };
        return pump();
      }).catch(function (e) {
        if (e && e.name === 'AbortError') return;
        if (tap === me) { tap = null; me.done('Tap failed: ' + e.message + '.'); }
      });
    });
    stop.addEventListener('click', function () { stopTap('Stopped.'); });
    if (params.get('start') === '1') form.requestSubmit ? form.requestSubmit() : start.click();
  }

  /* --- routing and refresh ---------------------------------------------------------- */

  function route() {
    var h = location.hash.replace(/^#/, '') || '/';
    var q = h.indexOf('?');
    var path = q >= 0 ? h.slice(0, q) : h;
    var params = new URLSearchParams(q >= 0 ? h.slice(q + 1) : '');
    var parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'tap') return { nav: 'tap', params: params };
    if (parts[0] === 'deployments' && parts.length === 3) {
      return { nav: 'deployments', load: function (g) { return deployment(g, parts[1], parts[2]); } };
    }
    if (parts[0] === 'deployments') return { nav: 'deployments', load: function (g) { return deployments(g, null); } };
    if (parts[0] === 'namespaces' && parts[1]) {
      return { nav: 'overview', load: function (g) { return deployments(g, parts[1]); } };
    }
    return { nav: 'overview', load: overview };
  }

  function version() {
    return api('version').then(function (v) {
      document.getElementById('server-version').textContent = v.version || '–';
    }, function () { /* the banner says it */ });
  }

  function refresh(g, first) {
    var r = route();
    if (!r.load) return;
    r.load(g).then(function () {
      if (g !== gen) return;
      document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    }, function (e) {
      if (g !== gen) return;
      if (first || e.status) render('Error', [errorBox(e)]);
    });
  }

  function show() {
    var r = route();
    var g = ++gen;
    stopTap();
    clearInterval(timer);
    timer = null;
    document.querySelectorAll('nav a').forEach(function (a) {
      if (a.getAttribute('data-nav') === r.nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    winSel.disabled = r.nav === 'tap';
    if (r.nav === 'tap') { tapPage(r.params); return; }
    refresh(g, true);
    timer = setInterval(function () { refresh(g, false); version(); }, REFRESH_MS);
  }

  try {
    var saved = localStorage.getItem('conduit.window');
    if (saved && winSel.querySelector('option[value="' + saved + '"]')) winSel.value = saved;
  } catch (e) { /* no storage: the default */ }
  winSel.addEventListener('change', function () {
    try { localStorage.setItem('conduit.window', winSel.value); } catch (e) { /* private mode */ }
    show();
  });
  window.addEventListener('hashchange', show);
  version();
  show();
})();
