//! Release: carries out the plan. Preflight looks, the plan decides (`plan.rs`), and the steps
//! here act, each on one `Release` that holds what every step reads (settings, clients, polling)
//! and what the run reports (its phases, its outputs, what it changed).
//!
//! `mod.rs`: the run from preflight to the plan, and the first launch; `update.rs`: the object, the
//! version and the stack update of a release or a rollback; `verify.rs`: CloudFront, the
//! invalidation and the check at the edge (with `rollback-on-failure`).

mod update;
mod verify;

use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;

use crate::artifact::{self, Artifact};
use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::function;
use crate::log;
use crate::package::{Package, Stop};
use crate::parameters::{self, Fill};
use crate::plan::{self, DryRun, Launch, Plan};
use crate::poll::Poll;
use crate::preflight;
use crate::report::Outputs;
use crate::run::{InFlight, Phases};
use crate::settings::Settings;
use crate::stack::{self, Operation};

const VERSION_TYPE: &str = "AWS::Lambda::Version";

/// One run's steps and what they read and report.
pub struct Release<'a> {
    settings: &'a Settings,
    clients: &'a Clients,
    poll: &'a Poll,
    phases: &'a mut Phases,
    out: &'a mut Outputs,
    done: Done,
}

/// What this run changed in AWS, from which the `changed` output follows.
#[derive(Default)]
struct Done {
    launched: bool,
    published: bool,
    stack_updated: bool,
}

/// Looks (preflight), decides (the plan) and acts. `out` is filled as facts become known, so that a
/// failure still reports what was done (a published version, say). `upload` is set by the
/// S3-triggered deployer: the code is then exactly that object version.
pub async fn run(
    settings: &Settings,
    clients: &Clients,
    poll: &Poll,
    phases: &mut Phases,
    out: &mut Outputs,
    upload: Option<Artifact>,
    stop: &Stop,
) -> Result<()> {
    out.s3_key = upload.as_ref().map(|a| a.key.clone()).unwrap_or_else(|| settings.artifact_key());
    phases.start("Preflight");
    let found = preflight::look_up(settings, clients, poll, stop, upload).await?;
    if let Some(p) = &found.package {
        out.code_sha256 = p.code_sha256.clone();
    }
    let plan = plan::plan(settings, found)?;
    let mut release = Release { settings, clients, poll, phases, out, done: Done::default() };
    release.execute(plan).await?;
    release.phases.end();
    Ok(())
}

