//! Test fixtures shared by the integration tests: throw-away project directories, overlay
//! copies of the cached Debian root filesystem (used as chroot targets), snapshots of a root
//! to prove that nothing changed, and a fluent runner for the `prov` binary; with the `s3`
//! feature, a SeaweedFS S3 server ([`s3`]).
#![allow(dead_code)]

pub mod ansible_json;
pub mod disk;
pub mod pty;
#[cfg(feature = "s3")]
pub mod s3;
pub mod scenario;
pub mod ssh;
pub mod vm;
pub mod worker;

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::Digest;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A directory removed when dropped.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir()
            .join("prov-tests")
            .join(format!("{prefix}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The cached Debian bookworm root (built by tests/fixtures/rootfs.sh on first use).
pub fn base_rootfs() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rootfs.sh");
        let out = Command::new("sh")
            .arg(script)
            .stderr(Stdio::inherit())
            .output()
            .expect("run rootfs.sh");
        assert!(out.status.success(), "building the test rootfs failed");
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// An overlayfs copy of the cached root: writes go to a private upper directory.
pub struct Root {
    pub path: PathBuf,
    tmp: TempDir,
}

impl Root {
    pub fn new() -> Root {
        let lower = base_rootfs();
        let tmp = TempDir::new("root");
        for d in ["upper", "work", "merged"] {
            std::fs::create_dir_all(tmp.path.join(d)).unwrap();
        }
        let merged = tmp.path.join("merged");
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            lower.display(),
            tmp.path.join("upper").display(),
            tmp.path.join("work").display()
        );
        let st = Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(&merged)
            .status()
            .unwrap();
        assert!(
            st.success(),
            "mounting the overlay failed (tests need root)"
        );
        Root { path: merged, tmp }
    }

    /// A copy of the cached root on an ext4 filesystem image (`mkfs.ext4 -d`) mounted at a
    /// directory: the seed's image build, where the root directory is a filesystem root
    /// (inode 2), which looks like a real machine's `/` to a guess.
    pub fn ext4_image() -> Root {
        let tmp = TempDir::new("image");
        let image = tmp.path.join("root.img");
        let merged = tmp.path.join("merged");
        std::fs::create_dir_all(&merged).unwrap();
        std::fs::File::create(&image)
            .unwrap()
            .set_len(2 << 30)
            .unwrap();
        let st = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-d"])
            .arg(base_rootfs())
            .arg(&image)
            .status()
            .unwrap();
        assert!(st.success(), "mkfs.ext4 -d failed");
        let st = Command::new("mount")
            .args(["-o", "loop"])
            .arg(&image)
            .arg(&merged)
            .status()
            .unwrap();
        assert!(st.success(), "mounting the ext4 image failed");
        Root { path: merged, tmp }
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.path.join(rel.trim_start_matches('/'))
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.file(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        std::fs::symlink_metadata(self.file(rel)).is_ok()
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.file(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    pub fn mode(&self, rel: &str) -> u32 {
        std::fs::symlink_metadata(self.file(rel)).unwrap().mode() & 0o7777
    }

    pub fn owner(&self, rel: &str) -> (u32, u32) {
        let m = std::fs::symlink_metadata(self.file(rel)).unwrap();
        (m.uid(), m.gid())
    }

    /// Mount points inside this root visible to the test process (there must be none after
    /// a run).
    pub fn mounts_inside(&self) -> Vec<String> {
        let prefix = format!("{}/", self.path.display());
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|m| m.starts_with(&prefix))
            .collect()
    }

    /// Run a command inside the root with proc and a fresh /run (in a private mount
    /// namespace of its own), e.g. `sshd -T` or `visudo -c`.
    pub fn sh(&self, script: &str) -> Output {
        let r = self.path.display();
        let wrapper = format!(
            "mount -t proc proc {r}/proc && mount -t tmpfs tmpfs {r}/run && mkdir -p {r}/run/sshd && exec chroot {r} /bin/sh -c \"$0\""
        );
        Command::new("unshare")
            .args([
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                &wrapper,
                script,
            ])
            .output()
            .unwrap()
    }

    /// Every path's type, mode, owner, size, sha256 and link target.
    pub fn snapshot(&self) -> Snapshot {
        let mut map = BTreeMap::new();
        walk(&self.path, &self.path, &mut map);
        Snapshot(map)
    }

    /// [`Root::snapshot`] plus every path's modification and change time (nanoseconds): a
    /// byte, a time stamp or a directory entry that changed shows.
    pub fn snapshot_with_times(&self) -> Snapshot {
        let mut snap = self.snapshot();
        for (rel, desc) in snap.0.iter_mut() {
            if let Ok(m) = std::fs::symlink_metadata(self.path.join(rel)) {
                desc.push_str(&format!(
                    " m={}.{:09} c={}.{:09}",
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec()
                ));
            }
        }
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            snap.0.insert(
                ".".into(),
                format!(
                    "m={}.{} c={}.{}",
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec()
                ),
            );
        }
        snap
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let st = Command::new("umount").arg(&self.path).status();
        if !matches!(st, Ok(s) if s.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

#[derive(Debug, PartialEq)]
pub struct Snapshot(pub BTreeMap<String, String>);

impl Snapshot {
    /// Paths whose description differs (added, removed or changed).
    pub fn diff(&self, other: &Snapshot) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            match other.0.get(k) {
                None => out.push(format!("removed {k}")),
                Some(w) if w != v => out.push(format!("changed {k}: {v} -> {w}")),
                _ => {}
            }
        }
        for k in other.0.keys() {
            if !self.0.contains_key(k) {
                out.push(format!("added {k}"));
            }
        }
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(list) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = list.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        // A running host may remove files while the walk goes (its own temporary files).
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let ft = m.file_type();
        let desc = if ft.is_symlink() {
            format!(
                "link {:o} {}:{} -> {}",
                m.mode() & 0o7777,
                m.uid(),
                m.gid(),
                std::fs::read_link(&p).unwrap_or_default().display()
            )
        } else if ft.is_dir() {
            format!("dir {:o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid())
        } else if ft.is_file() {
            let mut h = sha2::Sha256::new();
            let Ok(mut f) = std::fs::File::open(&p) else {
                continue;
            };
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = f.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            format!(
                "file {:o} {}:{} {} {:x}",
                m.mode() & 0o7777,
                m.uid(),
                m.gid(),
                m.len(),
                h.finalize()
            )
        } else {
            format!(
                "special {:o} {}:{} {}",
                m.mode() & 0o7777,
                m.uid(),
                m.gid(),
                m.rdev()
            )
        };
        out.insert(rel.clone(), desc);
        if ft.is_dir() {
            walk(root, &p, out);
        }
    }
}

/// A throw-away project directory (playbooks, roles, inventories).
pub struct Project {
    pub dir: TempDir,
}

impl Project {
    pub fn new() -> Project {
        Project {
            dir: TempDir::new("project"),
        }
    }

    pub fn file(self, rel: &str, content: &str) -> Project {
        let p = self.dir.path.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
        self
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path.join(rel)
    }
}

/// Where the prov runs of the tests keep their controller state (`XDG_STATE_HOME`: the run
/// logs of `prov apply`): a directory of the test build, never the user's `~/.local/state`.
pub fn state_home() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("xdg-state")
}

/// Give a command that runs prov (directly or through a script) the tests' environment: its
/// controller state in [`state_home`], and no run journal (`PROV_NO_JOURNAL`): a local apply
/// as root would otherwise keep one in this machine's `/var/lib/prov/journal`. The journal's
/// own tests remove `PROV_NO_JOURNAL` again (on chroot and SSH test hosts only).
pub fn isolate(cmd: &mut Command) -> &mut Command {
    cmd.env("XDG_STATE_HOME", state_home())
        .env("PROV_NO_JOURNAL", "1")
}

/// A `prov` invocation, built fluently: `Prov::new().args(["apply", "pb.yml"]).cwd(dir).run()`.
pub struct Prov {
    cmd: Command,
    input: Option<Vec<u8>>,
}

impl Prov {
    pub fn new() -> Prov {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_prov"));
        isolate(&mut cmd);
        cmd.env_remove("ANSIBLE_CONFIG")
            .env_remove("ANSIBLE_INVENTORY")
            .env("NO_COLOR", "1");
        cmd.stdin(Stdio::null());
        Prov { cmd, input: None }
    }

    /// `prov apply PLAYBOOK` run from the project directory.
    pub fn apply(project: &Project, playbook: &str) -> Prov {
        Prov::new()
            .cwd(&project.dir.path)
            .arg("apply")
            .arg(playbook)
    }

    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Prov {
        self.cmd.arg(a);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, a: I) -> Prov {
        self.cmd.args(a);
        self
    }

    pub fn cwd(mut self, dir: &Path) -> Prov {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Prov {
        self.cmd.env(k, v);
        self
    }

    pub fn env_remove(mut self, k: &str) -> Prov {
        self.cmd.env_remove(k);
        self
    }

    pub fn chroot(self, root: &Root) -> Prov {
        self.arg("--chroot").arg(&root.path)
    }

    pub fn json(self) -> Prov {
        self.args(["--format", "json"])
    }

    /// Start without waiting (to interrupt it, or to act on a host while it runs).
    pub fn spawn(mut self) -> Spawned {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        Spawned {
            child: self.cmd.spawn().expect("start prov"),
        }
    }

    /// [`Prov::spawn`] in a process group of its own, as a terminal's foreground job is:
    /// [`Spawned::ctrl_c`] then reaches prov and everything it started, as Ctrl-C does.
    pub fn spawn_job(mut self) -> Spawned {
        use std::os::unix::process::CommandExt;
        self.cmd.process_group(0);
        self.spawn()
    }

    /// Start on a pseudo-terminal of its own (prompts, typed answers, ^C).
    pub fn spawn_pty(self) -> pty::Pty {
        pty::spawn(self.cmd)
    }

    /// Feed this on stdin (e.g. a password for -K).
    pub fn stdin(mut self, input: &str) -> Prov {
        self.input = Some(input.as_bytes().to_vec());
        self
    }

    pub fn run(mut self) -> Run {
        let out = match self.input.take() {
            None => self.cmd.output().expect("run prov"),
            Some(input) => {
                self.cmd
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let mut child = self.cmd.spawn().expect("run prov");
                std::io::Write::write_all(&mut child.stdin.take().unwrap(), &input).unwrap();
                child.wait_with_output().expect("run prov")
            }
        };
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A `prov` run in progress.
pub struct Spawned {
    pub child: std::process::Child,
}

impl Spawned {
    pub fn interrupt(&self) {
        self.signal(libc::SIGINT);
    }

    /// SIGINT to the whole process group (see [`Prov::spawn_job`]).
    pub fn ctrl_c(&self) {
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGINT) };
    }

    pub fn signal(&self, signal: i32) {
        unsafe { libc::kill(self.child.id() as i32, signal) };
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }

    pub fn finish(self) -> Run {
        let out = self.child.wait_with_output().expect("wait for prov");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Wait (up to `secs`) until `cond` holds.
#[track_caller]
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// What a prov run printed and returned.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn ok(&self) -> &Run {
        self.code(0)
    }

    #[track_caller]
    pub fn stdout_has(&self, s: &str) -> &Run {
        assert!(
            self.stdout.contains(s),
            "stdout lacks {s:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, s: &str) -> &Run {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}\n--- stderr:\n{}",
            self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }

    /// Per host recap counters from a JSON run.
    pub fn stats(&self, host: &str) -> serde_json::Value {
        self.json()["stats"][host].clone()
    }

    /// Names of tasks that reported `status` on `host`, in order (JSON runs).
    pub fn tasks_with(&self, host: &str, status: &str) -> Vec<String> {
        let doc = self.json();
        let mut out = Vec::new();
        for play in doc["plays"].as_array().unwrap() {
            for t in play["tasks"].as_array().unwrap() {
                if t["hosts"][host]["status"] == status {
                    out.push(t["task"]["name"].as_str().unwrap().to_string());
                }
            }
        }
        out
    }

    /// Names of tasks whose result on `host` satisfies `pred`, with that result (JSON runs).
    pub fn tasks_where(
        &self,
        host: &str,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<(String, serde_json::Value)> {
        let doc = self.json();
        let mut out = Vec::new();
        for play in doc["plays"].as_array().unwrap() {
            for t in play["tasks"].as_array().unwrap() {
                let r = &t["hosts"][host];
                if !r.is_null() && pred(r) {
                    let mut r = r.clone();
                    r.as_object_mut().unwrap().remove("result");
                    out.push((t["task"]["name"].as_str().unwrap().to_string(), r));
                }
            }
        }
        out
    }

    /// The result of the named task on `host` (JSON runs; the last task with that name).
    pub fn task(&self, host: &str, name: &str) -> serde_json::Value {
        let doc = self.json();
        let mut found = serde_json::Value::Null;
        for play in doc["plays"].as_array().unwrap() {
            for t in play["tasks"].as_array().unwrap() {
                if t["task"]["name"] == name {
                    found = t["hosts"][host].clone();
                }
            }
        }
        assert!(
            !found.is_null(),
            "no task {name:?} for {host} in\n{}",
            self.stdout
        );
        found
    }

    /// The `msg` a task reported for a host (its error for a failed or unreachable task).
    #[track_caller]
    pub fn task_msg(&self, host: &str, name: &str) -> String {
        let r = self.task(host, name);
        r["msg"]
            .as_str()
            .unwrap_or_else(|| panic!("no msg in {r}"))
            .to_string()
    }
}

/// The signed apt repositories and keys endpoint (tests/fixtures/aptrepo.sh) served over HTTP
/// on 127.0.0.1 by tests/fixtures/serve.py; stopped when dropped.
pub struct RepoServer {
    pub dir: PathBuf,
    pub port: u16,
    child: std::process::Child,
}

impl RepoServer {
    pub fn start() -> RepoServer {
        static DIR: OnceLock<PathBuf> = OnceLock::new();
        let dir = DIR
            .get_or_init(|| {
                let script =
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aptrepo.sh");
                let out = Command::new("sh")
                    .arg(script)
                    .stderr(Stdio::null())
                    .output()
                    .expect("aptrepo.sh");
                assert!(
                    out.status.success(),
                    "building the test apt repository failed"
                );
                PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
            })
            .clone();
        let serve = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/serve.py");
        let mut child = Command::new("python3")
            .arg(serve)
            .arg(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let port = line.trim().parse().expect("serve.py prints its port");
        RepoServer { dir, port, child }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `-e` for the worker playbook: its apt repositories and keys endpoint are this server.
    pub fn vars(&self) -> String {
        let url = self.url();
        format!(
            "kubernetes_apt_base_url={url} crio_apt_base_url={url} user_management_github_keys_url={url}/boxp.keys"
        )
    }

    /// The private half of the key the keys endpoint serves (boxp's).
    pub fn key(&self) -> PathBuf {
        self.dir.parent().unwrap().join("build/boxp1")
    }

    /// The fingerprint of a repository's signing key (`kubernetes` or `cri-o`).
    pub fn fingerprint(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join("fingerprints").join(name))
            .unwrap()
            .trim()
            .to_string()
    }
}

impl Drop for RepoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository root (where ansible.cfg, playbooks/ and roles/ live).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test fixtures' ansible-playbook (a venv with the pinned `ansible` package, made once by
/// `tests/fixtures/ansible.sh`).
#[allow(dead_code)]
pub fn ansible_playbook() -> PathBuf {
    let out = std::process::Command::new("sh")
        .arg(repo_root().join("tests/fixtures/ansible.sh"))
        .output()
        .expect("running tests/fixtures/ansible.sh");
    assert!(
        out.status.success(),
        "installing ansible: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// The Python of that venv (it imports ansible-core).
#[allow(dead_code)]
pub fn ansible_python() -> PathBuf {
    ansible_playbook().with_file_name("python")
}

/// Where image tests keep the bootstrap cache (`prov image build --cache`), keyed by definition
/// and day by prov itself: ~/.cache/prov-test/image-cache or $PROV_TEST_CACHE/image-cache.
pub fn image_cache_dir() -> PathBuf {
    let base = std::env::var("PROV_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or("/root".into())).join(".cache/prov-test")
        });
    base.join("image-cache")
}
