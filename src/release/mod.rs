//! Release: carries out the plan. Preflight looks, the plan decides (`plan.rs`), and the steps
//! here act, each on one `Release` that holds what every step reads (settings, clients, polling)
//! and what the run reports (its phases, its outputs, what it changed).
//!
//! `mod.rs`: the run from preflight to the plan, and the first launch; `update.rs`: each function's
//! object and version, and the one stack update of a release or a rollback; `verify.rs`: CloudFront,
//! the invalidation and the check at the edge (with `rollback-on-failure`).

mod review;
mod staged;
mod update;
mod verify;

use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use futures_util::future::join_all;

use crate::artifact::{self, Artifact};
use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::function::{self, FunctionInfo};
use crate::log;
use crate::package::{Package, Stop};
use crate::parameters::{self, Fill};
use crate::plan::{self, DryRun, Launch, Plan};
use crate::poll::Poll;
use crate::preflight;
use crate::prune;
use crate::report::{FunctionOutputs, Outputs};
use crate::run::{InFlight, Phases};
use crate::settings::{Mode, Settings};
use crate::stack::{self, Operation};

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
    *out = Outputs::of(&settings.functions, settings.several);
    for (f, o) in settings.functions.iter().zip(&mut out.functions) {
        o.s3_key = match &upload {
            Some(a) => a.key.clone(),
            None => settings.artifact_key(&f.name),
        };
    }
    out.mirror();
    if settings.mode == Mode::Prune {
        return prune_only(settings, clients, phases, out).await;
    }
    if let Mode::Execute(id) = &settings.mode {
        let mut release = Release { settings, clients, poll, phases, out, done: Done::default() };
        release.execute_change_set(id).await?;
        release.read_stack_outputs().await;
        if let Some(newest) = settings.keep_versions {
            release.phases.start("Prune");
            let pruned = prune::prune(settings, clients, newest, &[], false).await;
            release.out.pruned(&pruned);
        }
        release.phases.end();
        return Ok(());
    }
    phases.start("Preflight");
    let found = preflight::look_up(settings, clients, poll, stop, upload).await?;
    for (ff, o) in found.functions.iter().zip(&mut out.functions) {
        if let Some(p) = &ff.package {
            o.code_sha256 = p.code_sha256.clone();
        }
    }
    out.mirror();
    let plan = plan::plan(settings, found)?;
    // A dry run's release that would publish a function's version changes what pruning keeps.
    let publishing: Vec<bool> = match &plan {
        Plan::DryRun(d) if !d.first_launch && settings.mode == Mode::Release => {
            d.functions.iter().map(|f| d.changes && f.version.is_none()).collect()
        }
        _ => Vec::new(),
    };
    let mut release = Release { settings, clients, poll, phases, out, done: Done::default() };
    let writes = !matches!(plan, Plan::DryRun(_)) && !settings.plan;
    release.execute(plan).await?;
    if writes {
        release.read_stack_outputs().await;
    }
    if let Some(newest) = settings.keep_versions {
        release.phases.start("Prune");
        let pruned = prune::prune(settings, clients, newest, &publishing, settings.dry_run).await;
        release.out.pruned(&pruned);
    }
    release.phases.end();
    Ok(())
}

/// `prune-only`: no release, the clean-up alone.
async fn prune_only(settings: &Settings, clients: &Clients, phases: &mut Phases, out: &mut Outputs) -> Result<()> {
    let newest = settings.keep_versions.ok_or_else(|| bug("`prune-only` without `keep-versions`"))?;
    phases.start("Prune");
    let pruned = prune::only(settings, clients, newest).await?;
    out.pruned(&pruned);
    phases.end();
    Ok(())
}

