#!/usr/bin/env node
// Validates an OpenAPI 3.1 document (docs/openapi.json; CTest: openapi_valid):
//
//   node tests/node/validate-openapi.js docs/openapi.json
//
// 1. The whole document against the OpenAPI 3.1 schema, with
//    @seriousme/openapi-schema-validator (pinned in package.json), which also resolves
//    every internal $ref.
// 2. Every Schema Object it holds (components, parameters, headers, bodies, answers)
//    compiled as JSON Schema 2020-12 by the Ajv that validator uses, in strict mode. The
//    OpenAPI schema treats Schema Objects as opaque, so without this a misspelt keyword
//    ("maxLenght") or a `required` member missing from `properties` would pass.
//
// Prints every error and exits 1 on any (2 on a usage error).
"use strict";

const fs = require("node:fs");
const { createRequire } = require("node:module");

const kValidator = "@seriousme/openapi-schema-validator";

// Every Schema Object of the document with the JSON pointer where it sits: the
// component schemas and the `schema` member of parameters, headers and media types.
function schemaObjects(doc) {
  const found = [];
  for (const [name, schema] of Object.entries(doc.components?.schemas ?? {}))
    found.push([`#/components/schemas/${name}`, schema]);
  const walk = (node, pointer) => {
    if (Array.isArray(node)) return node.forEach((item, i) => walk(item, `${pointer}/${i}`));
    if (node === null || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node)) {
      const at = `${pointer}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
      if (key === "schema" && value && typeof value === "object") found.push([at, value]);
      else if (key !== "schemas") walk(value, at);
    }
  };
  walk(doc.paths ?? {}, "#/paths");
  walk(doc.components ?? {}, "#/components");
  return found;
}

// Compiles each Schema Object; refs to #/components/schemas/X resolve against a copy
// of the component schemas registered under their own id.
function checkSchemaObjects(doc) {
  const requireFromValidator = createRequire(require.resolve(kValidator));
  const Ajv2020 = requireFromValidator("ajv/dist/2020.js").default;
  const addFormats = requireFromValidator("ajv-formats").default;
  const ajv = new Ajv2020({ strict: true, strictRequired: true, allErrors: true });
  addFormats(ajv);
  const base = "urn:waybill:openapi";
  const rewrite = (node) => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== "object") return node;
    const out = {};
    for (const [k, v] of Object.entries(node))
      out[k] = k === "$ref" && typeof v === "string" && v.startsWith("#/components/schemas/")
                   ? `${base}#/$defs/${v.slice("#/components/schemas/".length)}`
                   : rewrite(v);
    return out;
  };
  const errors = [];
  try {
    ajv.addSchema({ $id: base, $defs: rewrite(doc.components?.schemas ?? {}) });
  } catch (e) {
    return [`components/schemas: ${e.message}`];
  }
  for (const [pointer, schema] of schemaObjects(doc)) {
    try {
      ajv.compile(rewrite(schema));
    } catch (e) {
      errors.push(`${pointer}: ${e.message}`);
    }
  }
  return errors;
}

async function main() {
  const file = process.argv[2];
  if (!file || process.argv.length > 3) {
    console.error("usage: validate-openapi.js <openapi.json>");
    return 2;
  }
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    console.error(`${file}: ${e.message}`);
    return 1;
  }
  let Validator;
  try {
    ({ Validator } = await import(kValidator));
  } catch (e) {
    console.error(`${kValidator} is not installed (scripts/install-deps.sh runs npm ci in tests/node): ${e.message}`);
    return 1;
  }
  const validator = new Validator({ allErrors: true });
  const result = await validator.validate(doc);
  if (!result.valid) {
    console.error(`${file}: not a valid OpenAPI document:`);
    console.error(typeof result.errors === "string" ? result.errors : JSON.stringify(result.errors, null, 2));
    return 1;
  }
  if (validator.version !== "3.1") {
    console.error(`${file}: OpenAPI ${validator.specificationVersion}, expected 3.1.x`);
    return 1;
  }
  const schemaErrors = checkSchemaObjects(doc);
  if (schemaErrors.length > 0) {
    console.error(`${file}: ${schemaErrors.length} Schema Object(s) are not valid JSON Schema 2020-12:`);
    for (const e of schemaErrors) console.error(`  ${e}`);
    return 1;
  }
  const methods = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);
  const operations = Object.values(doc.paths).reduce(
      (n, item) => n + Object.keys(item).filter((k) => methods.has(k)).length, 0);
  console.log(`${file}: valid OpenAPI ${validator.specificationVersion}, ${operations} operations, ` +
              `${schemaObjects(doc).length} schema objects`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e.stack || String(e));
    process.exit(1);
  });
