//! Stack: create or update the CloudFormation stack that wires the version into the distribution,
//! and wait for it, logging this operation's events as they come.

use std::collections::HashSet;
use std::fmt;

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackEvent, Tag};
use aws_sdk_cloudformation::Client;
use aws_smithy_types::DateTime;

use crate::error::{aws, Error, Result};
use crate::parameters::ParamValue;
use crate::poll::{Poll, Step};
use crate::settings::Settings;
use crate::template::Template;

/// A stack status as CloudFormation writes it (`UPDATE_COMPLETE`, ...), and what it means for a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StackStatus(String);

impl StackStatus {
    pub fn new(status: impl Into<String>) -> Self {
        StackStatus(status.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// CloudFormation is working on the stack and will finish on its own. `REVIEW_IN_PROGRESS` is
    /// not: a change set that nobody executes leaves the stack there for ever.
    pub fn is_in_progress(&self) -> bool {
        self.0.ends_with("_IN_PROGRESS") && self.0 != "REVIEW_IN_PROGRESS"
    }

    /// No update can start from here: the stack needs a delete, a continued rollback, or its change
    /// set executed first (see [`check_updatable`]).
    pub fn is_dead_end(&self) -> bool {
        matches!(
            self.0.as_str(),
            "ROLLBACK_COMPLETE"
                | "ROLLBACK_FAILED"
                | "CREATE_FAILED"
                | "UPDATE_ROLLBACK_FAILED"
                | "DELETE_FAILED"
                | "REVIEW_IN_PROGRESS"
        )
    }

    /// A failed first launch: deleting it (`recreate-failed-stack`) and launching again is the way on.
    pub fn is_failed_launch(&self) -> bool {
        self.0 == "ROLLBACK_COMPLETE"
    }
}

impl fmt::Display for StackStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<&str> for StackStatus {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[derive(Debug, Clone, Default)]
pub struct StackInfo {
    pub id: String,
    pub status: StackStatus,
    pub parameters: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    /// The template's Outputs: (OutputKey, OutputValue).
    pub outputs: Vec<(String, String)>,
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
        status: StackStatus::new(s.stack_status().map(|s| s.as_str()).unwrap_or_default()),
        parameters: s
            .parameters()
            .iter()
            .map(|p| {
                (p.parameter_key().unwrap_or_default().to_owned(), p.parameter_value().unwrap_or_default().to_owned())
            })
            .collect(),
        tags: s
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
            .collect(),
        outputs: s
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value().unwrap_or_default().to_owned())))
            .collect(),
    }))
}

/// A fresh `ClientRequestToken` for one stack operation. CloudFormation takes a token it has seen as
/// a retry of that request: reused for another operation, it is refused (`TokenAlreadyExistsException`)
/// or taken for the earlier one, and nothing happens. The SDK's own retries resend the same token.
pub fn new_token(operation: &str) -> String {
    format!("lambda-edge-deploy-{operation}-{}", uuid::Uuid::new_v4().simple())
}

pub(crate) fn to_sdk(params: &[ParamValue]) -> Vec<Parameter> {
    params
        .iter()
        .map(|p| match p {
            ParamValue::Value(k, v) => Parameter::builder().parameter_key(k).parameter_value(v).build(),
            ParamValue::Previous(k) => Parameter::builder().parameter_key(k).use_previous_value(true).build(),
        })
        .collect()
}

/// What CreateStack and UpdateStack share. Their fluent builders are distinct types with the same
/// setters, so one macro fills both.
macro_rules! stack_request {
    ($request:expr, $settings:expr, $params:expr, $token:expr) => {
        $request
            .stack_name(&$settings.stack_name)
            .set_parameters(Some(to_sdk($params)))
            .set_capabilities(Some($settings.capabilities.iter().map(|c| Capability::from(c.as_str())).collect()))
            .set_tags(
                (!$settings.tags.is_empty())
                    .then(|| $settings.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()),
            )
            // Not given, an update keeps the stack's role and topics (UpdateStack: RoleARN,
            // NotificationARNs).
            .set_role_arn($settings.role_arn.clone())
            .set_notification_arns(
                (!$settings.notification_arns.is_empty()).then(|| $settings.notification_arns.clone()),
            )
            .client_request_token($token)
    };
}

/// A template that is not a body or a URL by now: the large template was not uploaded, or a new
/// stack was given its own previous template. Preflight and the plan rule both out.
fn unsendable(settings: &Settings) -> Error {
    Error::failed(
        format!("no template to send for stack {}", settings.stack_name),
        "This is a bug in lambda-edge-deploy: please report it with the log.",
    )
}

