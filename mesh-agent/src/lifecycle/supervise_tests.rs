use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

fn text(registry: &Registry) -> String {
    crate::metrics::encode(registry).unwrap()
}

#[tokio::test(start_paused = true)]
async fn an_essential_task_that_ends_is_reported_down() {
    let mut registry = Registry::default();
    let mut supervisor = Supervisor::new(&mut registry);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    supervisor.essential("config-source", async {
        let _ = stopped.await;
    });
    tokio::task::yield_now().await;
    assert!(supervisor.health().ended().is_empty());
    assert!(text(&registry).contains("mesh_agent_task_up{task=\"config-source\"} 1"));
    drop(stop);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(supervisor.health().ended(), vec!["config-source"]);
    assert!(text(&registry).contains("mesh_agent_task_up{task=\"config-source\"} 0"));
}

#[tokio::test(start_paused = true)]
async fn an_essential_task_that_panics_is_reported_down() {
    let mut registry = Registry::default();
    let mut supervisor = Supervisor::new(&mut registry);
    supervisor.essential("pipeline", async { panic!("boom") });
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(supervisor.health().ended(), vec!["pipeline"]);
}

#[tokio::test(start_paused = true)]
async fn a_restarting_task_is_started_again_with_growing_backoff() {
    let mut registry = Registry::default();
    let mut supervisor = Supervisor::new(&mut registry);
    let starts = Arc::new(AtomicU32::new(0));
    let counted = starts.clone();
    supervisor.restarting("pod-index", move || {
        let n = counted.fetch_add(1, Ordering::Relaxed);
        async move {
            if n == 0 {
                panic!("first run panics");
            }
            if n >= 2 {
                std::future::pending::<()>().await;
            }
        }
    });
    // First run panics at once, second starts after 1 s and returns, third after 2 s more.
    tokio::time::sleep(FIRST_BACKOFF + Duration::from_millis(1)).await;
    assert_eq!(starts.load(Ordering::Relaxed), 2);
    tokio::time::sleep(FIRST_BACKOFF).await;
    assert_eq!(
        starts.load(Ordering::Relaxed),
        2,
        "the second backoff is longer"
    );
    tokio::time::sleep(FIRST_BACKOFF).await;
    assert_eq!(starts.load(Ordering::Relaxed), 3);
    let metrics = text(&registry);
    assert!(metrics.contains("mesh_agent_task_restarts_total{task=\"pod-index\"} 2"));
    assert!(metrics.contains("mesh_agent_task_up{task=\"pod-index\"} 1"));
    assert!(supervisor.health().ended().is_empty());
}
