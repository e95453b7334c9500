// A form generated from a command's `args` JSON Schema (the subset commands use: an object
// of scalar properties with types, enums, patterns, bounds), and the validator the page
// runs before sending — the binder checks again, this only spares a round trip.
import { h, uniqueId } from "./dom.js";

const NOT_JSON = Symbol("not JSON");
const TYPE_NAMES = { integer: "an integer", number: "a number", string: "a string", boolean: "true or false",
                     object: "an object", array: "an array", null: "null" };

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function hasType(value, type) {
  const actual = typeOf(value);
  return actual === type || (type === "number" && actual === "integer");
}

/** The first few problems of `value` against `schema`: [{path, message}] (empty when valid). */
export function validate(schema, value, path = "") {
  if (schema === true || schema === undefined || schema === null) return [];
  if (schema === false) return [{ path, message: "no value is allowed here" }];
  const where = path || "args";
  const problems = [];
  const types = schema.type === undefined ? null : [].concat(schema.type);
  if (types && !types.some((type) => hasType(value, type))) {
    return [{ path, message: `${where} must be ${types.map((t) => TYPE_NAMES[t] || t).join(" or ")}` }];
  }
  if (schema.enum && !schema.enum.some((item) => JSON.stringify(item) === JSON.stringify(value))) {
    problems.push({ path, message: `${where} must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}` });
  }
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    problems.push({ path, message: `${where} must be ${JSON.stringify(schema.const)}` });
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength) problems.push({ path, message: `${where} needs at least ${schema.minLength} characters` });
    if (schema.maxLength !== undefined && length > schema.maxLength) problems.push({ path, message: `${where} takes at most ${schema.maxLength} characters` });
    if (schema.pattern !== undefined) {
      let pattern = null;
      try { pattern = new RegExp(schema.pattern, "u"); } catch { /* the binder judges patterns JS cannot read */ }
      if (pattern && !pattern.test(value)) problems.push({ path, message: `${where} must match ${schema.pattern}` });
    }
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push({ path, message: `${where} must be ≥ ${schema.minimum}` });
    if (schema.maximum !== undefined && value > schema.maximum) problems.push({ path, message: `${where} must be ≤ ${schema.maximum}` });
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) problems.push({ path, message: `${where} must be > ${schema.exclusiveMinimum}` });
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) problems.push({ path, message: `${where} must be < ${schema.exclusiveMaximum}` });
    if (schema.multipleOf !== undefined && !Number.isInteger(value / schema.multipleOf)) problems.push({ path, message: `${where} must be a multiple of ${schema.multipleOf}` });
  }
  if (typeOf(value) === "object") {
    const properties = schema.properties || {};
    for (const name of schema.required || []) {
      if (!(name in value)) problems.push({ path: name, message: `${name} is required` });
    }
    for (const [name, item] of Object.entries(value)) {
      if (name in properties) problems.push(...validate(properties[name], item, name));
      else if (schema.additionalProperties === false) problems.push({ path: name, message: `${name} is not an argument of this command` });
      else if (typeof schema.additionalProperties === "object") problems.push(...validate(schema.additionalProperties, item, name));
    }
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) problems.push({ path, message: `${where} needs at least ${schema.minItems} items` });
    if (schema.maxItems !== undefined && value.length > schema.maxItems) problems.push({ path, message: `${where} takes at most ${schema.maxItems} items` });
    if (schema.items && typeof schema.items === "object") value.forEach((item, i) => problems.push(...validate(schema.items, item, `${where}[${i}]`)));
  }
  return problems;
}

function mainType(schema) {
  const types = [].concat(schema.type || (schema.enum ? typeOf(schema.enum[0]) : "string")).filter((t) => t !== "null");
  return types[0] || "string";
}

/** Fields for each property of an object schema; read() gives the args or {problems}. */
export class SchemaForm {
  constructor(schema) {
    this.schema = schema;
    this.fields = [];
    this.element = h("div", { class: "schema-form" });
    const required = new Set(schema.required || []);
    for (const [name, property] of Object.entries(schema.properties || {})) {
      this.fields.push(this.field(name, property || {}, required.has(name)));
    }
    if (!this.fields.length) this.element.append(h("p", { class: "hint" }, "This command takes no arguments."));
  }

