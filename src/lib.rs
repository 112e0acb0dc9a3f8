//! lambda-edge-deploy: releases a Lambda@Edge function through CloudFormation in one step.
//!
//! The modules follow a release: [`inputs`] → [`package`] → [`artifact`] → [`function`] → [`stack`]
//! → [`distribution`] → [`report`], driven by [`release`].

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
pub mod check;
pub mod deployer;
pub mod distribution;
pub mod error;
pub mod function;
pub mod github;
pub mod inputs;
pub mod log;
pub mod package;
pub mod poll;
pub mod preflight;
pub mod release;
pub mod report;
pub mod stack;
pub mod template;

use std::time::Duration;

use error::Error;
use report::Outputs;

/// One run, from the environment's variables to the exit code.
pub async fn run<I>(vars: I) -> i32
where
    I: IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
{
    let settings = match inputs::read(vars).and_then(|(raw, unknown)| {
        for name in unknown {
            log::warn(&format!("{name} matches no input of lambda-edge-deploy; it is ignored (a typo?)"));
        }
        inputs::validate(raw)
    }) {
        Ok(s) => s,
        Err(e) => return fail(&e, "lambda-edge-deploy", None, &report::Timings::default()),
    };

    let clients = aws::Clients::load(&settings.region).await;
    log::debug(&format!(
        "function {}, stack {}, bucket {}, region {}, endpoint {}",
        settings.function_name,
        settings.stack_name,
        settings.artifact_bucket,
        settings.region,
        clients.custom_endpoint.as_deref().unwrap_or("AWS")
    ));
    let poll = poll::Poll::new(settings.timeout);
    let mut phases = release::Phases::default();
    let mut outputs = Outputs::default();
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => return fail(&e, &settings.function_name, None, &phases.timings),
    };
    let stop = package::Stop::default();
    let ended = {
        // Polls stop at the deadline themselves; this also bounds calls that are not polls (an upload).
        let release = tokio::time::timeout(
            settings.timeout + poll::BACKSTOP_GRACE,
            release::run(&settings, &clients, &poll, &mut phases, &mut outputs, None, &stop),
        );
        tokio::select! {
            r = release => match r {
                Ok(r) => Ended::Done(r),
                Err(_) => Ended::TimedOut,
            },
            signal = signals.next() => Ended::Interrupted(signal),
        }
    };
    let result = match ended {
        Ended::Done(r) => r,
        Ended::TimedOut => Err(poll.timed_out(phases.current().unwrap_or("the release"), "still in progress")),
        Ended::Interrupted(signal) => {
            // Packaging runs on its own thread: stop it, and let it remove its temporary zip.
            stop.request();
            if !stop.stopped(Duration::from_secs(2)).await {
                log::warn("packaging did not stop within 2 s; its temporary zip may stay behind");
            }
            Err(interrupted(&settings, &clients, &phases, &outputs, signal).await)
        }
    };
    phases.end();
    match result {
        Ok(()) => {
            // The release is done whatever happens to its report: a file that cannot be written is
            // a warning, and a re-run (which changes nothing) writes the same outputs again.
            if let Err(e) = report::publish(&outputs)
                .and_then(|_| report::summarize(&settings.function_name, Some(&outputs), &phases.timings, None))
            {
                log::warn(&format!(
                    "the release succeeded, but its report could not be written: {e}. Later steps will not see its outputs; run the step again to write them (it changes nothing)"
                ));
            }
            0
        }
        Err(e) => fail(&e, &settings.function_name, Some(&outputs), &phases.timings),
    }
}

enum Ended {
    Done(error::Result<()>),
    TimedOut,
    Interrupted(&'static str),
}

/// SIGINT and SIGTERM, installed before any work: the runner cancels a step with SIGINT, then SIGTERM
/// 7.5 s later, then kills it; as PID 1 in a container the process has no default handling at all.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> error::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        let io = |e| Error::Io { context: "installing signal handlers".into(), source: e };
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).map_err(io)?,
            terminate: signal(SignalKind::terminate()).map_err(io)?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}

