//! lambda-edge-deploy: releases a Lambda@Edge function through CloudFormation in one step.
//!
//! The modules follow a release: [`inputs`] → [`package`] → [`artifact`] → [`function`] → [`stack`]
//! → [`distribution`] → [`report`], driven by [`release`].

pub mod artifact;
pub mod aws;
pub mod distribution;
pub mod error;
pub mod function;
pub mod github;
pub mod inputs;
pub mod log;
pub mod package;
pub mod poll;
pub mod release;
pub mod report;
pub mod stack;

use error::Error;
use report::Outputs;

/// One run, from the environment's variables to the exit code.
pub async fn run<I>(vars: I) -> i32
where
    I: IntoIterator<Item = (String, String)>,
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
    let poll = poll::Poll::new(settings.timeout);
    let mut phases = release::Phases::default();
    let mut outputs = Outputs::default();
    // Polls stop at the deadline themselves; this also bounds calls that are not polls (an upload).
    let result = match tokio::time::timeout(
        settings.timeout,
        release::run(&settings, &clients, &poll, &mut phases, &mut outputs),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(poll.timed_out(phases.current().unwrap_or("the release"), "still in progress")),
    };
    phases.end();
    match result {
        Ok(()) => {
            if let Err(e) = report::publish(&outputs)
                .and_then(|_| report::summarize(&settings.function_name, Some(&outputs), &phases.timings, None))
            {
                return fail(&e, &settings.function_name, None, &phases.timings);
            }
            0
        }
        Err(e) => fail(&e, &settings.function_name, Some(&outputs), &phases.timings),
    }
}

/// Reports a failure: the annotation, what to do, the outputs known so far, the summary.
fn fail(e: &Error, function: &str, outputs: Option<&Outputs>, timings: &report::Timings) -> i32 {
    log::error(e.title(), &format!("{e}\nWhat to do: {}", e.help()));
    if let Some(o) = outputs {
        let _ = report::publish(o);
    }
    let _ = report::summarize(function, outputs, timings, Some(e));
    e.exit_code()
}
