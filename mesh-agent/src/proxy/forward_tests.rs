//! The connection lifetime on paused time: idle and maximum duration cut a copy that would
//! run forever; activity keeps an idle timeout away.

use std::time::Duration;

use tokio::time::Instant;

use super::*;

const HOUR: Duration = Duration::from_secs(3600);

fn lifetime(idle: Option<Duration>, max: Option<Duration>) -> ConnectionLifetime {
    ConnectionLifetime {
        idle_timeout: idle,
        max_duration: max,
    }
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_is_cut_after_the_idle_timeout() {
    let activity = Activity::new();
    let started = Instant::now();
    let cut = within(
        std::future::pending::<()>(),
        &activity,
        lifetime(Some(HOUR), None),
    )
    .await;
    assert_eq!(cut, Err(Cut::Idle));
    assert_eq!(started.elapsed(), HOUR);
}

#[tokio::test(start_paused = true)]
async fn bytes_either_way_keep_it_open() {
    let activity = Activity::new();
    let talker = activity.clone();
    tokio::spawn(async move {
        for _ in 0..3 {
            tokio::time::sleep(HOUR / 2).await;
            talker.touch();
        }
    });
    let started = Instant::now();
    let cut = within(
        std::future::pending::<()>(),
        &activity,
        lifetime(Some(HOUR), None),
    )
    .await;
    assert_eq!(cut, Err(Cut::Idle));
    assert_eq!(
        started.elapsed(),
        HOUR * 5 / 2,
        "an hour after the last bytes"
    );
}

#[tokio::test(start_paused = true)]
async fn the_maximum_duration_cuts_a_busy_connection() {
    let activity = Activity::new();
    let talker = activity.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            talker.touch();
        }
    });
    let started = Instant::now();
    let limits = lifetime(Some(HOUR), Some(HOUR * 2));
    let cut = within(std::future::pending::<()>(), &activity, limits).await;
    assert_eq!(cut, Err(Cut::MaxDuration));
    assert_eq!(started.elapsed(), HOUR * 2);
}

#[tokio::test(start_paused = true)]
async fn a_copy_that_ends_is_not_cut_and_zero_means_never() {
    let activity = Activity::new();
    let done = within(async { 7 }, &activity, lifetime(Some(HOUR), Some(HOUR))).await;
    assert_eq!(done, Ok(7));
    let slow = async {
        tokio::time::sleep(HOUR * 100).await;
        8
    };
    let never = lifetime(Some(Duration::ZERO), Some(Duration::ZERO));
    assert_eq!(within(slow, &activity, never).await, Ok(8));
}

#[test]
fn a_destination_policy_sets_the_lifetime_and_the_connect_timeout() {
    let policy = ConnectionPoolPolicy {
        tcp_idle_timeout: Duration::from_secs(5),
        max_connection_duration: Some(Duration::from_secs(60)),
        connect_timeout: Some(Duration::from_millis(250)),
        ..Default::default()
    };
    let want = lifetime(Some(Duration::from_secs(5)), Some(Duration::from_secs(60)));
    assert_eq!(ConnectionLifetime::of(Some(&policy)), want);
    assert_eq!(ConnectionLifetime::of(None), lifetime(Some(HOUR), None));

    let agent = crate::net::UpstreamSockets {
        connect_timeout: Duration::from_secs(10),
    };
    let wins = agent
        .with_connect_timeout(policy.connect_timeout)
        .connect_timeout;
    assert_eq!(
        wins,
        Duration::from_millis(250),
        "the destination's own wins"
    );
    let unset = agent.with_connect_timeout(ConnectionPoolPolicy::default().connect_timeout);
    assert_eq!(
        unset.connect_timeout,
        Duration::from_secs(10),
        "else the agent's"
    );
}

#[tokio::test(start_paused = true)]
async fn the_longest_idle_timeout_and_duration_validation_allows_never_cut_a_live_copy() {
    // Go's `time.Duration` maximum (~292 years), the longest a resource may hold.
    let longest = Duration::from_nanos(i64::MAX as u64);
    let activity = Activity::new();
    let copy = async {
        tokio::time::sleep(HOUR).await;
        9
    };
    let limits = lifetime(Some(longest), Some(longest));
    assert_eq!(within(copy, &activity, limits).await, Ok(9));
    let past = lifetime(Some(Duration::MAX), Some(Duration::MAX));
    assert_eq!(within(async { 10 }, &activity, past).await, Ok(10));
}
