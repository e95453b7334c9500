// The x-afb-ws-json1 client: one WebSocket to the page's own host, calls as promises,
// events to listeners, automatic reconnection with exponential back-off.
// Frames: [2,id,"api/verb",args] call, [3,id,reply] success, [4,id,reply] error,
// [5,"api/event",{"jtype":"afb-event","event":...,"data":...}] event.

const CALL = 2, RETOK = 3, RETERR = 4, EVENT = 5;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10000;

/** A reply of the binder: `ok` when the frame was RETOK and the status "success". */
export class Reply {
  constructor(frame) {
    const body = frame[2] || {};
    this.request = body.request || {};
    this.response = body.response;
    this.status = this.request.status || "unknown";
    this.info = this.request.info;
    this.ok = frame[0] === RETOK && this.status === "success";
  }
}

/** Refused before sending: the connection is down. */
export class NotConnected extends Error {
  constructor() { super("not connected to the binder: the call was not sent (reconnecting…)"); }
}

export class AfbSocket {
  constructor(url) {
    this.url = url;
    this.nextId = 1;
    this.pending = new Map();
    this.eventListeners = new Set();
    this.stateListeners = new Set();
    this.frameListeners = new Set();
    this.attempt = 0;
    this.state = "connecting";
    this.retryTimer = null;
    this.retryAt = 0;
  }

  static forPage() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return new AfbSocket(`${scheme}://${location.host}/api`);
  }

  onEvent(listener) { this.eventListeners.add(listener); }
  onState(listener) { this.stateListeners.add(listener); }
  onFrame(listener) { this.frameListeners.add(listener); }

  get connected() { return this.state === "connected"; }

  open() {
    clearTimeout(this.retryTimer);
    this.setState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url, ["x-afb-ws-json1"]);
    } catch (error) {
      this.scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => { this.attempt = 0; this.setState("connected"); };
    ws.onmessage = (message) => this.receive(message.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending();
      this.scheduleRetry();
    };
  }

  /** Reconnect now instead of waiting for the back-off. */
  retryNow() {
    if (this.state === "waiting") this.open();
  }

  scheduleRetry() {
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setState("waiting");
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  setState(state) {
    this.state = state;
    for (const listener of this.stateListeners) listener(state, this);
  }

  failPending() {
    for (const { reject } of this.pending.values()) reject(new Error("connection lost before the reply"));
    this.pending.clear();
  }

  /** Calls api/verb with one JSON argument; resolves a Reply, rejects when not connected. */
  call(api, verb, args) {
    if (!this.connected) return Promise.reject(new NotConnected());
    const id = String(this.nextId++);
    const text = JSON.stringify([CALL, id, `${api}/${verb}`, args === undefined ? null : args]);
    this.emitFrame("sent", text);
    this.ws.send(text);
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  receive(text) {
    this.emitFrame("received", text);
    let frame;
    try { frame = JSON.parse(text); } catch { return; }
    if (!Array.isArray(frame)) return;
    if (frame[0] === EVENT) {
      const body = frame[2] || {};
      for (const listener of this.eventListeners) listener(String(frame[1]), body.data);
    } else if ((frame[0] === RETOK || frame[0] === RETERR) && this.pending.has(frame[1])) {
      this.pending.get(frame[1]).resolve(new Reply(frame));
      this.pending.delete(frame[1]);
    }
  }

  emitFrame(direction, text) {
    for (const listener of this.frameListeners) listener(direction, text);
  }
}
