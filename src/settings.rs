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

/// `strategy: staged`: the new version runs first on the staging distribution of CloudFront
/// continuous deployment (a canary), and reaches the primary only after it passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Staged {
    /// The header, and its value, that route a request to the staging distribution.
    pub header: String,
    pub header_value: String,
    /// After the check, the share of all requests sent to staging for the bake.
    pub weight: Option<f64>,
    pub bake: Option<Duration>,
    /// The highest 5xxErrorRate (percent) the bake accepts.
    pub max_error_rate: f64,
    /// False: stop with the canary live, for `mode: promote` or `mode: abort`.
    pub promote: bool,
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
    /// `strategy: staged` (and `mode: promote`/`abort`, which finish one).
    pub staged: Option<Staged>,
    /// `exclude`: gitignore-style patterns left out of every package.
    pub exclude: Vec<String>,
    /// The CloudFormation service role for create and update.
    pub role_arn: Option<String>,
    pub notification_arns: Vec<String>,
    pub log_format: LogFormat,
}

/// How the log is written on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// CloudFormation's limit on a stack's notification topics.
const MAX_NOTIFICATION_ARNS: usize = 5;

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
    /// `mode: promote`: the primary takes the canary a staged run left live.
    Promote,
    /// `mode: abort`: the canary a staged run left live is withdrawn.
    Abort,
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
    let staged = staged_of(&mut p, &raw);

    let several = raw.functions.is_some();
    let function_name = match several {
        true => None,
        false => p.required("function-name", raw.function_name.clone(), valid_function_name),
    };
    let stack_name = p.required("stack-name", raw.stack_name, valid_stack_name);
    let artifact_bucket = p.required("artifact-bucket", raw.artifact_bucket, valid_bucket_name);
    let rollback = raw.rollback_to.is_some();
    let rollback_to = match raw.rollback_to.clone().map(|r| r.trim().to_owned()) {
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
        ("release" | "plan" | "promote" | "abort", Some(_)) => {
            p.push("change-set-id", "means something only with `mode: execute`; remove it, or set `mode: execute`");
            None
        }
        ("release" | "plan" | "promote" | "abort", None) => None,
        (other, _) => {
            p.push("mode", format!("expected `release`, `plan`, `execute`, `promote` or `abort`, got `{other}`"));
            None
        }
    };
    let finish = match review.as_str() {
        "promote" => Some(Mode::Promote),
        "abort" => Some(Mode::Abort),
        _ => None,
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
        _ if finish.is_some() => finish.clone().unwrap_or(Mode::Promote),
        _ if prune_only => Mode::Prune,
        Some(target) => Mode::Rollback(target),
        None if from_object => Mode::Object,
        None => Mode::Release,
    };
    if from_object && staged.is_some() {
        p.push(
            "strategy",
            "the S3-triggered deployer releases directly; a staged release runs from the action or the CLI",
        );
    }
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
    if staged.is_some() {
        for own in crate::canary::PARAMETERS {
            if parameters.iter().any(|(k, _)| k == own) {
                p.push("parameters", format!("sets {own}, which a staged release sets itself (see `canary-header`, `canary-weight`); remove it"));
            }
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
    let exclude = split_list(raw.exclude.as_deref().unwrap_or(""));
    let packages = matches!(mode, Mode::Release);
    if !exclude.is_empty() && !packages {
        p.push("exclude", "means nothing in a run that packages nothing (`rollback-to`, `prune-only`, `mode: execute`, `promote` or `abort`); remove it");
    }
    let role_arn = raw.role_arn.as_deref().map(str::trim).map(str::to_owned);
    if let Some(r) = &role_arn {
        if !valid_role_arn(r) {
            p.push("role-arn", format!("`{r}` is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)"));
        }
    }
    let notification_arns = split_list(raw.notification_arns.as_deref().unwrap_or(""));
    for a in &notification_arns {
        let parts: Vec<&str> = a.split(':').collect();
        let ok = matches!(parts.as_slice(), ["arn", "aws", "sns", region, account, topic]
            if *region == "us-east-1" && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !topic.is_empty());
        if !ok {
            p.push("notification-arns", format!("`{a}` is not the ARN of an SNS topic in us-east-1 (arn:aws:sns:us-east-1:123456789012:NAME): a stack notifies topics of its own Region"));
        }
    }
    if notification_arns.len() > MAX_NOTIFICATION_ARNS {
        p.push(
            "notification-arns",
            format!("{} topics given; a stack takes at most {MAX_NOTIFICATION_ARNS}", notification_arns.len()),
        );
    }
    let log_format = match raw.log_format.as_deref().map(str::trim).unwrap_or(default_of("log-format")) {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        other => {
            p.push("log-format", format!("expected `text` or `json`, got `{other}`"));
            LogFormat::Text
        }
    };
    if let Some(bake) = staged.as_ref().and_then(|s| s.bake).filter(|b| *b + Duration::from_secs(300) > timeout) {
        p.push("bake-time", format!("`{}` leaves less than 5 minutes of `timeout` ({}) for the stack updates and CloudFront deployments around it; shorten it or raise `timeout`", humantime::format_duration(bake), humantime::format_duration(timeout)));
    }
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
        staged,
        exclude,
        role_arn,
        notification_arns,
        log_format,
    })
}

