//! lambda-edge-deploy: releases a Lambda@Edge function through CloudFormation in one step.
//!
//! A run reads its [`inputs`] into [`settings`], looks before it writes ([`preflight`]), decides
//! ([`plan`]) and acts ([`release`]): [`package`] → [`artifact`] → [`function`] → [`stack`] →
//! [`distribution`] → [`check`], then [`report`]s. [`run`] is the harness around one release, for
//! the action here and for the S3-triggered [`deployer`].

// A panic aborts the process (`panic = "abort"`): in the deployer that kills the Lambda runtime.
// Every failure is an `Error` with its exit code instead.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod artifact;
pub mod aws;
pub mod canary;
pub mod changeset;
pub mod check;
pub mod cli;
pub mod deployer;
pub mod distribution;
pub mod error;
pub mod function;
pub mod github;
pub mod inputs;
pub mod log;
pub mod package;
pub mod parameters;
pub mod plan;
pub mod poll;
pub mod preflight;
pub mod prune;
pub mod release;
pub mod report;
pub mod run;
pub mod settings;
pub mod stack;
pub mod template;

use error::Error;
use report::Timings;

/// One run of the action, from the environment's variables to the exit code.
pub async fn run<I>(vars: I) -> i32
where
    I: IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
{
    let settings = match inputs::read(vars).and_then(|(raw, unknown)| {
        // Before validation, so that input errors are reported in the format asked for too.
        log::set_json(raw.log_format.as_deref().map(str::trim) == Some("json"));
        let unknown = inputs::unknown_problems(&unknown);
        match settings::validate(raw) {
            Err(Error::Inputs(mut problems)) => {
                problems.extend(unknown);
                Err(Error::Inputs(problems))
            }
            Ok(_) if !unknown.is_empty() => Err(Error::Inputs(unknown)),
            other => other,
        }
    }) {
        Ok(s) => s,
        Err(e) => return run::fail(&e, "lambda-edge-deploy", None, &Timings::default()),
    };

    let clients = aws::Clients::load(&settings.region).await;
    match clients.identify().await {
        Ok(who) => log::info(&format!("Acting as {who}")),
        Err(e) => return run::fail(&e, &settings.names(), None, &Timings::default()),
    }
    log::debug(&format!(
        "function {}, stack {}, bucket {}, region {}, endpoint {}",
        settings.names(),
        settings.stack_name,
        settings.artifact_bucket,
        settings.region,
        clients.custom_endpoint.as_deref().unwrap_or("AWS")
    ));
    let mut signals = match run::Signals::install() {
        Ok(s) => s,
        Err(e) => return run::fail(&e, &settings.names(), None, &Timings::default()),
    };
    let ended = run::release(&settings, &clients, None, settings.timeout, Some(&mut signals)).await;
    match ended.result {
        Ok(()) => {
            // The release is done whatever happens to its report: a file that cannot be written is
            // a warning, and a re-run (which changes nothing) writes the same outputs again.
            if let Err(e) = report::publish(&ended.outputs)
                .and_then(|_| report::summarize(&settings.names(), Some(&ended.outputs), &ended.timings, None))
            {
                log::warn(&format!(
                    "the release succeeded, but its report could not be written: {e}. Later steps will not see its outputs; run the step again to write them (it changes nothing)"
                ));
            }
            0
        }
        Err(e) => run::fail(&e, &settings.names(), Some(&ended.outputs), &ended.timings),
    }
}
