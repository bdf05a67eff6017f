// What no schema checks: the objects of one rendered file agree with each other, and every
// container is sized, probed, pinned and locked down.
//   - workload selectors match their pod template's labels; a StatefulSet's serviceName is a
//     headless Service of the set;
//   - Services, PodDisruptionBudgets, PodMonitors and NetworkPolicies select some pod
//     template of the set (a NetworkPolicy's same-namespace `from` peers too); Service
//     targetPorts, PodMonitor ports and NetworkPolicy named ports are container ports of the
//     pods they select;
//   - every ConfigMap, Secret, ServiceAccount, PersistentVolumeClaim (or volumeClaimTemplate),
//     PriorityClass and Namespace a pod or object names is in the set, with the ConfigMap
//     keys that items and subPath name; every volumeMount names a volume. The one exception:
//     a Secret its workload lists in the annotation `cosched/external-secrets` (names,
//     comma-separated), which the operator creates outside the manifests because it holds
//     private keys (deploy/k8s/README.md, "Certificates"); a listed Secret must be one the
//     pods use, and must not also be in the set;
//   - every container has cpu and memory requests and limits, readiness and liveness probes
//     (only an MPIJob's launcher is exempt: mpirun runs to completion, its exit status is its
//     health and the launcher Job's backoffLimit acts on it), an image with a tag that is
//     not `latest`, and a restricted security context (non-root, no privilege escalation,
//     ALL capabilities dropped, read-only root filesystem, RuntimeDefault seccomp); no pod
//     mounts a service account token or gets Service environment variables (their names,
//     COSCHED_SCHEDULER_PORT and the like, share the prefix of cosched's COSCHED_* flags).
//
//   node crossref.mjs FILE...       (each file is one set: a rendered overlay)
import { describe, Problems, readObjects, run } from "./lib.mjs";

