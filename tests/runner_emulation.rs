//! The binary as a GitHub container action step, with the environment built from action.yml the way
//! the runner builds it (actions/runner: ContainerActionHandler, FileCommandManager, ActionCommandManager):
//!
//! - every input declared in action.yml becomes `INPUT_` + the name with spaces turned to `_`,
//!   upper-cased, hyphens kept (`INPUT_STACK-NAME`); the workflow's value, else the default, else an
//!   empty string (`required` is not enforced by the runner);
//! - `GITHUB_ACTIONS=true`, `CI=true`, `HOME`, `GITHUB_WORKSPACE`, and the file commands
//!   (`GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`, ...) as empty files in a `file_commands` directory;
//! - the working directory is the workspace, and the workflow gives relative paths.
//!
//! Then GITHUB_OUTPUT is read with the runner's rules, every declared output must be set, and the
//! values must be what the emulator holds. The log must use groups, and a failing run must report an
//! `::error title=…::` annotation escaped as the runner unescapes it.
//!
//! What this file has beyond tests/common: reading action.yml, the step environment, and parsing a
//! workflow command line (`::name k=v,k=v::message`) as actions/runner's ActionCommand does.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::runner::parse_output_file;
use common::{repo, run, set_marker, Emulator, World, BUCKET, FUNCTION, STACK};
use yaml_rust2::{Yaml, YamlLoader};

const PREFIX: &str = "releases/";

/// action.yml's inputs (name and default, if any) and output names, in their order.
struct Action {
    inputs: Vec<(String, Option<String>)>,
    outputs: Vec<String>,
}

fn action() -> Action {
    let text = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    let doc = YamlLoader::load_from_str(&text).unwrap().remove(0);
    let scalar = |y: &Yaml| match y {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    };
    let inputs = doc["inputs"]
        .as_hash()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let default = if v["default"].is_badvalue() { None } else { Some(scalar(&v["default"])) };
            (k.as_str().unwrap().to_owned(), default)
        })
        .collect();
    let outputs = doc["outputs"].as_hash().unwrap().keys().map(|k| k.as_str().unwrap().to_owned()).collect();
    Action { inputs, outputs }
}

/// The runner's name for an input's variable.
fn input_variable(name: &str) -> String {
    format!("INPUT_{}", name.replace(' ', "_").to_uppercase())
}

/// A workspace as the runner lays it out, for one job.
struct Job {
    _dir: tempfile::TempDir,
    root: PathBuf,
    workspace: PathBuf,
}

impl Job {
    /// A workspace holding a copy of examples/edge-function as `edge-function` and the template as
    /// `infra/template.yaml`, both to be given as relative paths.
    fn new() -> Job {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let workspace = root.join("workspace");
        let source = workspace.join("edge-function");
        std::fs::create_dir_all(&source).unwrap();
        for entry in std::fs::read_dir(repo().join("examples/edge-function")).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), source.join(entry.file_name())).unwrap();
            }
        }
        std::fs::create_dir_all(workspace.join("infra")).unwrap();
        std::fs::copy(repo().join("examples/template.yaml"), workspace.join("infra/template.yaml")).unwrap();
        for d in ["home", "runner_temp"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        Job { _dir: dir, root, workspace }
    }

    fn source(&self) -> PathBuf {
        self.workspace.join("edge-function")
    }
}

/// One step's file commands: fresh empty files, as the runner creates them for every step.
struct FileCommands {
    output: PathBuf,
    summary: PathBuf,
}

impl FileCommands {
    fn new(job: &Job, step: &str) -> (FileCommands, Vec<(String, String)>) {
        let dir = job.root.join("file_commands");
        std::fs::create_dir_all(&dir).unwrap();
        let mut env = Vec::new();
        let mut paths = BTreeMap::new();
        for (var, stem) in [
            ("GITHUB_OUTPUT", "set_output"),
            ("GITHUB_STEP_SUMMARY", "step_summary"),
            ("GITHUB_ENV", "set_env"),
            ("GITHUB_PATH", "add_path"),
            ("GITHUB_STATE", "save_state"),
        ] {
            let path = dir.join(format!("{stem}_{step}"));
            std::fs::write(&path, "").unwrap();
            env.push((var.to_owned(), path.display().to_string()));
            paths.insert(var, path);
        }
        (FileCommands { output: paths["GITHUB_OUTPUT"].clone(), summary: paths["GITHUB_STEP_SUMMARY"].clone() }, env)
    }

    /// GITHUB_OUTPUT as the runner reads it: a later value of a name replaces an earlier one.
    fn outputs(&self) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(&self.output).unwrap();
        let pairs =
            parse_output_file(&text).unwrap_or_else(|e| panic!("the runner would reject GITHUB_OUTPUT: {e}\n{text}"));
        pairs.into_iter().collect()
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(&self.summary).unwrap()
    }
}

