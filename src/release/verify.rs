//! After the stack: CloudFront deployed and associating each version, the invalidation, and the
//! check at the edge, with `rollback-on-failure` when the check fails.

use super::Release;
use crate::check::{self, CheckSpec};
use crate::distribution;
use crate::error::{Error, Result};
use crate::function::FunctionInfo;
use crate::log;
use crate::plan::{ObjectStep, Unit, Update, VersionStep};
use crate::report::CheckResult;
use crate::settings::Mode;
use crate::stack;
use crate::template::Template;

impl Release<'_> {
    /// Waits until the distribution is Deployed, verifies that it runs each function's version
    /// (and no other version of it), and invalidates `invalidation-paths` unless an invalidation of
    /// them was made for what it runs now (a run stopped after it, run again).
    pub(super) async fn settle_distribution(&mut self, id: Option<&str>, functions: &[FunctionInfo]) -> Result<()> {
        let (s, c, poll) = (self.settings, self.clients, self.poll);
        self.phases.start("Distribution");
        let Some(id) = id else { return Ok(()) };
        self.out.distribution_id = id.to_owned();
        let info = distribution::wait_deployed(&c.cloudfront, poll, id).await?;
        self.out.distribution_domain = info.domain.clone();
        let versions = self.version_arns();
        for (function_arn, version_arn) in super::targets(functions, &versions) {
            distribution::verify(id, &info, function_arn, version_arn)?;
        }
        log::info(&format!("distribution {id} is Deployed and runs {}", versions.join(", ")));
        if s.invalidation_paths.is_empty() {
            return Ok(());
        }
        self.phases.start("Invalidation");
        let paths = s.invalidation_paths.join(", ");
        let tag = distribution::release_tag(&versions);
        let made =
            distribution::already_invalidated(&c.cloudfront, poll, id, &s.invalidation_paths, &tag, info.last_modified)
                .await?;
        let inv = match made {
            Some(inv) => {
                log::info(&format!(
                    "invalidation {inv} of {paths} was made for what the distribution runs now; not repeated"
                ));
                inv
            }
            None => {
                let inv = distribution::invalidate(&c.cloudfront, poll, id, &s.invalidation_paths, &tag).await?;
                log::info(&format!("invalidation {inv} of {paths} completed"));
                inv
            }
        };
        self.out.invalidation_id = inv;
        Ok(())
    }

    /// Checks the site at the edge. When the check fails and `rollback-on-failure` is set, the
    /// stack is re-pointed at the versions that were live before this release, and the run still
    /// fails. Re-pointing undoes a release only when the versions were all it changed: otherwise it
    /// says so and rolls nothing back.
    pub(super) async fn check(&mut self, plan: Option<&Update>) -> Result<()> {
        let s = self.settings;
        // `wait: false` with `check-url` is an input error: the check follows the deployment.
        let Some(spec) = s.check.as_ref().filter(|_| s.wait) else { return Ok(()) };
        self.phases.start("Check");
        // A first launch has a new distribution: nothing from an older version is cached there.
        if plan.is_some() {
            let id = self.out.distribution_id.clone();
            self.clear_cached_check_path(spec, &id).await?;
        }
        let seen = match check::run(spec, &self.out.distribution_domain, None).await? {
            Ok(seen) => {
                self.out.check_result = CheckResult::Passed;
                self.out.check_detail = seen.describe();
                log::info(&format!("check passed: {}", self.out.check_detail));
                return Ok(());
            }
            Err(seen) => seen,
        };
        self.out.check_result = CheckResult::Failed;
        self.out.check_detail = seen.describe();
        let what = format!("the check at the edge failed: {}", self.out.check_detail);
        let fix = "Fix the code (or the check's expectations) and release again; `rollback-to: previous` restores the version before.";
        let rollback = s.rollback_on_failure && !matches!(s.mode, Mode::Rollback(_));
        let Some(plan) = plan.filter(|_| rollback) else { return Err(Error::failed(what, fix)) };
        let released = self.version_arns();
        // The functions this release moved to another version, with the one they ran before.
        let moved: Vec<(usize, &Unit)> = plan
            .units
            .iter()
            .enumerate()
            .filter(|(i, u)| u.live.as_ref().is_none_or(|l| l.arn != released[*i]))
            .collect();
        if moved.iter().any(|(_, u)| u.live.is_none()) {
            return Err(Error::failed(format!("{what}; there is no earlier version to roll back to"), fix));
        }
        let before: Vec<String> = plan.units.iter().filter_map(|u| u.live.as_ref().map(|l| l.arn.clone())).collect();
        let repoint = match before.as_slice() {
            [one] => format!("the version alone with `rollback-to: {one}`"),
            all => format!(
                "the versions alone, to {}, with `rollback-to: previous` and `functions` naming only the functions this release moved ({})",
                all.join(", "),
                moved.iter().map(|(_, u)| u.spec.name.as_str()).collect::<Vec<_>>().join(", ")
            ),
        };
        let by_hand = format!(
            "Put the stack back by hand: release the previous template and parameters with the previous code, or re-point {repoint} (the other changes stay); then fix the release and run it again."
        );
        if moved.is_empty() && !self.out.changed {
            return Err(Error::failed(
                format!("{what}; this run released nothing (the distribution already ran {}), so there is nothing to roll back", before.join(", ")),
                "Re-point the stack at the version before with `rollback-to: previous`, or fix the code and release again. (A run that finds the code unchanged still checks the site: an earlier run may have stopped before its check.)",
            ));
        }
        if moved.is_empty() {
            return Err(Error::failed(
                format!("{what}; `rollback-on-failure` has nothing to re-point: the distribution ran {} before this release too, so what changed is the stack's template or parameters, which re-pointing the version cannot undo. Nothing was rolled back", before.join(", ")),
                by_hand,
            ));
        }
        if !plan.other_changes.is_empty() {
            return Err(Error::failed(
                format!(
                    "{what}; `rollback-on-failure` re-points only the functions' versions, and this release also changed {}: nothing was rolled back, the distribution runs {}",
                    plan.other_changes.join(", "),
                    released.join(", ")
                ),
                by_hand,
            ));
        }
        let back: Vec<String> = moved.iter().filter_map(|(_, u)| u.live.as_ref().map(|l| l.arn.clone())).collect();
        log::warn(&format!("{what}; rolling back to {} (`rollback-on-failure`)", back.join(", ")));
        self.roll_back(plan, spec).await.map_err(|e| {
            Error::failed(format!("{what}; rolling back to {} failed too: {e}", back.join(", ")), e.help())
        })?;
        self.out.check_result = CheckResult::RolledBack;
        let failed: Vec<&str> = moved.iter().map(|(i, _)| released[*i].as_str()).collect();
        Err(Error::failed(
            format!(
                "{what}. The release of {} was rolled back: the distribution runs {} again",
                failed.join(", "),
                back.join(", ")
            ),
            fix,
        ))
    }

    /// Re-points the stack at the versions live before the release, waits, verifies, and clears what
    /// the failed versions may have left cached. Every output then describes those versions.
    async fn roll_back(&mut self, plan: &Update, spec: &CheckSpec) -> Result<()> {
        let (s, c) = (self.settings, self.clients);
        // The release changed the stack's parameters: start from what it has now.
        let stack = stack::describe(&c.cloudformation, &s.stack_name).await?.ok_or_else(|| {
            Error::failed(
                format!("stack {} disappeared during the release", s.stack_name),
                "Check the stack in the console.",
            )
        })?;
        let units: Vec<Unit> = plan
            .units
            .iter()
            .filter_map(|u| {
                let live = u.live.clone()?;
                Some(Unit {
                    spec: u.spec.clone(),
                    function: u.function.clone(),
                    live: Some(live.clone()),
                    object: ObjectStep::Keep(None),
                    version: VersionStep::Existing(live),
                })
            })
            .collect();
        let versions: Vec<FunctionInfo> = units.iter().filter_map(|u| u.live.clone()).collect();
        let now = Update {
            stack,
            template: Template::Previous,
            summary: plan.summary.clone(),
            distribution: plan.distribution.clone(),
            units,
            update_stack: true,
            bookkeeping: false,
            other_changes: Vec::new(),
            warnings: Vec::new(),
            staged: None,
        };
        for (i, v) in versions.iter().enumerate() {
            self.set_version(i, &v.arn);
            self.function_out(i, |o| {
                o.code_sha256 = v.code_sha256.clone();
                o.changed = false;
            });
        }
        let fill = now.fill(&versions, &[]);
        self.repoint(&now, &Template::Previous, &fill).await?;
        let functions: Vec<FunctionInfo> = now.units.iter().map(|u| u.function.clone()).collect();
        self.settle_distribution(plan.distribution.as_ref().map(|(id, _)| id.as_str()), &functions).await?;
        // The failed versions' answers may be cached now, under the check's path as under any other.
        let id = self.out.distribution_id.clone();
        self.clear_cached_check_path(spec, &id).await?;
        if let (false, [_]) = (s.several, now.units.as_slice()) {
            let object = plan.stack.parameter("ArtifactObjectVersion").unwrap_or_default().to_owned();
            self.function_out(0, |o| o.s3_version_id = object);
        }
        Ok(())
    }

    /// CloudFront answers a cached path from its cache whatever the query string when the cache key
    /// leaves query strings out (Managed-CachingOptimized does), and an origin-request function runs
    /// only on a miss: the check's cache-busting parameter would then see the version before. So the
    /// check's path is invalidated first, unless `invalidation-paths` already did it or CloudFront
    /// would not cache it. `id` is the distribution that answers the check (a staged release's
    /// staging distribution); the path is the check URL's on the primary's domain.
    pub(super) async fn clear_cached_check_path(&mut self, spec: &CheckSpec, id: &str) -> Result<()> {
        let (s, c, poll) = (self.settings, self.clients, self.poll);
        if id.is_empty() {
            return Ok(());
        }
        let Some(path) = check::path_of(&spec.url, &self.out.distribution_domain) else { return Ok(()) };
        if distribution::covers(&s.invalidation_paths, &path) {
            return Ok(());
        }
        let info = distribution::get(&c.cloudfront, id).await?;
        let Some(behavior) = distribution::behavior_for(&info, &path) else { return Ok(()) };
        let distribution::Caching::PathOnly(policy) = distribution::caching(&c.cloudfront, behavior).await else {
            return Ok(());
        };
        log::info(&format!(
            "CloudFront caches {path} by its path alone ({policy}): an answer cached from the version before would hide the new one, so {path} is invalidated before the check"
        ));
        let tag = distribution::release_tag(&self.version_arns());
        let inv = distribution::invalidate(&c.cloudfront, poll, id, std::slice::from_ref(&path), &tag).await?;
        log::info(&format!("invalidation {inv} of {path} completed"));
        Ok(())
    }

    /// Adds to a failed stack operation what the distribution runs now, so the user knows what the
    /// site serves.
    pub(super) async fn with_distribution_state(
        &self,
        e: Error,
        distribution_id: Option<&str>,
        function_arns: &[&str],
    ) -> Error {
        let Error::StackFailed { stack, status, reasons, mut notes } = e else { return e };
        if let Some(id) = distribution_id {
            notes.push(match distribution::get(&self.clients.cloudfront, id).await {
                Ok(d) => {
                    let runs: Vec<String> = function_arns
                        .iter()
                        .flat_map(|f| distribution::versions_of(&d, f))
                        .map(|a| a.arn.clone())
                        .collect();
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
}
