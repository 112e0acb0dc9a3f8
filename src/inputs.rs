//! Inputs: raw strings from `INPUT_<NAME>` variables, then one validation step that turns them into
//! typed [`Settings`] and reports every problem at once.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, InputProblem, Result};

/// One input as action.yml and the README declare it. The single source of truth for names,
/// defaults and descriptions; `tests/action_metadata.rs` holds action.yml and the README to it.
pub struct InputSpec {
    pub name: &'static str,
    pub required: bool,
    pub default: &'static str,
    pub description: &'static str,
}

pub const INPUTS: &[InputSpec] = &[
    spec("function-name", true, "", "Name of the Lambda@Edge function (in us-east-1). Its code zip is stored as `<artifact-prefix><function-name>.zip`."),
    spec("stack-name", true, "", "CloudFormation stack that wires the function into the CloudFront distribution."),
    spec("artifact-bucket", true, "", "Versioned S3 bucket for code zips (and for templates over 51,200 bytes)."),
    spec("source", true, "", "Directory to package, or an existing `.zip` file. Not needed with `rollback-to`."),
    spec("artifact-prefix", false, "", "S3 key prefix: the key is `<artifact-prefix><function-name>.zip`."),
    spec("template", false, "", "Path of the stack's template (YAML or JSON). Needed to create the stack; on a release it replaces the stack's template."),
    spec("template-url", false, "", "S3 URL of the template, instead of `template`."),
    spec("parameters", false, "", "More stack parameters, `Key=Value`, separated by commas or newlines (newlines only, when the input has several lines). They win over every value the tool fills in."),
    spec("first-launch-parameter", false, "FirstLaunch", "Name of the template's first-launch parameter (`true` when the stack is created, `false` after)."),
    spec("version-parameter", false, "LambdaVersion", "Name of the template's parameter that takes the published version ARN."),
    spec("capabilities", false, "CAPABILITY_IAM,CAPABILITY_NAMED_IAM", "Stack capabilities, comma-separated."),
    spec("tags", false, "", "Stack tags, `Key=Value`, separated by commas or newlines."),
    spec("distribution-id", false, "", "CloudFront distribution to wait for and verify; otherwise the stack's `AWS::CloudFront::Distribution`."),
    spec("region", false, "us-east-1", "AWS region. Lambda@Edge functions live only in us-east-1; a job-wide `AWS_REGION` does not move the deploy."),
    spec("wait", false, "true", "Wait for the stack and the distribution, and verify the association."),
    spec("timeout", false, "90m", "Limit for the whole run, such as `90s`, `45m`, `1h`."),
    spec("invalidation-paths", false, "", "Paths to invalidate once deployed (such as `/*`), separated by commas or newlines; the invalidation is waited for."),
    spec("force", false, "false", "Publish and update even when the code is unchanged."),
    spec("dry-run", false, "false", "Package, hash and report what would change; write nothing."),
    spec("expected-bucket-owner", false, "", "Account id that must own `artifact-bucket`; passed as ExpectedBucketOwner on every S3 call."),
    spec("recreate-failed-stack", false, "false", "Delete a stack left in ROLLBACK_COMPLETE by a failed first launch, and launch it again."),
    spec("on-interrupt", false, "leave", "On SIGINT/SIGTERM (a cancelled job): `leave` an in-progress stack update running, or `cancel` it (CancelUpdateStack, so it rolls back)."),
    spec("check-url", false, "", "URL to request once the distribution is Deployed; a path alone (`/index.html`) means the distribution's own domain over HTTPS."),
    spec("check-status", false, "200", "HTTP status the check expects."),
    spec("check-header", false, "", "`Name: regex` that a response header must match; several, one per line."),
    spec("check-body", false, "", "Regex that the response body must match."),
    spec("check-timeout", false, "5m", "How long the check retries (edges pick up a new version at different moments), such as `90s` or `5m`."),
    spec("rollback-on-failure", false, "false", "When the check fails, re-point the stack at the version live before this release, wait, verify, and still exit 1."),
    spec("rollback-to", false, "", "Re-point the stack at an already published version instead of releasing: `previous`, a version number, or a version ARN. Nothing is packaged."),
];

const fn spec(name: &'static str, required: bool, default: &'static str, description: &'static str) -> InputSpec {
    InputSpec { name, required, default, description }
}

