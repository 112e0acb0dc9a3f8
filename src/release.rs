//! The release, step by step: preflight, then the first launch (create the stack), a release
//! (upload, update, publish, re-point the stack) or a rollback (re-point the stack at an older
//! version), then the distribution.

use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use tokio::time::Instant;

use crate::artifact::{self, Artifact};
use crate::aws::Clients;
use crate::check;
use crate::distribution;
use crate::error::{Error, Result};
use crate::function::{self, FunctionInfo};
use crate::inputs::{RollbackTarget, Settings};
use crate::log;
use crate::package::Package;
use crate::poll::Poll;
use crate::preflight::{self, Found, Preflight};
use crate::report::{CheckResult, Outputs, Timings};
use crate::stack::{self, Fill, Operation, StackInfo, Template, TemplateInfo};

const VERSION_TYPE: &str = "AWS::Lambda::Version";

/// What every step of one run reads: the settings, the clients and the poll timing.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    s: &'a Settings,
    c: &'a Clients,
    poll: &'a Poll,
}

/// A stack operation under way, for an interruption to report (and cancel).
#[derive(Debug, Clone)]
pub struct InFlight {
    pub stack_name: String,
    pub stack_id: String,
    pub operation: Operation,
}

/// The phases of a run: each a log group, each timed for the summary.
#[derive(Default)]
pub struct Phases {
    pub timings: Timings,
    current: Option<(&'static str, Instant, log::Group)>,
    pub in_flight: Option<InFlight>,
}

impl Phases {
    pub fn start(&mut self, name: &'static str) {
        self.end();
        let group = log::group(name);
        self.current = Some((name, Instant::now(), group));
    }

    pub fn end(&mut self) {
        if let Some((name, started, group)) = self.current.take() {
            self.timings.0.push((name, started.elapsed()));
            drop(group);
        }
    }

    /// The phase in progress, for a message on timeout or interruption.
    pub fn current(&self) -> Option<&'static str> {
        self.current.as_ref().map(|(n, _, _)| *n)
    }
}

/// Runs the whole release. `out` is filled as facts become known, so that a failure still reports
/// what was done (a published version, say). `object` is set by the S3-triggered deployer: the code
/// is then exactly that object version, and nothing is packaged or uploaded.
pub async fn run(
    s: &Settings,
    c: &Clients,
    poll: &Poll,
    phases: &mut Phases,
    out: &mut Outputs,
    object: Option<Artifact>,
    stop: &crate::package::Stop,
) -> Result<()> {
    out.s3_key = s.artifact_key();

    let x = Ctx { s, c, poll };
    phases.start("Preflight");
    let mut pf = Preflight::default();
    let found = preflight::look_up(s, c, poll, &mut pf, stop).await?;
    if let Some(p) = &found.package {
        out.code_sha256 = p.code_sha256.clone();
        log::info(&format!("packaged {} file(s): {} bytes, CodeSha256 {}", p.files, p.size, p.code_sha256));
    }
    let stack = found.stack.clone();
    match stack {
        _ if s.rollback_to.is_some() => rollback(x, phases, out, found, pf).await,
        None if object.is_some() => {
            pf.push(Error::precondition(
                format!("stack {} does not exist: the deployer releases into an existing stack", s.stack_name),
                "Launch the stack first (with the action, the CLI or the console), or fix the deployer's INPUT_STACK_NAME.",
            ));
            pf.finish()
        }
        None => first_launch(x, phases, out, found, pf, None).await,
        Some(st) if st.status == "ROLLBACK_COMPLETE" && s.recreate_failed_stack => {
            first_launch(x, phases, out, found, pf, Some(st)).await
        }
        Some(st) => match stack::check_updatable(&s.stack_name, &st.status) {
            // A dead stack explains everything else that looks wrong (its function rolled back too).
            Err(e) => {
                pf.push(e);
                pf.finish()
            }
            Ok(()) => release(x, phases, out, found, pf, st, object).await,
        },
    }?;
    phases.end();
    Ok(())
}

fn since_now() -> DateTime {
    // A little slack for clock skew between this machine and CloudFormation.
    DateTime::from(SystemTime::now() - Duration::from_secs(2))
}

