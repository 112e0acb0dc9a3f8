//! The S3-triggered deployer: the same binary, started by the Lambda runtime, releases the object
//! version each S3 ObjectCreated record names (`<artifact-prefix><function-name>.zip`).

use std::ffi::OsString;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};

use crate::artifact::{self, Artifact};
use crate::aws::Clients;
use crate::error::{Error, InputProblem, Result};
use crate::{inputs, log, run, settings};

/// Time kept back from the invocation's deadline, so that a slow release still ends with an error
/// the runtime can report, rather than being killed mid-wait.
const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// Action inputs that mean nothing for an upload, refused rather than obeyed: the code is the
/// uploaded object (not `source`), the function comes from its key, and there is no one to
/// interrupt, roll back to a chosen version, or show a dry run to.
const REFUSED: &[(&str, &str)] = &[
    ("source", "the code is the uploaded object; nothing is packaged"),
    ("function-name", "the function is named by the uploaded key, `<artifact-prefix><function-name>.zip`"),
    ("functions", "each upload releases the one function its key names, and sets the stack parameter that holds that function's version"),
    ("template", "a file path means nothing in Lambda; use `template-url`"),
    ("rollback-to", "an upload always releases that upload; run the action with `rollback-to` instead"),
    ("mode", "an upload is released as it lands; plan and approve with the action (`mode: plan`, then `mode: execute`)"),
    ("change-set-id", "an upload is released as it lands, not through a reviewed change set"),
    ("prune-only", "an upload is a release; `keep-versions` prunes after it, and a scheduled run of the action prunes alone"),
    ("recreate-failed-stack", "the deployer releases into an existing stack only"),
    ("on-interrupt", "a Lambda invocation is never interrupted"),
    ("dry-run", "an upload is a release; run the action with `dry-run` to preview one"),
    ("force", "every upload is released; nothing is skipped"),
];

/// Whether the Lambda runtime started this process.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some_and(|v| !v.is_empty())
}

/// What the deployer's own environment configures: read once, at start-up.
#[derive(Debug, Clone)]
pub struct Deployer {
    env: Vec<(OsString, OsString)>,
    /// The artifact bucket: records of any other bucket are not ours.
    bucket: String,
    prefix: String,
}

impl Deployer {
    /// Reads the environment's inputs, refusing those that make no sense for an upload.
    pub fn configure(env: Vec<(OsString, OsString)>) -> Result<Deployer> {
        let (raw, unknown) = inputs::read(env.clone())?;
        let given = serde_json::to_value(&raw).unwrap_or_default();
        let mut problems: Vec<InputProblem> = REFUSED
            .iter()
            .filter(|(name, _)| !given[name.replace('-', "_")].is_null())
            .map(|(input, why)| InputProblem {
                input,
                problem: format!("is not used by the S3-triggered deployer ({why}); remove it from its environment"),
            })
            .collect();
        problems.extend(inputs::unknown_problems(&unknown));
        if raw.artifact_bucket.is_none() {
            problems.push(InputProblem {
                input: "artifact-bucket",
                problem: "is required: the bucket whose uploads this deployer releases (records of other buckets are skipped)".into(),
            });
        }
        if !problems.is_empty() {
            return Err(Error::Inputs(problems));
        }
        let bucket = raw.artifact_bucket.unwrap_or_default().trim().to_owned();
        let prefix = raw.artifact_prefix.unwrap_or_default().trim().to_owned();
        Ok(Deployer { env, bucket, prefix })
    }
}

