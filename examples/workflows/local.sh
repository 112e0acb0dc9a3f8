#!/usr/bin/env bash
# A release from a laptop: the binary (from a GitHub release, or `cargo build --release` in this
# repository) with the inputs as environment variables, and credentials from the usual AWS chain
# (here a profile, such as an SSO one: `aws sso login --profile deploy` first).
#
#   DRY_RUN=true examples/workflows/local.sh   # package, hash and say what would change
#   examples/workflows/local.sh                # release
#
# Run it from the directory that holds edge-function/ and infra/template.yaml: relative paths
# start at the working directory. Outside GitHub Actions the log is plain timestamped lines on
# stderr, and the outputs are one JSON object on stdout.
#
# The same with the image instead of the binary (the workspace mounted as the working directory):
#   docker run --rm -v "$PWD:/work" -w /work -v "$HOME/.aws:/root/.aws:ro" -e AWS_PROFILE \
#     -e INPUT_FUNCTION_NAME -e INPUT_STACK_NAME -e INPUT_ARTIFACT_BUCKET -e INPUT_SOURCE \
#     -e INPUT_TEMPLATE ghcr.io/your-org/lambda-edge-deploy:1
set -euo pipefail

bin=${LAMBDA_EDGE_DEPLOY:-lambda-edge-deploy}

export AWS_PROFILE=${AWS_PROFILE:-deploy}
# Names with `_`: a shell cannot export INPUT_STACK-NAME; both spellings are the same input.
export INPUT_FUNCTION_NAME=site-edge-origin-request
export INPUT_STACK_NAME=site-edge
export INPUT_ARTIFACT_BUCKET=example-edge-artifacts
export INPUT_ARTIFACT_PREFIX=releases/
export INPUT_SOURCE=edge-function
export INPUT_TEMPLATE=infra/template.yaml
export INPUT_PARAMETERS="OriginDomainName=origin.example.org"
export INPUT_INVALIDATION_PATHS="/*"
export INPUT_DRY_RUN=${DRY_RUN:-false}

outputs=$(mktemp)
trap 'rm -f "$outputs"' EXIT

# Exit codes: 0 deployed or nothing to do, 1 failed in AWS, 2 invalid input, 3 timed out.
status=0
"$bin" > "$outputs" || status=$?
cat "$outputs"
if [ "$status" -ne 0 ]; then
  echo "lambda-edge-deploy exited $status" >&2
  exit "$status"
fi

# Pick outputs from the JSON (python3, as jq may not be installed).
version=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$outputs")
echo "Lambda@Edge version: ${version:-none (dry run)}" >&2
