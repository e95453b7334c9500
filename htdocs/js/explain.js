// "What this sandbox does": the steps of a command's sandbox from the `explain` verb, grouped
// by concern in plain words, and two commands side by side with what differs marked.
import { h } from "./dom.js";

export const CONCERNS = [
  ["identity", "Who it runs as", "the binder's own user, group and supplementary groups (nothing changed)"],
  ["environment", "Environment variables", "none set"],
  ["capabilities", "Root powers (capabilities)", "unchanged: whatever the user it runs as has"],
  ["namespaces", "What it sees of the machine (namespaces)", "shares the binder's: every process, the network, the host name"],
  ["mounts", "Its file system (mounts)", "the host's whole file system, as the user it runs as may see it"],
  ["seccomp", "System calls it may not make (seccomp)", "no filter: every system call is allowed"],
  ["cgroups", "Resource group (cgroups)", "no task group of its own: no memory/CPU limits, stop signals its process group"],
  ["rlimits", "Per-process limits (rlimits)", "the binder's limits"],
  ["process", "How it is started", ""],
  ["exec", "The command line", ""],
];

/** The steps of `reply.steps` by concern, in CONCERNS order. */
function byConcern(steps) {
  const groups = new Map(CONCERNS.map(([concern]) => [concern, []]));
  for (const step of steps || []) {
    if (!groups.has(step.concern)) groups.set(step.concern, []);
    groups.get(step.concern).push(String(step.text));
  }
  return groups;
}

function titleOf(concern) {
  const known = CONCERNS.find(([name]) => name === concern);
  return known ? known[1] : concern;
}

function defaultOf(concern) {
  const known = CONCERNS.find(([name]) => name === concern);
  return known ? known[2] : "";
}

/** One column: heading, then per concern its steps (or the plain-words default), `others` marking the differences. */
function column(label, explanation, others) {
  const groups = byConcern(explanation.steps);
  const otherGroups = others ? byConcern(others.steps) : null;
  const sections = [];
  for (const [concern, texts] of groups) {
    const theirs = otherGroups ? otherGroups.get(concern) || [] : null;
    const items = texts.length
      ? texts.map((text) => {
        const differs = theirs !== null && !theirs.includes(text) && concern !== "exec";
        return h("li", { class: differs ? "differs" : "" }, text, differs ? h("span", { class: "only" }, " only here") : "");
      })
      : [h("li", { class: theirs && theirs.length ? "default differs" : "default" }, defaultOf(concern) || "nothing")];
    sections.push(h("section", { class: `concern concern-${concern}` }, h("h4", {}, titleOf(concern)), h("ul", {}, items)));
  }
  return h("div", { class: "explain-column" },
    h("h3", {}, label),
    h("p", { class: "hint" }, `sandbox ${explanation.sandbox}${explanation.info ? ` — ${explanation.info}` : ""}`),
    sections);
}

/** Renders one explanation, or two side by side (`second` may be null). */
export function renderExplanations(container, first, second) {
  const label = (e) => `${e.api}/${e.verb}`;
  container.replaceChildren(h("div", { class: second ? "explain-grid two" : "explain-grid" },
    column(label(first), first, second), second ? column(label(second), second, first) : ""));
}