pub fn default_of(name: &str) -> &'static str {
    INPUTS.iter().find(|i| i.name == name).map(|i| i.default).unwrap_or("")
}

/// The inputs as given, before any validation: every field optional, blank already turned into unset.
/// Field names are the input names with `_` for `-` (envy lower-cases the variable names).
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct RawInputs {
    pub function_name: Option<String>,
    pub stack_name: Option<String>,
    pub artifact_bucket: Option<String>,
    #[serde(skip_deserializing)]
    pub source: Option<OsString>,
    pub artifact_prefix: Option<String>,
    #[serde(skip_deserializing)]
    pub template: Option<OsString>,
    pub template_url: Option<String>,
    pub parameters: Option<String>,
    pub first_launch_parameter: Option<String>,
    pub version_parameter: Option<String>,
    pub capabilities: Option<String>,
    pub tags: Option<String>,
    pub distribution_id: Option<String>,
    pub region: Option<String>,
    pub wait: Option<String>,
    pub timeout: Option<String>,
    pub invalidation_paths: Option<String>,
    pub force: Option<String>,
    pub dry_run: Option<String>,
    pub expected_bucket_owner: Option<String>,
    pub recreate_failed_stack: Option<String>,
    pub on_interrupt: Option<String>,
    pub rollback_to: Option<String>,
    pub check_url: Option<String>,
    pub check_status: Option<String>,
    pub check_header: Option<String>,
    pub check_body: Option<String>,
    pub check_timeout: Option<String>,
    pub rollback_on_failure: Option<String>,
}

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

/// Validated settings for one run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub function_name: String,
    pub stack_name: String,
    pub artifact_bucket: String,
    /// None only with `rollback-to`, which packages nothing.
    pub source: Option<PathBuf>,
    pub artifact_prefix: String,
    pub template: Option<TemplateSource>,
    pub parameters: Vec<(String, String)>,
    pub first_launch_parameter: String,
    pub version_parameter: String,
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
    pub rollback_to: Option<RollbackTarget>,
    pub check: Option<crate::check::CheckSpec>,
    pub rollback_on_failure: bool,
    /// The S3-triggered deployer: `function-name` and `artifact-bucket` come from the event's key.
    pub code_from_event: bool,
}

impl Settings {
    /// The S3 key of the code zip.
    pub fn artifact_key(&self) -> String {
        format!("{}{}.zip", self.artifact_prefix, self.function_name)
    }
}

const CAPABILITIES: &[&str] = &["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"];

/// The longest `timeout` or `check-timeout`: far beyond any job (GitHub's hosted runners stop one
/// after 6 hours), and far from the clock arithmetic's limits.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

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

/// Inputs whose values are paths: kept as the operating system gave them, so that a path that is
/// not UTF-8 still names its file.
const PATH_INPUTS: &[&str] = &["SOURCE", "TEMPLATE"];

/// Reads the inputs from `(name, value)` pairs such as `std::env::vars_os()`.
///
/// Only `INPUT_*` names count. `INPUT_STACK-NAME` (the runner's spelling) and `INPUT_STACK_NAME` (a
/// shell's) are the same input; blank values are unset, since the runner passes every declared input.
/// A variable that is not UTF-8 is ignored, unless it is an input that must be text: then it is a
/// problem that names the input, never its value (which may be a secret).
/// Returns the raw inputs and the `INPUT_*` names that match no input (worth a warning: a typo).
pub fn read<I, K, V>(vars: I) -> Result<(RawInputs, Vec<String>)>
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<OsString>,
    V: Into<OsString>,
{
    let known: Vec<String> = INPUTS.iter().map(|i| env_key(i.name)).collect();
    let mut values: BTreeMap<String, (String, OsString)> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut unknown = Vec::new();
    for (name, value) in vars {
        let (name, value): (OsString, OsString) = (name.into(), value.into());
        let Some(name) = name.to_str().map(str::to_owned) else { continue };
        let Some(rest) = name.strip_prefix("INPUT_") else { continue };
        let key = env_key(rest);
        if !known.contains(&key) {
            unknown.push(name);
            continue;
        }
        if !PATH_INPUTS.contains(&key.as_str()) && value.to_str().is_none() {
            problems.push(InputProblem {
                input: spec_for_key(&key),
                problem: format!("{name} is not UTF-8 text; set it to a text value"),
            });
            continue;
        }
        if value.to_string_lossy().trim().is_empty() {
            continue;
        }
        if let Some((first_name, first_value)) = values.get(&key) {
            if trim_os(first_value.clone()) != trim_os(value) {
                problems.push(InputProblem {
                    input: spec_for_key(&key),
                    problem: format!("given twice with different values ({first_name} and {name}); set it once"),
                });
            }
            continue;
        }
        values.insert(key, (name, value));
    }
    if !problems.is_empty() {
        return Err(Error::Inputs(problems));
    }
    let source = values.remove("SOURCE").map(|(_, v)| trim_os(v));
    let template = values.remove("TEMPLATE").map(|(_, v)| trim_os(v));
    let text = values.into_iter().filter_map(|(k, (_, v))| v.into_string().ok().map(|v| (format!("INPUT_{k}"), v)));
    let raw = envy::prefixed("INPUT_")
        .from_iter(text)
        .map_err(|e| Error::Inputs(vec![InputProblem { input: "inputs", problem: e.to_string() }]))?;
    unknown.sort();
    Ok((RawInputs { source, template, ..raw }, unknown))
}

