//! The release, step by step: look-ups and packaging, then either the first launch (create the stack)
//! or a release (upload, update, publish, update the stack), then the distribution.

use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use tokio::time::Instant;

use crate::artifact::{self, Artifact};
use crate::aws::Clients;
use crate::distribution;
use crate::error::{Error, Result};
use crate::function::{self, FunctionInfo};
use crate::inputs::{Settings, TemplateSource};
use crate::log;
use crate::package::{self, Package};
use crate::poll::Poll;
use crate::report::{Outputs, Timings};
use crate::stack::{self, Fill, Operation, StackInfo, Template, TemplateInfo};

const VERSION_TYPE: &str = "AWS::Lambda::Version";
const DISTRIBUTION_TYPE: &str = "AWS::CloudFront::Distribution";

/// The phases of a run: each a log group, each timed for the summary.
#[derive(Default)]
pub struct Phases {
    pub timings: Timings,
    current: Option<(&'static str, Instant, log::Group)>,
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

/// Everything the run learned before writing anything.
struct Found {
    package: Package,
    stack: Option<StackInfo>,
    function: Option<FunctionInfo>,
    template: Template,
}

/// Runs the whole release. `out` is filled as facts become known, so that a failure still reports
/// what was done (a published version, say).
pub async fn run(s: &Settings, c: &Clients, poll: &Poll, phases: &mut Phases, out: &mut Outputs) -> Result<()> {
    let token = format!("lambda-edge-deploy-{}", uuid::Uuid::new_v4());
    out.s3_key = s.artifact_key();

    phases.start("Package and look-ups");
    let found = look_up(s, c, poll).await?;
    out.code_sha256 = found.package.code_sha256.clone();
    log::info(&format!(
        "packaged {} file(s) from {}: {} bytes, CodeSha256 {}",
        found.package.files,
        s.source.display(),
        found.package.size,
        found.package.code_sha256
    ));

    match found.stack.clone() {
        None => first_launch(s, c, poll, phases, out, found, &token).await,
        Some(stack) => release(s, c, poll, phases, out, found, stack, &token).await,
    }?;
    phases.end();
    Ok(())
}

/// Packaging and the independent look-ups, in parallel; nothing is written.
async fn look_up(s: &Settings, c: &Clients, poll: &Poll) -> Result<Found> {
    let source = s.source.clone();
    let packaging = tokio::task::spawn_blocking(move || package::package(&source));
    let (package, stack, function, bucket, template) = tokio::join!(
        async {
            packaging.await.map_err(|e| {
                Error::failed(format!("packaging stopped: {e}"), "Run again; report a bug if it repeats.")
            })?
        },
        stack::describe(&c.cloudformation, &s.stack_name),
        function::get(&c.lambda, &s.function_name),
        artifact::check_bucket(&c.s3, &s.artifact_bucket),
        load_template(s, c),
    );
    let (package, mut stack, function, template) = (package?, stack?, function?, template?);
    bucket?;
    if let Some(st) = &stack {
        if st.status.ends_with("_IN_PROGRESS") {
            log::warn(&format!(
                "stack {} is in {}: another operation (perhaps another release) is running; waiting for it to finish first",
                s.stack_name, st.status
            ));
            stack = stack::settle(&c.cloudformation, poll, &s.stack_name).await?;
        }
    }
    if let Some(st) = &stack {
        stack::check_updatable(&s.stack_name, &st.status)?;
    }
    Ok(Found { package, stack, function, template })
}

/// The template as given: inline when small, else uploaded to the artifact bucket (CloudFormation
/// takes at most 51,200 bytes inline), or the stack's previous one.
async fn load_template(s: &Settings, c: &Clients) -> Result<Template> {
    match &s.template {
        None => Ok(Template::Previous),
        Some(TemplateSource::Url(u)) => Ok(Template::Url(u.clone())),
        Some(TemplateSource::File(path)) => {
            let body =
                tokio::fs::read(path).await.map_err(Error::io(format!("reading the template {}", path.display())))?;
            if body.len() <= stack::MAX_INLINE_TEMPLATE {
                let text = String::from_utf8(body).map_err(|_| {
                    Error::precondition(
                        format!("the template {} is not UTF-8 text", path.display()),
                        "Save the template as UTF-8 YAML or JSON.",
                    )
                })?;
                return Ok(Template::Body(text));
            }
            if s.dry_run {
                return Err(Error::precondition(
                    format!(
                        "the template is {} bytes, over the 51,200 that can be checked without uploading it",
                        body.len()
                    ),
                    "Run without `dry-run`, or give the template as `template-url`.",
                ));
            }
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("template");
            let key = format!("{}{}.{ext}", s.artifact_prefix, s.stack_name);
            log::info(&format!(
                "the template is {} bytes, over 51,200: uploading it to s3://{}/{key}",
                body.len(),
                s.artifact_bucket
            ));
            let url =
                artifact::upload_template(&c.s3, c.custom_endpoint.as_deref(), &s.artifact_bucket, &key, body).await?;
            Ok(Template::Url(url))
        }
    }
}

fn require_parameters(s: &Settings, info: &TemplateInfo) -> Result<()> {
    let missing: Vec<&str> = [s.first_launch_parameter.as_str(), s.version_parameter.as_str()]
        .into_iter()
        .filter(|p| !info.declares(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::precondition(
        format!("the template declares no parameter {}", missing.join(" or ")),
        "Declare the first-launch and version parameters in the template (see examples/template.yaml), or name yours with `first-launch-parameter` and `version-parameter`.",
    ))
}

fn since_now() -> DateTime {
    // A little slack for clock skew between this machine and CloudFormation.
    DateTime::from(SystemTime::now() - Duration::from_secs(2))
}

async fn first_launch(
    s: &Settings,
    c: &Clients,
    poll: &Poll,
    phases: &mut Phases,
    out: &mut Outputs,
    found: Found,
    token: &str,
) -> Result<()> {
    let template = match &found.template {
        Template::Previous => {
            return Err(Error::precondition(
                format!("stack {} does not exist, and no template was given to create it", s.stack_name),
                "Give `template` (or `template-url`) for the first launch, or fix `stack-name` if the stack exists under another name.",
            ))
        }
        t => t.clone(),
    };
    let info = stack::summarize(&c.cloudformation, &template, &s.stack_name).await?;
    require_parameters(s, &info)?;
    if found.function.is_some() && info.has_resource("AWS::Lambda::Function") {
        return Err(Error::precondition(
            format!("function {} already exists, but stack {} does not: the template would create the function again and fail", s.function_name, s.stack_name),
            "Delete the function (or import it into the stack), or use another `function-name` for the new stack.",
        ));
    }
    if s.wait && s.distribution_id.is_none() && !info.has_resource(DISTRIBUTION_TYPE) {
        return Err(no_distribution(s));
    }
    // Checked now, with a stand-in object version, so that a missing parameter fails before the upload.
    let pending = Fill { first_launch: true, version_arn: None, artifact_object_version: Some("pending".into()) };
    stack::parameters(s, &info, None, &pending)?;
    out.first_launch = true;
    if s.dry_run {
        log::info(&format!(
            "dry run: would upload s3://{}/{} and create stack {} ({}=true)",
            s.artifact_bucket, out.s3_key, s.stack_name, s.first_launch_parameter
        ));
        out.changed = true;
        return Ok(());
    }

    phases.start("Upload");
    let artifact = upload(s, c, &found.package).await?;
    out.s3_version_id = artifact.version_id.clone();

    phases.start("Stack");
    let fill = Fill { artifact_object_version: Some(artifact.version_id.clone()), ..pending };
    let params = stack::parameters(s, &info, None, &fill)?;
    let since = since_now();
    let stack_id = stack::create(&c.cloudformation, s, &template, &params, token).await?;
    log::info(&format!("creating stack {} ({stack_id})", s.stack_name));
    out.stack_id = stack_id.clone();
    out.changed = true;
    if !s.wait {
        out.stack_status = "CREATE_IN_PROGRESS".into();
        log::info("not waiting (`wait: false`): the version is known once the stack is complete");
        return Ok(());
    }
    let mut events = stack::EventLog::new(token, since);
    out.stack_status =
        stack::wait(&c.cloudformation, poll, &s.stack_name, &stack_id, Operation::Create, &mut events).await?;

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
                format!("stack {} has {} AWS::Lambda::Version resource(s) of {}; expected one", s.stack_name, versions.len(), s.function_name),
                "The reference template creates exactly one version of the function at first launch (see examples/template.yaml).",
            ))
        }
    };
    set_version(out, &version_arn);
    distribution_phase(s, c, poll, phases, out, &stack_id, &function.arn, token).await
}

