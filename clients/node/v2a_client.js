'use strict';
// Node.js client of the v2a server, on @grpc/grpc-js: the stack a DaVinci Resolve Workflow
// Integration panel runs. Loads the contract from proto/ at run time (no generated code).

const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
// One source with the UXP client's (a UXP panel cannot require outside its own folder).
const { clipFraction, jobFraction } = require('../uxp/job_progress');

const PROTO_DIR = process.env.V2A_PROTO_DIR || path.join(__dirname, '..', '..', 'proto');
const DEFAULT_ADDRESS = '127.0.0.1:50051';
// The largest request the server reads (plugin_server/client.py MAX_REQUEST_BYTES), the largest
// reply it sends (a result's timeline bytes), and what of a request an inline timeline may take
// (the rest of it, paths and parameters, is far under 64 KiB).
const MAX_REQUEST_BYTES = 64 * 2 ** 20;
const MAX_RESPONSE_BYTES = 256 * 2 ** 20;
const MAX_INLINE_BYTES = MAX_REQUEST_BYTES - 64 * 2 ** 10;
// A CreateJob or RegenerateClip that ends so may have queued its job all the same (its answer
// lost on the way): tried again after each pause with the same request_id, which answers that
// job rather than queueing it twice (as plugin_server/client.py does).
const RETRY_CODES = [grpc.status.DEADLINE_EXCEEDED, grpc.status.UNAVAILABLE];
const RETRY_PAUSES_MS = [500, 1000];

// The extension (without the dot) of the file v2a writes in output format `format` (an adapter
// name from info.output_formats), from GetServerInfo's answer: for a panel's "Save as .fcpxml".
// undefined for a format the server does not write, or a server older than the field.
function outputExtension(info, format) {
  const known = (info.output_timeline_formats || []).find((f) => f.name === format);
  return known ? known.extensions[0] : undefined;
}

function defaultTokenFile() {
  const config = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(config, 'v2a', 'token');
}

function readToken(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    // The server writes it on its first start: say so rather than a bare ENOENT.
    throw Object.assign(new Error(`no token file ${file}: start \`v2a serve\` once on this `
      + 'machine, or pass options.token or options.tokenFile'), { code: 'ENOENT' });
  }
}

// The token as a call can carry it (plugin_server/client.py checked_token). The whitespace around
// it goes, as the server and the bridge read it: a token read with readFileSync ends in its
// file's newline, and grpc-js threw from the constructor with the token spelt out in its message.
// A character a header value cannot hold inside it is refused here, naming the token's `source`
// but never the token itself.
function checkedToken(token, source) {
  const trimmed = String(token).trim();
  for (const char of trimmed) {
    const advice = 'a token is the one line `v2a serve` writes in its token file';
    if (char === '\n' || char === '\r') {
      throw new TypeError(`the token ${source} holds a line break: ${advice}`);
    }
    if (char < ' ' || char > '~') { // what grpc-js (and HTTP/2) let a header value hold
      const code = char.codePointAt(0).toString(16).toUpperCase().padStart(4, '0');
      throw new TypeError(`the token ${source} holds a character a token never has `
        + `(U+${code}): ${advice}`);
    }
  }
  return trimmed;
}

// A server older than GetJobResultRequest.clip_ids does not see it and sends every clip's take,
// the one asked for among them, not first: the clips asked for alone, whichever server answered.
function onlyAskedFor(response, clipIds) {
  if (!clipIds.length) return response;
  const wanted = new Set(clipIds);
  return { ...response, clips: response.clips.filter((clip) => wanted.has(clip.clip_id)) };
}

function loadService() {
  const definition = protoLoader.loadSync('v2a/v1/v2a_service.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true, // field names as in the .proto: job_id, media_search_paths...
    longs: Number,
    enums: String, // 'JOB_STATE_SUCCEEDED'
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).v2a.v1.V2AService;
}

