'use strict';
// Runs against a real v2a server that the harness (tests/plugin_server/test_server_node_client.py)
// starts, passing V2A_ADDRESS, V2A_TOKEN_FILE, V2A_UDS, V2A_TIMELINE and V2A_MEDIA_DIR.

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const net = require('node:net');
const { V2AClient, grpc, jobFraction, outputExtension } = require('../v2a_client');

const env = process.env;
const skip = env.V2A_ADDRESS ? false : 'no server: run through tests/plugin_server';

/** A client closed when test `t` ends, also when an assertion fails (an open one can keep the
 *  run from ending). */
function client(t, options = {}) {
  const c = new V2AClient({ address: env.V2A_ADDRESS, tokenFile: env.V2A_TOKEN_FILE, ...options });
  t.after(() => c.close());
  return c;
}

test('server info over TCP with the token', { skip }, async (t) => {
  const c = client(t);
  const info = await c.info();
  assert.strictEqual(info.sample_rate, 48000);
  assert.ok(info.capabilities.includes('regenerate'));
  assert.ok(info.capabilities.includes('loudness_target'));
  // Each output format with its extensions, the one v2a writes first: a panel's "Save as .fcpxml".
  assert.deepStrictEqual(info.output_timeline_formats.map((f) => f.name), info.output_formats);
  const fcpx = info.output_timeline_formats.find((f) => f.name === 'fcpx_xml');
  assert.deepStrictEqual(fcpx.extensions, ['fcpxml', 'fcpxmld']);
  assert.strictEqual(fcpx.label, 'Final Cut Pro X XML');
  assert.strictEqual(outputExtension(info, 'cmx_3600'), 'edl');
  assert.strictEqual(outputExtension(info, 'no_such_adapter'), undefined);
});

test('a wrong token is UNAUTHENTICATED', { skip }, async (t) => {
  const c = client(t, { token: 'wrong' });
  await assert.rejects(c.info(), (error) => error.code === grpc.status.UNAUTHENTICATED);
});

// `options.token` read with readFileSync ends in the newline the server writes after it: grpc-js
// threw from the constructor, the token spelt out in its message (into the panel's log).
test('a token with the newline of its file is taken as the token', { skip }, async (t) => {
  const contents = fs.readFileSync(env.V2A_TOKEN_FILE, 'utf8');
  assert.ok(contents.endsWith('\n'));
  for (const token of [contents, ` ${contents.trim()}\r\n`]) {
    assert.ok((await client(t, { token }).info()).version);
  }
});

test('a token no call can carry is refused naming where it came from, never the token', () => {
  const secret = 's3cret-token';
  assert.throws(() => new V2AClient({ address: '127.0.0.1:1', token: `${secret}\n${secret}` }),
    (error) => error.message.startsWith('the token given (options.token) holds a line break')
      && !error.message.includes(secret));
  const file = require('node:path').join(require('node:os').tmpdir(), `v2a-token-${process.pid}`);
  fs.writeFileSync(file, `${secret}\nsomething else\n`);
  try {
    assert.throws(() => new V2AClient({ address: '127.0.0.1:1', tokenFile: file }),
      (error) => error.message.startsWith(`the token in ${file} holds a line break`)
        && !error.message.includes(secret));
  } finally {
    fs.unlinkSync(file);
  }
  assert.throws(() => new V2AClient({ address: '127.0.0.1:1', token: 'tökén' }),
    /the token given \(options\.token\) holds a character a token never has \(U\+00F6\)/);
});

test('unknown job is NOT_FOUND', { skip }, async (t) => {
  const c = client(t);
  await assert.rejects(c.getJob('nope'), (error) => error.code === grpc.status.NOT_FOUND);
});

