'use strict';
// The first calls a panel makes: server info, a job for a timeline, its progress, its result.
//   node examples/generate.js /abs/path/to/cut.otio [output-folder]
// Connects to $V2A_ADDRESS (default 127.0.0.1:50051) with the token in $XDG_CONFIG_HOME/v2a/token.

const { V2AClient, jobFraction } = require('../v2a_client');

async function main() {
  const [timeline, folder = 'from-node'] = process.argv.slice(2);
  if (!timeline) throw new Error('usage: node examples/generate.js /abs/path/to/cut.otio [folder]');
  const client = new V2AClient();
  const info = await client.info();
  console.log(`v2a ${info.version}, model ${info.model_name}, ${info.sample_rate} Hz`);
  const saveAs = info.output_timeline_formats.map((f) => `${f.label} (.${f.extensions[0]})`);
  console.log(`writes: ${saveAs.join(', ')}`);

  const job = await client.createJob({ timeline: { path: timeline }, output: { folder } });
  console.log(`job ${job.job_id}: ${job.clips.length} clips`);
  // The latest progress of each clip: the job's bar is their mean, forward across takes.
  const clips = new Map(job.clips.map((clip) => [clip.clip_id, clip]));
  const final = await client.waitJob(job.job_id, (event) => {
    if (event.clip) {
      clips.set(event.clip.clip_id, event.clip);
      const { clip_name: name, state, step, total_steps: total } = event.clip;
      const { take, take_count: takes } = event.clip;
      const percent = (100 * jobFraction([...clips.values()])).toFixed(0);
      console.log(`${percent.padStart(3)}%  ${name}: ${state.replace('CLIP_STATE_', '').toLowerCase()}`
        + (total ? ` ${step}/${total}` : '') + (takes > 1 ? ` (take ${take} of ${takes})` : ''));
    }
  });
  console.log(`job ${final.job_id}: ${final.state}`);
  if (final.state === 'JOB_STATE_SUCCEEDED') {
    const result = await client.getJobResult(final.job_id, { peakPoints: 64 });
    console.log(`timeline: ${result.timeline_path}`);
    for (const clip of result.clips) console.log(`  ${clip.clip_name}: ${clip.media_path}`);
  }
  client.close();
}

main().catch((error) => {
  console.error(`error: ${error.details || error.message}`);
  process.exit(1);
});
