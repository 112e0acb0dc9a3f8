//! Plan: what a run will do, decided from the settings and what preflight found, with no AWS call.
//! Every reason not to go on (a missing stack, a template without the version parameter, a
//! rollback target that does not exist) is found here or in preflight, so that nothing is written
//! before all of them have been looked at; `release/` then carries the plan out. A release of
//! several functions (`functions`) is one plan: a step per function, and one stack update.

use crate::artifact::Artifact;
use crate::canary::{self, Stage};
use crate::distribution::{self, DistributionInfo};
use crate::error::{Error, Result};
use crate::function::{self, FunctionInfo};
use crate::package::Package;
use crate::parameters::{self, Fill, FunctionFill};
use crate::preflight::{self, Found, FunctionFound};
use crate::settings::{EdgeFunction, Mode, RollbackTarget, Settings};
use crate::stack::{self, StackInfo};
use crate::template::{self, Template, TemplateInfo};

const FUNCTION_TYPE: &str = "AWS::Lambda::Function";

/// Lambda@Edge's limit for functions serving viewer events, in older editions of the quotas page;
/// worth a warning, since a viewer function that large is slow at every request.
const VIEWER_WARN_BYTES: u64 = 1024 * 1024;

#[derive(Debug)]
pub enum Plan {
    /// No stack yet (or a failed first launch, deleted first): upload, create, wait.
    Launch(Launch),
    /// The stack exists: the version each function will run, how it comes to be, and the stack
    /// update.
    Update(Box<Update>),
    /// `dry-run`: what a release would do. Nothing is written.
    DryRun(DryRun),
}

#[derive(Debug)]
pub struct Launch {
    /// A stack left in ROLLBACK_COMPLETE by a failed first launch, deleted first.
    pub recreate: Option<StackInfo>,
    pub template: Template,
    /// Each function with its package, in the settings' order.
    pub packages: Vec<(EdgeFunction, Package)>,
}

#[derive(Debug)]
pub struct Update {
    pub stack: StackInfo,
    pub template: Template,
    pub summary: TemplateInfo,
    pub distribution: Option<(String, DistributionInfo)>,
    /// Each function's steps, in the settings' order.
    pub units: Vec<Unit>,
    /// False when no code changed and no template, parameters or tags were given: the stack is
    /// not touched.
    pub update_stack: bool,
    /// The stack update only sets FirstLaunch to false after a first launch, with the versions the
    /// site runs: bookkeeping, not a change (`changed` stays false).
    pub bookkeeping: bool,
    /// What else the release changes, which re-pointing the versions (`rollback-on-failure`) would
    /// not undo.
    pub other_changes: Vec<String>,
    pub warnings: Vec<String>,
    /// A staged release (`strategy: staged`), or `mode: promote`/`abort`: the staging distribution,
    /// its policy and the canary live now.
    pub staged: Option<Stage>,
}

/// One function of an update: what it is, what the distribution runs of it now, and the steps that
/// bring the version the stack will run.
#[derive(Debug)]
pub struct Unit {
    /// The function, with the parameter that takes its version (for the deployer, the stack's).
    pub spec: EdgeFunction,
    pub function: FunctionInfo,
    /// The version the distribution runs before this run, if it can be told.
    pub live: Option<FunctionInfo>,
    pub object: ObjectStep,
    pub version: VersionStep,
}

impl Unit {
    /// Whether this function's live version stays what it is (no publish, no other version).
    pub fn unchanged(&self) -> bool {
        matches!(&self.version, VersionStep::Existing(v) if self.live.as_ref().is_some_and(|l| l.arn == v.arn))
    }
}

impl Update {
    /// Each function's values for the stack's parameters, from the versions and objects this run
    /// decided (unchanged functions keep their version).
    pub fn fill(&self, versions: &[FunctionInfo], objects: &[Option<Artifact>]) -> Fill {
        let functions = self
            .units
            .iter()
            .zip(versions)
            .zip(objects.iter().chain(std::iter::repeat(&None)))
            .map(|((u, v), o)| FunctionFill {
                parameter: u.spec.parameter.clone(),
                name: u.spec.name.clone(),
                version_arn: Some(v.arn.clone()),
                // A new object for a new version; a rollback keeps the stack's own.
                object_version: match &u.object {
                    ObjectStep::Keep(_) => None,
                    _ => o.as_ref().map(|o| o.version_id.clone()),
                },
            })
            .collect();
        Fill { first_launch: false, functions, fixed: Vec::new() }
    }
}

/// The code's object version in the artifact bucket.
#[derive(Debug)]
pub enum ObjectStep {
    /// No object for this release: the stack keeps the one it has (a rollback, or no update).
    Keep(Option<Artifact>),
    /// An object version already holds exactly this code: not uploaded again.
    Reuse(Artifact),
    /// Upload the package.
    Upload(Package),
    /// The deployer's uploaded object version.
    Uploaded(Artifact),
}

/// The numbered version the stack will point at.
#[derive(Debug)]
pub enum VersionStep {
    /// A version that exists already: the live one (unchanged code) or `rollback-to`'s target.
    Existing(FunctionInfo),
    /// A version published earlier from this code, by a run that stopped before its stack update.
    Reuse(FunctionInfo),
    /// Update `$LATEST` from the object (unless it holds this code already), then publish.
    Publish { update_code: bool },
}

#[derive(Debug)]
pub struct DryRun {
    pub first_launch: bool,
    /// Whether a release would change anything.
    pub changes: bool,
    /// Each function: the version the stack would run when it is known without publishing, and
    /// the object version that holds its code.
    pub functions: Vec<DryFunction>,
    pub would: String,
}

#[derive(Debug, Default)]
pub struct DryFunction {
    pub name: String,
    pub version: Option<FunctionInfo>,
    pub object: Option<Artifact>,
}

/// Decides the run, or says every reason it cannot go on (exit 2, nothing written).
pub fn plan(settings: &Settings, mut found: Found) -> Result<Plan> {
    let mut problems = std::mem::take(&mut found.problems);
    let decided = match (&settings.mode, found.stack.clone()) {
        (Mode::Rollback(target), stack) => rollback(settings, found, stack, target, &mut problems),
        (Mode::Object, None) => {
            problems.push(Error::precondition(
                format!("stack {} does not exist: the deployer releases into an existing stack", settings.stack_name),
                "Launch the stack first (with the action, the CLI or the console), or fix the deployer's INPUT_STACK_NAME.",
            ));
            None
        }
        (Mode::Prune | Mode::Execute(_), _) => {
            problems.push(Error::failed(
                "a `prune-only` or `mode: execute` run reached the release plan",
                "This is a bug in lambda-edge-deploy: please report it with the log.",
            ));
            None
        }
        (Mode::Promote | Mode::Abort, stack) => finish(settings, found, stack, &mut problems),
        (Mode::Release, None) => launch(settings, found, None, &mut problems),
        (Mode::Release, Some(st)) if st.status.is_failed_launch() && settings.recreate_failed_stack => {
            launch(settings, found, Some(st), &mut problems)
        }
        (_, Some(st)) => match stack::check_updatable(&settings.stack_name, &st.status) {
            Err(e) => {
                problems.push(e);
                None
            }
            Ok(()) => update(settings, found, st, &mut problems),
        },
    };
    match (decided, problems.len()) {
        (Some(plan), 0) => Ok(plan),
        (_, 0) => Err(Error::failed(
            "the plan found no way on and no reason why",
            "This is a bug in lambda-edge-deploy: please report it with the log.",
        )),
        (_, 1) => Err(problems.remove(0)),
        _ => Err(Error::Preflight(problems)),
    }
}

