//! Function: update the code from an exact S3 object version, wait for it, publish a numbered version.
//!
//! CloudFront accepts only numbered version ARNs (never `$LATEST`, never an alias), so every release
//! ends in PublishVersion, guarded by the code hash so that nothing else slips into the version.

use aws_sdk_lambda::types::{LastUpdateStatus, State};
use aws_sdk_lambda::Client;

use crate::artifact::Artifact;
use crate::error::{aws, Error, Result};
use crate::poll::{Poll, Step};

/// Lambda@Edge's limit on ephemeral storage (`/tmp`), in MB.
const MAX_EPHEMERAL_MB: i32 = 512;

/// The restrictions, as the fix for any of them says.
const EDGE_FIX: &str = "Change the function's configuration (in its template) to meet Lambda@Edge's restrictions: no environment variables, layers, VPC or dead-letter queue; no X-Ray active tracing, provisioned concurrency or customer-managed KMS key; at most 512 MB of ephemeral storage; runtime updates on Auto; x86_64; a Node.js or Python runtime.";

impl FunctionInfo {
    /// The version's number; 0 for `$LATEST`.
    pub fn number(&self) -> u64 {
        self.version.parse().unwrap_or(0)
    }
}

/// What a release needs to know of a function (or of one of its versions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Unqualified ARN for the function; qualified for a version.
    pub arn: String,
    pub version: String,
    pub code_sha256: String,
    pub revision_id: String,
    pub role: String,
    /// Lambda reports the version (or `$LATEST`) in state Failed: it can never serve.
    pub failed: bool,
    /// Lambda@Edge restrictions this function's configuration breaks.
    pub violations: Vec<String>,
}

/// GetFunctionConfiguration's output and ListVersionsByFunction's items are distinct types with the
/// same accessors; one body serves both.
macro_rules! function_info {
    ($c:expr) => {{
        let c = $c;
        let arn = c.function_arn().unwrap_or_default();
        // GetFunctionConfiguration on $LATEST returns the unqualified ARN; strip a `:$LATEST` if one comes back.
        let arn = arn.strip_suffix(":$LATEST").unwrap_or(arn).to_owned();
        let mut violations = Vec::new();
        if c.environment().and_then(|e| e.variables()).is_some_and(|v| !v.is_empty()) {
            violations.push("it has environment variables (Lambda@Edge allows none)".to_owned());
        }
        if !c.layers().is_empty() {
            violations.push("it uses layers".to_owned());
        }
        if c.vpc_config().is_some_and(|v| !v.subnet_ids().is_empty()) {
            violations.push("it is attached to a VPC".to_owned());
        }
        if c.dead_letter_config().and_then(|d| d.target_arn()).is_some_and(|t| !t.is_empty()) {
            violations.push("it has a dead-letter queue".to_owned());
        }
        if c.architectures().iter().any(|a| *a == aws_sdk_lambda::types::Architecture::Arm64) {
            violations.push("it is built for arm64 (Lambda@Edge runs x86_64 only)".to_owned());
        }
        if c.tracing_config().and_then(|t| t.mode()) == Some(&aws_sdk_lambda::types::TracingMode::Active) {
            violations.push("it has X-Ray active tracing".to_owned());
        }
        if let Some(size) = c.ephemeral_storage().map(|e| e.size()).filter(|s| *s > MAX_EPHEMERAL_MB) {
            violations.push(format!(
                "it has {size} MB of ephemeral storage (Lambda@Edge allows at most {MAX_EPHEMERAL_MB} MB)"
            ));
        }
        if let Some(key) = c.kms_key_arn().filter(|k| !k.is_empty()) {
            violations.push(format!("it is encrypted with the customer-managed KMS key {key}"));
        }
        match c.runtime().map(|r| r.as_str()) {
            Some(r) if r.starts_with("nodejs") || r.starts_with("python") => {}
            Some(r) => violations.push(format!("its runtime {r} is not Node.js or Python")),
            None => violations
                .push("it is a container image (Lambda@Edge needs a zip with a Node.js or Python runtime)".to_owned()),
        }
        FunctionInfo {
            arn,
            version: c.version().unwrap_or("$LATEST").to_owned(),
            code_sha256: c.code_sha256().unwrap_or_default().to_owned(),
            revision_id: c.revision_id().unwrap_or_default().to_owned(),
            role: c.role().unwrap_or_default().to_owned(),
            failed: c.state() == Some(&State::Failed),
            violations,
        }
    }};
}