#[allow(clippy::too_many_arguments)]
async fn release(
    s: &Settings,
    c: &Clients,
    poll: &Poll,
    phases: &mut Phases,
    out: &mut Outputs,
    found: Found,
    st: StackInfo,
    token: &str,
) -> Result<()> {
    out.stack_id = st.id.clone();
    out.stack_status = st.status.clone();
    let function = found.function.clone().ok_or_else(|| {
        Error::precondition(
            format!("function {} does not exist, but stack {} does", s.function_name, s.stack_name),
            "Fix `function-name` to name the stack's function (see the stack's FunctionName parameter).",
        )
    })?;
    out.function_arn = function.arn.clone();
    let info = stack::summarize(&c.cloudformation, &found.template, &s.stack_name).await?;
    require_parameters(s, &info)?;
    if let Some(named) = st.parameter("FunctionName") {
        if named != s.function_name && !s.parameters.iter().any(|(k, _)| k == "FunctionName") {
            return Err(Error::precondition(
                format!(
                    "stack {} runs function {named} (its FunctionName parameter), not {}",
                    s.stack_name, s.function_name
                ),
                "Fix `function-name` or `stack-name`: they must name the same release.",
            ));
        }
    }
    let distribution_id = find_distribution(s, c, &st.id).await?;
    let live = match &distribution_id {
        Some(id) => {
            let d = distribution::get(&c.cloudfront, id).await?;
            out.distribution_id = id.clone();
            out.distribution_domain = d.domain.clone();
            let mut arns: Vec<String> =
                distribution::versions_of(&d, &function.arn).into_iter().map(|a| a.arn.clone()).collect();
            arns.dedup();
            if arns.len() == 1 {
                arns.pop()
            } else {
                None
            }
        }
        None => None,
    }
    .or_else(|| st.parameter(&s.version_parameter).filter(|v| function::version_of(v).is_some()).map(str::to_owned));
    let live_sha = match &live {
        Some(arn) => function::get_version(&c.lambda, arn).await?.map(|v| v.code_sha256),
        None => None,
    };
    let sha = &found.package.code_sha256;
    let latest_current = function.code_sha256 == *sha;
    let live_current = live_sha.as_deref() == Some(sha.as_str());
    // With nothing but the code to release, unchanged code means nothing to do; a template,
    // parameters or tags given may still change the stack.
    let stack_inputs = s.template.is_some() || !s.parameters.is_empty() || !s.tags.is_empty();
    if !s.force && latest_current && live_current && !stack_inputs {
        let live = live.expect("live_current implies a live version");
        log::info(&format!("the code is unchanged: {live} already runs CodeSha256 {sha}; nothing to do"));
        set_version(out, &live);
        if let Some(a) = artifact::find_zip(&c.s3, &s.artifact_bucket, &out.s3_key, sha).await? {
            out.s3_version_id = a.version_id;
        }
        return Ok(());
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
        artifact::find_zip(&c.s3, &s.artifact_bucket, &out.s3_key, sha).await?
    } else {
        None
    };
    let artifact = match existing {
        Some(a) => {
            log::info(&format!("s3://{}/{} version {} already holds this code", a.bucket, a.key, a.version_id));
            a
        }
        None => upload(s, c, &found.package).await?,
    };
    out.s3_version_id = artifact.version_id.clone();

    phases.start("Function");
    let version = if live_current && !s.force {
        live.clone().and_then(|arn| {
            function::version_of(&arn).map(|v| FunctionInfo {
                version: v.to_owned(),
                arn: arn.clone(),
                ..Default::default()
            })
        })
    } else {
        None
    };
    let version = match version {
        Some(v) => v,
        None => publish(s, c, poll, &artifact, sha, latest_current && !s.force).await?,
    };
    set_version(out, &version.arn);
    out.changed = live.as_deref() != Some(version.arn.as_str());

    phases.start("Stack");
    let fill = Fill {
        first_launch: false,
        version_arn: Some(version.arn.clone()),
        artifact_object_version: Some(artifact.version_id.clone()),
    };
    let params = stack::parameters(s, &info, Some(&st), &fill)?;
    let since = since_now();
    let started = stack::update(&c.cloudformation, s, &found.template, &params, token).await?;
    if !started {
        log::info(&format!("stack {}: no updates are to be performed", s.stack_name));
    } else {
        out.changed = true;
        log::info(&format!("updating stack {}: {}={}", s.stack_name, s.version_parameter, version.arn));
        if !s.wait {
            out.stack_status = "UPDATE_IN_PROGRESS".into();
            log::info("not waiting (`wait: false`)");
            return Ok(());
        }
        let mut events = stack::EventLog::new(token, since);
        out.stack_status =
            stack::wait(&c.cloudformation, poll, &s.stack_name, &st.id, Operation::Update, &mut events).await?;
    }
    if !s.wait {
        return Ok(());
    }
    distribution_phase(s, c, poll, phases, out, &st.id, &function.arn, token).await
}

