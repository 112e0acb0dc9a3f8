//! A release or a rollback into an existing stack: each function's code object and the version
//! the stack will run (side by side), and the one stack update that points the distribution at them.

use futures_util::future::join_all;

use super::{since_now, Release};
use crate::artifact::{self, Artifact};
use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::function::{self, FunctionInfo};
use crate::log;
use crate::parameters::{self, Fill};
use crate::plan::{ObjectStep, Unit, Update, VersionStep};
use crate::poll::Poll;
use crate::preflight;
use crate::settings::{Mode, Settings};
use crate::stack::{self, Operation};
use crate::template::Template;

impl Release<'_> {
    pub(super) async fn update(&mut self, plan: Update) -> Result<()> {
        let (s, c, poll) = (self.settings, self.clients, self.poll);
        self.out.stack_id = plan.stack.id.clone();
        self.out.stack_status = plan.stack.status.to_string();
        if let (false, [u]) = (s.several, plan.units.as_slice()) {
            self.out.function_arn = u.function.arn.clone();
        }
        if let Some((id, d)) = &plan.distribution {
            self.out.distribution_id = id.clone();
            self.out.distribution_domain = d.domain.clone();
        }
        for w in &plan.warnings {
            log::warn(w);
        }

        if plan.units.iter().any(|u| matches!(u.object, ObjectStep::Reuse(_) | ObjectStep::Upload(_))) {
            self.phases.start("Upload");
        }
        let objects: Vec<Option<Artifact>> = join_all(plan.units.iter().map(|u| object(s, c, &u.spec.name, &u.object)))
            .await
            .into_iter()
            .collect::<Result<_>>()?;
        for (i, o) in objects.iter().enumerate() {
            if let Some(o) = o {
                self.function_out(i, |out| out.s3_version_id = o.version_id.clone());
            }
        }
        if plan.units.iter().any(|u| !matches!(u.version, VersionStep::Existing(_))) {
            self.phases.start("Function");
        }
        let expected: Vec<String> = self.out.functions.iter().map(|f| f.code_sha256.clone()).collect();
        let results = join_all(
            plan.units.iter().zip(&objects).zip(&expected).map(|((u, o), sha)| version(c, poll, u, o.as_ref(), sha)),
        )
        .await;
        // What was published is reported even when another function's publish failed.
        let mut versions = Vec::new();
        let mut failure = None;
        for (i, (u, r)) in plan.units.iter().zip(results).enumerate() {
            match r {
                Ok(v) => {
                    let changed = u.live.as_ref().is_none_or(|l| l.arn != v.arn);
                    self.set_version(i, &v.arn);
                    self.function_out(i, |o| {
                        o.code_sha256 = v.code_sha256.clone();
                        o.changed = changed;
                    });
                    if changed && matches!(u.version, VersionStep::Publish { .. } | VersionStep::Reuse(_)) {
                        self.done.published = true;
                    }
                    versions.push(v);
                }
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        self.record();
        if let Some(e) = failure {
            return Err(e);
        }
        if let Mode::Rollback(_) = s.mode {
            for (u, v) in plan.units.iter().zip(&versions) {
                let from = u.live.as_ref().map(|l| l.arn.as_str()).unwrap_or("an unknown version");
                log::info(&format!("rolling back {} from {from} to {}", u.spec.name, v.arn));
            }
        }

        if s.plan {
            if !plan.update_stack {
                self.plan_nothing();
                return Ok(());
            }
            let fill = plan.fill(&versions, &objects);
            let params = parameters::parameters(s, &plan.summary, Some(&plan.stack), &fill)?;
            return self.plan_change_set(Some(&plan.stack), &plan.template, &params).await;
        }
        if let (Some(stage), Mode::Release) = (&plan.staged, &s.mode) {
            // New code goes to the staging distribution first; code the primary runs already
            // has nothing to stage, and is released as a direct release would.
            let moves = plan.units.iter().zip(&versions).any(|(u, v)| u.live.as_ref().is_some_and(|l| l.arn != v.arn));
            if moves {
                return self.stage(&plan, stage, &versions, &objects).await;
            }
        }
        if plan.update_stack {
            let fill = plan.fill(&versions, &objects);
            self.repoint(&plan, &plan.template, &fill).await?;
            if !s.wait {
                return Ok(());
            }
        } else {
            for v in &versions {
                log::info(&format!(
                    "{} already runs CodeSha256 {}: nothing to publish or update",
                    v.arn, v.code_sha256
                ));
            }
            if !s.wait {
                return Ok(());
            }
        }
        let functions: Vec<FunctionInfo> = plan.units.iter().map(|u| u.function.clone()).collect();
        self.settle_distribution(plan.distribution.as_ref().map(|(id, _)| id.as_str()), &functions).await?;
        self.check(Some(&plan)).await
    }

    /// Updates the stack with the versions and, with `wait`, waits for it. CloudFormation's "No
    /// updates are to be performed" is success.
    pub(super) async fn repoint(&mut self, plan: &Update, template: &Template, fill: &Fill) -> Result<()> {
        let (s, c) = (self.settings, self.clients);
        self.phases.start("Stack");
        let params = parameters::parameters(s, &plan.summary, Some(&plan.stack), fill)?;
        let template = preflight::upload_large_template(s, c, template).await?;
        let since = since_now();
        let token = stack::new_token("update");
        if !stack::update(&c.cloudformation, s, &template, &params, &token).await? {
            log::info(&format!("stack {}: no updates are to be performed", s.stack_name));
            return Ok(());
        }
        let set: Vec<String> = fill
            .functions
            .iter()
            .map(|f| format!("{}={}", f.parameter, f.version_arn.as_deref().unwrap_or("NONE")))
            .chain(fill.fixed.iter().map(|(k, v)| format!("{k}={v}")))
            .collect();
        if plan.bookkeeping {
            log::info(&format!(
                "updating stack {}: {} from true to false, the first update after its first launch; the site keeps {} (changed: false)",
                s.stack_name,
                s.first_launch_parameter,
                set.join(", ")
            ));
        } else {
            self.done.stack_updated = true;
            self.record();
            log::info(&format!("updating stack {}: {}", s.stack_name, set.join(", ")));
        }
        if !s.wait {
            self.out.stack_status = "UPDATE_IN_PROGRESS".into();
            log::info("not waiting (`wait: false`)");
            return Ok(());
        }
        if let Err(e) = self.wait_stack(&plan.stack.id, Operation::Update, since, &token).await {
            let distribution = plan.distribution.as_ref().map(|(id, _)| id.as_str());
            let functions: Vec<&str> = plan.units.iter().map(|u| u.function.arn.as_str()).collect();
            return Err(self.with_distribution_state(e, distribution, &functions).await);
        }
        Ok(())
    }
}

/// A function's code object: kept, reused, uploaded, or the deployer's.
async fn object(s: &Settings, c: &Clients, name: &str, step: &ObjectStep) -> Result<Option<Artifact>> {
    match step {
        ObjectStep::Keep(a) => Ok(a.clone()),
        ObjectStep::Uploaded(a) => Ok(Some(a.clone())),
        ObjectStep::Reuse(a) => {
            log::info(&format!("s3://{}/{} version {} already holds this code", a.bucket, a.key, a.version_id));
            Ok(Some(a.clone()))
        }
        ObjectStep::Upload(package) => {
            let owner = s.expected_bucket_owner.as_deref();
            let key = s.artifact_key(name);
            let a = artifact::upload_zip(&c.s3, &s.artifact_bucket, owner, &key, &package.path, &package.code_sha256)
                .await?;
            log::info(&format!("uploaded s3://{}/{} version {}", a.bucket, a.key, a.version_id));
            Ok(Some(a))
        }
    }
}

/// The version a function's stack parameter will take: one that exists, one published earlier
/// from this code, or `$LATEST` updated from the object and published now.
async fn version(
    c: &Clients,
    poll: &Poll,
    unit: &Unit,
    object: Option<&Artifact>,
    expected_sha: &str,
) -> Result<FunctionInfo> {
    match &unit.version {
        VersionStep::Existing(v) => Ok(v.clone()),
        VersionStep::Reuse(v) => {
            log::info(&format!(
                "reusing version {} of {} published earlier from the same code",
                v.version, unit.spec.name
            ));
            Ok(v.clone())
        }
        VersionStep::Publish { update_code } => {
            let Some(object) = object else { return Err(super::bug("a version to publish without its object")) };
            publish(c, poll, &unit.spec.name, object, *update_code, expected_sha).await
        }
    }
}

/// Updates `$LATEST` from the object (unless it holds the code already), then publishes it,
/// guarded by the code hash and revision. `expected_sha` is the packaged code's hash (empty for
/// the deployer's upload, whose code Lambda hashes).
pub(super) async fn publish(
    c: &Clients,
    poll: &Poll,
    name: &str,
    object: &Artifact,
    update_code: bool,
    expected_sha: &str,
) -> Result<FunctionInfo> {
    let latest = if update_code {
        log::info(&format!("updating {name} from s3://{}/{} version {}", object.bucket, object.key, object.version_id));
        function::update_code(&c.lambda, poll, name, object).await?
    } else {
        function::wait_ready(&c.lambda, poll, name).await?
    };
    let sha = if expected_sha.is_empty() { latest.code_sha256.clone() } else { expected_sha.to_owned() };
    if latest.code_sha256 != sha {
        return Err(Error::failed(
            format!("after the update, {name} has CodeSha256 {} where the uploaded zip has {sha}", latest.code_sha256),
            "Another deploy changed the function meanwhile: let it finish and run again (use `concurrency:` to serialise releases).",
        ));
    }
    let v = match function::publish(&c.lambda, poll, name, &latest).await {
        Ok(v) => v,
        // A retried PublishVersion whose first answer was lost finds $LATEST's revision moved
        // on: the version it published is there, with this code.
        Err(e @ Error::PublishRaced { .. }) => {
            let versions = function::versions(&c.lambda, name).await?;
            let still = function::get(&c.lambda, name).await?.is_some_and(|l| l.code_sha256 == sha);
            match function::published_from(&versions, &sha).filter(|_| still) {
                Some(v) => {
                    log::info(&format!("version {} of {name} was published with this code; using it", v.version));
                    v.clone()
                }
                None => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    log::info_with(
        &format!("published version {} of {name} ({})", v.version, v.arn),
        &[("version-arn", v.arn.clone().into()), ("function-name", name.into())],
    );
    Ok(v)
}

#[cfg(test)]
mod tests {
    // What the emulator cannot produce: a version Lambda publishes and then reports Failed; an
    // answer to PublishVersion lost, so that its retry finds the revision moved on.
    mod mocked {
        use std::time::Duration;

        use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
        use aws_sdk_lambda::operation::list_versions_by_function::ListVersionsByFunctionOutput;
        use aws_sdk_lambda::operation::publish_version::{PublishVersionError, PublishVersionOutput};
        use aws_sdk_lambda::operation::update_function_code::UpdateFunctionCodeOutput;
        use aws_sdk_lambda::types::error::PreconditionFailedException;
        use aws_sdk_lambda::types::{FunctionConfiguration, LastUpdateStatus, Runtime, State};
        use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

        use crate::artifact::Artifact;
        use crate::aws::Clients;
        use crate::poll::Poll;

        const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";

        fn config(arn: &str, state: State) -> GetFunctionConfigurationOutput {
            GetFunctionConfigurationOutput::builder()
                .function_arn(arn)
                .runtime(Runtime::Nodejs22x)
                .state(state)
                .state_reason("InvalidImage: the zip could not be unpacked")
                .last_update_status(LastUpdateStatus::Successful)
                .code_sha256("abc=")
                .revision_id("r1")
                .build()
        }

        fn listing(state: State) -> Rule {
            mock!(aws_sdk_lambda::Client::list_versions_by_function).then_output(move || {
                ListVersionsByFunctionOutput::builder()
                    .versions(
                        FunctionConfiguration::builder()
                            .function_arn(format!("{FN}:1"))
                            .version("1")
                            .code_sha256("abc=")
                            .state(state.clone())
                            .build(),
                    )
                    .build()
            })
        }

        /// Publishes `abc=` through a Release on these Lambda rules.
        async fn publish(rules: &[&Rule]) -> crate::error::Result<crate::function::FunctionInfo> {
            let lambda = mock_client!(aws_sdk_lambda, RuleMode::MatchAny, rules);
            let config =
                aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
            let clients = Clients { lambda, ..Clients::from_config(&config) };
            let poll = Poll::fast(Duration::from_secs(10));
            let object = Artifact { bucket: "artifacts".into(), key: "edge.zip".into(), version_id: "o1".into() };
            crate::release::update::publish(&clients, &poll, "edge", &object, true, "abc=").await
        }

        #[tokio::test]
        async fn a_version_lambda_reports_failed_is_not_taken_for_a_publish_race() {
            let update = mock!(aws_sdk_lambda::Client::update_function_code)
                .then_output(|| UpdateFunctionCodeOutput::builder().build());
            let latest = mock!(aws_sdk_lambda::Client::get_function_configuration)
                .match_requests(|r| r.function_name() == Some("edge"))
                .then_output(|| config(FN, State::Active));
            let version = mock!(aws_sdk_lambda::Client::get_function_configuration)
                .match_requests(|r| r.function_name() == Some("arn:aws:lambda:us-east-1:123456789012:function:edge:1"))
                .then_output(|| config(&format!("{FN}:1"), State::Failed));
            let published = mock!(aws_sdk_lambda::Client::publish_version).then_output(|| {
                PublishVersionOutput::builder().function_arn(format!("{FN}:1")).version("1").code_sha256("abc=").build()
            });
            let list = listing(State::Failed);
            let err = publish(&[&update, &version, &latest, &published, &list]).await.unwrap_err();
            assert!(err.to_string().contains("Lambda could not apply the update"), "{err}");
            assert_eq!(err.exit_code(), 1);
            assert_eq!(published.num_calls(), 1);
        }

        #[tokio::test]
        async fn a_publish_whose_answer_was_lost_finds_the_version_it_made() {
            let update = mock!(aws_sdk_lambda::Client::update_function_code)
                .then_output(|| UpdateFunctionCodeOutput::builder().build());
            let latest = mock!(aws_sdk_lambda::Client::get_function_configuration)
                .match_requests(|r| r.function_name() == Some("edge"))
                .then_output(|| config(FN, State::Active));
            let raced = mock!(aws_sdk_lambda::Client::publish_version).then_error(|| {
                PublishVersionError::PreconditionFailedException(
                    PreconditionFailedException::builder()
                        .message("The Revision Id provided does not match the latest Revision Id.")
                        .build(),
                )
            });
            let list = listing(State::Active);
            let v = publish(&[&update, &latest, &raced, &list]).await.unwrap();
            assert_eq!(v.arn, format!("{FN}:1"));
            // A version Lambda failed to create is never what the race made.
            let failed = listing(State::Failed);
            let err = publish(&[&update, &latest, &raced, &failed]).await.unwrap_err();
            assert!(matches!(err, crate::error::Error::PublishRaced { .. }), "{err:?}");
        }
    }
}