async fn first_launch(
    x: Ctx<'_>,
    phases: &mut Phases,
    out: &mut Outputs,
    found: Found,
    mut pf: Preflight,
    failed: Option<StackInfo>,
) -> Result<()> {
    let Ctx { s, c, poll } = x;
    let template = match &found.template {
        Template::Previous => {
            pf.push(Error::precondition(
                format!("stack {} does not exist, and no template was given to create it", s.stack_name),
                "Give `template` (or `template-url`) for the first launch, or fix `stack-name` if the stack exists under another name.",
            ));
            return pf.finish();
        }
        t => t.clone(),
    };
    let info = pf.take(stack::summarize(&c.cloudformation, &template, &s.stack_name).await)?.unwrap_or_default();
    pf.take(preflight::require_parameters(s, &info))?;
    pf.take(preflight::require_capabilities(s, &info))?;
    if found.function.is_some() && info.has_resource("AWS::Lambda::Function") {
        pf.push(Error::precondition(
            format!(
                "function {} already exists, but stack {} does not: the template would create the function again and fail",
                s.function_name, s.stack_name
            ),
            "Delete the function (or import it into the stack), or use another `function-name` for the new stack.",
        ));
    }
    if s.wait && s.distribution_id.is_none() && !info.has_resource(preflight::DISTRIBUTION_TYPE) {
        pf.push(preflight::no_distribution(s));
    }
    // Checked now, with a stand-in object version, so that a missing parameter fails before the upload.
    let pending = Fill { first_launch: true, version_arn: None, artifact_object_version: Some("pending".into()) };
    pf.take(stack::parameters(s, &info, None, &pending))?;
    pf.finish()?;
    let Some(package) = found.package.as_ref() else { return Err(bug("a first launch without a package")) };
    out.first_launch = true;
    if s.dry_run {
        log::info(&format!(
            "dry run: would upload s3://{}/{} and create stack {} ({}=true)",
            s.artifact_bucket, out.s3_key, s.stack_name, s.first_launch_parameter
        ));
        out.changed = true;
        return Ok(());
    }
    if let Some(st) = failed {
        phases.start("Delete failed stack");
        log::warn(&format!(
            "stack {} is in ROLLBACK_COMPLETE after a failed first launch; deleting it (`recreate-failed-stack`)",
            s.stack_name
        ));
        stack::delete(&c.cloudformation, poll, &s.stack_name, &st.id, since_now()).await?;
    }

    phases.start("Upload");
    let template = preflight::upload_large_template(s, c, &template).await?;
    let artifact = upload(s, c, package).await?;
    out.s3_version_id = artifact.version_id.clone();

    phases.start("Stack");
    let fill = Fill { artifact_object_version: Some(artifact.version_id.clone()), ..pending };
    let params = stack::parameters(s, &info, None, &fill)?;
    let since = since_now();
    let token = stack::new_token("create");
    let stack_id = stack::create(&c.cloudformation, s, &template, &params, &token).await?;
    log::info(&format!("creating stack {} ({stack_id})", s.stack_name));
    out.stack_id = stack_id.clone();
    out.changed = true;
    if !s.wait {
        out.stack_status = "CREATE_IN_PROGRESS".into();
        log::info("not waiting (`wait: false`): the version is known once the stack is complete");
        return Ok(());
    }
    wait_stack(x, phases, out, &stack_id, Operation::Create, since, &token).await?;

    let function = function::get(&c.lambda, &s.function_name).await?.ok_or_else(|| {
        Error::failed(
            format!("stack {} was created, but function {} does not exist", s.stack_name, s.function_name),
            "The template's function must be named by the FunctionName parameter (FunctionName: !Ref FunctionName), or `function-name` must match the template's name for it.",
        )
    })?;
    out.function_arn = function.arn.clone();
    let versions: Vec<String> = stack::resources_of_type(&c.cloudformation, &stack_id, VERSION_TYPE)
        .await?
        .into_iter()
        .map(|(_, physical)| physical)
        .filter(|p| p.starts_with(&format!("{}:", function.arn)))
        .collect();
    let version_arn = match versions.as_slice() {
        [one] => one.clone(),
        _ => {
            return Err(Error::failed(
                format!(
                    "stack {} has {} AWS::Lambda::Version resource(s) of {}; expected one",
                    s.stack_name,
                    versions.len(),
                    s.function_name
                ),
                "The reference template creates exactly one version of the function at first launch (see examples/template.yaml).",
            ))
        }
    };
    set_version(out, &version_arn);
    distribution_phase(x, phases, out, &stack_id, &function.arn).await?;
    check_phase(x, phases, out, None).await
}

/// The state of a stack and function that a release or rollback starts from.
#[derive(Clone)]
struct Current {
    stack: StackInfo,
    function: FunctionInfo,
    template: TemplateInfo,
    distribution_id: Option<String>,
    distribution: Option<distribution::DistributionInfo>,
    live: Option<String>,
    /// What this release changes in the stack besides the version (the template, a parameter), so
    /// that `rollback-on-failure` knows when re-pointing the version would not undo it. Only looked
    /// at when the inputs ask for that rollback.
    other_changes: Vec<String>,
}

