// MPIJobs (kubeflow.org/v2beta1) against the MPI Operator's own CustomResourceDefinition and
// its rules:
//   1. the CRD's openAPIV3Schema, strictly: wherever the schema lists properties and does
//      not say x-kubernetes-preserve-unknown-fields, no other property is allowed (the API
//      server prunes unknown fields silently; here they fail), formats int32/int64/date-time
//      hold, and x-kubernetes-list-type map/set lists have unique keys/items;
//   2. what the operator's validation (pkg/apis/kubeflow/validation) refuses after its
//      defaults: exactly one Launcher replica, at least one Worker, restart policies Never
//      or OnFailure (set explicitly here), known clean-pod policy, MPI implementation and
//      managedBy, non-negative counts, pod names that are DNS labels;
//   3. cosched's own: mpirun's -np fits Worker replicas x slotsPerWorker, and every -x
//      variable is set in the launcher's environment.
//
//   node mpijob.mjs FILE...        (the CRD: $COSCHED_MPIJOB_CRD, by default the copy in
//                                   crds/kubeflow.org_mpijobs.yaml, see crds/README.md)
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import { parse } from "yaml";
import { describe, Problems, readObjects, run } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const crdFile =
  process.env.COSCHED_MPIJOB_CRD ??
  join(here, "crds/kubeflow.org_mpijobs.yaml");

// Makes the schema strict in place: additionalProperties: false next to every `properties`
// that allows no unknown fields.
export function forbidUnknownFields(schema) {
  if (Array.isArray(schema)) {
    schema.forEach(forbidUnknownFields);
    return schema;
  }
  if (schema === null || typeof schema !== "object") return schema;
  if (
    schema.properties &&
    schema["x-kubernetes-preserve-unknown-fields"] !== true &&
    schema.additionalProperties === undefined
  ) {
    schema.additionalProperties = false;
  }
  for (const value of Object.values(schema)) forbidUnknownFields(value);
  return schema;
}

function loadSchema() {
  if (!existsSync(crdFile)) {
    throw new Error(
      `mpijob: the MPIJob CRD is not at ${crdFile}; set COSCHED_MPIJOB_CRD to its path`,
    );
  }
  const crd = parse(readFileSync(crdFile, "utf8"));
  const version = crd?.spec?.versions?.find((v) => v.name === "v2beta1" && v.served);
  const schema = version?.schema?.openAPIV3Schema;
  if (crd?.spec?.names?.kind !== "MPIJob" || !schema) {
    throw new Error(`${crdFile}: no served v2beta1 MPIJob schema`);
  }
  return forbidUnknownFields(schema);
}

function makeValidator(schema) {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
  // Annotations the API server reads that change nothing a static check can see.
  for (const keyword of [
    "x-kubernetes-int-or-string",
    "x-kubernetes-map-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
  ]) {
    ajv.addKeyword({ keyword });
  }
  // Lists the API server merges by key: no two items with the same key, or the same item.
  ajv.addKeyword({
    keyword: "x-kubernetes-list-type",
    schemaType: "string",
    validate: function listType(type, data, parentSchema) {
      if (!Array.isArray(data) || type === "atomic") return true;
      const keys = parentSchema["x-kubernetes-list-map-keys"] ?? [];
      const keyOf = (item) =>
        JSON.stringify(type === "map" ? keys.map((k) => item?.[k] ?? null) : item);
      const seen = new Set();
      for (const item of data) {
        const key = keyOf(item);
        if (seen.has(key)) {
          listType.errors = [{ message: `duplicate ${type === "map" ? keys.join("+") : "item"} ${key}` }];
          return false;
        }
        seen.add(key);
      }
      return true;
    },
  });
  ajv.addFormat("int32", {
    type: "number",
    validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
  });
  ajv.addFormat("int64", { type: "number", validate: (n) => Number.isInteger(n) });
  ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  return ajv.compile(schema);
}

const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const objectMetaFields = new Set([
  "name", "generateName", "namespace", "labels", "annotations", "finalizers",
  "ownerReferences", "uid", "resourceVersion", "generation", "creationTimestamp",
  "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink",
]);

