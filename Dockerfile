# syntax=docker/dockerfile:1
#
# The lambda-edge-deploy image: what `uses: ./` builds (action.yml `image: Dockerfile`), what the
# release workflow pushes to ghcr.io for linux/amd64 and linux/arm64, and what other CI systems run.
#
#   docker build -t lambda-edge-deploy .
#   docker run --rm -v "$PWD:/work" -w /work -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY \
#     -e AWS_SESSION_TOKEN -e INPUT_FUNCTION_NAME=edge -e INPUT_STACK_NAME=site \
#     -e INPUT_ARTIFACT_BUCKET=artifacts -e INPUT_SOURCE=edge-function lambda-edge-deploy
#
# Stages: `chef` (the toolchain and cargo-chef), `planner` (the dependency recipe), `builder` (the
# dependencies in their own layer, then the binary), and the runtime image, which comes last so that
# a plain `docker build` (as the GitHub runner does it) produces it.

# Debian trixie (stable) on both sides: the binary is linked against the glibc of the image that
# runs it.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-trixie AS chef
# cargo-chef from crates.io, at a fixed version, built with its own lock file. The slim Rust image
# already has the C compiler that aws-lc-sys (TLS) needs; it builds without cmake.
RUN cargo install cargo-chef --version 0.1.78 --locked
WORKDIR /build

FROM chef AS planner
COPY . .
# recipe.json holds only what decides the dependency build (manifests, lock file, target layout), so
# the next stage's dependency layer stays cached until Cargo.toml or Cargo.lock change.
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /build/recipe.json recipe.json
# The dependencies alone: the slow part (the AWS SDK, aws-lc), cached in its own layer.
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
# The release profile in Cargo.toml has LTO, one codegen unit, `strip` and `panic = "abort"`.
RUN cargo build --release --locked --bin lambda-edge-deploy

# Runtime: Debian slim with the CA certificates (the AWS SDK's rustls client reads the system trust
# store) and nothing else installed. Not distroless/cc, though it is some 20 MB smaller: a
# distroless image has no shell, and every CI system that runs a job's `script:` inside an image
# (GitLab CI, CircleCI, Bitbucket Pipelines, Jenkins' docker agents) needs /bin/sh, so the same image
# serves GitHub Actions and those alike. The pull is seconds either way.
FROM debian:trixie-slim AS runtime
# ca-certificates is not pinned, on purpose: the trust store must be Debian's current one, and Debian
# replaces the package's version within a stable release when roots change (a pin would break the
# build then, and ship stale roots until then).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=builder /build/target/release/lambda-edge-deploy /usr/local/bin/lambda-edge-deploy

LABEL org.opencontainers.image.title="lambda-edge-deploy" \
      org.opencontainers.image.description="Release an AWS Lambda@Edge function through CloudFormation in one step" \
      org.opencontainers.image.licenses="Apache-2.0"

# No USER: the image runs as root, on purpose. As a GitHub container action the runner mounts the
# workspace (/github/workspace, the working directory) and the file commands (/github/file_commands,
# where GITHUB_OUTPUT and GITHUB_STEP_SUMMARY point) from the host, owned by the runner's user
# (uid 1001 on GitHub's runners, anything on self-hosted ones) and not writable by other users. A
# fixed non-root uid here could not append the outputs or the job summary, and GitHub documents
# that container actions must run as root (the default user). The container is thrown away after
# the step, and the binary needs no privilege of its own: it reads the source and writes those two
# files, everything else goes to AWS over HTTPS. Elsewhere, `docker run --user "$(id -u)"` works
# as well, as nothing in the image needs root.
#
# No WORKDIR either: the runner passes --workdir /github/workspace, and relative `source` and
# `template` inputs are resolved from the working directory whatever it is.
ENTRYPOINT ["/usr/local/bin/lambda-edge-deploy"]