/// Serves invocations until the runtime stops the process. A configuration error fails every
/// invocation with its message, where the invocation's retries and on-failure destination show it.
pub async fn serve() -> std::result::Result<(), lambda_runtime::Error> {
    let clients = Clients::load("us-east-1").await;
    let clients = &clients;
    let deployer = Deployer::configure(std::env::vars_os().collect());
    if let Err(e) = &deployer {
        log::error(e.title(), &format!("{e}\nWhat to do: {}", e.help()));
    }
    let deployer = &deployer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        let result = match deployer {
            Ok(d) => handle(clients, d, &event.payload, deadline).await,
            Err(e) => Err(Error::Inputs(match e {
                Error::Inputs(p) => p.clone(),
                other => vec![InputProblem { input: "inputs", problem: other.to_string() }],
            })),
        };
        result.map_err(|e| {
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

/// Releases each record of an S3 event in order; stops at the first failure. Only uploads
/// (`ObjectCreated:*`) of the deployer's bucket and prefix are releases; other records are skipped with
/// a log line, and so are object versions that a newer upload of the same key has replaced: S3
/// delivers events in no guaranteed order, and Lambda retries and may deliver an event twice, so an
/// older upload arriving late must not re-point the site at older code. S3's test event, sent when
/// the notification is configured, is acknowledged.
pub async fn handle(clients: &Clients, deployer: &Deployer, event: &Value, deadline: SystemTime) -> Result<Value> {
    if event.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        log::info("S3's test event: the notification reaches the deployer; nothing to release");
        return Ok(json!({ "released": [], "test-event": true }));
    }
    let event: S3Event = serde_json::from_value(event.clone()).map_err(|e| {
        Error::precondition(
            format!("the invocation's event is not an S3 event: {e}"),
            "Invoke the deployer only from the artifact bucket's event notification (s3:ObjectCreated:*).",
        )
    })?;
    let mut released = Vec::new();
    for record in &event.records {
        let object = match object_of(deployer, record) {
            Ok(o) => o,
            Err(skipped) => {
                log::info(&skipped);
                continue;
            }
        };
        let Some(function) = function_of(&deployer.prefix, &object.key) else {
            log::info(&format!(
                "s3://{}/{}: not `{}<function-name>.zip`; skipped",
                object.bucket, object.key, deployer.prefix
            ));
            continue;
        };
        let mut vars = deployer.env.clone();
        vars.push(("INPUT_FUNCTION_NAME".into(), function.clone().into()));
        let settings = settings::validate_object(inputs::read(vars)?.0)?;
        let owner = settings.expected_bucket_owner.as_deref();
        match artifact::newest_version(&clients.s3, &object.bucket, owner, &object.key).await? {
            Some(newest) if newest == object.version_id => {}
            newest => {
                log::info(&format!(
                    "s3://{}/{} version {} is not the newest of its key ({}); skipped: the newest upload is released by its own event",
                    object.bucket,
                    object.key,
                    object.version_id,
                    match &newest {
                        Some(v) => format!("the newest is version {v}"),
                        None => "the key has no current version readable here: deleted since, or s3:GetObject is missing".to_owned(),
                    }
                ));
                continue;
            }
        }
        log::info(&format!(
            "s3://{}/{} version {}: releasing function {function}",
            object.bucket, object.key, object.version_id
        ));
        let timeout = settings.timeout.min(time_left(deadline, SystemTime::now()));
        let ended = run::release(&settings, clients, Some(object), timeout, None).await;
        if let Err(e) = ended.result {
            run::fail(&e, &function, Some(&ended.outputs), &ended.timings);
            return Err(e);
        }
        log::info(&ended.outputs.to_json());
        released.push(serde_json::from_str::<Value>(&ended.outputs.to_json()).unwrap_or(Value::Null));
    }
    Ok(json!({ "released": released }))
}

/// The object version a record names, or why the record is not a release.
fn object_of(deployer: &Deployer, record: &S3EventRecord) -> std::result::Result<Artifact, String> {
    let event = record.event_name.as_deref().unwrap_or("an unnamed event");
    let bucket = record.s3.bucket.name.clone().unwrap_or_default();
    let raw_key = record.s3.object.key.as_deref().unwrap_or_default();
    if !event.starts_with("ObjectCreated:") {
        return Err(format!("s3://{bucket}/{raw_key}: {event} is not an upload; skipped"));
    }
    if bucket != deployer.bucket {
        return Err(format!(
            "s3://{bucket}/{raw_key}: not the deployer's artifact bucket {}; skipped",
            deployer.bucket
        ));
    }
    let Some(key) = decode_key(raw_key) else {
        return Err(format!("s3://{bucket}/{raw_key}: the key is not UTF-8 once URL-decoded; skipped"));
    };
    let version_id = record.s3.object.version_id.clone().filter(|v| !v.is_empty() && v != "null");
    let Some(version_id) = version_id else {
        return Err(format!(
            "s3://{bucket}/{key}: the record names no object version (is the bucket versioned?); skipped"
        ));
    };
    Ok(Artifact { bucket, key, version_id })
}

/// S3 event keys are URL-encoded, with spaces as `+`.
pub fn decode_key(key: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&key.replace('+', " ")).decode_utf8().ok().map(|k| k.into_owned())
}

/// `<prefix><function-name>.zip` → the function name.
pub fn function_of(prefix: &str, key: &str) -> Option<String> {
    let name = key.strip_prefix(prefix)?.strip_suffix(".zip")?;
    settings::valid_function_name(name).is_ok().then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployer(env: &[(&str, &str)]) -> Result<Deployer> {
        Deployer::configure(env.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect())
    }

    fn record(event: &str, bucket: &str, key: &str, version: Option<&str>) -> S3EventRecord {
        serde_json::from_value(json!({
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-25T12:00:00.000Z", "eventName": event,
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
            "requestParameters": {"sourceIPAddress": "127.0.0.1"}, "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0", "configurationId": "release",
                "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A1"}, "arn": format!("arn:aws:s3:::{bucket}")},
                "object": {"key": key, "size": 1, "eTag": "e", "versionId": version, "sequencer": "01"}
            }
        }))
        .unwrap()
    }

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
    fn action_inputs_that_mean_nothing_for_an_upload_are_refused_at_start_up() {
        let base = [("INPUT_STACK_NAME", "site"), ("INPUT_ARTIFACT_BUCKET", "artifacts")];
        assert!(deployer(&base).is_ok());
        for (name, value) in [
            ("INPUT_SOURCE", "/tmp"),
            ("INPUT_ROLLBACK_TO", "previous"),
            ("INPUT_FUNCTION_NAME", "edge"),
            ("INPUT_TEMPLATE", "t.yaml"),
            ("INPUT_DRY_RUN", "true"),
        ] {
            let mut env = base.to_vec();
            env.push((name, value));
            let Err(Error::Inputs(p)) = deployer(&env) else { panic!("{name} accepted") };
            assert!(p[0].problem.contains("is not used by the S3-triggered deployer"), "{name}: {p:?}");
        }
        let Err(Error::Inputs(p)) = deployer(&[("INPUT_STACK_NAME", "site")]) else { panic!("no bucket accepted") };
        assert_eq!(p[0].input, "artifact-bucket");
        // The runner is not involved here: a blank value is unset, a typo is an error.
        let mut env = base.to_vec();
        env.push(("INPUT_SOURCE", " "));
        assert!(deployer(&env).is_ok());
        env.push(("INPUT_STAK_NAME", "x"));
        assert!(deployer(&env).is_err());
    }

    #[test]
    fn only_uploads_of_the_deployers_bucket_are_releases() {
        let d = deployer(&[("INPUT_STACK_NAME", "site"), ("INPUT_ARTIFACT_BUCKET", "artifacts")]).unwrap();
        let ok = object_of(&d, &record("ObjectCreated:Put", "artifacts", "my+dir/edge.zip", Some("v1"))).unwrap();
        assert_eq!((ok.key.as_str(), ok.version_id.as_str()), ("my dir/edge.zip", "v1"));
        for (r, says) in [
            (record("ObjectTagging:Put", "artifacts", "edge.zip", Some("v1")), "is not an upload"),
            (record("ObjectRemoved:Delete", "artifacts", "edge.zip", Some("v1")), "is not an upload"),
            (record("ObjectCreated:Put", "elsewhere", "edge.zip", Some("v1")), "not the deployer's artifact bucket"),
            (record("ObjectCreated:Put", "artifacts", "%FF.zip", Some("v1")), "not UTF-8"),
            (record("ObjectCreated:Put", "artifacts", "edge.zip", None), "is the bucket versioned?"),
        ] {
            let skipped = object_of(&d, &r).unwrap_err();
            assert!(skipped.contains(says), "{skipped}");
        }
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
