//! `exclude` and `.lambdaignore`: what reaches S3 is the zip of exactly the files left in, read back
//! from the emulator, and leaving files out keeps releases deterministic.

mod common;

use std::io::Cursor;
use std::path::Path;

use base64::Engine;
use sha2::{Digest, Sha256};

use common::{World, BUCKET, FUNCTION};

const KEY: &str = "edge-fn.zip";

/// Adds what a real function directory holds besides its code: tests, docs, source maps, secrets.
fn clutter(src: &Path) {
    for (path, body) in [
        ("lib/keep.js", "module.exports = 'kept';\n"),
        ("index.js.map", "{\"version\":3,\"sources\":[\"index.ts\"]}\n"),
        ("test/index.test.js", "require('../index');\n"),
        ("test/fixtures/event.json", "{\"Records\":[]}\n"),
        ("docs/notes.md", "# notes\n"),
        (".env", "TOKEN=not-for-lambda\n"),
        (".lambdaignore", "# left out of the package\ntest/\n*.md\n"),
    ] {
        let path = src.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

/// The zip's bytes, as S3 holds this object version.
async fn object(c: &common::Clients, version: &str) -> Vec<u8> {
    let out = c.s3.get_object().bucket(BUCKET).key(KEY).version_id(version).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

fn entries(zip: &[u8]) -> Vec<String> {
    let archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    archive.file_names().map(|n| n.unwrap().into_owned()).collect()
}

fn sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

fn bytes_of(src: &Path, files: &[&str]) -> u64 {
    files.iter().map(|f| std::fs::metadata(src.join(f)).unwrap().len()).sum()
}

#[tokio::test]
async fn exclude_and_lambdaignore_leave_files_out_of_the_zip_in_s3_and_releases_stay_deterministic() {
    let world = World::with_bucket().await;
    let c = &world.c;
    let src = world.src.path();
    clutter(src);
    let exclude = [("INPUT_EXCLUDE", "*.map\n.env")];

    let r = world.run(&exclude);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let zip = object(c, &r.out("s3-version-id")).await;
    let mut names = entries(&zip);
    names.sort();
    assert_eq!(names, ["index.js", "lib/keep.js", "release.json"], "exactly the files left in");
    assert_eq!(sha256(&zip), r.out("code-sha256"), "the hash is the uploaded zip's");
    let published = c.lambda.get_function_configuration().function_name(r.out("version-arn")).send().await.unwrap();
    assert_eq!(published.code_sha256(), Some(r.out("code-sha256").as_str()));
    let left_out = ["index.js.map", "test/index.test.js", "test/fixtures/event.json", "docs/notes.md", ".env"];
    let line = format!("left out 5 file(s), {} bytes, by `exclude` and .lambdaignore", bytes_of(src, &left_out));
    assert!(r.stderr.contains(&line), "the log says what was left out ({line}):\n{}", r.stderr);

    // The same files again: the same bytes, nothing new. Then the left-out files change (a test, the
    // notes, the map, new mtimes everywhere): still the same package, still nothing to release.
    let versions = c.object_versions(BUCKET, KEY).await;
    let again = world.run(&exclude);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.out("changed"), "false", "{}", again.stderr);
    assert_eq!(again.out("code-sha256"), r.out("code-sha256"));
    std::fs::write(src.join("test/index.test.js"), "require('../index'); // more tests\n").unwrap();
    std::fs::write(src.join("docs/notes.md"), "# notes, longer\n").unwrap();
    std::fs::write(src.join("index.js.map"), "{\"version\":3,\"sources\":[\"index.ts\",\"b.ts\"]}\n").unwrap();
    let third = world.run(&exclude);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(third.out("changed"), "false", "{}", third.stderr);
    assert_eq!(third.out("code-sha256"), r.out("code-sha256"));
    assert_eq!(c.object_versions(BUCKET, KEY).await, versions, "no new object version");
    assert_eq!(c.lambda_versions(FUNCTION).await.len(), 1, "no new Lambda version");

    // Without `exclude`, the .lambdaignore still applies, and the map and .env are packaged.
    let without = world.run(&[]);
    assert_eq!(without.code, 0, "{}", without.stderr);
    assert_eq!(without.out("changed"), "true");
    let mut names = entries(&object(c, &without.out("s3-version-id")).await);
    names.sort();
    assert_eq!(names, [".env", "index.js", "index.js.map", "lib/keep.js", "release.json"]);
    assert!(without.stderr.contains("left out 3 file(s),"), "{}", without.stderr);
    assert!(without.stderr.contains("by `exclude` and .lambdaignore"), "{}", without.stderr);
}

#[tokio::test]
async fn a_dry_run_says_what_was_left_out_and_uploads_nothing() {
    let world = World::launched().await;
    let c = &world.c;
    let src = world.src.path();
    let versions = c.object_versions(BUCKET, KEY).await;
    std::fs::write(src.join("index.js.map"), "{\"version\":3}\n").unwrap();
    std::fs::create_dir_all(src.join("test")).unwrap();
    std::fs::write(src.join("test/a.test.js"), "a\n").unwrap();

    let r = world.release("two", &[("INPUT_EXCLUDE", "*.map, test/"), ("INPUT_DRY_RUN", "true")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = format!(
        "left out 2 file(s), {} bytes, by `exclude` and .lambdaignore",
        bytes_of(src, &["index.js.map", "test/a.test.js"])
    );
    assert!(r.stderr.contains(&line), "the dry run says what was left out ({line}):\n{}", r.stderr);
    assert_eq!(c.object_versions(BUCKET, KEY).await, versions, "a dry run uploads nothing");
}

#[tokio::test]
async fn excluding_every_file_exits_2_and_changes_nothing() {
    let world = World::launched().await;
    let c = &world.c;
    let versions = c.object_versions(BUCKET, KEY).await;
    let lambda = c.lambda_versions(FUNCTION).await;

    for (exclude, lambdaignore) in [("*", None), ("", Some("/*\n")), ("*.js", Some("*.json\n"))] {
        let ignore_file = world.src.path().join(".lambdaignore");
        let _ = std::fs::remove_file(&ignore_file);
        if let Some(text) = lambdaignore {
            std::fs::write(&ignore_file, text).unwrap();
        }
        let r = world.release("two", &[("INPUT_EXCLUDE", exclude)]);
        assert_eq!(r.code, 2, "{exclude:?} {lambdaignore:?}:\n{}", r.stderr);
        let error = r.out("error");
        let by = match (exclude.is_empty(), lambdaignore.is_some()) {
            (false, false) => "`exclude` leaves",
            (true, true) => ".lambdaignore leaves",
            _ => "`exclude` and .lambdaignore leave",
        };
        assert!(error.starts_with(&format!("{by} out every file of")), "{error}");
        assert_eq!(c.object_versions(BUCKET, KEY).await, versions, "no new object version");
        assert_eq!(c.lambda_versions(FUNCTION).await, lambda, "no new Lambda version");
    }
}

#[tokio::test]
async fn exclude_with_a_zip_as_source_exits_2() {
    let world = World::with_bucket().await;
    let zip = world.files().join("given.zip");
    let made = lambda_edge_deploy::package::package(world.src.path(), &Default::default()).unwrap();
    std::fs::copy(&made.path, &zip).unwrap();

    let r = world.run(&[("INPUT_SOURCE", zip.to_str().unwrap()), ("INPUT_EXCLUDE", "*.map")]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.out("error").contains("`exclude` cannot leave files out of"), "{}", r.out("error"));
    assert!(world.c.object_versions(BUCKET, KEY).await.is_empty(), "nothing uploaded");
}