impl Release<'_> {
    /// After a release: the stack's Outputs, for the jobs after this one. A stack still in
    /// progress (`wait: false`) has none to give yet; one that cannot be read is a warning, since
    /// the release itself is done.
    async fn read_stack_outputs(&mut self) {
        let s = self.settings;
        if !s.wait {
            return;
        }
        match stack::describe(&self.clients.cloudformation, &s.stack_name).await {
            Ok(Some(st)) => self.out.stack_outputs = st.outputs.into_iter().collect(),
            Ok(None) => {}
            Err(e) => log::warn(&format!(
                "the release is done, but the stack's outputs could not be read: {e}; the `stack-output-*` outputs are missing"
            )),
        }
    }

    async fn execute(&mut self, plan: Plan) -> Result<()> {
        match plan {
            Plan::DryRun(d) => {
                self.dry_run(d);
                Ok(())
            }
            Plan::Launch(l) => self.launch(l).await,
            Plan::Update(u) if matches!(self.settings.mode, Mode::Promote | Mode::Abort) => {
                self.finish_canary(*u).await
            }
            Plan::Update(u) => self.update(*u).await,
        }
    }

    fn dry_run(&mut self, d: DryRun) {
        log::info(&format!("dry run: would {}", d.would));
        self.out.first_launch = d.first_launch;
        self.out.changed = d.changes;
        for (i, f) in d.functions.into_iter().enumerate() {
            if let Some(v) = &f.version {
                self.set_version(i, &v.arn);
                self.function_out(i, |o| o.code_sha256 = v.code_sha256.clone());
            }
            if let Some(o) = f.object {
                self.function_out(i, |out| out.s3_version_id = o.version_id);
            }
        }
    }

    /// Sets `changed` from what was done, the one place that decides it.
    fn record(&mut self) {
        let d = &self.done;
        self.out.changed = d.launched || d.published || d.stack_updated;
    }

    /// Changes function `i`'s outputs (and the single-function ones that mirror them).
    fn function_out(&mut self, i: usize, change: impl FnOnce(&mut FunctionOutputs)) {
        if let Some(o) = self.out.functions.get_mut(i) {
            change(o);
        }
        self.out.mirror();
    }

    fn set_version(&mut self, i: usize, version_arn: &str) {
        let version = function::version_of(version_arn).unwrap_or_default().to_owned();
        self.function_out(i, |o| {
            o.version_arn = version_arn.to_owned();
            o.version = version;
        });
    }

    /// The version ARN each function will run, as far as this run knows it.
    fn version_arns(&self) -> Vec<String> {
        self.out.functions.iter().map(|f| f.version_arn.clone()).collect()
    }

    /// Uploads each package (side by side); their object versions, in order.
    async fn upload_all(&mut self, packages: &[(&str, &Package)]) -> Result<Vec<Artifact>> {
        let (s, c) = (self.settings, self.clients);
        let owner = s.expected_bucket_owner.as_deref();
        let uploads = packages.iter().map(|(name, package)| async move {
            let key = s.artifact_key(name);
            let a = artifact::upload_zip(&c.s3, &s.artifact_bucket, owner, &key, &package.path, &package.code_sha256)
                .await?;
            log::info(&format!("uploaded s3://{}/{} version {}", a.bucket, a.key, a.version_id));
            Ok::<_, Error>(a)
        });
        join_all(uploads).await.into_iter().collect()
    }

    /// The first launch: delete a failed one first if asked, upload every function's code, create the
    /// stack with the first-launch parameter set, wait, and read the versions the stack published.
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
        let packages: Vec<(&str, &Package)> = plan.packages.iter().map(|(f, p)| (f.name.as_str(), p)).collect();
        let objects = self.upload_all(&packages).await?;
        for (i, o) in objects.iter().enumerate() {
            self.function_out(i, |out| out.s3_version_id = o.version_id.clone());
        }

        self.phases.start("Stack");
        let summary = crate::template::summarize(&c.cloudformation, &template, &s.stack_name).await?;
        let object_versions: Vec<Option<String>> = objects.iter().map(|o| Some(o.version_id.clone())).collect();
        let fill = Fill::launch(&s.functions, &object_versions);
        let params = parameters::parameters(s, &summary, None, &fill)?;
        if s.plan {
            return self.plan_change_set(None, &template, &params).await;
        }
        let since = since_now();
        let token = stack::new_token("create");
        let stack_id = stack::create(&c.cloudformation, s, &template, &params, &token).await?;
        log::info(&format!("creating stack {} ({stack_id})", s.stack_name));
        self.out.stack_id = stack_id.clone();
        self.done.launched = true;
        self.record();
        for i in 0..s.functions.len() {
            self.function_out(i, |o| o.changed = true);
        }
        if !s.wait {
            self.out.stack_status = "CREATE_IN_PROGRESS".into();
            log::info("not waiting (`wait: false`): the versions are known once the stack is complete");
            return Ok(());
        }
        self.wait_stack(&stack_id, Operation::Create, since, &token).await?;

        let infos = self.read_launched(&stack_id).await?;
        self.settle_after(&stack_id, &infos, &format!("stack {} was created", s.stack_name)).await
    }

    /// After the stack operation `done` (a creation, an executed change set): the distribution to
    /// wait for, verify and check. A distribution it cannot choose is then a failure (exit 1), not a
    /// precondition: something was changed.
    async fn settle_after(&mut self, stack_id: &str, functions: &[FunctionInfo], done: &str) -> Result<()> {
        let distribution = preflight::find_distribution(self.settings, self.clients, Some(stack_id))
            .await
            .map_err(|e| match e {
                Error::Precondition { what, fix } => Error::failed(format!("{done}, but {what}"), fix),
                e => e,
            })?
            .map(|(id, _)| id);
        self.settle_distribution(distribution.as_deref(), functions).await?;
        self.check(None).await
    }

    /// After a first launch: each function, and the version the stack published of it (its
    /// `AWS::Lambda::Version`), into the outputs.
    async fn read_launched(&mut self, stack_id: &str) -> Result<Vec<FunctionInfo>> {
        let (s, c) = (self.settings, self.clients);
        let functions = join_all(s.functions.iter().map(|f| function::get(&c.lambda, &f.name))).await;
        let published: Vec<String> = stack::resources_of_type(&c.cloudformation, stack_id, preflight::VERSION_TYPE)
            .await?
            .into_iter()
            .map(|(_, physical)| physical)
            .collect();
        let mut infos = Vec::new();
        for (i, (f, function)) in s.functions.iter().zip(functions).enumerate() {
            let function = function?.ok_or_else(|| {
                Error::failed(
                    format!("stack {} was created, but function {} does not exist", s.stack_name, f.name),
                    "The template must create each function under the name the release gives it: `FunctionName: !Ref FunctionName` (one function), or `FunctionName: !Ref <Base>FunctionName` for version parameter `<Base>Version` (several).",
                )
            })?;
            let prefix = format!("{}:", function.arn);
            let versions: Vec<&String> = published.iter().filter(|p| p.starts_with(&prefix)).collect();
            let [version_arn] = versions.as_slice() else {
                return Err(Error::failed(
                    format!(
                        "stack {} has {} AWS::Lambda::Version resource(s) of {}; expected one",
                        s.stack_name,
                        versions.len(),
                        f.name
                    ),
                    "The first launch creates exactly one version of each function (see examples/template.yaml and examples/multi/template.yaml).",
                ));
            };
            self.set_version(i, version_arn);
            if !s.several {
                self.out.function_arn = function.arn.clone();
            }
            infos.push(function);
        }
        Ok(infos)
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

/// The function whose version a run sets, and that version: what the distribution must associate.
pub(crate) fn targets<'a>(functions: &'a [FunctionInfo], versions: &'a [String]) -> Vec<(&'a str, &'a str)> {
    functions.iter().zip(versions).map(|(f, v)| (f.arn.as_str(), v.as_str())).collect()
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
