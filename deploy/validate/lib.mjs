// Helpers shared by the validators: read YAML documents, report problems, exit.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// The objects of a multi-document YAML file (empty documents skipped). A YAML syntax error,
// or a duplicate key, is an error: the API server would refuse the file too.
export function readObjects(file) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"), { uniqueKeys: true });
  const objects = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      throw new Error(`${file}: ${doc.errors.map((e) => e.message).join("; ")}`);
    }
    const value = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

// "Kind/name" for messages.
export function describe(object) {
  return `${object?.kind ?? "?"}/${object?.metadata?.name ?? "?"}`;
}

// Collects problems; finish() prints them and exits 1 when there are any.
export class Problems {
  constructor(tool) {
    this.tool = tool;
    this.list = [];
  }
  add(where, message) {
    this.list.push(`${where}: ${message}`);
  }
  finish(okMessage) {
    if (this.list.length > 0) {
      for (const p of this.list) console.error(`${this.tool}: ${p}`);
      process.exit(1);
    }
    if (okMessage) console.log(`${this.tool}: ${okMessage}`);
  }
}

// Runs main(); an exception (unreadable file, bad YAML) is a failure with its message.
export function run(main) {
  Promise.resolve()
    .then(main)
    .catch((e) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    });
}
