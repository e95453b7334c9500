// Tasks: each started (or observed) task in its own live pane — stdout and stderr told
// apart, lines as they arrive, a status badge, duration and stats, stop with a signal —
// and the list of running and recent tasks. A pane keeps its last MAX_LINES lines and
// says how many earlier ones it hid, so a chatty command never freezes the tab.
import { asText, h } from "./dom.js";

export const MAX_LINES = 2000;
const MAX_RECENT = 30;
const SIGNALS = ["SIGINT", "SIGTERM", "SIGKILL", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
const STREAM_KEYS = ["stdout", "stderr"];
// The final event's `stats` keys in words; unknown keys are shown as they come.
const STAT_LABELS = { wall_s: ["wall time", "s"], user_s: ["user CPU", "s"], system_s: ["system CPU", "s"],
                      peak_rss_kib: ["peak memory", "KiB"] };
const NOT_FIELDS = new Set(["type", "pid", "status", "api", "sandbox", "command", "stats", ...STREAM_KEYS]);

function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

/** The badge of a final status: {exit}, {signal[, info:"timeout"]}, {unknown}. */
export function describeStatus(status) {
  if (!status || typeof status !== "object") return { text: "ended", tone: "unknown" };
  if (status.info === "timeout") return { text: `timeout (${asText(status.signal || "killed")})`, tone: "bad" };
  if ("exit" in status) return { text: `exit ${asText(status.exit)}`, tone: status.exit === 0 ? "good" : "bad" };
  if ("signal" in status) return { text: `signal ${asText(status.signal)}`, tone: "warn" };
  return { text: `status ${asText(status)}`, tone: "unknown" };
}

/** The lines a payload field holds: a string (line, raw), an array of lines (text, sync), any JSON (json). */
function linesOf(value) {
  if (typeof value === "string") return value.replace(/\n$/, "").split("\n");
  if (Array.isArray(value)) return value.map(asText);
  return [asText(value)];
}

class TaskPane {
  constructor(board, key, api, verb, pid) {
    this.board = board;
    this.key = key;
    this.api = api;
    this.verb = verb;
    this.pid = pid;
    this.started = performance.now();
    this.ended = null;
    this.status = null;
    this.lineCount = 0;
    this.hidden = 0;
    this.queue = [];
    this.badge = h("span", { class: "badge running" }, "running");
    this.duration = h("span", { class: "duration" }, "");
    this.hiddenMarker = h("p", { class: "cap-marker", hidden: true });
    this.output = h("div", { class: "output", role: "log", "aria-live": "off", tabindex: "0",
                             "aria-label": `output of ${verb} pid ${pid}` });
    this.notes = h("ul", { class: "notes" });
    this.stats = h("dl", { class: "stats", hidden: true });
    this.signal = h("select", { "aria-label": "signal to send" }, h("option", { value: "" }, "default stop"),
      SIGNALS.map((name) => h("option", { value: name }, name)));
    this.stopButton = h("button", { type: "button", onclick: () => this.stop() }, "Stop");
    const closeButton = h("button", { type: "button", class: "quiet", onclick: () => board.remove(this) }, "Close");
    const heading = h("h3", { id: `${key}-title` }, `${api}/${verb}`, h("span", { class: "pid" }, ` pid ${pid}`));
    this.element = h("section", { class: "task", "aria-labelledby": `${key}-title`, "data-task": key, "data-verb": `${api}/${verb}`, tabindex: "-1" },
      h("header", {}, heading, this.badge, this.duration,
        h("span", { class: "task-actions" }, this.signal, this.stopButton, closeButton)),
      this.notes, this.stats, this.hiddenMarker, this.output);
    this.ticker = setInterval(() => this.tick(), 1000);
    this.tick();
  }

  get running() { return this.ended === null; }

  tick() {
    this.duration.textContent = formatDuration((this.ended ?? performance.now()) - this.started);
    if (!this.running) clearInterval(this.ticker);
  }

  note(text, tone = "info") { this.notes.append(h("li", { class: tone }, text)); }

  /** Output and extra fields of a data event or a sync reply. */
  take(payload) {
    for (const stream of STREAM_KEYS) {
      if (payload[stream] !== undefined) for (const line of linesOf(payload[stream])) this.queue.push([stream, line]);
      if (payload[`${stream}-overflow`]) this.note(`${stream} overflow: the encoder dropped what its limits did not keep`, "warn");
    }
    for (const [key, value] of Object.entries(payload)) {
      if (NOT_FIELDS.has(key) || key.endsWith("-overflow")) continue;
      if (key === "truncated" && value) this.note("truncated: output still open after the task ended was not read", "warn");
      else this.note(`${key}: ${asText(value)}`, key.includes("error") ? "bad" : "info");
    }
    if (payload.stats) this.showStats(payload.stats);
    this.board.scheduleFlush(this);
  }

  flush() {
    const lines = this.queue.splice(0);
    const fragment = document.createDocumentFragment();
    for (const [stream, text] of lines.slice(-MAX_LINES)) {
      fragment.append(h("div", { class: `line ${stream}` }, h("span", { class: "stream", "aria-label": stream }, stream === "stderr" ? "err" : "out"), text));
    }
    this.hidden += Math.max(0, lines.length - MAX_LINES);
    this.lineCount += Math.min(lines.length, MAX_LINES);
    this.output.append(fragment);
    while (this.lineCount > MAX_LINES) {
      this.output.firstChild.remove();
      this.lineCount -= 1;
      this.hidden += 1;
    }
    if (this.hidden) {
      this.hiddenMarker.hidden = false;
      this.hiddenMarker.textContent = `${this.hidden} earlier lines not shown (a pane keeps the last ${MAX_LINES})`;
    }
    this.output.scrollTop = this.output.scrollHeight;
  }

  showStats(stats) {
    this.stats.replaceChildren();
    const entries = stats && typeof stats === "object" ? Object.entries(stats) : [["stats", stats]];
    for (const [name, value] of entries) {
      const [label, unit] = STAT_LABELS[name] || [name, ""];
      this.stats.append(h("dt", {}, label), h("dd", {}, unit ? `${asText(value)} ${unit}` : asText(value)));
    }
    this.stats.hidden = false;
  }

  finish(status) {
    if (!this.running) return;
    this.ended = performance.now();
    this.status = status;
    const { text, tone } = describeStatus(status);
    this.badge.textContent = text;
    this.badge.className = `badge ${tone}`;
    this.stopButton.disabled = true;
    this.signal.disabled = true;
    this.element.classList.add("done");
    this.tick();
    this.board.changed();
  }

  /** The connection dropped: what happens next is unknown to this page. */
  orphan() {
    if (!this.running) return;
    this.orphaned = true;
    this.note("connection lost: later output and the final status were not received", "warn");
    this.badge.textContent = "unknown (disconnected)";
    this.badge.className = "badge unknown";
    this.ended = performance.now();
    this.stopButton.disabled = true;
    this.tick();
  }

  /** Listed again as running after a reconnection: start over from the binder's replay. */
  revive() {
    this.orphaned = false;
    this.ended = null;
    this.output.replaceChildren();
    this.lineCount = 0;
    this.hidden = 0;
    this.hiddenMarker.hidden = true;
    this.badge.textContent = "running";
    this.badge.className = "badge running";
    this.stopButton.disabled = false;
    this.signal.disabled = false;
    clearInterval(this.ticker);
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  /** "default stop" leaves the signal to the binder (SIGINT, or its graceful stop where it has one). */
  async stop() {
    const signal = this.signal.value;
    const args = signal ? { pid: this.pid, signal } : { pid: this.pid };
    const reply = await this.board.send(this.api, this.verb, { action: "stop", args });
    if (reply && !reply.ok) this.note(`stop refused: ${reply.status}${reply.info ? ` — ${reply.info}` : ""}`, "bad");
    else if (reply) this.note(signal ? `${signal} sent` : "stop sent (the binder's default signal)");
  }
}

/** Every task pane and the list of them; routes events `<api>/<verb>` with a pid to the right pane. */
export class TaskBoard {
  constructor(socket, list, panes, report) {
    this.socket = socket;
    this.list = list;
    this.panes = panes;
    this.report = report;
    this.tasks = new Map();
    this.dirty = new Set();
    this.flushing = false;
    this.verbs = new Set();  // "api/verb" of every command verb the page knows
    socket.onEvent((name, data) => this.event(name, data));
  }

  knowVerb(api, verb) { this.verbs.add(`${api}/${verb}`); }

  async send(api, verb, args) {
    try { return await this.socket.call(api, verb, args); }
    catch (error) { this.report(error.message); return null; }
  }

  keyOf(api, verb, pid) { return `task-${api}-${verb}-${pid}`.replace(/[^A-Za-z0-9_-]/g, "_"); }

  pane(api, verb, pid) {
    const key = this.keyOf(api, verb, pid);
    let pane = this.tasks.get(key);
    if (!pane) {
      pane = new TaskPane(this, key, api, verb, pid);
      this.tasks.set(key, pane);
      this.panes.prepend(pane.element);
      this.prune();
      this.changed();
    }
    return pane;
  }

  /** Where an event `<api>/<verb>` goes: the api is up to the first slash, the verb may hold more. */
  split(name) {
    const slash = name.indexOf("/");
    return slash < 0 ? null : [name.slice(0, slash), name.slice(slash + 1)];
  }

  event(name, data) {
    const parts = this.split(name);
    if (!parts || !data || typeof data !== "object" || !Number.isInteger(data.pid)) return;
    const pane = this.pane(parts[0], parts[1], data.pid);
    if (data.type === "final-event") {
      pane.take(data);
      this.flushNow(pane);
      pane.finish(data.status);
    } else if (data.type !== "initial-event") pane.take(data);
  }

  /** A start's reply: async ones only give the pid, sync ones bring output and status too. */
  started(api, verb, response) {
    if (!response || !Number.isInteger(response.pid)) return null;
    const pane = this.pane(api, verb, response.pid);
    if (response.status) {
      pane.take(response);
      this.flushNow(pane);
      pane.finish(response.status);
    }
    return pane;
  }

  /** A task listed by the binder (`list` action): its times, status and stats from the entry. */
  observed(api, verb, entry) {
    const pane = this.pane(api, verb, entry.pid);
    if (pane.orphaned && entry.state === "running") pane.revive();
    const ago = (when) => performance.now() - (Date.now() - Date.parse(when));
    if (typeof entry.started === "string" && !Number.isNaN(Date.parse(entry.started))) {
      pane.started = Math.min(pane.started, ago(entry.started));
    }
    if (entry.stats) pane.showStats(entry.stats);
    if (entry.status) {
      pane.finish(entry.status);
      if (typeof entry.ended === "string" && !Number.isNaN(Date.parse(entry.ended))) pane.ended = ago(entry.ended);
      pane.tick();
    }
    return pane;
  }

  scheduleFlush(pane) {
    this.dirty.add(pane);
    if (this.flushing) return;
    this.flushing = true;
    requestAnimationFrame(() => {
      this.flushing = false;
      for (const dirty of this.dirty) dirty.flush();
      this.dirty.clear();
    });
  }

  flushNow(pane) { pane.flush(); this.dirty.delete(pane); }

  remove(pane) {
    clearInterval(pane.ticker);
    pane.element.remove();
    this.tasks.delete(pane.key);
    this.changed();
  }

  /** Finished panes beyond MAX_RECENT go, oldest first. */
  prune() {
    const finished = [...this.tasks.values()].filter((pane) => !pane.running);
    for (const pane of finished.slice(0, Math.max(0, finished.length - MAX_RECENT))) this.remove(pane);
  }

  disconnected() {
    for (const pane of this.tasks.values()) pane.orphan();
    this.changed();
  }

  changed() {
    const rows = [...this.tasks.values()].reverse().map((pane) => {
      const state = pane.running ? "running" : pane.badge.textContent;
      return h("li", { class: pane.running ? "running" : "done" },
        h("button", { type: "button", class: "link", onclick: () => { pane.element.focus(); pane.element.scrollIntoView({ block: "nearest" }); } },
          `${pane.api}/${pane.verb} pid ${pane.pid}`),
        h("span", { class: `badge ${pane.badge.className.replace("badge ", "")}` }, state));
    });
    this.list.replaceChildren(...(rows.length ? rows : [h("li", { class: "hint" }, "No task yet: start a command.")]));
  }
}