/// Checks common to a release and a rollback: the function, the template's parameters, the
/// distribution and the version it runs.
async fn current(
    s: &Settings,
    c: &Clients,
    found: &Found,
    pf: &mut Preflight,
    st: StackInfo,
) -> Result<Option<Current>> {
    let Some(function) = found.function.clone() else {
        pf.push(Error::precondition(
            format!("function {} does not exist, but stack {} does", s.function_name, s.stack_name),
            if s.code_from_event {
                "The zip's key names the function: upload it as `<artifact-prefix><function-name>.zip`, with the stack's function name (its FunctionName parameter)."
            } else {
                "Fix `function-name` to name the stack's function (see the stack's FunctionName parameter)."
            },
        ));
        return Ok(None);
    };
    let template = pf.take(stack::summarize(&c.cloudformation, &found.template, &s.stack_name).await)?;
    if let Some(t) = &template {
        pf.take(preflight::require_parameters(s, t))?;
        pf.take(preflight::require_capabilities(s, t))?;
    }
    if let Some(named) = st.parameter("FunctionName") {
        if named != s.function_name && !s.parameters.iter().any(|(k, _)| k == "FunctionName") {
            pf.push(Error::precondition(
                format!(
                    "stack {} runs function {named} (its FunctionName parameter), not {}",
                    s.stack_name, s.function_name
                ),
                "Fix `function-name` or `stack-name`: they must name the same release.",
            ));
        }
    }
    let distribution_id = pf.take(preflight::find_distribution(s, c, &st.id).await)?.flatten();
    let distribution = match &distribution_id {
        Some(id) => pf.take(distribution::get(&c.cloudfront, id).await)?,
        None => None,
    };
    let live = preflight::live_version(s, &st, distribution.as_ref(), &function.arn);
    let other_changes = match (&s.check, s.rollback_on_failure) {
        (Some(_), true) => pf.take(other_changes(s, c, &found.template, &st).await)?.unwrap_or_default(),
        _ => Vec::new(),
    };
    Ok(template.map(|template| Current {
        stack: st,
        function,
        template,
        distribution_id,
        distribution,
        live,
        other_changes,
    }))
}

/// What a release with these inputs changes in the stack besides the version and the code's object:
/// the template when it differs from the stack's, and each given parameter whose value differs.
async fn other_changes(s: &Settings, c: &Clients, template: &Template, st: &StackInfo) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    let given = match template {
        Template::Body(body) | Template::Large { body, .. } => Some(body),
        Template::Url(_) => {
            changes.push("the template (given by URL, which this run does not compare)".to_owned());
            None
        }
        Template::Previous => None,
    };
    if let Some(body) = given {
        if !stack::same_template(&stack::template_body(&c.cloudformation, &st.id).await?, body) {
            changes.push("the template".to_owned());
        }
    }
    for (key, value) in &s.parameters {
        if st.parameter(key) != Some(value.as_str()) {
            changes.push(format!("parameter {key}"));
        }
    }
    Ok(changes)
}

fn describe_current(out: &mut Outputs, cur: &Current) {
    out.stack_id = cur.stack.id.clone();
    out.stack_status = cur.stack.status.clone();
    out.function_arn = cur.function.arn.clone();
    if let (Some(id), Some(d)) = (&cur.distribution_id, &cur.distribution) {
        out.distribution_id = id.clone();
        out.distribution_domain = d.domain.clone();
    }
}

