//! Settings: the inputs validated into what a run does, every problem reported at once. As ripgrep
//! turns raw flags into arguments, each concept has its own check here, and the mode (package and
//! release, roll back, release an uploaded object) is a type, not a combination of options.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Result;
use crate::inputs::{default_of, split_list, Problems, RawInputs};

/// Where the stack's template comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateSource {
    File(PathBuf),
    Url(String),
}

/// What to do with an in-progress stack update when the run is interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnInterrupt {
    Leave,
    Cancel,
}

/// The version `rollback-to` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackTarget {
    /// The published version just before the one the distribution runs.
    Previous,
    Number(u64),
    Arn(String),
}

/// One edge function of a release: the template parameter that takes its version ARN, its name,
/// and its code (none in a rollback, or for the deployer, whose code is an uploaded object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeFunction {
    pub parameter: String,
    pub name: String,
    pub source: Option<PathBuf>,
}

/// Validated settings for one run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The functions released together: one (`function-name`, `source`, `version-parameter`), or
    /// each line of `functions`.
    pub functions: Vec<EdgeFunction>,
    /// Whether they came from `functions`: the outputs then list them, and the single-function
    /// outputs stay empty.
    pub several: bool,
    pub stack_name: String,
    pub artifact_bucket: String,
    /// What the run releases: packaged code, an already published version, or an uploaded object.
    pub mode: Mode,
    pub artifact_prefix: String,
    pub template: Option<TemplateSource>,
    pub parameters: Vec<(String, String)>,
    pub first_launch_parameter: String,
    pub capabilities: Vec<String>,
    pub tags: Vec<(String, String)>,
    pub distribution_id: Option<String>,
    pub region: String,
    pub wait: bool,
    pub timeout: Duration,
    pub invalidation_paths: Vec<String>,
    pub force: bool,
    pub dry_run: bool,
    pub expected_bucket_owner: Option<String>,
    pub recreate_failed_stack: bool,
    pub on_interrupt: OnInterrupt,
    pub check: Option<crate::check::CheckSpec>,
    pub rollback_on_failure: bool,
    /// `keep-versions`: prune after a successful release (or alone, `prune-only`), keeping this
    /// many of the newest versions besides those in use.
    pub keep_versions: Option<usize>,
    /// `mode: plan`: everything a release does up to the stack update, which becomes a change set
    /// to review.
    pub plan: bool,
    /// `allow-drift`: a distribution that runs another version than the stack last set is a
    /// warning, not a refusal.
    pub allow_drift: bool,
}

/// What a run releases, decided by the inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Package each function's source (a directory or a zip) and release it; the first launch when
    /// there is no stack.
    Release,
    /// `rollback-to`: re-point the stack at a version already published; nothing is packaged.
    Rollback(RollbackTarget),
    /// The S3-triggered deployer: the code is the object version an upload event names.
    Object,
    /// `prune-only`: no release; delete old versions by `keep-versions`.
    Prune,
    /// `mode: execute`: execute the change set a plan created (its ARN), then verify as a release.
    Execute(String),
}

impl Settings {
    /// The S3 key of a function's code zip.
    pub fn artifact_key(&self, function: &str) -> String {
        format!("{}{function}.zip", self.artifact_prefix)
    }

