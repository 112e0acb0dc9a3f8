//! The S3-triggered deployer: the same binary, started by the Lambda runtime, releases the object
//! version each S3 ObjectCreated record names (`<artifact-prefix><function-name>.zip`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};

use crate::artifact::{self, Artifact};
use crate::aws::Clients;
use crate::error::Result;
use crate::report::Outputs;
use crate::{inputs, log, poll, release};

/// Time kept back from the invocation's deadline, so that a slow release still ends with an error
/// the runtime can report, rather than being killed mid-wait.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// Whether the Lambda runtime started this process.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some_and(|v| !v.is_empty())
}

/// Serves invocations until the runtime stops the process.
pub async fn serve() -> std::result::Result<(), lambda_runtime::Error> {
    let clients = Clients::load("us-east-1").await;
    let clients = &clients;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        handle(clients, std::env::vars().collect(), &event.payload, deadline).await.map_err(|e| {
            // The same message as the action's, as the invocation's error (and so its retries and
            // on-failure destination apply).
            let text = format!("{e}\nWhat to do: {}", e.help());
            lambda_runtime::Error::from(text)
        })
    }))
    .await
}

/// The time a record may take: what is left of the invocation now, less the margin. Computed for
/// each record as it starts, so that a second record does not get the time the first one used.
pub fn time_left(deadline: SystemTime, now: SystemTime) -> Duration {
    deadline.duration_since(now).unwrap_or_default().saturating_sub(DEADLINE_MARGIN)
}

/// Releases each record in order; stops at the first failure. Records whose key is not a zip under
/// the prefix are skipped with a log line, and so are object versions that a newer upload of the
/// same key has replaced: S3 delivers events in no guaranteed order, and Lambda retries and may
/// deliver an event twice, so an older upload arriving late must not re-point the site at older code.
pub async fn handle(
    clients: &Clients,
    env: Vec<(String, String)>,
    event: &S3Event,
    deadline: SystemTime,
) -> Result<Value> {
    let (raw, _) = inputs::read(env.clone())?;
    let prefix = raw.artifact_prefix.clone().unwrap_or_default();
    let mut released = Vec::new();
    for record in &event.records {
        let Some(object) = object_of(record) else {
            log::warn("an S3 record without bucket, key or object version was skipped (is the bucket versioned?)");
            continue;
        };
        let Some(function) = function_of(&prefix, &object.key) else {
            log::info(&format!("s3://{}/{}: not `{prefix}<function-name>.zip`; skipped", object.bucket, object.key));
            continue;
        };
        log::info(&format!(
            "s3://{}/{} version {}: releasing function {function}",
            object.bucket, object.key, object.version_id
        ));
        let mut vars = env.clone();
        vars.push(("INPUT_FUNCTION_NAME".into(), function.clone()));
        vars.push(("INPUT_ARTIFACT_BUCKET".into(), object.bucket.clone()));
        let settings = inputs::validate_as(inputs::read(vars)?.0, true)?;
        let owner = settings.expected_bucket_owner.as_deref();
        match artifact::newest_version(&clients.s3, &object.bucket, owner, &object.key).await? {
            Some(newest) if newest == object.version_id => {}
            newest => {
                log::info(&format!(
                    "s3://{}/{} version {} is no longer the newest of its key ({}); skipped: the newest upload is released by its own event",
                    object.bucket,
                    object.key,
                    object.version_id,
                    match &newest {
                        Some(v) => format!("the newest is version {v}"),
                        None => "the key has been deleted since".to_owned(),
                    }
                ));
                continue;
            }
        }
        let remaining = time_left(deadline, SystemTime::now());
        let timeout = settings.timeout.min(remaining);
        let poll = poll::Poll::new(timeout);
        let mut phases = release::Phases::default();
        let mut out = Outputs::default();
        let result = match tokio::time::timeout(
            timeout + poll::BACKSTOP_GRACE,
            release::run(&settings, clients, &poll, &mut phases, &mut out, Some(object)),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(poll.timed_out(phases.current().unwrap_or("the release"), "the invocation's time")),
        };
        phases.end();
        if let Err(e) = result {
            crate::fail(&e, &function, Some(&out), &phases.timings);
            return Err(e);
        }
        log::info(&out.to_json());
        released.push(serde_json::from_str::<Value>(&out.to_json()).unwrap_or(Value::Null));
    }
    Ok(json!({ "released": released }))
}

fn object_of(record: &S3EventRecord) -> Option<Artifact> {
    let o = &record.s3.object;
    Some(Artifact {
        bucket: record.s3.bucket.name.clone()?,
        key: decode_key(o.key.as_deref()?)?,
        version_id: o.version_id.clone().filter(|v| !v.is_empty() && v != "null")?,
    })
}

/// S3 event keys are URL-encoded, with spaces as `+`.
pub fn decode_key(key: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&key.replace('+', " ")).decode_utf8().ok().map(|k| k.into_owned())
}

/// `<prefix><function-name>.zip` → the function name.
pub fn function_of(prefix: &str, key: &str) -> Option<String> {
    let name = key.strip_prefix(prefix)?.strip_suffix(".zip")?;
    let valid =
        !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_record_gets_the_time_left_when_it_starts() {
        let deadline = UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(time_left(deadline, UNIX_EPOCH + Duration::from_secs(900)), Duration::from_secs(90));
        // A first record that used 85 s leaves the second 5 s, not the 90 s computed at the start.
        assert_eq!(time_left(deadline, UNIX_EPOCH + Duration::from_secs(985)), Duration::from_secs(5));
        assert_eq!(time_left(deadline, UNIX_EPOCH + Duration::from_secs(995)), Duration::ZERO);
        assert_eq!(time_left(deadline, UNIX_EPOCH + Duration::from_secs(2_000)), Duration::ZERO);
    }

    #[test]
    fn keys_are_url_decoded_with_plus_as_space() {
        assert_eq!(decode_key("my+releases/edge%2Dfn.zip").as_deref(), Some("my releases/edge-fn.zip"));
        assert_eq!(decode_key("a%20b.zip").as_deref(), Some("a b.zip"));
    }

    #[test]
    fn the_function_name_comes_from_the_key() {
        assert_eq!(function_of("releases/", "releases/edge-fn.zip").as_deref(), Some("edge-fn"));
        assert_eq!(function_of("", "edge-fn.zip").as_deref(), Some("edge-fn"));
        assert_eq!(function_of("releases/", "other/edge-fn.zip"), None);
        assert_eq!(function_of("releases/", "releases/edge-fn.tar.gz"), None);
        assert_eq!(function_of("releases/", "releases/nested/edge-fn.zip"), None);
        assert_eq!(function_of("releases/", "releases/.zip"), None);
    }
}