/// The function's `$LATEST`, or None if there is no such function.
pub async fn get(lambda: &Client, name: &str) -> Result<Option<FunctionInfo>> {
    match lambda.get_function_configuration().function_name(name).send().await {
        Ok(c) => Ok(Some(function_info!(&c))),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(None),
        Err(e) => Err(aws(format!("GetFunctionConfiguration {name}"))(e)),
    }
}

/// Lambda@Edge's rules for an existing function, checked before anything is written: its
/// configuration, its runtime updates, provisioned concurrency, and a role that
/// `edgelambda.amazonaws.com` may assume. A look-up these credentials may not make is skipped with a
/// warning: each needs a permission that only this check uses.
pub async fn check_edge_rules(
    lambda: &Client,
    iam: &aws_sdk_iam::Client,
    f: &FunctionInfo,
    name: &str,
) -> Result<Vec<Error>> {
    let edge = |what: &str| Error::precondition(format!("function {name} cannot run at the edge: {what}"), EDGE_FIX);
    let mut problems: Vec<Error> = f.violations.iter().map(|v| edge(v)).collect();
    let (runtime, provisioned, role) = tokio::join!(
        lambda.get_runtime_management_config().function_name(name).send(),
        lambda.list_provisioned_concurrency_configs().function_name(name).send(),
        async {
            match f.role.rsplit('/').next().filter(|r| !r.is_empty()) {
                Some(role) => Some((role, iam.get_role().role_name(role).send().await)),
                None => None,
            }
        }
    );
    match runtime {
        Ok(out) => {
            if let Some(mode) = out.update_runtime_on().filter(|m| **m != aws_sdk_lambda::types::UpdateRuntimeOn::Auto)
            {
                problems.push(edge(&format!("its runtime updates are `{}` (Lambda@Edge needs Auto)", mode.as_str())));
            }
        }
        Err(e) => skipped(
            "runtime management",
            "lambda:GetRuntimeManagementConfig",
            aws(format!("GetRuntimeManagementConfig {name}"))(e),
        ),
    }
    match provisioned {
        Ok(out) => {
            let on: Vec<&str> = out
                .provisioned_concurrency_configs()
                .iter()
                .filter_map(|c| c.function_arn())
                .map(|arn| arn.rsplit(':').next().unwrap_or(arn))
                .collect();
            if !on.is_empty() {
                problems.push(edge(&format!("it has provisioned concurrency on {}", on.join(", "))));
            }
        }
        Err(e) => skipped(
            "provisioned concurrency",
            "lambda:ListProvisionedConcurrencyConfigs",
            aws(format!("ListProvisionedConcurrencyConfigs {name}"))(e),
        ),
    }
    match role {
        None => {}
        Some((role_name, Ok(out))) => {
            // The policy comes URL-encoded; the service name reads the same either way.
            let trust = out.role().map(|r| r.assume_role_policy_document().unwrap_or_default()).unwrap_or_default();
            if !trust.contains("edgelambda.amazonaws.com") {
                problems.push(Error::precondition(
                    format!("the role {role_name} of function {name} does not trust edgelambda.amazonaws.com"),
                    "Add edgelambda.amazonaws.com beside lambda.amazonaws.com to the role's trust policy (AssumeRolePolicyDocument), as in examples/template.yaml.",
                ));
            }
        }
        Some((role_name, Err(e))) => crate::log::warn(&format!(
            "could not read the trust policy of role {role_name} (iam:GetRole): {}; it must trust edgelambda.amazonaws.com",
            aws::<aws_sdk_iam::operation::get_role::GetRoleError>("GetRole")(e)
        )),
    }
    Ok(problems)
}