    /// The functions' names, for titles and messages.
    pub fn names(&self) -> String {
        self.functions.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The function released alone (not with `functions`): the deployer's and the single-function
    /// paths that have one by construction.
    pub fn only(&self) -> Option<&EdgeFunction> {
        match self.functions.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

const CAPABILITIES: &[&str] = &["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"];

/// CloudFormation's limits on stack tags ("Tag", CloudFormation API reference).
const MAX_TAGS: usize = 50;
const MAX_TAG_VALUE: usize = 256;

fn check_tags(p: &mut Problems, tags: &[(String, String)]) {
    if tags.len() > MAX_TAGS {
        p.push("tags", format!("{} tags given; a stack takes at most {MAX_TAGS}", tags.len()));
    }
    for (key, value) in tags {
        if key.to_ascii_lowercase().starts_with("aws:") {
            p.push("tags", format!("`{key}`: the `aws:` prefix is reserved for AWS's own tags"));
        }
        if value.chars().count() > MAX_TAG_VALUE {
            p.push("tags", format!("the value of `{key}` is longer than {MAX_TAG_VALUE} characters"));
        }
    }
}

/// Turns raw inputs into settings, collecting every problem. Only the file system is consulted
/// (does `source` exist?); nothing in AWS is.
pub fn validate(raw: RawInputs) -> Result<Settings> {
    validate_as(raw, false)
}

/// As [`validate`], for the S3-triggered deployer, whose code is the S3 object version an event
/// names: no `source`, and the inputs it refuses are refused at its start-up (`deployer.rs`).
pub fn validate_object(raw: RawInputs) -> Result<Settings> {
    validate_as(raw, true)
}

fn validate_as(raw: RawInputs, from_object: bool) -> Result<Settings> {
    let mut p = Problems::default();

    let several = raw.functions.is_some();
    let function_name = match several {
        true => None,
        false => p.required("function-name", raw.function_name.clone(), valid_function_name),
    };
    let stack_name = p.required("stack-name", raw.stack_name, valid_stack_name);
    let artifact_bucket = p.required("artifact-bucket", raw.artifact_bucket, valid_bucket_name);
    let rollback = raw.rollback_to.is_some();
    let rollback_to = match raw.rollback_to.map(|r| r.trim().to_owned()) {
        None => None,
        Some(r) if r == "previous" => Some(RollbackTarget::Previous),
        Some(r) if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) => match r.parse::<u64>() {
            Ok(n) if n > 0 => Some(RollbackTarget::Number(n)),
            Ok(_) => {
                p.push("rollback-to", format!("`{r}`: version numbers start at 1"));
                None
            }
            Err(_) => {
                p.push("rollback-to", format!("`{r}` is too large to be a version Lambda published"));
                None
            }
        },
        Some(r) if r.starts_with("arn:") && crate::function::version_of(&r).is_some() => Some(RollbackTarget::Arn(r)),
        Some(r) => {
            p.push(
                "rollback-to",
                format!("`{r}`: expected `previous`, a version number such as `7`, or a numbered version ARN (not `$LATEST` or an alias)"),
            );
            None
        }
    };
    let given_source = raw.source.is_some();
    let prune_only = p.boolean("prune-only", raw.prune_only.clone());
    let keep_versions = match raw.keep_versions.as_deref().map(str::trim) {
        None => None,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                p.push("keep-versions", format!("`{n}`: expected a number of versions to keep, 1 or more (the versions in use are kept besides)"));
                None
            }
        },
    };
    if prune_only && raw.keep_versions.is_none() {
        p.push("prune-only", "needs `keep-versions`: how many of the newest versions to keep");
    }
    if prune_only && rollback {
        p.push("prune-only", "cannot be given with `rollback-to`: one re-points the stack, the other releases nothing");
    }
    if several && matches!(rollback_to, Some(RollbackTarget::Number(_) | RollbackTarget::Arn(_))) {
        p.push("rollback-to", "with `functions` takes `previous` (each function back to the version before its live one): a number or an ARN names a version of one function");
    }
    let review = raw.mode.as_deref().map(str::trim).unwrap_or(default_of("mode")).to_owned();
    let plan = review == "plan";
    let change_set_id = raw.change_set_id.as_deref().map(str::trim).map(str::to_owned);
    let execute = match (review.as_str(), change_set_id) {
        ("execute", Some(id)) => {
            // An ARN, or a name (with `stack-name`): a name holds no account id, so GitHub never
            // masks it out of a job output.
            let arn = id.starts_with("arn:") && id.contains(":changeSet/");
            let name = id.len() <= 128
                && id.starts_with(|c: char| c.is_ascii_alphabetic())
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !arn && !name {
                p.push("change-set-id", format!("`{id}` is not a change set ARN (arn:aws:cloudformation:us-east-1:ACCOUNT:changeSet/NAME/ID) or name (the `change-set-id` or `change-set-name` output of `mode: plan`)"));
            }
            Some(id)
        }
        ("execute", None) => {
            p.push(
                "change-set-id",
                "is required with `mode: execute`: give the `change-set-id` output of the `mode: plan` run",
            );
            None
        }
        ("release" | "plan", Some(_)) => {
            p.push("change-set-id", "means something only with `mode: execute`; remove it, or set `mode: execute`");
            None
        }
        ("release" | "plan", None) => None,
        (other, _) => {
            p.push("mode", format!("expected `release`, `plan` or `execute`, got `{other}`"));
            None
        }
    };
    let allow_drift = p.boolean("allow-drift", raw.allow_drift.clone());
    // A plan stops before anything serves the new version; an execute releases what was planned.
    // What belongs to the other half, or to no change set, is refused rather than ignored.
    if plan {
        for (input, given, why) in [
            (
                "check-url",
                raw.check_url.is_some(),
                "the check runs with `mode: execute`, once the planned change is live",
            ),
            (
                "invalidation-paths",
                raw.invalidation_paths.is_some(),
                "give it to the `mode: execute` run, which deploys the change",
            ),
            ("rollback-on-failure", said_true(&raw.rollback_on_failure), "nothing goes live in a plan"),
            (
                "keep-versions",
                raw.keep_versions.is_some(),
                "a plan releases nothing; prune with the `mode: execute` run",
            ),
            (
                "dry-run",
                said_true(&raw.dry_run),
                "a plan writes (it publishes the version and creates the change set); `dry-run` writes nothing",
            ),
            ("prune-only", prune_only, "a plan releases, `prune-only` does not"),
        ] {
            if given {
                p.push(input, format!("means nothing with `mode: plan`: {why}; remove it"));
            }
        }
    }
    if execute.is_some() {
        p.refuse(
            &[
            ("source", given_source),
            ("template", raw.template.is_some()),
            ("template-url", raw.template_url.is_some()),
            ("parameters", raw.parameters.is_some()),
            ("tags", raw.tags.is_some()),
            ("force", said_true(&raw.force)),
            ("rollback-to", rollback),
            ("prune-only", prune_only),
            ("dry-run", said_true(&raw.dry_run)),
            ("recreate-failed-stack", said_true(&raw.recreate_failed_stack)),
            ("rollback-on-failure", said_true(&raw.rollback_on_failure)),
            ],
            "means nothing with `mode: execute`, which runs the change set exactly as planned; remove it (give it to the `mode: plan` run)",
        );
    }
    let mode = match rollback_to {
        _ if execute.is_some() => Mode::Execute(execute.clone().unwrap_or_default()),
        _ if prune_only => Mode::Prune,
        Some(target) => Mode::Rollback(target),
        None if from_object => Mode::Object,
        None => Mode::Release,
    };
    let source = match (&mode, raw.source) {
        (Mode::Release, Some(source)) if !several => {
            let path = PathBuf::from(source);
            if let Err(problem) = valid_source(&path) {
                p.push("source", problem);
            }
            Some(path)
        }
        (Mode::Release, None) if !several => {
            p.push("source", "is required and was not set");
            None
        }
        _ => None,
    };
    // A rollback re-points the stack at a version already published: what would package code or
    // change the stack's template means nothing there, and is refused rather than ignored.
    if rollback {
        p.refuse(
            &[
                ("source", given_source),
                ("template", raw.template.is_some()),
                ("template-url", raw.template_url.is_some()),
                ("force", said_true(&raw.force)),
                ("rollback-on-failure", said_true(&raw.rollback_on_failure)),
            ],
            "means nothing with `rollback-to`, which packages nothing and keeps the stack's template; remove it",
        );
    }
    // Pruning alone releases nothing: what would package code or change the stack is refused.
    if prune_only {
        p.refuse(
            &[
                ("source", given_source),
                ("template", raw.template.is_some()),
                ("template-url", raw.template_url.is_some()),
                ("parameters", raw.parameters.is_some()),
                ("tags", raw.tags.is_some()),
                ("force", said_true(&raw.force)),
                ("invalidation-paths", raw.invalidation_paths.is_some()),
                ("check-url", raw.check_url.is_some()),
                ("rollback-on-failure", said_true(&raw.rollback_on_failure)),
            ],
            "means nothing with `prune-only`, which releases nothing and leaves the stack as it is; remove it",
        );
    }
    let artifact_prefix = raw.artifact_prefix.map(|s| s.trim().to_owned()).unwrap_or_default();
    if artifact_prefix.starts_with('/') {
        p.push("artifact-prefix", "must not start with `/` (S3 keys have no leading slash); write it as `releases/`");
    }

