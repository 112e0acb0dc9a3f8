//! A release or a rollback into an existing stack: the code's object, the version the stack will
//! run, and the stack update that points the distribution at it.

use super::{since_now, Release};
use crate::artifact::Artifact;
use crate::error::{Error, Result};
use crate::function::{self, FunctionInfo};
use crate::log;
use crate::parameters::{self, Fill};
use crate::plan::{ObjectStep, Update, VersionStep};
use crate::preflight;
use crate::settings::Mode;
use crate::stack::{self, Operation};
use crate::template::Template;

impl Release<'_> {
    pub(super) async fn update(&mut self, plan: Update) -> Result<()> {
        let s = self.settings;
        self.out.stack_id = plan.stack.id.clone();
        self.out.stack_status = plan.stack.status.to_string();
        self.out.function_arn = plan.function.arn.clone();
        if let Some((id, d)) = &plan.distribution {
            self.out.distribution_id = id.clone();
            self.out.distribution_domain = d.domain.clone();
        }
        for w in &plan.warnings {
            log::warn(w);
        }

        let object = self.object(&plan.object).await?;
        if let Some(o) = &object {
            self.out.s3_version_id = o.version_id.clone();
        }
        let version = self.version(&plan, object.as_ref()).await?;
        self.set_version(&version.arn);
        self.out.code_sha256 = version.code_sha256.clone();
        if let Mode::Rollback(_) = s.mode {
            let from = plan.live.as_ref().map(|l| l.arn.as_str()).unwrap_or("an unknown version");
            log::info(&format!("rolling back from {from} to {}", version.arn));
        }

        if plan.update_stack {
            let fill = Fill {
                first_launch: false,
                version_arn: Some(version.arn.clone()),
                // A new object for a new version; a rollback keeps the stack's own.
                artifact_object_version: match &plan.object {
                    ObjectStep::Keep(_) => None,
                    _ => object.as_ref().map(|o| o.version_id.clone()),
                },
            };
            self.repoint(&plan, &plan.template, &fill).await?;
            if !s.wait {
                return Ok(());
            }
        } else {
            log::info(&format!(
                "{} already runs CodeSha256 {}: nothing to publish or update",
                version.arn, version.code_sha256
            ));
            if !s.wait {
                return Ok(());
            }
        }
        self.settle_distribution(plan.distribution.as_ref().map(|(id, _)| id.as_str()), &plan.function).await?;
        self.check(Some(&plan)).await
    }

    /// The code's object version: kept, reused, uploaded, or the deployer's.
    async fn object(&mut self, step: &ObjectStep) -> Result<Option<Artifact>> {
        match step {
            ObjectStep::Keep(a) => Ok(a.clone()),
            ObjectStep::Uploaded(a) => Ok(Some(a.clone())),
            ObjectStep::Reuse(a) => {
                self.phases.start("Upload");
                log::info(&format!("s3://{}/{} version {} already holds this code", a.bucket, a.key, a.version_id));
                Ok(Some(a.clone()))
            }
            ObjectStep::Upload(package) => {
                self.phases.start("Upload");
                Ok(Some(self.upload(package).await?))
            }
        }
    }

    /// The version the stack will run: one that exists, one published earlier from this code, or
    /// `$LATEST` updated from the object and published now.
    async fn version(&mut self, plan: &Update, object: Option<&Artifact>) -> Result<FunctionInfo> {
        match &plan.version {
            VersionStep::Existing(v) => Ok(v.clone()),
            VersionStep::Reuse(v) => {
                self.phases.start("Function");
                log::info(&format!("reusing version {} published earlier from the same code", v.version));
                Ok(v.clone())
            }
            VersionStep::Publish { update_code } => {
                self.phases.start("Function");
                let Some(object) = object else { return Err(super::bug("a version to publish without its object")) };
                let v = self.publish(object, *update_code).await?;
                self.done.published = plan.live.as_ref().is_none_or(|l| l.arn != v.arn);
                self.record();
                Ok(v)
            }
        }
    }

    /// Updates `$LATEST` from the object (unless it holds the code already), then publishes it,
    /// guarded by the code hash and revision.
    pub(super) async fn publish(&mut self, object: &Artifact, update_code: bool) -> Result<FunctionInfo> {
        let (s, c, poll) = (self.settings, self.clients, self.poll);
        let name = &s.function_name;
        let latest = if update_code {
            log::info(&format!(
                "updating {name} from s3://{}/{} version {}",
                object.bucket, object.key, object.version_id
            ));
            function::update_code(&c.lambda, poll, name, object).await?
        } else {
            function::wait_ready(&c.lambda, poll, name).await?
        };
        // The packaged code's hash; the deployer's code is hashed by Lambda.
        let sha =
            if self.out.code_sha256.is_empty() { latest.code_sha256.clone() } else { self.out.code_sha256.clone() };
        if latest.code_sha256 != sha {
            return Err(Error::failed(
                format!(
                    "after the update, {name} has CodeSha256 {} where the uploaded zip has {sha}",
                    latest.code_sha256
                ),
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
                        log::info(&format!("version {} was published with this code; using it", v.version));
                        v.clone()
                    }
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        log::info(&format!("published version {} ({})", v.version, v.arn));
        Ok(v)
    }

    /// Updates the stack with the version and, with `wait`, waits for it. CloudFormation's "No
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
        if plan.bookkeeping {
            log::info(&format!(
                "updating stack {}: {} from true to false, the first update after its first launch; the site keeps {} (changed: false)",
                s.stack_name, s.first_launch_parameter, self.out.version_arn
            ));
        } else {
            self.done.stack_updated = true;
            self.record();
            log::info(&format!("updating stack {}: {}={}", s.stack_name, s.version_parameter, self.out.version_arn));
        }
        if !s.wait {
            self.out.stack_status = "UPDATE_IN_PROGRESS".into();
            log::info("not waiting (`wait: false`)");
            return Ok(());
        }
        if let Err(e) = self.wait_stack(&plan.stack.id, Operation::Update, since, &token).await {
            let distribution = plan.distribution.as_ref().map(|(id, _)| id.as_str());
            return Err(self.with_distribution_state(e, distribution, &plan.function.arn).await);
        }
        Ok(())
    }
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
        use crate::release::{Done, Release};
        use crate::report::Outputs;
        use crate::run::Phases;
        use crate::settings::Settings;

        const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";

        fn settings() -> Settings {
            let dir = std::env::temp_dir();
            let vars = [
                ("INPUT_FUNCTION-NAME", "edge"),
                ("INPUT_STACK-NAME", "site"),
                ("INPUT_ARTIFACT-BUCKET", "artifacts"),
                ("INPUT_SOURCE", dir.to_str().unwrap()),
            ];
            let raw = crate::inputs::read(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap().0;
            crate::settings::validate(raw).unwrap()
        }

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
            let settings = settings();
            let poll = Poll::fast(Duration::from_secs(10));
            let (mut phases, mut out) =
                (Phases::default(), Outputs { code_sha256: "abc=".into(), ..Outputs::default() });
            let mut release = Release {
                settings: &settings,
                clients: &clients,
                poll: &poll,
                phases: &mut phases,
                out: &mut out,
                done: Done::default(),
            };
            let object = Artifact { bucket: "artifacts".into(), key: "edge.zip".into(), version_id: "o1".into() };
            release.publish(&object, true).await
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
