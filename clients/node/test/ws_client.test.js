'use strict';
// clients/uxp/v2a_ws_client.js against a stand-in bridge (the `ws` package's server): what the
// client does when the connection goes, which needs no v2a server.

const test = require('node:test');
const assert = require('node:assert');
const { WebSocketServer } = require('ws');
const { V2AWebSocketClient } = require('../../uxp/v2a_ws_client');
const WebSocket = require('ws');

// Accepts any token, then closes every connection when told to (a server restart).
async function standInBridge() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', (socket) => socket.on('message', (raw) => {
    const { id } = JSON.parse(raw);
    socket.send(JSON.stringify({ id, response: {} }));
  }));
  return server;
}

test('a call after the bridge went away is refused as UNAVAILABLE, not left waiting', async (t) => {
  const bridge = await standInBridge();
  t.after(() => bridge.close());
  const client = await V2AWebSocketClient.connect(
    `ws://127.0.0.1:${bridge.address().port}`, 'token', { WebSocket });
  const closed = new Promise((resolve) => client.socket.addEventListener('close', resolve));
  for (const socket of bridge.clients) socket.terminate();
  await closed;
  const timeout = new Promise((resolve) => { setTimeout(resolve, 2000, 'still waiting').unref(); });
  const outcome = await Promise.race([
    client.getJob('any').then(() => 'answered', (error) => error.code), timeout]);
  assert.strictEqual(outcome, 'UNAVAILABLE');
});

test('calls waiting when the bridge goes away are refused as UNAVAILABLE', async (t) => {
  const bridge = await standInBridge();
  t.after(() => bridge.close());
  bridge.removeAllListeners('connection');
  bridge.on('connection', (socket) => socket.once('message', (raw) => {
    socket.send(JSON.stringify({ id: JSON.parse(raw).id, response: {} }));
    socket.on('message', () => socket.terminate()); // the next call: the server dies
  }));
  const client = await V2AWebSocketClient.connect(
    `ws://127.0.0.1:${bridge.address().port}`, 'token', { WebSocket });
  await assert.rejects(client.watchJob('any', () => {}), (error) => error.code === 'UNAVAILABLE');
});

test('a request too big for the bridge is refused before it is sent; the connection stays',
  async (t) => {
    const bridge = await standInBridge();
    t.after(() => bridge.close());
    const client = await V2AWebSocketClient.connect(
      `ws://127.0.0.1:${bridge.address().port}`, 'token', { WebSocket });
    t.after(() => client.close());
    const timeline = { inline_data: 'A'.repeat(65 * 2 ** 20), file_name: 'feature.otio' };
    await assert.rejects(client.createJob({ timeline }),
      (error) => error instanceof RangeError && /send the timeline by path/.test(error.message));
    assert.deepStrictEqual(await client.call('GetServerInfo'), {});  // other calls go on
  });

// As a bridge older than a request field answers (its JSON parse refuses a field it lacks).
async function olderBridge(knownFields) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', (socket) => socket.on('message', (raw) => {
    const { id, request = {} } = JSON.parse(raw);
    const unknown = Object.keys(request).find((name) => !knownFields.includes(name));
    socket.send(JSON.stringify(unknown === undefined ? { id, response: { clips: [] } } : {
      id, error: { code: 'INVALID_ARGUMENT', message: `no field named "${unknown}"` } }));
  }));
  return server;
}

test('a result asked for with no clip ids is answered by a bridge older than clip_ids',
  async (t) => {
    const bridge = await olderBridge(['job_id', 'peak_points', 'include_timeline_data']);
    t.after(() => bridge.close());
    const client = await V2AWebSocketClient.connect(
      `ws://127.0.0.1:${bridge.address().port}`, 'token', { WebSocket });
    t.after(() => client.close());
    assert.deepStrictEqual(await client.getJobResult('job'), { clips: [] });
  });