/// The inputs as the runner passes them: every declared input, the workflow's value (`with`), else
/// the default, else an empty string.
fn input_env(action: &Action, with: &[(&str, &str)]) -> Vec<(String, String)> {
    for (name, _) in with {
        assert!(action.inputs.iter().any(|(n, _)| n == name), "`{name}` is not an input of action.yml");
    }
    action
        .inputs
        .iter()
        .map(|(name, default)| {
            let given = with.iter().find(|(n, _)| n == name).map(|(_, v)| v.to_string());
            (input_variable(name), given.or(default.clone()).unwrap_or_default())
        })
        .collect()
}

/// The container step's environment: the emulator's AWS settings, the runner's variables and file
/// commands, and the inputs.
fn step_env(emu: &Emulator, job: &Job, step: &str, with: &[(&str, &str)]) -> (FileCommands, Vec<(String, String)>) {
    let mut env = emu.env();
    let (files, file_env) = FileCommands::new(job, step);
    env.extend(file_env);
    for (k, v) in [
        ("GITHUB_ACTIONS", "true".to_owned()),
        ("CI", "true".to_owned()),
        ("HOME", job.root.join("home").display().to_string()),
        ("GITHUB_WORKSPACE", job.workspace.display().to_string()),
        ("RUNNER_TEMP", job.root.join("runner_temp").display().to_string()),
        ("GITHUB_ACTION", step.to_owned()),
        ("GITHUB_REPOSITORY", "octo-org/site".to_owned()),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567".to_owned()),
    ] {
        env.push((k.to_owned(), v));
    }
    env.extend(input_env(&action(), with));
    (files, env)
}

/// The `with:` of the example's release: relative paths, a multi-line list, an invalidation.
fn with_release() -> Vec<(&'static str, &'static str)> {
    vec![
        ("function-name", FUNCTION),
        ("stack-name", STACK),
        ("artifact-bucket", BUCKET),
        ("artifact-prefix", PREFIX),
        ("source", "edge-function"),
        ("template", "infra/template.yaml"),
        ("parameters", "OriginDomainName=origin.example.org\n"),
        ("invalidation-paths", "/*"),
    ]
}

/// A workflow command line (`::name k=v,k=v::message`) as actions/runner's ActionCommand.TryParseV2
/// reads it, with properties and message unescaped.
#[derive(Debug)]
struct WorkflowCommand {
    name: String,
    properties: BTreeMap<String, String>,
    message: String,
}

fn parse_command(line: &str) -> Option<WorkflowCommand> {
    let rest = line.trim_start().strip_prefix("::")?;
    let end = rest.find("::")?;
    let (section, message) = (&rest[..end], &rest[end + 2..]);
    let (name, props) = section.split_once(' ').unwrap_or((section, ""));
    let mut properties = BTreeMap::new();
    for prop in props.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = prop.split_once('=')?;
        properties.insert(k.to_owned(), unescape(v, true));
    }
    Some(WorkflowCommand { name: name.to_owned(), properties, message: unescape(message, false) })
}

fn unescape(s: &str, property: bool) -> String {
    let mut out = s.replace("%0D", "\r").replace("%0A", "\n");
    if property {
        out = out.replace("%3A", ":").replace("%2C", ",");
    }
    out.replace("%25", "%")
}

/// Every `%` in an escaped message or property starts one of the runner's escapes.
fn properly_escaped(s: &str, property: bool) -> bool {
    let allowed: &[&str] = if property { &["%25", "%0D", "%0A", "%3A", "%2C"] } else { &["%25", "%0D", "%0A"] };
    s.match_indices('%').all(|(i, _)| allowed.iter().any(|e| s[i..].starts_with(e)))
        && !s.contains(['\r', '\n'])
        && !(property && s.contains([':', ',']))
}

/// `::group::` / `::endgroup::` lines come in pairs, one group at a time (the runner does not nest them).
fn assert_groups(stderr: &str) -> usize {
    let mut open = false;
    let mut groups = 0;
    for line in stderr.lines() {
        if let Some(title) = line.strip_prefix("::group::") {
            assert!(!open, "a group opens inside another: {line}");
            assert!(!title.trim().is_empty(), "a group without a title");
            open = true;
            groups += 1;
        } else if line == "::endgroup::" {
            assert!(open, "::endgroup:: without a group");
            open = false;
        }
    }
    assert!(!open, "the last group is not closed");
    groups
}

async fn describe_stack(c: &common::Clients) -> (String, String) {
    let out = c.cfn.describe_stacks().stack_name(STACK).send().await.unwrap();
    let s = &out.stacks()[0];
    (s.stack_id().unwrap().to_owned(), s.stack_status().unwrap().as_str().to_owned())
}

