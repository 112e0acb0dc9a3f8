//! Artifact: the code zip (and a large template) in the versioned S3 bucket.
//!
//! The S3 object version is what pins a release: the function is updated from exactly the object
//! version this run uploaded, never "whatever is newest under the key".

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::BucketVersioningStatus;
use aws_sdk_s3::Client;

use crate::error::{aws, Error, Result};

/// User metadata on the uploaded zip: lets a later run find an object version holding given code.
const SHA_METADATA: &str = "code-sha256";

/// An object version in the artifact bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
}

/// The bucket must exist, belong to `owner` when given, and have versioning enabled; otherwise
/// nothing can be pinned.
pub async fn check_bucket(s3: &Client, bucket: &str, owner: Option<&str>) -> Result<()> {
    let out =
        s3.get_bucket_versioning().bucket(bucket).set_expected_bucket_owner(owner.map(str::to_owned)).send().await;
    let out = match out {
        Ok(o) => o,
        Err(e) if owner.is_some() && e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
            let owner = owner.unwrap_or_default();
            return Err(Error::precondition(
                format!("the artifact bucket {bucket} is not owned by account {owner} (`expected-bucket-owner`), or these credentials may not read it"),
                format!("Check `artifact-bucket` and `expected-bucket-owner`: the bucket must belong to {owner}. If it does, grant s3:GetBucketVersioning on it."),
            ));
        }
        Err(e) if matches!(e.as_service_error().map(|s| s.meta().code()), Some(Some("NoSuchBucket"))) => {
            return Err(Error::precondition(
                format!("the artifact bucket {bucket} does not exist (or is not visible to these credentials)"),
                format!("Create it in us-east-1 with versioning enabled (aws s3api create-bucket --bucket {bucket}; aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled), or fix `artifact-bucket`."),
            ))
        }
        Err(e) => return Err(aws(format!("GetBucketVersioning on {bucket}"))(e)),
    };
    if out.status() != Some(&BucketVersioningStatus::Enabled) {
        return Err(Error::precondition(
            format!("the artifact bucket {bucket} does not have versioning enabled"),
            format!("Enable it: aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled. Each release is pinned to an S3 object version."),
        ));
    }
    Ok(())
}

/// Uploads the zip, streaming it from disk, and returns the object version S3 gave it.
pub async fn upload_zip(
    s3: &Client,
    bucket: &str,
    owner: Option<&str>,
    key: &str,
    path: &std::path::Path,
    code_sha256: &str,
) -> Result<Artifact> {
    let body = ByteStream::from_path(path)
        .await
        .map_err(|e| Error::Io { context: format!("reading {}", path.display()), source: std::io::Error::other(e) })?;
    let out = s3
        .put_object()
        .bucket(bucket)
        .set_expected_bucket_owner(owner.map(str::to_owned))
        .key(key)
        .body(body)
        .content_type("application/zip")
        .metadata(SHA_METADATA, code_sha256)
        .send()
        .await
        .map_err(aws(format!("PutObject s3://{bucket}/{key}")))?;
    let version_id = out.version_id().filter(|v| !v.is_empty() && *v != "null").ok_or_else(|| {
        Error::failed(
            format!("S3 returned no object version for s3://{bucket}/{key}"),
            format!("Enable versioning on {bucket}; without it the release cannot be pinned."),
        )
    })?;
    Ok(Artifact { bucket: bucket.into(), key: key.into(), version_id: version_id.into() })
}

/// The newest object version under `key`, if it holds the code with this hash.
pub async fn find_zip(
    s3: &Client,
    bucket: &str,
    owner: Option<&str>,
    key: &str,
    code_sha256: &str,
) -> Result<Option<Artifact>> {
    let out =
        match s3.head_object().bucket(bucket).set_expected_bucket_owner(owner.map(str::to_owned)).key(key).send().await
        {
            Ok(o) => o,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => return Ok(None),
            // Without s3:ListBucket (which the README's policy does not grant) S3 answers a missing
            // key with 403, not 404. Either way there is no zip to reuse: the run uploads its own.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                crate::log::debug(&format!(
                    "HeadObject s3://{bucket}/{key} answered 403 (a missing key, without s3:ListBucket): uploading anew"
                ));
                return Ok(None);
            }
            Err(e) => return Err(aws(format!("HeadObject s3://{bucket}/{key}"))(e)),
        };
    let same = out.metadata().and_then(|m| m.get(SHA_METADATA)).is_some_and(|s| s == code_sha256);
    Ok(match out.version_id() {
        Some(v) if same && !v.is_empty() && v != "null" => {
            Some(Artifact { bucket: bucket.into(), key: key.into(), version_id: v.into() })
        }
        _ => None,
    })
}

/// The version id of the key's newest object, or None when its newest version is a delete marker
/// (or the key is gone). S3 answers a GET of a deleted key with 404, or 403 without s3:ListBucket.
pub async fn newest_version(s3: &Client, bucket: &str, owner: Option<&str>, key: &str) -> Result<Option<String>> {
    match s3.head_object().bucket(bucket).set_expected_bucket_owner(owner.map(str::to_owned)).key(key).send().await {
        Ok(o) => Ok(o.version_id().filter(|v| !v.is_empty() && *v != "null").map(str::to_owned)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
        Err(e) if e.raw_response().is_some_and(|r| matches!(r.status().as_u16(), 403 | 405)) => Ok(None),
        Err(e) => Err(aws(format!("HeadObject s3://{bucket}/{key}"))(e)),
    }
}

/// Uploads a template too large to send inline and returns the URL CloudFormation reads it from.
pub async fn upload_template(
    s3: &Client,
    endpoint: Option<&str>,
    bucket: &str,
    owner: Option<&str>,
    key: &str,
    body: String,
) -> Result<String> {
    let out = s3
        .put_object()
        .bucket(bucket)
        .set_expected_bucket_owner(owner.map(str::to_owned))
        .key(key)
        .body(ByteStream::from(body.into_bytes()))
        .content_type("text/plain")
        .send()
        .await
        .map_err(aws(format!("PutObject s3://{bucket}/{key}")))?;
    let base = match endpoint {
        Some(e) => format!("{}/{bucket}/{key}", e.trim_end_matches('/')),
        None => format!("https://{bucket}.s3.us-east-1.amazonaws.com/{key}"),
    };
    Ok(match out.version_id() {
        Some(v) if v != "null" => format!("{base}?versionId={v}"),
        _ => base,
    })
}
