// The page: connection state, APIs and verbs (monitor/get + info), the call form, tasks,
// "what this sandbox does", the raw frame log. Only standard ws-json1 and standard verbs,
// so it works with both hosts (embedded binder, afb-binder through libafb).
import { AfbSocket } from "./afbws.js";
import { asText, byId, h } from "./dom.js";
import { renderExplanations } from "./explain.js";
import { FrameLog } from "./framelog.js";
import { SchemaForm, validate } from "./schemaform.js";
import { TaskBoard } from "./tasks.js";

const socket = AfbSocket.forPage();
const board = new TaskBoard(socket, byId("task-list"), byId("task-panes"), (text) => say(text, "bad"));
new FrameLog(socket, byId("frames"), byId("frame-log"), byId("frames-pause"), byId("frames-clear"));

const state = { apis: new Map(), current: null, form: null, explained: null, listSupport: new Map() };

function say(text, tone = "info") {
  const result = byId("call-result");
  result.className = `result ${tone}`;
  result.replaceChildren(text);
}

function replyText(reply) {
  return `${reply.status}${reply.info ? ` — ${reply.info}` : ""}`;
}

// ---- connection ----

function showConnection(connectionState) {
  const badge = byId("connection");
  const retry = byId("retry");
  document.body.dataset.connection = connectionState;
  retry.hidden = connectionState !== "waiting";
  if (connectionState === "connected") {
    badge.textContent = "connected";
    loadApis();
  } else if (connectionState === "connecting") {
    badge.textContent = "connecting…";
  } else {
    const seconds = Math.max(0, Math.round((socket.retryAt - Date.now()) / 1000));
    badge.textContent = `disconnected — reconnecting in ${seconds} s (attempt ${socket.attempt})`;
    board.disconnected();
  }
}

socket.onState(showConnection);
setInterval(() => { if (socket.state === "waiting") showConnection("waiting"); }, 1000);
byId("retry").addEventListener("click", () => socket.retryNow());

// ---- APIs and verbs ----

/** The verbs an `info` reply lists: spawn/devtools groups, or the native {verbs:[{name}]} form. */
function groupsOf(response) {
  if (response && Array.isArray(response.groups)) {
    return response.groups.map((group) => ({ uid: group.uid, info: group.info,
      verbs: (group.verbs || []).map((verb) => ({ ...verb, verb: verb.verb || verb.uid, command: true })) }));
  }
  if (response && Array.isArray(response.verbs)) {
    return [{ uid: null, info: null, verbs: response.verbs.map((verb) => ({ verb: verb.name, info: verb.info, command: false })) }];
  }
  return [];
}

async function loadApis() {
  let listing;
  try { listing = await socket.call("monitor", "get", { apis: false }); } catch { return; }
  const names = Object.keys((listing.ok && listing.response && listing.response.apis) || {}).filter((name) => name !== "monitor").sort();
  const infos = await Promise.all(names.map((name) => socket.call(name, "info", {}).catch(() => null)));
  state.apis.clear();
  names.forEach((name, index) => {
    const reply = infos[index];
    const response = reply && reply.ok ? reply.response : null;
    state.apis.set(name, { name, metadata: response && response.metadata, groups: groupsOf(response) });
  });
  renderApis();
  refreshCompareChoices();
  for (const api of state.apis.values()) discoverTasks(api);
}

function renderApis() {
  const container = byId("apis");
  if (!state.apis.size) {
    container.replaceChildren(h("p", { class: "hint" }, "No API is served."));
    return;
  }
  container.replaceChildren(...[...state.apis.values()].map((api) => {
    const title = h("summary", {}, h("span", { class: "api-name" }, api.name),
      api.metadata && api.metadata.info ? h("span", { class: "hint" }, ` ${api.metadata.info}`) : "");
    const groups = api.groups.map((group) => h("div", { class: "group" },
      group.uid ? h("h3", {}, group.uid) : "",
      group.info ? h("p", { class: "hint" }, group.info) : "",
      h("ul", { class: "verbs" }, group.verbs.map((verb) => {
        if (verb.command) board.knowVerb(api.name, verb.verb);
        return h("li", {}, h("button", { type: "button", class: "verb", "data-verb": `${api.name}/${verb.verb}`,
          "aria-pressed": "false", onclick: () => selectVerb(api, group, verb) },
          verb.verb, verb.info ? h("span", { class: "verb-info" }, verb.info) : ""));
      }))));
    return h("details", { open: true, class: "api", "data-api": api.name }, title,
      groups.length ? groups : h("p", { class: "hint" }, "its info verb lists no verb"));
  }));
  if (state.current) {
    const again = findVerb(state.current.api.name, state.current.verb.verb);
    if (again) selectVerb(again.api, again.group, again.verb, { keepQuery: true });
  }
}

function findVerb(apiName, verbName) {
  const api = state.apis.get(apiName);
  if (!api) return null;
  for (const group of api.groups) {
    const verb = group.verbs.find((candidate) => candidate.verb === verbName);
    if (verb) return { api, group, verb };
  }
  return null;
}

