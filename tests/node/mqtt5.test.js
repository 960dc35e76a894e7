// MQTT.js (Node, TCP) speaking MQTT 5 to the mqlite binary: properties,
// subscription identifiers, topic aliases both ways, shared subscriptions,
// reason codes, and a 3.1.1 client beside a 5.0 one.
//
// The binary is $MQLITE_BIN (default target/release/mqlite from the
// repository root); each test starts it on port 0 and reads the port from
// its "mqlite: listening on ADDR" line.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.resolve(ROOT, process.env.MQLITE_BIN || 'target/release/mqlite');
const TIMEOUT = 5000;

function withTimeout(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${TIMEOUT} ms`)), TIMEOUT);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function startBroker(t) {
  const child = spawn(BIN, ['-p', '0', '--no-persist'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const port = await withTimeout(
    new Promise((resolve, reject) => {
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
        const found = stderr.match(/mqlite: listening on (\S+):(\d+)/);
        if (found) resolve(Number(found[2]));
      });
      child.on('exit', (code) => reject(new Error(`mqlite exited (${code}): ${stderr}`)));
    }),
    'mqlite start',
  );
  t.after(async () => {
    child.kill('SIGTERM');
    if (child.exitCode === null) await once(child, 'exit');
    assert.ok(!stderr.includes('panicked'), stderr);
  });
  return port;
}

async function connect(t, port, options = {}) {
  const client = mqtt.connect({
    host: '127.0.0.1',
    port,
    protocolVersion: 5,
    reconnectPeriod: 0,
    ...options,
  });
  t.after(() => client.end(true));
  const [connack] = await withTimeout(once(client, 'connect'), 'CONNACK');
  return { client, connack };
}

function nextMessage(client) {
  return withTimeout(
    new Promise((resolve) => client.once('message', (topic, payload, packet) => resolve({ topic, payload, packet }))),
    'message',
  );
}

test('CONNACK properties and an assigned client id', async (t) => {
  const port = await startBroker(t);
  const { connack } = await connect(t, port, { clientId: '' });
  assert.match(connack.properties.assignedClientIdentifier, /^mqlite-/);
  assert.ok(connack.properties.topicAliasMaximum >= 1);
  assert.ok(connack.properties.receiveMaximum >= 1);
});

test('message properties and subscription identifiers', async (t) => {
  const port = await startBroker(t);
  const { client: sub } = await connect(t, port, { clientId: 'sub' });
  const [granted] = await sub.subscribeAsync('js/+', { qos: 1, properties: { subscriptionIdentifier: 77 } });
  assert.equal(granted.qos, 1);
  const { client: pub } = await connect(t, port, { clientId: 'pub' });
  const arrived = nextMessage(sub);
  await pub.publishAsync('js/x', 'payload', {
    qos: 1,
    properties: {
      contentType: 'text/plain',
      responseTopic: 'js/reply',
      correlationData: Buffer.from('c-1'),
      userProperties: { a: '1', b: ['2', '3'] },
      messageExpiryInterval: 60,
      payloadFormatIndicator: true,
    },
  });
  const { topic, payload, packet } = await arrived;
  assert.equal(topic, 'js/x');
  assert.equal(payload.toString(), 'payload');
  const p = packet.properties;
  assert.equal(p.contentType, 'text/plain');
  assert.equal(p.responseTopic, 'js/reply');
  assert.equal(p.correlationData.toString(), 'c-1');
  assert.deepEqual({ ...p.userProperties }, { a: '1', b: ['2', '3'] });
  assert.ok(p.messageExpiryInterval <= 60 && p.messageExpiryInterval >= 58);
  assert.equal(p.payloadFormatIndicator, true);
  assert.deepEqual([].concat(p.subscriptionIdentifier), [77]);
});

test('topic aliases from the client and from the broker', async (t) => {
  const port = await startBroker(t);
  // The subscriber takes aliases from the broker; MQTT.js resolves them.
  const { client: sub } = await connect(t, port, { clientId: 'sub', properties: { topicAliasMaximum: 4 } });
  await sub.subscribeAsync('alias/#', { qos: 0 });
  // The publisher lets MQTT.js assign its own aliases.
  const { client: pub } = await connect(t, port, { clientId: 'pub', autoAssignTopicAlias: true });
  const got = [];
  const all = withTimeout(
    new Promise((resolve) => {
      sub.on('message', (topic, payload, packet) => {
        got.push([topic, payload.toString(), packet.topic === '' || packet.properties?.topicAlias !== undefined]);
        if (got.length === 6) resolve();
      });
    }),
    'six messages',
  );
  for (let n = 0; n < 6; n++) {
    await pub.publishAsync(n % 2 ? 'alias/odd' : 'alias/even', String(n), { qos: 0 });
  }
  await all;
  assert.deepEqual(
    got.map(([topic, payload]) => [topic, payload]),
    [0, 1, 2, 3, 4, 5].map((n) => [n % 2 ? 'alias/odd' : 'alias/even', String(n)]),
  );
  assert.ok(got.some(([, , aliased]) => aliased), 'the broker used no alias');
});

test('shared subscription: each message to one member', async (t) => {
  const port = await startBroker(t);
  const members = [];
  for (const id of ['m1', 'm2', 'm3']) {
    const { client } = await connect(t, port, { clientId: id });
    await client.subscribeAsync('$share/workers/jobs/#', { qos: 1 });
    members.push(client);
  }
  const counts = [0, 0, 0];
  let total = 0;
  const done = withTimeout(
    new Promise((resolve) => {
      members.forEach((client, i) =>
        client.on('message', () => {
          counts[i] += 1;
          total += 1;
          if (total === 30) resolve();
        }),
      );
    }),
    '30 messages',
  );
  const { client: pub } = await connect(t, port, { clientId: 'pub' });
  for (let n = 0; n < 30; n++) await pub.publishAsync('jobs/x', String(n), { qos: 1 });
  await done;
  assert.deepEqual(counts, [10, 10, 10]);
});

test('reason codes: UNSUBACK and a PUBACK to nobody', async (t) => {
  const port = await startBroker(t);
  const { client } = await connect(t, port, { clientId: 'c' });
  const unsuback = await client.unsubscribeAsync('never/subscribed');
  // mqtt-packet reads UNSUBACK's codes into `granted`.
  assert.deepEqual(unsuback.granted, [0x11]);
  // MQTT.js treats 0x10 as success and keeps the packet to itself.
  const acks = [];
  client.on('packetreceive', (packet) => {
    if (packet.cmd === 'puback') acks.push(packet.reasonCode);
  });
  await client.publishAsync('nobody/here', 'x', { qos: 1 });
  assert.deepEqual(acks, [0x10]);
});

test('a 3.1.1 client and a 5.0 client on one broker', async (t) => {
  const port = await startBroker(t);
  const { client: old } = await connect(t, port, { clientId: 'old', protocolVersion: 4 });
  await old.subscribeAsync('mix/#', { qos: 1 });
  const { client: fresh } = await connect(t, port, { clientId: 'new' });
  const arrived = nextMessage(old);
  await fresh.publishAsync('mix/a', 'from five', { qos: 1, properties: { userProperties: { k: 'v' } } });
  const { topic, payload, packet } = await arrived;
  assert.equal(topic, 'mix/a');
  assert.equal(payload.toString(), 'from five');
  assert.equal(packet.properties, undefined);
});
