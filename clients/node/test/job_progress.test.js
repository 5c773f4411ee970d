'use strict';
// The job's fraction has one source, clients/uxp/job_progress.js: the Node and the UXP client
// hand out the same functions, so a fix to one is a fix to both.

const test = require('node:test');
const assert = require('node:assert');
const node = require('../v2a_client');
const uxp = require('../../uxp/v2a_ws_client');

test('the Node and the UXP client share one jobFraction and clipFraction', () => {
  assert.strictEqual(node.jobFraction, uxp.jobFraction);
  assert.strictEqual(node.clipFraction, uxp.clipFraction);
});

test('a job of two takes is half done when every clip ended take 1', () => {
  const clip = (take, state) => ({ state, take, take_count: 2, step: 0, total_steps: 0 });
  assert.strictEqual(uxp.jobFraction([clip(1, 'CLIP_STATE_DONE'), clip(2, 'CLIP_STATE_QUEUED')]), 0.5);
  assert.strictEqual(uxp.jobFraction([]), 0);
});
