//! After the stack: CloudFront deployed and associating the version, the invalidation, and the
//! check at the edge, with `rollback-on-failure` when the check fails.

use super::Release;
use crate::check::{self, CheckSpec};
use crate::distribution;
use crate::error::{Error, Result};
use crate::function::FunctionInfo;
use crate::log;
use crate::parameters::Fill;
use crate::plan::Update;
use crate::report::CheckResult;
use crate::settings::Mode;
use crate::stack;
use crate::template::Template;

impl Release<'_> {
    /// Waits until the distribution is Deployed, verifies that it runs the version, and invalidates
    /// `invalidation-paths` unless an invalidation of them was made since the distribution last
    /// changed (a run stopped after it, run again).
    pub(super) async fn settle_distribution(&mut self, id: Option<&str>, function: &FunctionInfo) -> Result<()> {
        let (s, c, poll) = (self.settings, self.clients, self.poll);
        self.phases.start("Distribution");
        let Some(id) = id else { return Ok(()) };
        self.out.distribution_id = id.to_owned();
        let info = distribution::wait_deployed(&c.cloudfront, poll, id).await?;
        self.out.distribution_domain = info.domain.clone();
        distribution::verify(id, &info, &function.arn, &self.out.version_arn)?;
        log::info(&format!("distribution {id} is Deployed and runs {}", self.out.version_arn));
        if s.invalidation_paths.is_empty() {
            return Ok(());
        }
        self.phases.start("Invalidation");
        let paths = s.invalidation_paths.join(", ");
        let made = distribution::already_invalidated(
            &c.cloudfront,
            poll,
            id,
            &s.invalidation_paths,
            &self.out.version_arn,
            info.last_modified,
        )
        .await?;
        let inv = match made {
            Some(inv) => {
                log::info(&format!(
                    "invalidation {inv} of {paths} was made for what the distribution runs now; not repeated"
                ));
                inv
            }
            None => {
                let inv =
                    distribution::invalidate(&c.cloudfront, poll, id, &s.invalidation_paths, &self.out.version_arn)
                        .await?;
                log::info(&format!("invalidation {inv} of {paths} completed"));
                inv
            }
        };
        self.out.invalidation_id = inv;
        Ok(())
    }

    /// Checks the site at the edge. When the check fails and `rollback-on-failure` is set, the
    /// stack is re-pointed at the version that was live before this release, and the run still
    /// fails. Re-pointing undoes a release only when the version was all it changed: otherwise it
    /// says so and rolls nothing back.
    pub(super) async fn check(&mut self, plan: Option<&Update>) -> Result<()> {
        let s = self.settings;
        // `wait: false` with `check-url` is an input error: the check follows the deployment.
        let Some(spec) = s.check.as_ref().filter(|_| s.wait) else { return Ok(()) };
        self.phases.start("Check");
        // A first launch has a new distribution: nothing from an older version is cached there.
        if plan.is_some() {
            self.clear_cached_check_path(spec).await?;
        }
        let seen = match check::run(spec, &self.out.distribution_domain).await? {
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
        let previous = plan.and_then(|p| p.live.clone().map(|live| (p, live)));
        let Some((plan, live)) = previous.filter(|_| rollback) else {
            let what = if rollback { format!("{what}; there is no earlier version to roll back to") } else { what };
            return Err(Error::failed(what, fix));
        };
        let failed_version = self.out.version_arn.clone();
        let by_hand = format!(
            "Put the stack back by hand: release the previous template and parameters with the previous code, or re-point the version alone with `rollback-to: {}` (the other changes stay); then fix the release and run it again.",
            live.arn
        );
        if live.arn == failed_version && !self.out.changed {
            return Err(Error::failed(
                format!("{what}; this run released nothing (the distribution already ran {}), so there is nothing to roll back", live.arn),
                "Re-point the stack at the version before with `rollback-to: previous`, or fix the code and release again. (A run that finds the code unchanged still checks the site: an earlier run may have stopped before its check.)",
            ));
        }
        if live.arn == failed_version {
            return Err(Error::failed(
                format!("{what}; `rollback-on-failure` has nothing to re-point: the distribution ran {} before this release too, so what changed is the stack's template or parameters, which re-pointing the version cannot undo. Nothing was rolled back", live.arn),
                by_hand,
            ));
        }
        if !plan.other_changes.is_empty() {
            return Err(Error::failed(
                format!(
                    "{what}; `rollback-on-failure` re-points only the function's version, and this release also changed {}: nothing was rolled back, the distribution runs {failed_version}",
                    plan.other_changes.join(", ")
                ),
                by_hand,
            ));
        }
        log::warn(&format!("{what}; rolling back to {} (`rollback-on-failure`)", live.arn));
        self.roll_back(plan, &live, spec)
            .await
            .map_err(|e| Error::failed(format!("{what}; rolling back to {} failed too: {e}", live.arn), e.help()))?;
        self.out.check_result = CheckResult::RolledBack;
        Err(Error::failed(
            format!(
                "{what}. The release of {failed_version} was rolled back: the distribution runs {} again",
                live.arn
            ),
            fix,
        ))
    }

    /// Re-points the stack at the version live before the release, waits, verifies, and clears what
    /// the failed version may have left cached. Every output then describes that version.
    async fn roll_back(&mut self, plan: &Update, live: &FunctionInfo, spec: &CheckSpec) -> Result<()> {
        let (s, c) = (self.settings, self.clients);
        // The release changed the stack's parameters: start from what it has now.
        let stack = stack::describe(&c.cloudformation, &s.stack_name).await?.ok_or_else(|| {
            Error::failed(
                format!("stack {} disappeared during the release", s.stack_name),
                "Check the stack in the console.",
            )
        })?;
        let now = Update {
            stack,
            function: plan.function.clone(),
            template: Template::Previous,
            summary: plan.summary.clone(),
            distribution: plan.distribution.clone(),
            live: Some(live.clone()),
            object: crate::plan::ObjectStep::Keep(None),
            version: crate::plan::VersionStep::Existing(live.clone()),
            update_stack: true,
            bookkeeping: false,
            other_changes: Vec::new(),
            warnings: Vec::new(),
        };
        self.set_version(&live.arn);
        let fill = Fill { first_launch: false, version_arn: Some(live.arn.clone()), artifact_object_version: None };
        self.repoint(&now, &Template::Previous, &fill).await?;
        self.settle_distribution(plan.distribution.as_ref().map(|(id, _)| id.as_str()), &plan.function).await?;
        // The failed version's answers may be cached now, under the check's path as under any other.
        self.clear_cached_check_path(spec).await?;
        self.out.code_sha256 = live.code_sha256.clone();
        self.out.s3_version_id = plan.stack.parameter("ArtifactObjectVersion").unwrap_or_default().to_owned();
        Ok(())
    }

    /// CloudFront answers a cached path from its cache whatever the query string when the cache key
    /// leaves query strings out (Managed-CachingOptimized does), and an origin-request function runs
    /// only on a miss: the check's cache-busting parameter would then see the version before. So the
    /// check's path is invalidated first, unless `invalidation-paths` already did it or CloudFront
    /// would not cache it.
    async fn clear_cached_check_path(&mut self, spec: &CheckSpec) -> Result<()> {
        let (s, c, poll) = (self.settings, self.clients, self.poll);
        let id = self.out.distribution_id.clone();
        if id.is_empty() {
            return Ok(());
        }
        let Some(path) = check::path_of(&spec.url, &self.out.distribution_domain) else { return Ok(()) };
        if distribution::covers(&s.invalidation_paths, &path) {
            return Ok(());
        }
        let info = distribution::get(&c.cloudfront, &id).await?;
        let Some(behavior) = distribution::behavior_for(&info, &path) else { return Ok(()) };
        let distribution::Caching::PathOnly(policy) = distribution::caching(&c.cloudfront, behavior).await else {
            return Ok(());
        };
        log::info(&format!(
            "CloudFront caches {path} by its path alone ({policy}): an answer cached from the version before would hide the new one, so {path} is invalidated before the check"
        ));
        let inv =
            distribution::invalidate(&c.cloudfront, poll, &id, std::slice::from_ref(&path), &self.out.version_arn)
                .await?;
        log::info(&format!("invalidation {inv} of {path} completed"));
        Ok(())
    }

    /// Adds to a failed stack operation what the distribution runs now, so the user knows what the
    /// site serves.
    pub(super) async fn with_distribution_state(
        &self,
        e: Error,
        distribution_id: Option<&str>,
        function_arn: &str,
    ) -> Error {
        let Error::StackFailed { stack, status, reasons, mut notes } = e else { return e };
        if let Some(id) = distribution_id {
            notes.push(match distribution::get(&self.clients.cloudfront, id).await {
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
}
