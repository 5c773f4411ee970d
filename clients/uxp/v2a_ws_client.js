'use strict';
// Client of the v2a WebSocket/JSON bridge (`v2a serve --ws-port N`), for Premiere UXP panels,
// which have fetch, XHR and WebSocket but no HTTP/2 gRPC. No dependencies: it uses the
// WebSocket the host gives (UXP and browsers: the global one; Node: pass `require('ws')`).
// Messages are the gRPC ones as proto3 JSON with the .proto's field names (job_id, clip_id...),
// every field present and 64-bit integers as numbers (docs/server.md).

class V2ABridgeError extends Error {
  constructor({ code, message, details }) {
    super(`${code}: ${message}`);
    this.code = code; // the gRPC status name, e.g. 'NOT_FOUND'
    this.details = details || []; // google.rpc details as JSON, each with its `type`
  }
}

const OPEN = 1; // WebSocket.OPEN, the same number in every implementation
// The largest message the bridge reads (plugin_server/ws_bridge.py): a larger one closes the
// whole connection (code 1009), failing every call and watch on it. An inline timeline travels
// base64-encoded, so this holds one of about 48 MiB.
const MAX_MESSAGE_BYTES = 64 * 2 ** 20;

// UNAVAILABLE, as gRPC says it of a server that went away: connect again (a restarted server
// keeps its jobs and its token).
function closedError() {
  return new V2ABridgeError({
    code: 'UNAVAILABLE', message: 'connection to the v2a bridge closed' });
}

class V2AWebSocketClient {
  /** Opens the socket and authenticates with the token (the token file's contents). */
  static async connect(url, token, { WebSocket: WebSocketImpl = globalThis.WebSocket } = {}) {
    const socket = new WebSocketImpl(url);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = (event) => reject(new Error(`cannot connect to ${url}: ${event.message || 'error'}`));
    });
    const client = new V2AWebSocketClient(socket);
    try {
      await client._call('Authenticate', undefined, { token });
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, onEvent}
    socket.onmessage = (message) => this._receive(JSON.parse(message.data));
    socket.onclose = () => {
      for (const { reject } of this.pending.values()) reject(closedError());
      this.pending.clear();
    };
  }

  _receive(message) {
    const call = this.pending.get(message.id);
    if (!call) return;
    if (message.event !== undefined) {
      if (call.onEvent) call.onEvent(message.event);
      return;
    }
    this.pending.delete(message.id);
    if (message.error) call.reject(new V2ABridgeError(message.error));
    else call.resolve(message.response);
  }

  _call(method, request, extra = {}, onEvent = undefined) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      // A closed socket drops what is sent without a word (the WebSocket standard), and its
      // close event has already come: the call would wait forever.
      if (this.socket.readyState !== OPEN) {
        reject(closedError());
        return;
      }
      const message = JSON.stringify({ id, method, request, ...extra });
      if (message.length > MAX_MESSAGE_BYTES) {  // JSON of base64 and ids: one byte a character
        reject(new RangeError(
          `${method}: the request is ${(message.length / 2 ** 20).toFixed(1)} MiB as sent, ` +
          `more than the ${MAX_MESSAGE_BYTES / 2 ** 20} MiB the bridge reads in one message: ` +
          'send the timeline by path (not inline)'));
        return;
      }
      this.pending.set(id, { resolve, reject, onEvent });
      this.socket.send(message);
    });
  }

  /** Any unary RPC of v2a.v1.V2AService by name, e.g. call('GetJob', {job_id}). */
  call(method, request = {}) { return this._call(method, request); }

  info() { return this.call('GetServerInfo'); }

  async createJob(request) { return (await this.call('CreateJob', request)).job; }

  async getJob(jobId) { return (await this.call('GetJob', { job_id: jobId })).job; }

  async cancelJob(jobId) { return (await this.call('CancelJob', { job_id: jobId })).job; }

  async regenerateClip(request) { return (await this.call('RegenerateClip', request)).job; }

  /**
   * Options as the Node client's: peakPoints (waveform points per clip), clipIds (only those
   * clips' takes; a regeneration's result lists every clip's; [] all), includeTimelineData.
   * The earlier form getJobResult(jobId, peakPoints, clipIds) still works.
   */
  getJobResult(jobId, options = {}, clipIdsOfTheEarlierForm = []) {
    const {
      peakPoints = 256, clipIds = clipIdsOfTheEarlierForm, includeTimelineData = false,
    } = typeof options === 'number' ? { peakPoints: options } : options;
    const request = { job_id: jobId, peak_points: peakPoints };
    // Named only when asked for: a bridge older than the field refuses any request naming it,
    // even empty, and every result call of this client failed against it.
    if (clipIds.length) request.clip_ids = clipIds;
    if (includeTimelineData) request.include_timeline_data = true;
    return this.call('GetJobResult', request);
  }

  /** Calls onEvent for each progress event; resolves with the final job once it ends. */
  async watchJob(jobId, onEvent) {
    await this._call('WatchJob', { job_id: jobId }, {}, onEvent);
    return this.getJob(jobId);
  }

  close() { this.socket.close(); }
}

if (typeof module !== 'undefined') {
  // jobFraction and clipFraction from job_progress.js beside this file (the Node client's too).
  module.exports = { V2AWebSocketClient, V2ABridgeError, ...require('./job_progress') };
}
