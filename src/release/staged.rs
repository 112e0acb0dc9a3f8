//! A staged release (`strategy: staged`): the new version runs on the staging distribution first,
//! for the requests with the canary header (the check sends it), then optionally for a share of all
//! requests while the error rate is watched (the bake); then the primary takes it (promotion), or
//! the staging distribution goes back to the primary's version (abort) and the run fails. Every step
//! is a stack update of the canary's parameters (`canary.rs`); the primary's version parameter
//! moves only at promotion, so a failed canary never reached the primary. `mode: promote`/`abort`
//! finish a canary that `promote: false` left live.

use std::time::SystemTime;

use super::{bug, Release};
use crate::artifact::Artifact;
use crate::canary::{self, Stage, Traffic};
use crate::check::{self, CheckSpec};
use crate::distribution;
use crate::error::{Error, Result};
use crate::function::FunctionInfo;
use crate::log;
use crate::parameters::Fill;
use crate::plan::{Unit, Update};
use crate::report::CheckResult;
use crate::settings::{Mode, Staged};
use crate::template::Template;

/// What a stack update of the canary leaves: the version each distribution runs, and the policy.
struct Expect<'a> {
    primary: &'a str,
    staging: &'a str,
    enabled: bool,
    traffic: Option<Traffic>,
}