/// A check that could not be made is a warning, never a failure: the release goes on.
fn skipped(what: &str, permission: &str, e: Error) {
    crate::log::warn(&format!("could not check the function's {what} ({permission}): {e}; Lambda@Edge needs it off"));
}

/// Waits until the function (or version) is Active and no update is in progress, so that the next
/// call does not race with the last one (ResourceConflictException).
pub async fn wait_ready(lambda: &Client, poll: &Poll, name: &str) -> Result<FunctionInfo> {
    poll.until(&format!("function {name} to be ready"), || async {
        let c = lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(aws(format!("GetFunctionConfiguration {name}")))?;
        let state = c.state().cloned();
        let update = c.last_update_status().cloned();
        if state == Some(State::Failed) || update == Some(LastUpdateStatus::Failed) {
            let reason = c.last_update_status_reason().or(c.state_reason()).unwrap_or("no reason given");
            return Err(Error::failed(
                format!("Lambda could not apply the update to {name}: {reason}"),
                "Fix the cause Lambda gives (often the zip's layout or the handler), then run again.",
            ));
        }
        let settled = matches!(state, None | Some(State::Active) | Some(State::Inactive))
            && !matches!(update, Some(LastUpdateStatus::InProgress));
        Ok(if settled {
            Step::Done(function_info!(&c))
        } else {
            Step::Pending(format!(
                "state {}, last update {}",
                state.as_ref().map(|s| s.as_str()).unwrap_or("unknown"),
                update.as_ref().map(|s| s.as_str()).unwrap_or("unknown")
            ))
        })
    })
    .await
}

/// Points `$LATEST` at exactly the uploaded object version and waits until the update is applied.
pub async fn update_code(lambda: &Client, poll: &Poll, name: &str, artifact: &Artifact) -> Result<FunctionInfo> {
    let mut attempts = 0;
    loop {
        let sent = lambda
            .update_function_code()
            .function_name(name)
            .s3_bucket(&artifact.bucket)
            .s3_key(&artifact.key)
            .s3_object_version(&artifact.version_id)
            .send()
            .await;
        match sent {
            Ok(_) => break,
            // Another update is being applied: wait for it, then try once more.
            Err(e) if attempts < 3 && e.as_service_error().is_some_and(|s| s.is_resource_conflict_exception()) => {
                attempts += 1;
                crate::log::info(&format!("{name} is being updated by someone else; waiting for that to finish"));
                wait_ready(lambda, poll, name).await?;
            }
            Err(e) => {
                return Err(aws(format!(
                    "UpdateFunctionCode {name} from s3://{}/{} version {}",
                    artifact.bucket, artifact.key, artifact.version_id
                ))(e))
            }
        }
    }
    wait_ready(lambda, poll, name).await
}

/// Publishes `$LATEST` as a numbered version, only if it still holds `code_sha256` and the
/// configuration revision we saw; waits until the version is Active.
pub async fn publish(lambda: &Client, poll: &Poll, name: &str, latest: &FunctionInfo) -> Result<FunctionInfo> {
    let out = lambda
        .publish_version()
        .function_name(name)
        .code_sha256(&latest.code_sha256)
        .revision_id(&latest.revision_id)
        .description(format!("lambda-edge-deploy {}", latest.code_sha256))
        .send()
        .await
        .map_err(|e| {
            // RevisionId mismatch: PreconditionFailed; CodeSha256 mismatch: InvalidParameterValue.
            let raced = e.as_service_error().is_some_and(|s| {
                s.is_precondition_failed_exception()
                    || (s.is_invalid_parameter_value_exception()
                        && s.meta().message().is_some_and(|m| m.contains("CodeSHA256")))
            });
            if raced {
                Error::PublishRaced {
                    function: name.to_owned(),
                    detail: e.as_service_error().and_then(|s| s.meta().message()).unwrap_or("no message").to_owned(),
                }
            } else {
                aws(format!("PublishVersion {name}"))(e)
            }
        })?;
    let arn = out.function_arn().unwrap_or_default().to_owned();
    let version = out.version().unwrap_or_default().to_owned();
    if version.is_empty() || version == "$LATEST" || !arn.ends_with(&format!(":{version}")) {
        return Err(Error::failed(
            format!("PublishVersion on {name} returned no numbered version (got `{arn}`)"),
            "CloudFront needs a numbered version; check the function in the Lambda console and run again.",
        ));
    }
    wait_ready(lambda, poll, &arn).await?;
    Ok(FunctionInfo {
        arn,
        version,
        code_sha256: out.code_sha256().unwrap_or_default().to_owned(),
        ..Default::default()
    })
}