/// Checks one successful step: every declared output set, equal to the JSON on stdout, and the
/// values that the emulator holds.
async fn check_outputs(c: &common::Clients, r: &common::Run, files: &FileCommands, first_launch: bool) {
    let outputs = files.outputs();
    let declared = action().outputs;
    // Empty unless pruning deleted or deferred a version (tests/prune.rs checks them), the run is
    // a plan (tests/review.rs), or a staged release (tests/staged.rs).
    let empty_here = [
        "pruned-versions",
        "pending-versions",
        "change-set-id",
        "change-set-name",
        "has-changes",
        "changes-count",
        "changes-markdown",
        "staging-distribution-id",
        "canary-result",
    ];
    for name in &declared {
        let value =
            outputs.get(name).unwrap_or_else(|| panic!("output `{name}` was not set; GITHUB_OUTPUT: {outputs:?}"));
        assert!(!value.is_empty() || empty_here.contains(&name.as_str()), "output `{name}` is empty");
        assert_eq!(value, &r.out(name), "output `{name}`: GITHUB_OUTPUT and the JSON on stdout differ");
    }
    // Undeclared outputs pass on from a container action too: the stack's Outputs, whose names
    // are the template's (README, "Stack outputs").
    for name in outputs.keys().filter(|n| !n.starts_with("stack-output-")) {
        assert!(declared.contains(name), "GITHUB_OUTPUT sets `{name}`, which action.yml does not declare");
    }
    assert_eq!(outputs["stack-output-DistributionId"], outputs["distribution-id"]);

    let version_arn = &outputs["version-arn"];
    let version = &outputs["version"];
    assert_eq!(version_arn.rsplit(':').next(), Some(version.as_str()), "version is the number of version-arn");
    assert!(c.lambda_versions(FUNCTION).await.contains(version), "version {version} is published");

    // The stack's association: what the distribution runs, and what the stack says it runs.
    let distribution = c.only_distribution_id().await;
    assert_eq!(outputs["distribution-id"], distribution);
    let (status, associations) = c.distribution(&distribution).await;
    assert_eq!(status, "Deployed");
    assert_eq!(associations, vec![version_arn.clone()], "the distribution associates version-arn and nothing else");
    if first_launch {
        let out =
            c.cfn.describe_stack_resource().stack_name(STACK).logical_resource_id("EdgeFunctionVersion").send().await;
        let physical = out.unwrap().stack_resource_detail().and_then(|d| d.physical_resource_id()).unwrap().to_owned();
        assert_eq!(&physical, version_arn, "a first launch releases the stack's own AWS::Lambda::Version");
        assert_eq!(c.stack_parameter(STACK, "FirstLaunch").await, "true");
    } else {
        assert_eq!(&c.stack_parameter(STACK, "LambdaVersion").await, version_arn, "the stack's LambdaVersion");
        assert_eq!(c.stack_parameter(STACK, "FirstLaunch").await, "false");
    }
    let d = c.cf.get_distribution().id(&distribution).send().await.unwrap();
    assert_eq!(outputs["distribution-domain"], d.distribution().unwrap().domain_name());

    let function = c.lambda.get_function().function_name(FUNCTION).send().await.unwrap();
    assert_eq!(outputs["function-arn"], function.configuration().unwrap().function_arn().unwrap());
    let published = c.lambda.get_function_configuration().function_name(version_arn).send().await.unwrap();
    assert_eq!(Some(outputs["code-sha256"].as_str()), published.code_sha256());

    let key = format!("{PREFIX}{FUNCTION}.zip");
    assert_eq!(outputs["s3-key"], key);
    assert_eq!(outputs["s3-version-id"], c.object_versions(BUCKET, &key).await[0], "the newest object version");
    assert_eq!(c.stack_parameter(STACK, "ArtifactObjectVersion").await, outputs["s3-version-id"]);

    let (stack_id, stack_status) = describe_stack(c).await;
    assert_eq!(outputs["stack-id"], stack_id);
    assert_eq!(outputs["stack-status"], stack_status);
    assert_eq!(stack_status, if first_launch { "CREATE_COMPLETE" } else { "UPDATE_COMPLETE" });

    assert_eq!(outputs["changed"], "true");
    assert_eq!(outputs["first-launch"], first_launch.to_string());
    let invalidation =
        c.cf.get_invalidation().distribution_id(&distribution).id(&outputs["invalidation-id"]).send().await;
    assert!(invalidation.is_ok(), "invalidation {} exists: {invalidation:?}", outputs["invalidation-id"]);

    let summary = files.summary();
    assert!(summary.contains(&format!("| Version | `{version}` |")), "the job summary names the version:\n{summary}");
}

