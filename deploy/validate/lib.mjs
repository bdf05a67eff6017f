// Helpers shared by the validators: read YAML documents, report problems, exit.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import ts from "typescript";
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

// tsc --strict --noEmit over generated TypeScript files. Returns one entry per diagnostic:
// the file it is in (resolved; null for a global one), its 1-based line and that line's text,
// and the message.
export function typeCheckStrict(paths) {
  const program = ts.createProgram(paths, {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n     ");
    if (!d.file || d.start === undefined) return { file: null, line: 0, text: "", message };
    const line = d.file.getLineAndCharacterOfPosition(d.start).line + 1;
    const text = d.file.text.split("\n")[line - 1].trim();
    return { file: resolve(d.file.fileName), line, text, message };
  });
}
