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

fn main() {
    return_freed_memory();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    let code = match runtime {
        Ok(rt) => {
            let code = rt.block_on(run());
            // Dropping the runtime would wait for blocking tasks (packaging) however long they take;
            // they have been asked to stop and had their time to clean up.
            rt.shutdown_timeout(std::time::Duration::from_millis(100));
            code
        }
        Err(e) => {
            eprintln!("lambda-edge-deploy: cannot start the async runtime: {e}");
            1
        }
    };
    std::process::exit(code);
}

async fn run() -> i32 {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let debug = std::env::var("RUNNER_DEBUG").is_ok_and(|v| v == "1");
    lambda_edge_deploy::log::init(github, debug, Box::new(std::io::stderr()));
    // Started by the Lambda runtime (provided.al2023): serve S3 events instead of one run.
    if lambda_edge_deploy::deployer::in_lambda() {
        return match lambda_edge_deploy::deployer::serve().await {
            Ok(()) => 0,
            Err(e) => {
                lambda_edge_deploy::log::error("Lambda runtime", &e.to_string());
                1
            }
        };
    }
    let args = std::env::args_os().skip(1).collect();
    match lambda_edge_deploy::cli::parse(args, std::env::vars_os().collect()) {
        Ok(lambda_edge_deploy::cli::Invocation::Print(text)) => {
            print!("{text}");
            0
        }
        Ok(lambda_edge_deploy::cli::Invocation::Run(vars)) => lambda_edge_deploy::run(vars).await,
        Err(e) => lambda_edge_deploy::run::fail(&e, "lambda-edge-deploy", None, &Default::default()),
    }
}

/// Packaging compresses files on every core, each into a fresh buffer. glibc raises its mmap
/// threshold after the first large frees and then keeps freed buffers in per-thread arenas, which
/// tripled peak memory on large trees (bench/, row 4d): a fixed threshold hands large buffers back
/// at once. It sits above a compressor's state (a few hundred KiB, one per file), which would
/// otherwise be mapped and unmapped for every file: 20,000 small files took 2.9 s instead of 0.3 s
/// (row 3d). A fixed threshold also stops glibc from adapting its trim threshold; trimming the
/// arenas only past 4 MiB keeps them from shrinking and growing again at every file, and packaging
/// trims them between batches instead (`package.rs`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_freed_memory() {
    // SAFETY: mallopt only sets tuning parameters of the allocator, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 4 * 1024 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_freed_memory() {}
