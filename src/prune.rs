//! Prune: once a release is done, deletes the function's old published versions (`keep-versions`),
//! keeping every version a site, a rollback, an alias or the stack may still need. `decide` is pure
//! and table-tested; `prune` looks, decides and deletes.
//!
//! Pruning never fails a release. A version CloudFront still replicates (hours after its last
//! association went) cannot be deleted yet: it is pending, left for a later run (`prune-only` on a
//! schedule). Any other refusal is a warning.

use crate::aws::Clients;
use crate::distribution;
use crate::error::{Error, Result};
use crate::function::{self, Deletion, FunctionInfo};
use crate::log;
use crate::preflight;
use crate::settings::Settings;
use crate::stack::{self, StackInfo};

/// Why a version is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// One of the `keep-versions` newest.
    Newest,
    /// This distribution associates it.
    Associated(String),
    /// The version `rollback-to: previous` would choose.
    Rollback,
    /// This alias points to it.
    Alias(String),
    /// The stack's AWS::Lambda::Version resource owns it: CloudFormation deletes it with the
    /// resource, and fails if it is gone already.
    StackOwned,
    /// This stack parameter names it.
    Parameter(String),
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Keep::Newest => write!(f, "one of the newest"),
            Keep::Associated(id) => write!(f, "distribution {id} runs it"),
            Keep::Rollback => write!(f, "`rollback-to: previous` would choose it"),
            Keep::Alias(a) => write!(f, "alias {a} points to it"),
            Keep::StackOwned => write!(f, "the stack's AWS::Lambda::Version owns it"),
            Keep::Parameter(p) => write!(f, "stack parameter {p} names it"),
        }
    }
}

/// What in AWS refers to a function's versions (version ARNs).
#[derive(Debug, Default, Clone)]
pub struct InUse {
    /// (distribution id, version ARN) for every association of every distribution looked at.
    pub associated: Vec<(String, String)>,
    /// (alias, version ARN).
    pub aliases: Vec<(String, String)>,
    /// The stack's `AWS::Lambda::Version` resources.
    pub owned: Vec<String>,
    /// (stack parameter, version ARN).
    pub parameters: Vec<(String, String)>,
    /// A dry run of a release that would publish: the new version would be the newest and the live
    /// one, and the version live now its rollback target.
    pub publishing: bool,
}

/// One version and the reasons to keep it; none: it is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub version: FunctionInfo,
    pub keep: Vec<Keep>,
}

/// Each published version of one function, oldest first, with why it is kept (if it is).
pub fn decide(versions: &[FunctionInfo], newest: usize, in_use: &InUse) -> Vec<Verdict> {
    let mut sorted = versions.to_vec();
    sorted.sort_by_key(FunctionInfo::number);
    // A version about to be published takes one of the newest places.
    let places = if in_use.publishing { newest.saturating_sub(1) } else { newest };
    let newest: Vec<u64> = sorted.iter().rev().take(places).map(FunctionInfo::number).collect();
    let number_of = |arn: &str| sorted.iter().find(|v| v.arn == arn).map(FunctionInfo::number);
    let live: Vec<u64> =
        in_use.associated.iter().chain(&in_use.parameters).filter_map(|(_, arn)| number_of(arn)).collect();
    // As `rollback-to: previous` chooses: the newest version below the live one that Lambda did not
    // fail to create. After a release that publishes, that is the version live now.
    let rollback: Vec<u64> = if in_use.publishing {
        live.clone()
    } else {
        live.iter()
            .filter_map(|n| sorted.iter().rev().find(|v| v.number() < *n && !v.failed).map(FunctionInfo::number))
            .collect()
    };
    sorted
        .into_iter()
        .map(|v| {
            let mut keep = Vec::new();
            if newest.contains(&v.number()) {
                keep.push(Keep::Newest);
            }
            for (id, arn) in &in_use.associated {
                if *arn == v.arn && !keep.contains(&Keep::Associated(id.clone())) {
                    keep.push(Keep::Associated(id.clone()));
                }
            }
            if rollback.contains(&v.number()) {
                keep.push(Keep::Rollback);
            }
            for (alias, arn) in &in_use.aliases {
                if *arn == v.arn {
                    keep.push(Keep::Alias(alias.clone()));
                }
            }
            if in_use.owned.contains(&v.arn) {
                keep.push(Keep::StackOwned);
            }
            for (parameter, arn) in &in_use.parameters {
                if *arn == v.arn {
                    keep.push(Keep::Parameter(parameter.clone()));
                }
            }
            Verdict { version: v, keep }
        })
        .collect()
}