async fn release(
    x: Ctx<'_>,
    phases: &mut Phases,
    out: &mut Outputs,
    found: Found,
    mut pf: Preflight,
    st: StackInfo,
    object: Option<Artifact>,
) -> Result<()> {
    let Ctx { s, c, .. } = x;
    let cur = current(s, c, &found, &mut pf, st).await?;
    if let Some(cur) = &cur {
        // Checked now, with stand-ins for what the release will know, so that a bad value fails
        // before the upload and the publish.
        let pending = Fill {
            first_launch: false,
            version_arn: Some("pending".into()),
            artifact_object_version: Some("pending".into()),
        };
        pf.take(stack::parameters(s, &cur.template, Some(&cur.stack), &pending))?;
    }
    pf.finish()?;
    let Some(cur) = cur else { return Err(bug("preflight passed without the stack's state")) };
    describe_current(out, &cur);
    let Some(package) = found.package.as_ref() else {
        let Some(object) = object else { return Err(bug("a release without a package or an S3 object")) };
        return release_object(x, phases, out, &cur, &found.template, object).await;
    };
    if let Some(d) = &cur.distribution {
        preflight::warn_viewer_size(d, &cur.function.arn, package);
    }
    let live_sha = match &cur.live {
        Some(arn) => function::get(&c.lambda, arn).await?.map(|v| v.code_sha256),
        None => None,
    };
    let sha = &package.code_sha256;
    let latest_current = cur.function.code_sha256 == *sha;
    let live_current = live_sha.as_deref() == Some(sha.as_str());
    let owner = s.expected_bucket_owner.as_deref();
    // With nothing but the code to release, unchanged code means nothing to do; a template,
    // parameters or tags given may still change the stack.
    let stack_inputs = s.template.is_some() || !s.parameters.is_empty() || !s.tags.is_empty();
    if let Some(live) = cur.live.clone().filter(|_| !s.force && latest_current && live_current && !stack_inputs) {
        log::info(&format!("the code is unchanged: {live} already runs CodeSha256 {sha}; nothing to publish"));
        set_version(out, &live);
        if let Some(a) = artifact::find_zip(&c.s3, &s.artifact_bucket, owner, &out.s3_key, sha).await? {
            out.s3_version_id = a.version_id;
        }
        if s.dry_run || !s.wait {
            return Ok(());
        }
        // Done only when every step the inputs ask for is: an earlier run may have stopped after its
        // stack update (interrupted, or `wait: false`), before CloudFront deployed, the invalidation
        // or the check. Each is looked at (and finished) from what AWS says now.
        distribution_phase(x, phases, out, &cur.stack.id, &cur.function.arn).await?;
        return check_phase(x, phases, out, Some(&cur)).await;
    }
    if s.dry_run {
        let what = if latest_current && live_current {
            "update the stack only (the code is unchanged)"
        } else {
            "upload, update the function, publish a version and update the stack"
        };
        log::info(&format!("dry run: would {what}"));
        out.changed = true;
        return Ok(());
    }

    phases.start("Upload");
    let existing = if latest_current && !s.force {
        artifact::find_zip(&c.s3, &s.artifact_bucket, owner, &out.s3_key, sha).await?
    } else {
        None
    };
    let artifact = match existing {
        Some(a) => {
            log::info(&format!("s3://{}/{} version {} already holds this code", a.bucket, a.key, a.version_id));
            a
        }
        None => upload(s, c, package).await?,
    };
    out.s3_version_id = artifact.version_id.clone();

    phases.start("Function");
    let reuse_live = live_current && !s.force;
    let version = match cur.live.clone().filter(|_| reuse_live) {
        Some(arn) => FunctionInfo {
            version: function::version_of(&arn).unwrap_or_default().to_owned(),
            arn,
            code_sha256: sha.clone(),
            ..Default::default()
        },
        None => publish(x, &artifact, Some(sha.as_str()), latest_current && !s.force).await?,
    };
    set_version(out, &version.arn);
    out.changed = cur.live.as_deref() != Some(version.arn.as_str());

    let fill = Fill {
        first_launch: false,
        version_arn: Some(version.arn.clone()),
        artifact_object_version: Some(artifact.version_id.clone()),
    };
    repoint(x, phases, out, &cur, &found.template, &fill).await?;
    check_phase(x, phases, out, Some(&cur)).await
}

