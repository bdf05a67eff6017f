// The PrometheusRule of deploy/k8s carries the groups of deploy/prometheus/rules.yml.
//
//   node prometheusrule.mjs generate > ../k8s/base/prometheusrule.yaml
//       writes the PrometheusRule from rules.yml (run it after changing rules.yml);
//   node prometheusrule.mjs compare FILE...
//       fails unless every PrometheusRule in FILEs (rendered overlays) has exactly the
//       groups of rules.yml, and at least one is found.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { parse, stringify } from "yaml";
import { describe, Problems, readObjects, run } from "./lib.mjs";

const rulesFile = join(dirname(fileURLToPath(import.meta.url)), "../prometheus/rules.yml");

function rulesGroups() {
  const rules = parse(readFileSync(rulesFile, "utf8"), { uniqueKeys: true });
  if (!Array.isArray(rules?.groups) || rules.groups.length === 0) {
    throw new Error(`${rulesFile}: no groups`);
  }
  return rules.groups;
}

function generate() {
  const rule = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: {
      name: "cosched",
      labels: { "app.kubernetes.io/name": "cosched" },
    },
    spec: { groups: rulesGroups() },
  };
  process.stdout.write(
    "# Generated from deploy/prometheus/rules.yml by deploy/validate/prometheusrule.mjs\n" +
      "# (`node prometheusrule.mjs generate > ../k8s/base/prometheusrule.yaml`); do not edit.\n" +
      "# The Prometheus Operator loads these groups into every Prometheus whose ruleSelector\n" +
      "# matches this object's labels.\n" +
      stringify(rule, { lineWidth: 0 }),
  );
}

function compare(files) {
  const problems = new Problems("prometheusrule");
  const groups = rulesGroups();
  let found = 0;
  for (const file of files) {
    for (const object of readObjects(file)) {
      if (object.kind !== "PrometheusRule") continue;
      found++;
      const theirs = object.spec?.groups;
      if (isDeepStrictEqual(theirs, groups)) continue;
      const names = (gs) => (Array.isArray(gs) ? gs.map((g) => g?.name).join(", ") : "none");
      problems.add(
        `${file}: ${describe(object)}`,
        `its groups differ from deploy/prometheus/rules.yml (groups here: ${names(theirs)}; ` +
          `there: ${names(groups)}); regenerate with \`node prometheusrule.mjs generate\``,
      );
    }
  }
  if (found === 0) problems.add(files.join(" "), "no PrometheusRule found");
  problems.finish(`${found} PrometheusRule(s) carry the groups of rules.yml`);
}

run(() => {
  const [command, ...files] = process.argv.slice(2);
  if (command === "generate" && files.length === 0) return generate();
  if (command === "compare" && files.length > 0) return compare(files);
  console.error("usage: prometheusrule.mjs generate | compare FILE...");
  process.exit(2);
});