/// Surrounding spaces off a value, when it is text to trim.
fn trim_os(value: OsString) -> OsString {
    match value.into_string() {
        Ok(s) => s.trim().into(),
        Err(os) => os,
    }
}

fn env_key(name: &str) -> String {
    name.trim().to_ascii_uppercase().replace(['-', ' '], "_")
}

fn spec_for_key(key: &str) -> &'static str {
    INPUTS.iter().find(|i| env_key(i.name) == key).map(|i| i.name).unwrap_or("inputs")
}

/// Turns raw inputs into settings, collecting every problem. Only the file system is consulted
/// (does `source` exist?); nothing in AWS is.
pub fn validate(raw: RawInputs) -> Result<Settings> {
    validate_as(raw, false)
}

/// As [`validate`]; with `code_from_event`, for the S3-triggered deployer, whose code is an S3
/// object version named by the event, so that `source` is not needed.
pub fn validate_as(raw: RawInputs, code_from_event: bool) -> Result<Settings> {
    let mut p = Problems::default();

    let function_name = p.required("function-name", raw.function_name, valid_function_name);
    let stack_name = p.required("stack-name", raw.stack_name, valid_stack_name);
    let artifact_bucket = p.required("artifact-bucket", raw.artifact_bucket, valid_bucket_name);
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
    let source = match (raw.source, &rollback_to) {
        (None, Some(_)) => None,
        (None, None) if code_from_event => None,
        (None, None) => {
            p.push("source", "is required and was not set");
            None
        }
        (Some(source), _) => {
            let path = PathBuf::from(source);
            match valid_source(&path) {
                Ok(()) => Some(path),
                Err(problem) => {
                    p.push("source", problem);
                    None
                }
            }
        }
    };
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
    let version_parameter = p.name_of("version-parameter", raw.version_parameter);
    if first_launch_parameter == version_parameter {
        p.push("version-parameter", "must differ from `first-launch-parameter`");
    }
    // The tool decides these two from what it released; a value in `parameters` would point the
    // stack at a version other than the one published, behind the release's back.
    for (own, input) in [(&version_parameter, "version-parameter"), (&first_launch_parameter, "first-launch-parameter")]
    {
        if parameters.iter().any(|(k, _)| k == own) {
            p.push(
                "parameters",
                format!("sets {own}, which the tool sets itself (the `{input}`); remove it, or use `rollback-to` to run a chosen version"),
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
    let check =
        check_spec(&mut p, raw.check_url, raw.check_status, raw.check_header, raw.check_body, raw.check_timeout);
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
        if check.is_some() {
            p.push("check-url", "needs `wait: true`: the check runs once the new version is deployed");
        }
        if !invalidation_paths.is_empty() {
            p.push("invalidation-paths", "needs `wait: true`: the invalidation follows the deployment");
        }
    }

    if !p.0.is_empty() {
        return Err(Error::Inputs(p.0));
    }
    Ok(Settings {
        function_name: function_name.unwrap_or_default(),
        stack_name: stack_name.unwrap_or_default(),
        artifact_bucket: artifact_bucket.unwrap_or_default(),
        source,
        artifact_prefix,
        template,
        parameters,
        first_launch_parameter,
        version_parameter,
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
        rollback_to,
        check,
        rollback_on_failure,
        code_from_event,
    })
}

/// The check's expectations, each compiled now so that a malformed one fails before any write.
fn check_spec(
    p: &mut Problems,
    url: Option<String>,
    status: Option<String>,
    header: Option<String>,
    body: Option<String>,
    timeout: Option<String>,
) -> Option<crate::check::CheckSpec> {
    let Some(url) = url.map(|u| u.trim().to_owned()) else {
        // The GitHub runner passes every declared input with its default: only a value of the
        // user's own counts as given.
        for (input, given) in
            [("check-status", &status), ("check-header", &header), ("check-body", &body), ("check-timeout", &timeout)]
        {
            if given.as_deref().is_some_and(|v| v.trim() != default_of(input)) {
                p.push(input, "needs `check-url`, the URL to check");
            }
        }
        return None;
    };
    if let Err(problem) = valid_check_url(&url) {
        p.push("check-url", problem);
    }
    let status_text = status.unwrap_or_else(|| default_of("check-status").to_owned());
    let status = match status_text.trim().parse::<u16>() {
        Ok(s) if (100..=599).contains(&s) => s,
        _ => {
            p.push("check-status", format!("`{}` is not an HTTP status (100 to 599)", status_text.trim()));
            0
        }
    };
    let mut headers = Vec::new();
    for line in header.as_deref().unwrap_or("").lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((name, pattern)) = line.split_once(':') else {
            p.push("check-header", format!("`{line}` is not `Name: regex` (such as `x-edge-release: ^release-2$`)"));
            continue;
        };
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b)) {
            p.push("check-header", format!("`{name}` in `{line}` is not a header name"));
            continue;
        }
        match regex::Regex::new(pattern.trim()) {
            Ok(r) => headers.push((name.to_ascii_lowercase(), r)),
            Err(e) => p.push("check-header", format!("the regex in `{line}` does not compile: {e}")),
        }
    }
    let body = body.and_then(|b| match regex::Regex::new(b.trim()) {
        Ok(r) => Some(r),
        Err(e) => {
            p.push("check-body", format!("the regex does not compile: {e}"));
            None
        }
    });
    let timeout = p.duration("check-timeout", timeout);
    Some(crate::check::CheckSpec { url, status, headers, body, timeout })
}

