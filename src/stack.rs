//! Stack: create or update the CloudFormation stack that wires the version into the distribution,
//! and wait for it, logging this operation's events as they come.

use std::collections::HashSet;

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackEvent, Tag};
use aws_sdk_cloudformation::Client;
use aws_smithy_types::DateTime;

use crate::error::{aws, Error, Result};
use crate::inputs::Settings;
use crate::poll::{Poll, Step};

/// Templates larger than this cannot be sent inline (TemplateBody); they go through S3.
pub const MAX_INLINE_TEMPLATE: usize = 51_200;

#[derive(Debug, Clone, Default)]
pub struct StackInfo {
    pub id: String,
    pub status: String,
    pub parameters: Vec<(String, String)>,
}

impl StackInfo {
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// The stack, or None if there is none by that name.
pub async fn describe(cfn: &Client, name: &str) -> Result<Option<StackInfo>> {
    let out = match cfn.describe_stacks().stack_name(name).send().await {
        Ok(o) => o,
        Err(e) if e.code() == Some("ValidationError") && e.message().is_some_and(|m| m.contains("does not exist")) => {
            return Ok(None)
        }
        Err(e) => return Err(aws(format!("DescribeStacks {name}"))(e)),
    };
    Ok(out.stacks().first().map(|s| StackInfo {
        id: s.stack_id().unwrap_or(name).to_owned(),
        status: s.stack_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        parameters: s
            .parameters()
            .iter()
            .map(|p| {
                (p.parameter_key().unwrap_or_default().to_owned(), p.parameter_value().unwrap_or_default().to_owned())
            })
            .collect(),
    }))
}

/// Where the template for an operation comes from.
#[derive(Debug, Clone)]
pub enum Template {
    Body(String),
    Url(String),
    /// A template over [`MAX_INLINE_TEMPLATE`] bytes, which CloudFormation reads only from S3: it is
    /// summarized here and uploaded once preflight has passed (see [`crate::artifact::upload_template`]).
    Large {
        body: String,
        key: String,
    },
    /// The stack's current template.
    Previous,
}

/// A fresh `ClientRequestToken` for one stack operation. CloudFormation takes a token it has seen as
/// a retry of that request: reused for another operation, it is refused (`TokenAlreadyExistsException`)
/// or taken for the earlier one, and nothing happens. The SDK's own retries resend the same token.
pub fn new_token(operation: &str) -> String {
    format!("lambda-edge-deploy-{operation}-{}", uuid::Uuid::new_v4().simple())
}

/// Whether CloudFormation is working on the stack and will finish on its own. `REVIEW_IN_PROGRESS`
/// is not: a change set that nobody executes leaves the stack there for ever.
pub fn is_in_progress(status: &str) -> bool {
    status.ends_with("_IN_PROGRESS") && status != "REVIEW_IN_PROGRESS"
}

/// What the template declares: its parameters (with defaults) and resource types.
#[derive(Debug, Clone, Default)]
pub struct TemplateInfo {
    pub parameters: Vec<(String, Option<String>)>,
    /// AllowedValues of the parameters that declare them.
    pub allowed: Vec<(String, Vec<String>)>,
    pub resource_types: Vec<String>,
    /// The capabilities CloudFormation will ask for (CAPABILITY_IAM for IAM resources, ...).
    pub capabilities: Vec<String>,
}

impl TemplateInfo {
    pub fn declares(&self, key: &str) -> bool {
        self.parameters.iter().any(|(k, _)| k == key)
    }

