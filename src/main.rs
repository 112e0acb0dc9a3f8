#[tokio::main]
async fn main() {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let debug = std::env::var("RUNNER_DEBUG").is_ok_and(|v| v == "1");
    lambda_edge_deploy::log::init(github, debug, Box::new(std::io::stderr()));
    // Started by the Lambda runtime (provided.al2023): serve S3 events instead of one run.
    if lambda_edge_deploy::deployer::in_lambda() {
        if let Err(e) = lambda_edge_deploy::deployer::serve().await {
            lambda_edge_deploy::log::error("Lambda runtime", &e.to_string());
            std::process::exit(1);
        }
        return;
    }
    let code = lambda_edge_deploy::run(std::env::vars()).await;
    std::process::exit(code);
}