class V2AClient {
  /**
   * @param {object} [options]
   * @param {string} [options.address]   host:port (default 127.0.0.1:50051, or $V2A_ADDRESS)
   * @param {string} [options.uds]       a Unix socket path instead (no token needed there)
   * @param {string} [options.token]     default: read from options.tokenFile
   * @param {string} [options.tokenFile] default: $XDG_CONFIG_HOME/v2a/token
   * @param {number} [options.timeoutMs] deadline of unary calls (default 30 s)
   */
  constructor(options = {}) {
    const Service = loadService();
    let target;
    let token = options.token;
    let source = 'given (options.token)';
    if (options.uds) {
      target = `unix:${options.uds}`;
    } else {
      target = options.address || process.env.V2A_ADDRESS || DEFAULT_ADDRESS;
      if (token === undefined) {
        const file = options.tokenFile || defaultTokenFile();
        [token, source] = [readToken(file), `in ${file}`];
      }
    }
    if (token) token = checkedToken(token, source);
    // Inline timelines and returned timeline bytes can exceed gRPC's default 4 MB.
    this.stub = new Service(target, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_RESPONSE_BYTES,
      'grpc.max_send_message_length': MAX_REQUEST_BYTES,
    });
    this.metadata = new grpc.Metadata();
    if (token) this.metadata.set('authorization', `Bearer ${token}`);
    this.timeoutMs = options.timeoutMs || 30000;
    this._capabilities = null; // GetServerInfo's, once asked (by info(), or before a first retry)
  }

  _unary(method, request) {
    const deadline = new Date(Date.now() + this.timeoutMs);
    return new Promise((resolve, reject) => {
      this.stub[method](request, this.metadata, { deadline }, (error, response) => {
        if (error) reject(error);
        else resolve(response);
      });
    });
  }

  // The job of a CreateJob or RegenerateClip `request` that carries a request_id, tried again
  // after each of RETRY_PAUSES_MS while a try ends in one of RETRY_CODES. Not when no try so far
  // reached the server (it was not running: nothing can have been queued), and only where the
  // server lists `capability` (one older than the field ignores it: a retry there could queue
  // the job twice). onRetry(error, pauseMs) hears of each retry; the last try's error is thrown.
  async _unaryRetrying(method, request, capability, onRetry) {
    let reached = false; // whether a try may have reached the server, and queued the job
    for (let tries = 0; ; tries += 1) {
      const connected = this._watchConnection();
      try {
        return (await this._unary(method, request)).job;
      } catch (error) {
        reached = reached || connected();
        const pauseMs = RETRY_PAUSES_MS[tries];
        if (pauseMs === undefined || !RETRY_CODES.includes(error.code) || !reached) throw error;
        if ((await this._serverReads(capability)) === false) throw error;
        if (onRetry) onRetry(error, pauseMs);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
        // Asked again where it could not be just now (a call cut off by its connection can
        // leave the channel on that connection a moment); still unknown: no retry.
        if (!(await this._serverReads(capability))) throw error;
      }
    }
  }

  // Watches the channel from now on; the function returned says whether it has been connected
  // (READY) since, and stops the watching: a call that ended without it never reached the
  // server (connection refused), which tells it from one whose answer was lost, without
  // reading the error's text. grpc-js tells each change as it makes it, on this thread.
  _watchConnection() {
    const channel = this.stub.getChannel();
    let connected = false;
    let watching = true;
    const watch = (state) => {
      if (state === grpc.connectivityState.READY) connected = true;
      else if (watching && state !== grpc.connectivityState.SHUTDOWN) { // closed: no more
        channel.watchConnectivityState(state, Infinity, () => {
          if (watching) watch(channel.getConnectivityState(false));
        });
      }
    };
    watch(channel.getConnectivityState(false));
    return () => {
      watching = false;
      return connected;
    };
  }

  // Whether the server lists `capability`; null where it cannot be asked now. Asked once (the
  // answer kept), the first time it matters, so that a call answered at once costs no second.
  async _serverReads(capability) {
    if (!this._capabilities) {
      try {
        await this.info();
      } catch {
        return null;
      }
    }
    return this._capabilities.includes(capability);
  }

  async info() {
    const response = await this._unary('GetServerInfo', {});
    this._capabilities = response.capabilities;
    return response;
  }

  /** request: {timeline: {path} | {inline_data: Buffer, file_name}, selection, params, output,
   *  request_id}: a request_id (a new UUID unless given) makes the call safe to retry, and it
   *  is retried on DEADLINE_EXCEEDED and UNAVAILABLE where the server lists create_request_id,
   *  onRetry(error, pauseMs) told of each. */
  async createJob(request, { onRetry } = {}) {
    const inline = request.timeline && request.timeline.inline_data;
    // The server reads no request larger than this (docs/server.md, Limits): say what to do
    // instead of sending it to be refused.
    if (inline && inline.length > MAX_INLINE_BYTES) {
      const name = request.timeline.file_name || 'the inline timeline';
      throw new RangeError(
        `${name} is ${(inline.length / 2 ** 20).toFixed(1)} MiB, more than the ` +
        `${MAX_REQUEST_BYTES / 2 ** 20} MiB a request may carry: send it by path (not inline)`);
    }
    const sent = { ...request, request_id: request.request_id || crypto.randomUUID() };
    return this._unaryRetrying('CreateJob', sent, 'create_request_id', onRetry);
  }

  async getJob(jobId) { return (await this._unary('GetJob', { job_id: jobId })).job; }

  async listJobs(request = {}) { return this._unary('ListJobs', request); }

  async cancelJob(jobId) { return (await this._unary('CancelJob', { job_id: jobId })).job; }

  /** clip: {clip_id} or {track, record_time}; seed (0..Number.MAX_SAFE_INTEGER) / prompt
   *  optional. Sent with a request_id (a new UUID unless given) and retried as createJob is. */
  async regenerateClip(jobId, clip, { seed, prompt, negativePrompt, requestId, onRetry } = {}) {
    const request = { job_id: jobId, clip, request_id: requestId || crypto.randomUUID() };
    if (seed !== undefined) request.seed = seed;
    if (prompt !== undefined) request.prompt = prompt;
    if (negativePrompt !== undefined) request.negative_prompt = negativePrompt;
    return this._unaryRetrying('RegenerateClip', request, 'regenerate_request_id', onRetry);
  }

  /** clipIds: only those clips' takes (a regeneration's result lists every clip's); [] all. */
  async getJobResult(jobId, { peakPoints = 256, includeTimelineData = false, clipIds = [] } = {}) {
    const response = await this._unary('GetJobResult', {
      job_id: jobId, peak_points: peakPoints, include_timeline_data: includeTimelineData,
      clip_ids: clipIds,
    });
    return onlyAskedFor(response, clipIds);
  }

  /** Progress events until the job ends: `for await (const event of client.watchJob(id))`. */
  watchJob(jobId) {
    return this.stub.WatchJob({ job_id: jobId }, this.metadata);
  }

  /** Follows a job to its end, calling onEvent for each event; resolves to the final job. */
  async waitJob(jobId, onEvent) {
    for await (const event of this.watchJob(jobId)) {
      if (onEvent) onEvent(event);
    }
    return this.getJob(jobId);
  }

  close() { this.stub.close(); }
}

module.exports = {
  V2AClient, defaultTokenFile, grpc, MAX_REQUEST_BYTES, clipFraction, jobFraction,
  outputExtension,
};