/// Creates the stack; returns its id.
pub async fn create(
    cfn: &Client,
    settings: &Settings,
    template: &Template,
    params: &[ParamValue],
    token: &str,
) -> Result<String> {
    let req = stack_request!(cfn.create_stack(), settings, params, token);
    let req = match template {
        Template::Body(b) => req.template_body(b),
        Template::Url(u) => req.template_url(u),
        Template::Large { .. } | Template::Previous => return Err(unsendable(settings)),
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
    let req = stack_request!(cfn.update_stack(), settings, params, token);
    let req = match template {
        Template::Body(b) => req.template_body(b),
        Template::Url(u) => req.template_url(u),
        Template::Previous => req.use_previous_template(true),
        Template::Large { .. } => return Err(unsendable(settings)),
    };
    match req.send().await {
        Ok(_) => Ok(true),
        Err(e) if is_no_updates(e.code(), e.message()) => Ok(false),
        Err(e) => Err(aws(format!("UpdateStack {}", settings.stack_name))(e)),
    }
}

/// `role-arn`: the service role must exist and let CloudFormation assume it, or every create and
/// update fails after the upload and the publish. Without `iam:GetRole` the look-up is skipped
/// with a warning (CloudFormation still refuses a role it cannot assume, then).
pub async fn check_role(iam: &aws_sdk_iam::Client, arn: &str) -> Option<Error> {
    let name = arn.rsplit('/').next().unwrap_or(arn);
    match iam.get_role().role_name(name).send().await {
        Ok(out) => {
            // The policy comes URL-encoded; the service name reads the same either way.
            let trust = out.role().and_then(|r| r.assume_role_policy_document()).unwrap_or_default();
            (!trust.contains("cloudformation.amazonaws.com")).then(|| {
                Error::precondition(
                    format!("the role `role-arn` names ({arn}) does not trust cloudformation.amazonaws.com"),
                    "Add cloudformation.amazonaws.com as a Service principal of the role's trust policy (AssumeRolePolicyDocument), or fix `role-arn`.",
                )
            })
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_entity_exception()) => Some(Error::precondition(
            format!("the role `role-arn` names ({arn}) does not exist"),
            "Create the CloudFormation service role first (trusting cloudformation.amazonaws.com), or fix `role-arn`.",
        )),
        Err(e) => {
            crate::log::warn(&format!(
                "could not read the service role {arn} (iam:GetRole): {}; CloudFormation must be able to assume it",
                aws::<aws_sdk_iam::operation::get_role::GetRoleError>("GetRole")(e)
            ));
            None
        }
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
            let event = serde_json::json!({
                "logical-id": e.logical_resource_id().unwrap_or_default(),
                "type": e.resource_type().unwrap_or_default(),
                "status": status,
                "reason": reason,
                "time": e.timestamp().map(|t| t.to_string()).unwrap_or_default(),
            });
            crate::log::info_with(line.trim_end(), &[("stack-event", event)]);
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
            let now = describe(cfn, stack_id).await?.map(|s| s.status).unwrap_or(StackStatus::new("DELETE_COMPLETE"));
            Ok(if now.is_in_progress() { Step::Pending(now.to_string()) } else { Step::Done(now.to_string()) })
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
                Some(s) => Step::Pending(s.status.to_string()),
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
            Some(s) if s.status.is_in_progress() => Step::Pending(s.status.to_string()),
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
pub fn check_updatable(name: &str, status: &StackStatus) -> Result<()> {
    match status.as_str() {
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
        assert!(!StackStatus::new("REVIEW_IN_PROGRESS").is_in_progress());
        assert!(StackStatus::new("REVIEW_IN_PROGRESS").is_dead_end());
        assert!(StackStatus::new("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS").is_in_progress());
        let e = check_updatable("site", &StackStatus::new("REVIEW_IN_PROGRESS")).unwrap_err();
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
    fn failed_first_launches_need_a_delete() {
        let e = check_updatable("site", &StackStatus::new("ROLLBACK_COMPLETE")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.help().contains("delete-stack --stack-name site"));
        assert!(check_updatable("site", &StackStatus::new("UPDATE_ROLLBACK_COMPLETE")).is_ok());
        for status in ["UPDATE_COMPLETE", "CREATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"] {
            assert!(!StackStatus::new(status).is_dead_end(), "{status}");
        }
        for status in ["ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED"] {
            assert!(StackStatus::new(status).is_dead_end(), "{status}");
            assert!(check_updatable("site", &StackStatus::new(status)).is_err(), "{status}");
        }
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

        /// Waits for an update on these DescribeStacks answers, with no events.
        async fn waited(describe: &aws_smithy_mocks::Rule) -> Result<String> {
            let events =
                mock!(Client::describe_stack_events).then_output(|| DescribeStackEventsOutput::builder().build());
            let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [describe, &events]);
            let mut log = EventLog::new("tok", DateTime::from_secs(0));
            wait(&cfn, &Poll::fast(Duration::from_secs(10)), "site", "site", Operation::Update, &mut log).await
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
            let status = waited(&describe).await.unwrap();
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
            let status = waited(&describe).await.unwrap();
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
            let err = waited(&describe).await.unwrap_err();
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