/// Updates `$LATEST` from the artifact (unless it already holds the code), then publishes it, or
/// reuses a version published earlier from the same code (a run stopped before its stack update).
async fn publish(
    s: &Settings,
    c: &Clients,
    poll: &Poll,
    artifact: &Artifact,
    sha: &str,
    latest_current: bool,
) -> Result<FunctionInfo> {
    let latest = if latest_current {
        function::wait_ready(&c.lambda, poll, &s.function_name).await?
    } else {
        log::info(&format!(
            "updating {} from s3://{}/{} version {}",
            s.function_name, artifact.bucket, artifact.key, artifact.version_id
        ));
        function::update_code(&c.lambda, poll, &s.function_name, artifact).await?
    };
    if latest.code_sha256 != sha {
        return Err(Error::failed(
            format!("after the update, {} has CodeSha256 {} where the uploaded zip has {sha}", s.function_name, latest.code_sha256),
            "Another deploy changed the function meanwhile: let it finish and run again (use `concurrency:` to serialise releases).",
        ));
    }
    if latest_current {
        if let Some(v) = function::find_published(&c.lambda, &s.function_name, sha).await? {
            log::info(&format!("reusing version {} published earlier from the same code", v.version));
            return Ok(v);
        }
    }
    let v = function::publish(&c.lambda, poll, &s.function_name, &latest).await?;
    log::info(&format!("published version {} ({})", v.version, v.arn));
    Ok(v)
}