impl Release<'_> {
    async fn execute(&mut self, plan: Plan) -> Result<()> {
        match plan {
            Plan::DryRun(d) => {
                self.dry_run(d);
                Ok(())
            }
            Plan::Launch(l) => self.launch(l).await,
            Plan::Update(u) => self.update(*u).await,
        }
    }

    fn dry_run(&mut self, d: DryRun) {
        log::info(&format!("dry run: would {}", d.would));
        self.out.first_launch = d.first_launch;
        self.out.changed = d.changes;
        if let Some(v) = &d.version {
            self.set_version(&v.arn);
            self.out.code_sha256 = v.code_sha256.clone();
        }
        if let Some(o) = d.object {
            self.out.s3_version_id = o.version_id;
        }
    }

    /// Sets `changed` from what was done, the one place that decides it.
    fn record(&mut self) {
        let d = &self.done;
        self.out.changed = d.launched || d.published || d.stack_updated;
    }

    fn set_version(&mut self, version_arn: &str) {
        self.out.version_arn = version_arn.to_owned();
        self.out.version = function::version_of(version_arn).unwrap_or_default().to_owned();
    }

    async fn upload(&mut self, package: &Package) -> Result<Artifact> {
        let s = self.settings;
        let owner = s.expected_bucket_owner.as_deref();
        let key = s.artifact_key();
        let a = artifact::upload_zip(
            &self.clients.s3,
            &s.artifact_bucket,
            owner,
            &key,
            &package.path,
            &package.code_sha256,
        )
        .await?;
        log::info(&format!("uploaded s3://{}/{} version {}", a.bucket, a.key, a.version_id));
        Ok(a)
    }

    /// The first launch: delete a failed one first if asked, upload, create the stack with the
    /// first-launch parameter set, wait, and read the version the stack published.
    async fn launch(&mut self, plan: Launch) -> Result<()> {
        let (s, c) = (self.settings, self.clients);
        self.out.first_launch = true;
        if let Some(failed) = &plan.recreate {
            self.phases.start("Delete failed stack");
            log::warn(&format!(
                "stack {} is in ROLLBACK_COMPLETE after a failed first launch; deleting it (`recreate-failed-stack`)",
                s.stack_name
            ));
            stack::delete(&c.cloudformation, self.poll, &s.stack_name, &failed.id, since_now()).await?;
        }
        self.phases.start("Upload");
        let template = preflight::upload_large_template(s, c, &plan.template).await?;
        let object = self.upload(&plan.package).await?;
        self.out.s3_version_id = object.version_id.clone();

        self.phases.start("Stack");
        let summary = crate::template::summarize(&c.cloudformation, &template, &s.stack_name).await?;
        let fill =
            Fill { first_launch: true, version_arn: None, artifact_object_version: Some(object.version_id.clone()) };
        let params = parameters::parameters(s, &summary, None, &fill)?;
        let since = since_now();
        let token = stack::new_token("create");
        let stack_id = stack::create(&c.cloudformation, s, &template, &params, &token).await?;
        log::info(&format!("creating stack {} ({stack_id})", s.stack_name));
        self.out.stack_id = stack_id.clone();
        self.done.launched = true;
        self.record();
        if !s.wait {
            self.out.stack_status = "CREATE_IN_PROGRESS".into();
            log::info("not waiting (`wait: false`): the version is known once the stack is complete");
            return Ok(());
        }
        self.wait_stack(&stack_id, Operation::Create, since, &token).await?;

        let function = function::get(&c.lambda, &s.function_name).await?.ok_or_else(|| {
            Error::failed(
                format!("stack {} was created, but function {} does not exist", s.stack_name, s.function_name),
                "The template's function must be named by the FunctionName parameter (FunctionName: !Ref FunctionName), or `function-name` must match the template's name for it.",
            )
        })?;
        self.out.function_arn = function.arn.clone();
        let versions: Vec<String> = stack::resources_of_type(&c.cloudformation, &stack_id, VERSION_TYPE)
            .await?
            .into_iter()
            .map(|(_, physical)| physical)
            .filter(|p| p.starts_with(&format!("{}:", function.arn)))
            .collect();
        let [version_arn] = versions.as_slice() else {
            return Err(Error::failed(
                format!(
                    "stack {} has {} AWS::Lambda::Version resource(s) of {}; expected one",
                    s.stack_name,
                    versions.len(),
                    s.function_name
                ),
                "The reference template creates exactly one version of the function at first launch (see examples/template.yaml).",
            ));
        };
        self.set_version(version_arn);
        let distribution = preflight::find_distribution(s, c, Some(&stack_id)).await?.map(|(id, _)| id);
        self.settle_distribution(distribution.as_deref(), &function).await?;
        self.check(None).await
    }

    /// Waits for a stack operation, recording it as in flight for an interruption to report; the
    /// final status, success or not, goes to the outputs.
    async fn wait_stack(&mut self, stack_id: &str, op: Operation, since: DateTime, token: &str) -> Result<String> {
        let (s, c) = (self.settings, self.clients);
        self.phases.in_flight =
            Some(InFlight { stack_name: s.stack_name.clone(), stack_id: stack_id.to_owned(), operation: op });
        let mut events = stack::EventLog::new(token, since);
        let status = stack::wait(&c.cloudformation, self.poll, &s.stack_name, stack_id, op, &mut events).await;
        self.phases.in_flight = None;
        match &status {
            Ok(st) | Err(Error::StackFailed { status: st, .. }) => self.out.stack_status = st.clone(),
            Err(_) => {}
        }
        status
    }
}

fn since_now() -> DateTime {
    // A little slack for clock skew between this machine and CloudFormation.
    DateTime::from(SystemTime::now() - Duration::from_secs(2))
}

/// An invariant that preflight and the plan guarantee, broken: a failure to report, never a panic
/// (which would abort the process, and in the deployer the Lambda runtime with it).
fn bug(what: &str) -> Error {
    Error::failed(
        format!("lambda-edge-deploy reached a state it should not: {what}"),
        "This is a bug: please report it with the log. Nothing more was changed.",
    )
}
