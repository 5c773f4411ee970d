'use strict';
// How far a job is, from its clips' latest ClipProgress: the one source of both clients'
// `jobFraction` and `clipFraction`. It lives beside the UXP client because a UXP panel can
// require only files inside its plugin folder; the Node client requires it from here. No
// dependencies: a panel loads it as it loads v2a_ws_client.js (`require`, or a <script> first).

const ENDED_TAKE_STATES = ['CLIP_STATE_DONE', 'CLIP_STATE_FAILED', 'CLIP_STATE_SKIPPED'];
// How far a clip is, 0..1, through all its job's takes: a take that ended (done, failed, skipped)
// counts whole, a running one by its steps. Each take of `takes: N` runs the clip from QUEUED
// again; `take` and `take_count` keep the fraction going forward (0 from an older server: the
// clip's own progress, which restarts with each take).
function clipFraction(clip) {
  let inTake = 0;
  if (ENDED_TAKE_STATES.includes(clip.state)) inTake = 1;
  else if (clip.state === 'CLIP_STATE_RUNNING' && clip.total_steps) {
    inTake = Math.min(1, clip.step / clip.total_steps);
  }
  if (!(clip.take >= 1 && clip.take_count >= 1)) return inTake;
  return (Math.min(clip.take, clip.take_count) - 1 + inTake) / clip.take_count;
}

// How far a job is, 0..1: the mean of its clips' fractions (the latest ClipProgress of each).
function jobFraction(clips) {
  if (!clips.length) return 0;
  return clips.reduce((sum, clip) => sum + clipFraction(clip), 0) / clips.length;
}

if (typeof module !== 'undefined') {
  module.exports = { clipFraction, jobFraction };
}
