// Lints a Dockerfile: every problem dockerfile-utils reports (each rule raised to an error),
// and cosched's image rules:
//   - every FROM names a tag or a digest, never `latest` (ARG defaults are followed);
//   - the last stage runs as a numeric, non-root USER (so runAsNonRoot can verify it);
//   - no ENV, ARG or LABEL carries a secret-looking name (password, token, secret, key),
//     and nothing copies key files or .env files in; no ADD from a URL;
// and with --packages, that every package the runtime stage installs is known to apt.
// With --binaries BIN..., the binaries' shared libraries (ldd) all come from the packages
// the runtime stage installs or their dependencies (apt-cache depends --recurse), so the
// image has everything the programs load.
//
//   node dockerfile.mjs DOCKERFILE [--packages] [--binaries BIN...]
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, realpathSync } from "node:fs";
import { DockerfileParser } from "dockerfile-ast";
import { validate, ValidationSeverity } from "dockerfile-utils";
import { Problems, run } from "./lib.mjs";

const everyRule = Object.fromEntries(
  [
    "deprecatedMaintainer", "directiveCasing", "emptyContinuationLine", "instructionCasing",
    "instructionCmdMultiple", "instructionEntrypointMultiple", "instructionHealthcheckMultiple",
    "instructionJSONInSingleQuotes", "instructionWorkdirRelative",
  ].map((rule) => [rule, ValidationSeverity.ERROR]),
);
const secretName = /(passw(or)?d|secret|token|api[_-]?key|private[_-]?key|credential)/i;
const secretFile = /(^|\/)(id_rsa|id_ed25519|id_ecdsa|\.env|[^/]*\.pem|[^/]*\.key)$/;

// The packages of the last stage's `apt-get install` commands.
function runtimePackages(stage) {
  const packages = [];
  for (const instruction of stage.getInstructions()) {
    if (instruction.getKeyword() !== "RUN") continue;
    const text = instruction.getArgumentsContent() ?? "";
    for (const command of text.split(/&&|;|\|\|/)) {
      const words = command.trim().split(/\s+/);
      const at = words.indexOf("install");
      if (at < 0 || !words.slice(0, at).some((w) => w === "apt-get" || w === "apt")) continue;
      packages.push(...words.slice(at + 1).filter((w) => w && !w.startsWith("-")));
    }
  }
  return packages;
}

function lint(file, problems) {
  const content = readFileSync(file, "utf8");
  for (const d of validate(content, everyRule)) {
    problems.add(`${file}:${d.range.start.line + 1}`, `dockerfile-utils: ${d.message}`);
  }
  const dockerfile = DockerfileParser.parse(content);
  const args = new Map();
  for (const arg of dockerfile.getInitialARGs()) {
    for (const property of arg.getProperties()) args.set(property.getName(), property.getValue());
  }
  const stages = dockerfile.getFROMs();
  if (stages.length === 0) problems.add(file, "no FROM");
  const stageNames = new Set();
  for (const from of stages) {
    const line = `${file}:${from.getRange().start.line + 1}`;
    let image = from.getImage() ?? "";
    image = image.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, name) => args.get(name) ?? "");
    if (stageNames.has(image)) {
      // FROM an earlier stage.
    } else if (image.includes("@sha256:")) {
      // Pinned by digest.
    } else if (!image.split("/").pop().includes(":")) {
      problems.add(line, `FROM ${image || from.getImage()}: no tag (an image without one is latest)`);
    } else if (image.endsWith(":latest")) {
      problems.add(line, `FROM ${image}: tagged latest`);
    }
    if (from.getBuildStage()) stageNames.add(from.getBuildStage());
  }
  for (const instruction of dockerfile.getInstructions()) {
    const line = `${file}:${instruction.getRange().start.line + 1}`;
    const keyword = instruction.getKeyword();
    const text = instruction.getArgumentsContent() ?? "";
    if (["ENV", "ARG", "LABEL"].includes(keyword)) {
      for (const word of text.split(/\s+/)) {
        const name = word.split("=")[0];
        if (secretName.test(name)) problems.add(line, `${keyword} ${name}: secrets do not belong in an image`);
      }
    }
    if (keyword === "ADD" && /\bhttps?:\/\//.test(text)) problems.add(line, "ADD from a URL: download in a RUN and check it");
    if (keyword === "COPY" || keyword === "ADD") {
      const sources = text.split(/\s+/).filter((w) => w && !w.startsWith("--")).slice(0, -1);
      for (const source of sources) {
        if (secretFile.test(source)) problems.add(line, `${keyword} ${source}: key and .env files do not belong in an image`);
      }
    }
  }
  const last = stages.length > 0 ? stages[stages.length - 1] : null;
  const lastStage = last && dockerfile.getInstructions().filter((i) => i.getRange().start.line >= last.getRange().start.line);
  const users = (lastStage ?? []).filter((i) => i.getKeyword() === "USER");
  const user = users.length > 0 ? (users[users.length - 1].getArgumentsContent() ?? "").split(":")[0] : null;
  if (user === null) problems.add(file, "the final stage has no USER: it would run as root");
  else if (!/^[0-9]+$/.test(user)) problems.add(file, `USER ${user}: use a numeric uid, so that runAsNonRoot can check it`);
  else if (Number(user) === 0) problems.add(file, "USER 0 is root");
  return { packages: last ? runtimePackages({ getInstructions: () => lastStage }) : [] };
}