/// Stops on a signal: says what was in progress and how to follow it, and with `on-interrupt:
/// cancel` cancels a stack update in progress so that it rolls back.
async fn interrupted(
    s: &inputs::Settings,
    clients: &aws::Clients,
    phases: &release::Phases,
    outputs: &Outputs,
    signal: &str,
) -> Error {
    let during = format!("{} ({signal})", phases.current().unwrap_or("start-up"));
    let mut follow = Vec::new();
    if let Some(f) = &phases.in_flight {
        let cancel = s.on_interrupt == inputs::OnInterrupt::Cancel && f.operation == stack::Operation::Update;
        if cancel {
            match stack::cancel_update(&clients.cloudformation, &f.stack_id).await {
                Ok(()) => follow.push(format!(
                    "The update of stack {} was cancelled (`on-interrupt: cancel`): CloudFormation now rolls it back to the previous version.",
                    f.stack_name
                )),
                Err(e) => follow.push(format!("Cancelling the update of stack {} failed: {e}", f.stack_name)),
            }
        } else {
            follow.push(format!(
                "Stack {} is still being {}d by CloudFormation and will finish on its own.",
                f.stack_name,
                match f.operation {
                    stack::Operation::Create => "create",
                    stack::Operation::Update => "update",
                }
            ));
        }
        follow.push(format!("Follow it: aws cloudformation describe-stack-events --stack-name {}", f.stack_name));
    }
    if !outputs.distribution_id.is_empty() {
        follow.push(format!(
            "Follow the distribution: aws cloudfront wait distribution-deployed --id {}",
            outputs.distribution_id
        ));
    }
    if !outputs.version_arn.is_empty() {
        follow.push(format!("The version being released is {}; the next run picks it up again.", outputs.version_arn));
    }
    if follow.is_empty() {
        follow.push("Nothing was in progress in AWS; run again to release.".into());
    }
    Error::Interrupted { during, follow: follow.join(" ") }
}

/// Reports a failure: the annotation, what to do, the outputs known so far, the summary.
pub(crate) fn fail(e: &Error, function: &str, outputs: Option<&Outputs>, timings: &report::Timings) -> i32 {
    // Each failed stack event is an annotation of its own, so the cause shows on the run's page.
    if let Error::StackFailed { reasons, .. } = e {
        for r in reasons {
            log::error("Stack event", r);
        }
    }
    log::error(e.title(), &format!("{e}\nWhat to do: {}", e.help()));
    if let Some(o) = outputs {
        let _ = report::publish(o);
    }
    let _ = report::summarize(function, outputs, timings, Some(e));
    e.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::operation::cancel_update_stack::CancelUpdateStackOutput;
    use aws_smithy_mocks::{mock, mock_client};

    fn settings(on_interrupt: &str) -> inputs::Settings {
        let vars = [
            ("INPUT_FUNCTION-NAME", "edge"),
            ("INPUT_STACK-NAME", "site"),
            ("INPUT_ARTIFACT-BUCKET", "artifacts"),
            ("INPUT_ROLLBACK-TO", "previous"),
            ("INPUT_ON-INTERRUPT", on_interrupt),
        ];
        inputs::validate(inputs::read(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap().0).unwrap()
    }

    fn clients(cfn: aws_sdk_cloudformation::Client) -> aws::Clients {
        let config = aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
        aws::Clients { cloudformation: cfn, ..aws::Clients::from_config(&config) }
    }

    fn updating() -> release::Phases {
        let mut phases = release::Phases::default();
        phases.in_flight = Some(release::InFlight {
            stack_name: "site".into(),
            stack_id: "arn:site".into(),
            operation: stack::Operation::Update,
        });
        phases
    }

    #[tokio::test]
    async fn an_interrupt_with_cancel_cancels_the_update_in_progress() {
        let cancel = mock!(aws_sdk_cloudformation::Client::cancel_update_stack)
            .match_requests(|r| r.stack_name() == Some("arn:site"))
            .then_output(|| CancelUpdateStackOutput::builder().build());
        let c = clients(mock_client!(aws_sdk_cloudformation, [&cancel]));
        let e = interrupted(&settings("cancel"), &c, &updating(), &Outputs::default(), "SIGINT").await;
        assert_eq!(cancel.num_calls(), 1);
        assert_eq!(e.exit_code(), 130);
        assert!(
            e.help().contains("cancelled") && e.help().contains("describe-stack-events --stack-name site"),
            "{}",
            e.help()
        );
    }

    #[tokio::test]
    async fn an_interrupt_by_default_leaves_the_update_running() {
        let cancel = mock!(aws_sdk_cloudformation::Client::cancel_update_stack)
            .then_output(|| CancelUpdateStackOutput::builder().build());
        let c = clients(mock_client!(aws_sdk_cloudformation, [&cancel]));
        let e = interrupted(&settings("leave"), &c, &updating(), &Outputs::default(), "SIGTERM").await;
        assert_eq!(cancel.num_calls(), 0);
        assert!(e.to_string().contains("SIGTERM"));
        assert!(e.help().contains("will finish on its own"), "{}", e.help());
    }
}
