//! Change set: `mode: plan` turns the stack update a release would make into a CloudFormation change
//! set to review (created, described with property values, rendered as Markdown and plain text);
//! `mode: execute` checks the change set is still the one reviewed and executes it.

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{ChangeSetStatus, ChangeSetType, ExecutionStatus};
use aws_sdk_cloudformation::Client;

use crate::error::{aws, Error, Result};
use crate::parameters::ParamValue;
use crate::poll::{Poll, Step};
use crate::settings::Settings;
use crate::template::Template;

/// CloudFormation's reason for a change set that would change nothing (it ends FAILED).
const NO_CHANGES: &str = "didn't contain changes";

/// Resource types whose replacement a reviewer must not miss: a new distribution is a new domain,
/// a new function loses its versions' history.
const LOUD: &[&str] = &["AWS::CloudFront::Distribution", "AWS::Lambda::Function"];

/// A change set as DescribeChangeSet shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeSet {
    pub id: String,
    pub name: String,
    pub stack_id: String,
    pub stack_name: String,
    pub status: String,
    pub execution_status: String,
    pub reason: String,
    pub parameters: Vec<(String, String)>,
    pub changes: Vec<Change>,
}

impl ChangeSet {
    /// The change set would change nothing (CloudFormation created it FAILED, saying so).
    pub fn is_empty(&self) -> bool {
        self.status == "FAILED" && self.reason.contains(NO_CHANGES)
    }

    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// One resource change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub logical_id: String,
    pub resource_type: String,
    pub action: String,
    /// `True`, `False` or `Conditional` for a Modify; empty otherwise.
    pub replacement: String,
    pub details: Vec<Detail>,
}

/// One changed property.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detail {
    /// The property's path (`/Properties/DistributionConfig/...`), or its name.
    pub property: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The parameter (or resource) that causes it, when CloudFormation says.
    pub causing: String,
}

/// A fresh name for a plan's change set: CloudFormation's names start with a letter, at most 128.
pub fn new_name() -> String {
    format!("lambda-edge-deploy-{}", uuid::Uuid::new_v4().simple())
}

/// Creates the change set of the update (or, with `create`, of the first launch) a release would make.
#[allow(clippy::too_many_arguments)]
pub async fn create(
    cfn: &Client,
    settings: &Settings,
    name: &str,
    template: &Template,
    params: &[ParamValue],
    create: bool,
    token: &str,
) -> Result<String> {
    let req = cfn
        .create_change_set()
        .stack_name(&settings.stack_name)
        .change_set_name(name)
        .change_set_type(if create { ChangeSetType::Create } else { ChangeSetType::Update })
        .set_parameters(Some(crate::stack::to_sdk(params)))
        .set_capabilities(Some(
            settings.capabilities.iter().map(|c| aws_sdk_cloudformation::types::Capability::from(c.as_str())).collect(),
        ))
        .set_tags((!settings.tags.is_empty()).then(|| {
            settings
                .tags
                .iter()
                .map(|(k, v)| aws_sdk_cloudformation::types::Tag::builder().key(k).value(v).build())
                .collect()
        }))
        .set_role_arn(settings.role_arn.clone())
        .set_notification_arns((!settings.notification_arns.is_empty()).then(|| settings.notification_arns.clone()))
        .client_token(token)
        .description("lambda-edge-deploy plan: review, then run with `mode: execute` and this change set's id");
    let req = match template {
        Template::Body(b) => req.template_body(b),
        Template::Url(u) => req.template_url(u),
        Template::Previous => req.use_previous_template(true),
        Template::Large { .. } => {
            return Err(Error::failed(
                "the large template was not uploaded before the change set",
                "This is a bug in lambda-edge-deploy: please report it with the log.",
            ))
        }
    };
    let out = req.send().await.map_err(aws(format!("CreateChangeSet {name}")))?;
    Ok(out.id().unwrap_or(name).to_owned())
}