    let template = match (raw.template, raw.template_url) {
        (Some(_), Some(_)) => {
            p.push("template", "give `template` or `template-url`, not both");
            None
        }
        (Some(path), None) => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                p.push(
                    "template",
                    format!("no file at {} (relative paths start at the working directory)", path.display()),
                );
            }
            Some(TemplateSource::File(path))
        }
        (None, Some(url)) => {
            let url = url.trim().to_owned();
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                p.push("template-url", format!("expected an https:// URL of an S3 object, got `{url}`"));
            }
            Some(TemplateSource::Url(url))
        }
        (None, None) => None,
    };

    let parameters = p.pairs("parameters", raw.parameters.as_deref(), valid_parameter_key);
    let tags = p.pairs("tags", raw.tags.as_deref(), |k| {
        (!k.is_empty() && k.len() <= 128).then_some(()).ok_or("a tag key of 1 to 128 characters")
    });

    let first_launch_parameter = p.name_of("first-launch-parameter", raw.first_launch_parameter);
    let functions = match raw.functions {
        Some(text) => {
            for (input, given) in [
                ("function-name", raw.function_name.is_some()),
                ("source", given_source),
                ("version-parameter", raw.version_parameter.is_some()),
            ] {
                if given {
                    p.push(input, "cannot be given with `functions`, whose lines name each function, its source and its version parameter; remove it");
                }
            }
            functions_of(&mut p, &text, &mode)
        }
        None => {
            let parameter = p.name_of("version-parameter", raw.version_parameter);
            vec![EdgeFunction { parameter, name: function_name.unwrap_or_default(), source }]
        }
    };
    let (own_input, own_what) = match several {
        true => ("functions", "a version parameter of `functions`"),
        false => ("version-parameter", "the `version-parameter`"),
    };
    if functions.iter().any(|f| f.parameter == first_launch_parameter) {
        p.push(own_input, "a version parameter must differ from `first-launch-parameter`");
    }
    // The tool decides these from what it released; a value in `parameters` would point the stack
    // at a version other than the one published, behind the release's back.
    for (own, what) in functions
        .iter()
        .map(|f| (&f.parameter, own_what))
        .chain([(&first_launch_parameter, "the `first-launch-parameter`")])
    {
        if parameters.iter().any(|(k, _)| k == own) {
            p.push(
                "parameters",
                format!("sets {own}, which the tool sets itself ({what}); remove it, or use `rollback-to` to run a chosen version"),
            );
        }
    }
    check_tags(&mut p, &tags);

    let capabilities: Vec<String> = split_list(raw.capabilities.as_deref().unwrap_or(default_of("capabilities")))
        .into_iter()
        .map(|c| c.to_ascii_uppercase())
        .collect();
    for c in &capabilities {
        if !CAPABILITIES.contains(&c.as_str()) {
            p.push("capabilities", format!("unknown capability `{c}`; expected some of {}", CAPABILITIES.join(", ")));
        }
    }

    let distribution_id = raw.distribution_id.map(|d| d.trim().to_owned());
    if let Some(d) = &distribution_id {
        if !d.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            p.push("distribution-id", format!("`{d}` is not a CloudFront distribution id (such as E2QWRUHAPOMQZL)"));
        }
    }

    let region = raw.region.map(|r| r.trim().to_owned()).unwrap_or_else(|| default_of("region").to_owned());
    if region != "us-east-1" {
        p.push("region", format!("`{region}`: Lambda@Edge functions can only be created and updated in us-east-1; remove the input or set it to us-east-1"));
    }

    let wait = p.boolean("wait", raw.wait);
    let force = p.boolean("force", raw.force);
    let dry_run = p.boolean("dry-run", raw.dry_run);
    let recreate_failed_stack = p.boolean("recreate-failed-stack", raw.recreate_failed_stack);
    let on_interrupt = match raw.on_interrupt.as_deref().map(str::trim).unwrap_or(default_of("on-interrupt")) {
        "leave" => OnInterrupt::Leave,
        "cancel" => OnInterrupt::Cancel,
        other => {
            p.push("on-interrupt", format!("expected `leave` or `cancel`, got `{other}`"));
            OnInterrupt::Leave
        }
    };
    let expected_bucket_owner = raw.expected_bucket_owner.map(|o| o.trim().to_owned());
    if let Some(o) = &expected_bucket_owner {
        if o.len() != 12 || !o.bytes().all(|b| b.is_ascii_digit()) {
            p.push("expected-bucket-owner", format!("`{o}` is not an AWS account id (12 digits)"));
        }
    }

    let timeout = p.duration("timeout", raw.timeout);
    let rollback_on_failure = p.boolean("rollback-on-failure", raw.rollback_on_failure);
    let check = crate::check::spec(
        &mut p,
        raw.check_url,
        raw.check_status,
        raw.check_header,
        raw.check_body,
        raw.check_timeout,
    );
    if rollback_on_failure && check.is_none() {
        p.push("rollback-on-failure", "needs `check-url`: the rollback follows a failed check");
    }

    let invalidation_paths = split_list(raw.invalidation_paths.as_deref().unwrap_or(""));
    for path in &invalidation_paths {
        if !path.starts_with('/') {
            p.push("invalidation-paths", format!("`{path}` must start with `/` (such as `/*` or `/index.html`)"));
        }
    }
    // Both come after CloudFront has deployed, which `wait: false` does not wait for.
    if !wait {
        if keep_versions.is_some() && !prune_only {
            p.push("keep-versions", "needs `wait: true`: versions are pruned once the release is done, and `wait: false` does not wait for it; prune in a later run (`prune-only`)");
        }
        if check.is_some() {
            p.push("check-url", "needs `wait: true`: the check runs once the new version is deployed");
        }
        if !invalidation_paths.is_empty() {
            p.push("invalidation-paths", "needs `wait: true`: the invalidation follows the deployment");
        }
    }

    p.finish()?;
    Ok(Settings {
        functions,
        several,
        stack_name: stack_name.unwrap_or_default(),
        artifact_bucket: artifact_bucket.unwrap_or_default(),
        mode,
        artifact_prefix,
        template,
        parameters,
        first_launch_parameter,
        capabilities,
        tags,
        distribution_id,
        region,
        wait,
        timeout,
        invalidation_paths,
        force,
        dry_run,
        expected_bucket_owner,
        recreate_failed_stack,
        on_interrupt,
        check,
        rollback_on_failure,
        keep_versions,
        plan,
        allow_drift,
    })
}

