#!/usr/bin/env python3
"""Clang's -Wthread-safety analysis (and clang's warnings, as errors) over the translation units
of a build that can have something to analyse, without generating code: each file is compiled
with -fsyntax-only, using the flags CMake recorded in compile_commands.json. Semantic analysis
is all the check needs, so this costs a fraction of a full clang build (CI's lint step).

Which files: those that reach an annotated lock (common/mutex.h, any ABSL_ thread annotation,
an absl mutex) in their own text or through the project headers they include. A file that
reaches none has no capability to analyse and cannot warn (libstdc++'s std::mutex is not
annotated); gcc's -Werror build already holds every file to the same warning flags. About a
third of the files qualify, which takes the step from minutes to about one.

usage: scripts/check-thread-safety.py BUILD_DIR [JOBS]
Exit status 1 and the compiler's messages when any file has a warning.
"""
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys

WARNINGS = ["-Wall", "-Wextra", "-Wshadow", "-Wnon-virtual-dtor", "-Wno-unused-parameter",
            "-Wthread-safety", "-Werror"]
# gcc-only flags CMake may have recorded, which clang refuses or warns about.
DROP = {"-fno-fat-lto-objects"}


def clang_command(entry, source_dir):
    args = entry.get("arguments") or shlex.split(entry["command"])
    out = ["clang++", "-fsyntax-only"]
    skip_next = False
    for arg in args[1:]:
        if skip_next:
            skip_next = False
            continue
        if arg in ("-o", "-MF", "-MT", "-MQ"):
            skip_next = True
            continue
        if arg in ("-c", "-MD", "-MMD") or arg in DROP or arg.startswith("-W"):
            continue
        if arg == "/usr/bin/ccache" or arg.endswith("/c++") or arg.endswith("/g++"):
            continue
        out.append(arg)
    return out + WARNINGS


# What makes a file worth analysing: a thread-safety annotation or an annotated lock type.
ANNOTATED = re.compile(r"\bABSL_[A-Z_]+\b|\babsl::\w*Mutex\w*\b|\babsl::CondVar\b")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.MULTILINE)


def reaches_annotations(path, source_dir, memo, visiting=frozenset()):
    """Whether `path` or a project header it includes (transitively) has ANNOTATED text."""
    if path in memo:
        return memo[path]
    if path in visiting or not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    found = bool(ANNOTATED.search(text))
    if not found:
        for header in INCLUDE.findall(text):
            candidate = os.path.join(source_dir, header)
            if reaches_annotations(candidate, source_dir, memo, visiting | {path}):
                found = True
                break
    memo[path] = found
    return found


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    build_dir = os.path.abspath(sys.argv[1])
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count() or 1
    source_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(build_dir, "compile_commands.json")) as f:
        entries = json.load(f)
    # The project's own sources; generated code (protobuf) is not ours to fix.
    mine = [e for e in entries
            if os.path.abspath(e["file"]).startswith(source_dir + os.sep)
            and not os.path.abspath(e["file"]).startswith(build_dir + os.sep)]
    seen, unique = set(), []
    for e in mine:  # a file compiled into two targets is checked once
        if e["file"] not in seen:
            seen.add(e["file"])
            unique.append(e)
    memo = {}
    considered = len(unique)
    unique = [e for e in unique
              if reaches_annotations(os.path.abspath(e["file"]), source_dir, memo)]
    print(f"thread-safety: {len(unique)} of {considered} files reach annotated locks",
          file=sys.stderr, flush=True)

    def check(entry):
        result = subprocess.run(clang_command(entry, source_dir), cwd=entry["directory"],
                                capture_output=True, text=True)
        return entry["file"], result.returncode, result.stderr

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for done, (path, code, stderr) in enumerate(pool.map(check, unique), 1):
            if code != 0:
                failed += 1
                sys.stdout.write(stderr)
            if done % 20 == 0 or done == len(unique):
                print(f"thread-safety: {done}/{len(unique)} files checked", file=sys.stderr,
                      flush=True)
    print(f"thread-safety: {len(unique)} files, {failed} with warnings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
