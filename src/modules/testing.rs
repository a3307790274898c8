//! Test fixtures for module unit tests: host states in, plans out.

use std::path::PathBuf;

use sha2::Digest;

use super::{Answer, Args, FileKind, FileState, Module, ModuleEnv, Observed, Plan, Probe, Probes};
use crate::host::CmdOutput;
use crate::vars::Context;

pub fn env() -> ModuleEnv {
    ModuleEnv {
        vars: Context::new(vec![]),
        check_mode: false,
        role_path: None,
        playbook_dir: PathBuf::from("."),
        is_chroot: false,
        chroot_connection: false,
        environment: Vec::new(),
        verbosity: 0,
        http: Default::default(),
        predicted: Default::default(),
    }
}

pub fn missing(path: &str) -> FileState {
    FileState::missing(path)
}

pub fn file(path: &str, mode: u32, content: &str) -> FileState {
    FileState {
        path: path.into(),
        exists: true,
        kind: Some(FileKind::File),
        mode,
        owner: "root".into(),
        group: "root".into(),
        size: content.len() as u64,
        content: Some(content.as_bytes().to_vec()),
        sha256: Some(format!("{:x}", sha2::Sha256::digest(content.as_bytes()))),
        inode: 1,
        ..Default::default()
    }
}

pub fn dir(path: &str, mode: u32) -> FileState {
    FileState {
        path: path.into(),
        exists: true,
        kind: Some(FileKind::Directory),
        mode,
        owner: "root".into(),
        group: "root".into(),
        ..Default::default()
    }
}

pub fn link(path: &str, target: &str) -> FileState {
    FileState {
        path: path.into(),
        exists: true,
        kind: Some(FileKind::Link),
        mode: 0o777,
        owner: "root".into(),
        group: "root".into(),
        is_link: true,
        link_target: Some(target.into()),
        ..Default::default()
    }
}

pub fn cmd(rc: i32, stdout: &str) -> Answer {
    Answer::Command(CmdOutput {
        rc,
        stdout: stdout.into(),
        stderr: String::new(),
    })
}

/// Plan with the given answers; probes beyond them see missing files / empty commands.
pub fn plan_answers_env(m: &dyn Module, args: Args, answers: Vec<Answer>, env: &ModuleEnv) -> Plan {
    let mut planner = m.prepare(args, env).expect("prepare");
    let mut asked = Probes::default();
    planner.ask(&mut asked);
    let probes = asked.into_list();
    let mut all = answers;
    for p in probes.iter().skip(all.len()) {
        all.push(match p {
            Probe::File(f) => Answer::File(FileState::missing(&f.path)),
            Probe::Command(_) | Probe::Query(_) | Probe::Primitive(_) => {
                Answer::Command(CmdOutput::default())
            }
        });
    }
    planner.plan(&Observed { answers: all }).expect("plan")
}

pub fn plan_answers(m: &dyn Module, args: Args, answers: Vec<Answer>) -> Plan {
    plan_answers_env(m, args, answers, &env())
}

pub fn plan_with(m: &dyn Module, args: Args, files: &[FileState]) -> Plan {
    plan_answers(m, args, files.iter().cloned().map(Answer::File).collect())
}

/// A query answered by this machine, its primitives run by the probe script in `sh`.
pub fn answer_here(q: &crate::host::query::Query) -> CmdOutput {
    use crate::transport::script::{parse_probe_output, probe_script};
    let cache = crate::host::resolve::ReadCache::default();
    let probes = [Probe::Query(q.clone())];
    let mut rounds = crate::host::resolve::Rounds::new(&probes, cache.reader("")).unwrap();
    while let Some(wire) = rounds.wire() {
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(probe_script(&wire))
            .output()
            .unwrap();
        rounds
            .feed(parse_probe_output(&wire, &out.stdout).unwrap())
            .unwrap();
    }
    match rounds.finish().unwrap().answers.remove(0) {
        Answer::Command(c) => c,
        a => panic!("{a:?}"),
    }
}

/// The probes a module asks for.
pub fn probes_of(m: &dyn Module, args: Args) -> Vec<Probe> {
    let mut asked = Probes::default();
    m.prepare(args, &env()).expect("prepare").ask(&mut asked);
    asked.into_list()
}

pub fn args(module: &'static str, pairs: &[(&str, minijinja::Value)]) -> Args {
    Args::from_pairs(module, pairs)
}
