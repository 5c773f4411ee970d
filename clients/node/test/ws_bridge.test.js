'use strict';
// The UXP path: clients/uxp/v2a_ws_client.js over the server's WebSocket/JSON bridge, with the
// `ws` package standing in for the WebSocket a UXP panel has. Started by the pytest harness
// (V2A_WS_URL, V2A_TOKEN_FILE, V2A_TIMELINE, V2A_MEDIA_DIR).

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const WebSocket = require('ws');
const { V2AWebSocketClient, jobFraction } = require('../../uxp/v2a_ws_client');

const env = process.env;
const skip = env.V2A_WS_URL ? false : 'no bridge: run through tests/plugin_server';
const token = () => fs.readFileSync(env.V2A_TOKEN_FILE, 'utf8').trim();

test('a wrong token is refused and nothing else is answered', { skip }, async () => {
  await assert.rejects(V2AWebSocketClient.connect(env.V2A_WS_URL, 'wrong', { WebSocket }),
    (error) => error.code === 'UNAUTHENTICATED');
  // A raw socket that skips Authenticate gets no answer but UNAUTHENTICATED.
  const raw = new WebSocket(env.V2A_WS_URL);
  await new Promise((resolve) => { raw.onopen = resolve; });
  const reply = new Promise((resolve) => { raw.onmessage = (m) => resolve(JSON.parse(m.data)); });
  raw.send(JSON.stringify({ id: 1, method: 'ListJobs', request: {} }));
  const answer = await reply;
  assert.strictEqual(answer.error.code, 'UNAUTHENTICATED');
  assert.strictEqual(answer.response, undefined);
  raw.close();
});

test('a job through the bridge: progress events, result peaks, error details',
  { skip, timeout: 60000 }, async (t) => {
    const client = await V2AWebSocketClient.connect(env.V2A_WS_URL, token(), { WebSocket });
    t.after(() => client.close());  // also when an assertion fails (the run hung on the socket)
    const info = await client.info();
    assert.strictEqual(info.sample_rate, 48000);

    const job = await client.createJob({
      timeline: {
        inline_data: fs.readFileSync(env.V2A_TIMELINE).toString('base64'),
        file_name: 'simple_cut.otio',
        media_search_paths: [env.V2A_MEDIA_DIR],
      },
      output: { folder: 'uxp' },
    });
    const events = [];
    const final = await client.watchJob(job.job_id, (event) => events.push(event));
    assert.strictEqual(final.state, 'JOB_STATE_SUCCEEDED');
    assert.ok(events.some((e) => e.clip && e.clip.state === 'CLIP_STATE_DONE'));

    // Asked as the Node client asks; then the earlier form (peakPoints, clipIds) still works.
    const result = await client.getJobResult(job.job_id, { peakPoints: 8, includeTimelineData: true });
    assert.strictEqual(result.clips.length, 4);
    assert.strictEqual(result.clips[0].peaks.max.length, 8);
    assert.ok(Buffer.from(result.timeline_data, 'base64').toString().includes('"OTIO_SCHEMA"'));
    const one = await client.getJobResult(job.job_id, 8, [result.clips[1].clip_id]);
    assert.deepStrictEqual(one.clips.map((clip) => clip.clip_id), [result.clips[1].clip_id]);
    assert.ok(!one.timeline_data);  // not asked for: the bridge sends the field empty
    const same = await client.getJobResult(job.job_id, { clipIds: [result.clips[1].clip_id] });
    assert.deepStrictEqual(same.clips.map((clip) => clip.clip_id), [result.clips[1].clip_id]);

    await assert.rejects(client.getJob('nope'), (error) => error.code === 'NOT_FOUND'
      && error.details[0].type === 'ResourceInfo' && error.details[0].resource_name === 'nope');
    await assert.rejects(client.createJob({ timeline: { path: 'relative.otio' } }),
      (error) => error.code === 'INVALID_ARGUMENT'
        && error.details[0].field_violations[0].field === 'timeline.path');
  });

test('a job of two takes through the bridge: its fraction only goes forward',
  { skip, timeout: 60000 }, async (t) => {
    const client = await V2AWebSocketClient.connect(env.V2A_WS_URL, token(), { WebSocket });
    t.after(() => client.close());  // also when an assertion fails
    const job = await client.createJob({
      timeline: { path: env.V2A_TIMELINE, media_search_paths: [env.V2A_MEDIA_DIR] },
      params: { takes: 2 },
      output: { folder: 'uxp-takes' },
    });
    const clips = new Map(job.clips.map((clip) => [clip.clip_id, clip]));
    const fractions = [];
    const final = await client.watchJob(job.job_id, (event) => {
      if (!event.clip) return;
      clips.set(event.clip.clip_id, event.clip);
      fractions.push(jobFraction([...clips.values()]));
    });
    assert.strictEqual(final.state, 'JOB_STATE_SUCCEEDED', final.message);
    assert.deepStrictEqual(fractions, [...fractions].sort((a, b) => a - b));
    assert.ok(fractions.includes(0.5) && fractions.at(-1) === 1, fractions.join(' '));
  });
