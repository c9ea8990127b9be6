//! Privileged lab tests on a running lab: apply/delete of Services rewrite the hosts file that
//! running processes see, Deployments come and go with their namespaces, status shows failures.

use crate::support::{data, lab_dir, netns_names, ok, process_gone, status_line, stdout, TestLab};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn apply_and_delete_change_a_running_lab() {
    let Some(lab) = TestLab::new("t-apply") else {
        return;
    };
    lab.up(1, &["lab-apply-base.yaml"]);
    let hosts_file = "/etc/netns/t-apply-shop-client/hosts";
    let inode = std::fs::metadata(hosts_file).unwrap().ino();
    let pid = lab.pod_pids("node-1", "shop", "client")[0];
    // What the running process sees as /etc/hosts (its own mount namespace).
    let seen = format!("/proc/{pid}/root/etc/hosts");
    assert!(!read(&seen).contains("reviews"));

    lab.kubectl("apply", "lab-apply-service.yaml");
    assert!(
        read(&seen).contains("10.96.7.7\treviews.shop.svc.cluster.local"),
        "{}",
        read(&seen)
    );
    assert_eq!(
        std::fs::metadata(hosts_file).unwrap().ino(),
        inode,
        "rewritten in place"
    );
    let out = ok(lab.exec("shop", "client", &["getent", "hosts", "reviews"]));
    assert!(stdout(&out).starts_with("10.96.7.7"), "{}", stdout(&out));
    let config = lab_dir("t-apply").join("config/DestinationRule.shop.reviews.yaml");
    assert!(config.exists());

    // The same Service again is a duplicate against the running lab.
    let again = lab
        .try_apply(&data("lab-apply-service.yaml"))
        .expect_err("a duplicate Service is refused");
    let again = format!("{again:#}");
    assert!(
        again.contains("Service/shop/reviews: service shop/reviews already exists"),
        "{again}"
    );

    lab.kubectl("apply", "lab-apply-deployment.yaml");
    let netns = ["t-apply-shop-reviews-0", "t-apply-shop-reviews-1"];
    assert!(netns.iter().all(|n| netns_names().contains(&n.to_string())));
    let pids = lab.pod_pids("node-1", "shop", "reviews-0");
    assert!(!pids.is_empty());

    lab.kubectl("delete", "lab-apply-deployment.yaml");
    let names = netns_names();
    assert!(
        netns.iter().all(|n| !names.contains(&n.to_string())),
        "{names:?}"
    );
    assert!(
        pids.iter().all(|p| process_gone(*p)),
        "reviews-0 processes left"
    );
    assert!(!lab.status().contains("shop/reviews-0"));

    lab.kubectl("delete", "lab-apply-service.yaml");
    assert!(!read(&seen).contains("reviews"), "{}", read(&seen));
    assert!(!config.exists());
}

#[test]
fn status_shows_a_failed_pod() {
    let Some(lab) = TestLab::new("t-stat") else {
        return;
    };
    lab.up(1, &["lab-status.yaml"]);
    let mut status = lab.status();
    for _ in 0..100 {
        if status.contains("failed(") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        status = lab.status();
    }
    assert!(
        status_line(&status, "default/broken").ends_with("failed(3)"),
        "{status}"
    );
    assert!(
        status_line(&status, "default/sleeper").ends_with("running"),
        "{status}"
    );
    assert!(status.contains("agents: node-1 ready (pid "), "{status}");
}