/// Every published version of the function (not `$LATEST`), oldest first: for reusing a version
/// published from the same code, for `rollback-to`, and for the code the live version runs.
pub async fn versions(lambda: &Client, name: &str) -> Result<Vec<FunctionInfo>> {
    let mut pages = lambda.list_versions_by_function().function_name(name).into_paginator().items().send();
    let mut out = Vec::new();
    while let Some(item) = pages.next().await {
        let c = item.map_err(aws(format!("ListVersionsByFunction {name}")))?;
        if c.version().is_some_and(|v| v.parse::<u64>().is_ok()) {
            out.push(function_info!(&c));
        }
    }
    out.sort_by_key(|v| v.number());
    Ok(out)
}

/// The versions the function's aliases point to: (alias, version ARN), a weighted alias giving one
/// pair per version it routes to.
pub async fn aliases(lambda: &Client, name: &str, function_arn: &str) -> Result<Vec<(String, String)>> {
    let mut pages = lambda.list_aliases().function_name(name).into_paginator().items().send();
    let mut out = Vec::new();
    while let Some(item) = pages.next().await {
        let a = item.map_err(aws(format!("ListAliases {name}")))?;
        let alias = a.name().unwrap_or_default().to_owned();
        let weighted = a.routing_config().and_then(|r| r.additional_version_weights()).into_iter().flatten();
        for version in a.function_version().into_iter().chain(weighted.map(|(v, _)| v.as_str())) {
            out.push((alias.clone(), format!("{function_arn}:{version}")));
        }
    }
    Ok(out)
}

/// What became of a version DeleteFunction was asked to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// CloudFront still has replicas of it (hours after its last association went): a later run
    /// deletes it.
    Replicated,
    /// Deleted meanwhile by someone else.
    Gone,
}

/// Deletes one numbered version of the function.
pub async fn delete_version(lambda: &Client, name: &str, version: &str) -> Result<Deletion> {
    match lambda.delete_function().function_name(name).qualifier(version).send().await {
        Ok(_) => Ok(Deletion::Deleted),
        Err(e) => match aws(format!("DeleteFunction {name}:{version}"))(e) {
            Error::Aws { code: Some(code), detail, .. }
                if code == "InvalidParameterValueException" && detail.contains("replicated function") =>
            {
                Ok(Deletion::Replicated)
            }
            Error::Aws { code: Some(code), .. } if code == "ResourceNotFoundException" => Ok(Deletion::Gone),
            e => Err(e),
        },
    }
}

/// The newest version published from this code that Lambda did not fail to create: reused rather
/// than published again when a run stopped between publishing and its stack update.
pub fn published_from<'a>(versions: &'a [FunctionInfo], code_sha256: &str) -> Option<&'a FunctionInfo> {
    versions.iter().rev().find(|v| v.code_sha256 == code_sha256 && !v.failed)
}

