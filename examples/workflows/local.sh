#!/usr/bin/env bash
# A release from a laptop: the binary with the inputs as environment variables (flags work too),
# and credentials from the usual AWS chain (AWS_PROFILE, SSO, environment keys).
#
#   examples/workflows/local.sh --emulator             # against a local emulator: no AWS account needed
#   examples/workflows/local.sh --emulator --dry-run   # package, hash and say what would change
#   AWS_PROFILE=deploy examples/workflows/local.sh     # a real release (`aws sso login --profile deploy` first)
#   examples/workflows/local.sh --help                 # every input, as a flag
#
# It releases the repository's example (examples/edge-function with examples/template.yaml); set
# INPUT_SOURCE, INPUT_TEMPLATE, INPUT_FUNCTION_NAME, INPUT_STACK_NAME, INPUT_ARTIFACT_BUCKET and
# INPUT_PARAMETERS for your own, or copy this file next to your code. Arguments other than
# --emulator go to lambda-edge-deploy as flags, which win over the variables.
#
# With --emulator, the emulator (tests/emulator, moto) is started on a free loopback port, with a
# versioned bucket, and stopped at the end; set EMULATOR_URL to use one that is already running
# (`.venv/bin/python tests/emulator/launcher.py --port 4566`), which keeps its state between runs.
#
# The binary: $LAMBDA_EDGE_DEPLOY, else lambda-edge-deploy on PATH, else this repository's build
# (built with `cargo build --release --locked` if there is none). Outside GitHub Actions the log is
# plain timestamped lines on stderr, and the outputs are one JSON object on stdout.
#
# The same with the image instead of the binary (the workspace mounted as the working directory):
#   docker run --rm -v "$PWD:/work" -w /work -v "$HOME/.aws:/root/.aws:ro" -e AWS_PROFILE \
#     -e INPUT_FUNCTION_NAME -e INPUT_STACK_NAME -e INPUT_ARTIFACT_BUCKET -e INPUT_SOURCE \
#     -e INPUT_TEMPLATE ghcr.io/your-org/lambda-edge-deploy:1
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)

emulator=false
args=()
for arg in "$@"; do
  if [ "$arg" = --emulator ]; then emulator=true; else args+=("$arg"); fi
done

# Names with `_`: a shell cannot export INPUT_STACK-NAME; both spellings are the same input.
export INPUT_FUNCTION_NAME=${INPUT_FUNCTION_NAME:-site-edge-origin-request}
export INPUT_STACK_NAME=${INPUT_STACK_NAME:-site-edge}
export INPUT_ARTIFACT_BUCKET=${INPUT_ARTIFACT_BUCKET:-example-edge-artifacts}
export INPUT_ARTIFACT_PREFIX=${INPUT_ARTIFACT_PREFIX:-releases/}
export INPUT_SOURCE=${INPUT_SOURCE:-$repo/examples/edge-function}
export INPUT_TEMPLATE=${INPUT_TEMPLATE:-$repo/examples/template.yaml}
export INPUT_PARAMETERS=${INPUT_PARAMETERS:-OriginDomainName=origin.example.org}
export INPUT_INVALIDATION_PATHS=${INPUT_INVALIDATION_PATHS:-/*}

bin=${LAMBDA_EDGE_DEPLOY:-}
if [ -z "$bin" ] && command -v lambda-edge-deploy >/dev/null; then
  bin=lambda-edge-deploy
elif [ -z "$bin" ]; then
  bin=$repo/target/release/lambda-edge-deploy
  if [ ! -x "$bin" ]; then
    echo "local.sh: building $bin (the first build compiles the AWS SDK: several minutes)" >&2
    cargo build --release --locked --manifest-path "$repo/Cargo.toml"
  fi
fi

if $emulator; then
  if [ -z "${EMULATOR_URL:-}" ]; then
    "$repo/scripts/setup-emulator"
    logs=$(mktemp)
    exec 3< <(exec "$repo/.venv/bin/python" "$repo/tests/emulator/launcher.py" --port 0 2>"$logs")
    started=$!
    trap 'kill "$started" 2>/dev/null || true; rm -f "$logs"' EXIT
    read -r line <&3 || { cat "$logs" >&2; echo "local.sh: the emulator did not start" >&2; exit 1; }
    EMULATOR_URL=${line#LISTENING }
    echo "local.sh: emulator at $EMULATOR_URL (stopped when this script ends)" >&2
  fi
  export AWS_ENDPOINT_URL=$EMULATOR_URL AWS_ACCESS_KEY_ID=emulator AWS_SECRET_ACCESS_KEY=emulator
  unset AWS_PROFILE AWS_SESSION_TOKEN
  # The artifact bucket the tool expects to exist: versioned, as for a real release.
  "$repo/.venv/bin/python" - "$INPUT_ARTIFACT_BUCKET" <<'PY'
import sys
import boto3
s3, bucket = boto3.client("s3", region_name="us-east-1"), sys.argv[1]
if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
PY
fi

outputs=$(mktemp)
trap 'rm -f "$outputs"; [ -z "${started:-}" ] || kill "$started" 2>/dev/null || true; rm -f "${logs:-}"' EXIT

# Exit codes: 0 released or nothing to do, 1 failed in AWS, 2 invalid input or nothing changed
# (no credentials, AWS unreachable), 3 timed out, 130 interrupted. stdout is one JSON object
# whatever the exit (on failure with `error` and `exit-code`).
status=0
"$bin" "${args[@]}" > "$outputs" || status=$?
cat "$outputs"
if [ "$status" -ne 0 ]; then
  echo "lambda-edge-deploy exited $status" >&2
  exit "$status"
fi

# Pick outputs from the JSON (python3, as jq may not be installed); --help prints text.
python3 - "$outputs" <<'PY' >&2
import json, sys
try:
    out = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(0)
print(f"Lambda@Edge version: {out['version'] or 'none (dry run)'}; changed: {out['changed']}")
PY