/// Describes a change set (every page of its changes, with before and after values), or None when
/// CloudFormation does not have it.
pub async fn describe(cfn: &Client, id: &str, stack_name: &str) -> Result<Option<ChangeSet>> {
    let mut set = ChangeSet::default();
    let mut next: Option<String> = None;
    loop {
        let out = match cfn
            .describe_change_set()
            .change_set_name(id)
            .set_stack_name(by_name(id, stack_name))
            .include_property_values(true)
            .set_next_token(next.clone())
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if e.code() == Some("ChangeSetNotFound") || e.code() == Some("ChangeSetNotFoundException") => {
                return Ok(None)
            }
            Err(e) => return Err(aws(format!("DescribeChangeSet {id}"))(e)),
        };
        if next.is_none() {
            set.id = out.change_set_id().unwrap_or(id).to_owned();
            set.name = out.change_set_name().unwrap_or_default().to_owned();
            set.stack_id = out.stack_id().unwrap_or_default().to_owned();
            set.stack_name = out.stack_name().unwrap_or_default().to_owned();
            set.status = out.status().map(ChangeSetStatus::as_str).unwrap_or_default().to_owned();
            set.execution_status = out.execution_status().map(ExecutionStatus::as_str).unwrap_or_default().to_owned();
            set.reason = out.status_reason().unwrap_or_default().to_owned();
            set.parameters = out
                .parameters()
                .iter()
                .map(|p| {
                    (
                        p.parameter_key().unwrap_or_default().to_owned(),
                        p.resolved_value().or(p.parameter_value()).unwrap_or_default().to_owned(),
                    )
                })
                .collect();
        }
        for c in out.changes() {
            let Some(r) = c.resource_change() else { continue };
            let mut change = Change {
                logical_id: r.logical_resource_id().unwrap_or_default().to_owned(),
                resource_type: r.resource_type().unwrap_or_default().to_owned(),
                action: r.action().map(|a| a.as_str().to_owned()).unwrap_or_default(),
                replacement: r.replacement().map(|a| a.as_str().to_owned()).unwrap_or_default(),
                details: r
                    .details()
                    .iter()
                    .map(|d| {
                        let t = d.target();
                        Detail {
                            property: t
                                .and_then(|t| t.path().or(t.name()))
                                .map(str::to_owned)
                                .or_else(|| t.and_then(|t| t.attribute()).map(|a| a.as_str().to_owned()))
                                .unwrap_or_default(),
                            before: t.and_then(|t| t.before_value()).map(str::to_owned),
                            after: t.and_then(|t| t.after_value()).map(str::to_owned),
                            causing: d.causing_entity().unwrap_or_default().to_owned(),
                        }
                    })
                    .collect(),
            };
            change.details = merged(std::mem::take(&mut change.details));
            set.changes.push(change);
        }
        next = out.next_token().map(str::to_owned);
        if next.is_none() {
            return Ok(Some(set));
        }
    }
}

/// A change set named by its name needs its stack's; by its ARN, it must go without.
fn by_name(id: &str, stack_name: &str) -> Option<String> {
    (!id.starts_with("arn:")).then(|| stack_name.to_owned())
}

/// One entry per changed property: CloudFormation lists a property changed through a parameter
/// twice (its direct modification, and the parameter reference that causes it).
fn merged(details: Vec<Detail>) -> Vec<Detail> {
    let mut out: Vec<Detail> = Vec::new();
    for d in details {
        match out.iter_mut().find(|o| o.property == d.property && o.before == d.before && o.after == d.after) {
            Some(o) if o.causing.is_empty() => o.causing = d.causing,
            Some(_) => {}
            None => out.push(d),
        }
    }
    out
}

