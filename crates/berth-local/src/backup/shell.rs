//! The kinds' commands, run through `sh` as the CronJobs run them.

use std::process::Command;

use super::BackupError;

/// Runs `script`, with `env` (a password, for the tools) beside berth's own
/// environment; its standard output, or an error with the last lines it
/// printed (the tools say what failed there; they never print a password,
/// which they take from the environment).
pub fn run(script: &str, what: &str, env: &[(String, String)]) -> Result<String, BackupError> {
    let output = Command::new("sh")
        .args(["-c", script])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|e| {
            BackupError::new(
                format!("cannot run sh for {what}: {e}"),
                "install a POSIX shell",
            )
        })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last: Vec<&str> = stderr.lines().rev().take(5).collect();
    let said: Vec<&str> = last.into_iter().rev().collect();
    Err(BackupError::new(
        format!(
            "{what} failed ({}):\n  {}",
            output.status,
            said.join("\n  ")
        ),
        "the store's own tool said why above: a login refused (401, \"password authentication failed\") is the user and password the service is given in berth.yaml, which a store keeps from its first start; a tool not found is installed with `apt-get install postgresql-client redis-tools curl`",
    ))
}