#[test]
fn inputs_are_passed_as_the_runner_passes_them() {
    let action = action();
    let env = input_env(&action, &[("function-name", "edge-fn"), ("parameters", "A=1\nB=2")]);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("INPUT_FUNCTION-NAME"), Some("edge-fn"), "upper-cased, hyphens kept");
    assert_eq!(get("INPUT_PARAMETERS"), Some("A=1\nB=2"), "values as given, line breaks and all");
    assert_eq!(get("INPUT_STACK-NAME"), Some(""), "an input with neither value nor default is an empty string");
    assert_eq!(get("INPUT_REGION"), Some("us-east-1"), "defaults are filled in");
    assert_eq!(get("INPUT_FIRST-LAUNCH-PARAMETER"), Some("FirstLaunch"));
    assert_eq!(input_variable("my input"), "INPUT_MY_INPUT", "spaces become `_`");
    assert_eq!(env.len(), action.inputs.len(), "every declared input, once");
}

#[tokio::test]
async fn a_container_step_launches_then_releases_with_every_output_set() {
    let world = World::start().await;
    let (emu, c) = (&world.emu, &world.c);
    c.versioned_bucket(BUCKET).await;
    let job = Job::new();

    // First launch: no stack yet.
    let (files, env) = step_env(emu, &job, "deploy1", &with_release());
    let r = run(&env, &job.workspace);
    assert_eq!(r.code, 0, "the first launch failed");
    check_outputs(c, &r, &files, true).await;
    let groups = assert_groups(&r.stderr);
    assert!(groups >= 3, "the log groups each phase (found {groups} groups)");
    assert!(!r.stderr.lines().any(|l| l.starts_with("::error")), "no error annotation on success");

    // A release of a code change, in a later job of the same workspace layout.
    set_marker(&job.source(), "two");
    let (files, env) = step_env(emu, &job, "deploy2", &with_release());
    let r = run(&env, &job.workspace);
    assert_eq!(r.code, 0, "the release failed");
    check_outputs(c, &r, &files, false).await;
    assert_groups(&r.stderr);
    assert_eq!(c.lambda_versions(FUNCTION).await.len(), 2);
}

#[tokio::test]
async fn a_missing_required_input_is_an_escaped_error_annotation() {
    let emu = Emulator::start();
    let job = Job::new();
    // The workflow forgot `function-name` (the runner passes it empty) and wrote a timeout holding
    // every character that needs escaping: `%`, `:`, `,`, and a line break.
    let timeout = "100%: later, maybe\nor never";
    let mut with = with_release();
    with.retain(|(n, _)| *n != "function-name");
    with.push(("timeout", timeout));
    let (files, env) = step_env(&emu, &job, "deploy", &with);
    assert!(env.iter().any(|(k, v)| k == "INPUT_FUNCTION-NAME" && v.is_empty()));
    let r = run(&env, &job.workspace);
    assert_eq!(r.code, 2, "invalid inputs exit 2");

    let errors: Vec<(&str, WorkflowCommand)> = r
        .stderr
        .lines()
        .chain(r.stdout.lines())
        .filter(|l| l.starts_with("::error"))
        .map(|l| (l, parse_command(l).unwrap_or_else(|| panic!("not a workflow command: {l}"))))
        .collect();
    assert_eq!(errors.len(), 1, "one annotation for every input problem: {errors:?}");
    let (line, error) = &errors[0];
    assert_eq!(error.name, "error");
    let title = error.properties.get("title").unwrap_or_else(|| panic!("the annotation has a title: {line}"));
    assert!(!title.is_empty());
    let (section, message) = line.strip_prefix("::").unwrap().split_once("::").unwrap();
    for prop in section.split_once(' ').map(|(_, p)| p).unwrap_or("").split(',') {
        let value = prop.split_once('=').map(|(_, v)| v).unwrap_or_default();
        assert!(properly_escaped(value, true), "property escaped as the runner expects: {prop}");
    }
    assert!(properly_escaped(message, false), "message escaped as the runner expects: {message}");
    assert!(message.contains("100%25"), "`%` is escaped: {message}");
    assert!(error.message.contains("function-name") && error.message.contains("required"), "{}", error.message);
    assert!(error.message.contains("timeout"), "every problem is reported at once: {}", error.message);
    assert!(
        error.message.contains("100%: later, maybe"),
        "the message unescapes to the original text: {}",
        error.message
    );
    assert!(error.message.lines().count() > 1, "a multi-line message survives as one annotation");

    // Nothing was deployed, and the file commands are still well formed for the runner.
    assert!(files.outputs().values().all(|v| v.is_empty() || v == "false"), "{:?}", files.outputs());
    assert_eq!(emu.clients().await.stack_count().await, 0);
    let summary = files.summary();
    assert!(summary.contains("failed") && summary.contains("function-name"), "the job summary says why:\n{summary}");
}