/// Waits until CloudFormation has computed the change set; a change set that failed for another
/// reason than "no changes" is a failure with that reason.
pub async fn wait_created(cfn: &Client, poll: &Poll, id: &str) -> Result<ChangeSet> {
    let set = poll
        .until(&format!("change set {id} to be created"), || async {
            let Some(set) = describe(cfn, id, "").await? else {
                return Err(Error::failed(
                    format!("change set {id} disappeared while it was being created"),
                    "Someone deleted it; run the plan again.",
                ));
            };
            Ok(match set.status.as_str() {
                "CREATE_PENDING" | "CREATE_IN_PROGRESS" => Step::Pending(set.status.clone()),
                _ => Step::Done(set),
            })
        })
        .await?;
    if set.status == "CREATE_COMPLETE" || set.is_empty() {
        return Ok(set);
    }
    Err(Error::failed(
        format!("change set {} ended in {}: {}", set.name, set.status, set.reason),
        "Fix what CloudFormation says (the template or a parameter), then plan again.",
    ))
}

pub async fn delete(cfn: &Client, id: &str) -> Result<()> {
    cfn.delete_change_set().change_set_name(id).send().await.map_err(aws(format!("DeleteChangeSet {id}")))?;
    Ok(())
}

pub async fn execute(cfn: &Client, id: &str, token: &str) -> Result<()> {
    // By ARN (DescribeChangeSet gave it), so that no other stack's change set of that name is meant.
    cfn.execute_change_set()
        .change_set_name(id)
        .client_request_token(token)
        .send()
        .await
        .map_err(aws(format!("ExecuteChangeSet {id}")))?;
    Ok(())
}

/// Whether `mode: execute` may run this change set for `stack_name`; if not, why and what to do
/// (exit 2: nothing was executed).
pub fn check_executable(set: &ChangeSet, stack_name: &str) -> Result<()> {
    if set.stack_name != stack_name {
        return Err(Error::precondition(
            format!("change set {} belongs to stack {}, not {stack_name}", set.name, set.stack_name),
            "Give the `change-set-id` of this stack's plan, or fix `stack-name`.",
        ));
    }
    match (set.status.as_str(), set.execution_status.as_str()) {
        ("CREATE_COMPLETE", "AVAILABLE") => Ok(()),
        (_, "OBSOLETE") => Err(Error::precondition(
            format!("change set {} is stale: stack {stack_name} changed after it was planned (ExecutionStatus OBSOLETE)", set.name),
            "Plan again (`mode: plan`) and review the new change set: what it would change is no longer what was reviewed.",
        )),
        (_, "EXECUTE_COMPLETE" | "EXECUTE_IN_PROGRESS" | "EXECUTE_FAILED") => Err(Error::precondition(
            format!("change set {} was executed already ({})", set.name, set.execution_status),
            "A change set runs once. Plan again for another release.",
        )),
        _ if set.is_empty() => Err(Error::precondition(
            format!("change set {} has no changes to execute", set.name),
            "Nothing to release: the plan found the stack already as planned.",
        )),
        (status, execution) => Err(Error::precondition(
            format!("change set {} cannot be executed: status {status}, execution status {execution}; {}", set.name, set.reason),
            "Plan again (`mode: plan`), once the stack and the change set are settled.",
        )),
    }
}

/// The stack parameters the change set changes: (name, before, after), the version parameters first.
pub fn parameter_changes(
    before: &[(String, String)],
    after: &[ParamValue],
    first: &[&str],
) -> Vec<(String, String, String)> {
    let mut changed: Vec<(String, String, String)> = after
        .iter()
        .filter_map(|p| match p {
            ParamValue::Value(k, v) => {
                let old = before.iter().find(|(b, _)| b == k).map(|(_, o)| o.clone()).unwrap_or_default();
                (old != *v).then(|| (k.clone(), old, v.clone()))
            }
            ParamValue::Previous(_) => None,
        })
        .collect();
    changed.sort_by_key(|(k, _, _)| !first.contains(&k.as_str()));
    changed
}

