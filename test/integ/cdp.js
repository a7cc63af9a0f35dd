// SPDX-License-Identifier: Apache-2.0
// cdp.js - drive a running headless Chromium over the DevTools protocol,
// for the dashboard tests (node 20: run with --experimental-websocket).
//
//   node --experimental-websocket cdp.js USER_DATA_DIR URL COND SECONDS [RESULT]
//
// Reads the browser's port from USER_DATA_DIR/DevToolsActivePort (start it
// with --remote-debugging-port=0), opens URL in its first page, evaluates
// the JavaScript expression COND every 200 ms until it is truthy, then
// prints JSON.stringify of RESULT (default: COND) and exits 0. Exit 1
// when SECONDS pass first (the last value printed), 2 on a protocol
// error. Every wait is bounded.
'use strict';
const fs = require('fs');
const [udd, url, cond, secs, result] = process.argv.slice(2);
const deadline = Date.now() + Number(secs || 20) * 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const die = (code, msg) => { console.error('cdp: ' + msg); process.exit(code); };

async function port() {
  while (Date.now() < deadline) {
    try {
      const p = fs.readFileSync(udd + '/DevToolsActivePort', 'utf8').split('\n')[0];
      if (p) return p;
    } catch (e) { /* not yet */ }
    await sleep(100);
  }
  die(1, 'no DevToolsActivePort in ' + udd);
}

async function page(p) {
  while (Date.now() < deadline) {
    try {
      const list = await (await fetch(`http://127.0.0.1:${p}/json/list`)).json();
      const pg = list.find((t) => t.type === 'page');
      if (pg) return pg.webSocketDebuggerUrl;
    } catch (e) { /* not yet */ }
    await sleep(100);
  }
  die(1, 'no page target');
}

(async () => {
  setTimeout(() => die(1, 'timed out'), Math.max(1000, deadline - Date.now() + 2000)).unref();
  const ws = new WebSocket(await page(await port()));
  let id = 0;
  const waiting = new Map();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.id && waiting.has(msg.id)) { waiting.get(msg.id)(msg); waiting.delete(msg.id); }
  };
  await new Promise((res, rej) => { ws.onopen = res; ws.onerror = () => rej(new Error('websocket')); });
  const send = (method, params) => new Promise((res) => {
    const n = ++id;
    waiting.set(n, res);
    ws.send(JSON.stringify({ id: n, method, params }));
  });
  const evaluate = async (expr) => {
    const r = await send('Runtime.evaluate', { expression: expr, returnByValue: true });
    if (r.error) die(2, JSON.stringify(r.error));
    return r.result.exceptionDetails ? undefined : r.result.result.value;
  };
  const nav = await send('Page.navigate', { url });
  if (nav.error || nav.result.errorText) die(2, 'navigate: ' + JSON.stringify(nav.error || nav.result.errorText));
  let v;
  while (Date.now() < deadline) {
    v = await evaluate(cond);
    if (v) {
      console.log(JSON.stringify(result ? await evaluate(result) : v));
      ws.close();
      process.exit(0);
    }
    await sleep(200);
  }
  console.log(JSON.stringify(result ? await evaluate(result) : v));
  process.exit(1);
})().catch((e) => die(2, e.message));