test('a job end to end: inline timeline, progress stream, result with peaks, regenerate',
  { skip, timeout: 60000 }, async (t) => {
    const c = client(t);
    const job = await c.createJob({
      timeline: {
        inline_data: fs.readFileSync(env.V2A_TIMELINE),
        file_name: 'simple_cut.otio',
        media_search_paths: [env.V2A_MEDIA_DIR],
      },
      params: { seed: 7, loudness_target_lufs: -30 },
      output: { folder: 'node' },
    });
    assert.strictEqual(job.clips.length, 4);
    const states = new Set();
    const final = await c.waitJob(job.job_id, (event) => {
      if (event.clip) states.add(event.clip.state);
    });
    assert.strictEqual(final.state, 'JOB_STATE_SUCCEEDED', final.message);
    assert.ok(states.has('CLIP_STATE_RUNNING') && states.has('CLIP_STATE_DONE'));

    const result = await c.getJobResult(job.job_id, { peakPoints: 16 });
    assert.strictEqual(result.clips.length, 4);
    for (const clip of result.clips) {
      assert.ok(fs.existsSync(clip.media_path));
      assert.strictEqual(clip.peaks.min.length, 16);
      assert.ok(Math.max(...clip.peaks.max) > 0);
      // Brought down to the job's loudness target (the test sines are louder than -30 LUFS).
      const provenance = JSON.parse(clip.provenance_json);
      assert.strictEqual(provenance.loudness_target_lufs, -30);
      assert.ok(provenance.gain_db < 0, clip.provenance_json);
    }
    assert.strictEqual(final.params.loudness_target_lufs, -30);
    const clipId = result.clips[0].clip_id;
    const child = await c.regenerateClip(job.job_id, { clip_id: clipId }, { seed: 9 });
    const done = await c.waitJob(child.job_id);
    assert.strictEqual(done.state, 'JOB_STATE_SUCCEEDED');
    assert.match(done.clips[0].media_path, /_take2\.wav$/);
    const only = await c.getJobResult(child.job_id, { peakPoints: 4, clipIds: [clipId] });
    assert.deepStrictEqual(only.clips.map((clip) => clip.media_path), [done.clips[0].media_path]);
  });

/** A stub whose `method` call queues its job on the real server, its answer lost: the first
 *  call's error is `code`, later calls go through. Records each request_id sent. */
function loseFirstAnswer(c, method, code, sent) {
  const real = c.stub[method].bind(c.stub);
  c.stub[method] = (request, metadata, options, callback) => {
    sent.push(request.request_id);
    if (sent.length > 1) return real(request, metadata, options, callback);
    const lost = Object.assign(new Error(`${code} lost`), { code });
    return real(request, metadata, options, (error) => callback(error || lost));
  };
}

