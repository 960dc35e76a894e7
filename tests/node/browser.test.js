// MQTT.js in a real browser: its browser bundle (node_modules/mqtt/dist/
// mqtt.min.js) in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), against the mqlite binary's WebSocket listeners, over
// ws:// and over wss://, with MQTT 3.1.1 and 5.0. Beside it an MQTT.js
// client in Node over plain TCP: messages go browser -> browser, Node ->
// browser and browser -> Node.
//
// - The binary is $MQLITE_BIN (default target/release/mqlite from the
//   repository root), started with a TOML config of four listeners on
//   port 0 (plain TCP, ws, wss, and a wss one with an untrusted
//   certificate); the ports come from its "mqlite: listening on ADDR (ws)"
//   lines.
// - Certificates are made here with the openssl command (a CA and a server
//   certificate for 127.0.0.1 and localhost) in a temporary directory.
// - Chromium trusts that CA for real: it is added with certutil (Debian's
//   libnss3-tools) to the NSS database in a temporary $HOME, which
//   Chromium on Linux reads; no --ignore-certificate-errors, and Playwright's
//   ignoreHTTPSErrors stays false. A second wss:// listener, whose
//   certificate comes from a CA that is not added, must be refused.
// - The page comes from a static HTTP server on 127.0.0.1 in this process
//   (the page and the bundle; nothing from the network).
// - Chromium is $MQLITE_CHROMIUM (default /usr/bin/chromium). Without it,
//   or without certutil, the tests fail, unless MQLITE_SKIP_EXTERNAL=1.
//
// Every wait is bounded (TIMEOUT, or the launch and navigation timeouts);
// the broker, the browser and the server are stopped whatever happens.

import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const BIN = path.resolve(ROOT, process.env.MQLITE_BIN || 'target/release/mqlite');
const CHROMIUM = process.env.MQLITE_CHROMIUM || '/usr/bin/chromium';
const BUNDLE = path.join(HERE, 'node_modules', 'mqtt', 'dist', 'mqtt.min.js');
const TIMEOUT = 5000;
// Starting Chromium on a loaded 2-core machine can take a while.
const LAUNCH_TIMEOUT = 60000;

function withTimeout(promise, what, ms = TIMEOUT) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function which(command) {
  return (process.env.PATH || '')
    .split(path.delimiter)
    .some((dir) => dir && fs.existsSync(path.join(dir, command)));
}

const missing = [];
if (!fs.existsSync(CHROMIUM)) missing.push(`${CHROMIUM} (Debian package chromium)`);
if (!which('certutil')) missing.push('certutil (Debian package libnss3-tools)');
if (!which('openssl')) missing.push('openssl');
const skip =
  missing.length > 0 && process.env.MQLITE_SKIP_EXTERNAL === '1'
    ? `not found: ${missing.join(', ')}; MQLITE_SKIP_EXTERNAL=1`
    : false;

function run(command, args) {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30000 });
}

