// A tiny OpenAPI 3 renderer for /docs: operations by tag, their parameters, request body
// fields and responses (status, headers, body fields). No dependencies, no network but
// /openapi.json; every text from the document is inserted as text, never as HTML.
(function () {
  "use strict";
  var spec = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }

  function deref(obj) {
    var seen = 0;
    while (obj && obj.$ref && seen++ < 20) {
      obj = obj.$ref.replace(/^#\//, "").split("/").reduce(function (o, k) { return o && o[k]; }, spec);
    }
    return obj || {};
  }

  function typeOf(schema) {
    var s = deref(schema);
    if (s.type === "array") return "array of " + typeOf(s.items || {});
    if (schema && schema.$ref) return schema.$ref.split("/").pop();
    var t = s.type || "any";
    if (s.format) t += " (" + s.format + ")";
    if (s.enum) t += ": " + s.enum.join(" | ");
    return t;
  }

  function limits(s) {
    var parts = [];
    if (s.minLength !== undefined || s.maxLength !== undefined) parts.push("length " + (s.minLength || 0) + ".." + (s.maxLength || "∞"));
    if (s.minimum !== undefined || s.maximum !== undefined) parts.push("range " + (s.minimum ?? "") + ".." + (s.maximum ?? ""));
    if (s.pattern) parts.push("pattern " + s.pattern);
    return parts.join("; ");
  }

  function fieldRows(schema, prefix, rows, depth) {
    var s = deref(schema);
    var required = s.required || [];
    Object.keys(s.properties || {}).forEach(function (name) {
      var prop = s.properties[name], resolved = deref(prop);
      rows.push(el("tr", {}, [
        el("td", {}, [el("code", {text: prefix + name}), required.indexOf(name) >= 0 ? el("span", {class: "req", text: "required"}) : null]),
        el("td", {text: typeOf(prop)}),
        el("td", {text: [resolved.description || "", limits(resolved)].filter(Boolean).join(" — ")})
      ]));
      if (depth < 3 && resolved.properties) fieldRows(prop, prefix + name + ".", rows, depth + 1);
    });
    return rows;
  }

  function fieldsTable(schema) {
    var rows = fieldRows(schema, "", [], 0);
    if (!rows.length) return el("p", {class: "desc", text: typeOf(schema)});
    return el("table", {}, [el("tr", {}, [el("th", {text: "field"}), el("th", {text: "type"}), el("th", {text: "notes"})])].concat(rows));
  }

  function parameters(op) {
    var ps = (op.parameters || []).map(deref);
    if (!ps.length) return null;
    return el("div", {}, [el("h4", {text: "Parameters"}), el("table", {}, [
      el("tr", {}, [el("th", {text: "name"}), el("th", {text: "in"}), el("th", {text: "type"}), el("th", {text: "notes"})])
    ].concat(ps.map(function (p) {
      return el("tr", {}, [
        el("td", {}, [el("code", {text: p.name}), p.required ? el("span", {class: "req", text: "required"}) : null]),
        el("td", {text: p.in}), el("td", {text: typeOf(p.schema || {})}), el("td", {text: p.description || ""})
      ]);
    })))]);
  }

  function body(op) {
    if (!op.requestBody) return null;
    var content = deref(op.requestBody).content || {};
    var type = Object.keys(content)[0];
    return el("div", {}, [el("h4", {}, ["Request body ", el("code", {text: type})]), fieldsTable(content[type].schema || {})]);
  }

  function responses(op) {
    var rows = Object.keys(op.responses || {}).sort().map(function (status) {
      var r = deref(op.responses[status]);
      var content = r.content || {}, type = Object.keys(content)[0];
      var headers = Object.keys(r.headers || {}).join(", ");
      return el("tr", {}, [
        el("td", {class: "status s" + status[0], text: status}),
        el("td", {text: r.description || ""}),
        el("td", {}, [type ? fieldsTable(content[type].schema || {}) : el("span", {class: "desc", text: "no body"}),
                      headers ? el("p", {class: "lock", text: "headers: " + headers}) : null])
      ]);
    });
    return el("div", {}, [el("h4", {text: "Responses"}), el("table", {}, rows)]);
  }

  function anchor(method, path) { return (method + path).replace(/[^A-Za-z0-9]+/g, "-"); }

  function render() {
    document.getElementById("title").textContent = (spec.info.title || "API") + " " + (spec.info.version || "");
    document.getElementById("subtitle").textContent = spec.info.description || "";
    var byTag = {}, nav = document.getElementById("nav"), ops = document.getElementById("ops");
    ops.textContent = "";
    Object.keys(spec.paths).forEach(function (path) {
      Object.keys(spec.paths[path]).forEach(function (method) {
        var op = spec.paths[path][method], tag = (op.tags || ["other"])[0];
        (byTag[tag] = byTag[tag] || []).push({path: path, method: method, op: op});
      });
    });
    Object.keys(byTag).forEach(function (tag) {
      nav.appendChild(el("h3", {text: tag}));
      byTag[tag].forEach(function (e) {
        var id = anchor(e.method, e.path);
        nav.appendChild(el("a", {href: "#" + id}, [el("code", {text: e.method.toUpperCase() + " " + e.path})]));
        ops.appendChild(el("section", {class: "op", id: id}, [
          el("div", {class: "sig"}, [el("span", {class: "method " + e.method, text: e.method}), el("span", {text: e.path})]),
          el("p", {class: "summary", text: e.op.summary || ""}),
          e.op.description ? el("p", {class: "desc", text: e.op.description}) : null,
          el("p", {class: "lock", text: e.op.security && e.op.security.length === 0 ? "no authentication"
            : (e.op.security || [{bearer: []}]).map(function (s) { return Object.keys(s)[0]; }).join(", ") + " authentication"}),
          parameters(e.op), body(e.op), responses(e.op)
        ]));
      });
    });
  }

  fetch("openapi.json").then(function (r) {
    if (!r.ok) throw new Error("GET /openapi.json answered " + r.status);
    return r.json();
  }).then(function (doc) { spec = doc; render(); }).catch(function (err) {
    document.getElementById("error").textContent = "Could not load the API description: " + err.message;
  });
}());