/// What pruning did to one function's versions (version numbers).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub function: String,
    pub deleted: Vec<String>,
    /// Still replicated by CloudFront: a later run deletes them.
    pub pending: Vec<String>,
}

/// Prunes each function (`publishing`: per function, whether a dry run's release would publish
/// one). With `dry_run`, says what it would delete and keep, and deletes nothing. Never fails: a
/// problem is a warning, and what was done so far is returned.
pub async fn prune(s: &Settings, c: &Clients, newest: usize, publishing: &[bool], dry_run: bool) -> Vec<Pruned> {
    match prune_all(s, c, newest, publishing, dry_run).await {
        Ok(p) => p,
        Err((done, e)) => {
            log::warn(&format!("`keep-versions`: pruning stopped: {e} ({})", e.help()));
            done
        }
    }
}

async fn prune_all(
    s: &Settings,
    c: &Clients,
    newest: usize,
    publishing: &[bool],
    dry_run: bool,
) -> std::result::Result<Vec<Pruned>, (Vec<Pruned>, Error)> {
    let mut done = Vec::new();
    let stack = match stack::describe(&c.cloudformation, &s.stack_name).await {
        Ok(Some(st)) => st,
        Ok(None) => {
            log::warn(&format!("`keep-versions`: stack {} does not exist; nothing pruned", s.stack_name));
            return Ok(done);
        }
        Err(e) => return Err((done, e)),
    };
    if let Some(why) = unsettled(&stack) {
        log::warn(&format!("`keep-versions`: nothing pruned: stack {} {why}; a later run prunes", s.stack_name));
        return Ok(done);
    }
    let shared = match in_use_by_stack(s, c, &stack).await {
        Ok(u) => u,
        Err(e) => return Err((done, e)),
    };
    for (i, f) in s.functions.iter().enumerate() {
        let pruned = prune_function(c, &f.name, newest, &shared, publishing.get(i).copied().unwrap_or(false), dry_run)
            .await
            .map_err(|e| (done.clone(), e))?;
        done.push(pruned);
    }
    Ok(done)
}

/// Why the stack is not settled enough to prune next to it, if it is not.
fn unsettled(stack: &StackInfo) -> Option<String> {
    let status = stack.status.as_str();
    (!status.ends_with("_COMPLETE") || status == "DELETE_COMPLETE")
        .then(|| format!("is in {status}, not a completed state"))
}

