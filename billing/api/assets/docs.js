"use strict";
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})[c]);
const pretty = (v) => esc(JSON.stringify(v, null, 2));
fetch("/v1/openapi.json").then((r) => r.json()).then((doc) => {
  document.getElementById("info").textContent = `OpenAPI ${doc.openapi} · version ${doc.info.version} · every request but the public ones needs "Authorization: Bearer <api key>"`;
  const byTag = {};
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      (byTag[op.tags[0]] ||= []).push({path, method: method.toUpperCase(), op});
    }
  }
  const schemas = doc.components.schemas;
  const out = [];
  for (const [tag, ops] of Object.entries(byTag)) {
    out.push(`<h2>${esc(tag)}</h2>`);
    for (const {path, method, op} of ops) {
      const params = (op.parameters || []).map((p) => `<tr><td><code>${esc(p.name)}</code></td><td>${esc(p.in)}</td><td>${p.required ? "required" : ""}</td></tr>`).join("");
      const bodyRef = op.requestBody && op.requestBody.content["application/json"].schema.$ref;
      const body = bodyRef ? `<h4>Body: ${esc(bodyRef.split("/").pop())}</h4><pre>${pretty(schemas[bodyRef.split("/").pop()])}</pre>` : "";
      const responses = Object.entries(op.responses).map(([code, r]) => `<tr><td>${esc(code)}</td><td>${esc(r.description)}</td></tr>`).join("");
      out.push(`<details><summary><span class="m ${method}">${method}</span>${esc(path)}<span class="desc">${esc(op.summary)}</span></summary><div class="body">
        ${params ? `<h4>Parameters</h4><table>${params}</table>` : ""}${body}<h4>Responses</h4><table>${responses}</table></div></details>`);
    }
  }
  document.getElementById("ops").innerHTML = out.join("");
});