function samplesOf(verb) {
  if (verb.sample === undefined) return [];
  return Array.isArray(verb.sample) ? verb.sample : [verb.sample];
}

function selectVerb(api, group, verb, { keepQuery = false } = {}) {
  const previousQuery = byId("query").value;
  state.current = { api, group, verb };
  for (const button of document.querySelectorAll("button.verb")) {
    button.setAttribute("aria-pressed", String(button.dataset.verb === `${api.name}/${verb.verb}`));
  }
  byId("verb-title").textContent = `${api.name}/${verb.verb}`;
  byId("verb-info").textContent = [verb.info, group.uid && `sandbox ${group.uid}${group.info ? ` (${group.info})` : ""}`].filter(Boolean).join(" · ");
  renderUsage(verb);
  renderSamples(verb);
  const schema = verb.args && typeof verb.args === "object" ? verb.args : null;
  state.form = schema ? new SchemaForm(schema) : null;
  byId("schema-form").replaceChildren(state.form ? state.form.element : h("p", { class: "hint" },
    verb.command ? "No args schema declared: edit the query as JSON." : "Not a spawn command: edit the query as JSON."));
  byId("mode-json").checked = !state.form;
  byId("mode-form").disabled = !state.form;
  byId("mode-form").checked = Boolean(state.form);
  showMode();
  const first = samplesOf(verb)[0];
  byId("query").value = keepQuery ? previousQuery : JSON.stringify(first !== undefined ? first : (verb.command ? { action: "start" } : {}), null, 1);
  if (first && state.form && !keepQuery) state.form.fill(first.args);
  byId("action").value = "start";
  byId("command-controls").hidden = !verb.command;
  byId("explain-button").disabled = !verb.command;
  byId("call-panel").hidden = false;
  say("");
  if (!keepQuery && matchMedia("(max-width: 759px)").matches) byId("call-panel").scrollIntoView({ block: "start" });
}

function renderUsage(verb) {
  const usage = byId("usage");
  const args = verb.usage && verb.usage.args;
  usage.replaceChildren();
  usage.hidden = !verb.usage;
  if (!verb.usage) return;
  usage.append(h("h3", {}, "Usage"));
  if (verb.usage.action) usage.append(h("p", {}, `actions: ${[].concat(verb.usage.action).map(asText).join(", ")}`));
  if (args && typeof args === "object" && !Array.isArray(args)) {
    usage.append(h("dl", {}, Object.entries(args).flatMap(([name, hint]) => [h("dt", {}, name), h("dd", {}, asText(hint))])));
  } else if (args !== undefined) usage.append(h("pre", {}, asText(args)));
}

function renderSamples(verb) {
  const samples = samplesOf(verb);
  const container = byId("samples");
  container.hidden = !samples.length;
  container.replaceChildren(h("h3", {}, "Samples"), h("ul", {}, samples.map((sample, index) =>
    h("li", {}, h("button", { type: "button", class: "sample", onclick: () => useSample(sample) },
      `sample ${index + 1}`), h("code", {}, JSON.stringify(sample))))));
}

function useSample(sample) {
  byId("query").value = JSON.stringify(sample, null, 1);
  const action = sample && typeof sample === "object" && typeof sample.action === "string" ? sample.action.toLowerCase() : "start";
  if (state.form && action === "start") state.form.fill(sample.args);
  if ([...byId("action").options].some((option) => option.value === action)) byId("action").value = action;
  say("sample loaded: review it, then send");
}

function showMode() {
  const json = byId("mode-json").checked;
  byId("schema-form").hidden = json;
  byId("raw-editor").hidden = !json;
}

// ---- calls ----

/** The query to send: from the form (action + validated args) or the raw JSON editor; null when invalid. */
function readQuery() {
  const { verb } = state.current;
  if (!byId("mode-json").checked && state.form) {
    const action = byId("action").value;
    if (action !== "start") return { action };
    const read = state.form.read();
    if (read.problems) { say(`not sent: ${read.problems.map((p) => p.message).join("; ")}`, "bad"); return null; }
    return { action: "start", args: read.args };
  }
  let query;
  try { query = JSON.parse(byId("query").value || "null"); }
  catch (error) { say(`not sent: the query is not JSON (${error.message})`, "bad"); return null; }
  const isStart = query === null || typeof query !== "object" || !("action" in query) || String(query.action).toLowerCase() === "start";
  if (verb.args && isStart && query && typeof query === "object" && "action" in query) {
    const problems = validate(verb.args, query.args === undefined ? {} : query.args);
    if (problems.length) { say(`not sent: ${problems.map((p) => p.message).join("; ")}`, "bad"); return null; }
  }
  return query;
}