// A CreateJob whose answer is lost (a deadline passing as the server queues the job, a dropped
// connection) may have queued its job: the retry carries the same request_id, and the server
// answers that job rather than queueing the edit twice.
test('createJob retries a lost answer with the same request_id, and one job is queued',
  { skip, timeout: 60000 }, async (t) => {
    const c = client(t);
    const sent = [];
    loseFirstAnswer(c, 'CreateJob', grpc.status.DEADLINE_EXCEEDED, sent);
    const retried = [];
    const job = await c.createJob({
      timeline: { path: env.V2A_TIMELINE, media_search_paths: [env.V2A_MEDIA_DIR] },
      output: { folder: 'node-retried' },
    }, { onRetry: (error, pauseMs) => retried.push([error.code, pauseMs]) });
    assert.deepStrictEqual(retried, [[grpc.status.DEADLINE_EXCEEDED, 500]]);
    assert.match(job.request_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.deepStrictEqual(sent, [job.request_id, job.request_id]);
    const { jobs } = await c.listJobs({ page_size: 1000 });
    assert.deepStrictEqual(jobs.filter((j) => j.request_id === job.request_id).map((j) => j.job_id),
      [job.job_id]);
    await c.waitJob(job.job_id);
  });

/** The GetServerInfo calls `c` makes from now on; its answer without `dropped` capabilities, as
 *  a server older than them answers. */
function countingInfo(c, dropped = []) {
  const real = c.stub.GetServerInfo.bind(c.stub);
  const asked = [];
  c.stub.GetServerInfo = (request, metadata, options, callback) => {
    asked.push(1);
    return real(request, metadata, options, (error, response) => callback(error, response && {
      ...response, capabilities: response.capabilities.filter((n) => !dropped.includes(n)),
    }));
  };
  return asked;
}

// A server older than request_id ignores it: a retry there could queue the job twice.
test('createJob does not retry where the server does not list create_request_id',
  { skip, timeout: 60000 }, async (t) => {
    const c = client(t);
    const asked = countingInfo(c, ['create_request_id']);
    const sent = [];
    loseFirstAnswer(c, 'CreateJob', grpc.status.DEADLINE_EXCEEDED, sent);
    const retried = [];
    await assert.rejects(c.createJob({
      timeline: { path: env.V2A_TIMELINE, media_search_paths: [env.V2A_MEDIA_DIR] },
      output: { folder: 'node-not-retried' },
    }, { onRetry: (error) => retried.push(error.code) }),
    (error) => error.code === grpc.status.DEADLINE_EXCEEDED);
    assert.deepStrictEqual([retried, asked, sent.length], [[], [1], 1]);
    const { jobs } = await c.listJobs({ page_size: 1000 });
    const queued = jobs.filter((j) => j.request_id === sent[0]);
    assert.strictEqual(queued.length, 1);
    await c.waitJob(queued[0].job_id);
  });

test('the capabilities are asked once, and only before a retry', { skip, timeout: 60000 },
  async (t) => {
    const c = client(t);
    const asked = countingInfo(c);
    const request = {
      timeline: { path: env.V2A_TIMELINE, media_search_paths: [env.V2A_MEDIA_DIR] },
      output: { folder: 'node-asked-once' },
    };
    const plain = await c.createJob(request);
    assert.deepStrictEqual(asked, []);
    const jobs = [plain];
    for (let i = 0; i < 2; i += 1) {
      loseFirstAnswer(c, 'CreateJob', grpc.status.UNAVAILABLE, []);
      jobs.push(await c.createJob(request));
    }
    assert.deepStrictEqual(asked, [1]);
    for (const job of jobs) await c.waitJob(job.job_id);
  });

// Connection refused cannot have queued anything: the error comes at once, not after 1.5 s.
test('a call that never reached the server is not retried', { skip }, async (t) => {
  const port = await new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address();
      probe.close(() => resolve(free)); // nothing listens there now
    });
  });
  const c = client(t, { address: `127.0.0.1:${port}` });
  // As if it had asked a server that reads request_id, which stopped since: retries allowed.
  c.stub.GetServerInfo = (request, metadata, options, callback) => callback(null,
    { capabilities: ['create_request_id'] });
  await c.info();
  const retried = [];
  const start = Date.now();
  await assert.rejects(c.createJob({ timeline: { path: env.V2A_TIMELINE } },
    { onRetry: (error) => retried.push(error.code) }),
  (error) => error.code === grpc.status.UNAVAILABLE);
  const took = Date.now() - start;
  assert.deepStrictEqual(retried, []);
  assert.ok(took < 400, `${took} ms`);
});

test('regenerateClip retries a lost answer with the same request_id, and one job is queued',
  { skip, timeout: 60000 }, async (t) => {
    const c = client(t);
    const parent = await c.createJob({
      timeline: { path: env.V2A_TIMELINE, media_search_paths: [env.V2A_MEDIA_DIR] },
      output: { folder: 'node-regenerate-retried' },
    });
    assert.strictEqual((await c.waitJob(parent.job_id)).state, 'JOB_STATE_SUCCEEDED');
    const sent = [];
    loseFirstAnswer(c, 'RegenerateClip', grpc.status.DEADLINE_EXCEEDED, sent);
    const retried = [];
    const child = await c.regenerateClip(parent.job_id, { clip_id: parent.clips[0].clip_id }, {
      onRetry: (error, pauseMs) => retried.push([error.code, pauseMs]),
    });
    assert.deepStrictEqual(retried, [[grpc.status.DEADLINE_EXCEEDED, 500]]);
    assert.deepStrictEqual(sent, [child.request_id, child.request_id]);
    assert.notStrictEqual(child.request_id, parent.request_id);
    const { jobs } = await c.listJobs({ page_size: 1000 });
    assert.deepStrictEqual(jobs.filter((j) => j.parent_job_id === parent.job_id)
      .map((j) => j.job_id), [child.job_id]);
    await c.waitJob(child.job_id);
  });

