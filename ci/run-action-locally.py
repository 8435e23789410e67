#!/usr/bin/env python3
"""Runs the steps of action.yml on this machine, as GitHub's runner would.

usage: ci/run-action-locally.py [--input NAME=VALUE]... [--workdir DIR]

Each `run:` step runs with bash in DIR (default: the current directory) with the
runner's environment: GITHUB_ACTION_PATH (this repository), GITHUB_STEP_SUMMARY,
GITHUB_OUTPUT and GITHUB_ENV files, and the step's `env:` with `${{ inputs.* }}` and
`${{ steps.*.outputs.* }}` filled in. `uses: actions/upload-artifact` copies the path
into DIR/artifacts/<name>. After a failed step only `if: always()` steps run, as on
GitHub. Exits with the first failing step's code (0 if none) and prints the job summary.

Set VRRPLAB_ACTION_BIN_DIR to use already built binaries instead of a release build.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPR = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", action="append", default=[], help="NAME=VALUE")
    ap.add_argument("--workdir", default=os.getcwd())
    args = ap.parse_args()
    with open(os.path.join(REPO, "action.yml")) as f:
        action = yaml.safe_load(f)
    if action["runs"]["using"] != "composite":
        print("action.yml is not a composite action", file=sys.stderr)
        return 2
    inputs = {k: str(v.get("default", "")) for k, v in action.get("inputs", {}).items()}
    for kv in args.input:
        k, _, v = kv.partition("=")
        if k not in inputs:
            print(f"unknown input {k!r}; the action has {sorted(inputs)}", file=sys.stderr)
            return 2
        inputs[k] = v
    work = os.path.abspath(args.workdir)
    state = tempfile.mkdtemp(prefix="action-local-")
    summary = os.path.join(state, "summary.md")
    env_file = os.path.join(state, "env")
    open(summary, "w").close()
    open(env_file, "w").close()
    outputs: dict = {}

    def expand(text: str) -> str:
        def one(m):
            e = m.group(1)
            if e.startswith("inputs."):
                return inputs[e[len("inputs."):]]
            if e == "github.action_path":
                return REPO
            m2 = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", e)
            if m2:
                return outputs.get(m2.group(1), {}).get(m2.group(2), "")
            raise ValueError(f"expression {e!r} is not supported locally")
        return EXPR.sub(one, str(text))

    def runner_env() -> dict:
        env = dict(os.environ)
        with open(env_file) as f:
            for line in f:
                if "=" in line:
                    k, _, v = line.rstrip("\n").partition("=")
                    env[k] = v
        env.update(GITHUB_ACTION_PATH=REPO, GITHUB_STEP_SUMMARY=summary,
                   GITHUB_ENV=env_file, GITHUB_WORKSPACE=work, CI="true")
        return env

    failed = 0
    for i, step in enumerate(action["runs"]["steps"], 1):
        name = step.get("name", f"step {i}")
        cond = str(step.get("if", "success()")).strip()
        if failed and cond != "always()":
            print(f"== skip: {name} (an earlier step failed)")
            continue
        if cond not in ("always()", "success()"):
            raise ValueError(f"step {name!r}: condition {cond!r} is not supported locally")
        print(f"== {name}", flush=True)
        if "run" in step:
            out_file = os.path.join(state, f"out-{i}")
            open(out_file, "w").close()
            env = runner_env()
            env["GITHUB_OUTPUT"] = out_file
            for k, v in (step.get("env") or {}).items():
                env[k] = expand(v)
            code = subprocess.call(["bash", "-e", "-c", expand(step["run"])], cwd=work, env=env)
            step_out = {}
            with open(out_file) as f:
                for line in f:
                    if "=" in line:
                        k, _, v = line.rstrip("\n").partition("=")
                        step_out[k] = v
            if "id" in step:
                outputs[step["id"]] = step_out
        elif str(step.get("uses", "")).startswith("actions/upload-artifact@"):
            w = {k: expand(v) for k, v in (step.get("with") or {}).items()}
            src = os.path.join(work, w["path"])
            dst = os.path.join(work, "artifacts", w["name"])
            if os.path.exists(src):
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(src, dst)
                print(f"artifact {w['name']}: {dst}")
            else:
                print(f"artifact {w['name']}: {src} is missing")
            code = 0
        else:
            raise ValueError(f"step {name!r} uses {step.get('uses')!r}, not supported locally")
        if code != 0 and not failed:
            failed = code
            print(f"== {name} failed with exit code {code}")
    print("== job summary")
    with open(summary) as f:
        print(f.read())
    shutil.rmtree(state, ignore_errors=True)
    return failed


if __name__ == "__main__":
    sys.exit(main())
