//! The import as a library (`imgtool::import::prepare` + `run`) against the fake cloud and the
//! fake OSS, in this process: the observer hears every step in order, retries included, and
//! what goes up is the file that was opened, even when the path is replaced meanwhile.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use imgtool::cloud::ecs::{ImageState, Imported, TaskState};
use imgtool::cloud::keys::{Credentials, Secret};
use imgtool::cloud::rpc::RpcSignature;
use imgtool::cloud::session::Session;
use imgtool::import::request::Endpoints;
use imgtool::import::{self, Observer, Request, Status};

use crate::cloud_support::bucket_bkt;
use crate::fake_cloud::{self, FakeCloud, Scenario};
use crate::fake_oss::{FakeOss, OssScenario};
use crate::util::noise;

/// Every event, as a short word, in the order heard (from any thread).
#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl Recorder {
    fn push(&self, e: String) {
        self.0.lock().unwrap().push(e);
    }
    fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl Observer for Recorder {
    fn step(&self, name: &'static str, _what: &str) {
        self.push(format!("step {name}"));
    }
    fn step_done(&self, name: &'static str, _elapsed: Duration) {
        self.push(format!("done {name}"));
    }
    fn retry(&self, msg: &str) {
        self.push(format!("retry {msg}"));
    }
    fn upload_started(&self, object: &str, bytes: u64) {
        self.push(format!("upload {object} {bytes}"));
    }
    fn upload_progress(&self, bytes: u64) {
        self.push(format!("progress {bytes}"));
    }
    fn upload_finished(&self) {
        self.push("uploaded".into());
    }
    fn imported(&self, i: &Imported) {
        self.push(format!("imported {}", i.image_id));
    }
    fn task(&self, _task: &TaskState, image: &ImageState) {
        self.push(format!("task {}", image.status));
    }
    fn task_finished(&self) {
        self.push("followed".into());
    }
}

fn position(events: &[String], from: usize, prefix: &str) -> usize {
    events[from..]
        .iter()
        .position(|e| e.starts_with(prefix))
        .map(|i| i + from)
        .unwrap_or_else(|| panic!("no {prefix:?} after event {from}: {events:#?}"))
}

#[test]
fn the_pipeline_tells_its_observer_each_step_in_order_and_uploads_the_file_it_opened() {
    let cloud = FakeCloud::start(Scenario {
        polls: 2,
        ..Scenario::default()
    });
    let oss = FakeOss::start(OssScenario {
        // Part 2's first attempt gets a 503: the retry must reach the observer.
        fail_parts: vec![2],
        ..bucket_bkt("cn-hangzhou")
    });
    let dir = crate::util::tempdir();
    let image = dir.path().join("disk.raw");
    let data = noise(350 * 1024, 7);
    std::fs::write(&image, &data).unwrap();
    let req = Request {
        image: image.clone(),
        // The file as it is, so its own bytes go up (not the disk read through a reader).
        format: Some(imgtool::plan::ImageFormat::Raw),
        region: Some("cn-hangzhou".into()),
        bucket: Some("bkt".into()),
        endpoints: Endpoints {
            ecs: Some(cloud.url.clone()),
            ram: Some(cloud.url.clone()),
            oss: Some(oss.url.clone()),
            allow_http: true,
            ..Endpoints::default()
        },
        rpc_signature: Some("v3".into()),
        // A blank disk has no OS: the readiness gate would stop it.
        force: true,
        part_size: Some(100 * 1024),
        parallel: Some(1),
        state_dir: Some(dir.path().join("state")),
        ..Request::default()
    };
    let rec = Arc::new(Recorder::default());
    let prep = import::prepare(req, rec.as_ref()).expect("prepare");
    assert_eq!(prep.plan.import_image.oss_object, "imgtool/disk.raw");

    // The path now names another file: the upload must still send the file prepare opened
    // (whose identity the resume record carries), not whatever the path names now.
    let other = dir.path().join("other.raw");
    std::fs::write(&other, noise(200 * 1024, 9)).unwrap();
    std::fs::rename(&other, &image).unwrap();

    let creds = Credentials {
        access_key_id: fake_cloud::KEY_ID.into(),
        access_key_secret: Secret::new(fake_cloud::SECRET),
        security_token: None,
        region: None,
        source: "test".into(),
        role: None,
    };
    let mut session = Session::new(creds, &prep.plan.endpoints, RpcSignature::V3).expect("session");
    session.timing.poll = Duration::from_millis(10);
    session.timing.retry.base_delay = Duration::from_millis(5);
    let session = session.with_notice(import::retry_notice(rec.clone()));
    let out = import::run(&prep.plan, &prep.images, &session, rec.as_ref()).expect("run");

    assert_eq!(out.status, Status::Available);
    let up = out.uploaded.as_ref().expect("uploaded");
    assert_eq!(up.outcome.parts, 4);
    let object = oss.object("bkt", "imgtool/disk.raw").expect("object");
    assert!(
        object.data == data,
        "the object must be the file opened ({} bytes), not the one at the path now ({} bytes)",
        data.len(),
        object.data.len()
    );

    let ev = rec.events();
    let plan = position(&ev, 0, "step plan");
    let role = position(&ev, plan, "step role");
    let bucket = position(&ev, role, "step bucket");
    let upload = position(&ev, bucket, "step upload");
    let started = position(
        &ev,
        upload,
        &format!("upload imgtool/disk.raw {}", data.len()),
    );
    let retry = position(&ev, started, "retry ");
    let finished = position(&ev, started, "uploaded");
    assert!(
        retry < finished,
        "the part's retry during the upload: {ev:#?}"
    );
    assert!(ev[retry].contains("attempt 2 of"), "{}", ev[retry]);
    let progress: u64 = ev[started..finished]
        .iter()
        .filter_map(|e| e.strip_prefix("progress "))
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(progress, data.len() as u64, "{ev:#?}");
    let import = position(&ev, finished, "step import");
    let imported = position(&ev, import, "imported m-");
    let follow = position(&ev, imported, "step follow");
    let available = position(&ev, follow, "task Available");
    position(&ev, available, "followed");
    for step in [
        "done inspect",
        "done plan",
        "done role",
        "done upload",
        "done follow",
    ] {
        position(&ev, 0, step);
    }
    let names: Vec<&str> = out.steps.0.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "role",
            "bucket",
            "upload",
            "upload_data_disks",
            "import",
            "follow"
        ]
    );
}

/// The resume identity (size, mtime, ...) is read from the open file (fstat), not from the
/// path: a file put at the path after opening cannot lend its identity to the bytes sent.
#[test]
fn the_identity_comes_from_the_open_file_not_the_path() {
    let dir = crate::util::tempdir();
    let path = dir.path().join("disk.raw");
    std::fs::write(&path, noise(300 * 1024, 3)).unwrap();
    let img = imgtool::image::open(&path).unwrap();
    let other = dir.path().join("other.raw");
    std::fs::write(&other, noise(200 * 1024, 4)).unwrap();
    std::fs::rename(&other, &path).unwrap();
    let facts =
        import::facts::image_facts(&path, &img, Some(imgtool::plan::ImageFormat::Raw)).unwrap();
    assert!(
        facts.identity.starts_with(&format!("size={};", 300 * 1024)),
        "{}",
        facts.identity
    );
    assert_eq!(facts.sending.file_size, 300 * 1024);
}