/// Checks the site at the edge. When the check fails and `rollback-on-failure` is set, the stack is
/// re-pointed at the version that was live before this release (`cur.live`), and the run still fails.
/// Re-pointing undoes a release only when the version was all it changed: otherwise it says so and
/// rolls nothing back.
async fn check_phase(x: Ctx<'_>, phases: &mut Phases, out: &mut Outputs, cur: Option<&Current>) -> Result<()> {
    let Ctx { s, c, .. } = x;
    // `wait: false` with `check-url` is an input error: the check follows the deployment.
    let Some(spec) = s.check.as_ref().filter(|_| s.wait) else { return Ok(()) };
    phases.start("Check");
    // A first launch has a new distribution: nothing from an older version is cached there.
    if cur.is_some() {
        clear_cached_check_path(x, out, spec).await?;
    }
    let seen = check::run(spec, &out.distribution_domain).await?;
    let seen = match seen {
        Ok(seen) => {
            out.check_result = CheckResult::Passed;
            out.check_detail = seen.describe();
            log::info(&format!("check passed: {}", out.check_detail));
            return Ok(());
        }
        Err(seen) => seen,
    };
    out.check_result = CheckResult::Failed;
    out.check_detail = seen.describe();
    let what = format!("the check at the edge failed: {}", out.check_detail);
    let fix = "Fix the code (or the check's expectations) and release again; `rollback-to: previous` restores the version before.";
    let previous = cur.and_then(|cur| cur.live.clone().map(|live| (cur, live)));
    let Some((cur, live)) = previous.filter(|_| s.rollback_on_failure) else {
        let what =
            if s.rollback_on_failure { format!("{what}; there is no earlier version to roll back to") } else { what };
        return Err(Error::failed(what, fix));
    };
    let failed_version = out.version_arn.clone();
    let by_hand = format!(
        "Put the stack back by hand: release the previous template and parameters with the previous code, or re-point the version alone with `rollback-to: {live}` (the other changes stay); then fix the release and run it again."
    );
    if live == failed_version && !out.changed {
        return Err(Error::failed(
            format!("{what}; this run released nothing (the distribution already ran {live}), so there is nothing to roll back"),
            "Re-point the stack at the version before with `rollback-to: previous`, or fix the code and release again. (A run that finds the code unchanged still checks the site: an earlier run may have stopped before its check.)",
        ));
    }
    if live == failed_version {
        return Err(Error::failed(
            format!("{what}; `rollback-on-failure` has nothing to re-point: the distribution ran {live} before this release too, so what changed is the stack's template or parameters, which re-pointing the version cannot undo. Nothing was rolled back"),
            by_hand,
        ));
    }
    if !cur.other_changes.is_empty() {
        return Err(Error::failed(
            format!(
                "{what}; `rollback-on-failure` re-points only the function's version, and this release also changed {}: nothing was rolled back, the distribution runs {failed_version}",
                cur.other_changes.join(", ")
            ),
            by_hand,
        ));
    }
    log::warn(&format!("{what}; rolling back to {live} (`rollback-on-failure`)"));
    // The release changed the stack's parameters: start from what it has now.
    let stack = stack::describe(&c.cloudformation, &s.stack_name).await?.ok_or_else(|| {
        Error::failed(
            format!("stack {} disappeared during the release", s.stack_name),
            "Check the stack in the console.",
        )
    })?;
    let now = Current { stack, ..cur.clone() };
    set_version(out, &live);
    let fill = Fill { first_launch: false, version_arn: Some(live.clone()), artifact_object_version: None };
    let rolled_back = async {
        repoint(x, phases, out, &now, &Template::Previous, &fill).await?;
        // The failed version's answers may be cached now, under the check's path as under any other.
        clear_cached_check_path(x, out, spec).await
    };
    rolled_back
        .await
        .map_err(|e| Error::failed(format!("{what}; rolling back to {live} failed too: {e}"), e.help()))?;
    out.check_result = CheckResult::RolledBack;
    // Every output now describes the version the site runs again, not a mix of the two.
    out.code_sha256 = function::get(&c.lambda, &live).await?.map(|v| v.code_sha256).unwrap_or_default();
    out.s3_version_id = cur.stack.parameter("ArtifactObjectVersion").unwrap_or_default().to_owned();
    Err(Error::failed(
        format!("{what}. The release of {failed_version} was rolled back: the distribution runs {live} again"),
        fix,
    ))
}

/// CloudFront answers a cached path from its cache whatever the query string when the cache key
/// leaves query strings out (Managed-CachingOptimized does), and an origin-request function runs only
/// on a miss: the check's cache-busting parameter would then see the version before. So the check's
/// path is invalidated first, unless `invalidation-paths` already did it or CloudFront would not cache it.
async fn clear_cached_check_path(x: Ctx<'_>, out: &Outputs, spec: &check::CheckSpec) -> Result<()> {
    let Ctx { s, c, poll } = x;
    if out.distribution_id.is_empty() {
        return Ok(());
    }
    let Some(path) = check::path_of(&spec.url, &out.distribution_domain) else { return Ok(()) };
    if distribution::covers(&s.invalidation_paths, &path) {
        return Ok(());
    }
    let info = distribution::get(&c.cloudfront, &out.distribution_id).await?;
    let Some(behavior) = distribution::behavior_for(&info, &path) else { return Ok(()) };
    let distribution::Caching::PathOnly(policy) = distribution::caching(&c.cloudfront, behavior).await else {
        return Ok(());
    };
    log::info(&format!(
        "CloudFront caches {path} by its path alone ({policy}): an answer cached from the version before would hide the new one, so {path} is invalidated before the check"
    ));
    let inv = distribution::invalidate(&c.cloudfront, poll, &out.distribution_id, std::slice::from_ref(&path)).await?;
    log::info(&format!("invalidation {inv} of {path} completed"));
    Ok(())
}

/// The deployer's release: the function is updated from exactly the object version the S3 event
/// names (not the newest one), published, and the stack re-pointed.
async fn release_object(
    x: Ctx<'_>,
    phases: &mut Phases,
    out: &mut Outputs,
    cur: &Current,
    template: &Template,
    object: Artifact,
) -> Result<()> {
    let Ctx { s, .. } = x;
    out.s3_key = object.key.clone();
    out.s3_version_id = object.version_id.clone();
    if s.dry_run {
        log::info(&format!(
            "dry run: would release s3://{}/{} version {}",
            object.bucket, object.key, object.version_id
        ));
        return Ok(());
    }
    phases.start("Function");
    let version = publish(x, &object, None, false).await?;
    out.code_sha256 = version.code_sha256.clone();
    set_version(out, &version.arn);
    out.changed = cur.live.as_deref() != Some(version.arn.as_str());
    let fill = Fill {
        first_launch: false,
        version_arn: Some(version.arn.clone()),
        artifact_object_version: Some(object.version_id.clone()),
    };
    repoint(x, phases, out, cur, template, &fill).await?;
    check_phase(x, phases, out, Some(cur)).await
}

