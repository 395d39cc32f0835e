//! The import as a library, seen by its observer: `run(plan, images, session, observer)` takes
//! the plan and the open images apart, and a session given the observer's sinks
//! (`import::observe`) sends it one line per HTTP request, the CLI's `-v` log, with no
//! secret in it; without the sinks the observer hears no request. Against the fake cloud and
//! the fake OSS, in this process (no process-wide reporter is installed here).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use imgtool::cloud::keys::{Credentials, Secret};
use imgtool::cloud::rpc::RpcSignature;
use imgtool::cloud::session::Session;
use imgtool::import::request::Endpoints;
use imgtool::import::{self, Observer, Opened, Prepared, Request, Status};

use crate::fake_cloud::{self, FakeCloud, Scenario};
use crate::fake_oss::FakeOss;

/// The request lines and the retries heard (from any thread).
#[derive(Default)]
struct Lines {
    requests: Mutex<Vec<String>>,
    retries: Mutex<Vec<String>>,
}

impl Observer for Lines {
    fn request(&self, line: &str) {
        self.requests.lock().unwrap().push(line.to_string());
    }
    fn retry(&self, msg: &str) {
        self.retries.lock().unwrap().push(msg.to_string());
    }
}

impl Lines {
    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

struct Fakes {
    cloud: FakeCloud,
    oss: FakeOss,
    dir: tempfile::TempDir,
}

fn fakes() -> Fakes {
    Fakes {
        cloud: FakeCloud::start(Scenario {
            polls: 1,
            ..Scenario::default()
        }),
        oss: crate::cloud_support::oss_with_bkt("cn-hangzhou"),
        dir: crate::util::tempdir(),
    }
}

/// A blank 300 KiB RAW sent as it is, planned against the fakes (nothing sent yet).
fn prepare(f: &Fakes, obs: &dyn Observer) -> Prepared {
    let image = f.dir.path().join("disk.raw");
    std::fs::write(&image, vec![0x5a; 300 * 1024]).unwrap();
    let req = Request {
        image,
        format: Some(imgtool::plan::ImageFormat::Raw),
        region: Some("cn-hangzhou".into()),
        bucket: Some("bkt".into()),
        endpoints: Endpoints {
            ecs: Some(f.cloud.url.clone()),
            ram: Some(f.cloud.url.clone()),
            oss: Some(f.oss.url.clone()),
            allow_http: true,
            ..Endpoints::default()
        },
        // V1 puts the AccessKeyId, the SecurityToken and the Signature in the query.
        rpc_signature: Some("v1".into()),
        // A blank disk has no OS: the readiness gate would stop it.
        force: true,
        part_size: Some(100 * 1024),
        parallel: Some(1),
        state_dir: Some(f.dir.path().join("state")),
        ..Request::default()
    };
    import::prepare(req, obs).expect("prepare")
}

/// STS credentials: a key id, a secret and a security token, none of which may be logged.
fn session(p: &Prepared) -> Session {
    let creds = Credentials {
        access_key_id: fake_cloud::STS_KEY_ID.into(),
        access_key_secret: Secret::new(fake_cloud::STS_SECRET),
        security_token: Some(Secret::new(fake_cloud::STS_TOKEN)),
        region: None,
        source: "test".into(),
        role: None,
    };
    let mut s = Session::new(creds, &p.plan.endpoints, RpcSignature::V1).expect("session");
    s.timing.poll = Duration::from_millis(10);
    s.timing.retry.base_delay = Duration::from_millis(5);
    s
}

#[test]
fn a_library_observer_hears_one_line_per_request_and_no_secret() {
    let f = fakes();
    let lines = Arc::new(Lines::default());
    let prep = prepare(&f, lines.as_ref());
    let s = import::observe(session(&prep), lines.clone());
    let out = import::run(&prep.plan, &prep.images, &s, lines.as_ref()).expect("run");
    assert_eq!(out.status, Status::Available);

    let heard = lines.requests();
    // One line per request each fake answered, in the `-v` format.
    let rpc: Vec<&String> = heard.iter().filter(|l| !l.contains("(OSS)")).collect();
    let oss = heard.len() - rpc.len();
    assert_eq!(rpc.len(), f.cloud.seen().len(), "{heard:#?}");
    assert_eq!(oss, f.oss.seen().len(), "{heard:#?}");
    let import = format!("POST {}/ (ImportImage) -> HTTP 200 in ", f.cloud.url);
    assert!(heard.iter().any(|l| l.starts_with(&import)), "{heard:#?}");
    assert!(
        heard
            .iter()
            .any(|l| l.starts_with("PUT ") && l.contains("/imgtool/disk.raw (OSS) -> HTTP 200")),
        "{heard:#?}"
    );
    for l in &heard {
        assert!(l.ends_with(" ms"), "{l}");
        for secret in [
            "?",
            "Signature",
            "AccessKeySecret",
            "SecurityToken",
            "security-token",
            "uploadId",
            fake_cloud::STS_KEY_ID,
            fake_cloud::STS_SECRET,
            fake_cloud::STS_TOKEN,
        ] {
            assert!(!l.contains(secret), "{secret:?} in the request line {l:?}");
        }
    }
    // The requests did carry them: V1 signs in the query the line leaves out.
    let sent = f.cloud.calls("ImportImage");
    assert_eq!(
        sent[0].params.get("SecurityToken").map(String::as_str),
        Some(fake_cloud::STS_TOKEN)
    );
    assert!(sent[0].params.contains_key("Signature"));
}

#[test]
fn without_the_request_log_the_observer_hears_no_request() {
    let f = fakes();
    let lines = Arc::new(Lines::default());
    let prep = prepare(&f, lines.as_ref());
    let s = session(&prep).with_notice(import::retry_notice(lines.clone()));
    let out = import::run(&prep.plan, &prep.images, &s, lines.as_ref()).expect("run");
    assert_eq!(out.status, Status::Available);
    assert!(!f.cloud.seen().is_empty());
    assert_eq!(lines.requests(), Vec::<String>::new());
}

/// The plan is a value: a caller may change how to run before running it. Here: not waiting.
#[test]
fn run_takes_a_plan_and_the_opened_images_apart() {
    let f = fakes();
    let lines = Arc::new(Lines::default());
    let prep = prepare(&f, lines.as_ref());
    let mut plan = prep.plan.clone();
    plan.options.no_wait = true;
    let out = import::run(&plan, &prep.images, &session(&prep), lines.as_ref()).expect("run");
    assert_eq!(out.status, Status::Submitted);
    assert_eq!(f.cloud.calls("DescribeTasks").len(), 0);
    let object = f.oss.object("bkt", "imgtool/disk.raw").expect("object");
    assert_eq!(object.data.len(), 300 * 1024);

    // Images that do not match the plan (a data disk it does not know) are refused before
    // anything is sent.
    let before = f.cloud.seen().len();
    let extra = f.dir.path().join("extra.raw");
    std::fs::write(&extra, vec![0; 4096]).unwrap();
    let images = Opened {
        system: imgtool::image::open(f.dir.path().join("disk.raw")).unwrap(),
        data: vec![imgtool::image::open(&extra).unwrap()],
    };
    let e = import::run(&prep.plan, &images, &session(&prep), lines.as_ref())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("0 data disks but 1 were opened"), "{e}");
    assert_eq!(f.cloud.seen().len(), before);
}
