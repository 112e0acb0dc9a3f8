#!/usr/bin/env python3
"""The benchmark of issue 5: lambda-edge-deploy against the AWS CLI and Info-ZIP, on the emulator.

Run it through `bench/run`, which installs what it needs (the release build, the emulator's .venv,
the AWS CLI in bench/.venv, Info-ZIP zip and GNU time) and then runs this file with .venv's Python:

    bench/run [--runs 5] [--lag-seconds 10] [--cli-lag-runs 2] [--deploy-seconds 5] [--json FILE]

One emulator (tests/emulator/launcher.py on a free loopback port) serves every measurement. The
example stack (examples/template.yaml, examples/edge-function) is launched once by the binary; every
measured run then releases a code change to it. Each figure is the median of --runs runs made in
this invocation; a ratio is the median of the per-pair ratios (run i of ours against run i of the
other tool), the two sides of a pair running back to back, in alternating order.

The Markdown table goes to stdout; progress and every run's figures go to stderr.

How each row is measured:
1. Release: wall time of the binary (from spawn to exit) against the CLI script of
   `cli_release()` (zip -X -r -6, then seven `aws` processes), with moto's distribution transition
   "immediate", so no waiter ever sleeps. Every run appends a line to index.js; after each run the
   distribution must associate the version that run published.
2. Detection lag: the state manager holds distributions InProgress for a given time after each
   update. The launcher's UpdateDistribution stamps LastModifiedTime (UTC, microseconds) and restarts
   the state manager's clock in the same statement, and moto answers Deployed from the first look
   after clock + hold; so Deployed-at = LastModifiedTime + hold, read back after the run, and the
   lag = exit time (time.time() as the process is reaped) - Deployed-at, all on this machine's
   clock. Ours polls every few seconds once backed off (2 s cap), so one fixed hold would sample one phase of that
   cycle: run i holds N + i*5/runs s, spreading the runs evenly over one poll interval. The CLI's
   waiter polls every 60 s, so it runs only --cli-lag-runs times (paired with ours' first runs).
3. Packaging: ours is a whole dry run (INPUT_DRY-RUN=true) against the emulator with the stack
   present: it packages and hashes the tree while it makes its read-only look-ups in parallel, then
   exits. Nothing is subtracted; the same dry run of the 1-file example is timed next to it (the
   cost of everything but packaging), and the binary's own phase time is reported. The zip size is
   from the binary's log ("packaged N file(s): B bytes"). Info-ZIP runs as `zip -q -X -r -6`.
4. Peak RSS of whole releases (GNU time's %M, which is kilobytes of the maximum resident set).
6. Two functions (examples/multi, its own stack): each run changes both functions' code, then
   either one release with `functions` or two releases naming one function each, in sequence; the
   state manager holds the distribution InProgress --deploy-seconds after each change. Stack updates
   and distribution deployments are counted from the stack's events (the stack's UPDATE_IN_PROGRESS,
   the distribution resource's UPDATE_COMPLETE), and the distribution must then associate every
   version the run(s) reported.
5. The release binary as built by `cargo build --release --locked` (the profile strips it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "lambda-edge-deploy"
AWS = ROOT / "bench" / ".venv" / "bin" / "aws"
GNU_TIME = "/usr/bin/time"
sys.path.insert(0, str(ROOT / "bench"))
import tree  # noqa: E402  (bench/tree.py)

FUNCTION, STACK, BUCKET, KEY = "bench-edge", "bench-site", "bench-edge-artifacts", "bench-edge.zip"
MULTI_STACK, VIEWER, ORIGIN = "bench-multi", "bench-viewer", "bench-origin"
TEMPLATE_PARAMS_KEPT = ["FunctionName", "ArtifactBucket", "ArtifactKey", "OriginDomainName"]
MB = 1_000_000
MIB = 1024 * 1024


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- the emulator -------------------------------------------------------------------------

class Emulator:
    # --time-scale 0: the emulator's CloudFormation and CloudFront take no time of their own, so a
    # release measures the tool; row 2 holds distributions InProgress through the state manager.
    def __init__(self, work: Path) -> None:
        self.log_path = work / "emulator.log"
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/python"), str(ROOT / "tests/emulator/launcher.py"), "--port", "0",
             "--exit-on-stdin-eof", "--time-scale", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(self.log_path, "w"), text=True,
        )
        line = self.proc.stdout.readline().strip()
        if not line.startswith("LISTENING "):
            raise SystemExit(f"the emulator did not start (see {self.log_path}): {line!r}")
        self.url = line.split(" ", 1)[1]

    def transition(self, transition: dict) -> None:
        """moto's state manager: how distributions go from InProgress to Deployed."""
        body = json.dumps({"model_name": "cloudfront::distribution", "transition": transition}).encode()
        req = urllib.request.Request(f"{self.url}/moto-api/state-manager/set-transition", data=body, method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # --exit-on-stdin-eof
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# --- running things -----------------------------------------------------------------------

class Bench:
    def __init__(self, work: Path, emulator: Emulator) -> None:
        self.work = work
        self.emu = emulator
        # Nothing from the caller's AWS or GitHub set-up leaks in; both tools get the same environment.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("INPUT_", "GITHUB_", "RUNNER_", "AWS_"))}
        env.update(
            AWS_ENDPOINT_URL=emulator.url, AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
            AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=str(work / "no-aws-config"), AWS_SHARED_CREDENTIALS_FILE=str(work / "no-aws-credentials"),
            AWS_PAGER="",
        )
        self.env = env
        import boto3  # the emulator's .venv has it; used only for set-up and for reading state

        self.cf = boto3.client("cloudfront", endpoint_url=emulator.url, region_name="us-east-1",
                               aws_access_key_id="bench", aws_secret_access_key="bench")
        self.cfn = boto3.client("cloudformation", endpoint_url=emulator.url, region_name="us-east-1",
                                aws_access_key_id="bench", aws_secret_access_key="bench")
        self.s3 = boto3.client("s3", endpoint_url=emulator.url, region_name="us-east-1",
                               aws_access_key_id="bench", aws_secret_access_key="bench")
        self.distribution_id = ""
        self.counter = 0

    # ours ------------------------------------------------------------------------------------
    def ours(self, source: Path, template: bool = False, dry_run: bool = False) -> dict:
        """One run of the release binary under GNU time: wall time, peak RSS, its outputs."""
        env = dict(self.env, **{
            "INPUT_FUNCTION-NAME": FUNCTION, "INPUT_STACK-NAME": STACK, "INPUT_ARTIFACT-BUCKET": BUCKET,
            "INPUT_SOURCE": str(source), "GITHUB_STEP_SUMMARY": str(self.work / "summary.md"),
        })
        if template:
            env["INPUT_TEMPLATE"] = str(ROOT / "examples/template.yaml")
        if dry_run:
            env["INPUT_DRY-RUN"] = "true"
        (self.work / "summary.md").unlink(missing_ok=True)
        tfile = self.work / "time.txt"
        start = time.perf_counter()
        p = subprocess.run([GNU_TIME, "-f", "%M %U %S", "-o", str(tfile), str(BIN)],
                           env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        exited = time.time()
        if p.returncode != 0:
            raise SystemExit(f"lambda-edge-deploy exited {p.returncode}:\n{p.stderr[-3000:]}")
        rss_kb, user, sys_ = tfile.read_text().split()[-3:]
        out = json.loads(p.stdout)
        size = re.search(r"packaged .*?(\d+) bytes", p.stderr)
        phases = re.findall(r"^\| (\w[\w ]*?) \| ([\d.]+) s \|$", (self.work / "summary.md").read_text(), re.M) \
            if (self.work / "summary.md").exists() else []
        return {"wall": wall, "exited": exited, "rss_kb": int(rss_kb), "cpu": float(user) + float(sys_),
                "zip_bytes": int(size.group(1)) if size else None, "outputs": out,
                "phases": {k: float(v) for k, v in phases}}

    def ours_functions(self, lines: list[str], template: bool = False) -> dict:
        """One run of the binary releasing `functions` into the two-function example's stack."""
        env = dict(self.env, **{"INPUT_STACK-NAME": MULTI_STACK, "INPUT_ARTIFACT-BUCKET": BUCKET,
                                "INPUT_FUNCTIONS": "\n".join(lines)})
        if template:
            env["INPUT_TEMPLATE"] = str(ROOT / "examples/multi/template.yaml")
        start = time.perf_counter()
        p = subprocess.run([str(BIN)], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if p.returncode != 0:
            raise SystemExit(f"lambda-edge-deploy (functions) exited {p.returncode}:\n{p.stderr[-3000:]}")
        return {"wall": wall, "outputs": json.loads(p.stdout)}

    def stack_work(self, stack: str) -> tuple[int, int]:
        """Stack updates started so far (the stack's own UPDATE_IN_PROGRESS events) and distribution
        deployments they made (the distribution resource's UPDATE_COMPLETE events)."""
        events = [e for page in self.cfn.get_paginator("describe_stack_events").paginate(StackName=stack)
                  for e in page["StackEvents"]]
        count = lambda kind, status: sum(1 for e in events  # noqa: E731
                                         if e["ResourceType"] == kind and e["ResourceStatus"] == status)
        return count("AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS"), count("AWS::CloudFront::Distribution",
                                                                                 "UPDATE_COMPLETE")

    def associations_of(self, distribution_id: str) -> list[str]:
        d = self.cf.get_distribution(Id=distribution_id)["Distribution"]
        items = d["DistributionConfig"]["DefaultCacheBehavior"].get("LambdaFunctionAssociations", {}).get("Items", [])
        return sorted(a["LambdaFunctionARN"] for a in items)

    # the AWS CLI -----------------------------------------------------------------------------
    def aws(self, *args: str) -> str:
        p = subprocess.run([str(AWS), *args], env=self.env, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"aws {' '.join(args[:2])} exited {p.returncode}:\n{p.stderr[-3000:]}")
        return p.stdout.strip()

    def cli_release(self, source: Path) -> dict:
        """The hand-written release, one process per step, as a shell script would run it."""
        zip_path = self.work / "cli.zip"
        steps: dict[str, float] = {}

        def step(name: str, fn):
            t = time.perf_counter()
            r = fn()
            steps[name] = time.perf_counter() - t
            return r

        start = time.perf_counter()
        zip_path.unlink(missing_ok=True)  # zip would otherwise update the old archive
        step("zip", lambda: subprocess.run(["zip", "-q", "-X", "-r", "-6", str(zip_path), "."], cwd=source,
                                           check=True))
        vid = step("put-object", lambda: self.aws(
            "s3api", "put-object", "--bucket", BUCKET, "--key", KEY, "--body", str(zip_path),
            "--query", "VersionId", "--output", "text"))
        step("update-function-code", lambda: self.aws(
            "lambda", "update-function-code", "--function-name", FUNCTION, "--s3-bucket", BUCKET,
            "--s3-key", KEY, "--s3-object-version", vid))
        step("wait function-updated-v2", lambda: self.aws("lambda", "wait", "function-updated-v2",
                                                          "--function-name", FUNCTION))
        arn = step("publish-version", lambda: self.aws(
            "lambda", "publish-version", "--function-name", FUNCTION, "--query", "FunctionArn", "--output", "text"))
        params = [f"ParameterKey={k},UsePreviousValue=true" for k in TEMPLATE_PARAMS_KEPT] + [
            "ParameterKey=FirstLaunch,ParameterValue=false", f"ParameterKey=LambdaVersion,ParameterValue={arn}",
            f"ParameterKey=ArtifactObjectVersion,ParameterValue={vid}"]
        step("update-stack", lambda: self.aws(
            "cloudformation", "update-stack", "--stack-name", STACK, "--use-previous-template",
            "--capabilities", "CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "--parameters", *params))
        step("wait stack-update-complete", lambda: self.aws("cloudformation", "wait", "stack-update-complete",
                                                            "--stack-name", STACK))
        step("wait distribution-deployed", lambda: self.aws("cloudfront", "wait", "distribution-deployed",
                                                            "--id", self.distribution_id))
        wall = time.perf_counter() - start
        exited = time.time()
        return {"wall": wall, "exited": exited, "steps": steps, "version_arn": arn}

    # checks and set-up -----------------------------------------------------------------------
    def associated(self) -> list[str]:
        d = self.cf.get_distribution(Id=self.distribution_id)["Distribution"]
        items = d["DistributionConfig"]["DefaultCacheBehavior"].get("LambdaFunctionAssociations", {}).get("Items", [])
        return [a["LambdaFunctionARN"] for a in items]

    def check_released(self, arn: str, who: str) -> None:
        if self.associated() != [arn]:
            raise SystemExit(f"after {who}'s release the distribution associates {self.associated()}, not {arn}")

    def deployed_at(self, seconds: float) -> float:
        """When the distribution turned Deployed: its LastModifiedTime plus the hold.

        The launcher stamps LastModifiedTime (microseconds, UTC) in the same statement that restarts
        the state manager's clock for the distribution, and moto reports Deployed from the first look
        after that clock plus `seconds`; both clocks are this machine's, as is time.time()."""
        d = self.cf.get_distribution(Id=self.distribution_id)["Distribution"]
        return d["LastModifiedTime"].timestamp() + seconds

    def change(self, source: Path) -> None:
        """A code change: a new line in index.js, so every run has a new CodeSha256."""
        self.counter += 1
        with open(source / "index.js", "a") as f:
            f.write(f"// bench change {self.counter} {time.time_ns()}\n")


# --- statistics and the table ---------------------------------------------------------------

def med(xs: list[float]) -> float:
    return statistics.median(xs)


def ratios(a: list[float], b: list[float]) -> list[float]:
    return [y / x for x, y in zip(a, b) if x > 0]


def fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x < 10 else f"{x:.1f} s"


def fmt_mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MiB"


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def rss_verdict(kbs: list[int], limit_bytes: int) -> str:
    """The median decides; runs over the limit are counted, as each run's peak is a peak."""
    over = sum(1 for k in kbs if k * 1024 >= limit_bytes)
    if med(kbs) * 1024 >= limit_bytes:
        return f"**no** ({over} of {len(kbs)} runs over)"
    return "yes" if over == 0 else f"median yes; **{over} of {len(kbs)} runs over**"


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    return (f"{os.cpu_count()} CPUs (`nproc` {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()}), "
            f"{cpu}, {mem / 1024 / 1024:.1f} GiB RAM, Linux {platform.release()}, commit {rev or '?'}, "
            f"{dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")


# --- the measurements -----------------------------------------------------------------------

def info_zip(work: Path, tree_dir: Path) -> dict:
    """`zip -q -X -r -6` of a tree: wall time, peak RSS, CPU and size."""
    izip = work / "infozip.zip"
    izip.unlink(missing_ok=True)
    tfile = work / "time.txt"
    start = time.perf_counter()
    subprocess.run([GNU_TIME, "-f", "%M %U %S", "-o", str(tfile), "zip", "-q", "-X", "-r", "-6", str(izip), "."],
                   cwd=tree_dir, check=True)
    wall = time.perf_counter() - start
    rss_kb, user, sys_ = tfile.read_text().split()[-3:]
    return {"wall": wall, "rss_kb": int(rss_kb), "cpu": float(user) + float(sys_), "zip_bytes": izip.stat().st_size}


def main() -> int:
    ap = argparse.ArgumentParser(description="lambda-edge-deploy benchmark (issue 5)")
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    ap.add_argument("--lag-seconds", type=float, default=10.0,
                    help="N: how long the distribution is held InProgress; ours' run i holds it N + i*5/runs s")
    ap.add_argument("--cli-lag-runs", type=int, default=2, help="runs of the CLI's 60 s waiter (default 2)")
    ap.add_argument("--deploy-seconds", type=float, default=5.0,
                    help="row 6: how long each distribution deployment takes (default 5)")
    ap.add_argument("--json", type=Path, help="also write every run's figures here")
    args = ap.parse_args()
    runs = args.runs
    began = time.perf_counter()
    load_before = open("/proc/loadavg").read().split()[:3]

    work = Path(tempfile.mkdtemp(prefix="lambda-edge-bench-"))
    emu = Emulator(work)
    log(f"emulator {emu.url}; work directory {work}")
    raw: dict = {}
    try:
        b = Bench(work, emu)
        b.s3.create_bucket(Bucket=BUCKET)
        b.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        emu.transition({"progression": "immediate"})

        # The example stack, launched once by the binary.
        src = work / "edge-function"
        shutil.copytree(ROOT / "examples/edge-function", src)
        first = b.ours(src, template=True)
        b.distribution_id = first["outputs"]["distribution-id"]
        log(f"first launch: {fmt_s(first['wall'])}, distribution {b.distribution_id}")

        # 1. A release of a code change, ours against the AWS CLI sequence (instant transitions).
        ours_rel, cli_rel = [], []
        for i in range(runs):
            order = ("ours", "cli") if i % 2 == 0 else ("cli", "ours")
            for who in order:
                b.change(src)
                if who == "ours":
                    r = b.ours(src)
                    b.check_released(r["outputs"]["version-arn"], "ours")
                    ours_rel.append(r)
                else:
                    r = b.cli_release(src)
                    b.check_released(r["version_arn"], "the CLI")
                    cli_rel.append(r)
            log(f"release {i + 1}/{runs}: ours {fmt_s(ours_rel[-1]['wall'])} (phases {ours_rel[-1]['phases']}), "
                f"CLI {fmt_s(cli_rel[-1]['wall'])} ({', '.join(f'{k} {v:.2f}' for k, v in cli_rel[-1]['steps'].items())})")
        raw["release"] = {"ours": ours_rel, "cli": cli_rel}

        # 4. Peak RSS of whole releases: a 100 KB package and a 45 MB one (random, so the zip is as large).
        # The 45 MB package three ways: 45 random files of 1 MB (the brief's case), one random file of
        # 45 MB (the zip library holds a whole compressed entry in memory), and a 110 MiB tree of
        # ~8,800 mixed files like the packaging tree's, whose zip is about as large (compression
        # allocates the most there).
        small, large, single, mixed45 = (work / "pkg-100k", work / "pkg-45m", work / "pkg-45m-1file",
                                         work / "pkg-45m-mixed")
        tree.random_tree(small, 100 * 1000)
        tree.random_tree(large, 45 * MB, chunk=MB)
        tree.random_tree(single, 45 * MB, chunk=45 * MB)
        tree.mixed(mixed45, text_bytes=100 * MIB, binary_bytes=10 * MIB)
        rss = {}
        for name, source in (("100k", small), ("45m", large), ("45m-1file", single), ("45m-mixed", mixed45)):
            rs = []
            for i in range(runs):
                b.change(source)
                r = b.ours(source)
                b.check_released(r["outputs"]["version-arn"], "ours")
                rs.append(r)
            rss[name] = rs
            log(f"release of {name}: RSS {[fmt_mb(r['rss_kb']) for r in rs]}, wall {[fmt_s(r['wall']) for r in rs]}, "
                f"zip {rs[-1]['zip_bytes']} bytes, phases {rs[-1]['phases']}")
        raw["rss"] = rss

        # 3. Packaging a 40 MiB tree of ~2,700 mixed files: ours (a dry run) against `zip -X -r -6`.
        mixed = work / "tree-40m"
        t = time.perf_counter()
        tree.mixed(mixed)
        files, total, digest = tree.describe(mixed)
        log(f"packaging tree: {files} files, {total} bytes, sha256 {digest[:16]}…, made in {fmt_s(time.perf_counter() - t)}")
        ours_pkg, zip_pkg, baseline = [], [], []
        for i in range(runs):
            order = ("ours", "zip") if i % 2 == 0 else ("zip", "ours")
            for who in order:
                if who == "ours":
                    ours_pkg.append(b.ours(mixed, dry_run=True))
                else:
                    zip_pkg.append(info_zip(work, mixed))
            # The same dry run of the 1-file example: what a dry run costs besides packaging.
            baseline.append(b.ours(src, dry_run=True))
            log(f"packaging {i + 1}/{runs}: ours {fmt_s(ours_pkg[-1]['wall'])} cpu {ours_pkg[-1]['cpu']:.2f} s "
                f"{fmt_mb(ours_pkg[-1]['rss_kb'])} {ours_pkg[-1]['zip_bytes']} B; zip {fmt_s(zip_pkg[-1]['wall'])} "
                f"cpu {zip_pkg[-1]['cpu']:.2f} s {fmt_mb(zip_pkg[-1]['rss_kb'])} {zip_pkg[-1]['zip_bytes']} B; "
                f"1-file dry run {fmt_s(baseline[-1]['wall'])} {fmt_mb(baseline[-1]['rss_kb'])}")
        raw["packaging"] = {"ours": ours_pkg, "zip": zip_pkg, "baseline": baseline,
                            "tree": {"files": files, "bytes": total, "sha256": digest}}

        # 3d. Many small files: the cost per file (allocation, system calls), against zip.
        smalls = work / "tree-small"
        tree.small_files(smalls)
        s_files, s_total, _ = tree.describe(smalls)
        ours_small, zip_small = [], []
        for i in range(runs):
            for who in (("ours", "zip") if i % 2 == 0 else ("zip", "ours")):
                if who == "ours":
                    ours_small.append(b.ours(smalls, dry_run=True))
                else:
                    zip_small.append(info_zip(work, smalls))
            log(f"small files {i + 1}/{runs}: ours {fmt_s(ours_small[-1]['wall'])} cpu {ours_small[-1]['cpu']:.2f} s; "
                f"zip {fmt_s(zip_small[-1]['wall'])} cpu {zip_small[-1]['cpu']:.2f} s")
        raw["small-files"] = {"ours": ours_small, "zip": zip_small, "files": s_files, "bytes": s_total}

        # 2. Detection lag: the distribution held InProgress, then the time from Deployed to exit.
        # Ours polls every few seconds once backed off (2 s cap), so a single hold would sample one phase of that cycle;
        # run i holds N + i*5/runs s, spreading the runs evenly over one poll interval.
        ours_lag, cli_lag = [], []
        holds = [args.lag_seconds + i * 5.0 / runs for i in range(runs)]
        for i, hold in enumerate(holds):
            emu.transition({"progression": "time", "seconds": hold})
            order = ["ours", "cli"] if i < args.cli_lag_runs else ["ours"]
            if i % 2 and len(order) == 2:
                order.reverse()
            for who in order:
                b.change(src)
                if who == "ours":
                    r = b.ours(src)
                    arn = r["outputs"]["version-arn"]
                    ours_lag.append({"hold": hold, "lag": r["exited"] - b.deployed_at(hold), "wall": r["wall"]})
                else:
                    r = b.cli_release(src)
                    arn = r["version_arn"]
                    cli_lag.append({"hold": hold, "lag": r["exited"] - b.deployed_at(hold), "wall": r["wall"]})
                b.check_released(arn, who)
            log(f"lag {i + 1}/{runs} (held {hold:.1f} s): ours {ours_lag[-1]['lag']:.2f} s"
                + (f", CLI {cli_lag[-1]['lag']:.2f} s" if "cli" in order else ""))
        emu.transition({"progression": "immediate"})
        raw["lag"] = {"ours": ours_lag, "cli": cli_lag}

        # 6. Two changed functions: one release with `functions` against two single-function releases
        # in sequence, each CloudFront deployment taking --deploy-seconds.
        viewer, origin = work / "multi-viewer", work / "multi-origin"
        shutil.copytree(ROOT / "examples/multi/viewer", viewer)
        shutil.copytree(ROOT / "examples/multi/origin", origin)
        lines = [f"ViewerVersion={VIEWER}:{viewer}", f"OriginVersion={ORIGIN}:{origin}"]
        launched = b.ours_functions(lines, template=True)
        multi_distribution = launched["outputs"]["distribution-id"]
        b.ours_functions(lines, template=True)  # its first update names both versions (FirstLaunch=false)
        emu.transition({"progression": "time", "seconds": args.deploy_seconds})
        together, apart = [], []
        for i in range(runs):
            for who in (("together", "apart") if i % 2 == 0 else ("apart", "together")):
                b.change(viewer)
                b.change(origin)
                before = b.stack_work(MULTI_STACK)
                start = time.perf_counter()
                if who == "together":
                    outs = b.ours_functions(lines)["outputs"]["functions"]
                else:
                    outs = [b.ours_functions([line])["outputs"]["functions"][0] for line in lines]
                wall = time.perf_counter() - start
                after = b.stack_work(MULTI_STACK)
                want = sorted(f["version-arn"] for f in outs)
                if b.associations_of(multi_distribution) != want:
                    raise SystemExit(f"after the {who} release the distribution associates "
                                     f"{b.associations_of(multi_distribution)}, not {want}")
                (together if who == "together" else apart).append(
                    {"wall": wall, "updates": after[0] - before[0], "deployments": after[1] - before[1]})
            log(f"two functions {i + 1}/{runs}: together {together[-1]}, apart {apart[-1]}")
        emu.transition({"progression": "immediate"})
        raw["functions"] = {"together": together, "apart": apart, "deploy_seconds": args.deploy_seconds}
    finally:
        emu.stop()
        shutil.rmtree(work, ignore_errors=True)

    # 5. The binary.
    size = BIN.stat().st_size
    kind = subprocess.run(["file", "-b", str(BIN)], capture_output=True, text=True).stdout
    stripped = "stripped" in kind and "not stripped" not in kind

    # --- the table ---
    o_w, c_w = [r["wall"] for r in ours_rel], [r["wall"] for r in cli_rel]
    rel_ratio = med(ratios(o_w, c_w))
    o_lag, c_lag = [r["lag"] for r in ours_lag], [r["lag"] for r in cli_lag]
    lag_ratio = med(ratios(o_lag[:len(c_lag)], c_lag)) if c_lag else float("nan")
    op_w, zp_w = [r["wall"] for r in ours_pkg], [r["wall"] for r in zip_pkg]
    op_r, zp_r = [r["rss_kb"] for r in ours_pkg], [r["rss_kb"] for r in zip_pkg]
    op_s, zp_s = ours_pkg[0]["zip_bytes"], zip_pkg[0]["zip_bytes"]
    base_w, base_r = med([r["wall"] for r in baseline]), med([r["rss_kb"] for r in baseline])
    pkg_phase = med([r["phases"].get(next(iter(r["phases"]), ""), 0.0) for r in ours_pkg]) if ours_pkg[0]["phases"] else None
    r100, r45 = [r["rss_kb"] for r in rss["100k"]], [r["rss_kb"] for r in rss["45m"]]
    r45one = [r["rss_kb"] for r in rss["45m-1file"]]
    r45mix = [r["rss_kb"] for r in rss["45m-mixed"]]
    cli_step_med = {k: med([r["steps"][k] for r in cli_rel]) for k in cli_rel[0]["steps"]}
    os_w, zs_w = [r["wall"] for r in raw["small-files"]["ours"]], [r["wall"] for r in raw["small-files"]["zip"]]
    small_ratio = med(ratios(os_w, zs_w))

    fx = raw["functions"]
    t_w, a_w = [r["wall"] for r in fx["together"]], [r["wall"] for r in fx["apart"]]
    t_u, t_d = [r["updates"] for r in fx["together"]], [r["deployments"] for r in fx["together"]]
    a_u, a_d = [r["updates"] for r in fx["apart"]], [r["deployments"] for r in fx["apart"]]
    rows = [
        ("1", f"Release of a code change, wall time (example function; n={runs}, instant transitions)",
         fmt_s(med(o_w)), f"{fmt_s(med(c_w))} (AWS CLI: zip + 7 calls)", f"{rel_ratio:.1f}× faster",
         "≥ 10× faster", verdict(rel_ratio >= 10)),
        ("2", f"Detection lag, Deployed → exit (held {holds[0]:.0f}–{holds[-1]:.0f} s; ours n={runs}, CLI n={len(c_lag)})",
         fmt_s(med(o_lag)), f"{fmt_s(med(c_lag))} (CLI n={len(c_lag)}, 60 s waiter)" if c_lag else "not run",
         f"{lag_ratio:.0f}× sooner" if c_lag else "", "< 2 s median", verdict(med(o_lag) < 2)),
        ("3a", f"Packaging {total / MIB:.0f} MiB, {files} files: wall time (ours: whole dry run; n={runs})",
         fmt_s(med(op_w)), f"{fmt_s(med(zp_w))} (`zip -X -r -6`)", f"{med(ratios(op_w, zp_w)):.2f}× (zip ÷ ours)",
         "no slower than zip", verdict(med(op_w) <= med(zp_w))),
        ("3b", "Packaging: peak RSS (ours: whole dry run)", fmt_mb(med(op_r)), fmt_mb(med(zp_r)),
         f"{med(ratios(zp_r, op_r)):.1f}× (ours ÷ zip)", "—", "—"),
        ("3c", "Packaging: zip size", f"{op_s:,} B" if op_s else "n/a", f"{zp_s:,} B",
         f"{(op_s - zp_s) / zp_s * 100:+.2f} %" if op_s else "", "no larger", verdict(bool(op_s) and op_s <= zp_s)),
        ("3d", f"Packaging {raw['small-files']['files']:,} small files ({raw['small-files']['bytes'] / MIB:.0f} MiB): "
               f"wall time (ours: whole dry run; n={runs})",
         fmt_s(med(os_w)), f"{fmt_s(med(zs_w))} (`zip -X -r -6`)", f"{small_ratio:.2f}× (zip ÷ ours)",
         "at most 2× zip's time", verdict(small_ratio >= 0.5)),
        ("4a", f"Peak RSS, whole release, 100 KB package (n={runs})", fmt_mb(med(r100)), "", "",
         "< 40 MB", rss_verdict(r100, 40 * MB)),
        ("4b", f"Peak RSS, whole release, {rss['45m'][0]['zip_bytes'] / MB:.0f} MB package, 45 files of 1 MB (n={runs})",
         fmt_mb(med(r45)), "", "", "< 100 MB", rss_verdict(r45, 100 * MB)),
        ("4c", f"Peak RSS, whole release, {rss['45m-1file'][0]['zip_bytes'] / MB:.0f} MB package, one 45 MB file (n={runs})",
         fmt_mb(med(r45one)), "", "", "< 100 MB", rss_verdict(r45one, 100 * MB)),
        ("4d", f"Peak RSS, whole release, {rss['45m-mixed'][0]['zip_bytes'] / MB:.0f} MB package from a 110 MiB tree of "
               f"mixed files (n={runs}; max {fmt_mb(max(r45mix))})",
         fmt_mb(med(r45mix)), "", "", "< 100 MB (extra case)", rss_verdict(r45mix, 100 * MB)),
        ("6", f"Two changed functions: `functions` vs two single releases (n={runs}; each CloudFront deployment "
              f"{raw['functions']['deploy_seconds']:.0f} s): wall time; stack updates / distribution deployments",
         f"{fmt_s(med(t_w))}; {med(t_u):.0f} / {med(t_d):.0f}", f"{fmt_s(med(a_w))}; {med(a_u):.0f} / {med(a_d):.0f} "
         "(two single-function releases)", f"{med(ratios(t_w, a_w)):.2f}× faster",
         "one update, one deployment", verdict(max(t_u) == 1 and max(t_d) == 1)),
        ("5", "Release binary size" + (" (stripped)" if stripped else " (NOT stripped)"),
         f"{size / MB:.1f} MB ({size:,} B)", "", "", "< 15 MB", verdict(size < 15 * MB)),
    ]
    lines = [
        "| # | measure | lambda-edge-deploy | other tool | ratio (median of pairs) | target | met |",
        "|---|---|---|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        f"Machine: {machine()}. Load average before/after: {' '.join(load_before)} / "
        f"{' '.join(open('/proc/loadavg').read().split()[:3])}. Bench wall time {time.perf_counter() - began:.0f} s.",
        "",
        "Notes: MB = 10^6 bytes, MiB = 2^20. "
        f"Row 1's CLI steps (medians): {', '.join(f'{k} {v:.2f} s' for k, v in cli_step_med.items())}. "
        f"Row 2, every run: ours {', '.join(f'{x:.2f}' for x in o_lag)} s; CLI {', '.join(f'{x:.1f}' for x in c_lag)} s. "
        f"Row 3: a dry run of the 1-file example takes {fmt_s(base_w)} and {fmt_mb(base_r)} (look-ups, SDK, process)"
        + (f"; the binary's own package-and-look-ups phase took {pkg_phase:.1f} s (0.1 s resolution)" if pkg_phase is not None else "")
        + f"; ours used {med([r['cpu'] for r in ours_pkg]):.2f} s of CPU, zip {med([r['cpu'] for r in zip_pkg]):.2f} s. "
        f"Row 4: wall {fmt_s(med([r['wall'] for r in rss['100k']]))} (100 KB), {fmt_s(med([r['wall'] for r in rss['45m']]))} (45 MB, 45 files) "
        f"{fmt_s(med([r['wall'] for r in rss['45m-1file']]))} (45 MB, one file) "
        f"and {fmt_s(med([r['wall'] for r in rss['45m-mixed']]))} (45 MB from 110 MiB mixed).",
    ]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
