// DOM helpers. Every string goes in as text (textContent / attributes), never as HTML:
// the page shows what the binder and the commands print, and that must never run.

/** h("div", {class: "x", onclick: f}, "text", child...) */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function byId(id) { return document.getElementById(id); }

/** A value as readable text: strings as they are, anything else as JSON. */
export function asText(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

let counter = 0;
export function uniqueId(prefix) { counter += 1; return `${prefix}-${counter}`; }