/// arn:aws:iam::ACCOUNT:role/NAME (a path may come before the name).
fn valid_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:iam::") else { return false };
    let Some((account, role)) = rest.split_once(":role/") else { return false };
    account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !role.is_empty() && !role.ends_with('/')
}

/// `strategy` and the canary's inputs; `mode: promote`/`abort` imply a staged stack.
fn staged_of(p: &mut Problems, raw: &RawInputs) -> Option<Staged> {
    let mode = raw.mode.as_deref().map(str::trim).unwrap_or(default_of("mode"));
    let finish = match mode {
        "promote" => Some(Mode::Promote),
        "abort" => Some(Mode::Abort),
        _ => None,
    };
    let finish = finish.as_ref();
    let (several, rollback) = (raw.functions.is_some(), raw.rollback_to.is_some());
    let (change_set, prune_only) = (matches!(mode, "plan" | "execute"), said_true(&raw.prune_only));
    let strategy = raw.strategy.as_deref().map(str::trim).unwrap_or(default_of("strategy"));
    let staged = match strategy {
        "staged" => true,
        "direct" => false,
        other => {
            p.push("strategy", format!("expected `direct` or `staged`, got `{other}`"));
            return None;
        }
    };
    // The runner passes every input, with its default when the workflow gives none: a default is
    // not a choice to refuse.
    let given = |name: &str, v: &Option<String>| v.as_deref().is_some_and(|v| v.trim() != default_of(name));
    let canary_inputs = [
        ("canary-header", given("canary-header", &raw.canary_header)),
        ("canary-header-value", given("canary-header-value", &raw.canary_header_value)),
        ("canary-weight", raw.canary_weight.is_some()),
        ("bake-time", raw.bake_time.is_some()),
        ("max-error-rate", given("max-error-rate", &raw.max_error_rate)),
        ("promote", given("promote", &raw.promote)),
    ];
    if let Some(mode) = finish {
        let verb = if *mode == Mode::Promote { "promote" } else { "abort" };
        p.refuse(
            &[
                ("source", raw.source.is_some()),
                ("functions", several),
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
                ("canary-weight", raw.canary_weight.is_some()),
                ("bake-time", raw.bake_time.is_some()),
                ("max-error-rate", given("max-error-rate", &raw.max_error_rate)),
                ("promote", given("promote", &raw.promote)),
            ],
            &format!("means nothing with `mode: {verb}`, which finishes the canary a staged run left live and changes nothing else; remove it"),
        );
        if *mode == Mode::Abort {
            p.refuse(
                &[("check-url", raw.check_url.is_some()), ("invalidation-paths", raw.invalidation_paths.is_some())],
                "means nothing with `mode: abort`: the primary keeps the version it runs; remove it",
            );
        }
    } else if !staged {
        p.refuse(&canary_inputs, "means something only with `strategy: staged`; remove it, or set `strategy: staged`");
        return None;
    } else {
        for (input, given, why) in [
            ("functions", several, "a staged release stages one function (the template's CandidateVersion); release several directly"),
            ("rollback-to", rollback, "a rollback re-points the primary directly; remove `strategy`"),
            ("mode", change_set, "`mode: plan` and `execute` release through a change set, directly; remove `strategy`, or release without a change set"),
            ("prune-only", prune_only, "`prune-only` releases nothing"),
            ("rollback-on-failure", said_true(&raw.rollback_on_failure), "a staged release that fails before promotion aborts the canary by itself: the primary never ran the new version"),
        ] {
            if given {
                p.push(input, format!("cannot be given with `strategy: staged`: {why}"));
            }
        }
    }
    if raw.wait.as_deref().is_some_and(|w| w.trim().eq_ignore_ascii_case("false")) {
        p.push("wait", "must stay `true` with a staged release: each step waits for the one before (the canary is checked once it is deployed)");
    }
    let header = raw.canary_header.as_deref().map(str::trim).unwrap_or(default_of("canary-header")).to_owned();
    let token = |c: char| c.is_ascii_alphanumeric() || c == '-';
    if !header.to_ascii_lowercase().starts_with(crate::canary::HEADER_PREFIX) || !header.chars().all(token) {
        p.push("canary-header", format!("`{header}`: CloudFront routes by a header whose name starts with `{}` (letters, digits, hyphens), such as `aws-cf-cd-canary`", crate::canary::HEADER_PREFIX));
    }
    let header_value =
        raw.canary_header_value.as_deref().map(str::trim).unwrap_or(default_of("canary-header-value")).to_owned();
    if header_value.is_empty() || header_value.len() > 1783 || !header_value.chars().all(|c| c.is_ascii_graphic()) {
        p.push(
            "canary-header-value",
            "must be 1 to 1,783 visible ASCII characters (CloudFront's limit for the header's value)",
        );
    }
    let weight = raw.canary_weight.as_deref().map(str::trim).and_then(|w| match w.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= crate::canary::MAX_WEIGHT => Some(v),
        _ => {
            p.push("canary-weight", format!("`{w}`: expected a share of the requests above 0 and at most {} (CloudFront continuous deployment's limit), such as `0.05`", crate::canary::MAX_WEIGHT));
            None
        }
    });
    let bake = raw.bake_time.clone().map(|b| p.duration("bake-time", Some(b)));
    if raw.canary_weight.is_some() && raw.bake_time.is_none() {
        p.push(
            "canary-weight",
            "needs `bake-time`: how long the share of requests runs on the canary before promotion",
        );
    }
    if given("max-error-rate", &raw.max_error_rate) && raw.bake_time.is_none() {
        p.push("max-error-rate", "needs `bake-time`: the error rate is watched during the bake");
    }
    let rate = raw.max_error_rate.as_deref().map(str::trim).unwrap_or(default_of("max-error-rate"));
    let max_error_rate = match rate.trim_end_matches('%').parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => v,
        _ => {
            p.push("max-error-rate", format!("`{rate}`: expected a percentage from 0 to 100, such as `1`"));
            0.0
        }
    };
    let promote = p.boolean("promote", raw.promote.clone());
    Some(Staged { header, header_value, weight, bake, max_error_rate, promote })
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
    fn a_staged_release_takes_its_canary_and_refuses_what_it_cannot_do() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let with = named_and;
        let s = with(&[("INPUT_SOURCE", d), ("INPUT_STRATEGY", "staged")]).unwrap();
        let staged = s.staged.expect("staged");
        assert_eq!(
            (staged.header.as_str(), staged.header_value.as_str(), staged.promote),
            ("aws-cf-cd-canary", "1", true)
        );
        let s = with(&[
            ("INPUT_SOURCE", d),
            ("INPUT_STRATEGY", "staged"),
            ("INPUT_CANARY-WEIGHT", "0.15"),
            ("INPUT_BAKE-TIME", "10m"),
            ("INPUT_MAX-ERROR-RATE", "2.5%"),
            ("INPUT_PROMOTE", "false"),
        ])
        .unwrap();
        let staged = s.staged.expect("staged");
        assert_eq!(
            (staged.weight, staged.bake, staged.max_error_rate),
            (Some(0.15), Some(Duration::from_secs(600)), 2.5)
        );
        assert!(!staged.promote);
        // What the runner passes for a workflow that sets none of them: the defaults, not choices.
        let defaults = [
            ("INPUT_STRATEGY", "direct"),
            ("INPUT_CANARY-HEADER", "aws-cf-cd-canary"),
            ("INPUT_CANARY-HEADER-VALUE", "1"),
            ("INPUT_MAX-ERROR-RATE", "1"),
            ("INPUT_PROMOTE", "true"),
        ];
        let mut direct = vec![("INPUT_SOURCE", d)];
        direct.extend_from_slice(&defaults);
        assert!(with(&direct).unwrap().staged.is_none());
        let mut promote = vec![("INPUT_MODE", "promote")];
        promote.extend_from_slice(&defaults);
        let s = with(&promote).unwrap();
        assert_eq!((&s.mode, s.staged.is_some()), (&Mode::Promote, true));
        assert_eq!(with(&[("INPUT_MODE", "abort")]).unwrap().mode, Mode::Abort);
        // (inputs, the input blamed, what the problem says)
        type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
        let staged = ("INPUT_STRATEGY", "staged");
        let cases: Vec<Case> = vec![
            (vec![("INPUT_SOURCE", d), ("INPUT_STRATEGY", "canary")], "strategy", "expected `direct` or `staged`"),
            (
                vec![("INPUT_SOURCE", d), ("INPUT_CANARY-WEIGHT", "0.1")],
                "canary-weight",
                "only with `strategy: staged`",
            ),
            (vec![("INPUT_SOURCE", d), ("INPUT_PROMOTE", "false")], "promote", "only with `strategy: staged`"),
            (
                vec![("INPUT_SOURCE", d), staged, ("INPUT_CANARY-WEIGHT", "0.2"), ("INPUT_BAKE-TIME", "5m")],
                "canary-weight",
                "at most 0.15",
            ),
            (
                vec![("INPUT_SOURCE", d), staged, ("INPUT_CANARY-WEIGHT", "0"), ("INPUT_BAKE-TIME", "5m")],
                "canary-weight",
                "above 0",
            ),
            (vec![("INPUT_SOURCE", d), staged, ("INPUT_CANARY-WEIGHT", "0.1")], "canary-weight", "needs `bake-time`"),
            (vec![("INPUT_SOURCE", d), staged, ("INPUT_MAX-ERROR-RATE", "5")], "max-error-rate", "needs `bake-time`"),
            (
                vec![("INPUT_SOURCE", d), staged, ("INPUT_BAKE-TIME", "5m"), ("INPUT_MAX-ERROR-RATE", "120")],
                "max-error-rate",
                "from 0 to 100",
            ),
            (
                vec![("INPUT_SOURCE", d), staged, ("INPUT_BAKE-TIME", "89m")],
                "bake-time",
                "less than 5 minutes of `timeout`",
            ),
            (
                vec![("INPUT_SOURCE", d), staged, ("INPUT_CANARY-HEADER", "x-canary")],
                "canary-header",
                "starts with `aws-cf-cd-`",
            ),
            (
                vec![("INPUT_SOURCE", d), staged, ("INPUT_CANARY-HEADER", "aws-cf-cd-a b")],
                "canary-header",
                "starts with `aws-cf-cd-`",
            ),
            (vec![("INPUT_SOURCE", d), staged, ("INPUT_WAIT", "false")], "wait", "must stay `true`"),
            (vec![("INPUT_SOURCE", d), staged, ("INPUT_MODE", "plan")], "mode", "release through a change set"),
            (
                vec![("INPUT_SOURCE", d), staged, ("INPUT_ROLLBACK-ON-FAILURE", "true"), ("INPUT_CHECK-URL", "/")],
                "rollback-on-failure",
                "aborts the canary by itself",
            ),
            (
                vec![("INPUT_SOURCE", d), staged, ("INPUT_PARAMETERS", "CandidateVersion=x")],
                "parameters",
                "which a staged release sets itself",
            ),
            (vec![staged, ("INPUT_ROLLBACK-TO", "previous")], "rollback-to", "cannot be given with `strategy: staged`"),
            (vec![("INPUT_MODE", "promote"), ("INPUT_SOURCE", d)], "source", "means nothing with `mode: promote`"),
            (
                vec![("INPUT_MODE", "promote"), ("INPUT_BAKE-TIME", "5m")],
                "bake-time",
                "means nothing with `mode: promote`",
            ),
            (vec![("INPUT_MODE", "abort"), ("INPUT_CHECK-URL", "/")], "check-url", "means nothing with `mode: abort`"),
        ];
        for (more, input, says) in cases {
            let p = problems(with(&more));
            assert!(p.iter().any(|p| p.input == input && p.problem.contains(says)), "{more:?}: {p:?}");
        }
        let p = problems(settings(&[
            ("INPUT_STACK-NAME", "site"),
            ("INPUT_ARTIFACT-BUCKET", "artifacts"),
            ("INPUT_FUNCTIONS", "ViewerVersion=viewer:dist/viewer"),
            ("INPUT_STRATEGY", "staged"),
        ]));
        assert!(p.iter().any(|p| p.input == "functions" && p.problem.contains("stages one function")), "{p:?}");
    }

    #[test]
    fn pipeline_inputs_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let with = named_and;
        let s = with(&[
            ("INPUT_SOURCE", d),
            ("INPUT_EXCLUDE", "*.map\ntest/\n!keep.map"),
            ("INPUT_ROLE-ARN", "arn:aws:iam::123456789012:role/deploy/cfn"),
            ("INPUT_NOTIFICATION-ARNS", "arn:aws:sns:us-east-1:123456789012:a, arn:aws:sns:us-east-1:123456789012:b"),
            ("INPUT_LOG-FORMAT", "json"),
        ])
        .unwrap();
        assert_eq!(s.exclude, vec!["*.map", "test/", "!keep.map"]);
        assert_eq!(s.role_arn.as_deref(), Some("arn:aws:iam::123456789012:role/deploy/cfn"));
        assert_eq!((s.notification_arns.len(), s.log_format), (2, LogFormat::Json));
        assert_eq!(with(&[("INPUT_SOURCE", d)]).unwrap().log_format, LogFormat::Text);
        type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);
        let topic = "arn:aws:sns:us-east-1:123456789012:t";
        let six = [topic; 6].join(",");
        let cases: Vec<Case> = vec![
            (vec![("INPUT_SOURCE", d), ("INPUT_ROLE-ARN", "cfn-deploy")], "role-arn", "is not an IAM role ARN"),
            (
                vec![("INPUT_SOURCE", d), ("INPUT_ROLE-ARN", "arn:aws:iam::123:role/x")],
                "role-arn",
                "is not an IAM role ARN",
            ),
            (
                vec![("INPUT_SOURCE", d), ("INPUT_NOTIFICATION-ARNS", "arn:aws:sns:eu-west-1:123456789012:t")],
                "notification-arns",
                "in us-east-1",
            ),
            (vec![("INPUT_SOURCE", d), ("INPUT_NOTIFICATION-ARNS", six.as_str())], "notification-arns", "at most 5"),
            (vec![("INPUT_SOURCE", d), ("INPUT_LOG-FORMAT", "yaml")], "log-format", "expected `text` or `json`"),
            (vec![("INPUT_ROLLBACK-TO", "previous"), ("INPUT_EXCLUDE", "*.map")], "exclude", "packages nothing"),
        ];
        for (more, input, says) in cases {
            let p = problems(with(&more));
            assert!(p.iter().any(|p| p.input == input && p.problem.contains(says)), "{more:?}: {p:?}");
        }
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
            (vec![("INPUT_SOURCE", d), ("INPUT_MODE", "apply")], "mode", "expected `release`, `plan`, `execute`"),
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
