//! The run harness, one for the action and the deployer: phases (each a log group, each timed), the
//! timeout backstop, interruption by SIGINT/SIGTERM, and the failure report.

use std::time::Duration;

use tokio::time::Instant;

use crate::artifact::Artifact;
use crate::aws::Clients;
use crate::error::{Error, Result};
use crate::package::Stop;
use crate::poll::{self, Poll};
use crate::report::{self, Outputs, Timings};
use crate::settings::{OnInterrupt, Settings};
use crate::stack::{self, Operation};
use crate::{log, release};

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

/// What one release ended with: the result, the outputs known by then, and the phases' times.
pub struct Ended {
    pub result: Result<()>,
    pub outputs: Outputs,
    pub timings: Timings,
}

/// Runs one release within `timeout`, stopping on a signal when `signals` are given (the action;
/// the deployer's invocation has its own deadline instead).
pub async fn release(
    settings: &Settings,
    clients: &Clients,
    upload: Option<Artifact>,
    timeout: Duration,
    signals: Option<&mut Signals>,
) -> Ended {
    let poll = Poll::new(timeout);
    let mut phases = Phases::default();
    let mut outputs = Outputs::default();
    let stop = Stop::default();
    enum How {
        Done(Result<()>),
        TimedOut,
        Interrupted(&'static str),
    }
    let how = {
        // Polls stop at the deadline themselves; this also bounds calls that are not polls (an upload).
        let run = tokio::time::timeout(
            timeout + poll::BACKSTOP_GRACE,
            release::run(settings, clients, &poll, &mut phases, &mut outputs, upload, &stop),
        );
        let interrupted = async {
            match signals {
                Some(signals) => signals.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = run => match r {
                Ok(r) => How::Done(r),
                Err(_) => How::TimedOut,
            },
            signal = interrupted => How::Interrupted(signal),
        }
    };
    let result = match how {
        How::Done(r) => r,
        How::TimedOut => Err(poll.timed_out(phases.current().unwrap_or("the release"), "still in progress")),
        How::Interrupted(signal) => {
            // Packaging runs on its own thread: stop it, and let it remove its temporary zip.
            stop.request();
            if !stop.stopped(Duration::from_secs(2)).await {
                log::warn("packaging did not stop within 2 s; its temporary zip may stay behind");
            }
            Err(interrupted(settings, clients, &phases, &outputs, signal).await)
        }
    };
    phases.end();
    Ended { result, outputs, timings: phases.timings }
}

/// SIGINT and SIGTERM, installed before any work: the runner cancels a step with SIGINT, then SIGTERM
/// 7.5 s later, then kills it; as PID 1 in a container the process has no default handling at all.
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> Result<Self> {
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
    settings: &Settings,
    clients: &Clients,
    phases: &Phases,
    outputs: &Outputs,
    signal: &str,
) -> Error {
    let during = format!("{} ({signal})", phases.current().unwrap_or("start-up"));
    let mut follow = Vec::new();
    if let Some(f) = &phases.in_flight {
        let cancel = settings.on_interrupt == OnInterrupt::Cancel && f.operation == Operation::Update;
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
                    Operation::Create => "create",
                    Operation::Update => "update",
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
pub fn fail(e: &Error, function: &str, outputs: Option<&Outputs>, timings: &Timings) -> i32 {
    // Each failed stack event is an annotation of its own, so the cause shows on the run's page.
    if let Error::StackFailed { reasons, .. } = e {
        for r in reasons {
            log::error("Stack event", r);
        }
    }
    log::error(e.title(), &format!("{e}\nWhat to do: {}", e.help()));
    println!("{}", report::failure_json(outputs.unwrap_or(&Outputs::default()), e));
    if let Some(o) = outputs {
        let _ = report::write_github_output(o);
    }
    let _ = report::summarize(function, outputs, timings, Some(e));
    e.exit_code()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::operation::cancel_update_stack::CancelUpdateStackOutput;
    use aws_smithy_mocks::{mock, mock_client};

    fn settings(on_interrupt: &str) -> Settings {
        let vars = [
            ("INPUT_FUNCTION-NAME", "edge"),
            ("INPUT_STACK-NAME", "site"),
            ("INPUT_ARTIFACT-BUCKET", "artifacts"),
            ("INPUT_ROLLBACK-TO", "previous"),
            ("INPUT_ON-INTERRUPT", on_interrupt),
        ];
        let raw = crate::inputs::read(vars.iter().map(|(k, v)| (k.to_string(), v.to_string()))).unwrap().0;
        crate::settings::validate(raw).unwrap()
    }

    fn clients(cfn: aws_sdk_cloudformation::Client) -> Clients {
        let config = aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
        Clients { cloudformation: cfn, ..Clients::from_config(&config) }
    }

    fn updating() -> Phases {
        let flight = InFlight { stack_name: "site".into(), stack_id: "arn:site".into(), operation: Operation::Update };
        Phases { in_flight: Some(flight), ..Default::default() }
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