async function send(event) {
  event.preventDefault();
  if (!state.current) return;
  const { api, verb } = state.current;
  const query = readQuery();
  if (query === null) return;
  let reply;
  try { reply = await socket.call(api.name, verb.verb, query); }
  catch (error) { say(error.message, "bad"); return; }
  const isStart = verb.command && (query === null || typeof query !== "object" || !("action" in query) || String(query.action).toLowerCase() === "start");
  if (!reply.ok) { say(`${verb.verb}: ${replyText(reply)}`, "bad"); return; }
  if (isStart && board.started(api.name, verb.verb, reply.response)) {
    say(`${verb.verb} started, pid ${reply.response.pid}`, "good");
    return;
  }
  say(h("span", {}, `${verb.verb}: ${replyText(reply)} `, h("code", {}, JSON.stringify(reply.response ?? null))), "good");
}

byId("call-form").addEventListener("submit", send);
byId("mode-json").addEventListener("change", showMode);
byId("mode-form").addEventListener("change", showMode);

// ---- tasks the binder knows (the `list` action, where the binder has it) ----

function tasksIn(response) {
  const items = Array.isArray(response) ? response : (response && Array.isArray(response.tasks) ? response.tasks : []);
  return items.map((item) => {
    if (typeof item === "string") {
      const match = /@(\d+)$/.exec(item);
      return match ? { pid: Number(match[1]) } : null;
    }
    return item && Number.isInteger(item.pid) ? item : null;
  }).filter(Boolean);
}

async function discoverTasks(api) {
  for (const group of api.groups) {
    for (const verb of group.verbs.filter((candidate) => candidate.command)) {
      if (state.listSupport.get(api.name) === false) return;
      const reply = await socket.call(api.name, verb.verb, { action: "list" }).catch(() => null);
      if (!reply) return;
      if (!reply.ok) { state.listSupport.set(api.name, false); return; }
      state.listSupport.set(api.name, true);
      for (const entry of tasksIn(reply.response)) {
        const known = board.tasks.get(board.keyOf(api.name, verb.verb, entry.pid));
        if (known && !(known.orphaned && entry.state === "running")) continue;
        const pane = board.observed(api.name, verb.verb, entry);
        watch(api.name, verb.verb, pane, entry);
      }
    }
  }
}

/** A task this page did not see start (another tab, before a reload): its output replayed
 *  where the binder keeps it, and what follows live while it runs. */
async function watch(apiName, verbName, pane, entry) {
  const running = entry.state === undefined || entry.state === "running";
  let reply = await socket.call(apiName, verbName, { action: "subscribe", args: { pid: pane.pid, replay: true } }).catch(() => null);
  const replayed = reply && reply.ok && reply.response && typeof reply.response === "object" ? reply.response.replayed : undefined;
  if (running && (!reply || !reply.ok)) reply = await socket.call(apiName, verbName, { action: "subscribe", args: { pid: pane.pid } }).catch(() => null);
  const origin = entry.own === false ? "started by another session" : "started before this page loaded";
  if (replayed !== undefined) {
    pane.note(`${origin}: ${replayed} earlier events replayed${reply.response["replay-truncated"] ? " (the oldest were no longer kept)" : ""}`,
      reply.response["replay-truncated"] ? "warn" : "info");
  } else if (reply && reply.ok) pane.note(`${origin}: output from now on (this binder keeps no history)`);
  else pane.note(`${origin}: its output is not available here`);
}

// ---- what this sandbox does ----

async function explain(apiName, verbName, args) {
  const query = args === undefined ? { verb: verbName } : { verb: verbName, args };
  const reply = await socket.call(apiName, "explain", query);
  if (!reply.ok) throw new Error(`${apiName}/explain ${verbName}: ${replyText(reply)}`);
  return reply.response;
}

function refreshCompareChoices() {
  const select = byId("compare");
  const chosen = select.value;
  const options = [h("option", { value: "" }, "(nothing: one column)")];
  for (const api of state.apis.values()) {
    for (const group of api.groups) {
      for (const verb of group.verbs.filter((candidate) => candidate.command)) {
        options.push(h("option", { value: JSON.stringify([api.name, verb.verb]) }, `${api.name}/${verb.verb}`));
      }
    }
  }
  select.replaceChildren(...options);
  select.value = [...select.options].some((option) => option.value === chosen) ? chosen : "";
}

async function showExplanations() {
  const container = byId("explain-result");
  if (!state.explained) return;
  let second = null;
  try {
    const chosen = byId("compare").value;
    if (chosen) second = await explain(...JSON.parse(chosen));
  } catch (error) { container.replaceChildren(h("p", { class: "result bad" }, error.message)); return; }
  renderExplanations(container, state.explained, second);
}

byId("explain-button").addEventListener("click", async () => {
  const { api, verb } = state.current;
  let args;
  if (state.form && !byId("mode-json").checked) {
    const read = state.form.read();
    args = read.problems ? undefined : read.args;
  }
  try { state.explained = await explain(api.name, verb.verb, args); }
  catch (error) { say(error.message, "bad"); return; }
  byId("explain-section").hidden = false;
  await showExplanations();
  byId("explain-title").focus();
});
byId("compare").addEventListener("change", showExplanations);

// ---- afb-ui-devtools beside the page, when the binder serves it ----

fetch("/devtools/", { cache: "no-store" }).then((answer) => { byId("devtools").hidden = !answer.ok; }).catch(() => {});

socket.open();