    pub fn has_resource(&self, kind: &str) -> bool {
        self.resource_types.iter().any(|t| t == kind)
    }
}

/// Asks CloudFormation what the template declares (so only declared parameters are passed). A
/// template too large to send inline is read here instead, so that nothing is uploaded before
/// preflight has passed.
pub async fn summarize(cfn: &Client, template: &Template, stack_name: &str) -> Result<TemplateInfo> {
    let req = cfn.get_template_summary();
    let req = match template {
        Template::Body(b) => req.template_body(b),
        Template::Url(u) => req.template_url(u),
        Template::Large { body, .. } => return crate::template::summarize(body),
        Template::Previous => req.stack_name(stack_name),
    };
    let out = req.send().await.map_err(|e| {
        if e.code() == Some("ValidationError") {
            let msg = e.message().unwrap_or_default().to_owned();
            Error::precondition(
                format!("CloudFormation rejects the template: {msg}"),
                "Fix the template (cfn-lint finds most problems locally) and run again.",
            )
        } else {
            aws("GetTemplateSummary")(e)
        }
    })?;
    Ok(TemplateInfo {
        parameters: out
            .parameters()
            .iter()
            .map(|p| (p.parameter_key().unwrap_or_default().to_owned(), p.default_value().map(str::to_owned)))
            .collect(),
        allowed: out
            .parameters()
            .iter()
            .filter_map(|p| {
                let values = p.parameter_constraints()?.allowed_values();
                (!values.is_empty()).then(|| (p.parameter_key().unwrap_or_default().to_owned(), values.to_vec()))
            })
            .collect(),
        resource_types: out.resource_types().to_vec(),
        capabilities: out.capabilities().iter().map(|c| c.as_str().to_owned()).collect(),
    })
}

/// A value for one declared parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamValue {
    Value(String, String),
    /// Keep what the stack has now.
    Previous(String),
}

/// The template the stack runs now, as it was submitted.
pub async fn template_body(cfn: &Client, stack: &str) -> Result<String> {
    let out = cfn
        .get_template()
        .stack_name(stack)
        .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
        .send()
        .await
        .map_err(aws(format!("GetTemplate {stack}")))?;
    Ok(out.template_body().unwrap_or_default().to_owned())
}