/// A path on the distribution's domain, or a full http(s) URL with a host, that parses as a request
/// URI: spaces and control characters are refused now, not after the release.
fn valid_check_url(url: &str) -> Result<(), String> {
    let expected = "expected a path such as `/index.html` or a full http(s):// URL (spaces and other characters outside a URL percent-encoded)";
    if url.starts_with('/') {
        return hyper::http::uri::PathAndQuery::try_from(url)
            .map(|_| ())
            .map_err(|_| format!("`{}`: {expected}", url.escape_debug()));
    }
    match url.parse::<hyper::Uri>() {
        Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(format!("`{}`: {expected}", url.escape_debug())),
    }
}

#[derive(Default)]
struct Problems(Vec<InputProblem>);

impl Problems {
    fn push(&mut self, input: &'static str, problem: impl Into<String>) {
        self.0.push(InputProblem { input, problem: problem.into() });
    }

    fn required(
        &mut self,
        input: &'static str,
        value: Option<String>,
        check: fn(&str) -> Result<(), String>,
    ) -> Option<String> {
        match value.map(|v| v.trim().to_owned()) {
            None => {
                self.push(input, "is required and was not set");
                None
            }
            Some(v) => match check(&v) {
                Ok(()) => Some(v),
                Err(problem) => {
                    self.push(input, problem);
                    None
                }
            },
        }
    }

