//! `imgtool task wait|status|cancel` against the fake cloud.

use crate::cloud_support::{endpoint_args, run, setup};
use crate::fake_cloud::{FakeCloud, Scenario};
use crate::util::{stderr, stdout};

fn task_args(fake: &FakeCloud, action: &str, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "task".into(),
        action.into(),
        "t-fake0001".into(),
        "--region".into(),
        "cn-hangzhou".into(),
    ];
    a.extend(endpoint_args(fake));
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn task_wait_status_and_cancel() {
    let fake = FakeCloud::start(Scenario {
        polls: 3,
        ..Scenario::default()
    });
    let s = setup();
    let o = run(s.cmd(), &s.import_args(&fake), &["--no-wait"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = run(s.cmd(), &task_args(&fake, "status", &["--json"]), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["schema"], "imgtool.task/1");
    assert_eq!(v["task_status"], "Processing");

    let o = run(
        s.cmd(),
        &task_args(&fake, "wait", &["--image-id", "m-fake0001"]),
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("Available"), "{}", stdout(&o));

    let o = run(s.cmd(), &task_args(&fake, "cancel", &["--json"]), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["outcome"], "cancelled");
    assert_eq!(
        v["task_status"], "Deleted",
        "the state the fake gives after CancelTask"
    );
    let cancels = fake.calls("CancelTask");
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].params["TaskId"], "t-fake0001");
}

#[test]
fn task_wait_on_cancelled_task_fails() {
    let fake = FakeCloud::start(Scenario {
        polls: 100,
        ..Scenario::default()
    });
    let s = setup();
    assert_eq!(
        run(s.cmd(), &s.import_args(&fake), &["--no-wait"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(s.cmd(), &task_args(&fake, "cancel", &[]), &[])
            .status
            .code(),
        Some(0)
    );
    let o = run(s.cmd(), &task_args(&fake, "wait", &[]), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

#[test]
fn task_status_of_unknown_task_fails() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let o = run(s.cmd(), &task_args(&fake, "status", &[]), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("t-fake0001"));
}

#[test]
fn task_wait_on_unknown_task_gives_up() {
    let fake = FakeCloud::start(Scenario::default());
    let s = setup();
    let o = run(s.cmd(), &task_args(&fake, "wait", &[]), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("not listed"), "{}", stderr(&o));
}
