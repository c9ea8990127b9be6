//! Host commands (`ip`, `sysctl`) run with a timeout; a failure names the command line and stderr.

use anyhow::{bail, Context, Result};
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long one `ip` or `sysctl` call may take before it is killed.
const HOST_COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `ip ARGS...` and returns its stdout.
pub fn ip(args: &[&str]) -> Result<String> {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    run(&mut cmd)
}

/// Runs `ip -n NETNS ARGS...` (an `ip` command acting on one namespace).
pub fn ip_in(netns: &str, args: &[&str]) -> Result<String> {
    let mut all = vec!["-n", netns];
    all.extend_from_slice(args);
    ip(&all)
}

/// Runs `ip netns exec NETNS ARGV...` with the usual timeout.
pub fn in_netns(netns: &str, argv: &[&str]) -> Result<String> {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns]).args(argv);
    run(&mut cmd)
}

/// Runs `cmd` to completion (killed after the timeout) and returns its stdout.
pub fn run(cmd: &mut Command) -> Result<String> {
    let line = command_line(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("`{line}`: cannot start"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_with_timeout(&mut child, HOST_COMMAND_TIMEOUT)
        .with_context(|| format!("`{line}`: cannot wait"))?;
    let (stdout, stderr) = (join(stdout), join(stderr));
    match status {
        None => bail!("`{line}` timed out after {HOST_COMMAND_TIMEOUT:?}"),
        Some(status) if status.success() => Ok(stdout),
        Some(status) => bail!("`{line}` failed ({status}): {}", stderr.trim()),
    }
}

/// Whether `program` can be started (used to say "no ip command" up front).
pub fn available(program: &str) -> bool {
    Command::new(program)
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Waits for `child`; `None` when it had to be killed after `timeout`.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The command as a shell would show it, for error messages.
pub fn command_line(cmd: &Command) -> String {
    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

fn join(handle: JoinHandle<String>) -> String {
    handle.join().unwrap_or_default()
}