    fn boolean(&mut self, input: &'static str, value: Option<String>) -> bool {
        let text = value.unwrap_or_else(|| default_of(input).to_owned());
        match text.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            other => {
                self.push(input, format!("expected `true` or `false`, got `{other}`"));
                false
            }
        }
    }

    fn duration(&mut self, input: &'static str, value: Option<String>) -> Duration {
        let text = value.unwrap_or_else(|| default_of(input).to_owned());
        match humantime::parse_duration(text.trim()) {
            Ok(d) if d > MAX_DURATION => {
                self.push(input, format!("`{}` is longer than 24h, the most a run may wait", text.trim()));
                Duration::ZERO
            }
            Ok(d) if d >= Duration::from_secs(1) => d,
            Ok(_) => {
                self.push(input, "must be at least 1s");
                Duration::ZERO
            }
            Err(_) => {
                self.push(input, format!("`{}` is not a duration; write it as `90s`, `45m` or `1h`", text.trim()));
                Duration::ZERO
            }
        }
    }

    fn name_of(&mut self, input: &'static str, value: Option<String>) -> String {
        let name = value.map(|v| v.trim().to_owned()).unwrap_or_else(|| default_of(input).to_owned());
        if let Err(e) = valid_parameter_key(&name) {
            self.push(input, format!("`{name}`: expected {e}"));
        }
        name
    }

    fn pairs(
        &mut self,
        input: &'static str,
        text: Option<&str>,
        check_key: fn(&str) -> Result<(), &'static str>,
    ) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for item in split_list(text.unwrap_or("")) {
            let Some((key, value)) = item.split_once('=') else {
                self.push(input, format!("`{item}` is not `Key=Value`"));
                continue;
            };
            let key = key.trim();
            if let Err(expected) = check_key(key) {
                self.push(input, format!("`{key}` in `{item}`: expected {expected}"));
                continue;
            }
            if pairs.iter().any(|(k, _)| k == key) {
                self.push(input, format!("`{key}` is given twice"));
                continue;
            }
            pairs.push((key.to_owned(), value.trim().to_owned()));
        }
        pairs
    }
}

/// Splits a list input: by newlines when it has several lines (so that values may hold commas),
/// otherwise by commas. Blank items are dropped.
pub fn split_list(text: &str) -> Vec<String> {
    let items: Vec<&str> = if text.trim().contains('\n') { text.lines().collect() } else { text.split(',').collect() };
    items.into_iter().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
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

fn valid_parameter_key(key: &str) -> Result<(), &'static str> {
    if !key.is_empty() && key.len() <= 255 && key.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err("a CloudFormation parameter name (letters and digits)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn problems(result: Result<Settings>) -> Vec<InputProblem> {
        match result {
            Err(Error::Inputs(p)) => p,
            other => panic!("expected input problems, got {other:?}"),
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
        assert_eq!(s.function_name, "edge");
        assert_eq!(s.stack_name, "site");
        assert_eq!(s.artifact_key(), "releases/edge.zip");
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
        assert_eq!(s.version_parameter, "LambdaVersion");
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
            assert_eq!(s.rollback_to, Some(want));
            assert_eq!(s.source, None);
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
    fn conflicting_spellings_are_an_error() {
        let p = problems(settings(&[("INPUT_STACK-NAME", "a"), ("INPUT_STACK_NAME", "b")]));
        assert_eq!(p[0].input, "stack-name");
        assert!(p[0].problem.contains("twice"));
    }

    #[test]
    fn unknown_inputs_are_returned_for_a_warning() {
        let (_, unknown) = read(pairs(&[("INPUT_STAK_NAME", "x"), ("HOME", "/root"), ("INPUT_SOURCE", "x")])).unwrap();
        assert_eq!(unknown, vec!["INPUT_STAK_NAME".to_string()]);
    }

    #[test]
    fn lists_split_on_newlines_when_multiline_else_commas() {
        assert_eq!(split_list("A=1, B=2,,"), vec!["A=1", "B=2"]);
        assert_eq!(split_list("A=1,2\nB=3\n\n"), vec!["A=1,2", "B=3"]);
        assert!(split_list(" ").is_empty());
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
        assert_eq!(validate(read(vars).unwrap().0).unwrap().source, Some(path));
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

    #[test]
    fn raw_inputs_and_the_input_table_name_the_same_inputs() {
        let raw = serde_json::to_value(RawInputs::default()).unwrap();
        let fields: Vec<String> = raw.as_object().unwrap().keys().cloned().collect();
        let mut table: Vec<String> = INPUTS.iter().map(|i| i.name.replace('-', "_")).collect();
        let mut fields_sorted = fields.clone();
        fields_sorted.sort();
        table.sort();
        assert_eq!(fields_sorted, table);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;
        use std::os::unix::ffi::OsStringExt;

        /// Input names as a runner, a shell or a typo would spell them, and other variables.
        fn name() -> impl Strategy<Value = OsString> {
            let known: Vec<String> = INPUTS.iter().map(|i| format!("INPUT_{}", i.name.to_ascii_uppercase())).collect();
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