/// Re-points the stack at a version already published: `rollback-to`.
async fn rollback(x: Ctx<'_>, phases: &mut Phases, out: &mut Outputs, found: Found, mut pf: Preflight) -> Result<()> {
    let Ctx { s, c, .. } = x;
    let Some(st) = found.stack.clone() else {
        pf.push(Error::precondition(
            format!("stack {} does not exist: there is nothing to roll back", s.stack_name),
            "Fix `stack-name`; `rollback-to` re-points an existing stack at an already published version.",
        ));
        return pf.finish();
    };
    if let Err(e) = stack::check_updatable(&s.stack_name, &st.status) {
        pf.push(e);
        return pf.finish();
    }
    let Some(to) = s.rollback_to.as_ref() else { return Err(bug("a rollback without `rollback-to`")) };
    let cur = current(s, c, &found, &mut pf, st).await?;
    let target = match &cur {
        Some(cur) => pf.take(resolve_rollback(s, c, cur, to).await)?,
        None => None,
    };
    pf.finish()?;
    let (Some(cur), Some(target)) = (cur, target) else {
        return Err(bug("preflight passed without a rollback target"));
    };
    describe_current(out, &cur);
    set_version(out, &target.arn);
    out.code_sha256 = target.code_sha256.clone();
    if cur.live.as_deref() == Some(target.arn.as_str()) {
        log::info(&format!("the distribution already runs {}; nothing to do", target.arn));
        return Ok(());
    }
    log::info(&format!("rolling back from {} to {}", cur.live.as_deref().unwrap_or("an unknown version"), target.arn));
    if s.dry_run {
        log::info("dry run: would update the stack to run that version");
        out.changed = true;
        return Ok(());
    }
    out.changed = true;
    let fill = Fill { first_launch: false, version_arn: Some(target.arn.clone()), artifact_object_version: None };
    repoint(x, phases, out, &cur, &Template::Previous, &fill).await
}

/// The version `rollback-to` names, which must be a published version of this function.
async fn resolve_rollback(s: &Settings, c: &Clients, cur: &Current, to: &RollbackTarget) -> Result<FunctionInfo> {
    let fn_arn = &cur.function.arn;
    let arn = match to {
        RollbackTarget::Arn(a) => a.clone(),
        RollbackTarget::Number(n) => format!("{fn_arn}:{n}"),
        RollbackTarget::Previous => {
            let live = cur.live.as_deref().and_then(function::version_of).and_then(|v| v.parse::<u64>().ok());
            let Some(live) = live else {
                return Err(Error::precondition(
                    format!("cannot tell which version of {} the distribution runs now", s.function_name),
                    "Give `rollback-to` a version number or version ARN instead of `previous`.",
                ));
            };
            let previous =
                function::published_numbers(&c.lambda, &s.function_name).await?.into_iter().filter(|n| *n < live).max();
            match previous {
                Some(n) => format!("{fn_arn}:{n}"),
                None => {
                    return Err(Error::precondition(
                        format!(
                            "version {live} of {} is the first one published: there is no previous version",
                            s.function_name
                        ),
                        "Nothing to roll back to; release a fixed version instead.",
                    ))
                }
            }
        }
    };
    if !arn.starts_with(&format!("{fn_arn}:")) {
        return Err(Error::precondition(
            format!("`rollback-to` names {arn}, which is not a version of {fn_arn}"),
            "Give a version of the stack's function (see its versions in the Lambda console).",
        ));
    }
    function::get(&c.lambda, &arn).await?.ok_or_else(|| {
        Error::precondition(
            format!("version {arn} does not exist"),
            format!(
                "List the published versions (aws lambda list-versions-by-function --function-name {}) and pick one.",
                s.function_name
            ),
        )
    })
}

/// Updates the stack with the version and waits, then waits for the distribution and verifies it.
async fn repoint(
    x: Ctx<'_>,
    phases: &mut Phases,
    out: &mut Outputs,
    cur: &Current,
    template: &Template,
    fill: &Fill,
) -> Result<()> {
    let Ctx { s, c, .. } = x;
    phases.start("Stack");
    let params = stack::parameters(s, &cur.template, Some(&cur.stack), fill)?;
    let template = preflight::upload_large_template(s, c, template).await?;
    let since = since_now();
    let token = stack::new_token("update");
    let started = stack::update(&c.cloudformation, s, &template, &params, &token).await?;
    if !started {
        log::info(&format!("stack {}: no updates are to be performed", s.stack_name));
    } else {
        out.changed = true;
        log::info(&format!("updating stack {}: {}={}", s.stack_name, s.version_parameter, out.version_arn));
        if !s.wait {
            out.stack_status = "UPDATE_IN_PROGRESS".into();
            log::info("not waiting (`wait: false`)");
            return Ok(());
        }
        let waited = wait_stack(x, phases, out, &cur.stack.id, Operation::Update, since, &token).await;
        if let Err(e) = waited {
            return Err(with_distribution_state(c, e, cur.distribution_id.as_deref(), &cur.function.arn).await);
        }
    }
    if !s.wait {
        return Ok(());
    }
    distribution_phase(x, phases, out, &cur.stack.id, &cur.function.arn).await
}