/// `arn:...:function:NAME:7` → Some("7"); an unqualified ARN, `$LATEST` or an alias → None.
pub fn version_of(arn: &str) -> Option<&str> {
    let (_, last) = arn.rsplit_once(':')?;
    (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) && arn.matches(':').count() == 7).then_some(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_numbered_versions_count() {
        assert_eq!(version_of("arn:aws:lambda:us-east-1:123456789012:function:edge:12"), Some("12"));
        assert_eq!(version_of("arn:aws:lambda:us-east-1:123456789012:function:edge:$LATEST"), None);
        assert_eq!(version_of("arn:aws:lambda:us-east-1:123456789012:function:edge:live"), None);
        assert_eq!(version_of("arn:aws:lambda:us-east-1:123456789012:function:edge"), None);
        assert_eq!(version_of("NONE"), None);
    }

    // Lambda states the emulator cannot produce, on the real client with aws-smithy-mocks.
    mod mocked {
        use super::super::*;
        use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
        use aws_sdk_lambda::operation::update_function_code::{UpdateFunctionCodeError, UpdateFunctionCodeOutput};
        use aws_sdk_lambda::types::error::ResourceConflictException;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        use std::time::Duration;

        fn config(update: LastUpdateStatus) -> GetFunctionConfigurationOutput {
            GetFunctionConfigurationOutput::builder()
                .function_arn("arn:aws:lambda:us-east-1:123456789012:function:edge")
                .runtime(aws_sdk_lambda::types::Runtime::Nodejs22x)
                .state(State::Active)
                .last_update_status(update)
                .code_sha256("abc=")
                .revision_id("r2")
                .build()
        }

        fn artifact() -> Artifact {
            Artifact { bucket: "b".into(), key: "edge.zip".into(), version_id: "v1".into() }
        }

        #[tokio::test]
        async fn an_update_racing_another_waits_for_it_and_tries_again() {
            let update = mock!(Client::update_function_code)
                .sequence()
                .error(|| {
                    UpdateFunctionCodeError::ResourceConflictException(
                        ResourceConflictException::builder()
                            .message("The operation cannot be performed at this time. An update is in progress")
                            .build(),
                    )
                })
                .output(|| UpdateFunctionCodeOutput::builder().build())
                .build();
            let get = mock!(Client::get_function_configuration)
                .sequence()
                .output(|| config(LastUpdateStatus::InProgress))
                .times(2)
                .output(|| config(LastUpdateStatus::Successful))
                .repeatedly()
                .build();
            let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&update, &get]);
            let latest = update_code(&lambda, &Poll::fast(Duration::from_secs(10)), "edge", &artifact()).await.unwrap();
            assert_eq!(update.num_calls(), 2);
            assert_eq!(latest.code_sha256, "abc=");
            assert_eq!(latest.revision_id, "r2");
        }

        #[tokio::test]
        async fn a_failed_update_says_why() {
            let update =
                mock!(Client::update_function_code).then_output(|| UpdateFunctionCodeOutput::builder().build());
            let get = mock!(Client::get_function_configuration).then_output(|| {
                GetFunctionConfigurationOutput::builder()
                    .state(State::Active)
                    .last_update_status(LastUpdateStatus::Failed)
                    .last_update_status_reason("Unzipped size must be smaller than 262144000 bytes")
                    .build()
            });
            let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&update, &get]);
            let err =
                update_code(&lambda, &Poll::fast(Duration::from_secs(10)), "edge", &artifact()).await.unwrap_err();
            assert_eq!(err.exit_code(), 1);
            assert!(err.to_string().contains("Unzipped size must be smaller"), "{err}");
        }

        #[tokio::test]
        async fn throttled_polls_keep_waiting() {
            let get = mock!(Client::get_function_configuration)
                .sequence()
                .http_status(429, Some(r#"{"Type":"User","message":"Rate exceeded"}"#.into()))
                .times(2)
                .output(|| config(LastUpdateStatus::Successful))
                .build();
            let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&get]);
            let info = wait_ready(&lambda, &Poll::fast(Duration::from_secs(10)), "edge").await.unwrap();
            assert_eq!(info.code_sha256, "abc=");
            assert_eq!(get.num_calls(), 3);
        }
    }
}
