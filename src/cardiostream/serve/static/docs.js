// The API page: the server's own OpenAPI document, one block per operation, built with DOM
// calls only (no markup from the document is ever parsed as HTML).

const OPEN = new Set(["/healthz", "/v1/asyncapi.json"]);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

function resolve(doc, schema) {
  const ref = schema && schema.$ref;
  if (!ref || !ref.startsWith("#/components/schemas/")) return schema;
  return doc.components.schemas[ref.slice("#/components/schemas/".length)];
}

function params(op) {
  if (!op.parameters || !op.parameters.length) return null;
  const rows = op.parameters.map((p) =>
    el("tr", {}, el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
       el("td", {}, p.required ? "required" : ""), el("td", {}, p.description || "")));
  return el("table", {}, el("tr", {}, el("th", {}, "parameter"), el("th", {}, "in"),
                            el("th", {}, ""), el("th", {}, "")), ...rows);
}

function operation(doc, path, method, op) {
  const head = el("summary", {}, el("span", { class: "method" }, method.toUpperCase()),
                  el("span", { class: "path" }, path));
  if (OPEN.has(path)) head.append(el("span", { class: "open" }, "open"));
  head.append(el("span", { class: "hint" }, op.summary || ""));
  const body = el("div", { class: "body" }, el("p", { class: "desc" }, op.description || ""));
  const table = params(op);
  if (table) body.append(table);
  const content = op.requestBody && op.requestBody.content;
  if (content) {
    for (const [type, media] of Object.entries(content)) {
      body.append(el("p", {}, "body: ", el("code", {}, type)),
                  el("pre", {}, JSON.stringify(resolve(doc, media.schema), null, 1)));
    }
  }
  const codes = Object.entries(op.responses || {}).map(([code, r]) =>
    el("tr", {}, el("td", {}, el("code", {}, code)), el("td", {}, r.description || "")));
  body.append(el("table", {}, el("tr", {}, el("th", {}, "status"), el("th", {}, "")), ...codes));
  return el("details", { class: "op" }, head, body);
}

async function main() {
  const status = document.getElementById("docs-status");
  try {
    const doc = await (await fetch("/openapi.json")).json();
    status.textContent = `${doc.info.title} ${doc.info.version}: ${doc.info.description || ""}`;
    const main = document.getElementById("docs");
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) main.append(operation(doc, path, method, op));
    }
  } catch (err) {
    status.textContent = `cannot read /openapi.json: ${err}`;
  }
}

main();
