//! Package: the source directory as a deterministic zip, and its hash as Lambda reports it.
//!
//! Determinism is what makes "unchanged code" detectable: Lambda's CodeSha256 is the hash of the zip's
//! bytes, so the same files must give the same bytes whatever their mtimes, owners or listing order.
//!
//! What goes in: every file of the source but `.git`, the root's `.lambdaignore`, and what `exclude`
//! and that file leave out (gitignore's syntax and rules, through the `ignore` crate that ripgrep uses).

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, PreparedZipFile, ZipWriter};

use crate::error::{Error, Result};

/// Lambda@Edge's limit on the compressed package.
pub const MAX_ZIP_BYTES: u64 = 50 * 1024 * 1024;

/// The deflate level, chosen by measurement (README, "Packaging"): with zlib-rs, level 9 is the
/// one that gives a zip no larger than Info-ZIP's `zip -X -r -6` on every tree measured (its level
/// 6 was up to 1.7 % larger), at about Info-ZIP's CPU time, spread over the cores.
const LEVEL: i64 = 9;

/// The file at the root of a source directory that lists what to leave out, as `exclude` does.
pub const IGNORE_FILE: &str = ".lambdaignore";

/// Files are compressed in parallel in batches, so that memory stays near one batch of output.
const BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// Files larger than this are compressed as they are read into a side zip on disk, not in memory:
/// a 300 MB file costs a buffer, and the size limit stops it part-way.
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

/// What to do about a package over the limit.
const TOO_LARGE_FIX: &str = "Leave dev dependencies and source maps out of `source` (with `exclude`, or a .lambdaignore at its root), or bundle and minify the code.";