// A CA and a server certificate it signed, for 127.0.0.1 and localhost.
function makePki(dir, name) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const file = (suffix) => path.join(dir, `${name}-${suffix}`);
  run('openssl', [
    'req', '-x509', ...ec, '-days', '2', '-subj', `/CN=mqlite browser test CA ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', file('ca.key'), '-out', file('ca.pem'),
  ]);
  fs.writeFileSync(
    file('server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' +
      'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  run('openssl', [
    'req', '-new', ...ec, '-subj', '/CN=localhost',
    '-keyout', file('server.key'), '-out', file('server.csr'),
  ]);
  run('openssl', [
    'x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-set_serial', '2', '-days', '2', '-extfile', file('server.ext'), '-out', file('server.pem'),
  ]);
  return { ca: file('ca.pem'), cert: file('server.pem'), key: file('server.key') };
}

async function startBroker(dir, trusted, untrusted) {
  const config = path.join(dir, 'mqlite.toml');
  const toml = (s) => JSON.stringify(s);
  fs.writeFileSync(
    config,
    [
      'port = 0',
      '[[listener]]', 'port = 0', 'protocol = "websockets"',
      '[[listener]]', 'port = 0', 'protocol = "websockets"',
      `certfile = ${toml(trusted.cert)}`, `keyfile = ${toml(trusted.key)}`,
      '[[listener]]', 'port = 0', 'protocol = "websockets"',
      `certfile = ${toml(untrusted.cert)}`, `keyfile = ${toml(untrusted.key)}`,
      '',
    ].join('\n'),
  );
  const child = spawn(BIN, ['-c', config, '--no-persist'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const broker = { child, stderr: '' };
  const ports = await withTimeout(
    new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`mqlite exited (${code}): ${broker.stderr}`)));
      child.stderr.on('data', (chunk) => {
        broker.stderr += chunk;
        const lines = [...broker.stderr.matchAll(/^mqlite: listening on 127\.0\.0\.1:(\d+)( \((\w+)\))?$/gm)];
        if (lines.length === 4) {
          const [tcp, ws, wss, wssUntrusted] = lines;
          assert.equal(tcp[3], undefined);
          assert.deepEqual([ws[3], wss[3], wssUntrusted[3]], ['ws', 'wss', 'wss']);
          resolve([tcp, ws, wss, wssUntrusted].map((line) => Number(line[1])));
        }
      });
    }),
    'mqlite start',
  );
  [broker.tcp, broker.ws, broker.wss, broker.wssUntrusted] = ports;
  return broker;
}

async function stopBroker(broker) {
  const { child } = broker;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    try {
      await withTimeout(exited, 'mqlite stop');
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }
  assert.ok(!broker.stderr.includes('panicked'), broker.stderr);
}

// The page: the bundle, and mqliteTest, whose methods the tests call with
// page.evaluate. Each bounds its own wait; so does the Node side.
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>mqlite browser test</title>
<script src="/mqtt.min.js"></script>
<script>
const TIMEOUT = ${TIMEOUT};
function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(what + ': nothing within ' + TIMEOUT + ' ms')), TIMEOUT);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const clients = new Map();
window.mqliteTest = {
  ready: typeof mqtt === 'object' && typeof mqtt.connect === 'function',
  async open(name, url, options) {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: TIMEOUT, ...options });
    const entry = { client, messages: [], wake: () => {} };
    clients.set(name, entry);
    client.on('message', (topic, payload, packet) => {
      entry.messages.push({
        topic,
        payload: hex(payload),
        qos: packet.qos,
        userProperties: (packet.properties && packet.properties.userProperties) || null,
      });
      entry.wake();
    });
    const connack = await within(
      new Promise((resolve, reject) => {
        client.once('connect', resolve);
        client.once('error', reject);
        client.once('close', () => reject(new Error('closed before CONNACK')));
      }),
      'CONNACK from ' + url,
    );
    return { returnCode: connack.returnCode ?? connack.reasonCode ?? 0, sessionPresent: connack.sessionPresent };
  },
  // Resolves with what ended the attempt, never with a CONNACK.
  async refused(url, options) {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: TIMEOUT, ...options });
    try {
      return await within(
        new Promise((resolve, reject) => {
          client.once('connect', () => reject(new Error('connected to ' + url)));
          client.once('error', (error) => resolve('error: ' + error.message));
          client.once('close', () => resolve('closed'));
        }),
        'refusal from ' + url,
      );
    } finally {
      client.end(true);
    }
  },
  async subscribe(name, topic, qos) {
    const granted = await within(clients.get(name).client.subscribeAsync(topic, { qos }), 'SUBACK');
    return granted.map((g) => g.qos);
  },
  async publish(name, topic, payload, options) {
    await within(clients.get(name).client.publishAsync(topic, payload, options), 'publish');
  },
  async messages(name, count) {
    const entry = clients.get(name);
    await within(
      new Promise((resolve) => {
        entry.wake = () => entry.messages.length >= count && resolve();
        entry.wake();
      }),
      count + ' messages',
    );
    return entry.messages.splice(0, count);
  },
  async close(name) {
    const { client } = clients.get(name);
    clients.delete(name);
    await within(client.endAsync(), 'DISCONNECT');
  },
};
</script>
`;

async function startServer() {
  const bundle = fs.readFileSync(BUNDLE);
  const server = http.createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else if (req.url === '/mqtt.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else {
      res.writeHead(404).end();
    }
  });
  server.listen(0, '127.0.0.1');
  await withTimeout(once(server, 'listening'), 'HTTP server');
  return server;
}