/// Whether two template texts are the same template: byte for byte, or as JSON values (CloudFormation
/// may give a JSON template back formatted differently from how it was sent).
pub fn same_template(a: &str, b: &str) -> bool {
    if a.trim() == b.trim() {
        return true;
    }
    match (serde_json::from_str::<serde_json::Value>(a), serde_json::from_str::<serde_json::Value>(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// What the tool knows and fills in, when the template declares the parameter.
#[derive(Debug, Clone, Default)]
pub struct Fill {
    pub first_launch: bool,
    pub version_arn: Option<String>,
    pub artifact_object_version: Option<String>,
}

/// Decides each declared parameter's value: `parameters` wins; then the first-launch and version
/// parameters; then FunctionName and the artifact's bucket, key and version; then the stack's
/// previous value; else the template's default. Returns the parameters to pass, or the problems.
pub fn parameters(
    settings: &Settings,
    template: &TemplateInfo,
    current: Option<&StackInfo>,
    fill: &Fill,
) -> Result<Vec<ParamValue>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (given, _) in &settings.parameters {
        if !template.declares(given) {
            problems.push(format!("`parameters` sets {given}, which the template does not declare"));
        }
    }
    for (key, default) in &template.parameters {
        let value = |v: &str| Some(ParamValue::Value(key.clone(), v.to_owned()));
        let chosen = if let Some((_, v)) = settings.parameters.iter().find(|(k, _)| k == key) {
            value(v)
        } else if *key == settings.first_launch_parameter {
            value(if fill.first_launch { "true" } else { "false" })
        } else if *key == settings.version_parameter {
            match (&fill.version_arn, default) {
                (Some(arn), _) => value(arn),
                (None, Some(_)) => None,
                (None, None) => value("NONE"),
            }
        } else {
            match key.as_str() {
                "FunctionName" => value(&settings.function_name),
                "ArtifactBucket" => value(&settings.artifact_bucket),
                "ArtifactKey" => value(&settings.artifact_key()),
                "ArtifactObjectVersion" => fill.artifact_object_version.as_deref().and_then(value),
                _ => None,
            }
        };
        let chosen =
            chosen.or_else(|| current.and_then(|s| s.parameter(key)).map(|_| ParamValue::Previous(key.clone())));
        match (chosen, default) {
            (Some(p), _) => out.push(p),
            (None, Some(_)) => {}
            (None, None) => problems.push(format!("the template's parameter {key} has no default and no value")),
        }
    }
    // A value CloudFormation would refuse fails now, not after the upload and the publish.
    for p in &out {
        if let ParamValue::Value(key, value) = p {
            if let Some((_, allowed)) = template.allowed.iter().find(|(k, _)| k == key) {
                if !allowed.contains(value) {
                    problems.push(format!(
                        "{key}={value} is not one of the template's AllowedValues ({})",
                        allowed.join(", ")
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::precondition(
            problems.join("; "),
            "Correct `parameters` (Key=Value): give each missing value, remove the ones the template does not declare, keep values within AllowedValues.",
        ))
    }
}

fn to_sdk(params: &[ParamValue]) -> Vec<Parameter> {
    params
        .iter()
        .map(|p| match p {
            ParamValue::Value(k, v) => Parameter::builder().parameter_key(k).parameter_value(v).build(),
            ParamValue::Previous(k) => Parameter::builder().parameter_key(k).use_previous_value(true).build(),
        })
        .collect()
}

fn capabilities(settings: &Settings) -> Vec<Capability> {
    settings.capabilities.iter().map(|c| Capability::from(c.as_str())).collect()
}

fn tags(settings: &Settings) -> Option<Vec<Tag>> {
    (!settings.tags.is_empty())
        .then(|| settings.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect())
}

/// Creates the stack; returns its id. The template must be a body or a URL by now.
pub async fn create(
    cfn: &Client,
    settings: &Settings,
    template: &Template,
    params: &[ParamValue],
    token: &str,
) -> Result<String> {
    let req = cfn
        .create_stack()
        .stack_name(&settings.stack_name)
        .set_parameters(Some(to_sdk(params)))
        .set_capabilities(Some(capabilities(settings)))
        .set_tags(tags(settings))
        .client_request_token(token);
    let req = match template {
        Template::Body(b) => req.template_body(b),
        Template::Url(u) => req.template_url(u),
        Template::Large { .. } | Template::Previous => {
            return Err(Error::failed(
                format!("no template to create stack {} from", settings.stack_name),
                "This is a bug in lambda-edge-deploy: please report it with the log.",
            ))
        }
    };
    let out = req.send().await.map_err(aws(format!("CreateStack {}", settings.stack_name)))?;
    Ok(out.stack_id().unwrap_or(&settings.stack_name).to_owned())
}

/// Updates the stack. Returns false when CloudFormation says there is nothing to update, which is
/// success, not failure.
pub async fn update(
    cfn: &Client,
    settings: &Settings,
    template: &Template,
    params: &[ParamValue],
    token: &str,
) -> Result<bool> {
    let req = cfn
        .update_stack()
        .stack_name(&settings.stack_name)
        .set_parameters(Some(to_sdk(params)))
        .set_capabilities(Some(capabilities(settings)))
        .set_tags(tags(settings))
        .client_request_token(token);
    let req = match template {
        Template::Body(b) => req.template_body(b),
        Template::Url(u) => req.template_url(u),
        Template::Previous => req.use_previous_template(true),
        Template::Large { .. } => {
            return Err(Error::failed(
                format!("the template for stack {} was not uploaded", settings.stack_name),
                "This is a bug in lambda-edge-deploy: please report it with the log.",
            ))
        }
    };
    match req.send().await {
        Ok(_) => Ok(true),
        Err(e) if is_no_updates(e.code(), e.message()) => Ok(false),
        Err(e) => Err(aws(format!("UpdateStack {}", settings.stack_name))(e)),
    }
}

pub fn is_no_updates(code: Option<&str>, message: Option<&str>) -> bool {
    code == Some("ValidationError") && message.is_some_and(|m| m.contains("No updates are to be performed"))
}

/// Which operation is being waited for, and the status that means it succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
}

impl Operation {
    fn success(self) -> &'static str {
        match self {
            Operation::Create => "CREATE_COMPLETE",
            Operation::Update => "UPDATE_COMPLETE",
        }
    }
}

/// Reads this operation's new stack events: those carrying our ClientRequestToken, or, where the
/// service leaves the token empty, those since the operation started.
pub struct EventLog {
    token: String,
    since: DateTime,
    seen: HashSet<String>,
    /// Failed events of this operation, oldest first.
    pub failures: Vec<String>,
}

impl EventLog {
    pub fn new(token: &str, since: DateTime) -> Self {
        EventLog { token: token.to_owned(), since, seen: HashSet::new(), failures: Vec::new() }
    }

    fn is_ours(&self, e: &StackEvent) -> bool {
        match e.client_request_token().filter(|t| !t.is_empty()) {
            Some(t) => t == self.token,
            None => e.timestamp().is_some_and(|t| t.secs() >= self.since.secs()),
        }
    }

    /// Fetches events newest first until one already seen or not ours; logs the new ones in order.
    pub async fn poll(&mut self, cfn: &Client, stack_id: &str) -> Result<()> {
        let mut fresh = Vec::new();
        let mut pages = cfn.describe_stack_events().stack_name(stack_id).into_paginator().send();
        'pages: while let Some(page) = pages.next().await {
            let page = page.map_err(aws(format!("DescribeStackEvents {stack_id}")))?;
            for e in page.stack_events() {
                let id = e.event_id().unwrap_or_default();
                if self.seen.contains(id) || !self.is_ours(e) {
                    break 'pages;
                }
                fresh.push(e.clone());
            }
        }
        for e in fresh.iter().rev() {
            self.seen.insert(e.event_id().unwrap_or_default().to_owned());
            let status = e.resource_status().map(|s| s.as_str()).unwrap_or_default();
            let reason = e.resource_status_reason().unwrap_or_default();
            let line = format!(
                "{} {} {} {}",
                e.logical_resource_id().unwrap_or_default(),
                e.resource_type().unwrap_or_default(),
                status,
                reason
            );
            crate::log::info(line.trim_end());
            // A cancellation is the consequence of another failure, never its cause.
            if status.ends_with("_FAILED") && !reason.is_empty() && !reason.contains("cancelled") {
                self.failures.push(format!("{} ({}): {reason}", e.logical_resource_id().unwrap_or_default(), status));
            }
        }
        Ok(())
    }
}

/// Waits for the operation to end; returns the final status, or the failure with its reasons.
pub async fn wait(
    cfn: &Client,
    poll: &Poll,
    stack_name: &str,
    stack_id: &str,
    op: Operation,
    events: &mut EventLog,
) -> Result<String> {
    let what = format!("stack {stack_name} to reach {}", op.success());
    let status = poll
        .until(&what, || async {
            let now = describe(cfn, stack_id).await?.map(|s| s.status).unwrap_or_else(|| "DELETE_COMPLETE".into());
            Ok(if is_in_progress(&now) { Step::Pending(now) } else { Step::Done(now) })
        })
        .await;
    // The events explain the outcome, so they are read whatever it is.
    let logged = events.poll(cfn, stack_id).await;
    let status = status?;
    if status == op.success() {
        logged?;
        return Ok(status);
    }
    Err(Error::StackFailed {
        stack: stack_name.to_owned(),
        status,
        reasons: events.failures.iter().take(5).cloned().collect(),
        notes: Vec::new(),
    })
}

/// Deletes the stack (a failed first launch) and waits until it is gone. DELETE_FAILED is a failure
/// in AWS (the delete was sent), with the reasons from this operation's events.
pub async fn delete(cfn: &Client, poll: &Poll, stack_name: &str, stack_id: &str, since: DateTime) -> Result<()> {
    let token = new_token("delete");
    cfn.delete_stack()
        .stack_name(stack_id)
        .client_request_token(&token)
        .send()
        .await
        .map_err(aws(format!("DeleteStack {stack_name}")))?;
    let mut events = EventLog::new(&token, since);
    let deleted = poll
        .until(&format!("stack {stack_name} to be deleted"), || async {
            Ok(match describe(cfn, stack_id).await? {
                None => Step::Done(true),
                Some(s) if s.status == "DELETE_COMPLETE" => Step::Done(true),
                Some(s) if s.status == "DELETE_FAILED" => Step::Done(false),
                Some(s) => Step::Pending(s.status),
            })
        })
        .await?;
    if deleted {
        return Ok(());
    }
    events.poll(cfn, stack_id).await?;
    Err(Error::DeleteFailed {
        stack: stack_name.to_owned(),
        reasons: events.failures.iter().take(5).cloned().collect(),
    })
}

/// Asks CloudFormation to cancel an update in progress, which then rolls back.
pub async fn cancel_update(cfn: &Client, stack_id: &str) -> Result<()> {
    cfn.cancel_update_stack()
        .stack_name(stack_id)
        .send()
        .await
        .map_err(aws(format!("CancelUpdateStack {stack_id}")))?;
    Ok(())
}

/// Waits for an operation someone else started, so that ours does not collide with it.
pub async fn settle(cfn: &Client, poll: &Poll, stack_name: &str) -> Result<Option<StackInfo>> {
    poll.until(&format!("stack {stack_name} to finish the operation in progress"), || async {
        Ok(match describe(cfn, stack_name).await? {
            Some(s) if is_in_progress(&s.status) => Step::Pending(s.status),
            other => Step::Done(other),
        })
    })
    .await
}

/// The stack's resources of one type: (logical id, physical id).
pub async fn resources_of_type(cfn: &Client, stack: &str, kind: &str) -> Result<Vec<(String, String)>> {
    let mut pages = cfn.list_stack_resources().stack_name(stack).into_paginator().items().send();
    let mut out = Vec::new();
    while let Some(r) = pages.next().await {
        let r = r.map_err(aws(format!("ListStackResources {stack}")))?;
        if r.resource_type() == Some(kind) {
            out.push((
                r.logical_resource_id().unwrap_or_default().to_owned(),
                r.physical_resource_id().unwrap_or_default().to_owned(),
            ));
        }
    }
    Ok(out)
}

/// Whether a stack in this status can take an update now, and if not, what to do.
pub fn check_updatable(name: &str, status: &str) -> Result<()> {
    match status {
        "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "CREATE_FAILED" => Err(Error::precondition(
            format!("stack {name} is in {status}: its first launch failed, and such a stack cannot be updated"),
            format!("Read why in its events (aws cloudformation describe-stack-events --stack-name {name}), delete it (aws cloudformation delete-stack --stack-name {name}), then run again to launch it anew; or set `recreate-failed-stack: true` to have this tool do it."),
        )),
        "UPDATE_ROLLBACK_FAILED" => Err(Error::precondition(
            format!("stack {name} is in UPDATE_ROLLBACK_FAILED"),
            format!("Fix the resource that blocked the rollback, then run: aws cloudformation continue-update-rollback --stack-name {name}; then run again."),
        )),
        "REVIEW_IN_PROGRESS" => Err(Error::precondition(
            format!("stack {name} is in REVIEW_IN_PROGRESS: a change set created it and was never executed, so it holds no resources and CloudFormation will not move on by itself"),
            format!("Execute or delete that change set (aws cloudformation list-change-sets --stack-name {name}), or delete the empty stack (aws cloudformation delete-stack --stack-name {name}); then run again."),
        )),
        "DELETE_FAILED" => Err(Error::precondition(
            format!("stack {name} is in DELETE_FAILED"),
            "Finish deleting it in the CloudFormation console (replicated Lambda@Edge functions can take hours to become deletable), then run again.".to_owned(),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::{read, validate};

    fn settings(params: &str) -> Settings {
        let dir = std::env::temp_dir();
        let vars = [
            ("INPUT_FUNCTION-NAME", "edge"),
            ("INPUT_STACK-NAME", "site"),
            ("INPUT_ARTIFACT-BUCKET", "artifacts"),
            ("INPUT_ARTIFACT-PREFIX", "rel/"),
            ("INPUT_SOURCE", dir.to_str().unwrap()),
            ("INPUT_PARAMETERS", params),
        ];
        validate(read(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap().0).unwrap()
    }

    fn template(keys: &[(&str, Option<&str>)]) -> TemplateInfo {
        TemplateInfo {
            parameters: keys.iter().map(|(k, d)| (k.to_string(), d.map(str::to_owned))).collect(),
            ..Default::default()
        }
    }

    fn v(k: &str, val: &str) -> ParamValue {
        ParamValue::Value(k.into(), val.into())
    }

    #[test]
    fn release_fills_known_parameters_and_keeps_the_rest() {
        let t = template(&[
            ("FirstLaunch", Some("true")),
            ("LambdaVersion", Some("NONE")),
            ("FunctionName", None),
            ("ArtifactBucket", None),
            ("ArtifactKey", None),
            ("ArtifactObjectVersion", Some("")),
            ("OriginDomainName", Some("example.com")),
            ("Unset", Some("d")),
        ]);
        let current =
            StackInfo { parameters: vec![("OriginDomainName".into(), "example.org".into())], ..Default::default() };
        let fill = Fill {
            first_launch: false,
            version_arn: Some("arn:v:3".into()),
            artifact_object_version: Some("ov1".into()),
        };
        let p = parameters(&settings(""), &t, Some(&current), &fill).unwrap();
        assert_eq!(
            p,
            vec![
                v("FirstLaunch", "false"),
                v("LambdaVersion", "arn:v:3"),
                v("FunctionName", "edge"),
                v("ArtifactBucket", "artifacts"),
                v("ArtifactKey", "rel/edge.zip"),
                v("ArtifactObjectVersion", "ov1"),
                ParamValue::Previous("OriginDomainName".into()),
            ]
        );
    }

    #[test]
    fn first_launch_leaves_the_version_to_its_default_and_given_parameters_win() {
        let t = template(&[("FirstLaunch", Some("true")), ("LambdaVersion", Some("NONE")), ("FunctionName", None)]);
        let fill = Fill { first_launch: true, ..Default::default() };
        let p = parameters(&settings("FunctionName=other"), &t, None, &fill).unwrap();
        assert_eq!(p, vec![v("FirstLaunch", "true"), v("FunctionName", "other")]);
    }

    #[test]
    fn undeclared_and_missing_parameters_are_reported_together() {
        let t = template(&[("FirstLaunch", Some("true")), ("LambdaVersion", None), ("Needed", None)]);
        let err =
            parameters(&settings("Typo=1"), &t, None, &Fill { first_launch: true, ..Default::default() }).unwrap_err();
        let text = err.to_string();
        assert_eq!(err.exit_code(), 2);
        assert!(text.contains("Typo") && text.contains("Needed"), "{text}");
    }

    #[test]
    fn values_outside_allowed_values_fail_before_any_write() {
        let mut t = template(&[("FirstLaunch", Some("true")), ("LambdaVersion", Some("NONE")), ("Tier", Some("a"))]);
        t.allowed =
            vec![("FirstLaunch".into(), vec!["true".into(), "false".into()]), ("Tier".into(), vec!["a".into()])];
        let fill = Fill { first_launch: true, ..Default::default() };
        assert!(parameters(&settings(""), &t, None, &fill).is_ok());
        let err = parameters(&settings("Tier=b"), &t, None, &fill).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("Tier=b is not one of the template's AllowedValues (a)"), "{err}");
    }

    #[test]
    fn no_updates_is_recognised_in_old_and_new_wording() {
        assert!(is_no_updates(Some("ValidationError"), Some("No updates are to be performed.")));
        assert!(is_no_updates(
            Some("ValidationError"),
            Some("CloudFormation failed to preprocess the stack: No updates are to be performed.")
        ));
        assert!(!is_no_updates(Some("ValidationError"), Some("Template format error")));
        assert!(!is_no_updates(Some("AccessDenied"), Some("No updates are to be performed.")));
    }

    #[test]
    fn a_stack_awaiting_review_is_not_waited_for_but_explained() {
        assert!(!is_in_progress("REVIEW_IN_PROGRESS"));
        assert!(is_in_progress("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
        let e = check_updatable("site", "REVIEW_IN_PROGRESS").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("never executed"), "{e}");
        assert!(e.help().contains("aws cloudformation delete-stack --stack-name site"), "{}", e.help());
    }

    #[test]
    fn tokens_are_fresh_for_every_operation_and_valid_for_cloudformation() {
        let (a, b) = (new_token("update"), new_token("update"));
        assert_ne!(a, b);
        for t in [a, b, new_token("delete")] {
            assert!(t.len() <= 128 && t.starts_with(|c: char| c.is_ascii_alphabetic()), "{t}");
            assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{t}");
        }
    }

    #[test]
    fn templates_compare_by_text_or_as_json() {
        assert!(same_template("a: 1\n", "a: 1"));
        assert!(same_template(r#"{"a": [1, 2]}"#, "{\n  \"a\": [1,2]\n}"));
        assert!(!same_template("a: 1", "a: 2"));
    }

    #[test]
    fn failed_first_launches_need_a_delete() {
        let e = check_updatable("site", "ROLLBACK_COMPLETE").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.help().contains("delete-stack --stack-name site"));
        assert!(check_updatable("site", "UPDATE_ROLLBACK_COMPLETE").is_ok());
    }

    // States the emulator cannot produce, on the real client with aws-smithy-mocks.
    mod mocked {
        use super::super::*;
        use aws_sdk_cloudformation::operation::cancel_update_stack::CancelUpdateStackOutput;
        use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
        use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
        use aws_sdk_cloudformation::types::{ResourceStatus, Stack, StackStatus};
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        use std::time::Duration;

        fn stacks(status: &str) -> DescribeStacksOutput {
            DescribeStacksOutput::builder()
                .stacks(
                    Stack::builder()
                        .stack_id("arn:aws:cloudformation:us-east-1:123456789012:stack/site/1")
                        .stack_name("site")
                        .stack_status(StackStatus::from(status))
                        .creation_time(DateTime::from_secs(0))
                        .build(),
                )
                .build()
        }

        fn event(id: &str, logical: &str, status: &str, reason: &str, token: &str) -> StackEvent {
            StackEvent::builder()
                .event_id(id)
                .stack_id("site")
                .stack_name("site")
                .logical_resource_id(logical)
                .resource_type("AWS::Lambda::Function")
                .resource_status(ResourceStatus::from(status))
                .resource_status_reason(reason)
                .client_request_token(token)
                .timestamp(DateTime::from_secs(100))
                .build()
        }

        #[tokio::test]
        async fn an_update_in_progress_is_followed_to_update_complete() {
            let describe = mock!(Client::describe_stacks)
                .sequence()
                .output(|| stacks("UPDATE_IN_PROGRESS"))
                .times(3)
                .output(|| stacks("UPDATE_COMPLETE"))
                .repeatedly()
                .build();
            let events =
                mock!(Client::describe_stack_events).then_output(|| DescribeStackEventsOutput::builder().build());
            let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&describe, &events]);
            let mut log = EventLog::new("tok", DateTime::from_secs(0));
            let status = wait(&cfn, &Poll::fast(Duration::from_secs(10)), "site", "site", Operation::Update, &mut log)
                .await
                .unwrap();
            assert_eq!(status, "UPDATE_COMPLETE");
            assert_eq!(describe.num_calls(), 4);
        }

        #[tokio::test]
        async fn an_update_that_rolls_back_fails_with_this_operations_reasons() {
            let describe = mock!(Client::describe_stacks)
                .sequence()
                .output(|| stacks("UPDATE_IN_PROGRESS"))
                .output(|| stacks("UPDATE_ROLLBACK_IN_PROGRESS"))
                .output(|| stacks("UPDATE_ROLLBACK_COMPLETE"))
                .repeatedly()
                .build();
            // Newest first, as CloudFormation returns them; the last one belongs to an older operation.
            let events = mock!(Client::describe_stack_events).then_output(|| {
                DescribeStackEventsOutput::builder()
                    .stack_events(event("e4", "site", "UPDATE_ROLLBACK_COMPLETE", "", "tok"))
                    .stack_events(event(
                        "e3",
                        "EdgeFunction",
                        "UPDATE_FAILED",
                        "Resource handler returned message: \"Code too large\"",
                        "tok",
                    ))
                    .stack_events(event("e2", "Distribution", "UPDATE_FAILED", "Resource update cancelled", "tok"))
                    .stack_events(event("e1", "EdgeFunction", "UPDATE_FAILED", "an old failure", "older-token"))
                    .build()
            });
            let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&describe, &events]);
            let mut log = EventLog::new("tok", DateTime::from_secs(0));
            let err = wait(&cfn, &Poll::fast(Duration::from_secs(10)), "site", "site", Operation::Update, &mut log)
                .await
                .unwrap_err();
            let Error::StackFailed { status, reasons, .. } = &err else { panic!("{err:?}") };
            assert_eq!(status, "UPDATE_ROLLBACK_COMPLETE");
            assert_eq!(reasons.len(), 1, "the cancellation is not a cause: {reasons:?}");
            assert!(reasons[0].starts_with("EdgeFunction") && reasons[0].contains("Code too large"), "{reasons:?}");
            assert!(!err.to_string().contains("an old failure"));
            assert_eq!(err.exit_code(), 1);
        }

        #[tokio::test]
        async fn another_operation_in_progress_is_waited_out() {
            let describe = mock!(Client::describe_stacks)
                .sequence()
                .output(|| stacks("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"))
                .times(2)
                .output(|| stacks("UPDATE_COMPLETE"))
                .build();
            let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&describe]);
            let settled = settle(&cfn, &Poll::fast(Duration::from_secs(10)), "site").await.unwrap().unwrap();
            assert_eq!(settled.status, "UPDATE_COMPLETE");
        }

        #[tokio::test]
        async fn a_poll_throttled_beyond_the_sdks_retries_does_not_end_the_wait() {
            let describe = mock!(Client::describe_stacks)
                .sequence()
                .http_status(400, Some(r#"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"#.into()))
                .times(2)
                .output(|| stacks("UPDATE_COMPLETE"))
                .repeatedly()
                .build();
            let events =
                mock!(Client::describe_stack_events).then_output(|| DescribeStackEventsOutput::builder().build());
            let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&describe, &events]);
            let mut log = EventLog::new("tok", DateTime::from_secs(0));
            let status = wait(&cfn, &Poll::fast(Duration::from_secs(10)), "site", "site", Operation::Update, &mut log)
                .await
                .unwrap();
            assert_eq!(status, "UPDATE_COMPLETE");
        }

        #[tokio::test]
        async fn credentials_that_expire_during_a_wait_say_so_and_how_to_last_longer() {
            let describe = mock!(Client::describe_stacks)
                .sequence()
                .output(|| stacks("UPDATE_IN_PROGRESS"))
                .http_status(403, Some(r#"<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error></ErrorResponse>"#.into()))
                .repeatedly()
                .build();
            let events =
                mock!(Client::describe_stack_events).then_output(|| DescribeStackEventsOutput::builder().build());
            let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&describe, &events]);
            let mut log = EventLog::new("tok", DateTime::from_secs(0));
            let err = wait(&cfn, &Poll::fast(Duration::from_secs(10)), "site", "site", Operation::Update, &mut log)
                .await
                .unwrap_err();
            assert!(matches!(err, Error::CredentialsExpired { .. }), "{err:?}");
            assert!(err.to_string().contains("credentials expired during DescribeStacks"), "{err}");
            assert!(err.to_string().contains("The security token included in the request is expired"), "{err}");
            assert!(err.help().contains("role-duration-seconds"), "{}", err.help());
            assert_eq!(err.exit_code(), 1);
            assert_eq!(describe.num_calls(), 2, "no poll after the credentials expired");
        }

        #[tokio::test]
        async fn a_delete_that_fails_is_a_failure_in_aws_with_its_reasons() {
            let delete = mock!(Client::delete_stack)
                .then_output(|| aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput::builder().build());
            let describe = mock!(Client::describe_stacks)
                .sequence()
                .output(|| stacks("DELETE_IN_PROGRESS"))
                .output(|| stacks("DELETE_FAILED"))
                .repeatedly()
                .build();
            let events = mock!(Client::describe_stack_events).then_output(|| {
                DescribeStackEventsOutput::builder()
                    .stack_events(event(
                        "e1",
                        "EdgeFunction",
                        "DELETE_FAILED",
                        "Lambda was unable to delete arn:...:edge:1 because it is a replicated function",
                        "",
                    ))
                    .build()
            });
            let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&delete, &describe, &events]);
            let err = super::super::delete(
                &cfn,
                &Poll::fast(Duration::from_secs(10)),
                "site",
                "site",
                DateTime::from_secs(0),
            )
            .await
            .unwrap_err();
            assert_eq!(err.exit_code(), 1, "DeleteStack was sent: not 'nothing was changed'");
            assert!(err.to_string().contains("stack site could not be deleted (DELETE_FAILED)"), "{err}");
            assert!(err.to_string().contains("replicated function"), "{err}");
            assert!(err.help().contains("describe-stack-events --stack-name site"), "{}", err.help());
        }

        #[tokio::test]
        async fn cancel_update_calls_cancel_update_stack() {
            let cancel = mock!(Client::cancel_update_stack)
                .match_requests(|r| r.stack_name() == Some("arn:site"))
                .then_output(|| CancelUpdateStackOutput::builder().build());
            let cfn = mock_client!(aws_sdk_cloudformation, [&cancel]);
            cancel_update(&cfn, "arn:site").await.unwrap();
            assert_eq!(cancel.num_calls(), 1);
        }
    }
}
