// A Grafana dashboard JSON against @grafana/schema's Dashboard type: the JSON becomes a
// TypeScript object literal that `satisfies` the type, and `tsc --strict` checks it, so a
// wrong type, a missing required field or an unknown field at any depth fails (an object
// literal may name only known properties). JSON cannot write a TypeScript string enum
// member, so enum-typed fields accept the member's string value instead (Json<T> below).
//
//   node dashboard.mjs DASHBOARD.json...
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Problems, run, typeCheckStrict } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const header = `import type { Dashboard } from "@grafana/schema";
// A string enum becomes the union of its values; everything else keeps its type.
type Json<T> = T extends string ? \`\${T}\`
  : T extends readonly (infer U)[] ? Json<U>[]
  : T extends object ? { [K in keyof T]: Json<T[K]> }
  : T;
`;

run(() => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: dashboard.mjs DASHBOARD.json...");
    process.exit(2);
  }
  const problems = new Problems("dashboard");
  const generated = join(here, ".generated", `dashboard-${process.pid}`);
  mkdirSync(generated, { recursive: true });
  const sources = new Map(); // generated path -> dashboard file
  try {
    for (const [i, file] of files.entries()) {
      const text = readFileSync(file, "utf8");
      let value;
      try {
        value = JSON.parse(text);
      } catch (e) {
        problems.add(file, `not JSON: ${e.message}`);
        continue;
      }
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        problems.add(file, "not a JSON object");
        continue;
      }
      const path = join(generated, `dashboard${i}.ts`);
      writeFileSync(path, `${header}export const dashboard = (${JSON.stringify(value, null, 2)}) satisfies Json<Dashboard>;\n`);
      sources.set(resolve(path), file);
    }
    for (const d of typeCheckStrict([...sources.keys()])) {
      const file = d.file && sources.get(d.file);
      if (!file) {
        problems.add("tsc", d.message);
        continue;
      }
      problems.add(file, `${d.message} (at \`${d.text}\`)`);
    }
  } finally {
    rmSync(generated, { recursive: true, force: true });
  }
  problems.finish(`${files.length} dashboard(s) satisfy @grafana/schema's Dashboard`);
});
