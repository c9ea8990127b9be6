//! The demo's load: `sample-app load` in the client pod, its JSON lines read as they come and
//! shown live, until the load ends or the demo is told to stop.

use super::screen::{plain_line, screen, TrafficFigures};
use super::stop::{StopReason, StopWatch};
use anyhow::{Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::Duration;

/// How long the load runs when the demo has no `--duration` (it stops on Ctrl-C before that).
const UNTIL_INTERRUPTED: &str = "1h";
/// How often the stop conditions are checked between two lines.
const POLL: Duration = Duration::from_millis(200);

/// The `sample-app load` command line the load runs, with `headers` (`NAME:VALUE`) on every
/// request.
pub fn load_argv(
    url: &str,
    headers: &[&str],
    concurrency: u32,
    duration: Option<u64>,
) -> Vec<String> {
    let duration = duration.map_or(UNTIL_INTERRUPTED.to_string(), |secs| format!("{secs}s"));
    let concurrency = concurrency.to_string();
    [
        "sample-app",
        "load",
        "--url",
        url,
        "--concurrency",
        &concurrency,
        "--interval",
        "1s",
    ]
    .into_iter()
    .chain(["--duration", &duration])
    .chain(headers.iter().flat_map(|h| ["--header", *h]))
    .map(str::to_string)
    .collect()
}

/// Why the traffic stopped being shown.
#[derive(Debug)]
pub enum Ending {
    /// The load generator printed its summary and ended.
    LoadFinished,
    /// The load generator ended without a summary.
    LoadFailed,
    /// Ctrl-C, or the demo's duration passed.
    Stopped(StopReason),
}

/// The running load generator; stopped (with every process it started) when dropped.
pub struct LoadRun {
    child: Child,
    lines: Receiver<String>,
}

impl LoadRun {
    /// Starts `command` in its own process group (so stopping it reaches whatever it started).
    pub fn start(mut command: Command) -> Result<Self> {
        command.stdout(Stdio::piped()).process_group(0);
        let mut child = command
            .spawn()
            .context("could not start the load generator")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(Self { child, lines })
    }

    /// Shows each interval's figures until the load ends or `watch` says stop.
    pub fn show(&self, watch: &StopWatch, display: &mut Display<'_>) -> Ending {
        loop {
            if let Some(reason) = watch.reason() {
                return Ending::Stopped(reason);
            }
            match self.lines.recv_timeout(POLL) {
                Ok(line) => match TrafficFigures::parse(&line) {
                    Some(figures) if figures.summary => {
                        display.whole_step(figures);
                        return Ending::LoadFinished;
                    }
                    Some(figures) => display.interval(&figures),
                    None => eprintln!("load: {line}"),
                },
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Ending::LoadFailed,
            }
        }
    }
}

impl Drop for LoadRun {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// Which time the mesh's lines cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Since the previous look (about a second).
    Live,
    /// The whole step so far.
    WholeStep,
}

/// Where the figures go: a redrawn screen on a terminal, plain lines anywhere else. The mesh's
/// lines (counters, top pairs) are looked at once a second, with each interval's figures, and
/// once more for the whole step when the load ends: its last frame sums the step up.
pub struct Display<'m> {
    title: String,
    mesh: &'m mut dyn FnMut(Window) -> Vec<String>,
    terminal: bool,
    /// The load's summary of the whole step, once it ended.
    summary: Option<TrafficFigures>,
}

impl<'m> Display<'m> {
    /// A display for stdout, titled `title`, with the mesh's lines from `mesh`.
    pub fn for_stdout(title: String, mesh: &'m mut dyn FnMut(Window) -> Vec<String>) -> Self {
        let terminal = std::io::stdout().is_terminal();
        if !terminal {
            for line in mesh(Window::Live) {
                println!("mesh {line}");
            }
        }
        Self {
            title,
            mesh,
            terminal,
            summary: None,
        }
    }

    /// The load's summary of the whole step, once the load has ended.
    pub fn take_summary(&mut self) -> Option<TrafficFigures> {
        self.summary.take()
    }

    fn interval(&mut self, figures: &TrafficFigures) {
        let mesh = (self.mesh)(Window::Live);
        self.draw(&self.title.clone(), figures, &mesh);
    }

    /// The step's last frame: the load's figures and the mesh's over the whole step.
    fn whole_step(&mut self, figures: TrafficFigures) {
        let mesh = (self.mesh)(Window::WholeStep);
        let title = format!("{} — whole step, {:.0} s", self.title, figures.t);
        self.draw(&title, &figures, &mesh);
        if self.terminal {
            println!();
        }
        self.summary = Some(figures);
    }

    fn draw(&self, title: &str, figures: &TrafficFigures, mesh: &[String]) {
        if !self.terminal {
            println!("{}", plain_line(figures));
            for line in mesh {
                println!("mesh {line}");
            }
            return;
        }
        let lines = screen(title, figures, mesh);
        let mut out = std::io::stdout().lock();
        // Home, then each line cleared to its end, then the rest of the screen cleared.
        let _ = write!(out, "\x1b[H{}\x1b[J", lines.join("\x1b[K\n"));
        let _ = out.flush();
    }

    /// Clears the terminal before the first screen.
    pub fn clear(&self) {
        if self.terminal {
            print!("\x1b[2J\x1b[H");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_load_command_line() {
        let argv = load_argv("http://frontend/", &["host:a.example"], 4, Some(8));
        assert_eq!(
            argv.join(" "),
            "sample-app load --url http://frontend/ --concurrency 4 --interval 1s --duration 8s \
             --header host:a.example"
        );
        let forever = load_argv("http://frontend/", &[], 1, None);
        assert_eq!(
            forever[forever.len() - 2..],
            ["--duration", UNTIL_INTERRUPTED]
        );
    }

    #[test]
    fn the_load_lines_are_shown_and_the_summary_ends_the_run() {
        let script = r#"echo '{"t":1,"requests":5,"ok":5,"by_version":{"v1":5}}'; echo noise;
                        echo '{"t":1,"requests":5,"final":true}'"#;
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        let run = LoadRun::start(command).unwrap();
        let watch = StopWatch::unsignalled();
        let mut windows = Vec::new();
        let mut mesh = |window| {
            windows.push(window);
            Vec::new()
        };
        let mut display = Display {
            title: "t".into(),
            mesh: &mut mesh,
            terminal: false,
            summary: None,
        };
        assert!(matches!(
            run.show(&watch, &mut display),
            Ending::LoadFinished
        ));
        let summary = display.take_summary().expect("the step's summary is kept");
        assert!(summary.summary);
        assert_eq!(windows, [Window::Live, Window::WholeStep]);
    }

    #[test]
    fn a_load_without_summary_has_failed() {
        let mut command = Command::new("sh");
        command.args(["-c", "exit 3"]);
        let run = LoadRun::start(command).unwrap();
        let watch = StopWatch::unsignalled();
        let mut display = Display {
            title: "t".into(),
            mesh: &mut |_| Vec::new(),
            terminal: false,
            summary: None,
        };
        assert!(matches!(run.show(&watch, &mut display), Ending::LoadFailed));
        assert!(display.take_summary().is_none());
    }
}
