//! Package: the source directory as a deterministic zip, and its hash as Lambda reports it.
//!
//! Determinism is what makes "unchanged code" detectable: Lambda's CodeSha256 is the hash of the zip's
//! bytes, so the same files must give the same bytes whatever their mtimes, owners or listing order.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, PreparedZipFile, ZipWriter};

use crate::error::{Error, Result};

/// Lambda@Edge's limit on the compressed package.
pub const MAX_ZIP_BYTES: u64 = 50 * 1024 * 1024;

/// Info-ZIP's default level: a fair trade of time for size, and what `zip -r` users compare with.
const LEVEL: i64 = 6;

/// Files are compressed in parallel in batches, so that memory stays near one batch of output.
const BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// Files larger than this are compressed straight into the zip as they are read, not in memory
/// first: a 300 MB file costs a buffer, and the size limit stops it part-way.
const STREAMED_BYTES: u64 = 4 * 1024 * 1024;

/// Asks packaging, on its own thread, to stop (an interrupt), and tells when it has: it stops at the
/// next file or buffer, and its temporary zip is removed as it returns.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    requested: Arc<AtomicBool>,
    active: Arc<AtomicUsize>,
}

impl Stop {
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Waits until no packaging runs, at most `max`; whether it has stopped.
    pub async fn stopped(&self, max: Duration) -> bool {
        let until = tokio::time::Instant::now() + max;
        while self.active.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= until {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    fn check(&self) -> Result<()> {
        if self.requested() {
            return Err(interrupted());
        }
        Ok(())
    }
}

/// Counts a packaging in progress for [`Stop::stopped`].
struct Active(Arc<AtomicUsize>);

impl Active {
    fn new(stop: &Stop) -> Active {
        stop.active.fetch_add(1, Ordering::SeqCst);
        Active(stop.active.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn interrupted() -> Error {
    Error::Io { context: "packaging".into(), source: std::io::Error::other("stopped by an interrupt") }
}

fn too_large(written: u64, done: usize, total: usize) -> Error {
    Error::precondition(
        format!(
            "the package is over {} MB compressed ({:.1} MB after {done} of {total} files, where packaging stopped); Lambda@Edge accepts at most {} MB",
            MAX_ZIP_BYTES / 1_048_576,
            written as f64 / 1_048_576.0,
            MAX_ZIP_BYTES / 1_048_576
        ),
        "Leave dev dependencies and source maps out of `source`, or bundle and minify the code.",
    )
}

#[derive(Debug)]
pub struct Package {
    /// The zip to upload: a temporary file, or the user's own zip.
    pub path: PathBuf,
    /// Keeps the temporary zip alive until the package is dropped.
    _temp: Option<tempfile::TempPath>,
    pub size: u64,
    /// base64(SHA-256(zip bytes)), the form of Lambda's CodeSha256.
    pub code_sha256: String,
    pub files: usize,
    /// What `exclude` and `.lambdaignore` left out: files and their bytes.
    pub excluded_files: usize,
    pub excluded_bytes: u64,
}

#[cfg(test)]
impl Package {
    /// A package as the plan sees it: its hash and size, no file.
    pub(crate) fn stub(code_sha256: &str, size: u64) -> Package {
        Package {
            path: PathBuf::from("/dev/null"),
            _temp: None,
            size,
            code_sha256: code_sha256.into(),
            files: 1,
            excluded_files: 0,
            excluded_bytes: 0,
        }
    }
}

/// A regular file found in the source, with its name in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    path: PathBuf,
    executable: bool,
    len: u64,
}

/// Packages `source` leaving out what `exclude` (gitignore-style patterns) and a `.lambdaignore`
/// at its root name. (Not built yet: the patterns are ignored.)
pub fn package_excluding(source: &Path, exclude: &[String], stop: &Stop) -> Result<Package> {
    let _ = exclude;
    package(source, stop)
}

/// Packages `source`: a directory is zipped, a `.zip` file is taken as it is. Stops, removing
/// its temporary zip, when `stop` is requested or the zip passes Lambda@Edge's size limit.
pub fn package(source: &Path, stop: &Stop) -> Result<Package> {
    let _active = Active::new(stop);
    let package = if source.is_dir() {
        let entries = collect(source, stop)?;
        if entries.is_empty() {
            return Err(Error::precondition(
                format!("the source directory {} holds no files (`.git` is left out)", source.display()),
                "Point `source` at the directory holding the function's code (such as `dist/`), after the build step.",
            ));
        }
        let temp = tempfile::Builder::new()
            .prefix("lambda-edge-deploy-")
            .suffix(".zip")
            .tempfile()
            .map_err(Error::io("creating a temporary file for the zip"))?;
        let (file, temp) = temp.into_parts();
        write_zip(&entries, file, stop)?;
        let (size, code_sha256) = hash_file(&temp)?;
        Package {
            path: temp.to_path_buf(),
            _temp: Some(temp),
            size,
            code_sha256,
            files: entries.len(),
            excluded_files: 0,
            excluded_bytes: 0,
        }
    } else {
        let files =
            zip::ZipArchive::new(File::open(source).map_err(Error::io(format!("opening {}", source.display())))?)
                .map_err(|e| {
                    Error::precondition(
                        format!("the source {} is not a readable zip: {e}", source.display()),
                        "Give a zip made by `zip -r` or a build tool, or the directory to package.",
                    )
                })?
                .len();
        if files == 0 {
            return Err(Error::precondition(
                format!("the zip {} holds no files", source.display()),
                "Give the zip the build made of the function's code, or the directory to package.",
            ));
        }
        let (size, code_sha256) = hash_file(source)?;
        Package {
            path: source.to_path_buf(),
            _temp: None,
            size,
            code_sha256,
            files,
            excluded_files: 0,
            excluded_bytes: 0,
        }
    };
    if package.size > MAX_ZIP_BYTES {
        return Err(Error::precondition(
            format!(
                "the package is {:.1} MB compressed; Lambda@Edge accepts at most {} MB",
                package.size as f64 / 1_048_576.0,
                MAX_ZIP_BYTES / 1_048_576
            ),
            "Leave dev dependencies and source maps out of `source`, or bundle and minify the code.",
        ));
    }
    Ok(package)
}

/// Walks the source, refusing symlinks that leave it and skipping `.git`; sorted by archive name.
fn collect(source: &Path, stop: &Stop) -> Result<Vec<Entry>> {
    let root = source.canonicalize().map_err(Error::io(format!("resolving {}", source.display())))?;
    let mut entries = Vec::new();
    let walker = walkdir::WalkDir::new(&root).follow_links(true).into_iter().filter_entry(|e| e.file_name() != ".git");
    for item in walker {
        stop.check()?;
        let entry = item.map_err(|e| {
            let at = e.path().map(|p| p.display().to_string()).unwrap_or_default();
            Error::precondition(
                format!("cannot read {at} in the source: {e}"),
                "Remove broken or looping symlinks from `source`, and make every file readable.",
            )
        })?;
        if entry.path_is_symlink() {
            let target =
                entry.path().canonicalize().map_err(Error::io(format!("resolving {}", entry.path().display())))?;
            if !target.starts_with(&root) {
                return Err(Error::precondition(
                    format!(
                        "{} is a symlink to {}, outside the source directory",
                        entry.path().display(),
                        target.display()
                    ),
                    "Copy the file into `source` instead of linking it; links are followed only inside the source.",
                ));
            }
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(&root).map_err(|_| {
            Error::precondition(
                format!("{} is not under the source directory {}", entry.path().display(), root.display()),
                "Point `source` at a directory that holds the files itself.",
            )
        })?;
        let name = archive_name(relative).ok_or_else(|| {
            Error::precondition(
                format!("{} has a name that is not UTF-8", entry.path().display()),
                "Rename the file: Lambda's zip names must be UTF-8.",
            )
        })?;
        let meta = entry
            .metadata()
            .map_err(|e| Error::Io { context: format!("reading {}", entry.path().display()), source: e.into() })?;
        entries.push(Entry {
            name,
            path: entry.path().to_path_buf(),
            executable: meta.permissions().mode() & 0o111 != 0,
            len: meta.len(),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

fn archive_name(relative: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = relative.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

fn options(entry: &Entry) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(LEVEL))
        .last_modified_time(DateTime::default())
        .unix_permissions(if entry.executable { 0o755 } else { 0o644 })
}

/// The zip's output: counts what is written and refuses to go on past the size limit or after an
/// interrupt, so that neither waits for the rest of the files.
struct Guarded<W> {
    inner: W,
    written: Arc<AtomicU64>,
    stop: Stop,
}

impl<W: Write> Write for Guarded<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Not ErrorKind::Interrupted: write_all takes that for "try again" and would loop.
        if self.stop.requested() {
            return Err(std::io::Error::other("stopped by an interrupt"));
        }
        let n = self.inner.write(buf)?;
        if self.written.fetch_add(n as u64, Ordering::SeqCst) + n as u64 > MAX_ZIP_BYTES {
            return Err(std::io::Error::other("over the size limit"));
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The zip writer goes back to a streamed entry's local header to fill in its sizes; those few
/// bytes count again, which only makes the limit a little stricter.
impl<W: std::io::Seek> std::io::Seek for Guarded<W> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

fn write_zip(entries: &[Entry], file: File, stop: &Stop) -> Result<()> {
    let written = Arc::new(AtomicU64::new(0));
    let mut done = 0;
    // Why the writer refused, when it did: said as the limit or the interrupt, not as an I/O error.
    let fail = |what: String, e: std::io::Error, done: usize| {
        if stop.requested() {
            interrupted()
        } else if written.load(Ordering::SeqCst) > MAX_ZIP_BYTES {
            too_large(written.load(Ordering::SeqCst), done, entries.len())
        } else {
            Error::Io { context: what, source: e }
        }
    };
    let zip_err = |e: zip::result::ZipError| match e {
        zip::result::ZipError::Io(io) => io,
        other => std::io::Error::other(other),
    };
    let out = Guarded { inner: BufWriter::new(file), written: written.clone(), stop: stop.clone() };
    let mut zip = ZipWriter::new(out);
    for (i, batch) in batches(entries).into_iter().enumerate() {
        if i > 0 {
            return_freed_memory();
        }
        // In archive order: runs of small files compressed in parallel, each large one streamed.
        for run in batch.chunk_by(|a, b| (a.len > STREAMED_BYTES) == (b.len > STREAMED_BYTES)) {
            if run[0].len > STREAMED_BYTES {
                for e in run {
                    let what = || format!("compressing {}", e.path.display());
                    let mut file = File::open(&e.path).map_err(Error::io(what()))?;
                    zip.start_file(e.name.as_str(), options(e)).map_err(|err| fail(what(), zip_err(err), done))?;
                    std::io::copy(&mut file, &mut zip).map_err(|err| fail(what(), err, done))?;
                    done += 1;
                }
                continue;
            }
            let prepared: Vec<PreparedZipFile> = run
                .par_iter()
                .map(|e| {
                    stop.check()?;
                    PreparedZipFile::from_path(&e.name, &e.path, options(e)).map_err(|err| Error::Io {
                        context: format!("compressing {}", e.path.display()),
                        source: std::io::Error::other(err),
                    })
                })
                .collect::<Result<_>>()?;
            for p in prepared {
                zip.add_prepared_file(p).map_err(|e| fail("writing the zip".into(), zip_err(e), done))?;
                done += 1;
            }
        }
    }
    zip.finish().map_err(|e| fail("writing the zip".into(), zip_err(e), done))?;
    Ok(())
}

/// Hands the memory the last batch freed back to the system. The allocator keeps a compressor's
/// per-file state (a few hundred KiB) in its arenas, which makes many small files cheap (see
/// `main.rs`), but the arenas then hold on to what a batch freed: trimming them between batches
/// keeps a 110 MiB tree's peak near 63 MiB instead of 128 (bench/, row 4d).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_freed_memory() {
    // SAFETY: malloc_trim only releases free memory; it takes the allocator's locks itself.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_memory() {}

fn batches(entries: &[Entry]) -> Vec<&[Entry]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, e) in entries.iter().enumerate() {
        bytes += e.len;
        if bytes >= BATCH_BYTES {
            out.push(&entries[start..=i]);
            start = i + 1;
            bytes = 0;
        }
    }
    if start < entries.len() {
        out.push(&entries[start..]);
    }
    out
}

/// Size and base64(SHA-256) of a file, read in chunks.
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut file = File::open(path).map_err(Error::io(format!("opening {}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(Error::io(format!("reading {}", path.display())))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, base64::engine::general_purpose::STANDARD.encode(hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::{Duration, SystemTime};

    fn tree(dir: &Path) {
        fs::create_dir_all(dir.join("lib/nested")).unwrap();
        fs::create_dir_all(dir.join(".git")).unwrap();
        fs::write(dir.join("index.js"), "exports.handler = async (e) => e.Records[0].cf.request;\n").unwrap();
        fs::write(dir.join("lib/util.js"), "module.exports = 1;\n").unwrap();
        fs::write(dir.join("lib/nested/data.json"), "{}\n").unwrap();
        fs::write(dir.join("run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(dir.join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(dir.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    }

    fn names(zip_path: &Path) -> Vec<(String, u32)> {
        let mut archive = zip::ZipArchive::new(File::open(zip_path).unwrap()).unwrap();
        (0..archive.len())
            .map(|i| {
                let f = archive.by_index(i).unwrap();
                (f.name().unwrap().into_owned(), f.unix_mode().unwrap() & 0o777)
            })
            .collect()
    }

    #[test]
    fn same_files_give_the_same_bytes_whatever_mtimes_and_modes() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        tree(a.path());
        // The second tree: written in another order, other mtimes, other non-exec permissions.
        fs::create_dir_all(b.path().join("lib/nested")).unwrap();
        fs::create_dir_all(b.path().join(".git")).unwrap();
        fs::write(b.path().join("run.sh"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(b.path().join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(b.path().join("lib/nested/data.json"), "{}\n").unwrap();
        fs::write(b.path().join("lib/util.js"), "module.exports = 1;\n").unwrap();
        fs::set_permissions(b.path().join("lib/util.js"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(b.path().join("index.js"), "exports.handler = async (e) => e.Records[0].cf.request;\n").unwrap();
        fs::write(b.path().join(".git/HEAD"), "something else\n").unwrap();
        let old = SystemTime::now() - Duration::from_secs(86_400 * 400);
        File::options().write(true).open(b.path().join("index.js")).unwrap().set_modified(old).unwrap();

        let pa = package(a.path(), &Stop::default()).unwrap();
        let pb = package(b.path(), &Stop::default()).unwrap();
        assert_eq!(fs::read(&pa.path).unwrap(), fs::read(&pb.path).unwrap());
        assert_eq!(pa.code_sha256, pb.code_sha256);
        assert_eq!(pa.files, 4);
    }

    #[test]
    fn entries_are_sorted_git_is_left_out_and_the_exec_bit_kept() {
        let a = tempfile::tempdir().unwrap();
        tree(a.path());
        let p = package(a.path(), &Stop::default()).unwrap();
        assert_eq!(
            names(&p.path),
            vec![
                ("index.js".to_owned(), 0o644),
                ("lib/nested/data.json".to_owned(), 0o644),
                ("lib/util.js".to_owned(), 0o644),
                ("run.sh".to_owned(), 0o755),
            ]
        );
    }

    #[test]
    fn a_change_in_content_changes_the_hash() {
        let a = tempfile::tempdir().unwrap();
        tree(a.path());
        let before = package(a.path(), &Stop::default()).unwrap().code_sha256;
        fs::write(a.path().join("lib/util.js"), "module.exports = 2;\n").unwrap();
        assert_ne!(before, package(a.path(), &Stop::default()).unwrap().code_sha256);
    }

    #[test]
    fn the_hash_is_base64_sha256_of_the_zip_bytes() {
        let a = tempfile::tempdir().unwrap();
        tree(a.path());
        let p = package(a.path(), &Stop::default()).unwrap();
        let digest = Sha256::digest(fs::read(&p.path).unwrap());
        assert_eq!(p.code_sha256, base64::engine::general_purpose::STANDARD.encode(digest));
        assert_eq!(p.size, fs::metadata(&p.path).unwrap().len());
    }

    #[test]
    fn symlinks_inside_are_followed_and_outside_refused() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "x").unwrap();
        let a = tempfile::tempdir().unwrap();
        tree(a.path());
        std::os::unix::fs::symlink(a.path().join("lib/util.js"), a.path().join("alias.js")).unwrap();
        let p = package(a.path(), &Stop::default()).unwrap();
        assert!(names(&p.path).iter().any(|(n, _)| n == "alias.js"));

        std::os::unix::fs::symlink(outside.path().join("secret"), a.path().join("leak")).unwrap();
        let err = package(a.path(), &Stop::default()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("outside the source directory"), "{err}");
    }

    #[test]
    fn an_empty_source_is_refused() {
        let a = tempfile::tempdir().unwrap();
        fs::create_dir_all(a.path().join(".git")).unwrap();
        fs::write(a.path().join(".git/HEAD"), "x").unwrap();
        let err = package(a.path(), &Stop::default()).unwrap_err();
        assert!(err.to_string().contains("holds no files"), "{err}");
    }

    #[test]
    fn an_empty_zip_is_refused_like_an_empty_directory() {
        let a = tempfile::tempdir().unwrap();
        let path = a.path().join("empty.zip");
        ZipWriter::new(File::create(&path).unwrap()).finish().unwrap();
        let err = package(&path, &Stop::default()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("empty.zip holds no files"), "{err}");
    }

    #[test]
    fn a_given_zip_is_used_as_it_is() {
        let a = tempfile::tempdir().unwrap();
        tree(a.path());
        let made = package(a.path(), &Stop::default()).unwrap();
        let copy = a.path().join("given.zip");
        fs::copy(&made.path, &copy).unwrap();
        let p = package(&copy, &Stop::default()).unwrap();
        assert_eq!(p.path, copy);
        assert_eq!(p.code_sha256, made.code_sha256);
        assert_eq!(p.files, 4);
    }

    #[test]
    fn batches_cover_every_entry_in_order() {
        let e = |n: &str, len| Entry { name: n.into(), path: n.into(), executable: false, len };
        let entries = vec![e("a", BATCH_BYTES), e("b", 1), e("c", 2), e("d", BATCH_BYTES), e("e", 3)];
        let b = batches(&entries);
        assert_eq!(b.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![1, 3, 1]);
    }
}
