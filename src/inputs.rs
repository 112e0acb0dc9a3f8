//! Inputs: raw strings from `INPUT_<NAME>` variables, then one validation step that turns them into
//! typed [`Settings`] and reports every problem at once.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, InputProblem, Result};
use crate::settings::valid_parameter_key;

/// One input as action.yml and the README declare it. The single source of truth for names,
/// defaults and descriptions; `tests/action_metadata.rs` holds action.yml and the README to it.
pub struct InputSpec {
    pub name: &'static str,
    pub required: bool,
    pub default: &'static str,
    pub description: &'static str,
}

pub const INPUTS: &[InputSpec] = &[
    spec("function-name", false, "", "Name of the Lambda@Edge function (in us-east-1). Its code zip is stored as `<artifact-prefix><function-name>.zip`. Required, unless `functions` is given (not with it)."),
    spec("stack-name", true, "", "CloudFormation stack that wires the function into the CloudFront distribution."),
    spec("artifact-bucket", true, "", "Versioned S3 bucket for code zips (and for templates over 51,200 bytes)."),
    spec("source", false, "", "Directory to package, or an existing `.zip` file. Required, except with `rollback-to` or `functions` (not with it)."),
    spec("functions", false, "", "Several functions released together, one per line: `VersionParameter=function-name:source` (the template parameter that takes its version ARN, the function, its directory or zip). Replaces `function-name`, `source` and `version-parameter`; one stack update and one CloudFront deployment for all."),
    spec("exclude", false, "", "Files to leave out of the package: gitignore-style patterns relative to `source`, one per line or comma-separated. A `.lambdaignore` file at the root of `source` adds its own (and is never packaged)."),
    spec("artifact-prefix", false, "", "S3 key prefix: the key is `<artifact-prefix><function-name>.zip`."),
    spec("template", false, "", "Path of the stack's template (YAML or JSON). Needed to create the stack; on a release it replaces the stack's template."),
    spec("template-url", false, "", "S3 URL of the template, instead of `template`."),
    spec("parameters", false, "", "More stack parameters, `Key=Value`, separated by commas or newlines (newlines only, when the input has several lines). They win over every value the tool fills in."),
    spec("first-launch-parameter", false, "FirstLaunch", "Name of the template's first-launch parameter (`true` when the stack is created, `false` after)."),
    spec("version-parameter", false, "LambdaVersion", "Name of the template's parameter that takes the published version ARN (not with `functions`)."),
    spec("capabilities", false, "CAPABILITY_IAM,CAPABILITY_NAMED_IAM", "Stack capabilities, comma-separated."),
    spec("role-arn", false, "", "CloudFormation service role (`RoleARN`) that creates and updates the stack; preflight checks that it exists and trusts cloudformation.amazonaws.com (when `iam:GetRole` is allowed)."),
    spec("notification-arns", false, "", "SNS topic ARNs (in us-east-1) that receive the stack's events (`NotificationARNs`), comma-separated or one per line; at most 5."),
    spec("tags", false, "", "Stack tags, `Key=Value`, separated by commas or newlines."),
    spec("distribution-id", false, "", "CloudFront distribution to wait for and verify; otherwise the stack's `AWS::CloudFront::Distribution`."),
    spec("region", false, "us-east-1", "AWS region. Lambda@Edge functions live only in us-east-1; a job-wide `AWS_REGION` does not move the deploy."),
    spec("wait", false, "true", "Wait for the stack and the distribution, and verify the association."),
    spec("log-format", false, "text", "`text` (timestamped lines) or `json` (every line on stderr one JSON object: `time`, `level`, `phase`, `message` and fields such as `stack-event` and `version-arn`); in GitHub Actions, groups and annotations stay workflow commands."),
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
    spec("mode", false, "release", "`release` (release now); `plan` (publish the new version, which serves nothing yet, and create a CloudFormation change set for review: no stack or distribution change); `execute` (execute the change set `change-set-id` names, then wait, verify and check as a release does); `promote` or `abort` (finish the canary a `strategy: staged` run with `promote: false` left live: the primary runs it, or the staging distribution goes back to the primary's version)."),
    spec("change-set-id", false, "", "With `mode: execute`: the change set a `mode: plan` run created: its ARN (the `change-set-id` output) or its name (`change-set-name`, which holds no account id, so it passes between jobs unmasked)."),
    spec("allow-drift", false, "false", "Release even when the distribution runs another version than the stack last set (a change made outside the stack): warn instead of refusing."),
    spec("keep-versions", false, "", "After a successful release, delete the function's published versions except the N newest, every version a distribution of the stack runs, the one `rollback-to: previous` would choose, aliased versions and the stack's own; a version CloudFront still replicates is left for a later run. Empty: delete nothing."),
    spec("prune-only", false, "false", "Release nothing: only delete old versions by `keep-versions` (for a scheduled workflow that picks up the versions whose replicas are gone)."),
    spec("strategy", false, "direct", "`direct` (the distribution runs the new version at once) or `staged` (CloudFront continuous deployment: the staging distribution runs it first, for the requests with `canary-header` and optionally a `canary-weight` share of all; checked there, then promoted to the primary by a stack update, or aborted). `staged` needs a template like examples/staged/template.yaml."),
    spec("canary-header", false, "aws-cf-cd-canary", "With `strategy: staged`: the header that routes a request to the staging distribution (its name starts with `aws-cf-cd-`); the check at the edge sends it."),
    spec("canary-header-value", false, "1", "With `strategy: staged`: the value of `canary-header` that routes a request to the staging distribution."),
    spec("canary-weight", false, "", "With `strategy: staged`: after the check, send this share of all requests (above 0, at most 0.15) to the staging distribution for `bake-time`."),
    spec("bake-time", false, "", "With `strategy: staged`: how long the canary runs before promotion (such as `10m`), failing when the staging distribution's 5xxErrorRate exceeds `max-error-rate`."),
    spec("max-error-rate", false, "1", "With `bake-time`: the highest 5xxErrorRate (percent of requests, CloudWatch `AWS/CloudFront`, one-minute periods) of the staging distribution that the bake accepts."),
    spec("promote", false, "true", "With `strategy: staged`: `false` stops with the canary live (canary-result `passed` or `pending`), for a later run with `mode: promote` or `mode: abort`."),
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
    pub functions: Option<String>,
    pub exclude: Option<String>,
    pub artifact_prefix: Option<String>,
    #[serde(skip_deserializing)]
    pub template: Option<OsString>,
    pub template_url: Option<String>,
    pub parameters: Option<String>,
    pub first_launch_parameter: Option<String>,
    pub version_parameter: Option<String>,
    pub capabilities: Option<String>,
    pub role_arn: Option<String>,
    pub notification_arns: Option<String>,
    pub tags: Option<String>,
    pub distribution_id: Option<String>,
    pub region: Option<String>,
    pub wait: Option<String>,
    pub log_format: Option<String>,
    pub timeout: Option<String>,
    pub invalidation_paths: Option<String>,
    pub force: Option<String>,
    pub dry_run: Option<String>,
    pub expected_bucket_owner: Option<String>,
    pub recreate_failed_stack: Option<String>,
    pub on_interrupt: Option<String>,
    pub rollback_to: Option<String>,
    pub keep_versions: Option<String>,
    pub mode: Option<String>,
    pub change_set_id: Option<String>,
    pub allow_drift: Option<String>,
    pub prune_only: Option<String>,
    pub check_url: Option<String>,
    pub check_status: Option<String>,
    pub check_header: Option<String>,
    pub check_body: Option<String>,
    pub check_timeout: Option<String>,
    pub rollback_on_failure: Option<String>,
    pub strategy: Option<String>,
    pub canary_header: Option<String>,
    pub canary_header_value: Option<String>,
    pub canary_weight: Option<String>,
    pub bake_time: Option<String>,
    pub max_error_rate: Option<String>,
    pub promote: Option<String>,
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

/// The key an input has in the environment: `stack-name` and `STACK_NAME` are both `STACK_NAME`.
pub fn env_key(name: &str) -> String {
    name.trim().to_ascii_uppercase().replace(['-', ' '], "_")
}

/// The known input nearest to an unknown `INPUT_*` name, when one is near enough to be the one meant.
pub fn nearest(variable: &str) -> Option<&'static str> {
    let key = env_key(variable.strip_prefix("INPUT_").unwrap_or(variable));
    INPUTS
        .iter()
        .map(|i| (i.name, strsim::jaro_winkler(&env_key(i.name), &key)))
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(name, _)| name)
}