/// Waits for a stack operation, recording it as in flight for an interruption to report; the final
/// status, success or not, goes to the outputs.
async fn wait_stack(
    x: Ctx<'_>,
    phases: &mut Phases,
    out: &mut Outputs,
    stack_id: &str,
    op: Operation,
    since: DateTime,
    token: &str,
) -> Result<String> {
    let Ctx { s, c, poll } = x;
    phases.in_flight =
        Some(InFlight { stack_name: s.stack_name.clone(), stack_id: stack_id.to_owned(), operation: op });
    let mut events = stack::EventLog::new(token, since);
    let status = stack::wait(&c.cloudformation, poll, &s.stack_name, stack_id, op, &mut events).await;
    phases.in_flight = None;
    match &status {
        Ok(st) | Err(Error::StackFailed { status: st, .. }) => out.stack_status = st.clone(),
        Err(_) => {}
    }
    status
}

/// Adds to a failed stack operation what the distribution runs now, so the user knows what the
/// site serves.
async fn with_distribution_state(c: &Clients, e: Error, distribution_id: Option<&str>, function_arn: &str) -> Error {
    let Error::StackFailed { stack, status, reasons, mut notes } = e else { return e };
    if let Some(id) = distribution_id {
        notes.push(match distribution::get(&c.cloudfront, id).await {
            Ok(d) => {
                let runs: Vec<String> =
                    distribution::versions_of(&d, function_arn).iter().map(|a| a.arn.clone()).collect();
                format!(
                    "distribution {id} is {} and runs {}",
                    d.status,
                    if runs.is_empty() { "no version of the function".into() } else { runs.join(", ") }
                )
            }
            Err(err) => format!("the state of distribution {id} could not be read: {err}"),
        });
    }
    Error::StackFailed { stack, status, reasons, notes }
}