/// Keeps a problem for the report; the value when there is none.
fn keep<T>(problems: &mut Vec<Error>, r: Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(Error::Preflight(all)) => {
            problems.extend(all);
            None
        }
        Err(e) => {
            problems.push(e);
            None
        }
    }
}

fn parameter_names(specs: &[EdgeFunction]) -> Vec<&str> {
    specs.iter().map(|f| f.parameter.as_str()).collect()
}

fn launch(settings: &Settings, found: Found, failed: Option<StackInfo>, problems: &mut Vec<Error>) -> Option<Plan> {
    if matches!(found.template, Template::Previous) {
        problems.push(Error::precondition(
            format!("stack {} does not exist, and no template was given to create it", settings.stack_name),
            "Give `template` (or `template-url`) for the first launch, or fix `stack-name` if the stack exists under another name.",
        ));
        return None;
    }
    let summary = found.summary?;
    keep(problems, template::require_parameters(settings, &summary, &parameter_names(&settings.functions)));
    keep(problems, template::require_capabilities(settings, &summary));
    if let Some(p) = settings.staged.as_ref().and_then(|_| canary::template_problem(&summary)) {
        problems.push(Error::precondition(
            p,
            "Launch with a template like examples/staged/template.yaml, or with `strategy: direct`.",
        ));
    }
    for (f, ff) in settings.functions.iter().zip(&found.functions) {
        if ff.function.is_some() && summary.has_resource(FUNCTION_TYPE) {
            problems.push(Error::precondition(
                format!(
                    "function {} already exists, but stack {} does not: the template would create the function again and fail",
                    f.name, settings.stack_name
                ),
                "Delete the function (or import it into the stack), or use another function name for the new stack.",
            ));
        }
    }
    if settings.wait && settings.distribution_id.is_none() && !summary.has_resource(preflight::DISTRIBUTION_TYPE) {
        problems.push(preflight::no_distribution(settings));
    }
    // With stand-in object versions, so that a parameter CloudFormation would refuse fails now.
    let pending = Fill::launch(&settings.functions, &vec![Some("pending".to_owned()); settings.functions.len()]);
    keep(problems, parameters::parameters(settings, &summary, None, &pending));
    let mut packages = Vec::new();
    for (f, ff) in settings.functions.iter().zip(found.functions) {
        packages.push((f.clone(), ff.package?));
    }
    if settings.dry_run {
        let keys: Vec<String> = settings.functions.iter().map(|f| settings.artifact_key(&f.name)).collect();
        return Some(Plan::DryRun(DryRun {
            first_launch: true,
            changes: true,
            functions: settings
                .functions
                .iter()
                .map(|f| DryFunction { name: f.name.clone(), ..Default::default() })
                .collect(),
            would: format!(
                "upload {} to s3://{} and create stack {} ({}=true)",
                keys.join(", "),
                settings.artifact_bucket,
                settings.stack_name,
                settings.first_launch_parameter
            ),
        }));
    }
    Some(Plan::Launch(Launch { recreate: failed, template: found.template, packages }))
}

/// Each function as the stack runs it now, checked: it exists, the stack names it, and the parameter
/// that takes its version. The deployer's function takes the parameter that holds a version of it
/// now (a stack of several functions), else `version-parameter`.
fn current(
    settings: &Settings,
    found: &Found,
    st: &StackInfo,
    problems: &mut Vec<Error>,
) -> Option<(Vec<(EdgeFunction, FunctionInfo)>, TemplateInfo)> {
    let mut functions = Vec::new();
    for (f, ff) in settings.functions.iter().zip(&found.functions) {
        let Some(function) = ff.function.clone() else {
            problems.push(Error::precondition(
                format!("function {} does not exist, but stack {} does", f.name, settings.stack_name),
                match (&settings.mode, settings.several) {
                    (Mode::Object, _) => "The zip's key names the function: upload it as `<artifact-prefix><function-name>.zip`, with the stack's function name.",
                    (_, true) => "Fix the function's name in `functions` to name one of the stack's functions.",
                    (_, false) => "Fix `function-name` to name the stack's function (see the stack's FunctionName parameter).",
                },
            ));
            continue;
        };
        let mut spec = f.clone();
        if settings.mode == Mode::Object {
            let prefix = format!("{}:", function.arn);
            if let Some((held, _)) = st.parameters.iter().find(|(_, v)| v.starts_with(&prefix)) {
                spec.parameter = held.clone();
            }
        }
        functions.push((spec, function));
    }
    // A function that is not there is the problem to fix; what follows would only echo it.
    if functions.len() != settings.functions.len() {
        return None;
    }
    if let Some(named) = st.parameter("FunctionName").filter(|_| !settings.several) {
        let given = settings.parameters.iter().any(|(k, _)| k == "FunctionName");
        if let Some(f) = settings.only().filter(|f| f.name != named && !given) {
            problems.push(Error::precondition(
                format!(
                    "stack {} runs function {named} (its FunctionName parameter), not {}",
                    settings.stack_name, f.name
                ),
                "Fix `function-name` or `stack-name`: they must name the same release.",
            ));
        }
    }
    let summary = found.summary.clone()?;
    let specs: Vec<EdgeFunction> = functions.iter().map(|(s, _)| s.clone()).collect();
    keep(problems, template::require_parameters(settings, &summary, &parameter_names(&specs)));
    keep(problems, template::require_capabilities(settings, &summary));
    // Until its first update the stack associates the versions it published itself; that update
    // sets every function's version parameter, so it must release them all.
    let missing: Vec<&str> = found
        .launched_versions
        .iter()
        .filter(|v| !functions.iter().any(|(_, f)| v.starts_with(&format!("{}:", f.arn))))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        problems.push(Error::precondition(
            format!(
                "stack {} has not been updated since its first launch, which published {}: its first update sets {} to false and every function's version parameter, so it must release them all",
                settings.stack_name,
                found.launched_versions.join(", "),
                settings.first_launch_parameter
            ),
            format!(
                "Release every function of the stack together once (`functions`); later releases may release one. Not released here: {}.",
                missing.join(", ")
            ),
        ));
    }
    Some((functions, summary))
}

