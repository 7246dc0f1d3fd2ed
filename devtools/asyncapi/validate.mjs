// Validators the test run uses (installed by devtools/ops_tools.sh into .cache/node).
//
//   node validate.mjs asyncapi FILE
//       parses and validates an AsyncAPI document with @asyncapi/parser; prints one line per
//       diagnostic ("error|warning|info|hint path: message") and "valid: N channels, N
//       operations, N messages"; exit 1 when any diagnostic is an error.
//   node validate.mjs samples FILE
//       FILE holds JSON lines {"where": ..., "schema": PATH, "instance": ...}; each instance is
//       validated against the JSON Schema (draft 2020-12) at PATH with ajv (formats on); prints
//       one line per invalid sample and "samples: N valid, N invalid"; exit 1 when any is invalid.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";

// The packages are looked up in LEADSLA_NODE_DIR (default .cache/node, from the working folder).
const require = createRequire(resolve(process.env.LEADSLA_NODE_DIR ?? ".cache/node", "package.json"));
const [mode, file] = process.argv.slice(2);
const severities = ["error", "warning", "info", "hint"];

async function asyncapi(path) {
  const { Parser } = require("@asyncapi/parser");
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"), {
    source: resolve(path),
  });
  let errors = 0;
  for (const d of diagnostics) {
    if (d.severity === 0) errors += 1;
    console.log(`${severities[d.severity] ?? d.severity} ${(d.path ?? []).join(".")}: ${d.message}`);
  }
  if (!document || errors) {
    console.log(`invalid: ${errors} error(s)`);
    return 1;
  }
  console.log(
    `valid: ${document.channels().length} channels, ${document.operations().length} operations, ` +
      `${document.allMessages().length} messages`,
  );
  return 0;
}

function samples(path) {
  const Ajv2020 = require("ajv/dist/2020").default;
  const addFormats = require("ajv-formats").default;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const compiled = new Map();
  let valid = 0;
  let invalid = 0;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const { where, schema, instance } = JSON.parse(line);
    if (!compiled.has(schema)) compiled.set(schema, ajv.compile(JSON.parse(readFileSync(schema, "utf8"))));
    const check = compiled.get(schema);
    if (check(instance)) {
      valid += 1;
    } else {
      invalid += 1;
      console.log(`${where}: ${ajv.errorsText(check.errors)}`);
    }
  }
  console.log(`samples: ${valid} valid, ${invalid} invalid`);
  return invalid ? 1 : 0;
}

const code = mode === "asyncapi" ? await asyncapi(file) : mode === "samples" ? samples(file) : 2;
if (code === 2) console.error("usage: node validate.mjs asyncapi FILE | samples FILE");
process.exit(code);