// A Chromium profile home whose NSS database trusts `ca` for servers.
function trustingHome(dir, ca) {
  const home = path.join(dir, 'home');
  const db = path.join(home, '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true });
  run('certutil', ['-d', `sql:${db}`, '-N', '--empty-password']);
  run('certutil', ['-d', `sql:${db}`, '-A', '-t', 'C,,', '-n', 'mqlite browser test CA', '-i', ca]);
  return home;
}

// A Node MQTT.js client over TCP that keeps what it receives.
async function nodeClient(port, options) {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    reconnectPeriod: 0,
    connectTimeout: TIMEOUT,
    ...options,
  });
  const entry = { client, messages: [], wake: () => {} };
  client.on('message', (topic, payload, packet) => {
    entry.messages.push({ topic, payload: Buffer.from(payload), packet });
    entry.wake();
  });
  await withTimeout(once(client, 'connect'), 'CONNACK over TCP');
  entry.take = (count) =>
    withTimeout(
      new Promise((resolve) => {
        entry.wake = () => entry.messages.length >= count && resolve(entry.messages.splice(0, count));
        entry.wake();
      }),
      `${count} messages over TCP`,
    );
  return entry;
}

// A backstop: the whole file within two minutes, whatever hangs.
describe('MQTT.js in headless Chromium', { skip, timeout: 120000 }, () => {
  let dir;
  let broker;
  let server;
  let browser;
  let page;
  let untrusted;
  // Every WebSocket the page opened, by URL, with the errors Chromium gave
  // (net::ERR_...: a page's script is told only that it failed).
  const sockets = new Map();
  // page.evaluate has no timeout of its own: bounded here, as well as in
  // the page.
  const inPage = (what, fn, arg) => withTimeout(page.evaluate(fn, arg), what, 2 * TIMEOUT);
  // Chromium's errors for the WebSocket to `url`: the first may reach
  // Playwright after the page has seen the failure, so waited for, up to
  // TIMEOUT; none then gives [].
  const socketErrors = (url) => {
    let timer;
    return new Promise((resolve) => {
      const entry = sockets.get(url);
      if (!entry || entry.errors.length > 0) return resolve(entry ? entry.errors : []);
      timer = setTimeout(() => resolve(entry.errors), TIMEOUT);
      entry.socket.once('socketerror', () => resolve(entry.errors));
    }).finally(() => clearTimeout(timer));
  };

  before(async () => {
    if (missing.length > 0) {
      throw new Error(
        `not found: ${missing.join(', ')}. scripts/test.sh installs them; ` +
          'set MQLITE_SKIP_EXTERNAL=1 to skip these tests',
      );
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqlite-browser-'));
    const trusted = makePki(dir, 'trusted');
    untrusted = makePki(dir, 'untrusted');
    broker = await startBroker(dir, trusted, untrusted);
    server = await startServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Playwright passes --no-sandbox unless this is true; as root
      // Chromium will not start sandboxed.
      chromiumSandbox: false,
      args: ['--disable-gpu'],
      env: { ...process.env, HOME: trustingHome(dir, trusted.ca) },
      timeout: LAUNCH_TIMEOUT,
    });
    // Certificate errors are errors (Playwright's default, said here).
    const context = await withTimeout(browser.newContext({ ignoreHTTPSErrors: false }), 'browser context');
    page = await withTimeout(context.newPage(), 'page');
    page.setDefaultTimeout(TIMEOUT);
    page.on('websocket', (socket) => {
      const entry = { socket, errors: [] };
      sockets.set(socket.url(), entry);
      socket.on('socketerror', (error) => entry.errors.push(error));
    });
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    await page.goto(`http://127.0.0.1:${server.address().port}/`, { timeout: LAUNCH_TIMEOUT });
    const ready = await inPage('bundle', () => window.mqliteTest?.ready);
    assert.equal(ready, true, 'the MQTT.js bundle did not load');
  });

  after(async () => {
    // Each step on its own, so one failing does not leave the others.
    const steps = [
      browser && (() => withTimeout(browser.close(), 'Chromium close', LAUNCH_TIMEOUT)),
      server &&
        (() => {
          server.closeAllConnections();
          return withTimeout(new Promise((resolve) => server.close(resolve)), 'HTTP server close');
        }),
      broker && (() => stopBroker(broker)),
      dir && (() => fs.rmSync(dir, { recursive: true, force: true })),
    ].filter(Boolean);
    const errors = [];
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  });

  for (const scheme of ['ws', 'wss']) {
    for (const protocolVersion of [4, 5]) {
      test(`${scheme}:// with MQTT ${protocolVersion === 5 ? '5.0' : '3.1.1'}`, async (t) => {
        const port = scheme === 'ws' ? broker.ws : broker.wss;
        const url = `${scheme}://127.0.0.1:${port}/mqtt`;
        const name = `${scheme}-v${protocolVersion}`;
        const base = `browser/${name}`;

        const tcp = await nodeClient(broker.tcp, { clientId: `node-${name}`, protocolVersion });
        t.after(() => tcp.client.end(true));
        const [granted] = await withTimeout(
          tcp.client.subscribeAsync(`${base}/to-node`, { qos: 1 }),
          'SUBACK over TCP',
        );
        assert.equal(granted.qos, 1);

        let connack;
        try {
          connack = await inPage('browser connect', ([n, u, o]) => mqliteTest.open(n, u, o), [
            name,
            url,
            { clientId: `browser-${name}`, protocolVersion },
          ]);
        } catch (error) {
          error.message += `\nChromium's errors for ${url}: ${(await socketErrors(url)).join('; ') || 'none'}`;
          throw error;
        }
        assert.deepEqual(connack, { returnCode: 0, sessionPresent: false });
        assert.ok(sockets.has(url), `no WebSocket to ${url} among ${[...sockets.keys()].join(', ')}`);
        t.after(() => inPage('browser close', (n) => mqliteTest.close(n), name));
        const toBrowser = `${base}/to-browser`;
        assert.deepEqual(
          await inPage('browser subscribe', ([n, topic]) => mqliteTest.subscribe(n, topic, 1), [name, toBrowser]),
          [1],
        );

        // The browser's own message comes back to it; then from Node over
        // TCP binary bytes, and a message larger than the WebSocket frames
        // the broker sends (256 KiB), so it spans two.
        const own = 'from the browser, to itself ✓';
        await inPage('browser publish', ([n, topic, text]) => mqliteTest.publish(n, topic, text, { qos: 1 }), [
          name,
          toBrowser,
          own,
        ]);
        const binary = Buffer.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);
        const large = Buffer.alloc(300 * 1024, 'mqlite ');
        const properties = protocolVersion === 5 ? { userProperties: { from: 'node' } } : undefined;
        await withTimeout(tcp.client.publishAsync(toBrowser, binary, { qos: 1, properties }), 'PUBACK over TCP');
        await withTimeout(tcp.client.publishAsync(toBrowser, large, { qos: 0 }), 'publish over TCP');
        const got = await inPage('browser messages', ([n]) => mqliteTest.messages(n, 3), [name]);
        const expected = [
          [Buffer.from(own), 1],
          [binary, 1],
          [large, 0],
        ];
        // Sizes first, then bytes, so that a difference is not printed whole.
        assert.deepEqual(
          got.map(({ topic, payload, qos }) => [topic, payload.length / 2, qos]),
          expected.map(([payload, qos]) => [toBrowser, payload.length, qos]),
        );
        expected.forEach(([payload], i) => {
          assert.ok(got[i].payload === payload.toString('hex'), `message ${i}'s bytes differ`);
        });
        assert.deepEqual(got[1].userProperties, protocolVersion === 5 ? { from: 'node' } : null);

        // And the other way: the browser publishes, Node over TCP receives.
        await inPage(
          'browser publish',
          ([n, topic, v]) =>
            mqliteTest.publish(n, topic, 'from the browser, to Node', {
              qos: 1,
              properties: v === 5 ? { userProperties: { from: 'browser' } } : undefined,
            }),
          [name, `${base}/to-node`, protocolVersion],
        );
        const [fromBrowser] = await tcp.take(1);
        assert.equal(fromBrowser.topic, `${base}/to-node`);
        assert.equal(fromBrowser.payload.toString(), 'from the browser, to Node');
        assert.equal(fromBrowser.packet.qos, 1);
        if (protocolVersion === 5) {
          assert.deepEqual({ ...fromBrowser.packet.properties.userProperties }, { from: 'browser' });
        }
      });
    }
  }

  test('wss:// with a certificate from a CA the browser does not trust is refused', async (t) => {
    const url = `wss://127.0.0.1:${broker.wssUntrusted}/mqtt`;
    // The listener itself works: MQTT.js in Node, given that CA, connects.
    const node = mqtt.connect(url, {
      ca: fs.readFileSync(untrusted.ca),
      reconnectPeriod: 0,
      connectTimeout: TIMEOUT,
    });
    t.after(() => node.end(true));
    await withTimeout(once(node, 'connect'), `CONNACK from ${url} in Node`);
    const outcome = await inPage('untrusted connect', (u) => mqliteTest.refused(u, { protocolVersion: 5 }), url);
    assert.match(outcome, /^(error: .*|closed)$/);
    // For want of a trusted certificate, not for anything else.
    assert.match((await socketErrors(url)).join('; '), /ERR_CERT_AUTHORITY_INVALID/);
  });
});