fn update(settings: &Settings, mut found: Found, st: StackInfo, problems: &mut Vec<Error>) -> Option<Plan> {
    let (functions, summary) = current(settings, &found, &st, problems)?;
    let distribution = found.distribution.as_ref().map(|(_, d)| d);
    // With stand-ins for what the release will know, so that a bad value fails before any write.
    let pending = Fill {
        first_launch: false,
        functions: functions
            .iter()
            .map(|(spec, _)| FunctionFill {
                parameter: spec.parameter.clone(),
                name: spec.name.clone(),
                version_arn: Some("pending".into()),
                object_version: Some("pending".into()),
            })
            .collect(),
        fixed: Vec::new(),
    };
    keep(problems, parameters::parameters(settings, &summary, Some(&st), &pending))?;
    let mut warnings = Vec::new();
    // With nothing but code to release, unchanged code leaves the stack alone; a template,
    // parameters or tags given may still change it.
    let stack_inputs = settings.template.is_some() || !settings.parameters.is_empty() || !settings.tags.is_empty();
    let mut units = Vec::new();
    let mut all_current = true;
    for ((spec, function), ff) in functions.into_iter().zip(found.functions.iter_mut()) {
        if let Some(said) =
            drift(settings, &st, &found.launched_versions, found.distribution.as_ref(), &spec, &function)
        {
            match settings.allow_drift {
                true => warnings.push(format!("{said} (`allow-drift: true`: releasing anyway; the stack's version wins)")),
                false => problems.push(Error::precondition(
                    said,
                    format!(
                        "Someone changed the distribution outside stack {} (see UpdateDistribution in CloudTrail). Bring them back in line: release through the stack with `allow-drift: true` (the stack's version then replaces the other), or put that change into the template; then release as usual.",
                        settings.stack_name
                    ),
                )),
            }
        }
        let live = live_version(&spec.parameter, &st, distribution, &function.arn, &ff.versions);
        let (object, version, current) = match (&settings.mode, ff.upload.take(), ff.package.take()) {
            (Mode::Object, Some(upload), _) => {
                (ObjectStep::Uploaded(upload), VersionStep::Publish { update_code: true }, false)
            }
            (_, _, Some(package)) => {
                if let Some(d) = distribution {
                    let viewer =
                        distribution::versions_of(d, &function.arn).iter().any(|a| a.event_type.starts_with("viewer"));
                    if viewer && package.size > VIEWER_WARN_BYTES {
                        warnings.push(format!("the package of {} is {} bytes and the function serves a viewer event: viewer functions were limited to 1 MB, and every byte adds to cold starts at each request", spec.name, package.size));
                    }
                }
                code_steps(settings, ff, package, &function, live.as_ref())
            }
            _ => return None,
        };
        all_current &= current;
        units.push(Unit { spec, function, live, object, version });
    }
    let staged = match (&settings.staged, &settings.mode) {
        (Some(_), Mode::Release) => staged_release(settings, &st, &summary, &mut found, &units, problems),
        _ => None,
    };
    let unchanged = all_current && !stack_inputs;
    // The code is the live code and the template, parameters and tags given are the stack's: the
    // update can only set FirstLaunch to false after a first launch (the site keeps its versions),
    // or CloudFormation answers "No updates".
    let same =
        all_current && found.other_changes.is_empty() && units.iter().all(|u| matches!(u.object, ObjectStep::Reuse(_)));
    let bookkeeping = !unchanged && same && st.parameter(&settings.first_launch_parameter) == Some("true");
    if unchanged {
        for u in &mut units {
            u.object = match std::mem::replace(&mut u.object, ObjectStep::Keep(None)) {
                ObjectStep::Reuse(a) => ObjectStep::Keep(Some(a)),
                _ => ObjectStep::Keep(None),
            };
        }
    }
    if settings.dry_run {
        return Some(Plan::DryRun(dry_update(settings, &units, unchanged, same, bookkeeping, &found.other_changes)));
    }
    Some(Plan::Update(Box::new(Update {
        stack: st,
        template: found.template,
        summary,
        distribution: found.distribution,
        units,
        update_stack: !unchanged,
        bookkeeping,
        other_changes: found.other_changes,
        warnings,
        staged,
    })))
}

/// A staged release's stack, checked (see `canary::decide`): it needs the primary's version, and a
/// canary live now must be this release's own (a run that stopped, run again) or be finished first.
fn staged_release(
    settings: &Settings,
    st: &StackInfo,
    summary: &TemplateInfo,
    found: &mut Found,
    units: &[Unit],
    problems: &mut Vec<Error>,
) -> Option<Stage> {
    let stage = staged_stack(settings, st, summary, found, problems)?;
    let [unit] = units else { return None };
    if unit.live.is_none() {
        problems.push(Error::precondition(
            format!("cannot tell which version of {} the primary distribution runs: a staged release keeps it there until the canary passes", unit.spec.name),
            "Make the primary distribution associate one version of the function (release once with `strategy: direct`), then release in stages.",
        ));
    }
    if let Some(candidate) = &stage.candidate {
        let resumes = matches!(&unit.version, VersionStep::Reuse(v) if &v.arn == candidate);
        if !resumes {
            problems.push(Error::precondition(
                format!(
                    "a canary of {candidate} is live on stack {} ({}=true): left by `promote: false`, or by a staged run that stopped; this run's code is not that version's",
                    settings.stack_name,
                    canary::ENABLED
                ),
                format!("Finish it first, with `mode: promote` (the primary takes {candidate}) or `mode: abort`; or release that version's code again to resume its canary."),
            ));
        }
    }
    Some(stage)
}

/// The stack's continuous deployment, checked (`canary::decide`).
fn staged_stack(
    settings: &Settings,
    st: &StackInfo,
    summary: &TemplateInfo,
    found: &mut Found,
    problems: &mut Vec<Error>,
) -> Option<Stage> {
    let staged = found.staged.take().unwrap_or_default();
    match canary::decide(&settings.stack_name, summary, st, found.distribution.as_ref(), staged) {
        Ok(stage) => Some(stage),
        Err(all) => {
            problems.extend(all);
            None
        }
    }
}

/// The stack a rollback or a canary's end acts on: it exists and takes an update.
fn existing(
    settings: &Settings,
    stack: Option<StackInfo>,
    missing: String,
    fix: &str,
    problems: &mut Vec<Error>,
) -> Option<StackInfo> {
    let Some(st) = stack else {
        problems.push(Error::precondition(missing, fix));
        return None;
    };
    match stack::check_updatable(&settings.stack_name, &st.status) {
        Ok(()) => Some(st),
        Err(e) => {
            problems.push(e);
            None
        }
    }
}

/// `mode: promote` or `abort`: the canary a staged run left live, finished by one stack update.
fn finish(settings: &Settings, mut found: Found, stack: Option<StackInfo>, problems: &mut Vec<Error>) -> Option<Plan> {
    let promote = settings.mode == Mode::Promote;
    let verb = if promote { "promote" } else { "abort" };
    let missing = format!("stack {} does not exist: there is no canary to {verb}", settings.stack_name);
    let st = existing(
        settings,
        stack,
        missing,
        "Fix `stack-name`: it must name the stack of the staged release.",
        problems,
    )?;
    let (functions, summary) = current(settings, &found, &st, problems)?;
    let stage = staged_stack(settings, &st, &summary, &mut found, problems)?;
    let distribution = found.distribution.as_ref().map(|(_, d)| d);
    let ((spec, function), ff) = functions.into_iter().zip(&found.functions).next()?;
    let live = live_version(&spec.parameter, &st, distribution, &function.arn, &ff.versions);
    let runs = live.as_ref().map(|l| l.arn.clone()).unwrap_or_else(|| "an unknown version".to_owned());
    let target = match (&stage.candidate, promote) {
        (Some(c), true) => match ff.versions.iter().find(|v| &v.arn == c) {
            Some(v) => v.clone(),
            None => {
                problems.push(Error::precondition(
                    format!(
                        "the canary's version {c} ({}) is not a published version of {}",
                        canary::CANDIDATE,
                        spec.name
                    ),
                    "Abort the canary (`mode: abort`) and release again.",
                ));
                return None;
            }
        },
        (None, true) => {
            problems.push(Error::precondition(
                format!(
                    "no canary is live on stack {} ({}={}, {}={}): nothing to promote; the primary runs {runs}",
                    settings.stack_name,
                    canary::ENABLED,
                    st.parameter(canary::ENABLED).unwrap_or("unset"),
                    canary::CANDIDATE,
                    st.parameter(canary::CANDIDATE).unwrap_or("unset")
                ),
                "A `strategy: staged` run with `promote: false` leaves a canary to promote. If an earlier promote was interrupted, its stack update may have finished it: see the version the primary runs above.",
            ));
            return None;
        }
        (_, false) => match &live {
            Some(l) => l.clone(),
            None => {
                problems.push(Error::precondition(
                    format!("cannot tell which version of {} the primary distribution runs, to give it back to staging", spec.name),
                    "Set the stack's CandidateVersion to NONE and CanaryEnabled to false by hand (a stack update with the previous template).",
                ));
                return None;
            }
        },
    };
    let update_stack = stage.candidate.is_some();
    Some(Plan::Update(Box::new(Update {
        stack: st,
        template: Template::Previous,
        summary,
        distribution: found.distribution,
        units: vec![Unit {
            spec,
            function,
            live,
            object: ObjectStep::Keep(None),
            version: VersionStep::Existing(target),
        }],
        update_stack,
        bookkeeping: false,
        other_changes: Vec::new(),
        warnings: Vec::new(),
        staged: Some(stage),
    })))
}