impl Release<'_> {
    /// The staged release of `versions[0]` (new code, published): canary, check, bake, then
    /// promotion, or the abort.
    pub(super) async fn stage(
        &mut self,
        plan: &Update,
        stage: &Stage,
        versions: &[FunctionInfo],
        objects: &[Option<Artifact>],
    ) -> Result<()> {
        let Some(staged) = self.settings.staged.clone() else {
            return Err(bug("a staged plan without `strategy: staged`"));
        };
        let (Some(unit), Some(new)) = (plan.units.first(), versions.first()) else {
            return Err(bug("a staged release without its function"));
        };
        let Some(live) = unit.live.clone() else { return Err(bug("a staged release without the primary's version")) };
        self.out.staging_distribution_id = stage.staging_id.clone();
        self.out.canary_result = "pending".into();
        let object = objects.first().cloned().flatten();
        match self.canary(plan, stage, &staged, unit, &live, new, object.as_ref()).await {
            Ok(judged) if !staged.promote => {
                self.out.canary_result = if judged { "passed" } else { "pending" }.into();
                log::info(&format!(
                    "the canary of {} is live on staging distribution {} (`promote: false`): the primary keeps {}; finish it with `mode: promote` or `mode: abort`",
                    new.arn, stage.staging_id, live.arn
                ));
                Ok(())
            }
            Ok(_) => self.promote(plan, stage, unit, new, object.as_ref()).await,
            Err(e) => Err(self.abort_after(e, plan, stage, unit, &live, new).await),
        }
    }

    /// The canary on (the staging distribution runs `new`, the primary `live`), its check through
    /// the header, and the bake. Whether anything judged it (a check or a bake).
    #[allow(clippy::too_many_arguments)]
    async fn canary(
        &mut self,
        plan: &Update,
        stage: &Stage,
        staged: &Staged,
        unit: &Unit,
        live: &FunctionInfo,
        new: &FunctionInfo,
        object: Option<&Artifact>,
    ) -> Result<bool> {
        let s = self.settings;
        let started = SystemTime::now();
        let header = Traffic::Header { name: staged.header.clone(), value: staged.header_value.clone() };
        log::info(&format!(
            "staging {} on distribution {} for the requests with `{}: {}`; the primary keeps {}",
            new.arn, stage.staging_id, staged.header, staged.header_value, live.arn
        ));
        let on = [
            (canary::CANDIDATE, new.arn.clone()),
            (canary::ENABLED, "true".to_owned()),
            (canary::MODE, "header".to_owned()),
            (canary::HEADER, staged.header.clone()),
            (canary::HEADER_VALUE, staged.header_value.clone()),
        ];
        let fill = canary_fill(plan, live, object, &on);
        self.repoint(plan, &plan.template, &fill).await?;
        self.settle_stage(
            plan,
            stage,
            unit,
            Expect { primary: &live.arn, staging: &new.arn, enabled: true, traffic: Some(header) },
        )
        .await?;
        let mut judged = false;
        if let Some(spec) = &s.check {
            self.check_canary(spec, stage, staged).await?;
            judged = true;
        }
        let Some(bake) = staged.bake else { return Ok(judged) };
        if let Some(weight) = staged.weight {
            log::info(&format!(
                "sending {} % of all requests to the canary for the bake",
                (weight * 100.0 * 1000.0).round() / 1000.0
            ));
            let mut weighted = on.to_vec();
            weighted[2].1 = "weight".to_owned();
            weighted.push((canary::WEIGHT, weight.to_string()));
            let fill = canary_fill(plan, live, object, &weighted);
            self.repoint(plan, &Template::Previous, &fill).await?;
            let expect =
                Expect { primary: &live.arn, staging: &new.arn, enabled: true, traffic: Some(Traffic::Weight(weight)) };
            self.settle_stage(plan, stage, unit, expect).await?;
        }
        self.phases.start("Bake");
        let seen = canary::bake(self.clients, &stage.staging_id, started, bake, staged.max_error_rate).await?;
        log::info(&format!("bake passed: {seen}"));
        Ok(true)
    }

    /// The check at the edge, on the primary's domain with the canary header: CloudFront sends
    /// it to the staging distribution, whose cache is first cleared of the check's path (and of
    /// `invalidation-paths`) so that what answers is the candidate.
    async fn check_canary(&mut self, spec: &CheckSpec, stage: &Stage, staged: &Staged) -> Result<()> {
        let (s, c, poll) = (self.settings, self.clients, self.poll);
        self.phases.start("Check");
        let tag = distribution::release_tag(&[stage_tag(self)]);
        if !s.invalidation_paths.is_empty() {
            let inv =
                distribution::invalidate(&c.cloudfront, poll, &stage.staging_id, &s.invalidation_paths, &tag).await?;
            log::info(&format!(
                "invalidation {inv} of {} on staging distribution {} completed",
                s.invalidation_paths.join(", "),
                stage.staging_id
            ));
        }
        self.clear_cached_check_path(spec, &stage.staging_id).await?;
        let route = Some((staged.header.as_str(), staged.header_value.as_str()));
        match check::run(spec, &self.out.distribution_domain, route).await? {
            Ok(seen) => {
                self.out.check_result = CheckResult::Passed;
                self.out.check_detail = seen.describe();
                log::info(&format!("check of the canary passed: {}", self.out.check_detail));
                Ok(())
            }
            Err(seen) => {
                self.out.check_result = CheckResult::Failed;
                self.out.check_detail = seen.describe();
                Err(Error::failed(
                    format!(
                        "the check of the canary (with `{}: {}`) failed: {}",
                        staged.header, staged.header_value, self.out.check_detail
                    ),
                    "Fix the code (or the check's expectations) and release again.",
                ))
            }
        }
    }

    /// Promotion: the primary takes `new`, the policy is disabled and the staging distribution
    /// follows the primary; both are waited for and verified, and `invalidation-paths` cleared on
    /// the primary.
    async fn promote(
        &mut self,
        plan: &Update,
        stage: &Stage,
        unit: &Unit,
        new: &FunctionInfo,
        object: Option<&Artifact>,
    ) -> Result<()> {
        log::info(&format!("promoting {}: the primary distribution takes it", new.arn));
        self.set_version(0, &new.arn);
        let fill = canary_fill(plan, new, object, &off());
        let promoted = async {
            self.repoint(plan, &Template::Previous, &fill).await?;
            self.settle_stage(
                plan,
                stage,
                unit,
                Expect { primary: &new.arn, staging: &new.arn, enabled: false, traffic: None },
            )
            .await?;
            let primary = plan.distribution.as_ref().map(|(id, _)| id.clone());
            self.settle_distribution(primary.as_deref(), std::slice::from_ref(&unit.function)).await
        };
        match promoted.await {
            Ok(()) => {
                self.out.canary_result = "promoted".into();
                log::info(&format!("promoted: distribution {} runs {}", self.out.distribution_id, new.arn));
                Ok(())
            }
            Err(e) => {
                self.out.canary_result = "failed".into();
                let fix = format!(
                    "{} The canary of {} may still be live: run again with `mode: promote`, or withdraw it with `mode: abort`.",
                    e.help(),
                    new.arn
                );
                Err(Error::failed(format!("the promotion of {} failed: {e}", new.arn), fix))
            }
        }
    }

    /// After a failure before promotion: the staging distribution back to the primary's version
    /// and the policy disabled. The run still fails, with what happened to the canary.
    async fn abort_after(
        &mut self,
        e: Error,
        plan: &Update,
        stage: &Stage,
        unit: &Unit,
        live: &FunctionInfo,
        new: &FunctionInfo,
    ) -> Error {
        log::warn(&format!("{e}; aborting the canary of {}", new.arn));
        self.phases.start("Abort");
        match self.withdraw(plan, stage, unit, live).await {
            Ok(()) => {
                self.out.canary_result = "aborted".into();
                Error::failed(
                    format!(
                        "{e}. The canary was aborted: the staging distribution runs {} again, and the primary never ran {}",
                        live.arn, new.arn
                    ),
                    e.help(),
                )
            }
            Err(abort) => {
                self.out.canary_result = "failed".into();
                Error::failed(
                    format!("{e}; aborting the canary failed too: {abort}"),
                    format!(
                        "The primary runs {} (its version parameter never changed); the canary of {} may still be live: run `mode: abort` (same stack) once the cause is fixed.",
                        live.arn, new.arn
                    ),
                )
            }
        }
    }

    /// The policy disabled and no candidate: both distributions run `live`.
    async fn withdraw(&mut self, plan: &Update, stage: &Stage, unit: &Unit, live: &FunctionInfo) -> Result<()> {
        let fill = canary_fill(plan, live, None, &off());
        self.repoint(plan, &Template::Previous, &fill).await?;
        self.settle_stage(
            plan,
            stage,
            unit,
            Expect { primary: &live.arn, staging: &live.arn, enabled: false, traffic: None },
        )
        .await?;
        self.set_version(0, &live.arn);
        self.function_out(0, |o| o.code_sha256 = live.code_sha256.clone());
        Ok(())
    }

    /// `mode: promote` or `mode: abort`: the canary a staged run left live.
    pub(super) async fn finish_canary(&mut self, plan: Update) -> Result<()> {
        let Some(stage) = plan.staged.clone() else { return Err(bug("`mode: promote`/`abort` without a staged plan")) };
        let Some(unit) = plan.units.first() else { return Err(bug("`mode: promote`/`abort` without its function")) };
        let crate::plan::VersionStep::Existing(target) = &unit.version else {
            return Err(bug("`mode: promote`/`abort` with a version to publish"));
        };
        self.out.stack_id = plan.stack.id.clone();
        self.out.stack_status = plan.stack.status.to_string();
        self.out.function_arn = unit.function.arn.clone();
        self.out.staging_distribution_id = stage.staging_id.clone();
        if let Some((id, d)) = &plan.distribution {
            self.out.distribution_id = id.clone();
            self.out.distribution_domain = d.domain.clone();
        }
        self.set_version(0, &target.arn);
        self.function_out(0, |o| o.code_sha256 = target.code_sha256.clone());
        let Some(candidate) = stage.candidate.clone() else {
            // `mode: abort` with no canary live (promote refuses in the plan): done already.
            log::info(&format!(
                "no canary is live on stack {}: nothing to abort; the primary runs {}",
                self.settings.stack_name, target.arn
            ));
            return Ok(());
        };
        if self.settings.mode == Mode::Abort {
            log::info(&format!(
                "aborting the canary of {candidate}: the staging distribution goes back to {}",
                target.arn
            ));
            self.phases.start("Abort");
            self.withdraw(&plan, &stage, unit, target).await?;
            self.out.canary_result = "aborted".into();
            return Ok(());
        }
        let Some(staged) = self.settings.staged.clone() else {
            return Err(bug("`mode: promote` without its settings"));
        };
        if let Some(spec) = &self.settings.check {
            if let Err(e) = self.check_canary(spec, &stage, &staged).await {
                let Some(live) = unit.live.clone() else { return Err(e) };
                return Err(self.abort_after(e, &plan, &stage, unit, &live, target).await);
            }
        }
        self.promote(&plan, &stage, unit, target, None).await
    }

    /// Waits for the stack update's CloudFront deployments and verifies what they run: each
    /// distribution's version, and the policy.
    async fn settle_stage(&mut self, plan: &Update, stage: &Stage, unit: &Unit, expect: Expect<'_>) -> Result<()> {
        let c = self.clients;
        self.phases.start("Distribution");
        let Some((primary_id, _)) = &plan.distribution else { return Err(bug("a staged release without its primary")) };
        let (primary, staging) = canary::wait_both(c, self.poll, primary_id, &stage.staging_id).await?;
        self.out.distribution_domain = primary.domain.clone();
        distribution::verify(primary_id, &primary, &unit.function.arn, expect.primary)?;
        distribution::verify(&stage.staging_id, &staging, &unit.function.arn, expect.staging)?;
        let policy = canary::get_policy(c, &stage.policy.id).await?;
        let traffic_ok = expect.traffic.as_ref().is_none_or(|t| match (t, &policy.traffic) {
            (Traffic::Weight(want), Traffic::Weight(got)) => (want - got).abs() < 1e-6,
            (want, got) => want == got,
        });
        if policy.enabled != expect.enabled || !traffic_ok {
            return Err(Error::failed(
                format!(
                    "after the stack update, continuous deployment policy {} is {} with {:?}; expected {} with {:?}",
                    policy.id,
                    if policy.enabled { "enabled" } else { "disabled" },
                    policy.traffic,
                    if expect.enabled { "enabled" } else { "disabled" },
                    expect.traffic
                ),
                "The template's policy must take Enabled from CanaryEnabled and its TrafficConfig from CanaryMode, CanaryHeader, CanaryHeaderValue and CanaryWeight (see examples/staged/template.yaml).",
            ));
        }
        log::info(&format!(
            "distribution {primary_id} runs {} and staging distribution {} runs {}; the policy is {}",
            expect.primary,
            stage.staging_id,
            expect.staging,
            if policy.enabled { "enabled" } else { "disabled" }
        ));
        Ok(())
    }
}

/// The stack's values for a canary step: the primary's version `released` (with the code's object,
/// when this run uploaded one) and the canary's parameters.
fn canary_fill(plan: &Update, released: &FunctionInfo, object: Option<&Artifact>, canary: &[(&str, String)]) -> Fill {
    let mut fill = plan.fill(std::slice::from_ref(released), &[object.cloned()]);
    fill.fixed = canary.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    fill
}

/// No canary: the policy disabled, the staging distribution on the primary's version.
fn off() -> Vec<(&'static str, String)> {
    vec![
        (canary::ENABLED, "false".to_owned()),
        (canary::CANDIDATE, canary::NONE.to_owned()),
        (canary::MODE, "header".to_owned()),
    ]
}

/// What the staging distribution's invalidations are made for: the candidate's version.
fn stage_tag(release: &Release<'_>) -> String {
    release.out.version_arn.clone()
}