const workloadKinds = new Set(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"]);
const builtinPriorityClasses = new Set(["system-cluster-critical", "system-node-critical"]);

// The Secrets a workload declares as created outside the set (see the top of this file).
const externalSecretsKey = "cosched/external-secrets";
function externalSecrets(object) {
  const value = object.metadata?.annotations?.[externalSecretsKey] ?? "";
  return new Set(value.split(",").map((name) => name.trim()).filter((name) => name !== ""));
}

// Pod templates of an object: [{name, template, exemptFromProbes}].
function podTemplates(object) {
  const spec = object.spec ?? {};
  if (workloadKinds.has(object.kind)) return [{ name: describe(object), template: spec.template }];
  if (object.kind === "CronJob") {
    return [{ name: describe(object), template: spec.jobTemplate?.spec?.template }];
  }
  if (object.kind === "Pod") return [{ name: describe(object), template: object }];
  if (object.kind === "MPIJob") {
    return Object.entries(spec.mpiReplicaSpecs ?? {}).map(([type, replica]) => ({
      name: `${describe(object)} ${type}`,
      template: replica?.template,
      exemptFromProbes: type === "Launcher",
    }));
  }
  return [];
}

// Does a LabelSelector (matchLabels + matchExpressions) select these labels? An empty
// selector selects everything.
function selects(selector, labels = {}) {
  if (!selector) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const inValues = has && (e.values ?? []).includes(labels[e.key]);
    if (e.operator === "In" && !inValues) return false;
    if (e.operator === "NotIn" && inValues) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

// A Service's selector is a plain map.
const mapSelector = (map) => (map ? { matchLabels: map } : null);

function containersOf(template) {
  const spec = template?.spec ?? {};
  return [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
}

function hasPort(templates, port) {
  return templates.some((t) =>
    containersOf(t.template).some((c) =>
      (c.ports ?? []).some((p) => (typeof port === "number" ? p.containerPort === port : p.name === port)),
    ),
  );
}

function imageProblem(image) {
  if (typeof image !== "string" || image === "") return "has no image";
  if (image.includes("@sha256:")) return null;
  const lastPart = image.split("/").pop();
  if (!lastPart.includes(":")) return `image ${image} has no tag`;
  if (lastPart.split(":").pop() === "latest") return `image ${image} is tagged latest`;
  return null;
}

function checkSet(file, objects, problems) {
  const ns = (o) => o.metadata?.namespace ?? "";
  const find = (kind, name, namespace) =>
    objects.find((o) => o.kind === kind && o.metadata?.name === name && (namespace === undefined || ns(o) === namespace));
  const templates = objects.flatMap((o) =>
    podTemplates(o).map((t) => ({ ...t, owner: o, namespace: ns(o) })),
  );
  const selected = (selector, namespace) =>
    templates.filter((t) => t.namespace === namespace && selects(selector, t.template?.metadata?.labels));

  for (const object of objects) {
    const where = `${file}: ${describe(object)}`;
    const add = (message) => problems.add(where, message);
    const namespace = ns(object);
    const spec = object.spec ?? {};

    if (namespace !== "" && objects.some((o) => o.kind === "Namespace") && !find("Namespace", namespace)) {
      add(`namespace ${namespace} is not in the set`);
    }
    if (workloadKinds.has(object.kind) && spec.selector) {
      if (!selects(spec.selector, spec.template?.metadata?.labels)) {
        add("spec.selector does not match the pod template's labels");
      }
    }
    if (object.kind === "StatefulSet" && spec.serviceName) {
      const service = find("Service", spec.serviceName, namespace);
      if (!service) add(`serviceName ${spec.serviceName} is not a Service of the set`);
      else if (service.spec?.clusterIP !== "None") add(`serviceName ${spec.serviceName} is not headless`);
    }
    if (object.kind === "Service" && spec.selector) {
      const pods = selected(mapSelector(spec.selector), namespace);
      if (pods.length === 0) add("its selector selects no pod template of the set");
      for (const port of spec.ports ?? []) {
        const target = port.targetPort ?? port.port;
        if (pods.length > 0 && !pods.every((p) => hasPort([p], target))) {
          add(`port ${port.name ?? port.port}: targetPort ${target} is not a container port of every pod it selects`);
        }
      }
    }
    if (object.kind === "PodDisruptionBudget" && selected(spec.selector, namespace).length === 0) {
      add("its selector selects no pod template of the set");
    }
    if (object.kind === "PodMonitor") {
      const pods = selected(spec.selector, namespace);
      if (pods.length === 0) add("its selector selects no pod template of the set");
      for (const endpoint of spec.podMetricsEndpoints ?? []) {
        if (endpoint.port && pods.length > 0 && !pods.every((p) => hasPort([p], endpoint.port))) {
          add(`endpoint port ${endpoint.port} is not a container port of every pod it selects`);
        }
      }
    }
    if (object.kind === "ServiceMonitor") {
      const services = objects.filter(
        (o) => o.kind === "Service" && ns(o) === namespace && selects(spec.selector, o.metadata?.labels),
      );
      if (services.length === 0) add("its selector selects no Service of the set");
      for (const endpoint of spec.endpoints ?? []) {
        if (endpoint.port && !services.some((s) => (s.spec?.ports ?? []).some((p) => p.name === endpoint.port))) {
          add(`endpoint port ${endpoint.port} is not a port of the Services it selects`);
        }
      }
    }
    if (object.kind === "NetworkPolicy") {
      const pods = selected(spec.podSelector, namespace);
      if (pods.length === 0) add("spec.podSelector selects no pod template of the set");
      for (const rule of spec.ingress ?? []) {
        for (const peer of rule.from ?? []) {
          if (peer.podSelector && !peer.namespaceSelector && selected(peer.podSelector, namespace).length === 0) {
            add("an ingress `from` podSelector selects no pod template of the set");
          }
        }
        for (const port of rule.ports ?? []) {
          if (typeof port.port === "string" && pods.length > 0 && !pods.every((p) => hasPort([p], port.port))) {
            add(`ingress port ${port.port} is not a container port of every pod it selects`);
          }
        }
      }
    }
  }

  const usedSecrets = new Map(); // workload -> the Secrets its pod templates name
  for (const t of templates) {
    const where = `${file}: ${t.name}`;
    const add = (message) => problems.add(where, message);
    const pod = t.template?.spec;
    if (!pod) {
      add("has no pod template");
      continue;
    }
    const claimTemplates = new Set(
      (t.owner.kind === "StatefulSet" ? t.owner.spec?.volumeClaimTemplates ?? [] : []).map((c) => c.metadata?.name),
    );
    const needConfigMap = (name, keys = [], optional = false) => {
      const cm = find("ConfigMap", name, t.namespace);
      if (!cm) {
        if (!optional) add(`ConfigMap ${name} is not in the set`);
        return;
      }
      for (const key of keys) {
        if (!Object.hasOwn(cm.data ?? {}, key) && !Object.hasOwn(cm.binaryData ?? {}, key)) {
          add(`ConfigMap ${name} has no key ${key}`);
        }
      }
    };
    const external = externalSecrets(t.owner);
    if (!usedSecrets.has(t.owner)) usedSecrets.set(t.owner, new Set());
    const needSecret = (name, optional = false) => {
      usedSecrets.get(t.owner).add(name);
      if (external.has(name)) return;
      if (!optional && !find("Secret", name, t.namespace)) add(`Secret ${name} is not in the set`);
    };
    const account = pod.serviceAccountName ?? "default";
    const serviceAccount = find("ServiceAccount", account, t.namespace);
    if (pod.serviceAccountName && !serviceAccount) add(`ServiceAccount ${account} is not in the set`);
    if (pod.enableServiceLinks !== false) {
      add("enableServiceLinks is not false: Service variables (COSCHED_SCHEDULER_PORT=...) would mix with the COSCHED_* flags");
    }
    const automount = pod.automountServiceAccountToken ?? serviceAccount?.automountServiceAccountToken;
    if (automount !== false) add("mounts a service account token (cosched never calls the API)");
    if (pod.priorityClassName && !builtinPriorityClasses.has(pod.priorityClassName) && !find("PriorityClass", pod.priorityClassName)) {
      add(`PriorityClass ${pod.priorityClassName} is not in the set`);
    }
    for (const s of pod.imagePullSecrets ?? []) needSecret(s.name);
    const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
    for (const v of pod.volumes ?? []) {
      if (v.configMap) needConfigMap(v.configMap.name, (v.configMap.items ?? []).map((i) => i.key), v.configMap.optional);
      if (v.secret) needSecret(v.secret.secretName, v.secret.optional);
      if (v.persistentVolumeClaim && !find("PersistentVolumeClaim", v.persistentVolumeClaim.claimName, t.namespace)) {
        add(`PersistentVolumeClaim ${v.persistentVolumeClaim.claimName} is not in the set`);
      }
      for (const source of v.projected?.sources ?? []) {
        if (source.configMap) needConfigMap(source.configMap.name, [], source.configMap.optional);
        if (source.secret) needSecret(source.secret.name, source.secret.optional);
      }
    }
    for (const name of external) {
      if (find("Secret", name, t.namespace)) add(`Secret ${name} is in the set but listed in ${externalSecretsKey}`);
    }
    const sc = pod.securityContext ?? {};
    for (const c of containersOf(t.template)) {
      const at = (message) => add(`container ${c.name}: ${message}`);
      for (const mount of c.volumeMounts ?? []) {
        const volume = volumes.get(mount.name);
        if (!volume && !claimTemplates.has(mount.name)) {
          at(`volumeMount ${mount.name} names no volume or volumeClaimTemplate`);
        } else if (volume?.configMap && mount.subPath && !volume.configMap.items) {
          needConfigMap(volume.configMap.name, [mount.subPath]);
        }
      }
      for (const e of c.env ?? []) {
        const ref = e.valueFrom ?? {};
        if (ref.configMapKeyRef) needConfigMap(ref.configMapKeyRef.name, [ref.configMapKeyRef.key], ref.configMapKeyRef.optional);
        if (ref.secretKeyRef) needSecret(ref.secretKeyRef.name, ref.secretKeyRef.optional);
        if (ref.resourceFieldRef?.containerName && !containersOf(t.template).some((o) => o.name === ref.resourceFieldRef.containerName)) {
          at(`env ${e.name}: resourceFieldRef names no container ${ref.resourceFieldRef.containerName}`);
        }
      }
      for (const e of c.envFrom ?? []) {
        if (e.configMapRef) needConfigMap(e.configMapRef.name, [], e.configMapRef.optional);
        if (e.secretRef) needSecret(e.secretRef.name, e.secretRef.optional);
      }
      for (const kind of ["requests", "limits"]) {
        for (const resource of ["cpu", "memory"]) {
          if (c.resources?.[kind]?.[resource] === undefined) at(`no ${resource} ${kind}`);
        }
      }
      if (!t.exemptFromProbes) {
        for (const probe of ["readinessProbe", "livenessProbe"]) if (!c[probe]) at(`no ${probe}`);
      }
      const image = imageProblem(c.image);
      if (image) at(image);
      const csc = c.securityContext ?? {};
      if ((csc.runAsNonRoot ?? sc.runAsNonRoot) !== true) at("does not set runAsNonRoot");
      if ((csc.runAsUser ?? sc.runAsUser) === 0) at("runs as uid 0");
      if (csc.allowPrivilegeEscalation !== false) at("allows privilege escalation");
      if (csc.privileged === true) at("is privileged");
      if (!(csc.capabilities?.drop ?? []).includes("ALL")) at("does not drop ALL capabilities");
      if ((csc.capabilities?.add ?? []).length > 0) at("adds capabilities");
      if (csc.readOnlyRootFilesystem !== true) at("has a writable root filesystem");
      const seccomp = csc.seccompProfile?.type ?? sc.seccompProfile?.type;
      if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") at("has no RuntimeDefault seccomp profile");
    }
  }
  checkExternalSecretsUsed(file, objects, usedSecrets, problems);
}

// After every template was seen: a workload's external Secrets are ones its pods use.
function checkExternalSecretsUsed(file, objects, usedSecrets, problems) {
  for (const object of objects) {
    for (const name of externalSecrets(object)) {
      if (!(usedSecrets.get(object)?.has(name) ?? false)) {
        problems.add(`${file}: ${describe(object)}`, `${externalSecretsKey} lists Secret ${name}, which no pod of it uses`);
      }
    }
  }
}

run(() => {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: crossref.mjs FILE...");
    process.exit(2);
  }
  const problems = new Problems("crossref");
  let count = 0;
  for (const file of files) {
    const objects = readObjects(file);
    if (objects.length === 0) problems.add(file, "no objects");
    count += objects.length;
    checkSet(file, objects, problems);
  }
  problems.finish(`${count} objects agree with each other`);
});