fn too_large(written: u64, done: usize, total: usize) -> Error {
    Error::precondition(
        format!(
            "the package is over {} MB compressed ({:.1} MB after {done} of {total} files, where packaging stopped); Lambda@Edge accepts at most {} MB",
            MAX_ZIP_BYTES / 1_048_576,
            written as f64 / 1_048_576.0,
            MAX_ZIP_BYTES / 1_048_576
        ),
        TOO_LARGE_FIX,
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

/// Packages `source` as [`package`] does, leaving out of a directory what `exclude` (gitignore
/// patterns, relative to `source`) and a `.lambdaignore` at its root name. A zip is taken as it is,
/// so `exclude` with a zip is refused.
pub fn package_excluding(source: &Path, exclude: &[String], stop: &Stop) -> Result<Package> {
    let _active = Active::new(stop);
    let package = if source.is_dir() { zip_directory(source, exclude, stop)? } else { given_zip(source, exclude)? };
    if package.size > MAX_ZIP_BYTES {
        return Err(Error::precondition(
            format!(
                "the package is {:.1} MB compressed; Lambda@Edge accepts at most {} MB",
                package.size as f64 / 1_048_576.0,
                MAX_ZIP_BYTES / 1_048_576
            ),
            TOO_LARGE_FIX,
        ));
    }
    Ok(package)
}

/// Packages `source`: a directory is zipped (less what its `.lambdaignore` names), a `.zip` file is
/// taken as it is. Stops, removing its temporary zip, when `stop` is requested or the zip passes
/// Lambda@Edge's size limit.
pub fn package(source: &Path, stop: &Stop) -> Result<Package> {
    package_excluding(source, &[], stop)
}

fn zip_directory(source: &Path, exclude: &[String], stop: &Stop) -> Result<Package> {
    let root = source.canonicalize().map_err(Error::io(format!("resolving {}", source.display())))?;
    let rules = Exclusions::load(&root, exclude)?;
    let found = collect(&root, &rules, stop)?;
    if found.entries.is_empty() {
        if found.excluded_files > 0 {
            return Err(Error::precondition(
                format!(
                    "{} out every file of {} ({} file(s), {} bytes): nothing is left to package",
                    rules.named(),
                    source.display(),
                    found.excluded_files,
                    found.excluded_bytes
                ),
                "Narrow the patterns that match everything (such as `*` or `/*`), or re-include the code with a `!` pattern (`!index.js`).",
            ));
        }
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
    write_zip(&found.entries, file, stop)?;
    let (size, code_sha256) = hash_file(&temp)?;
    Ok(Package {
        path: temp.to_path_buf(),
        _temp: Some(temp),
        size,
        code_sha256,
        files: found.entries.len(),
        excluded_files: found.excluded_files,
        excluded_bytes: found.excluded_bytes,
    })
}

fn given_zip(source: &Path, exclude: &[String]) -> Result<Package> {
    if !exclude.is_empty() {
        return Err(Error::precondition(
            format!(
                "`exclude` cannot leave files out of {}: a zip given as `source` is uploaded as it is",
                source.display()
            ),
            "Remove `exclude` and leave the files out when building the zip, or point `source` at the directory and let this tool zip it.",
        ));
    }
    let files = zip::ZipArchive::new(File::open(source).map_err(Error::io(format!("opening {}", source.display())))?)
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
    Ok(Package {
        path: source.to_path_buf(),
        _temp: None,
        size,
        code_sha256,
        files,
        excluded_files: 0,
        excluded_bytes: 0,
    })
}

/// What `exclude` and the source's `.lambdaignore` leave out, with gitignore's rules: the last
/// matching line wins, `!` re-includes, a trailing `/` matches directories only, any other `/`
/// anchors the pattern to the source's root, `**` spans directories. The file's lines come first,
/// then `exclude`'s, so the workflow has the last word.
struct Exclusions {
    matcher: Gitignore,
    /// Whether the patterns came from `exclude`, from the file, or both: for messages.
    from_input: bool,
    from_file: bool,
}

impl Exclusions {
    /// The rules for the source directory `root`, an absolute path: the matcher strips it from a
    /// path as a string prefix, so it must never be the start of a relative one.
    fn load(root: &Path, exclude: &[String]) -> Result<Exclusions> {
        let mut builder = GitignoreBuilder::new(root);
        let file = root.join(IGNORE_FILE);
        let from_file = file.is_file();
        if from_file {
            let text = std::fs::read_to_string(&file).map_err(|e| {
                Error::precondition(
                    format!("cannot read {}: {e}", file.display()),
                    "Make the file readable UTF-8 text, one gitignore pattern a line, or remove it.",
                )
            })?;
            for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
                builder.add_line(Some(file.clone()), line).map_err(|e| {
                    Error::precondition(
                        format!("{} line {}: {}", file.display(), i + 1, pattern_error(&e)),
                        PATTERN_FIX,
                    )
                })?;
            }
        }
        for pattern in exclude {
            builder
                .add_line(None, pattern)
                .map_err(|e| Error::precondition(format!("input `exclude`: {}", pattern_error(&e)), PATTERN_FIX))?;
        }
        let matcher = builder
            .build()
            .map_err(|e| Error::precondition(format!("the `exclude` and {IGNORE_FILE} patterns: {e}"), PATTERN_FIX))?;
        Ok(Exclusions { matcher, from_input: !exclude.is_empty(), from_file })
    }

    /// Whether `relative` (a path under the source) is left out.
    fn excludes(&self, relative: &Path, is_dir: bool) -> bool {
        self.matcher.matched(relative, is_dir).is_ignore()
    }

    /// Where the patterns came from, as the subject of "... out every file".
    fn named(&self) -> &'static str {
        match (self.from_input, self.from_file) {
            (true, true) => "`exclude` and .lambdaignore leave",
            (false, true) => ".lambdaignore leaves",
            _ => "`exclude` leaves",
        }
    }
}

const PATTERN_FIX: &str = "Write the pattern in gitignore syntax (`*.map`, `test/`, `/docs`, `**/*.md`, `!keep.js`); escape `[`, `{` and `\\` with `\\` when they are meant literally.";

/// "pattern `X` is not a valid glob: why", from the `ignore` crate's error.
fn pattern_error(e: &ignore::Error) -> String {
    match e {
        ignore::Error::Glob { glob: Some(glob), err } => format!("pattern `{glob}` is not a valid glob: {err}"),
        other => other.to_string(),
    }
}

/// The files to package, sorted by archive name, and what the exclusions left out.
#[derive(Debug, Default)]
struct Collected {
    entries: Vec<Entry>,
    excluded_files: usize,
    excluded_bytes: u64,
}

/// Walks the source directory `root` (canonical), refusing symlinks that leave it and skipping
/// `.git`, the root's `.lambdaignore` and what the exclusions name (a directory they name is not
/// entered, as git does: a `!` pattern cannot re-include a file under it).
fn collect(root: &Path, rules: &Exclusions, stop: &Stop) -> Result<Collected> {
    let mut found = Collected::default();
    let mut walker =
        walkdir::WalkDir::new(root).follow_links(true).into_iter().filter_entry(|e| e.file_name() != ".git");
    while let Some(item) = walker.next() {
        stop.check()?;
        let entry = match item {
            Ok(entry) => entry,
            // A broken or looping link that the exclusions leave out stops nothing.
            Err(e)
                if e.path()
                    .and_then(|p| p.strip_prefix(root).ok())
                    .is_some_and(|relative| rules.excludes(relative, false) || rules.excludes(relative, true)) =>
            {
                continue
            }
            Err(e) => {
                let at = e.path().map(|p| p.display().to_string()).unwrap_or_default();
                return Err(Error::precondition(
                    format!("cannot read {at} in the source: {e}"),
                    "Remove broken or looping symlinks from `source` (or leave them out with `exclude`), and make every file readable.",
                ));
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let relative = entry.path().strip_prefix(root).map_err(|_| {
            Error::precondition(
                format!("{} is not under the source directory {}", entry.path().display(), root.display()),
                "Point `source` at a directory that holds the files itself.",
            )
        })?;
        let is_dir = entry.file_type().is_dir();
        if entry.depth() == 1 && entry.file_name() == IGNORE_FILE && entry.file_type().is_file() {
            continue;
        }
        if rules.excludes(relative, is_dir) {
            if is_dir {
                walker.skip_current_dir();
                count_left_out(entry.path(), &mut found, stop)?;
            } else if entry.file_type().is_file() {
                found.excluded_files += 1;
                found.excluded_bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
            }
            continue;
        }
        if entry.path_is_symlink() {
            let target =
                entry.path().canonicalize().map_err(Error::io(format!("resolving {}", entry.path().display())))?;
            if !target.starts_with(root) {
                return Err(Error::precondition(
                    format!(
                        "{} is a symlink to {}, outside the source directory",
                        entry.path().display(),
                        target.display()
                    ),
                    "Copy the file into `source` instead of linking it, or leave the link out with `exclude`; links are followed only inside the source.",
                ));
            }
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let name = archive_name(relative).ok_or_else(|| {
            Error::precondition(
                format!("{} has a name that is not UTF-8", entry.path().display()),
                "Rename the file: Lambda's zip names must be UTF-8.",
            )
        })?;
        let meta = entry
            .metadata()
            .map_err(|e| Error::Io { context: format!("reading {}", entry.path().display()), source: e.into() })?;
        found.entries.push(Entry {
            name,
            path: entry.path().to_path_buf(),
            executable: meta.permissions().mode() & 0o111 != 0,
            len: meta.len(),
        });
    }
    found.entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Counts the files under a directory the exclusions left out: regular files and links to files,
/// without following links to directories (the count is for the log, not a second walk's worth of
/// checks). Unreadable parts count as nothing.
fn count_left_out(dir: &Path, found: &mut Collected, stop: &Stop) -> Result<()> {
    for entry in walkdir::WalkDir::new(dir).into_iter().filter_entry(|e| e.file_name() != ".git").flatten() {
        stop.check()?;
        let meta = if entry.path_is_symlink() { std::fs::metadata(entry.path()).ok() } else { entry.metadata().ok() };
        if let Some(meta) = meta.filter(|m| m.is_file()) {
            found.excluded_files += 1;
            found.excluded_bytes += meta.len();
        }
    }
    Ok(())
}

fn archive_name(relative: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = relative.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

fn options(entry: &Entry, method: CompressionMethod) -> SimpleFileOptions {
    let options = SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(DateTime::default())
        .unix_permissions(mode(entry));
    match method {
        CompressionMethod::Deflated => options.compression_level(Some(LEVEL)),
        _ => options,
    }
}

fn mode(entry: &Entry) -> u32 {
    if entry.executable {
        0o755
    } else {
        0o644
    }
}

/// The zip's output: counts what is written and refuses to go on past the size limit or after an
/// interrupt, so that neither waits for the rest of the files.
struct Guarded<W> {
    inner: W,
    written: Arc<AtomicU64>,
    stop: Stop,
    /// Once it has refused, the zip is thrown away: what the zip writer's drop still writes to
    /// finish it is swallowed, so that the drop neither fails nor prints to stderr.
    refused: bool,
}

impl<W> Guarded<W> {
    fn new(inner: W, written: Arc<AtomicU64>, stop: &Stop) -> Guarded<W> {
        Guarded { inner, written, stop: stop.clone(), refused: false }
    }
}

impl<W: Write> Write for Guarded<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.refused {
            return Ok(buf.len());
        }
        // Not ErrorKind::Interrupted: write_all takes that for "try again" and would loop.
        if self.stop.requested() {
            self.refused = true;
            return Err(std::io::Error::other("stopped by an interrupt"));
        }
        let n = self.inner.write(buf)?;
        if self.written.fetch_add(n as u64, Ordering::SeqCst) + n as u64 > MAX_ZIP_BYTES {
            self.refused = true;
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

fn zip_io(e: zip::result::ZipError) -> std::io::Error {
    match e {
        zip::result::ZipError::Io(io) => io,
        other => std::io::Error::other(other),
    }
}

/// One file compressed ahead of its place in the zip.
enum Compressed {
    /// A small file, deflated or stored, in memory.
    InMemory(PreparedZipFile),
    /// A large file deflated into a zip of its own on disk: memory stays at a buffer whatever its size.
    OnDisk(File),
}

/// Compresses one file. A small one is deflated in memory, or stored when deflating does not make
/// it smaller (images, fonts, archives: what is compressed already), as Info-ZIP does; a stored file
/// is read twice rather than held. A large one goes to a side zip, whose bytes count toward the
/// limit from `so_far` (what the package held when the batch began): a file that cannot fit stops
/// part-way. On failure, the error and the count it reached.
fn compress(e: &Entry, so_far: u64, stop: &Stop) -> std::result::Result<Compressed, (std::io::Error, u64)> {
    if e.len <= STREAMED_BYTES {
        let prepare = || {
            let deflated = PreparedZipFile::from_path(&e.name, &e.path, options(e, CompressionMethod::Deflated))?;
            if deflated.compressed_size() < deflated.uncompressed_size() {
                return Ok(deflated);
            }
            drop(deflated);
            PreparedZipFile::from_path(&e.name, &e.path, options(e, CompressionMethod::Stored))
        };
        return prepare().map(Compressed::InMemory).map_err(|err| (zip_io(err), so_far));
    }
    let counted = Arc::new(AtomicU64::new(so_far));
    let side = || -> std::io::Result<File> {
        let out = Guarded::new(BufWriter::new(tempfile::tempfile()?), counted.clone(), stop);
        let mut side = ZipWriter::new(out);
        side.start_file(e.name.as_str(), options(e, CompressionMethod::Deflated)).map_err(zip_io)?;
        std::io::copy(&mut File::open(&e.path)?, &mut side)?;
        side.finish().map_err(zip_io)?.inner.into_inner().map_err(|e| e.into_error())
    };
    side().map(Compressed::OnDisk).map_err(|err| (err, counted.load(Ordering::SeqCst)))
}

/// Appends one compressed file: a side zip's deflated bytes are copied as they are, or the file is
/// stored when deflating did not make it smaller.
fn append<W: Write + std::io::Seek>(zip: &mut ZipWriter<W>, e: &Entry, compressed: Compressed) -> std::io::Result<()> {
    match compressed {
        Compressed::InMemory(prepared) => zip.add_prepared_file(prepared).map_err(zip_io),
        Compressed::OnDisk(side) => {
            let mut side = zip::ZipArchive::new(side).map_err(zip_io)?;
            let deflated = side.by_index_raw(0).map_err(zip_io)?;
            if deflated.compressed_size() < deflated.size() {
                return zip.raw_copy_file_touch(deflated, DateTime::default(), Some(mode(e))).map_err(zip_io);
            }
            drop(deflated);
            zip.start_file(e.name.as_str(), options(e, CompressionMethod::Stored)).map_err(zip_io)?;
            std::io::copy(&mut File::open(&e.path)?, zip)?;
            Ok(())
        }
    }
}

fn write_zip(entries: &[Entry], file: File, stop: &Stop) -> Result<()> {
    let written = Arc::new(AtomicU64::new(0));
    // Why a write refused, when it did: said as the limit or the interrupt, not as an I/O error.
    let fail = |what: String, e: std::io::Error, counted: u64, done: usize| {
        if stop.requested() {
            interrupted()
        } else if counted > MAX_ZIP_BYTES {
            too_large(counted, done, entries.len())
        } else {
            Error::Io { context: what, source: e }
        }
    };
    let out = Guarded::new(BufWriter::new(file), written.clone(), stop);
    let mut zip = ZipWriter::new(out);
    let mut done = 0;
    for (i, batch) in batches(entries).into_iter().enumerate() {
        if i > 0 {
            return_freed_memory();
        }
        // Every file of the batch compressed in parallel, a large one beside the small ones, then
        // appended in archive order.
        let so_far = written.load(Ordering::SeqCst);
        let compressed: Vec<Compressed> = batch
            .par_iter()
            .enumerate()
            .map(|(j, e)| {
                stop.check()?;
                compress(e, so_far, stop)
                    .map_err(|(err, counted)| fail(format!("compressing {}", e.path.display()), err, counted, done + j))
            })
            .collect::<Result<_>>()?;
        for (e, c) in batch.iter().zip(compressed) {
            append(&mut zip, e, c).map_err(|err| {
                fail(format!("adding {} to the zip", e.path.display()), err, written.load(Ordering::SeqCst), done)
            })?;
            done += 1;
        }
    }
    zip.finish().map_err(|e| fail("writing the zip".into(), zip_io(e), written.load(Ordering::SeqCst), done))?;
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

    /// Bytes that do not compress: a fixed xorshift sequence.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    /// A node-style tree with the usual candidates for leaving out.
    fn project(dir: &Path) {
        for (path, body) in [
            ("index.js", "exports.handler = async (e) => e.Records[0].cf.request;\n"),
            ("lib/util.js", "module.exports = 1;\n"),
            ("lib/util.js.map", "{\"version\":3}\n"),
            ("lib/nested/data.json", "{}\n"),
            ("lib/test/b.js", "b\n"),
            ("test/a.test.js", "a\n"),
            ("docs/guide.md", "# guide\n"),
            ("README.md", "# readme\n"),
            ("node_modules/pkg/index.js", "module.exports = 2;\n"),
            ("node_modules/pkg/test/t.js", "t\n"),
            (".env", "SECRET=1\n"),
            ("keep.map", "{}\n"),
        ] {
            let path = dir.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, body).unwrap();
        }
    }

    fn packaged(dir: &Path, exclude: &[&str]) -> Result<Package> {
        let exclude: Vec<String> = exclude.iter().map(|s| s.to_string()).collect();
        package_excluding(dir, &exclude, &Stop::default())
    }

    fn entry_names(p: &Package) -> Vec<String> {
        names(&p.path).into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn exclude_follows_gitignore_rules() {
        let all = [
            ".env",
            "README.md",
            "docs/guide.md",
            "index.js",
            "keep.map",
            "lib/nested/data.json",
            "lib/test/b.js",
            "lib/util.js",
            "lib/util.js.map",
            "node_modules/pkg/index.js",
            "node_modules/pkg/test/t.js",
            "test/a.test.js",
        ];
        let without =
            |gone: &[&str]| all.iter().filter(|n| !gone.contains(n)).map(|n| n.to_string()).collect::<Vec<_>>();
        let cases: &[(&str, &[&str], Vec<String>)] = &[
            ("nothing", &[], without(&[])),
            ("a suffix anywhere", &["*.map"], without(&["keep.map", "lib/util.js.map"])),
            ("negation re-includes", &["*.map", "!keep.map"], without(&["lib/util.js.map"])),
            (
                "a directory pattern prunes every such directory",
                &["test/"],
                without(&["lib/test/b.js", "node_modules/pkg/test/t.js", "test/a.test.js"]),
            ),
            ("anchored to the root", &["/test"], without(&["test/a.test.js"])),
            ("a path with a slash is anchored", &["lib/test"], without(&["lib/test/b.js"])),
            ("** spans directories", &["**/*.md"], without(&["README.md", "docs/guide.md"])),
            ("a dotfile", &[".env"], without(&[".env"])),
            (
                "nothing under an excluded directory comes back, as in git",
                &["node_modules/", "!node_modules/pkg/index.js"],
                without(&["node_modules/pkg/index.js", "node_modules/pkg/test/t.js"]),
            ),
            (
                "dir/** leaves the directory, so `!` brings a file back",
                &["lib/**", "!lib/util.js"],
                without(&["lib/nested/data.json", "lib/test/b.js", "lib/util.js.map"]),
            ),
            ("comments and blanks are ignored", &["# *.js", ""], without(&[])),
        ];
        let dir = tempfile::tempdir().unwrap();
        project(dir.path());
        for (what, exclude, want) in cases {
            let p = packaged(dir.path(), exclude).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(&entry_names(&p), want, "{what}");
            assert_eq!(p.files, want.len(), "{what}");
            assert_eq!(p.excluded_files, all.len() - want.len(), "{what}");
        }
    }

    #[test]
    fn excluded_files_and_bytes_are_counted_inside_pruned_directories_too() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path());
        let p = packaged(dir.path(), &["node_modules/", "*.md"]).unwrap();
        assert_eq!(p.excluded_files, 4);
        let bytes = ["node_modules/pkg/index.js", "node_modules/pkg/test/t.js", "README.md", "docs/guide.md"]
            .iter()
            .map(|n| fs::metadata(dir.path().join(n)).unwrap().len())
            .sum::<u64>();
        assert_eq!(p.excluded_bytes, bytes);
        let none = packaged(dir.path(), &[]).unwrap();
        assert_eq!((none.excluded_files, none.excluded_bytes), (0, 0));
    }

    #[test]
    fn lambdaignore_applies_is_never_packaged_and_exclude_has_the_last_word() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path());
        fs::write(dir.path().join(IGNORE_FILE), "\u{feff}# test code\ntest/\n*.map\n\n.env\n").unwrap();
        // A .lambdaignore below the root is an ordinary file.
        fs::write(dir.path().join("lib/.lambdaignore"), "index.js\n").unwrap();
        let p = packaged(dir.path(), &[]).unwrap();
        let names = entry_names(&p);
        assert!(!names.contains(&IGNORE_FILE.to_string()), "{names:?}");
        assert!(names.contains(&"lib/.lambdaignore".to_string()), "{names:?}");
        assert!(names.contains(&"index.js".to_string()), "{names:?}");
        assert!(!names.iter().any(|n| n.ends_with(".map") || n.contains("test/") || n == ".env"), "{names:?}");
        // The file itself is not counted as left out: 3 test files, 2 maps, .env.
        assert_eq!(p.excluded_files, 6);

        let p = packaged(dir.path(), &["!keep.map", "docs/"]).unwrap();
        let names = entry_names(&p);
        assert!(names.contains(&"keep.map".to_string()), "{names:?}");
        assert!(!names.contains(&"docs/guide.md".to_string()), "{names:?}");

        // Through `package` too (the deployer's tests build their zips with it).
        let p = package(dir.path(), &Stop::default()).unwrap();
        assert!(!entry_names(&p).contains(&IGNORE_FILE.to_string()));
        assert_eq!(p.excluded_files, 6);
    }

    #[test]
    fn leaving_out_every_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path());
        for (exclude, file, names) in [
            (&["*"][..], None, "`exclude` leaves"),
            (&["/*", "!*.txt"][..], None, "`exclude` leaves"),
            (&[][..], Some("**\n"), ".lambdaignore leaves"),
            (&["*.js"][..], Some("*.json\n*.md\n*.map\n.env\ntest\n"), "`exclude` and .lambdaignore leave"),
        ] {
            let _ = fs::remove_file(dir.path().join(IGNORE_FILE));
            if let Some(text) = file {
                fs::write(dir.path().join(IGNORE_FILE), text).unwrap();
            }
            let err = packaged(dir.path(), exclude).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{exclude:?} {file:?}: {err}");
            let text = err.to_string();
            assert!(text.starts_with(&format!("{names} out every file of")), "{text}");
            assert!(text.contains("(12 file(s),"), "{text}");
            assert!(err.help().contains("`!`"), "{}", err.help());
        }
    }

    #[test]
    fn a_pattern_that_is_not_a_glob_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path());
        let err = packaged(dir.path(), &["*.map", "src/{a,b"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("input `exclude`: pattern `src/{a,b` is not a valid glob"), "{err}");

        fs::write(dir.path().join(IGNORE_FILE), "*.map\n[z-a].js\n").unwrap();
        let err = packaged(dir.path(), &[]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains(".lambdaignore line 2: pattern `[z-a].js` is not a valid glob"), "{err}");
    }

    #[test]
    fn exclude_cannot_apply_to_a_given_zip() {
        let dir = tempfile::tempdir().unwrap();
        project(dir.path());
        let made = packaged(dir.path(), &[]).unwrap();
        let zip = dir.path().join("given.zip");
        fs::copy(&made.path, &zip).unwrap();
        let err = packaged(&zip, &["*.map"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("`exclude` cannot leave files out of"), "{err}");
        assert!(err.help().contains("Remove `exclude`"), "{}", err.help());
        assert_eq!(packaged(&zip, &[]).unwrap().code_sha256, made.code_sha256);
    }

    #[test]
    fn excluded_links_stop_nothing_and_excluded_files_change_no_byte() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "x").unwrap();
        let a = tempfile::tempdir().unwrap();
        tree(a.path());
        let plain = package(a.path(), &Stop::default()).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), a.path().join("leak")).unwrap();
        std::os::unix::fs::symlink(a.path().join("missing"), a.path().join("broken")).unwrap();
        fs::create_dir_all(a.path().join("coverage")).unwrap();
        fs::write(a.path().join("coverage/lcov.info"), "TN:\n").unwrap();
        let p = packaged(a.path(), &["leak", "broken", "coverage/"]).unwrap();
        assert_eq!(p.code_sha256, plain.code_sha256, "the same files, the same bytes");
        assert_eq!(p.excluded_files, 2, "the outside link's file and lcov.info; the broken link is no file");
    }

    #[test]
    fn an_entry_is_stored_when_deflating_does_not_make_it_smaller() {
        let a = tempfile::tempdir().unwrap();
        let text = "exports.value = 'the same line again';\n".repeat(200);
        fs::write(a.path().join("code.js"), &text).unwrap();
        fs::write(a.path().join("image.png"), noise(20_000, 1)).unwrap();
        fs::write(a.path().join("empty.txt"), "").unwrap();
        fs::write(a.path().join("x"), "x").unwrap();
        // Above STREAMED_BYTES: written through a side zip.
        let big = noise(STREAMED_BYTES as usize + 1000, 2);
        fs::write(a.path().join("big.bin"), &big).unwrap();
        let big_text = "const a = require('./a');\n".repeat(STREAMED_BYTES as usize / 20);
        fs::write(a.path().join("big.js"), &big_text).unwrap();
        fs::set_permissions(a.path().join("big.js"), fs::Permissions::from_mode(0o755)).unwrap();

        let p = package(a.path(), &Stop::default()).unwrap();
        let mut archive = zip::ZipArchive::new(File::open(&p.path).unwrap()).unwrap();
        let mut seen = Vec::new();
        for i in 0..archive.len() {
            let mut f = archive.by_index(i).unwrap();
            let (name, method, mode) =
                (f.name().unwrap().into_owned(), f.compression(), f.unix_mode().unwrap() & 0o777);
            let mut content = Vec::new();
            f.read_to_end(&mut content).unwrap();
            let want = match name.as_str() {
                "big.bin" => big.clone(),
                "big.js" => big_text.clone().into_bytes(),
                "code.js" => text.clone().into_bytes(),
                "image.png" => noise(20_000, 1),
                "empty.txt" => Vec::new(),
                _ => b"x".to_vec(),
            };
            assert!(content == want, "{name}: the content reads back");
            seen.push((name, method, mode));
        }
        use CompressionMethod::{Deflated, Stored};
        assert_eq!(
            seen,
            vec![
                ("big.bin".to_owned(), Stored, 0o644),
                ("big.js".to_owned(), Deflated, 0o755),
                ("code.js".to_owned(), Deflated, 0o644),
                ("empty.txt".to_owned(), Stored, 0o644),
                ("image.png".to_owned(), Stored, 0o644),
                ("x".to_owned(), Stored, 0o644),
            ]
        );
        // And the streamed entries keep the zip deterministic.
        assert_eq!(package(a.path(), &Stop::default()).unwrap().code_sha256, p.code_sha256);
    }

    #[test]
    fn batches_cover_every_entry_in_order() {
        let e = |n: &str, len| Entry { name: n.into(), path: n.into(), executable: false, len };
        let entries = vec![e("a", BATCH_BYTES), e("b", 1), e("c", 2), e("d", BATCH_BYTES), e("e", 3)];
        let b = batches(&entries);
        assert_eq!(b.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![1, 3, 1]);
    }
}