/// A boolean input set to true (a wrong value is reported by its own parser).
fn said_true(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The lines of `functions`: `VersionParameter=function-name:source` (the source left out in a
/// rollback, which packages nothing).
fn functions_of(p: &mut Problems, text: &str, mode: &Mode) -> Vec<EdgeFunction> {
    let mut out: Vec<EdgeFunction> = Vec::new();
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        p.push("functions", "is empty: give one line per function, `VersionParameter=function-name:source`");
    }
    for line in lines {
        let Some((parameter, rest)) = line.split_once('=') else {
            p.push("functions", format!("`{line}` is not `VersionParameter=function-name:source`"));
            continue;
        };
        let (parameter, rest) = (parameter.trim(), rest.trim());
        let (name, source) = match rest.split_once(':') {
            Some((name, source)) => (name.trim(), Some(source.trim())),
            None => (rest, None),
        };
        if let Err(e) = valid_parameter_key(parameter) {
            p.push("functions", format!("`{parameter}` in `{line}`: expected {e}"));
            continue;
        }
        if let Err(e) = valid_function_name(name) {
            p.push("functions", format!("in `{line}`: {e}"));
            continue;
        }
        let source = match (mode, source) {
            (Mode::Release, Some(s)) if !s.is_empty() => {
                let path = PathBuf::from(s);
                if let Err(problem) = valid_source(&path) {
                    p.push("functions", format!("{name}: {problem}"));
                }
                Some(path)
            }
            (Mode::Release, _) => {
                p.push("functions", format!("`{line}` names no source: write `{parameter}={name}:<directory or zip>`"));
                None
            }
            (Mode::Rollback(_), Some(_)) => {
                p.push("functions", format!("`{line}`: a source means nothing with `rollback-to`, which packages nothing; write `{parameter}={name}`"));
                None
            }
            (Mode::Execute(_), Some(_)) => {
                p.push("functions", format!("`{line}`: a source means nothing with `mode: execute`, which runs the planned change set; write `{parameter}={name}`"));
                None
            }
            (Mode::Prune, Some(_)) => {
                p.push("functions", format!("`{line}`: a source means nothing with `prune-only`, which packages nothing; write `{parameter}={name}`"));
                None
            }
            _ => None,
        };
        if out.iter().any(|f| f.parameter == parameter) {
            p.push("functions", format!("parameter {parameter} is named twice: each function takes its own"));
            continue;
        }
        if out.iter().any(|f| f.name == name) {
            p.push("functions", format!("function {name} is named twice"));
            continue;
        }
        out.push(EdgeFunction { parameter: parameter.to_owned(), name: name.to_owned(), source });
    }
    out
}

pub fn valid_function_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a Lambda function name: 1 to 64 letters, digits, `-` or `_` (the name, not an ARN)"
        ))
    }
}

fn valid_stack_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = name.len() <= 128
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` is not a stack name: a letter, then letters, digits or `-`, at most 128 characters"))
    }
}

fn valid_bucket_name(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` is not an S3 bucket name: 3 to 63 lower-case letters, digits, `-` or `.` (the name, not s3:// or an ARN)"))
    }
}

fn valid_source(path: &Path) -> Result<(), String> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) if m.is_file() => {
            if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
                Ok(())
            } else {
                Err(format!("{shown} is a file but not a `.zip`; give the directory to package, or a zip"))
            }
        }
        Ok(_) => Err(format!(
            "{shown} is not a regular file or a directory (a device, a FIFO or a socket); give the directory to package, or a zip"
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!(
            "nothing at {shown} (relative paths start at the working directory, in GitHub Actions the workspace)"
        )),
        Err(e) => Err(format!("{shown} cannot be read: {e}")),
    }
}

