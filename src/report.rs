//! Report: the run's outputs (JSON on stdout, `GITHUB_OUTPUT`) and the job summary.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::github;

/// One output as action.yml and the README declare it.
pub struct OutputSpec {
    pub name: &'static str,
    pub description: &'static str,
}

pub const OUTPUTS: &[OutputSpec] = &[
    out("version-arn", "ARN of the published version that the distribution runs (holds the account id)."),
    out("version", "The version number alone (no account id, so never masked)."),
    out("function-arn", "ARN of the function, unqualified."),
    out("code-sha256", "base64 SHA-256 of the deployed zip, as Lambda reports CodeSha256."),
    out("s3-key", "S3 key of the code zip."),
    out("s3-version-id", "S3 object version of the code zip that the version was published from."),
    out("stack-id", "ID of the CloudFormation stack."),
    out("stack-status", "The stack's status at the end of the run."),
    out("distribution-id", "ID of the CloudFront distribution."),
    out("distribution-domain", "Domain name of the CloudFront distribution."),
    out("changed", "`true` when this run published or re-pointed anything, else `false`."),
    out("first-launch", "`true` when this run created the stack."),
    out("invalidation-id", "ID of the CloudFront invalidation, empty if none."),
    out("check-result", "What the check at the edge found: `passed`, `failed`, `rolled-back` or `skipped`."),
    out("pruned-versions", "Versions deleted by `keep-versions`, comma-separated numbers (`function-name:N` with `functions`)."),
    out("pending-versions", "Versions `keep-versions` would delete but CloudFront still replicates, left for a later run; same form."),
    out("change-set-id", "With `mode: plan`: the ARN of the change set to review and execute (`mode: execute`, `change-set-id`); empty when there is nothing to change."),
    out("change-set-name", "With `mode: plan`: the change set's name."),
    out("has-changes", "With `mode: plan`: `true` when the change set changes the stack, else `false` (and no change set is left)."),
    out("changes-count", "With `mode: plan`: how many resources the change set changes."),
    out("changes-markdown", "With `mode: plan`: the change set as a Markdown table (parameters, then each resource change with before and after values), also in the job summary."),
    out("staging-distribution-id", "With `strategy: staged` (and `mode: promote`/`abort`): the staging distribution that ran the canary."),
    out("canary-result", "With `strategy: staged`: `promoted` (the primary runs the new version), `passed` (checked on staging and left live: `promote: false`), `pending` (left live unchecked), `aborted` (withdrawn: the primary never ran it) or `failed` (the canary failed and could not be withdrawn: see the error); `mode: promote`/`abort` report `promoted`/`aborted`."),
    out("functions", "JSON array, one object per function released (`function-name`, `version-arn`, `version`, `code-sha256`, `s3-key`, `s3-version-id`, `changed`); with `functions`, the single-function outputs above are empty."),
];

/// Each of the stack's Outputs becomes the output of this name and its OutputKey.
pub const STACK_OUTPUT_PREFIX: &str = "stack-output-";

const fn out(name: &'static str, description: &'static str) -> OutputSpec {
    OutputSpec { name, description }
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Outputs {
    pub version_arn: String,
    pub version: String,
    pub function_arn: String,
    pub code_sha256: String,
    pub s3_key: String,
    pub s3_version_id: String,
    pub stack_id: String,
    pub stack_status: String,
    pub distribution_id: String,
    pub distribution_domain: String,
    pub changed: bool,
    pub first_launch: bool,
    pub invalidation_id: String,
    pub check_result: CheckResult,
    pub pruned_versions: String,
    pub pending_versions: String,
    pub change_set_id: String,
    pub change_set_name: String,
    pub has_changes: String,
    pub changes_count: String,
    pub changes_markdown: String,
    pub staging_distribution_id: String,
    pub canary_result: String,
    /// The stack's Outputs after a successful release: `stack-outputs` in the JSON, and one
    /// `stack-output-<Name>` each in GITHUB_OUTPUT (undeclared in action.yml: their names are the
    /// template's).
    pub stack_outputs: std::collections::BTreeMap<String, String>,
    /// Each function's own outputs, in the settings' order.
    pub functions: Vec<FunctionOutputs>,
    /// What the check saw, for the log and the summary.
    #[serde(skip)]
    pub check_detail: String,
    /// A release of several functions (`functions`): the single-function outputs stay empty.
    #[serde(skip)]
    pub several: bool,
}

/// One function's outputs.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct FunctionOutputs {
    pub function_name: String,
    pub version_arn: String,
    pub version: String,
    pub code_sha256: String,
    pub s3_key: String,
    pub s3_version_id: String,
    pub changed: bool,
}