/// Unknown `INPUT_*` variables as input problems: a typo (`INPUT_DRY_RUNN`) or an input of another
/// version of the tool must not let a run go on as if it were not there.
pub fn unknown_problems(unknown: &[String]) -> Vec<InputProblem> {
    unknown
        .iter()
        .map(|name| InputProblem {
            input: "inputs",
            problem: match nearest(name) {
                Some(near) => format!(
                    "{name} matches no input of lambda-edge-deploy; did you mean `{near}` (INPUT_{})?",
                    env_key(near)
                ),
                None => format!("{name} matches no input of lambda-edge-deploy (see --help for them all); remove it"),
            },
        })
        .collect()
}

fn spec_for_key(key: &str) -> &'static str {
    INPUTS.iter().find(|i| env_key(i.name) == key).map(|i| i.name).unwrap_or("inputs")
}

/// Splits a list input: by newlines when it has several lines (so that values may hold commas),
/// otherwise by commas. Blank items are dropped.
pub fn split_list(text: &str) -> Vec<String> {
    let items: Vec<&str> = if text.trim().contains('\n') { text.lines().collect() } else { text.split(',').collect() };
    items.into_iter().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The longest `timeout` or `check-timeout`: far beyond any job (GitHub's hosted runners stop one
/// after 6 hours), and far from the clock arithmetic's limits.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Every problem found so far, each naming its input.
#[derive(Default)]
pub(crate) struct Problems(Vec<InputProblem>);

impl Problems {
    /// Every problem found, or none.
    pub(crate) fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Inputs(self.0))
        }
    }

    /// Each input given that the run's mode has no use for, refused with the same reason: an input
    /// that would be ignored is an error, never silently dropped.
    pub(crate) fn refuse(&mut self, given: &[(&'static str, bool)], problem: &str) {
        for (input, _) in given.iter().filter(|(_, given)| *given) {
            self.push(input, problem);
        }
    }

    pub(crate) fn push(&mut self, input: &'static str, problem: impl Into<String>) {
        self.0.push(InputProblem { input, problem: problem.into() });
    }

    pub(crate) fn required(
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

    pub(crate) fn boolean(&mut self, input: &'static str, value: Option<String>) -> bool {
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

    pub(crate) fn duration(&mut self, input: &'static str, value: Option<String>) -> Duration {
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

    pub(crate) fn name_of(&mut self, input: &'static str, value: Option<String>) -> String {
        let name = value.map(|v| v.trim().to_owned()).unwrap_or_else(|| default_of(input).to_owned());
        if let Err(e) = valid_parameter_key(&name) {
            self.push(input, format!("`{name}`: expected {e}"));
        }
        name
    }

    pub(crate) fn pairs(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn problems(result: Result<(RawInputs, Vec<String>)>) -> Vec<InputProblem> {
        match result {
            Err(Error::Inputs(p)) => p,
            other => panic!("expected input problems, got {other:?}"),
        }
    }

    #[test]
    fn conflicting_spellings_are_an_error() {
        let p = problems(read(pairs(&[("INPUT_STACK-NAME", "a"), ("INPUT_STACK_NAME", "b")])));
        assert_eq!(p[0].input, "stack-name");
        assert!(p[0].problem.contains("twice"));
    }

    #[test]
    fn an_unknown_input_names_the_nearest_known_one() {
        assert_eq!(nearest("INPUT_DRY_RUNN"), Some("dry-run"));
        assert_eq!(nearest("INPUT_STAK-NAME"), Some("stack-name"));
        assert_eq!(nearest("INPUT_SOMETHING_ELSE_ENTIRELY"), None);
        let p = unknown_problems(&["INPUT_DRY_RUNN".into()]);
        assert!(p[0].problem.contains("did you mean `dry-run` (INPUT_DRY_RUN)?"), "{p:?}");
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
    fn raw_inputs_and_the_input_table_name_the_same_inputs() {
        let raw = serde_json::to_value(RawInputs::default()).unwrap();
        let fields: Vec<String> = raw.as_object().unwrap().keys().cloned().collect();
        let mut table: Vec<String> = INPUTS.iter().map(|i| i.name.replace('-', "_")).collect();
        let mut fields_sorted = fields.clone();
        fields_sorted.sort();
        table.sort();
        assert_eq!(fields_sorted, table);
    }
}