// apt knows every package by that exact name (apt-cache would read a name with + or . as a
// pattern when nothing has it, so the names it shows are compared).
function checkPackages(file, packages, problems) {
  if (packages.length === 0) {
    problems.add(file, "the runtime stage installs no package with apt-get install");
    return;
  }
  const shown = spawnSync("apt-cache", ["show", "--no-all-versions", ...packages], { encoding: "utf8" });
  const known = new Set((shown.stdout ?? "").split("\n").filter((l) => l.startsWith("Package: ")).map((l) => l.slice(9).trim()));
  for (const p of packages) if (!known.has(p)) problems.add(file, `apt does not know the package ${p}`);
}

// The Debian packages that installed these files: path -> package. One dpkg call for all,
// asking for each path also as usrmerge moved it (/lib vs /usr/lib, symlinks resolved).
function owners(paths) {
  const candidates = new Map(); // candidate path -> original path
  for (const path of paths) {
    const real = realpathSync(path);
    for (const c of [path, real, real.replace(/^\/usr/, ""), path.replace(/^\/usr/, ""), `/usr${path}`, `/usr${real}`]) {
      if (!candidates.has(c)) candidates.set(c, path);
    }
  }
  let output;
  try {
    output = execFileSync("dpkg", ["-S", ...candidates.keys()], { stdio: "pipe", encoding: "utf8" });
  } catch (e) {
    output = e.stdout ?? ""; // dpkg exits 1 when some candidate belongs to no package
  }
  const result = new Map();
  for (const line of output.split("\n")) {
    const match = line.match(/^([^:\s,]+)(:[a-z0-9]+)?: (\/.*)$/);
    if (match && candidates.has(match[3])) result.set(candidates.get(match[3]), match[1]);
  }
  return result;
}

function checkBinaries(file, packages, binaries, problems) {
  const closure = new Set(
    execFileSync(
      "apt-cache",
      ["depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
        "--no-replaces", "--no-enhances", ...packages],
      { encoding: "utf8", maxBuffer: 64 << 20 },
    )
      .split("\n")
      .map((l) => l.trim().replace(/^\|?(Pre)?Depends: /, "").replace(/^<|>$/g, "").replace(/:any$/, ""))
      .filter((l) => l && !l.includes(" ")),
  );
  const libraries = new Map(); // path -> binaries that load it
  for (const binary of binaries) {
    for (const line of execFileSync("ldd", [binary], { encoding: "utf8" }).split("\n")) {
      if (line.includes("not found")) problems.add(binary, `ldd: ${line.trim()}`);
      const path = line.match(/=> (\/\S+)/)?.[1];
      if (path) libraries.set(path, [...(libraries.get(path) ?? []), binary]);
    }
  }
  const packageOf = owners([...libraries.keys()]);
  for (const [path, users] of libraries) {
    const pkg = packageOf.get(path);
    if (pkg === undefined) problems.add(users.join(", "), `${path} belongs to no Debian package`);
    else if (!closure.has(pkg)) {
      problems.add(users.join(", "), `${path} comes from ${pkg}, which ${file}'s runtime stage does not install`);
    }
  }
}

run(() => {
  const argv = process.argv.slice(2);
  const file = argv[0];
  if (!file || file.startsWith("--")) {
    console.error("usage: dockerfile.mjs DOCKERFILE [--packages] [--binaries BIN...]");
    process.exit(2);
  }
  const problems = new Problems("dockerfile");
  const { packages } = lint(file, problems);
  if (argv.includes("--packages")) checkPackages(file, packages, problems);
  const at = argv.indexOf("--binaries");
  const binaries = at >= 0 ? argv.slice(at + 1) : [];
  if (at >= 0 && binaries.length === 0) problems.add(file, "--binaries names no binary");
  if (binaries.length > 0) checkBinaries(file, packages, binaries, problems);
  problems.finish(
    `${file}: lint clean` +
      (argv.includes("--packages") ? `, apt knows its ${packages.length} packages` : "") +
      (binaries.length > 0 ? `, they provide every library of ${binaries.length} binaries` : ""),
  );
});
