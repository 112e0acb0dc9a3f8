//! Waiting: poll from about a second, backing off to two, until done or the run's deadline.
//!
//! The SDK's generated waiters start at 30 s (CloudFormation) and 60 s (CloudFront), so they notice
//! completion up to a minute late; these polls notice it within the cap.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, Result};

/// How long after the deadline the whole run is cut off. Polls stop at the deadline themselves and
/// say what they were waiting for; the cut-off only catches calls that are not polls (an upload),
/// so it must not win the race against them.
pub const BACKSTOP_GRACE: Duration = Duration::from_secs(5);

/// What one look says.
pub enum Step<T> {
    Done(T),
    /// Not yet; the text says what was seen, for the log and a timeout message.
    Pending(String),
}

#[derive(Clone, Debug)]
pub struct Poll {
    pub first: Duration,
    pub cap: Duration,
    pub deadline: Instant,
    /// The run's timeout as the user wrote it, for messages.
    pub timeout: Duration,
}

impl Poll {
    pub fn new(timeout: Duration) -> Self {
        // The cap bounds how late completion is noticed: a CloudFront deploy takes minutes, so the
        // wait for the next poll is spread evenly up to the cap (median half of it). Two seconds
        // keeps that under the 2 s target at about 30 GetDistribution calls a minute.
        Self::with(Duration::from_secs(1), Duration::from_secs(2), timeout)
    }

    /// Looks from `first` apart, backing off by half each time up to `cap`, until `timeout`.
    pub fn with(first: Duration, cap: Duration, timeout: Duration) -> Self {
        Poll { first, cap, deadline: Instant::now() + timeout, timeout }
    }

    /// Sleeps until the next look (the interval, or what is left before the deadline) and grows
    /// the interval for the one after. False once the deadline has passed: no more looks.
    pub async fn pause(&self, interval: &mut Duration) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        tokio::time::sleep((*interval).min(self.deadline - now)).await;
        *interval = interval.mul_f64(1.5).min(self.cap);
        true
    }

    /// Calls `look` until it is done. A transient AWS error (throttling, 5xx, a dropped connection)
    /// that outlived the SDK's own retries does not end the wait: it is logged and the next look
    /// comes later.
    pub async fn until<T, F, Fut>(&self, what: &str, mut look: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Step<T>>>,
    {
        let mut interval = self.first;
        let mut last = String::from("no answer yet");
        loop {
            match look().await {
                Ok(Step::Done(t)) => return Ok(t),
                Ok(Step::Pending(seen)) => {
                    if seen != last {
                        crate::log::info(&format!("waiting for {what}: {seen}"));
                    }
                    last = seen;
                }
                Err(e) if e.is_transient() => {
                    crate::log::warn(&format!("{what}: a poll failed transiently, trying again: {e}"));
                    interval = (interval * 2).min(self.cap);
                }
                Err(e) => return Err(e),
            }
            if !self.pause(&mut interval).await {
                return Err(self.timed_out(what, &last));
            }
        }
    }

    /// Millisecond polls, for tests that must not sleep.
    #[cfg(test)]
    pub(crate) fn fast(timeout: Duration) -> Self {
        Self::with(Duration::from_millis(1), Duration::from_millis(4), timeout)
    }

    pub fn timed_out(&self, what: &str, last: &str) -> Error {
        Error::Timeout {
            after: humantime::format_duration(self.timeout).to_string(),
            waiting_for: format!("{what} (last seen: {last})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn returns_once_done() {
        let n = AtomicUsize::new(0);
        let got = Poll::fast(Duration::from_secs(5))
            .until("thing", || async {
                let i = n.fetch_add(1, Ordering::SeqCst);
                Ok(if i < 3 { Step::Pending(format!("try {i}")) } else { Step::Done(i) })
            })
            .await
            .unwrap();
        assert_eq!(got, 3);
    }

    #[tokio::test]
    async fn times_out_with_what_was_last_seen() {
        let err = Poll::fast(Duration::from_millis(20))
            .until("stack site to settle", || async { Ok(Step::<()>::Pending("UPDATE_IN_PROGRESS".into())) })
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), 3);
        let text = err.to_string();
        assert!(text.contains("stack site to settle") && text.contains("UPDATE_IN_PROGRESS"), "{text}");
    }

    #[tokio::test]
    async fn a_permanent_error_ends_the_wait() {
        let err = Poll::fast(Duration::from_secs(5))
            .until("x", || async { Err::<Step<()>, _>(Error::failed("broken", "fix it")) })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "broken");
    }

    #[test]
    fn intervals_start_near_a_second_and_cap_at_a_few() {
        let p = Poll::new(Duration::from_secs(60));
        assert_eq!(p.first, Duration::from_secs(1));
        assert!(p.cap <= Duration::from_secs(2));
    }
}