/// One function's object and version steps from its packaged code, and whether its code is the
/// live code already (nothing to upload or publish).
fn code_steps(
    settings: &Settings,
    ff: &mut FunctionFound,
    package: Package,
    function: &FunctionInfo,
    live: Option<&FunctionInfo>,
) -> (ObjectStep, VersionStep, bool) {
    let sha = package.code_sha256.clone();
    let latest_current = function.code_sha256 == sha && !settings.force;
    let live_current = live.is_some_and(|v| v.code_sha256 == sha) && !settings.force;
    let object = match ff.object.take().filter(|_| latest_current) {
        Some(existing) => ObjectStep::Reuse(existing),
        None => ObjectStep::Upload(package),
    };
    let version = match (live, live_current) {
        (Some(live), true) => VersionStep::Existing(live.clone()),
        _ => match function::published_from(&ff.versions, &sha).filter(|_| latest_current) {
            Some(v) => VersionStep::Reuse(v.clone()),
            None => VersionStep::Publish { update_code: !latest_current },
        },
    };
    (object, version, live_current && latest_current)
}

/// The drift guard: the distribution associates a version of the function other than the one the
/// stack last set (its version parameter, or the version its first launch published), so someone
/// changed it outside the stack, and the release would silently overwrite that change.
fn drift(
    settings: &Settings,
    st: &StackInfo,
    launched: &[String],
    distribution: Option<&(String, DistributionInfo)>,
    spec: &EdgeFunction,
    function: &FunctionInfo,
) -> Option<String> {
    let (id, d) = distribution?;
    let prefix = format!("{}:", function.arn);
    let set: Vec<&str> = match st.parameter(&settings.first_launch_parameter) {
        Some("true") => launched.iter().filter(|v| v.starts_with(&prefix)).map(String::as_str).collect(),
        _ => st.parameter(&spec.parameter).filter(|v| v.starts_with(&prefix)).into_iter().collect(),
    };
    if set.is_empty() {
        return None;
    }
    let other: Vec<String> = distribution::versions_of(d, &function.arn)
        .into_iter()
        .filter(|a| !set.contains(&a.arn.as_str()))
        .map(|a| format!("{} at {} ({})", a.arn, a.event_type, a.behavior))
        .collect();
    (!other.is_empty()).then(|| {
        format!(
            "distribution {id} runs {}, but stack {} last set {} to {}",
            other.join(", "),
            settings.stack_name,
            spec.name,
            set.join(", ")
        )
    })
}

/// What a release would do, said without doing it.
fn dry_update(
    settings: &Settings,
    units: &[Unit],
    unchanged: bool,
    same: bool,
    bookkeeping: bool,
    other_changes: &[String],
) -> DryRun {
    let changed: Vec<&str> = units.iter().filter(|u| !u.unchanged()).map(|u| u.spec.name.as_str()).collect();
    let would = if unchanged {
        match units {
            [_] => "nothing: the live version already runs this code".to_owned(),
            _ => "nothing: the live versions already run this code".to_owned(),
        }
    } else if bookkeeping {
        format!("set the stack's {} to false, the first update after its first launch (the site keeps the versions it runs)", settings.first_launch_parameter)
    } else if same {
        "nothing: the live versions already run this code, and the template, parameters and tags given are the stack's"
            .to_owned()
    } else if changed.is_empty() {
        format!("update the stack only (the code is unchanged; changed: {})", other_changes.join(", "))
    } else if units.len() == 1 {
        "upload, update the function, publish a version and update the stack".to_owned()
    } else {
        format!("upload, update and publish {}, then update the stack once", changed.join(", "))
    };
    let quiet = unchanged || same;
    DryRun {
        first_launch: false,
        changes: !quiet,
        functions: units
            .iter()
            .map(|u| DryFunction {
                name: u.spec.name.clone(),
                version: match &u.version {
                    VersionStep::Existing(v) if quiet || u.unchanged() => Some(v.clone()),
                    _ => None,
                },
                object: match &u.object {
                    ObjectStep::Reuse(a) | ObjectStep::Keep(Some(a)) if quiet => Some(a.clone()),
                    _ => None,
                },
            })
            .collect(),
        would,
    }
}

fn rollback(
    settings: &Settings,
    mut found: Found,
    stack: Option<StackInfo>,
    target: &RollbackTarget,
    problems: &mut Vec<Error>,
) -> Option<Plan> {
    let missing = format!("stack {} does not exist: there is nothing to roll back", settings.stack_name);
    let fix = "Fix `stack-name`; `rollback-to` re-points an existing stack at an already published version.";
    let st = existing(settings, stack, missing, fix, problems)?;
    let (functions, summary) = current(settings, &found, &st, problems)?;
    let distribution = found.distribution.as_ref().map(|(_, d)| d);
    let mut units = Vec::new();
    for ((spec, function), ff) in functions.into_iter().zip(found.functions.iter_mut()) {
        let live = live_version(&spec.parameter, &st, distribution, &function.arn, &ff.versions);
        let Some(target) = keep(problems, resolve(&spec.name, &function, live.as_ref(), &ff.versions, target)) else {
            continue;
        };
        units.push(Unit {
            spec,
            function,
            live,
            object: ObjectStep::Keep(None),
            version: VersionStep::Existing(target),
        });
    }
    if units.len() != settings.functions.len() {
        return None;
    }
    let update_stack = units.iter().any(|u| !u.unchanged());
    if settings.dry_run {
        return Some(Plan::DryRun(DryRun {
            first_launch: false,
            changes: update_stack,
            functions: units
                .iter()
                .map(|u| DryFunction {
                    name: u.spec.name.clone(),
                    version: match &u.version {
                        VersionStep::Existing(v) => Some(v.clone()),
                        _ => None,
                    },
                    object: None,
                })
                .collect(),
            would: if update_stack {
                "update the stack to run that version".to_owned()
            } else {
                "nothing: the distribution already runs it".to_owned()
            },
        }));
    }
    Some(Plan::Update(Box::new(Update {
        stack: st,
        template: Template::Previous,
        summary,
        distribution: found.distribution,
        units,
        update_stack,
        bookkeeping: false,
        other_changes: Vec::new(),
        warnings: Vec::new(),
        staged: None,
    })))
}