/// The changes that replace a distribution or a function: each a warning a reviewer must see.
pub fn replacements(set: &ChangeSet) -> Vec<String> {
    set.changes
        .iter()
        .filter(|c| LOUD.contains(&c.resource_type.as_str()))
        .filter_map(|c| {
            let how = match (c.action.as_str(), c.replacement.as_str()) {
                ("Modify", "True") => "replaces",
                ("Modify", "Conditional") => "may replace",
                ("Remove", _) => "removes",
                _ => return None,
            };
            Some(format!(
                "change set {} {how} {} ({}): {}",
                set.name,
                c.logical_id,
                c.resource_type,
                if how == "removes" { "it is deleted" } else { "a new resource, not an update" }
            ))
        })
        .collect()
}

/// Changes in review order: what touches the Lambda associations or a version parameter first.
fn ordered<'a>(set: &'a ChangeSet, version_parameters: &[&str]) -> Vec<&'a Change> {
    let mut changes: Vec<&Change> = set.changes.iter().collect();
    changes.sort_by_key(|c| {
        let lambda = c.details.iter().any(|d| {
            d.property.contains("LambdaFunctionAssociations") || version_parameters.contains(&d.causing.as_str())
        });
        !lambda
    });
    changes
}

fn value(v: &Option<String>) -> String {
    match v.as_deref() {
        None => "—".to_owned(),
        Some(v) if v.chars().count() > 200 => format!("{}…", v.chars().take(200).collect::<String>()),
        Some(v) => v.to_owned(),
    }
}

/// Text from AWS inside a Markdown table cell: no column breaks, no line breaks, code spans closed.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ").replace('`', "'")
}

/// The change set as Markdown: the parameters that change, then a row per resource change (the
/// Lambda association first), with each changed property's before and after values.
pub fn markdown(set: &ChangeSet, parameters: &[(String, String, String)], version_parameters: &[&str]) -> String {
    let mut s = format!("#### Change set `{}` for stack `{}`\n\n", cell(&set.name), cell(&set.stack_name));
    if set.is_empty() {
        s.push_str("No changes: the stack already runs what a release would set.\n");
        return s;
    }
    if !parameters.is_empty() {
        s.push_str("| Parameter | Before | After |\n|---|---|---|\n");
        for (k, before, after) in parameters {
            s.push_str(&format!("| `{}` | `{}` | `{}` |\n", cell(k), cell(before), cell(after)));
        }
        s.push('\n');
    }
    s.push_str("| Logical id | Type | Action | Replacement | Changes |\n|---|---|---|---|---|\n");
    for c in ordered(set, version_parameters) {
        let replacement = match c.replacement.as_str() {
            "True" => "**True**".to_owned(),
            "Conditional" => "**Conditional**".to_owned(),
            "" => "—".to_owned(),
            other => other.to_owned(),
        };
        let details: Vec<String> = c
            .details
            .iter()
            .map(|d| {
                let by = if d.causing.is_empty() { String::new() } else { format!(" (by {})", cell(&d.causing)) };
                match (&d.before, &d.after) {
                    (None, None) => format!("`{}`{by}", cell(&d.property)),
                    _ => format!(
                        "`{}`: `{}` → `{}`{by}",
                        cell(&d.property),
                        cell(&value(&d.before)),
                        cell(&value(&d.after))
                    ),
                }
            })
            .collect();
        s.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            cell(&c.logical_id),
            cell(&c.resource_type),
            cell(&c.action),
            replacement,
            if details.is_empty() { "—".to_owned() } else { details.join("<br>") }
        ));
    }
    s
}

