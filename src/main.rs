use std::io::IsTerminal;

#[tokio::main]
async fn main() {
    let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
    let debug = std::env::var("RUNNER_DEBUG").is_ok_and(|v| v == "1");
    let _ = std::io::stderr().is_terminal();
    lambda_edge_deploy::log::init(github, debug, Box::new(std::io::stderr()));
    let code = lambda_edge_deploy::run(std::env::vars()).await;
    std::process::exit(code);
}