// The operator's validation, on the object as written (its defaults noted where they apply).
function operatorRules(job, add) {
  const spec = job.spec ?? {};
  for (const key of Object.keys(job.metadata ?? {})) {
    if (!objectMetaFields.has(key)) add(`metadata.${key} is not an ObjectMeta field`);
  }
  const name = job.metadata?.name;
  if (typeof name !== "string" || name === "") add("metadata.name is required");
  const replicaSpecs = spec.mpiReplicaSpecs;
  if (!replicaSpecs || typeof replicaSpecs !== "object") {
    add("spec.mpiReplicaSpecs is required");
    return;
  }
  for (const type of Object.keys(replicaSpecs)) {
    if (type !== "Launcher" && type !== "Worker") {
      add(`spec.mpiReplicaSpecs.${type}: the operator knows only Launcher and Worker`);
    }
  }
  for (const type of ["Launcher", "Worker"]) {
    const replica = replicaSpecs[type];
    const path = `spec.mpiReplicaSpecs.${type}`;
    if (!replica) {
      add(`${path} is required`);
      continue;
    }
    if (!["Never", "OnFailure"].includes(replica.restartPolicy)) {
      add(`${path}.restartPolicy must be Never or OnFailure, not ${replica.restartPolicy}`);
    }
    if (!Array.isArray(replica.template?.spec?.containers) || replica.template.spec.containers.length === 0) {
      add(`${path}.template.spec.containers: at least one container`);
    }
    if (!Number.isInteger(replica.replicas)) add(`${path}.replicas is required`);
  }
  const launchers = replicaSpecs.Launcher?.replicas;
  if (launchers !== undefined && launchers !== 1) {
    add(`spec.mpiReplicaSpecs.Launcher.replicas must be 1, not ${launchers}`);
  }
  const workers = replicaSpecs.Worker?.replicas;
  if (workers !== undefined && !(workers >= 1)) {
    add(`spec.mpiReplicaSpecs.Worker.replicas must be at least 1, not ${workers}`);
  }
  if (typeof name === "string" && Number.isInteger(workers)) {
    const lastPod = `${name}-worker-${Math.max(workers, 1) - 1}`;
    if (lastPod.length > 63 || !dnsLabel.test(lastPod)) {
      add(`metadata.name: pod name ${lastPod} would not be a DNS label`);
    }
  }
  const nonNegative = (value, path) => {
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
      add(`${path} must be a non-negative integer, not ${value}`);
    }
  };
  nonNegative(spec.slotsPerWorker, "spec.slotsPerWorker");
  const runPolicy = spec.runPolicy ?? {};
  if (runPolicy.cleanPodPolicy !== undefined && !["None", "Running", "All"].includes(runPolicy.cleanPodPolicy)) {
    add(`spec.runPolicy.cleanPodPolicy must be None, Running or All, not ${runPolicy.cleanPodPolicy}`);
  }
  for (const field of ["ttlSecondsAfterFinished", "activeDeadlineSeconds", "backoffLimit"]) {
    nonNegative(runPolicy[field], `spec.runPolicy.${field}`);
  }
  const managedBy = ["kubeflow.org/mpi-operator", "kueue.x-k8s.io/multikueue"];
  if (runPolicy.managedBy !== undefined && !managedBy.includes(runPolicy.managedBy)) {
    add(`spec.runPolicy.managedBy must be one of ${managedBy.join(", ")}`);
  }
  if (spec.sshAuthMountPath !== undefined && spec.sshAuthMountPath === "") {
    add("spec.sshAuthMountPath must not be empty");
  }
  const implementations = ["OpenMPI", "Intel", "MPICH"];
  if (spec.mpiImplementation !== undefined && !implementations.includes(spec.mpiImplementation)) {
    add(`spec.mpiImplementation must be one of ${implementations.join(", ")}`);
  }
}

// cosched's rules for its launcher: mpirun's ranks fit the slots, and -x names set variables.
function launcherRules(job, add) {
  const launcher = job.spec?.mpiReplicaSpecs?.Launcher?.template?.spec?.containers?.[0];
  const words = [...(launcher?.command ?? []), ...(launcher?.args ?? [])].map(String);
  if (!words.includes("mpirun")) return;
  const slots = (job.spec?.slotsPerWorker ?? 1) * (job.spec?.mpiReplicaSpecs?.Worker?.replicas ?? 0);
  const env = new Set((launcher.env ?? []).map((e) => e.name));
  for (let i = 0; i < words.length - 1; i++) {
    if (["-np", "-n", "--np", "-c"].includes(words[i])) {
      const ranks = Number(words[i + 1]);
      if (!(Number.isInteger(ranks) && ranks >= 1 && ranks <= slots)) {
        add(`launcher: mpirun ${words[i]} ${words[i + 1]} does not fit ${slots} worker slots`);
      }
    }
    if (words[i] === "-x" && !words[i + 1].includes("=") && !env.has(words[i + 1])) {
      add(`launcher: mpirun -x ${words[i + 1]}: not set in the launcher's env`);
    }
  }
}

run(() => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: mpijob.mjs FILE...");
    process.exit(2);
  }
  const validate = makeValidator(loadSchema());
  const problems = new Problems("mpijob");
  let found = 0;
  for (const file of files) {
    for (const object of readObjects(file)) {
      if (object.kind !== "MPIJob") continue;
      found++;
      const where = `${file}: ${describe(object)}`;
      const add = (message) => problems.add(where, message);
      if (object.apiVersion !== "kubeflow.org/v2beta1") {
        add(`apiVersion ${object.apiVersion}: only kubeflow.org/v2beta1 is served`);
        continue;
      }
      if (!validate(object)) {
        for (const e of validate.errors) {
          const extra = e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : "";
          add(`CRD schema: ${e.instancePath || "/"} ${e.message}${extra}`);
        }
      }
      operatorRules(object, add);
      launcherRules(object, add);
    }
  }
  if (found === 0) problems.add(files.join(" "), "no MPIJob found");
  problems.finish(`${found} MPIJob(s) match the CRD schema and the operator's rules`);
});