/// The same, as lines for the log.
pub fn plain(set: &ChangeSet, parameters: &[(String, String, String)], version_parameters: &[&str]) -> Vec<String> {
    let mut lines = vec![format!("change set {} for stack {}:", set.name, set.stack_name)];
    for (k, before, after) in parameters {
        lines.push(format!("  parameter {k}: {before} -> {after}"));
    }
    for c in ordered(set, version_parameters) {
        let replacement =
            if c.replacement.is_empty() { String::new() } else { format!(", replacement {}", c.replacement) };
        lines.push(format!("  {} {} ({}){replacement}", c.action, c.logical_id, c.resource_type));
        for d in &c.details {
            match (&d.before, &d.after) {
                (None, None) => lines.push(format!("    {}", d.property)),
                _ => lines.push(format!("    {}: {} -> {}", d.property, value(&d.before), value(&d.after))),
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge:2";
    const V3: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge:3";

    fn set() -> ChangeSet {
        ChangeSet {
            name: "lambda-edge-deploy-1".into(),
            stack_name: "site".into(),
            status: "CREATE_COMPLETE".into(),
            execution_status: "AVAILABLE".into(),
            changes: vec![
                Change {
                    logical_id: "EdgeFunctionRole".into(),
                    resource_type: "AWS::IAM::Role".into(),
                    action: "Modify".into(),
                    replacement: "False".into(),
                    details: vec![Detail { property: "Description".into(), ..Default::default() }],
                },
                Change {
                    logical_id: "Distribution".into(),
                    resource_type: "AWS::CloudFront::Distribution".into(),
                    action: "Modify".into(),
                    replacement: "False".into(),
                    details: vec![Detail {
                        property: "/Properties/DistributionConfig/DefaultCacheBehavior/LambdaFunctionAssociations/0/LambdaFunctionARN".into(),
                        before: Some(V2.into()),
                        after: Some(V3.into()),
                        causing: "LambdaVersion".into(),
                    }],
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn the_markdown_puts_the_version_and_the_association_first_with_before_and_after() {
        let params = parameter_changes(
            &[("FirstLaunch".into(), "false".into()), ("LambdaVersion".into(), V2.into())],
            &[
                ParamValue::Value("ArtifactObjectVersion".into(), "o2".into()),
                ParamValue::Value("FirstLaunch".into(), "false".into()),
                ParamValue::Value("LambdaVersion".into(), V3.into()),
                ParamValue::Previous("OriginDomainName".into()),
            ],
            &["LambdaVersion"],
        );
        assert_eq!(params[0], ("LambdaVersion".into(), V2.into(), V3.into()), "{params:?}");
        assert_eq!(params.len(), 2, "unchanged and kept parameters are not listed: {params:?}");
        let md = markdown(&set(), &params, &["LambdaVersion"]);
        let distribution = md.find("| `Distribution`").unwrap();
        assert!(distribution < md.find("| `EdgeFunctionRole`").unwrap(), "{md}");
        assert!(md.contains(&format!("LambdaFunctionARN`: `{V2}` → `{V3}` (by LambdaVersion)")), "{md}");
        assert!(md.contains(&format!("| `LambdaVersion` | `{V2}` | `{V3}` |")), "{md}");
        let log = plain(&set(), &params, &["LambdaVersion"]);
        assert!(log.iter().any(|l| l.contains(&format!("{V2} -> {V3}"))), "{log:?}");
    }

    #[test]
    fn a_property_changed_through_a_parameter_is_listed_once_with_its_cause() {
        let direct = Detail {
            property: "/Properties/Code/S3ObjectVersion".into(),
            before: Some("a".into()),
            after: Some("b".into()),
            causing: String::new(),
        };
        let by = Detail { causing: "ArtifactObjectVersion".into(), ..direct.clone() };
        let other = Detail { property: "/Properties/Description".into(), ..direct.clone() };
        assert_eq!(merged(vec![direct.clone(), by.clone(), other.clone()]), vec![by.clone(), other]);
        assert_eq!(merged(vec![by.clone(), direct]), vec![by]);
    }

    #[test]
    fn text_from_aws_cannot_break_the_table() {
        let mut s = set();
        s.changes[0].logical_id = "Evil|\n| injected | row".into();
        let md = markdown(&s, &[], &[]);
        assert!(!md.contains("\n| injected"), "{md}");
    }

    #[test]
    fn replacing_a_distribution_or_a_function_is_loud_and_a_role_is_not() {
        let mut s = set();
        assert!(replacements(&s).is_empty());
        s.changes[1].replacement = "True".into();
        s.changes[0].replacement = "True".into();
        let loud = replacements(&s);
        assert_eq!(loud.len(), 1, "{loud:?}");
        assert!(loud[0].contains("replaces Distribution"), "{loud:?}");
        s.changes[1].action = "Remove".into();
        assert!(replacements(&s)[0].contains("removes Distribution"), "{:?}", replacements(&s));
    }

    // What the emulator cannot produce: a change set CloudFormation fails for another reason than
    // "no changes" (a resource type it cannot update, say), and a second page of changes.
    mod mocked {
        use super::super::*;
        use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
        use aws_sdk_cloudformation::types::{Change as SdkChange, ChangeAction, ResourceChange};
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        use std::time::Duration;

        fn answer(status: ChangeSetStatus, reason: &str, logical: &str, next: Option<&str>) -> DescribeChangeSetOutput {
            DescribeChangeSetOutput::builder()
                .change_set_id("arn:aws:cloudformation:us-east-1:123456789012:changeSet/p/1")
                .change_set_name("p")
                .stack_name("site")
                .status(status)
                .execution_status(ExecutionStatus::Unavailable)
                .status_reason(reason)
                .changes(
                    SdkChange::builder()
                        .resource_change(
                            ResourceChange::builder()
                                .action(ChangeAction::Modify)
                                .logical_resource_id(logical)
                                .resource_type("AWS::CloudFront::Distribution")
                                .build(),
                        )
                        .build(),
                )
                .set_next_token(next.map(str::to_owned))
                .build()
        }

        #[tokio::test]
        async fn a_change_set_failed_for_another_reason_than_no_changes_is_a_failure_with_it() {
            let failed = mock!(Client::describe_change_set).then_output(|| {
                answer(ChangeSetStatus::Failed, "Resource type AWS::X::Y is not supported", "Distribution", None)
            });
            let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&failed]);
            let e = wait_created(&cfn, &Poll::fast(Duration::from_secs(5)), "p").await.unwrap_err();
            assert_eq!(e.exit_code(), 1);
            assert!(
                e.to_string().contains("change set p ended in FAILED: Resource type AWS::X::Y is not supported"),
                "{e}"
            );
        }

        #[tokio::test]
        async fn every_page_of_changes_is_read() {
            let first = mock!(Client::describe_change_set)
                .match_requests(|r| r.next_token().is_none())
                .then_output(|| answer(ChangeSetStatus::CreateComplete, "", "Distribution", Some("page-2")));
            let second = mock!(Client::describe_change_set)
                .match_requests(|r| r.next_token() == Some("page-2"))
                .then_output(|| answer(ChangeSetStatus::CreateComplete, "", "EdgeFunction", None));
            let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, [&first, &second]);
            let set = describe(&cfn, "p", "site").await.unwrap().unwrap();
            let ids: Vec<&str> = set.changes.iter().map(|c| c.logical_id.as_str()).collect();
            assert_eq!(ids, ["Distribution", "EdgeFunction"]);
        }
    }

    #[test]
    fn only_an_available_change_set_of_this_stack_is_executed() {
        assert!(check_executable(&set(), "site").is_ok());
        let with = |status: &str, execution: &str, reason: &str| ChangeSet {
            status: status.into(),
            execution_status: execution.into(),
            reason: reason.into(),
            ..set()
        };
        for (s, says) in [
            (with("CREATE_COMPLETE", "OBSOLETE", ""), "is stale"),
            (with("CREATE_COMPLETE", "EXECUTE_COMPLETE", ""), "was executed already"),
            (with("FAILED", "UNAVAILABLE", "The submitted information didn't contain changes."), "has no changes"),
            (with("FAILED", "UNAVAILABLE", "Template error"), "cannot be executed"),
        ] {
            let e = check_executable(&s, "site").unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(says), "{e}");
        }
        let e = check_executable(&set(), "other").unwrap_err();
        assert!(e.to_string().contains("belongs to stack site, not other"), "{e}");
    }
}