// Each take of `takes: N` runs every clip from QUEUED again: the bar ran 0 -> 100 % once a take.
test('a job of two takes: its fraction only goes forward, half at the end of take 1',
  { skip, timeout: 60000 }, async (t) => {
    const c = client(t);
    const job = await c.createJob({
      timeline: { path: env.V2A_TIMELINE, media_search_paths: [env.V2A_MEDIA_DIR] },
      params: { takes: 2 },
      output: { folder: 'node-takes' },
    });
    const clips = new Map(job.clips.map((clip) => [clip.clip_id, clip]));
    const fractions = [];
    const final = await c.waitJob(job.job_id, (event) => {
      if (!event.clip) return;
      clips.set(event.clip.clip_id, event.clip);
      fractions.push(jobFraction([...clips.values()]));
    });
    assert.strictEqual(final.state, 'JOB_STATE_SUCCEEDED', final.message);
    assert.deepStrictEqual(fractions, [...fractions].sort((a, b) => a - b));
    assert.ok(fractions.includes(0.5) && fractions.at(-1) === 1, fractions.join(' '));
    assert.deepStrictEqual(final.clips.map((clip) => [clip.take, clip.take_count]),
      [[2, 2], [2, 2], [2, 2], [2, 2]]);
  });

test('over the Unix socket no token is needed', { skip: skip || !env.V2A_UDS }, async (t) => {
  const c = new V2AClient({ uds: env.V2A_UDS });
  t.after(() => c.close());
  const { jobs } = await c.listJobs({ page_size: 5 });
  assert.ok(Array.isArray(jobs));
});

test('a missing token file says the server writes it on its first start', () => {
  const tokenFile = '/nonexistent/v2a/token';
  assert.throws(() => new V2AClient({ address: '127.0.0.1:1', tokenFile }),
    /no token file \/nonexistent\/v2a\/token: start `v2a serve` once/);
});

test('a timeline too big to send inline is refused before it is sent, saying to send its path',
  { skip }, async (t) => {
    const c = client(t);
    const big = Buffer.alloc(65 * 2 ** 20);
    await assert.rejects(
      c.createJob({ timeline: { inline_data: big, file_name: 'feature.otio' } }),
      (error) => error instanceof RangeError && /feature\.otio is 65\.0 MiB/.test(error.message)
        && /send it by path/.test(error.message));
  });

// As a server older than GetJobResultRequest.clip_ids answers: it does not see the field.
test('a result asked for by clip holds that clip whatever server answers', async (t) => {
  const protoLoader = require('@grpc/proto-loader');
  const definition = protoLoader.loadSync('v2a/v1/v2a_service.proto', {
    includeDirs: [require('node:path').join(__dirname, '..', '..', '..', 'proto')], keepCase: true,
  });
  const { V2AService } = grpc.loadPackageDefinition(definition).v2a.v1;
  const server = new grpc.Server();
  server.addService(V2AService.service, {
    GetJobResult: (call, callback) => callback(null, {
      clips: ['c1', 'c2', 'c3', 'c4'].map((id) => ({ clip_id: id })) }),
  });
  const port = await new Promise((resolve, reject) => server.bindAsync(
    '127.0.0.1:0', grpc.ServerCredentials.createInsecure(),
    (error, bound) => (error ? reject(error) : resolve(bound))));
  t.after(() => server.forceShutdown());
  const c = new V2AClient({ address: `127.0.0.1:${port}`, token: 't' });
  t.after(() => c.close());
  const only = await c.getJobResult('job', { clipIds: ['c2'] });
  assert.deepStrictEqual(only.clips.map((clip) => clip.clip_id), ['c2']);
  assert.strictEqual((await c.getJobResult('job')).clips.length, 4);
});
