//! The demo's story, the Istio tutorial's: one backend VirtualService after another (all to v1,
//! a 90/10 then 50/50 canary, header-based routing, a fault, a mirror), each applied to the
//! running lab, its YAML printed, then a load from the visitor through the ingress gateway;
//! each step ends on its whole-step frame, and the story on a table of every step.

use super::recap::{self, StepRecap};
use super::stop::StopWatch;
use super::traffic::{load_argv, Display, Ending, LoadRun, Window};
use crate::lab::{ExecTarget, Lab};
use anyhow::{Context, Result};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// Where the visitor's load goes: node-1's ingress gateway.
pub const GATEWAY_URL: &str = "http://node-1/";
/// The headers of every visitor request (the Gateway serves `shop.example.com`).
pub const VISITOR_HEADERS: [&str; 1] = ["host:shop.example.com"];
/// The seconds a step's traffic runs for when the demo has no `--duration`.
const STEP_SECONDS: u64 = 15;
/// Time for the agents to read a changed config directory (they poll every 500 ms).
const SETTLE: Duration = Duration::from_millis(1500);
/// How long a step's YAML stays on a terminal before the live table replaces it.
const READING_TIME: Duration = Duration::from_secs(3);

/// One step of the story: its file in `xtask/demo/steps/`, what it shows, extra headers.
pub struct Chapter {
    /// The file name (also the step's name on the `step` line).
    pub file: &'static str,
    /// What the step shows.
    pub title: &'static str,
    /// Headers the visitor adds in this step (`NAME:VALUE`).
    pub headers: &'static [&'static str],
}

/// The story, in order.
pub const CHAPTERS: [Chapter; 6] = [
    chapter("1-all-to-v1.yaml", "all traffic to v1", &[]),
    chapter("2-canary-90-10.yaml", "canary: 90% v1, 10% v2", &[]),
    chapter("3-canary-50-50.yaml", "canary: 50% v1, 50% v2", &[]),
    chapter(
        "4-header.yaml",
        "header end-user: jason → v2",
        &["end-user:jason"],
    ),
    chapter(
        "5-fault.yaml",
        "fault: 30% of backend calls abort with 500",
        &[],
    ),
    chapter("6-mirror.yaml", "mirror: v1 answers, v2 gets a copy", &[]),
];

const fn chapter(
    file: &'static str,
    title: &'static str,
    headers: &'static [&'static str],
) -> Chapter {
    Chapter {
        file,
        title,
        headers,
    }
}

/// The seconds each step's traffic runs for: `--duration` shared over the steps (at least 2 s).
pub fn step_seconds(duration: Option<u64>) -> u64 {
    duration.map_or(STEP_SECONDS, |secs| (secs / CHAPTERS.len() as u64).max(2))
}

/// Tells the story in `lab`: every chapter applied, shown and loaded, until the end or a stop;
/// then the table of the steps that ran.
pub fn tell(lab: &mut Lab, concurrency: u32, seconds: u64, watch: &StopWatch) -> Result<Ending> {
    let mut recaps = Vec::new();
    let ending = tell_chapters(lab, concurrency, seconds, watch, &mut recaps);
    if !recaps.is_empty() {
        println!("\nthe steps side by side (each row: the whole step, through the gateway)\n");
        for line in recap::table(&recaps) {
            println!("{line}");
        }
    }
    ending
}

fn tell_chapters(
    lab: &mut Lab,
    concurrency: u32,
    seconds: u64,
    watch: &StopWatch,
    recaps: &mut Vec<StepRecap>,
) -> Result<Ending> {
    let mut ending = Ending::LoadFinished;
    // One view for the whole story: each chapter's first top table covers the settling time.
    let mut figures = super::live_figures();
    for (n, chapter) in CHAPTERS.iter().enumerate() {
        if let Some(reason) = watch.reason() {
            return Ok(Ending::Stopped(reason));
        }
        let path = steps_dir().join(chapter.file);
        let yaml = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let name = chapter.file.trim_end_matches(".yaml");
        println!(
            "step {}/{} {name}: {}",
            n + 1,
            CHAPTERS.len(),
            chapter.title
        );
        println!("{}", yaml.trim_end());
        lab.apply(std::slice::from_ref(&path))?;
        pause(watch, SETTLE);
        if std::io::stdout().is_terminal() {
            pause(watch, READING_TIME);
        }
        let title = format!("step {}/{}: {}", n + 1, CHAPTERS.len(), chapter.title);
        // The step's own window starts with its load, after the settling and reading time.
        figures.start_step();
        let mut mesh = |window| match window {
            Window::Live => figures.lines(),
            Window::WholeStep => figures.step_lines(),
        };
        let mut display = Display::for_stdout(title, &mut mesh);
        display.clear();
        let headers: Vec<&str> = VISITOR_HEADERS
            .iter()
            .chain(chapter.headers)
            .copied()
            .collect();
        let argv = load_argv(GATEWAY_URL, &headers, concurrency, Some(seconds));
        let load = LoadRun::start(lab.exec_command(&visitor(), &argv)?)?;
        ending = load.show(watch, &mut display);
        if let Some(summary) = display.take_summary() {
            recaps.push(StepRecap {
                name: name.to_string(),
                figures: summary,
            });
        }
        if !matches!(ending, Ending::LoadFinished) {
            break;
        }
    }
    Ok(ending)
}

/// The visitor on the external host (`xtask/demo/40-gateway.yaml`).
pub fn visitor() -> ExecTarget {
    ExecTarget::Pod {
        namespace: "outside".into(),
        name: "visitor".into(),
    }
}

/// Sleeps `time`, in short naps, unless the demo is told to stop.
fn pause(watch: &StopWatch, time: Duration) {
    let nap = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < time && watch.reason().is_none() {
        std::thread::sleep(nap);
        slept += nap;
    }
}

/// `xtask/demo/steps`.
fn steps_dir() -> PathBuf {
    crate::build_ebpf::workspace_root().join("xtask/demo/steps")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chapter_has_its_yaml() {
        for chapter in &CHAPTERS {
            let yaml = std::fs::read_to_string(steps_dir().join(chapter.file)).unwrap();
            assert!(yaml.contains("kind: VirtualService"), "{}", chapter.file);
        }
    }

    #[test]
    fn the_duration_is_shared_over_the_steps() {
        assert_eq!(step_seconds(Some(60)), 10);
        assert_eq!(step_seconds(Some(3)), 2);
        assert_eq!(step_seconds(None), STEP_SECONDS);
    }
}