/// What the stack and its distributions refer to, for every function.
async fn in_use_by_stack(s: &Settings, c: &Clients, stack: &StackInfo) -> Result<InUse> {
    let mut ids: Vec<String> = stack::resources_of_type(&c.cloudformation, &stack.id, preflight::DISTRIBUTION_TYPE)
        .await?
        .into_iter()
        .map(|(_, physical)| physical)
        .collect();
    if let Some(id) = &s.distribution_id {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let mut associated = Vec::new();
    for id in ids {
        let info = distribution::get(&c.cloudfront, &id).await?;
        associated.extend(info.associations.iter().map(|a| (id.clone(), a.arn.clone())));
    }
    let owned = stack::resources_of_type(&c.cloudformation, &stack.id, preflight::VERSION_TYPE)
        .await?
        .into_iter()
        .map(|(_, physical)| physical)
        .collect();
    let parameters = stack
        .parameters
        .iter()
        .filter(|(_, v)| function::version_of(v).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(InUse { associated, aliases: Vec::new(), owned, parameters, publishing: false })
}

async fn prune_function(
    c: &Clients,
    name: &str,
    newest: usize,
    shared: &InUse,
    publishing: bool,
    dry_run: bool,
) -> Result<Pruned> {
    let mut pruned = Pruned { function: name.to_owned(), ..Default::default() };
    let Some(function) = function::get(&c.lambda, name).await? else {
        log::warn(&format!("`keep-versions`: function {name} does not exist; nothing pruned"));
        return Ok(pruned);
    };
    let versions = function::versions(&c.lambda, name).await?;
    let in_use =
        InUse { aliases: function::aliases(&c.lambda, name, &function.arn).await?, publishing, ..shared.clone() };
    let verdicts = decide(&versions, newest, &in_use);
    let (kept, doomed): (Vec<&Verdict>, Vec<&Verdict>) = verdicts.iter().partition(|v| !v.keep.is_empty());
    let kept_text: Vec<String> = kept
        .iter()
        .map(|v| {
            let why: Vec<String> = v.keep.iter().map(Keep::to_string).collect();
            format!("{} ({})", v.version.version, why.join("; "))
        })
        .collect();
    let doomed_numbers: Vec<String> = doomed.iter().map(|v| v.version.version.clone()).collect();
    let verb = if dry_run { "would delete" } else { "deleting" };
    log::info(&format!(
        "`keep-versions: {newest}` on {name}: {verb} {}; keeping {}",
        if doomed_numbers.is_empty() { "none".to_owned() } else { doomed_numbers.join(", ") },
        if kept_text.is_empty() { "none".to_owned() } else { kept_text.join(", ") }
    ));
    if dry_run {
        return Ok(pruned);
    }
    for v in doomed {
        match function::delete_version(&c.lambda, name, &v.version.version).await {
            Ok(Deletion::Deleted) => pruned.deleted.push(v.version.version.clone()),
            Ok(Deletion::Replicated) => {
                log::info(&format!(
                    "version {} of {name} is still replicated by CloudFront (its replicas go hours after its last association): pending, a later run deletes it",
                    v.version.version
                ));
                pruned.pending.push(v.version.version.clone());
            }
            Ok(Deletion::Gone) => {}
            Err(e) => log::warn(&format!(
                "`keep-versions`: version {} of {name} was not deleted: {e} ({})",
                v.version.version,
                e.help()
            )),
        }
    }
    if !pruned.pending.is_empty() {
        log::info(&format!(
            "{name}: {} version(s) pending deletion; a scheduled run with `prune-only: true` deletes them once CloudFront has removed their replicas",
            pruned.pending.len()
        ));
    }
    Ok(pruned)
}

/// The `prune-only` run: checks that the stack and its functions exist (else exit 2), then prunes.
pub async fn only(s: &Settings, c: &Clients, newest: usize) -> Result<Vec<Pruned>> {
    let mut problems = Vec::new();
    if stack::describe(&c.cloudformation, &s.stack_name).await?.is_none() {
        problems.push(Error::precondition(
            format!("stack {} does not exist: there is nothing to prune", s.stack_name),
            "Fix `stack-name`; `prune-only` deletes old versions of a released stack's functions.",
        ));
    }
    for f in &s.functions {
        if function::get(&c.lambda, &f.name).await?.is_none() {
            problems.push(Error::precondition(
                format!("function {} does not exist: there is nothing to prune", f.name),
                "Fix the function's name (`function-name`, or the line of `functions`).",
            ));
        }
    }
    match problems.len() {
        0 => Ok(prune(s, c, newest, &[], s.dry_run).await),
        1 => Err(problems.remove(0)),
        _ => Err(Error::Preflight(problems)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:edge";

    fn v(n: u64) -> FunctionInfo {
        FunctionInfo { arn: format!("{FN}:{n}"), version: n.to_string(), ..Default::default() }
    }

    fn arn(n: u64) -> String {
        format!("{FN}:{n}")
    }

    /// Versions 1..=n.
    fn versions(n: u64) -> Vec<FunctionInfo> {
        (1..=n).map(v).collect()
    }

    /// The numbers `decide` deletes.
    fn deleted(versions: &[FunctionInfo], newest: usize, in_use: &InUse) -> Vec<u64> {
        decide(versions, newest, in_use).iter().filter(|v| v.keep.is_empty()).map(|v| v.version.number()).collect()
    }

    fn live(n: u64) -> InUse {
        InUse { associated: vec![("E1".into(), arn(n))], ..Default::default() }
    }

    #[test]
    fn each_rule_keeps_what_it_names_and_nothing_else() {
        // (case, versions, keep-versions, in use) → deleted
        let with = |f: &dyn Fn(&mut InUse)| {
            let mut u = live(6);
            f(&mut u);
            u
        };
        type Case<'a> = (&'a str, Vec<FunctionInfo>, usize, InUse, Vec<u64>);
        let cases: Vec<Case> = vec![
            (
                "the newest and the live one; the one before it for a rollback",
                versions(6),
                1,
                live(6),
                vec![1, 2, 3, 4],
            ),
            ("two newest", versions(6), 2, live(6), vec![1, 2, 3, 4]),
            ("three newest", versions(6), 3, live(6), vec![1, 2, 3]),
            ("an alias", versions(6), 1, with(&|u| u.aliases.push(("stable".into(), arn(2)))), vec![1, 3, 4]),
            ("the stack's own version", versions(6), 1, with(&|u| u.owned.push(arn(1))), vec![2, 3, 4]),
            ("a parameter", versions(6), 1, with(&|u| u.parameters.push(("OldVersion".into(), arn(3)))), vec![1, 4]),
            ("a live version that is not the newest (a rollback ran)", versions(6), 1, live(3), vec![1, 4, 5]),
            ("two distributions", versions(6), 1, with(&|u| u.associated.push(("E2".into(), arn(4)))), vec![1, 2]),
            ("more to keep than there are", versions(2), 5, live(2), vec![]),
            ("nothing in use", versions(3), 1, InUse::default(), vec![1, 2]),
        ];
        for (case, versions, newest, in_use, want) in cases {
            assert_eq!(deleted(&versions, newest, &in_use), want, "{case}");
        }
    }

    #[test]
    fn the_rollback_target_skips_a_version_lambda_failed_to_create() {
        let mut vs = versions(6);
        vs[4].failed = true; // version 5
        assert_eq!(deleted(&vs, 1, &live(6)), vec![1, 2, 3, 5]);
    }

    #[test]
    fn a_dry_run_of_a_release_counts_the_version_it_would_publish() {
        // Version 7 would be published and live: version 6 is then the rollback target, and only one
        // of the existing versions is among the two newest.
        let publishing = InUse { publishing: true, ..live(6) };
        assert_eq!(deleted(&versions(6), 2, &publishing), vec![1, 2, 3, 4, 5]);
        assert_eq!(deleted(&versions(6), 1, &publishing), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn each_reason_is_said() {
        let in_use = InUse {
            associated: vec![("E1".into(), arn(3))],
            aliases: vec![("live".into(), arn(3))],
            owned: vec![arn(1)],
            parameters: vec![("LambdaVersion".into(), arn(3))],
            publishing: false,
        };
        let verdicts = decide(&versions(3), 1, &in_use);
        let why: Vec<String> = verdicts[2].keep.iter().map(Keep::to_string).collect();
        assert_eq!(
            why,
            [
                "one of the newest",
                "distribution E1 runs it",
                "alias live points to it",
                "stack parameter LambdaVersion names it"
            ]
        );
        assert_eq!(verdicts[1].keep, vec![Keep::Rollback]);
        assert_eq!(verdicts[0].keep, vec![Keep::StackOwned]);
    }

    #[test]
    fn only_a_completed_stack_is_pruned_next_to() {
        let st = |status: &str| StackInfo { status: stack::StackStatus::new(status), ..Default::default() };
        for ok in ["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"] {
            assert_eq!(unsettled(&st(ok)), None, "{ok}");
        }
        for not in ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_FAILED", "DELETE_COMPLETE", "REVIEW_IN_PROGRESS"] {
            assert!(unsettled(&st(not)).is_some(), "{not}");
        }
    }
}
