// The raw frame log: every ws-json1 frame sent and received, newest last, in a collapsible
// panel. Bounded (MAX_FRAMES kept, each cut at MAX_CHARS with a marker) and only drawn open.
import { h } from "./dom.js";

const MAX_FRAMES = 300;
const MAX_CHARS = 4000;

export class FrameLog {
  constructor(socket, panel, list, pauseButton, clearButton) {
    this.frames = [];
    this.dropped = 0;
    this.paused = false;
    this.panel = panel;
    this.list = list;
    socket.onFrame((direction, text) => this.add(direction, text));
    panel.addEventListener("toggle", () => this.draw());
    pauseButton.addEventListener("click", () => {
      this.paused = !this.paused;
      pauseButton.setAttribute("aria-pressed", String(this.paused));
      pauseButton.textContent = this.paused ? "Resume" : "Pause";
    });
    clearButton.addEventListener("click", () => { this.frames = []; this.dropped = 0; this.draw(); });
  }

  add(direction, text) {
    if (this.paused) return;
    const shown = text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS)} … (${text.length - MAX_CHARS} more characters)` : text;
    const frame = { direction, text: shown, time: new Date().toLocaleTimeString() };
    this.frames.push(frame);
    if (this.frames.length > MAX_FRAMES) { this.frames.shift(); this.dropped += 1; }
    if (this.panel.open) {
      this.list.append(this.item(frame));
      if (this.list.children.length > MAX_FRAMES) this.list.firstChild.remove();
    }
  }

  item(frame) {
    return h("li", { class: frame.direction }, h("span", { class: "direction" }, frame.direction === "sent" ? "→ " : "← "),
      h("time", {}, frame.time), " ", h("code", {}, frame.text));
  }

  draw() {
    if (!this.panel.open) { this.list.replaceChildren(); return; }
    const marker = this.dropped ? [h("li", { class: "cap-marker" }, `${this.dropped} older frames not kept`)] : [];
    this.list.replaceChildren(...marker, ...this.frames.map((frame) => this.item(frame)));
  }
}