  field(name, property, required) {
    const id = uniqueId("arg");
    const type = mainType(property);
    const helpId = `${id}-help`, errorId = `${id}-error`;
    let input;
    if (property.enum) {
      input = h("select", { id });
      if (!required) input.append(h("option", { value: "" }, "(not given)"));
      property.enum.forEach((choice, index) => input.append(h("option", { value: String(index) }, JSON.stringify(choice).replace(/^"|"$/g, ""))));
    } else if (type === "boolean") {
      input = h("input", { id, type: "checkbox" });
    } else if (type === "integer" || type === "number") {
      input = h("input", { id, type: "number", step: type === "integer" ? "1" : "any", inputmode: "decimal",
                           min: property.minimum, max: property.maximum });
    } else if (type === "object" || type === "array") {
      input = h("textarea", { id, rows: "2", class: "json", placeholder: type === "array" ? "[ … ] (JSON)" : "{ … } (JSON)" });
    } else {
      input = h("input", { id, type: "text", pattern: property.pattern, maxlength: property.maxLength, autocomplete: "off",
                           spellcheck: "false" });
    }
    input.setAttribute("aria-describedby", `${helpId} ${errorId}`);
    if (required && type !== "boolean") input.required = true;
    const hints = [property.description || property.title, property.pattern && `pattern ${property.pattern}`,
                   property.minimum !== undefined && `min ${property.minimum}`, property.maximum !== undefined && `max ${property.maximum}`]
      .filter(Boolean).join(" · ");
    const error = h("span", { id: errorId, class: "field-error", role: "alert" });
    const label = h("label", { for: id }, name, required ? h("span", { class: "required", title: "required" }, " *") : "",
                    h("span", { class: "type" }, ` ${type}`));
    this.element.append(h("div", { class: "field" }, label, input, h("span", { id: helpId, class: "hint" }, hints), error));
    const field = { name, property, type, input, error, required };
    if (property.default !== undefined) this.setValue(field, property.default);
    return field;
  }

  setValue(field, value) {
    const { input, property, type } = field;
    if (property.enum) {
      const index = property.enum.findIndex((choice) => JSON.stringify(choice) === JSON.stringify(value));
      input.value = index >= 0 ? String(index) : "";
    } else if (type === "boolean") input.checked = Boolean(value);
    else if (type === "object" || type === "array") input.value = value === undefined ? "" : JSON.stringify(value);
    else input.value = value === undefined ? "" : String(value);
  }

  /** Fill the fields from an args object (a sample); unknown keys are ignored. */
  fill(args) {
    for (const field of this.fields) this.setValue(field, args && typeof args === "object" ? args[field.name] : undefined);
  }

  rawValue(field) {
    const { input, property, type } = field;
    if (property.enum) return input.value === "" ? undefined : property.enum[Number(input.value)];
    if (type === "boolean") return input.checked;
    const text = input.value;
    if (text === "") return undefined;
    if (type === "integer" || type === "number") return Number(text);
    if (type === "object" || type === "array") {
      try { return JSON.parse(text); } catch { return NOT_JSON; }
    }
    return text;
  }

  /** {args} when valid, else {problems}; marks the fields in error and focuses the first. */
  read() {
    const args = {};
    const problems = [];
    for (const field of this.fields) {
      const value = this.rawValue(field);
      if (value === NOT_JSON) {
        problems.push({ path: field.name, message: `${field.name} is not valid JSON` });
      } else if (value !== undefined) args[field.name] = value;
    }
    problems.push(...validate(this.schema, args));
    for (const field of this.fields) {
      const mine = problems.filter((problem) => problem.path === field.name).map((problem) => problem.message);
      field.error.textContent = mine.join("; ");
      field.input.setAttribute("aria-invalid", mine.length ? "true" : "false");
    }
    const first = this.fields.find((field) => field.input.getAttribute("aria-invalid") === "true");
    if (first) first.input.focus();
    return problems.length ? { problems } : { args };
  }
}
