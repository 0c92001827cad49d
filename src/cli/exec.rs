//! `jenv exec` and `jenv shell`: a command, or a shell, in the notebook as the notebook user.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::engine::types::LogChunk;
use crate::error::hinted;
use crate::notebook::Notebook;
use crate::state::run_env::RunEnv;
use crate::ui::Console;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The command and its arguments (after `--`)
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Runs a command as the notebook user in the mounted folder and passes on its exit code.
pub async fn run(args: ExecArgs, console: Console) -> Result<ExitCode> {
    let nb = Notebook::open_trusted("exec", console).await?;
    let container = nb.find_running().await?;
    let env = RunEnv::new(container.home.as_ref(), &container.name).exec_env()?;
    let output = |chunk: LogChunk| console.container_output(chunk.stream(), chunk.bytes());
    let outcome = nb.engine.exec(&container.exec_target(&env), &container.mount, &args.command, output).await?;
    Ok(exit_code(outcome.exit_code))
}

/// An interactive shell needs a terminal on both ends; the docker CLI does that well, so it is
/// used here rather than reimplementing raw-mode terminal handling. Without a terminal the
/// shell reads commands from stdin (`echo 'pip list' | jenv shell`).
pub async fn shell(console: Console) -> Result<ExitCode> {
    let nb = Notebook::open_trusted("shell", console).await?;
    let container = nb.find_running().await?;
    let shell = "if command -v bash >/dev/null; then exec bash; else exec sh; fi";
    let interactive = if std::io::stdin().is_terminal() { "-it" } else { "-i" };
    // `-e NAME` takes the value from the docker CLI's own environment, so no value shows in `ps`.
    let env = RunEnv::new(container.home.as_ref(), &container.name).exec_env()?;
    let status = std::process::Command::new("docker")
        .args(["exec", interactive, "-u", &container.user, "-w", &container.mount])
        .args(env.iter().flat_map(|(name, _)| ["-e", name.as_str()]))
        .args([&container.id, "sh", "-c", shell])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status();
    match status {
        Ok(status) => Ok(exit_code(status.code().unwrap_or(1).into())),
        Err(err) => hinted!(
            "cannot run `docker exec`: {err}";
            "install the docker command-line client, or use `jenv exec -- CMD` for one command"
        ),
    }
}

fn exit_code(code: i64) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