#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum CheckResult {
    Passed,
    Failed,
    RolledBack,
    #[default]
    Skipped,
}

impl CheckResult {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Passed => "passed",
            CheckResult::Failed => "failed",
            CheckResult::RolledBack => "rolled-back",
            CheckResult::Skipped => "skipped",
        }
    }
}

impl Outputs {
    /// The outputs of a run of these functions, each known by name.
    pub fn of(functions: &[crate::settings::EdgeFunction], several: bool) -> Outputs {
        Outputs {
            functions: functions
                .iter()
                .map(|f| FunctionOutputs { function_name: f.name.clone(), ..Default::default() })
                .collect(),
            several,
            ..Default::default()
        }
    }

    /// A release of one function (not `functions`) has the single-function outputs of its entry.
    pub fn mirror(&mut self) {
        if let (false, [f]) = (self.several, self.functions.as_slice()) {
            self.version_arn = f.version_arn.clone();
            self.version = f.version.clone();
            self.code_sha256 = f.code_sha256.clone();
            self.s3_key = f.s3_key.clone();
            self.s3_version_id = f.s3_version_id.clone();
        }
    }

    /// Records what pruning did: numbers for one function, `function-name:N` with `functions`.
    pub fn pruned(&mut self, pruned: &[crate::prune::Pruned]) {
        let several = self.several;
        let list = |pick: fn(&crate::prune::Pruned) -> &Vec<String>| -> String {
            pruned
                .iter()
                .flat_map(|p| {
                    pick(p).iter().map(move |n| if several { format!("{}:{n}", p.function) } else { n.clone() })
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        self.pruned_versions = list(|p| &p.deleted);
        self.pending_versions = list(|p| &p.pending);
    }

    /// Name and value of each output, in the order of [`OUTPUTS`], as the strings GitHub sees.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        // Strings and booleans always serialize; Null would only show as empty outputs.
        let json = serde_json::to_value(self).unwrap_or_default();
        OUTPUTS
            .iter()
            .map(|o| {
                let v = &json[o.name];
                (o.name, v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
            })
            .collect()
    }

    /// One line of JSON. `##[` is written `##\u005b` (the same JSON string): the runner reads
    /// stdout for workflow commands too, and takes `##[name]` anywhere in a line for one.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned()).replace("##[", "##\\u005b")
    }

    /// Appends every output to a `GITHUB_OUTPUT` file in the runner's format.
    pub fn write_github_output(&self, out: &mut impl Write) -> std::io::Result<()> {
        let delimiter = github::random_delimiter();
        for (name, value) in self.pairs() {
            let entry = github::output_entry(name, &value, &delimiter).map_err(std::io::Error::other)?;
            out.write_all(entry.as_bytes())?;
        }
        for (key, value) in &self.stack_outputs {
            let name = format!("{STACK_OUTPUT_PREFIX}{key}");
            let entry = github::output_entry(&name, value, &delimiter).map_err(std::io::Error::other)?;
            out.write_all(entry.as_bytes())?;
        }
        Ok(())
    }
}

/// Time spent in each phase, for the summary.
#[derive(Debug, Default, Clone)]
pub struct Timings(pub Vec<(&'static str, Duration)>);

/// Writes the outputs where they go: JSON on stdout, and `GITHUB_OUTPUT` when set.
pub fn publish(outputs: &Outputs) -> Result<()> {
    println!("{}", outputs.to_json());
    write_github_output(outputs)
}

/// Appends the outputs to `GITHUB_OUTPUT`, when set.
pub fn write_github_output(outputs: &Outputs) -> Result<()> {
    if let Some(path) = env_path("GITHUB_OUTPUT") {
        append(&path, |f| outputs.write_github_output(f))?;
    }
    Ok(())
}

/// A failed run's stdout: the outputs known so far, with `error` (the message) and `exit-code`, so
/// that a script reading stdout as JSON gets one object whatever the exit.
pub fn failure_json(outputs: &Outputs, e: &Error) -> String {
    let mut json = serde_json::to_value(outputs).unwrap_or_default();
    if let Some(map) = json.as_object_mut() {
        map.insert("error".into(), serde_json::Value::String(e.to_string()));
        map.insert("exit-code".into(), serde_json::Value::from(e.exit_code()));
    }
    json.to_string().replace("##[", "##\\u005b")
}

/// Appends the job summary when `GITHUB_STEP_SUMMARY` is set.
pub fn summarize(
    settings_function: &str,
    outputs: Option<&Outputs>,
    timings: &Timings,
    failure: Option<&Error>,
) -> Result<()> {
    if let Some(path) = env_path("GITHUB_STEP_SUMMARY") {
        let text = summary(settings_function, outputs, timings, failure);
        append(&path, |f| f.write_all(text.as_bytes()))?;
    }
    Ok(())
}

fn env_path(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(Into::into)
}

fn append(path: &Path, write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(Error::io(format!("opening {}", path.display())))?;
    write(&mut file).map_err(Error::io(format!("writing {}", path.display())))
}

/// The job summary: what was deployed, how long each phase took, links to the consoles.
pub fn summary(function: &str, outputs: Option<&Outputs>, timings: &Timings, failure: Option<&Error>) -> String {
    let mut s = String::new();
    match failure {
        None => s.push_str(&format!("### Lambda@Edge release of `{function}`\n\n")),
        Some(e) => s.push_str(&format!(
            "### Lambda@Edge release of `{function}` failed\n\n**{}**: {}\n\n{}\n\n",
            e.title(),
            md_escape(&e.to_string()),
            md_escape(&e.help())
        )),
    }
    if let Some(o) = outputs {
        let region = "us-east-1";
        let fn_name = function;
        if o.several {
            s.push_str("| Function | Version | Code SHA-256 | S3 object | Changed |\n|---|---|---|---|---|\n");
            for f in &o.functions {
                let name = &f.function_name;
                s.push_str(&format!(
                    "| [`{name}`](https://{region}.console.aws.amazon.com/lambda/home?region={region}#/functions/{name}) | {} | `{}` | `{}` (version `{}`) | {} |\n",
                    if f.version.is_empty() { "none".into() } else { format!("`{}`", f.version) },
                    f.code_sha256,
                    f.s3_key,
                    f.s3_version_id,
                    f.changed
                ));
            }
            s.push('\n');
        }
        let rows = [
            ("Function", format!("[`{fn_name}`](https://{region}.console.aws.amazon.com/lambda/home?region={region}#/functions/{fn_name})")),
            ("Version", if o.version.is_empty() { "none".into() } else { format!("`{}`", o.version) }),
            ("Code SHA-256", format!("`{}`", o.code_sha256)),
            ("S3 object", format!("`{}` (version `{}`)", o.s3_key, o.s3_version_id)),
            ("Stack", if o.stack_id.is_empty() { "none".into() } else { format!("[{}](https://{region}.console.aws.amazon.com/cloudformation/home?region={region}#/stacks/stackinfo?stackId={}) ", o.stack_status, url_encode(&o.stack_id)) }),
            ("Distribution", if o.distribution_id.is_empty() { "none".into() } else { format!("[`{}`](https://us-east-1.console.aws.amazon.com/cloudfront/v4/home#/distributions/{}) {}", o.distribution_id, o.distribution_id, o.distribution_domain) }),
            ("Changed", o.changed.to_string()),
            ("First launch", o.first_launch.to_string()),
            ("Pruned versions", if o.pruned_versions.is_empty() { "none".into() } else { o.pruned_versions.clone() }),
            ("Pending versions", if o.pending_versions.is_empty() { "none".into() } else { format!("{} (still replicated; a later run deletes them)", o.pending_versions) }),
            ("Canary", format!("{} on staging distribution `{}`", o.canary_result, o.staging_distribution_id)),
            ("Check", {
                let result = o.check_result.as_str().to_owned();
                if o.check_detail.is_empty() { result } else { format!("{result}: {}", md_escape(&o.check_detail)) }
            }),
        ];
        s.push_str("| | |\n|---|---|\n");
        // With `functions` each function has its row above; the single-function rows would be empty.
        let per_function = ["Function", "Version", "Code SHA-256", "S3 object"];
        let skip = |k: &str| (o.several && per_function.contains(&k)) || (k == "Canary" && o.canary_result.is_empty());
        for (k, v) in rows.into_iter().filter(|(k, _)| !skip(k)) {
            s.push_str(&format!("| {k} | {v} |\n"));
        }
        s.push('\n');
    }
    if let Some(o) = outputs.filter(|o| !o.changes_markdown.is_empty()) {
        s.push_str(&o.changes_markdown);
        s.push('\n');
    }
    if !timings.0.is_empty() {
        s.push_str("| Phase | Duration |\n|---|---|\n");
        for (phase, d) in &timings.0 {
            s.push_str(&format!("| {phase} | {:.1} s |\n", d.as_secs_f64()));
        }
        s.push('\n');
    }
    s
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

/// A stack id as one URL query value (the console link).
fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Outputs {
        Outputs {
            version_arn: "arn:aws:lambda:us-east-1:123456789012:function:edge:3".into(),
            version: "3".into(),
            changed: true,
            ..Default::default()
        }
    }

    #[test]
    fn every_declared_output_is_written_once_in_order() {
        let mut buf = Vec::new();
        sample().write_github_output(&mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let names: Vec<&str> = text.lines().map(|l| l.split('=').next().unwrap()).collect();
        let declared: Vec<&str> = OUTPUTS.iter().map(|o| o.name).collect();
        assert_eq!(names, declared);
        assert!(text.contains("version-arn=arn:aws:lambda:us-east-1:123456789012:function:edge:3\n"));
        assert!(text.contains("changed=true\n"));
        assert!(text.contains("invalidation-id=\n"));
    }

    #[test]
    fn json_and_pairs_agree() {
        let o = sample();
        let json: serde_json::Value = serde_json::from_str(&o.to_json()).unwrap();
        for (name, value) in o.pairs() {
            let j = &json[name];
            let as_text = j.as_str().map(str::to_owned).unwrap_or_else(|| j.to_string());
            assert_eq!(as_text, value, "{name}");
        }
        assert_eq!(json["changed"], serde_json::Value::Bool(true));
        for r in [CheckResult::Passed, CheckResult::Failed, CheckResult::RolledBack, CheckResult::Skipped] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str(), "as_str is the serialized name");
        }
    }

    #[test]
    fn json_never_holds_an_old_style_workflow_command() {
        let o = Outputs { stack_status: "##[error]injected".into(), ..sample() };
        let line = o.to_json();
        assert!(!crate::github::is_command_like(&line), "{line}");
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["stack-status"], "##[error]injected", "the same value");
    }

    #[test]
    fn a_failure_is_one_json_object_with_the_error_and_its_exit_code() {
        let e = Error::failed("the check at the edge failed", "fix it");
        let json: serde_json::Value = serde_json::from_str(&failure_json(&sample(), &e)).unwrap();
        assert_eq!(json["error"], "the check at the edge failed");
        assert_eq!(json["exit-code"], 1);
        assert_eq!(json["version"], "3", "the outputs known so far stay");
    }

    #[test]
    fn summary_has_the_table_and_the_failure() {
        let t = Timings(vec![("Package", Duration::from_millis(1500))]);
        let s = summary("edge", Some(&sample()), &t, None);
        assert!(s.contains("| Version | `3` |"), "{s}");
        assert!(s.contains("| Package | 1.5 s |"), "{s}");
        let e = Error::failed("the distribution does not associate v3", "re-run");
        let s = summary("edge", None, &t, Some(&e));
        assert!(s.contains("failed") && s.contains("does not associate v3") && s.contains("re-run"), "{s}");
    }

    #[test]
    fn pruned_versions_are_numbers_or_named_with_several_functions() {
        let pruned = |f: &str, deleted: &[&str], pending: &[&str]| crate::prune::Pruned {
            function: f.into(),
            deleted: deleted.iter().map(|s| s.to_string()).collect(),
            pending: pending.iter().map(|s| s.to_string()).collect(),
        };
        let mut one = Outputs::default();
        one.pruned(&[pruned("edge", &["3", "4"], &["2"])]);
        assert_eq!((one.pruned_versions.as_str(), one.pending_versions.as_str()), ("3,4", "2"));
        let s = summary("edge", Some(&one), &Timings::default(), None);
        assert!(
            s.contains("| Pruned versions | 3,4 |") && s.contains("| Pending versions | 2 (still replicated"),
            "{s}"
        );
        let mut several = Outputs { several: true, ..Default::default() };
        several.pruned(&[pruned("viewer", &["1"], &[]), pruned("origin", &["2", "3"], &[])]);
        assert_eq!(several.pruned_versions, "viewer:1,origin:2,origin:3");
        assert_eq!(several.pending_versions, "");
    }

    #[test]
    fn several_functions_have_a_row_each_and_a_json_array() {
        let function = |name: &str, version: &str, changed: bool| FunctionOutputs {
            function_name: name.into(),
            version: version.into(),
            changed,
            ..Default::default()
        };
        let o = Outputs {
            functions: vec![function("viewer", "4", true), function("origin", "2", false)],
            several: true,
            ..Default::default()
        };
        let s = summary("viewer, origin", Some(&o), &Timings::default(), None);
        assert!(s.contains("functions/viewer) | `4` |") && s.contains("| true |"), "{s}");
        assert!(s.contains("functions/origin) | `2` |") && s.contains("| false |"), "{s}");
        assert!(!s.contains("\n| Version |"), "no empty single-function rows: {s}");
        let pairs = o.pairs();
        let (_, functions) = pairs.iter().find(|(k, _)| *k == "functions").unwrap();
        let parsed: serde_json::Value = serde_json::from_str(functions).unwrap();
        assert_eq!(parsed[1]["function-name"], "origin");
        assert_eq!(parsed[0]["changed"], true);
        assert_eq!(pairs.iter().find(|(k, _)| *k == "version").unwrap().1, "");
    }
}