pub(crate) fn valid_parameter_key(key: &str) -> Result<(), &'static str> {
    if !key.is_empty() && key.len() <= 255 && key.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err("a CloudFormation parameter name (letters and digits)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, InputProblem};
    use crate::inputs::read;
    use std::ffi::OsString;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn settings(list: &[(&str, &str)]) -> Result<Settings> {
        let (raw, _) = read(pairs(list))?;
        validate(raw)
    }

    fn required_and(dir: &std::path::Path, more: &[(&str, &str)]) -> Result<Settings> {
        let mut list = pairs(&[
            ("INPUT_FUNCTION-NAME", "edge"),
            ("INPUT_STACK-NAME", "site"),
            ("INPUT_ARTIFACT-BUCKET", "artifacts"),
        ]);
        list.push(("INPUT_SOURCE".into(), dir.display().to_string()));
        list.extend(pairs(more));
        validate(read(list)?.0)
    }

    /// The settings of a run naming the function, stack and bucket, with `more` (no source).
    fn named_and(more: &[(&str, &str)]) -> Result<Settings> {
        let mut vars =
            vec![("INPUT_FUNCTION-NAME", "edge"), ("INPUT_STACK-NAME", "site"), ("INPUT_ARTIFACT-BUCKET", "artifacts")];
        vars.extend_from_slice(more);
        settings(&vars)
    }

    fn problems(result: Result<Settings>) -> Vec<InputProblem> {
        match result {
            Err(Error::Inputs(p)) => p,
            other => panic!("expected input problems, got {other:?}"),
        }
    }

    #[test]
    fn keep_versions_and_prune_only_refuse_what_they_cannot_do() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let s = required_and(dir.path(), &[("INPUT_KEEP-VERSIONS", " 3 ")]).unwrap();
        assert_eq!((s.keep_versions, &s.mode), (Some(3), &Mode::Release));
        let prune = named_and;
        let s = prune(&[("INPUT_PRUNE-ONLY", "true"), ("INPUT_KEEP-VERSIONS", "2")]).unwrap();
        assert_eq!((s.keep_versions, &s.mode), (Some(2), &Mode::Prune));
        // (inputs, the input blamed, what the problem says)
        type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            (vec![("INPUT_SOURCE", d), ("INPUT_KEEP-VERSIONS", "0")], "keep-versions", "1 or more"),
            (vec![("INPUT_SOURCE", d), ("INPUT_KEEP-VERSIONS", "many")], "keep-versions", "1 or more"),
            (
                vec![("INPUT_SOURCE", d), ("INPUT_KEEP-VERSIONS", "2"), ("INPUT_WAIT", "false")],
                "keep-versions",
                "needs `wait: true`",
            ),
            (vec![("INPUT_PRUNE-ONLY", "true")], "prune-only", "needs `keep-versions`"),
            (
                vec![("INPUT_PRUNE-ONLY", "true"), ("INPUT_KEEP-VERSIONS", "2"), ("INPUT_SOURCE", d)],
                "source",
                "means nothing with `prune-only`",
            ),
            (
                vec![("INPUT_PRUNE-ONLY", "true"), ("INPUT_KEEP-VERSIONS", "2"), ("INPUT_PARAMETERS", "A=1")],
                "parameters",
                "means nothing with `prune-only`",
            ),
            (
                vec![("INPUT_PRUNE-ONLY", "true"), ("INPUT_KEEP-VERSIONS", "2"), ("INPUT_ROLLBACK-TO", "previous")],
                "prune-only",
                "cannot be given with `rollback-to`",
            ),
        ];
        for (more, input, says) in cases {
            let p = problems(prune(&more));
            assert!(p.iter().any(|p| p.input == input && p.problem.contains(says)), "{more:?}: {p:?}");
        }
        let functions = "ViewerVersion=viewer:dist/viewer";
        let p = problems(settings(&[
            ("INPUT_STACK-NAME", "site"),
            ("INPUT_ARTIFACT-BUCKET", "artifacts"),
            ("INPUT_FUNCTIONS", functions),
            ("INPUT_PRUNE-ONLY", "true"),
            ("INPUT_KEEP-VERSIONS", "2"),
        ]));
        assert!(p.iter().any(|p| p.problem.contains("a source means nothing with `prune-only`")), "{p:?}");
    }

    #[test]
    fn plan_and_execute_take_what_their_half_needs_and_refuse_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        const ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/lambda-edge-deploy-1/0a1b";
        let with = named_and;
        let s = with(&[("INPUT_SOURCE", d), ("INPUT_MODE", "plan")]).unwrap();
        assert!(s.plan && s.mode == Mode::Release);
        let s = with(&[("INPUT_MODE", "execute"), ("INPUT_CHANGE-SET-ID", ID)]).unwrap();
        assert_eq!(s.mode, Mode::Execute(ID.into()));
        let s = with(&[("INPUT_MODE", "execute"), ("INPUT_CHANGE-SET-ID", "lambda-edge-deploy-0a1b")]).unwrap();
        assert_eq!(s.mode, Mode::Execute("lambda-edge-deploy-0a1b".into()));
        assert!(!s.plan);
        assert!(with(&[("INPUT_SOURCE", d), ("INPUT_ALLOW-DRIFT", "true")]).unwrap().allow_drift);
        // (inputs, the input blamed, what the problem says)
        type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
        let cases: Vec<Case> = vec![
            (vec![("INPUT_SOURCE", d), ("INPUT_MODE", "apply")], "mode", "expected `release`, `plan` or `execute`"),
            (vec![("INPUT_MODE", "execute")], "change-set-id", "is required with `mode: execute`"),
            (
                vec![("INPUT_MODE", "execute"), ("INPUT_CHANGE-SET-ID", "my plan/1")],
                "change-set-id",
                "is not a change set ARN",
            ),
            (vec![("INPUT_SOURCE", d), ("INPUT_CHANGE-SET-ID", ID)], "change-set-id", "only with `mode: execute`"),
            (
                vec![("INPUT_MODE", "execute"), ("INPUT_CHANGE-SET-ID", ID), ("INPUT_SOURCE", d)],
                "source",
                "means nothing with `mode: execute`",
            ),
            (
                vec![("INPUT_MODE", "execute"), ("INPUT_CHANGE-SET-ID", ID), ("INPUT_PARAMETERS", "A=1")],
                "parameters",
                "means nothing with `mode: execute`",
            ),
            (
                vec![("INPUT_SOURCE", d), ("INPUT_MODE", "plan"), ("INPUT_CHECK-URL", "https://example.org/")],
                "check-url",
                "means nothing with `mode: plan`",
            ),
            (
                vec![("INPUT_SOURCE", d), ("INPUT_MODE", "plan"), ("INPUT_DRY-RUN", "true")],
                "dry-run",
                "means nothing with `mode: plan`",
            ),
            (vec![("INPUT_SOURCE", d), ("INPUT_ALLOW-DRIFT", "maybe")], "allow-drift", "true"),
        ];
        for (more, input, says) in cases {
            let p = problems(with(&more));
            assert!(p.iter().any(|p| p.input == input && p.problem.contains(says)), "{more:?}: {p:?}");
        }
    }

    #[test]
    fn hyphen_and_underscore_spellings_are_the_same_input() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let s = settings(&[
            ("INPUT_FUNCTION-NAME", "edge"),
            ("INPUT_STACK_NAME", "site"),
            ("INPUT_ARTIFACT_BUCKET", "artifacts"),
            ("INPUT_SOURCE", d),
            ("INPUT_ARTIFACT-PREFIX", "releases/"),
        ])
        .unwrap();
        assert_eq!(s.names(), "edge");
        assert_eq!(s.stack_name, "site");
        assert_eq!(s.artifact_key("edge"), "releases/edge.zip");
    }

    #[test]
    fn defaults_apply_and_blank_means_unset() {
        let dir = tempfile::tempdir().unwrap();
        let blanks = [("INPUT_REGION", "  "), ("INPUT_WAIT", ""), ("INPUT_TIMEOUT", ""), ("INPUT_TEMPLATE", "")];
        let s = required_and(dir.path(), &blanks).unwrap();
        assert_eq!(s.region, "us-east-1");
        assert!(s.wait);
        assert!(!s.force && !s.dry_run);
        assert_eq!(s.timeout, Duration::from_secs(90 * 60));
        assert_eq!(s.first_launch_parameter, "FirstLaunch");
        assert_eq!(s.functions[0].parameter, "LambdaVersion");
        assert_eq!(s.capabilities, vec!["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]);
        assert_eq!(s.template, None);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let p = problems(settings(&[
            ("INPUT_FUNCTION-NAME", "arn:aws:lambda:us-east-1:1:function:x"),
            ("INPUT_ARTIFACT-BUCKET", "s3://Bucket"),
            ("INPUT_SOURCE", "/definitely/not/here"),
            ("INPUT_WAIT", "yes please"),
            ("INPUT_TIMEOUT", "soon"),
            ("INPUT_REGION", "eu-west-1"),
            ("INPUT_PARAMETERS", "A=1,broken"),
            ("INPUT_CAPABILITIES", "CAPABILITY_IAM,CAPABILITY_EVERYTHING"),
            ("INPUT_INVALIDATION-PATHS", "index.html"),
        ]));
        let inputs: Vec<&str> = p.iter().map(|p| p.input).collect();
        for name in [
            "function-name",
            "stack-name",
            "artifact-bucket",
            "source",
            "wait",
            "timeout",
            "region",
            "parameters",
            "capabilities",
            "invalidation-paths",
        ] {
            assert!(inputs.contains(&name), "{name} not reported in {p:?}");
        }
        let stack = p.iter().find(|p| p.input == "stack-name").unwrap();
        assert!(stack.problem.contains("required"), "{stack}");
    }

    #[test]
    fn rollback_to_needs_no_source_and_takes_three_forms() {
        let base =
            [("INPUT_FUNCTION-NAME", "edge"), ("INPUT_STACK-NAME", "site"), ("INPUT_ARTIFACT-BUCKET", "artifacts")];
        for (given, want) in [
            ("previous", RollbackTarget::Previous),
            ("7", RollbackTarget::Number(7)),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:edge:7",
                RollbackTarget::Arn("arn:aws:lambda:us-east-1:123456789012:function:edge:7".into()),
            ),
        ] {
            let mut vars = base.to_vec();
            vars.push(("INPUT_ROLLBACK-TO", given));
            let s = settings(&vars).unwrap();
            assert_eq!(s.mode, Mode::Rollback(want));
            assert_eq!(s.functions[0].source, None);
        }
        for bad in ["0", "latest", "arn:aws:lambda:us-east-1:123456789012:function:edge:$LATEST"] {
            let mut vars = base.to_vec();
            vars.push(("INPUT_ROLLBACK-TO", bad));
            let p = problems(settings(&vars));
            assert!(p.iter().any(|p| p.input == "rollback-to"), "{bad}: {p:?}");
        }
    }

    #[test]
    fn new_safety_inputs_are_checked() {
        let p = problems(settings(&[
            ("INPUT_EXPECTED-BUCKET-OWNER", "me"),
            ("INPUT_ON-INTERRUPT", "panic"),
            ("INPUT_RECREATE-FAILED-STACK", "sometimes"),
        ]));
        for input in ["expected-bucket-owner", "on-interrupt", "recreate-failed-stack"] {
            assert!(p.iter().any(|p| p.input == input), "{input}: {p:?}");
        }
    }

    #[test]
    fn check_inputs_compile_now_and_need_a_url() {
        let dir = tempfile::tempdir().unwrap();
        let s = required_and(
            dir.path(),
            &[
                ("INPUT_CHECK-URL", "/index.html"),
                ("INPUT_CHECK-HEADER", "x-edge-release: ^release-2$\ncache-control: max-age=\\d+"),
                ("INPUT_CHECK-BODY", "Hello, (edge|world)"),
                ("INPUT_CHECK-TIMEOUT", "90s"),
                ("INPUT_ROLLBACK-ON-FAILURE", "true"),
            ],
        )
        .unwrap();
        let c = s.check.unwrap();
        assert_eq!((c.url.as_str(), c.status, c.timeout), ("/index.html", 200, Duration::from_secs(90)));
        assert_eq!(c.headers.len(), 2);
        assert!(c.headers[0].1.is_match("release-2") && !c.headers[0].1.is_match("release-22"));
        assert!(s.rollback_on_failure);

        let p = problems(required_and(
            dir.path(),
            &[
                ("INPUT_CHECK-URL", "/"),
                ("INPUT_CHECK-HEADER", "x-edge-release ^2$\nx-a: ([unclosed"),
                ("INPUT_CHECK-STATUS", "20"),
            ],
        ));
        assert_eq!(p.iter().filter(|p| p.input == "check-header").count(), 2, "{p:?}");
        assert!(p.iter().any(|p| p.input == "check-status"), "{p:?}");
        // Defaults passed by the runner are not a check without a URL.
        let s = required_and(dir.path(), &[("INPUT_CHECK-STATUS", "200"), ("INPUT_CHECK-TIMEOUT", "5m")]).unwrap();
        assert!(s.check.is_none());
        let p = problems(required_and(dir.path(), &[("INPUT_CHECK-BODY", "x"), ("INPUT_ROLLBACK-ON-FAILURE", "true")]));
        assert!(p.iter().any(|p| p.input == "check-body" && p.problem.contains("check-url")), "{p:?}");
        assert!(p.iter().any(|p| p.input == "rollback-on-failure"), "{p:?}");
    }

    #[test]
    fn parameters_and_tags_parse_as_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let s = required_and(
            dir.path(),
            &[
                ("INPUT_PARAMETERS", "OriginDomainName=example.org\nList=a,b"),
                ("INPUT_TAGS", "team=web, env=prod"),
                ("INPUT_TIMEOUT", "45m"),
                ("INPUT_INVALIDATION-PATHS", "/*"),
                ("INPUT_FORCE", "TRUE"),
            ],
        )
        .unwrap();
        assert_eq!(
            s.parameters,
            vec![("OriginDomainName".into(), "example.org".into()), ("List".into(), "a,b".into())]
        );
        assert_eq!(s.tags, vec![("team".into(), "web".into()), ("env".into(), "prod".into())]);
        assert_eq!(s.timeout, Duration::from_secs(45 * 60));
        assert_eq!(s.invalidation_paths, vec!["/*"]);
        assert!(s.force);
    }

    #[test]
    fn template_and_template_url_exclude_each_other() {
        let p = problems(settings(&[("INPUT_TEMPLATE", "t.yaml"), ("INPUT_TEMPLATE-URL", "https://x/t.yaml")]));
        assert!(p.iter().any(|p| p.input == "template" && p.problem.contains("not both")), "{p:?}");
    }

    #[test]
    fn variables_that_are_not_utf8_never_panic_and_never_show_their_value() {
        use std::os::unix::ffi::OsStringExt;
        let dir = tempfile::tempdir().unwrap();
        let bad = || OsString::from_vec(vec![b's', 0xff, b'e', b'c', b'r', b'e', b't']);
        let mut vars: Vec<(OsString, OsString)> = [
            ("INPUT_FUNCTION-NAME", "edge"),
            ("INPUT_STACK-NAME", "site"),
            ("INPUT_ARTIFACT-BUCKET", "artifacts"),
            ("INPUT_SOURCE", dir.path().to_str().unwrap()),
        ]
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
        // Any other variable that is not UTF-8 is none of our business.
        vars.push(("SOME_VAR".into(), bad()));
        vars.push((OsString::from_vec(vec![b'X', 0xfe]), "v".into()));
        assert!(validate(read(vars.clone()).unwrap().0).is_ok());
        // An input that must be text is named, its value never shown.
        vars.push(("INPUT_TAGS".into(), bad()));
        let Err(Error::Inputs(p)) = read(vars) else { panic!("accepted") };
        assert_eq!(p[0].input, "tags");
        assert!(p[0].problem.contains("not UTF-8") && !p[0].problem.contains("ecret"), "{p:?}");
    }

    #[test]
    fn a_source_path_that_is_not_utf8_still_names_its_directory() {
        use std::os::unix::ffi::OsStrExt;
        let dir = tempfile::tempdir().unwrap();
        let name = std::ffi::OsStr::from_bytes(b"dist-\xff");
        std::fs::create_dir(dir.path().join(name)).unwrap();
        let path = dir.path().join(name);
        let vars: Vec<(OsString, OsString)> = vec![
            ("INPUT_FUNCTION-NAME".into(), "edge".into()),
            ("INPUT_STACK-NAME".into(), "site".into()),
            ("INPUT_ARTIFACT-BUCKET".into(), "artifacts".into()),
            ("INPUT_SOURCE".into(), path.clone().into_os_string()),
        ];
        assert_eq!(validate(read(vars).unwrap().0).unwrap().functions[0].source.as_deref(), Some(path.as_path()));
    }

    #[test]
    fn durations_past_a_day_are_refused_not_overflowed() {
        let dir = tempfile::tempdir().unwrap();
        for (input, value) in [
            ("INPUT_TIMEOUT", "25h"),
            ("INPUT_TIMEOUT", "584542046090years"),
            ("INPUT_CHECK-TIMEOUT", "9999999999999s"),
        ] {
            let p = problems(required_and(dir.path(), &[("INPUT_CHECK-URL", "/"), (input, value)]));
            assert!(
                p.iter().any(|p| p.problem.contains("longer than 24h") || p.problem.contains("not a duration")),
                "{value}: {p:?}"
            );
        }
        assert!(required_and(dir.path(), &[("INPUT_TIMEOUT", "24h")]).is_ok());
    }

    #[test]
    fn a_check_url_that_is_not_a_url_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        for bad in
            ["/index page.html", "/a\u{7}b", "https://", "ftp://example.org/", "example.org/x", "https://exa mple.org/"]
        {
            let p = problems(required_and(dir.path(), &[("INPUT_CHECK-URL", bad)]));
            assert!(p.iter().any(|p| p.input == "check-url"), "{bad:?}: {p:?}");
        }
        for good in ["/", "/index.html?x=1", "https://example.org", "http://127.0.0.1:9/a%20b"] {
            assert!(required_and(dir.path(), &[("INPUT_CHECK-URL", good)]).is_ok(), "{good}");
        }
    }

    #[test]
    fn parameters_cannot_set_the_tools_own_parameters() {
        let dir = tempfile::tempdir().unwrap();
        for given in ["LambdaVersion=arn:aws:lambda:us-east-1:1:function:f:1", "FirstLaunch=true"] {
            let p = problems(required_and(dir.path(), &[("INPUT_PARAMETERS", given)]));
            assert!(
                p.iter().any(|p| p.input == "parameters" && p.problem.contains("which the tool sets itself")),
                "{p:?}"
            );
        }
        let p =
            problems(required_and(dir.path(), &[("INPUT_VERSION-PARAMETER", "Edge"), ("INPUT_PARAMETERS", "Edge=x")]));
        assert!(p.iter().any(|p| p.problem.contains("`version-parameter`")), "{p:?}");
        assert!(required_and(dir.path(), &[("INPUT_PARAMETERS", "OriginDomainName=example.org")]).is_ok());
    }

    #[test]
    fn tags_are_held_to_cloudformations_limits() {
        let dir = tempfile::tempdir().unwrap();
        let many: Vec<String> = (0..51).map(|i| format!("k{i}=v")).collect();
        let long = format!("team={}", "x".repeat(257));
        for (tags, says) in [
            (many.join(","), "51 tags given; a stack takes at most 50"),
            ("aws:cloudformation=x".to_string(), "reserved"),
            (long, "longer than 256"),
        ] {
            let p = problems(required_and(dir.path(), &[("INPUT_TAGS", &tags)]));
            assert!(p.iter().any(|p| p.input == "tags" && p.problem.contains(says)), "{says}: {p:?}");
        }
    }

    #[test]
    fn wait_false_refuses_what_only_follows_the_deployment() {
        let dir = tempfile::tempdir().unwrap();
        let p = problems(required_and(
            dir.path(),
            &[("INPUT_WAIT", "false"), ("INPUT_CHECK-URL", "/"), ("INPUT_INVALIDATION-PATHS", "/*")],
        ));
        assert!(p.iter().any(|p| p.input == "check-url" && p.problem.contains("wait: true")), "{p:?}");
        assert!(p.iter().any(|p| p.input == "invalidation-paths" && p.problem.contains("wait: true")), "{p:?}");
    }

    #[test]
    fn sources_that_are_neither_file_nor_directory_are_named_for_what_they_are() {
        let p = problems(settings(&[("INPUT_SOURCE", "/dev/null")]));
        let source = p.iter().find(|p| p.input == "source").unwrap();
        assert!(source.problem.contains("is not a regular file or a directory"), "{source}");
    }

    #[test]
    fn a_huge_rollback_to_number_is_said_to_be_too_large() {
        let p = problems(settings(&[("INPUT_ROLLBACK-TO", "12345678901234567890123")]));
        let r = p.iter().find(|p| p.input == "rollback-to").unwrap();
        assert!(r.problem.contains("too large"), "{r}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use std::os::unix::ffi::OsStringExt;

        /// Input names as a runner, a shell or a typo would spell them, and other variables.
        fn name() -> impl Strategy<Value = OsString> {
            let known: Vec<String> =
                crate::inputs::INPUTS.iter().map(|i| format!("INPUT_{}", i.name.to_ascii_uppercase())).collect();
            prop_oneof![
                3 => proptest::sample::select(known).prop_map(OsString::from),
                1 => "INPUT_[A-Z_-]{0,12}".prop_map(OsString::from),
                1 => proptest::collection::vec(any::<u8>(), 0..12).prop_map(OsString::from_vec),
            ]
        }

        /// Values: text near what inputs take (numbers, durations, lists, URLs), and any bytes.
        fn value() -> impl Strategy<Value = OsString> {
            prop_oneof![
                "[0-9]{1,30}(s|m|h|d|years)?".prop_map(OsString::from),
                any::<u64>().prop_map(|n| OsString::from(format!("{n}s"))),
                any::<u32>().prop_map(|n| OsString::from(format!("{n}h"))),
                "(true|false|TRUE| |previous|arn:aws:lambda:us-east-1:1:function:f:[0-9]{1,25})"
                    .prop_map(OsString::from),
                "[ -~]{0,40}".prop_map(OsString::from),
                "([A-Za-z]{1,5}=[ -~]{0,8}[,\n]){0,5}".prop_map(OsString::from),
                "(/|https?://)[ -~]{0,30}".prop_map(OsString::from),
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(OsString::from_vec),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]
            #[test]
            fn no_environment_panics_the_input_parser(more in proptest::collection::vec((name(), value()), 0..24)) {
                // A valid release, then anything: so that validation gets past the basics as often as not.
                let mut vars: Vec<(OsString, OsString)> = [
                    ("INPUT_FUNCTION-NAME", "edge"),
                    ("INPUT_STACK-NAME", "site"),
                    ("INPUT_ARTIFACT-BUCKET", "artifacts"),
                ]
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect();
                vars.push(("INPUT_SOURCE".into(), std::env::temp_dir().into_os_string()));
                vars.extend(more);
                if let Ok((raw, _)) = read(vars.clone()) {
                    // What a run does first with what validation let through: set its deadlines.
                    if let Ok(s) = validate(raw) {
                        let _ = crate::poll::Poll::new(s.timeout);
                        if let Some(check) = s.check {
                            let _ = tokio::time::Instant::now() + check.timeout;
                        }
                    }
                }
                if let Ok((raw, _)) = read(vars.clone()) {
                    let _ = validate_as(raw, true);
                }
                let _ = crate::deployer::Deployer::configure(vars);
            }
        }
    }
}