async fn upload(s: &Settings, c: &Clients, package: &Package) -> Result<Artifact> {
    let a =
        artifact::upload_zip(&c.s3, &s.artifact_bucket, &s.artifact_key(), &package.path, &package.code_sha256).await?;
    log::info(&format!("uploaded s3://{}/{} version {}", a.bucket, a.key, a.version_id));
    Ok(a)
}

fn set_version(out: &mut Outputs, version_arn: &str) {
    out.version_arn = version_arn.to_owned();
    out.version = function::version_of(version_arn).unwrap_or_default().to_owned();
}

fn no_distribution(s: &Settings) -> Error {
    Error::precondition(
        format!("stack {} has no AWS::CloudFront::Distribution, and `distribution-id` is not set", s.stack_name),
        "Set `distribution-id` to the distribution that runs the function, or `wait: false` to skip waiting and verifying.",
    )
}

async fn find_distribution(s: &Settings, c: &Clients, stack_id: &str) -> Result<Option<String>> {
    if let Some(id) = &s.distribution_id {
        return Ok(Some(id.clone()));
    }
    let found = stack::resources_of_type(&c.cloudformation, stack_id, DISTRIBUTION_TYPE).await?;
    match found.as_slice() {
        [] if s.wait => Err(no_distribution(s)),
        [] => Ok(None),
        [(_, id)] => Ok(Some(id.clone())),
        many => Err(Error::precondition(
            format!("stack {} has {} distributions", s.stack_name, many.len()),
            "Set `distribution-id` to the one that runs the function.",
        )),
    }
}

#[allow(clippy::too_many_arguments)]
async fn distribution_phase(
    s: &Settings,
    c: &Clients,
    poll: &Poll,
    phases: &mut Phases,
    out: &mut Outputs,
    stack_id: &str,
    function_arn: &str,
    token: &str,
) -> Result<()> {
    phases.start("Distribution");
    let Some(id) = find_distribution(s, c, stack_id).await? else { return Ok(()) };
    out.distribution_id = id.clone();
    let info = distribution::wait_deployed(&c.cloudfront, poll, &id).await?;
    out.distribution_domain = info.domain.clone();
    distribution::verify(&id, &info, function_arn, &out.version_arn)?;
    log::info(&format!("distribution {id} is Deployed and runs {}", out.version_arn));
    if !s.invalidation_paths.is_empty() {
        phases.start("Invalidation");
        let inv = distribution::invalidate(&c.cloudfront, poll, &id, &s.invalidation_paths, token).await?;
        log::info(&format!("invalidation {inv} of {} completed", s.invalidation_paths.join(", ")));
        out.invalidation_id = inv;
    }
    Ok(())
}