/// Updates `$LATEST` from the artifact (unless it already holds the code), then publishes it, or
/// reuses a version published earlier from the same code (a run stopped before its stack update).
/// `sha` is the code's hash when this run packaged it; the deployer's code is hashed by Lambda.
async fn publish(x: Ctx<'_>, artifact: &Artifact, sha: Option<&str>, latest_current: bool) -> Result<FunctionInfo> {
    let Ctx { s, c, poll, .. } = x;
    let latest = if latest_current {
        function::wait_ready(&c.lambda, poll, &s.function_name).await?
    } else {
        log::info(&format!(
            "updating {} from s3://{}/{} version {}",
            s.function_name, artifact.bucket, artifact.key, artifact.version_id
        ));
        function::update_code(&c.lambda, poll, &s.function_name, artifact).await?
    };
    let sha = sha.unwrap_or(&latest.code_sha256);
    if latest.code_sha256 != sha {
        return Err(Error::failed(
            format!(
                "after the update, {} has CodeSha256 {} where the uploaded zip has {sha}",
                s.function_name, latest.code_sha256
            ),
            "Another deploy changed the function meanwhile: let it finish and run again (use `concurrency:` to serialise releases).",
        ));
    }
    if latest_current {
        if let Some(v) = function::find_published(&c.lambda, &s.function_name, sha).await? {
            log::info(&format!("reusing version {} published earlier from the same code", v.version));
            return Ok(v);
        }
    }
    let v = match function::publish(&c.lambda, poll, &s.function_name, &latest).await {
        Ok(v) => v,
        // A retried PublishVersion whose first answer was lost finds $LATEST's revision moved on:
        // the version it published is there, with this code.
        Err(e @ Error::PublishRaced { .. }) => {
            match function::find_published(&c.lambda, &s.function_name, sha).await? {
                Some(v) if function::get(&c.lambda, &s.function_name).await?.is_some_and(|l| l.code_sha256 == sha) => {
                    log::info(&format!("version {} was published with this code; using it", v.version));
                    v
                }
                _ => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    log::info(&format!("published version {} ({})", v.version, v.arn));
    Ok(v)
}

async fn upload(s: &Settings, c: &Clients, package: &Package) -> Result<Artifact> {
    let owner = s.expected_bucket_owner.as_deref();
    let a =
        artifact::upload_zip(&c.s3, &s.artifact_bucket, owner, &s.artifact_key(), &package.path, &package.code_sha256)
            .await?;
    log::info(&format!("uploaded s3://{}/{} version {}", a.bucket, a.key, a.version_id));
    Ok(a)
}

fn set_version(out: &mut Outputs, version_arn: &str) {
    out.version_arn = version_arn.to_owned();
    out.version = function::version_of(version_arn).unwrap_or_default().to_owned();
}

async fn distribution_phase(
    x: Ctx<'_>,
    phases: &mut Phases,
    out: &mut Outputs,
    stack_id: &str,
    function_arn: &str,
) -> Result<()> {
    let Ctx { s, c, poll } = x;
    phases.start("Distribution");
    let Some(id) = preflight::find_distribution(s, c, stack_id).await? else { return Ok(()) };
    out.distribution_id = id.clone();
    let info = distribution::wait_deployed(&c.cloudfront, poll, &id).await?;
    out.distribution_domain = info.domain.clone();
    distribution::verify(&id, &info, function_arn, &out.version_arn)?;
    log::info(&format!("distribution {id} is Deployed and runs {}", out.version_arn));
    if !s.invalidation_paths.is_empty() {
        phases.start("Invalidation");
        let paths = s.invalidation_paths.join(", ");
        let done = distribution::invalidated_since(&c.cloudfront, poll, &id, &s.invalidation_paths, info.last_modified)
            .await?;
        let inv = match done {
            Some(inv) => {
                log::info(&format!(
                    "invalidation {inv} of {paths} was made after the distribution last changed; not repeated"
                ));
                inv
            }
            None => {
                let inv = distribution::invalidate(&c.cloudfront, poll, &id, &s.invalidation_paths).await?;
                log::info(&format!("invalidation {inv} of {paths} completed"));
                inv
            }
        };
        out.invalidation_id = inv;
    }
    Ok(())
}

/// An invariant that preflight guarantees, broken: a failure to report, never a panic (which would
/// abort the process, and in the deployer the Lambda runtime with it).
fn bug(what: &str) -> Error {
    Error::failed(
        format!("lambda-edge-deploy reached a state it should not: {what}"),
        "This is a bug: please report it with the log. Nothing more was changed.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // What the emulator cannot produce: a version Lambda publishes and then reports Failed.
    mod mocked {
        use super::*;
        use aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput;
        use aws_sdk_lambda::operation::list_versions_by_function::ListVersionsByFunctionOutput;
        use aws_sdk_lambda::operation::publish_version::PublishVersionOutput;
        use aws_sdk_lambda::operation::update_function_code::UpdateFunctionCodeOutput;
        use aws_sdk_lambda::types::{FunctionConfiguration, LastUpdateStatus, Runtime, State};
        use aws_smithy_mocks::{mock, mock_client, RuleMode};

        const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";

        fn settings() -> Settings {
            let dir = std::env::temp_dir();
            let vars = [
                ("INPUT_FUNCTION-NAME", "edge"),
                ("INPUT_STACK-NAME", "site"),
                ("INPUT_ARTIFACT-BUCKET", "artifacts"),
                ("INPUT_SOURCE", dir.to_str().unwrap()),
            ];
            crate::inputs::validate(
                crate::inputs::read(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap().0,
            )
            .unwrap()
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
            let list = mock!(aws_sdk_lambda::Client::list_versions_by_function).then_output(|| {
                ListVersionsByFunctionOutput::builder()
                    .versions(
                        FunctionConfiguration::builder()
                            .function_arn(format!("{FN}:1"))
                            .version("1")
                            .code_sha256("abc=")
                            .state(State::Failed)
                            .build(),
                    )
                    .build()
            });
            let lambda =
                mock_client!(aws_sdk_lambda, RuleMode::MatchAny, [&update, &version, &latest, &published, &list]);
            let config =
                aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
            let clients = Clients { lambda, ..Clients::from_config(&config) };
            let s = settings();
            let poll = Poll::fast(Duration::from_secs(10));
            let x = Ctx { s: &s, c: &clients, poll: &poll };
            let artifact = Artifact { bucket: "artifacts".into(), key: "edge.zip".into(), version_id: "o1".into() };

            let err = publish(x, &artifact, Some("abc="), false).await.unwrap_err();
            assert!(err.to_string().contains("Lambda could not apply the update"), "{err}");
            assert_eq!(err.exit_code(), 1);
            assert_eq!(published.num_calls(), 1);
        }

        #[test]
        fn the_recovery_matches_only_a_publish_race() {
            let raced = Error::PublishRaced { function: "edge".into(), detail: "revision".into() };
            assert_eq!(raced.exit_code(), 1);
            assert!(raced.help().contains("concurrency:"), "{}", raced.help());
        }
    }
}