/// The version `rollback-to` names, which must be a published version of this function.
fn resolve(
    name: &str,
    function: &FunctionInfo,
    live: Option<&FunctionInfo>,
    versions: &[FunctionInfo],
    target: &RollbackTarget,
) -> Result<FunctionInfo> {
    let fn_arn = &function.arn;
    let arn = match target {
        RollbackTarget::Arn(a) => a.clone(),
        RollbackTarget::Number(n) => format!("{fn_arn}:{n}"),
        RollbackTarget::Previous => {
            let Some(live) = live else {
                return Err(Error::precondition(
                    format!("cannot tell which version of {name} the distribution runs now"),
                    "Give `rollback-to` a version number or version ARN instead of `previous`.",
                ));
            };
            match versions.iter().rev().find(|v| v.number() < live.number() && !v.failed) {
                Some(v) => v.arn.clone(),
                None => {
                    return Err(Error::precondition(
                        format!(
                            "version {} of {name} is the first one published: there is no previous version",
                            live.version
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
    versions.iter().find(|v| v.arn == arn).cloned().ok_or_else(|| {
        Error::precondition(
            format!("version {arn} does not exist"),
            format!("List the published versions (aws lambda list-versions-by-function --function-name {name}) and pick one."),
        )
    })
}

/// The version of the function that the distribution runs now (or, without a distribution, the
/// one the stack's version parameter names), with its code hash.
fn live_version(
    parameter: &str,
    st: &StackInfo,
    d: Option<&DistributionInfo>,
    function_arn: &str,
    versions: &[FunctionInfo],
) -> Option<FunctionInfo> {
    let from_distribution = d.and_then(|d| {
        let mut arns: Vec<String> =
            distribution::versions_of(d, function_arn).into_iter().map(|a| a.arn.clone()).collect();
        arns.dedup();
        (arns.len() == 1).then(|| arns.remove(0))
    });
    let arn = from_distribution
        .or_else(|| st.parameter(parameter).filter(|v| function::version_of(v).is_some()).map(str::to_owned))?;
    versions.iter().find(|v| v.arn == arn).cloned()
}

#[cfg(test)]
mod tests {
    //! Every mode and refusal the README describes: given what preflight found, the plan.

    use super::*;
    use crate::distribution::Association;
    use crate::stack::StackStatus;

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";
    const NEW: &str = "new-code=";
    const OLD: &str = "old-code=";

    fn settings(more: &[(&str, &str)]) -> Settings {
        let source = std::env::temp_dir().display().to_string();
        let mut vars: Vec<(String, String)> = [
            ("INPUT_FUNCTION-NAME", "edge"),
            ("INPUT_STACK-NAME", "site"),
            ("INPUT_ARTIFACT-BUCKET", "artifacts"),
            ("INPUT_SOURCE", source.as_str()),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in more {
            vars.retain(|(name, _)| name != k);
            if !v.is_empty() {
                vars.push((k.to_string(), v.to_string()));
            }
        }
        crate::settings::validate(crate::inputs::read(vars).unwrap().0).unwrap()
    }

    fn version(n: u64, sha: &str) -> FunctionInfo {
        FunctionInfo { arn: format!("{FN}:{n}"), version: n.to_string(), code_sha256: sha.into(), ..Default::default() }
    }

    fn latest(sha: &str) -> FunctionInfo {
        FunctionInfo { arn: FN.into(), version: "$LATEST".into(), code_sha256: sha.into(), ..Default::default() }
    }

    fn summary() -> TemplateInfo {
        let keys =
            ["FirstLaunch", "LambdaVersion", "FunctionName", "ArtifactBucket", "ArtifactKey", "ArtifactObjectVersion"];
        TemplateInfo {
            parameters: keys.iter().map(|k| (k.to_string(), Some("x".to_string()))).collect(),
            resource_types: vec![
                FUNCTION_TYPE.into(),
                "AWS::Lambda::Version".into(),
                preflight::DISTRIBUTION_TYPE.into(),
            ],
            capabilities: vec!["CAPABILITY_IAM".into()],
            ..Default::default()
        }
    }

    fn stack(status: &str) -> StackInfo {
        StackInfo {
            id: "arn:aws:cloudformation:us-east-1:123456789012:stack/site/1".into(),
            status: StackStatus::new(status),
            parameters: vec![("FunctionName".into(), "edge".into()), ("LambdaVersion".into(), format!("{FN}:2"))],
            ..Default::default()
        }
    }

    fn distribution(runs: u64) -> (String, DistributionInfo) {
        let association = Association {
            behavior: "default".into(),
            event_type: "origin-request".into(),
            arn: format!("{FN}:{runs}"),
        };
        (
            "E1".into(),
            DistributionInfo { status: "Deployed".into(), associations: vec![association], ..Default::default() },
        )
    }

    fn object() -> Artifact {
        Artifact { bucket: "artifacts".into(), key: "edge.zip".into(), version_id: "o1".into() }
    }

    /// A released stack: version 2 (old code) live, version 1 before it.
    fn released(package: &str) -> Found {
        Found {
            stack: Some(stack("UPDATE_COMPLETE")),
            summary: Some(summary()),
            distribution: Some(distribution(2)),
            functions: vec![FunctionFound {
                package: Some(Package::stub(package, 100)),
                function: Some(latest(OLD)),
                versions: vec![version(1, "first="), version(2, OLD)],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn no_stack() -> Found {
        Found {
            template: Template::Body("...".into()),
            summary: Some(summary()),
            functions: vec![FunctionFound { package: Some(Package::stub(NEW, 100)), ..Default::default() }],
            ..Default::default()
        }
    }

    fn without_package(mut found: Found) -> Found {
        found.functions[0].package = None;
        found
    }

    fn uploaded(mut found: Found) -> Found {
        found.functions[0].package = None;
        found.functions[0].upload = Some(object());
        found
    }

    fn refused(s: &Settings, found: Found) -> String {
        match plan(s, found) {
            Err(e) => {
                assert_eq!(e.exit_code(), 2, "{e}");
                format!("{e} / {}", e.help())
            }
            Ok(p) => panic!("expected a refusal, got {p:?}"),
        }
    }

    fn update(s: &Settings, found: Found) -> Update {
        match plan(s, found) {
            Ok(Plan::Update(u)) => *u,
            other => panic!("expected an update, got {other:?}"),
        }
    }

    #[test]
    fn first_launch() {
        let s = settings(&[]);
        let Ok(Plan::Launch(l)) = plan(&s, no_stack()) else { panic!("no launch") };
        assert!(l.recreate.is_none());
        assert_eq!(l.packages[0].1.code_sha256, NEW);

        let mut without_template = no_stack();
        without_template.template = Template::Previous;
        assert!(refused(&s, without_template).contains("no template was given to create it"));

        let mut function_exists = no_stack();
        function_exists.functions[0].function = Some(latest(OLD));
        assert!(refused(&s, function_exists).contains("already exists, but stack site does not"));

        let mut no_distribution = no_stack();
        no_distribution.summary.as_mut().unwrap().resource_types.retain(|t| t != preflight::DISTRIBUTION_TYPE);
        assert!(refused(&s, no_distribution).contains("has no AWS::CloudFront::Distribution"));
        let mut not_waiting = no_stack();
        not_waiting.summary.as_mut().unwrap().resource_types.retain(|t| t != preflight::DISTRIBUTION_TYPE);
        assert!(matches!(plan(&settings(&[("INPUT_WAIT", "false")]), not_waiting), Ok(Plan::Launch(_))));

        let Ok(Plan::DryRun(d)) = plan(&settings(&[("INPUT_DRY-RUN", "true")]), no_stack()) else { panic!() };
        assert!(d.first_launch && d.changes && d.would.contains("create stack site"), "{d:?}");
    }

    #[test]
    fn a_failed_first_launch_is_a_dead_end_unless_recreated() {
        let mut found = no_stack();
        found.stack = Some(stack("ROLLBACK_COMPLETE"));
        let said = refused(&settings(&[]), found);
        assert!(said.contains("ROLLBACK_COMPLETE") && said.contains("recreate-failed-stack"), "{said}");
        // The function rolled back with the stack: that is not a second problem to report.
        assert!(!said.contains("function edge does not exist"), "{said}");

        let mut found = no_stack();
        found.stack = Some(stack("ROLLBACK_COMPLETE"));
        let Ok(Plan::Launch(l)) = plan(&settings(&[("INPUT_RECREATE-FAILED-STACK", "true")]), found) else { panic!() };
        assert_eq!(l.recreate.unwrap().status, "ROLLBACK_COMPLETE");
    }

    #[test]
    fn stacks_that_cannot_take_an_update_are_refused_with_other_problems() {
        for status in ["REVIEW_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED"] {
            let mut found = released(NEW);
            found.stack = Some(stack(status));
            found.problems.push(Error::precondition("the artifact bucket artifacts does not exist", "Create it."));
            let said = refused(&settings(&[]), found);
            assert!(said.contains(status) && said.contains("does not exist"), "{said}");
        }
    }

    #[test]
    fn a_code_change_uploads_updates_publishes_and_updates_the_stack() {
        let u = update(&settings(&[]), released(NEW));
        assert!(matches!(u.units[0].object, ObjectStep::Upload(_)), "{:?}", u.units[0].object);
        assert!(matches!(u.units[0].version, VersionStep::Publish { update_code: true }), "{:?}", u.units[0].version);
        assert!(u.update_stack);
        assert_eq!(u.units[0].live.as_ref().unwrap().arn, format!("{FN}:2"));
    }

    #[test]
    fn unchanged_code_touches_nothing_unless_stack_inputs_are_given() {
        let mut found = released(OLD);
        found.functions[0].object = Some(object());
        let u = update(&settings(&[]), found);
        assert!(
            matches!(&u.units[0].object, ObjectStep::Keep(Some(a)) if a.version_id == "o1"),
            "{:?}",
            u.units[0].object
        );
        assert!(
            matches!(&u.units[0].version, VersionStep::Existing(v) if v.arn == format!("{FN}:2")),
            "{:?}",
            u.units[0].version
        );
        assert!(!u.update_stack);

        for given in [("INPUT_PARAMETERS", "OriginDomainName=example.org"), ("INPUT_TAGS", "team=web")] {
            let mut found = released(OLD);
            found.functions[0].object = Some(object());
            found.summary.as_mut().unwrap().parameters.push(("OriginDomainName".into(), Some("example.com".into())));
            let u = update(&settings(&[given]), found);
            assert!(matches!(u.units[0].object, ObjectStep::Reuse(_)), "{given:?}: {:?}", u.units[0].object);
            assert!(matches!(u.units[0].version, VersionStep::Existing(_)), "{given:?}");
            assert!(u.update_stack, "{given:?}");
        }

        let Ok(Plan::DryRun(d)) = plan(&settings(&[("INPUT_DRY-RUN", "true")]), released(OLD)) else { panic!() };
        assert!(!d.changes && d.functions[0].version.clone().unwrap().arn.ends_with(":2"));
    }

    #[test]
    fn the_first_update_after_a_first_launch_with_nothing_else_changed_is_bookkeeping() {
        let template = [("INPUT_TEMPLATE", concat!(env!("CARGO_MANIFEST_DIR"), "/examples/template.yaml"))];
        let after_launch = |other: &[&str]| {
            let mut found = released(OLD);
            found.functions[0].object = Some(object());
            found.stack.as_mut().unwrap().parameters.push(("FirstLaunch".into(), "true".into()));
            found.other_changes = other.iter().map(|c| c.to_string()).collect();
            found
        };
        // (stack's FirstLaunch, other changes) → bookkeeping
        let u = update(&settings(&template), after_launch(&[]));
        assert!(u.update_stack && u.bookkeeping, "{u:?}");
        let u = update(&settings(&template), after_launch(&["the template"]));
        assert!(u.update_stack && !u.bookkeeping, "a template change is a change");
        let mut found = after_launch(&[]);
        found.stack.as_mut().unwrap().parameters.retain(|(k, _)| k != "FirstLaunch");
        let u = update(&settings(&template), found);
        assert!(u.update_stack && !u.bookkeeping, "no flip: CloudFormation answers No updates");
        // New code after a first launch is a release, flip or not.
        let mut found = after_launch(&[]);
        found.functions[0].package = Some(Package::stub(NEW, 100));
        let u = update(&settings(&template), found);
        assert!(!u.bookkeeping);

        let dry = [template[0], ("INPUT_DRY-RUN", "true")];
        let Ok(Plan::DryRun(d)) = plan(&settings(&dry), after_launch(&[])) else { panic!() };
        assert!(!d.changes && d.would.contains("FirstLaunch to false"), "{d:?}");
        let Ok(Plan::DryRun(d)) = plan(&settings(&dry), after_launch(&["parameter Tier"])) else { panic!() };
        assert!(d.changes && d.would.contains("parameter Tier"), "{d:?}");
    }

    #[test]
    fn a_run_stopped_after_publishing_reuses_that_version() {
        let mut found = released(NEW);
        found.functions[0].function = Some(latest(NEW));
        found.functions[0].versions.push(version(3, NEW));
        found.functions[0].object = Some(object());
        let u = update(&settings(&[]), found);
        assert!(matches!(u.units[0].object, ObjectStep::Reuse(_)));
        assert!(matches!(&u.units[0].version, VersionStep::Reuse(v) if v.version == "3"), "{:?}", u.units[0].version);
        assert!(u.update_stack);

        // $LATEST holds the code, but no version was published from it yet: publish without updating.
        let mut found = released(NEW);
        found.functions[0].function = Some(latest(NEW));
        let u = update(&settings(&[]), found);
        assert!(matches!(u.units[0].version, VersionStep::Publish { update_code: false }), "{:?}", u.units[0].version);

        // A version Lambda failed to create is never reused.
        let mut found = released(NEW);
        found.functions[0].function = Some(latest(NEW));
        found.functions[0].versions.push(FunctionInfo { failed: true, ..version(3, NEW) });
        let u = update(&settings(&[]), found);
        assert!(matches!(u.units[0].version, VersionStep::Publish { .. }), "{:?}", u.units[0].version);
    }

    #[test]
    fn force_publishes_the_same_code_again() {
        let mut found = released(OLD);
        found.functions[0].object = Some(object());
        let u = update(&settings(&[("INPUT_FORCE", "true")]), found);
        assert!(matches!(u.units[0].object, ObjectStep::Upload(_)));
        assert!(matches!(u.units[0].version, VersionStep::Publish { update_code: true }));
        assert!(u.update_stack);
    }

    #[test]
    fn the_release_and_the_stack_must_name_the_same_function() {
        let mut found = released(NEW);
        found.stack.as_mut().unwrap().parameters[0].1 = "other".into();
        assert!(refused(&settings(&[]), found).contains("runs function other"));
        let mut found = released(NEW);
        found.functions[0].function = None;
        assert!(refused(&settings(&[]), found).contains("function edge does not exist, but stack site does"));
    }

    #[test]
    fn the_template_must_take_the_version_and_the_capabilities_given() {
        let mut found = released(NEW);
        found.summary.as_mut().unwrap().parameters.retain(|(k, _)| k != "LambdaVersion");
        assert!(refused(&settings(&[]), found).contains("declares no parameter LambdaVersion"));
        let mut found = released(NEW);
        found.summary.as_mut().unwrap().capabilities = vec!["CAPABILITY_NAMED_IAM".into()];
        let said = refused(&settings(&[("INPUT_CAPABILITIES", "CAPABILITY_IAM")]), found);
        assert!(said.contains("needs CAPABILITY_NAMED_IAM"), "{said}");
    }

    #[test]
    fn a_dry_run_of_a_change_writes_nothing() {
        let Ok(Plan::DryRun(d)) = plan(&settings(&[("INPUT_DRY-RUN", "true")]), released(NEW)) else { panic!() };
        assert!(d.changes && !d.first_launch && d.would.contains("publish a version"), "{d:?}");
    }

    fn rollback_settings(to: &str) -> Settings {
        settings(&[("INPUT_ROLLBACK-TO", to), ("INPUT_SOURCE", "")])
    }

    fn rolled(to: &str, found: Found) -> Update {
        update(&rollback_settings(to), without_package(found))
    }

    #[test]
    fn rollback_to_resolves_previous_numbers_and_arns() {
        let u = rolled("previous", released(NEW));
        assert!(
            matches!(&u.units[0].version, VersionStep::Existing(v) if v.version == "1"),
            "{:?}",
            u.units[0].version
        );
        assert!(matches!(u.units[0].object, ObjectStep::Keep(None)));
        assert!(matches!(u.template, Template::Previous));
        assert!(u.update_stack);
        let u = rolled(&format!("{FN}:1"), released(NEW));
        assert!(matches!(&u.units[0].version, VersionStep::Existing(v) if v.version == "1"));
        // The version already live: nothing to update, but the rest is still verified.
        let u = rolled("2", released(NEW));
        assert!(!u.update_stack);
    }

    #[test]
    fn rollback_to_refuses_what_it_cannot_do() {
        let s = rollback_settings("7");
        assert!(refused(&s, without_package(released(NEW))).contains(&format!("version {FN}:7 does not exist")));
        let s = rollback_settings("arn:aws:lambda:us-east-1:123456789012:function:other:1");
        assert!(refused(&s, without_package(released(NEW))).contains("is not a version of"));
        let mut first = released(NEW);
        first.distribution = Some(distribution(1));
        assert!(refused(&rollback_settings("previous"), without_package(first))
            .contains("is the first one published: there is no previous version"));
        let mut unknown = released(NEW);
        unknown.distribution = None;
        unknown.stack.as_mut().unwrap().parameters.retain(|(k, _)| k != "LambdaVersion");
        assert!(refused(&rollback_settings("previous"), without_package(unknown)).contains("cannot tell which version"));
        let none = Found { stack: None, ..without_package(released(NEW)) };
        assert!(refused(&rollback_settings("previous"), none).contains("there is nothing to roll back"));
        let Ok(Plan::DryRun(d)) = plan(
            &settings(&[("INPUT_ROLLBACK-TO", "1"), ("INPUT_SOURCE", ""), ("INPUT_DRY-RUN", "true")]),
            without_package(released(NEW)),
        ) else {
            panic!()
        };
        assert!(d.changes && d.functions[0].version.clone().unwrap().version == "1");
    }

    #[test]
    fn the_deployer_releases_its_object_into_an_existing_stack() {
        let s = Settings { mode: Mode::Object, ..settings(&[]) };
        let found = uploaded(released(NEW));
        let u = update(&s, found);
        assert!(matches!(&u.units[0].object, ObjectStep::Uploaded(a) if a.version_id == "o1"));
        assert!(matches!(u.units[0].version, VersionStep::Publish { update_code: true }));
        let found = Found { stack: None, ..uploaded(released(NEW)) };
        assert!(refused(&s, found).contains("the deployer releases into an existing stack"));
        let mut found = uploaded(released(NEW));
        found.functions[0].function = None;
        assert!(refused(&s, found).contains("The zip's key names the function"));
    }

    #[test]
    fn a_distribution_changed_outside_the_stack_is_refused_unless_drift_is_allowed() {
        // (the stack's parameter, what the distribution runs, allow-drift) → refused / warned / quiet
        let run = |param: &str, runs: u64, allow: bool| {
            let mut found = released(NEW);
            found.stack.as_mut().unwrap().parameters[1].1 = param.into();
            found.distribution = Some(distribution(runs));
            let s = settings(&[("INPUT_ALLOW-DRIFT", if allow { "true" } else { "false" })]);
            plan(&s, found)
        };
        let said = match run(&format!("{FN}:2"), 1, false) {
            Err(e) => format!("{e} / {}", e.help()),
            Ok(p) => panic!("drift not refused: {p:?}"),
        };
        assert!(
            said.contains(&format!(
                "distribution E1 runs {FN}:1 at origin-request (default), but stack site last set edge to {FN}:2"
            )),
            "{said}"
        );
        assert!(said.contains("allow-drift: true"), "{said}");
        let Ok(Plan::Update(u)) = run(&format!("{FN}:2"), 1, true) else { panic!("allow-drift goes on") };
        assert!(u.warnings.iter().any(|w| w.contains("the stack's version wins")), "{:?}", u.warnings);
        let Ok(Plan::Update(u)) = run(&format!("{FN}:2"), 2, false) else { panic!("in line") };
        assert!(u.warnings.is_empty(), "{:?}", u.warnings);
        // A parameter that names no version of the function (NONE before any release) says nothing.
        assert!(matches!(run("NONE", 1, false), Ok(Plan::Update(_))));
        // Until the first update, the stack set the version its first launch published.
        let mut found = released(NEW);
        found.stack.as_mut().unwrap().parameters.push(("FirstLaunch".into(), "true".into()));
        found.launched_versions = vec![format!("{FN}:1")];
        found.distribution = Some(distribution(2));
        assert!(refused(&settings(&[]), found).contains("last set edge to"));
    }

    #[test]
    fn several_functions_publish_only_the_changed_one_and_the_first_update_releases_all() {
        let dir = std::env::temp_dir().display().to_string();
        let functions = format!("ViewerVersion=viewer:{dir}\nOriginVersion=origin:{dir}");
        let s = settings(&[("INPUT_FUNCTION-NAME", ""), ("INPUT_SOURCE", ""), ("INPUT_FUNCTIONS", &functions)]);
        const V: &str = "arn:aws:lambda:us-east-1:123456789012:function:viewer";
        const O: &str = "arn:aws:lambda:us-east-1:123456789012:function:origin";
        let of = |f: &str, n: u64, sha: &str| FunctionInfo {
            arn: format!("{f}:{n}"),
            version: n.to_string(),
            code_sha256: sha.into(),
            ..Default::default()
        };
        let function = |f: &str, package: &str, live_sha: &str| FunctionFound {
            package: Some(Package::stub(package, 100)),
            function: Some(FunctionInfo {
                arn: f.into(),
                version: "$LATEST".into(),
                code_sha256: live_sha.into(),
                ..Default::default()
            }),
            versions: vec![of(f, 1, live_sha)],
            object: Some(object()),
            ..Default::default()
        };
        let mut summary = summary();
        summary
            .parameters
            .extend(["ViewerVersion", "OriginVersion"].map(|k| (k.to_string(), Some("NONE".to_string()))));
        let found = |first_launch: &str| Found {
            stack: Some(StackInfo {
                id: "arn:aws:cloudformation:us-east-1:123456789012:stack/site/1".into(),
                status: StackStatus::new("UPDATE_COMPLETE"),
                parameters: vec![
                    ("FirstLaunch".into(), first_launch.into()),
                    ("ViewerVersion".into(), format!("{V}:1")),
                    ("OriginVersion".into(), format!("{O}:1")),
                ],
                ..Default::default()
            }),
            summary: Some(summary.clone()),
            launched_versions: if first_launch == "true" {
                vec![format!("{V}:1"), format!("{O}:1")]
            } else {
                Vec::new()
            },
            functions: vec![function(V, NEW, OLD), function(O, OLD, OLD)],
            ..Default::default()
        };
        let u = update(&s, found("false"));
        assert!(matches!(u.units[0].version, VersionStep::Publish { update_code: true }), "{:?}", u.units[0].version);
        assert!(
            matches!(&u.units[1].version, VersionStep::Existing(v) if v.arn == format!("{O}:1")),
            "{:?}",
            u.units[1].version
        );
        assert!(u.units[1].unchanged() && !u.units[0].unchanged());
        assert!(u.update_stack);
        assert_eq!(
            u.units.iter().map(|u| u.spec.parameter.as_str()).collect::<Vec<_>>(),
            ["ViewerVersion", "OriginVersion"]
        );

        // Before its first update the stack runs the versions it launched: releasing one alone is refused.
        let viewer_only = settings(&[
            ("INPUT_FUNCTION-NAME", ""),
            ("INPUT_SOURCE", ""),
            ("INPUT_FUNCTIONS", &format!("ViewerVersion=viewer:{dir}")),
        ]);
        let mut one = found("true");
        one.functions.truncate(1);
        let said = refused(&viewer_only, one);
        assert!(
            said.contains("must release them all") && said.contains(&format!("Not released here: {O}:1")),
            "{said}"
        );
        assert!(matches!(plan(&s, found("true")), Ok(Plan::Update(_))), "all of them: fine");
    }

    /// A stack of examples/staged, released: version 2 live on the primary; `canary` is the
    /// candidate a live canary runs.
    fn staged(package: &str, canary: Option<u64>) -> Found {
        let mut found = released(package);
        let summary = found.summary.as_mut().unwrap();
        summary.parameters.extend(canary::PARAMETERS.iter().map(|p| (p.to_string(), Some("x".to_string()))));
        let (_, primary) = found.distribution.as_mut().unwrap();
        primary.policy_id = Some("p1".into());
        primary.http_version = "http2".into();
        let st = found.stack.as_mut().unwrap();
        if let Some(n) = canary {
            st.parameters.push((canary::CANDIDATE.into(), format!("{FN}:{n}")));
            st.parameters.push((canary::ENABLED.into(), "true".into()));
        }
        let staging = DistributionInfo { domain: "d2.cloudfront.net".into(), staging: true, ..Default::default() };
        found.staged = Some(canary::Found {
            staging: vec![("E2".into(), staging)],
            policy: Some(canary::Policy {
                id: "p1".into(),
                enabled: canary.is_some(),
                staging_dns_names: vec!["d2.cloudfront.net".into()],
                traffic: canary::Traffic::Header { name: "aws-cf-cd-canary".into(), value: "1".into() },
            }),
        });
        found.functions[0].versions.push(version(3, NEW));
        found
    }

    #[test]
    fn a_staged_release_stages_new_code_and_finishes_only_a_live_canary() {
        let s = settings(&[("INPUT_STRATEGY", "staged")]);
        // New code, no canary: published, staged behind the primary's version 2.
        let mut found = staged(NEW, None);
        found.functions[0].versions.pop();
        let u = update(&s, found);
        assert_eq!(u.staged.as_ref().map(|st| (st.staging_id.as_str(), st.candidate.clone())), Some(("E2", None)));
        assert!(matches!(u.units[0].version, VersionStep::Publish { .. }));
        // The same code again while its canary (3) is live: the run resumes it.
        let mut found = staged(NEW, Some(3));
        found.functions[0].function = Some(latest(NEW));
        let u = update(&s, found);
        assert!(matches!(&u.units[0].version, VersionStep::Reuse(v) if v.arn == format!("{FN}:3")));
        // Other code while a canary runs: finish it first.
        let text = refused(&s, staged("other=", Some(3)));
        assert!(text.contains(&format!("a canary of {FN}:3 is live on stack site")), "{text}");
        // The primary's own code, while a canary runs, is no resumption either.
        assert!(refused(&s, staged(OLD, Some(3))).contains("is live on stack site"));

        let promote = settings(&[("INPUT_MODE", "promote"), ("INPUT_SOURCE", "")]);
        let u = update(&promote, without_package(staged(NEW, Some(3))));
        assert!(matches!(&u.units[0].version, VersionStep::Existing(v) if v.arn == format!("{FN}:3")));
        assert!(u.update_stack);
        let abort = settings(&[("INPUT_MODE", "abort"), ("INPUT_SOURCE", "")]);
        let u = update(&abort, without_package(staged(NEW, Some(3))));
        assert!(matches!(&u.units[0].version, VersionStep::Existing(v) if v.arn == format!("{FN}:2")));
        // Nothing live: promote is refused, abort has nothing to change.
        let text = refused(&promote, without_package(staged(NEW, None)));
        assert!(text.contains("no canary is live on stack site (CanaryEnabled=unset, CandidateVersion=unset): nothing to promote; the primary runs"), "{text}");
        assert!(!update(&abort, without_package(staged(NEW, None))).update_stack);
        // A candidate that is not a published version of the function.
        let text = refused(&promote, without_package(staged(NEW, Some(9))));
        assert!(
            text.contains(&format!("the canary's version {FN}:9 (CandidateVersion) is not a published version")),
            "{text}"
        );
    }

    #[test]
    fn a_large_viewer_function_is_warned_about() {
        let mut found = released(NEW);
        found.functions[0].package = Some(Package::stub(NEW, 2 * 1024 * 1024));
        found.distribution.as_mut().unwrap().1.associations[0].event_type = "viewer-request".into();
        let u = update(&settings(&[]), found);
        assert!(u.warnings.iter().any(|w| w.contains("serves a viewer event")), "{:?}", u.warnings);
    }
}
