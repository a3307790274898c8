//! Where and how to connect: a host's SSH settings, from its inventory variables (named as
//! Ansible names them) and `~/.ssh/config`, with the command line on top.
//!
//! Inventory variables: `ansible_host`, `ansible_port`, `ansible_user`,
//! `ansible_ssh_private_key_file`, `ansible_password`/`ansible_ssh_pass`,
//! `ansible_ssh_common_args`/`ansible_ssh_extra_args` (also `--ssh-common-args` and
//! `--ssh-extra-args`), `ansible_host_key_checking`. The ssh arguments prov honours are `-o`
//! with the options in [`SSH_OPTIONS`], `-J`, `-p`, `-i`, `-l`, `-F`, and the flags that
//! describe what its connections do anyway (`-T -x -a -n -q`); anything else is a usage
//! error naming it, never silently ignored. `~/.ssh/config` fills in what they leave open
//! (Host blocks with patterns; HostName, User, Port, IdentityFile, ProxyCommand with %h %p %r,
//! ProxyJump, StrictHostKeyChecking, UserKnownHostsFile, ConnectTimeout, ServerAlive*,
//! IdentitiesOnly, Pubkey/PasswordAuthentication), first value wins as in OpenSSH.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::known_hosts::wildcard_match;
use crate::error::{Error, Result};
use crate::shlex::glob_match;

/// How strictly host keys are verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HostKeyMode {
    /// Only hosts already in known_hosts.
    Strict,
    /// Unknown hosts are recorded and accepted; changed keys are refused.
    AcceptNew,
    /// No verification (an explicit opt-out).
    Off,
}

impl HostKeyMode {
    /// From OpenSSH's StrictHostKeyChecking values.
    pub fn from_openssh(v: &str) -> Option<HostKeyMode> {
        match v.to_lowercase().as_str() {
            "yes" | "ask" | "strict" | "true" => Some(HostKeyMode::Strict),
            "accept-new" | "no" => Some(HostKeyMode::AcceptNew),
            "off" | "false" => Some(HostKeyMode::Off),
            _ => None,
        }
    }
}

/// Everything needed to reach one host.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Target {
    /// The inventory name (for messages).
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identity_files: Vec<PathBuf>,
    /// Explicit identities were given (inventory, command line or ssh config).
    pub explicit_identities: bool,
    pub proxy_command: Option<String>,
    /// `user@host:port,...` hops to go through.
    pub proxy_jump: Option<String>,
    pub host_key: HostKeyMode,
    /// The name the host key is looked up under instead of `host` (OpenSSH's HostKeyAlias):
    /// a lockout-safe confirm at a host's new address checks the key known for the old one.
    pub host_key_alias: Option<String>,
    pub known_hosts: Vec<PathBuf>,
    pub password: Option<String>,
    pub connect_timeout: Duration,
    /// ServerAliveInterval: keepalives this often (None: off); the connection is given up
    /// after `keepalive_max` unanswered ones (ServerAliveCountMax).
    pub keepalive_interval: Option<Duration>,
    pub keepalive_max: usize,
    /// IdentitiesOnly: only the explicit identity files, not the agent's or default keys.
    pub identities_only: bool,
    /// PubkeyAuthentication (keys, certificates, agent) and PasswordAuthentication.
    pub pubkey_auth: bool,
    pub password_auth: bool,
}

/// Settings given by the inventory and command line (unset fields fall back to ssh config).
#[derive(Clone, Debug, Default)]
pub struct Given {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub identity_files: Vec<PathBuf>,
    pub ssh_args: String,
    pub password: Option<String>,
    pub host_key: Option<HostKeyMode>,
    pub connect_timeout: Option<Duration>,
}

pub fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

fn expand_tilde(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home().join(rest),
        None => PathBuf::from(p),
    }
}

/// Options parsed from ssh command-line arguments.
#[derive(Debug, Default, PartialEq)]
struct ArgOptions {
    options: Vec<(String, String)>,
    jump: Option<String>,
    port: Option<u16>,
    identity: Vec<PathBuf>,
    user: Option<String>,
    config: Option<PathBuf>,
}

/// The `-o` options prov's SSH connections honour (lower-case, as OpenSSH matches them).
/// `ControlMaster`, `ControlPersist` and `ControlPath` ask for one connection reused by every
/// task, which is what prov always does, so they are accepted as they are.
pub const SSH_OPTIONS: &[&str] = &[
    "hostname",
    "port",
    "user",
    "identityfile",
    "identitiesonly",
    "pubkeyauthentication",
    "passwordauthentication",
    "proxycommand",
    "proxyjump",
    "stricthostkeychecking",
    "hostkeyalias",
    "userknownhostsfile",
    "globalknownhostsfile",
    "connecttimeout",
    "serveraliveinterval",
    "serveralivecountmax",
    "controlmaster",
    "controlpersist",
    "controlpath",
];

/// ssh flags without a value that describe what prov's connections do anyway: no terminal
/// (`-T`), no X11 or agent forwarding (`-x`, `-a`), no local stdin (`-n`), no ssh
/// diagnostics (`-q`).
const SSH_NOOP_FLAGS: &[&str] = &["-T", "-x", "-a", "-n", "-q"];

/// Parse ssh command-line arguments (`ansible_ssh_common_args`, `--ssh-extra-args`...).
/// Whatever prov's connections cannot honour is an error naming it, never ignored.
fn parse_ssh_args(args: &str) -> Result<ArgOptions> {
    let words = crate::shlex::split(args)
        .map_err(|e| Error::usage(format!("bad ssh arguments '{args}': {e}")))?;
    let mut out = ArgOptions::default();
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        let mut value = |flag: &str, w: &str| -> Result<String> {
            match w.strip_prefix(flag).filter(|v| !v.is_empty()) {
                Some(v) => Ok(v.to_string()),
                None => it
                    .next()
                    .ok_or_else(|| Error::usage(format!("ssh argument {flag} needs a value"))),
            }
        };
        if w.starts_with("-o") {
            let opt = value("-o", &w)?;
            let (k, v) = opt
                .split_once('=')
                .or_else(|| opt.split_once(char::is_whitespace))
                .ok_or_else(|| Error::usage(format!("bad ssh option '-o {opt}'")))?;
            let key = k.trim().to_lowercase();
            if !SSH_OPTIONS.contains(&key.as_str()) {
                return Err(Error::usage(format!(
                    "ssh option '-o {opt}' is not supported: prov's SSH connections cannot honour {}; they honour HostName, Port, User, IdentityFile, IdentitiesOnly, PubkeyAuthentication, PasswordAuthentication, ProxyCommand, ProxyJump, StrictHostKeyChecking, UserKnownHostsFile, GlobalKnownHostsFile, ConnectTimeout, ServerAliveInterval, ServerAliveCountMax (and ControlMaster/ControlPersist/ControlPath: one connection per host is what prov always keeps)",
                    k.trim()
                )));
            }
            out.options.push((key, v.trim().to_string()));
        } else if w.starts_with("-J") {
            out.jump = Some(value("-J", &w)?);
        } else if w.starts_with("-p") {
            let p = value("-p", &w)?;
            out.port = Some(
                p.parse()
                    .map_err(|_| Error::usage(format!("bad ssh port '{p}'")))?,
            );
        } else if w.starts_with("-i") {
            out.identity.push(expand_tilde(&value("-i", &w)?));
        } else if w.starts_with("-l") {
            out.user = Some(value("-l", &w)?);
        } else if w.starts_with("-F") {
            out.config = Some(expand_tilde(&value("-F", &w)?));
        } else if SSH_NOOP_FLAGS.contains(&w.as_str()) {
            // What prov's connections do anyway.
        } else {
            return Err(Error::usage(format!(
                "ssh argument '{w}' is not supported: prov's SSH connections honour -o OPTION, -J, -p, -i, -l, -F (and -T, -x, -a, -n, -q, which they do anyway)"
            )));
        }
    }
    Ok(out)
}

/// The options whose value is a number of seconds or a count.
const NUMBER_OPTIONS: &[&str] = &[
    "connecttimeout",
    "serveraliveinterval",
    "serveralivecountmax",
];
/// The options whose value is yes or no.
const YES_NO_OPTIONS: &[&str] = &[
    "identitiesonly",
    "pubkeyauthentication",
    "passwordauthentication",
];

/// A number option's value (`key` lower-case, as in [`SSH_OPTIONS`]).
fn number_option(key: &str, value: Option<String>) -> Result<Option<u64>> {
    value
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| Error::usage(format!("bad ssh option {key} '{v}': not a number")))
        })
        .transpose()
}

/// A yes/no option's value.
fn yes_no_option(key: &str, value: Option<String>) -> Result<Option<bool>> {
    match value.map(|v| v.to_lowercase()).as_deref() {
        None => Ok(None),
        Some("yes" | "true") => Ok(Some(true)),
        Some("no" | "false") => Ok(Some(false)),
        Some(v) => Err(Error::usage(format!(
            "bad ssh option {key} '{v}': yes or no"
        ))),
    }
}

/// Check ssh arguments before anything runs (`--ssh-common-args`, `--ssh-extra-args`): every
/// argument is one prov honours, with a value it understands.
pub fn check_ssh_args(args: &str) -> Result<()> {
    for (key, value) in parse_ssh_args(args)?.options {
        if NUMBER_OPTIONS.contains(&key.as_str()) {
            number_option(&key, Some(value))?;
        } else if YES_NO_OPTIONS.contains(&key.as_str()) {
            yes_no_option(&key, Some(value))?;
        } else if key == "stricthostkeychecking" && HostKeyMode::from_openssh(&value).is_none() {
            return Err(Error::usage(format!(
                "bad ssh option StrictHostKeyChecking '{value}'"
            )));
        }
    }
    Ok(())
}

/// The values ssh config gives for a host name (first value wins; list keys accumulate).
#[derive(Debug, Default, PartialEq)]
pub struct ConfigValues {
    pub values: Vec<(String, String)>,
}

impl ConfigValues {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

fn host_block_matches(patterns: &str, name: &str) -> bool {
    let mut hit = false;
    for p in patterns.split_whitespace() {
        if let Some(neg) = p.strip_prefix('!') {
            if wildcard_match(neg, name) {
                return false;
            }
        } else if wildcard_match(p, name) {
            hit = true;
        }
    }
    hit
}

/// Read `~/.ssh/config`-style text for `name`.
pub fn read_config(text: &str, name: &str, base: &Path, out: &mut ConfigValues, depth: usize) {
    let mut active = true;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once(|c: char| c.is_whitespace() || c == '=') {
            Some((k, v)) => (
                k.to_lowercase(),
                v.trim()
                    .trim_start_matches('=')
                    .trim()
                    .trim_matches('"')
                    .to_string(),
            ),
            None => continue,
        };
        match key.as_str() {
            "host" => active = host_block_matches(&value, name),
            "match" => active = value.trim() == "all",
            "include" if active && depth < 8 => {
                for pat in value.split_whitespace() {
                    let p = expand_tilde(pat);
                    let p = if p.is_absolute() { p } else { base.join(p) };
                    let (dir, file) = (
                        p.parent().map(Path::to_path_buf).unwrap_or_default(),
                        p.file_name()
                            .and_then(|f| f.to_str())
                            .unwrap_or("")
                            .to_string(),
                    );
                    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                        .into_iter()
                        .flatten()
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|f| {
                            f.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| glob_match(&file, n))
                        })
                        .collect();
                    files.sort();
                    for f in files {
                        if let Ok(t) = std::fs::read_to_string(&f) {
                            read_config(&t, name, base, out, depth + 1);
                        }
                    }
                }
            }
            _ if active => {
                let multi = matches!(
                    key.as_str(),
                    "identityfile" | "userknownhostsfile" | "certificatefile"
                );
                if multi || out.get(&key).is_none() {
                    if key == "userknownhostsfile" {
                        for f in value.split_whitespace() {
                            out.values.push((key.clone(), f.to_string()));
                        }
                    } else {
                        out.values.push((key, value));
                    }
                }
            }
            _ => {}
        }
    }
}

fn tokens(s: &str, host: &str, port: u16, user: &str, name: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(host),
            Some('p') => out.push_str(&port.to_string()),
            Some('r') => out.push_str(user),
            Some('n') => out.push_str(name),
            Some('d') => out.push_str(&home().display().to_string()),
            Some('u') => out.push_str(&std::env::var("USER").unwrap_or_else(|_| "root".into())),
            Some('%') => out.push('%'),
            Some(o) => {
                out.push('%');
                out.push(o);
            }
            None => out.push('%'),
        }
    }
    out
}

/// Resolve the settings of host `name` (its inventory name).
pub fn resolve(
    name: &str,
    given: &Given,
    default_mode: HostKeyMode,
    cli_mode: Option<HostKeyMode>,
) -> Result<Target> {
    let args = parse_ssh_args(&given.ssh_args)?;
    let opt = |k: &str| {
        args.options
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let alias = given.host.clone().unwrap_or_else(|| name.to_string());
    let mut cfg = ConfigValues::default();
    let config_file = args
        .config
        .clone()
        .unwrap_or_else(|| home().join(".ssh/config"));
    if let Ok(text) = std::fs::read_to_string(&config_file) {
        read_config(&text, &alias, &home().join(".ssh"), &mut cfg, 0);
    }
    let host = opt("hostname")
        .or_else(|| cfg.get("hostname").map(str::to_string))
        .unwrap_or_else(|| alias.clone());
    let host = tokens(&host, &alias, 22, "", name);
    let port = match (given.port, args.port, opt("port"), cfg.get("port")) {
        (Some(p), _, _, _) | (None, Some(p), _, _) => p,
        (None, None, Some(p), _) => p
            .parse()
            .map_err(|_| Error::usage(format!("bad ssh port '{p}'")))?,
        (None, None, None, Some(p)) => p
            .parse()
            .map_err(|_| Error::usage(format!("bad Port '{p}' in ssh config")))?,
        _ => 22,
    };
    let user = given
        .user
        .clone()
        .or(args.user.clone())
        .or(opt("user"))
        .or(cfg.get("user").map(str::to_string))
        .unwrap_or_else(|| std::env::var("USER").unwrap_or_else(|_| "root".into()));
    let mut identity_files: Vec<PathBuf> = given.identity_files.clone();
    identity_files.extend(args.identity.iter().cloned());
    if let Some(i) = opt("identityfile") {
        identity_files.push(expand_tilde(&i));
    }
    for i in cfg.all("identityfile") {
        identity_files.push(expand_tilde(&tokens(i, &host, port, &user, name)));
    }
    let explicit_identities = !identity_files.is_empty();
    let none = |v: Option<String>| v.filter(|v| !v.eq_ignore_ascii_case("none"));
    let proxy_command =
        none(opt("proxycommand").or_else(|| cfg.get("proxycommand").map(str::to_string)))
            .map(|c| tokens(&c, &host, port, &user, name));
    let proxy_jump = none(
        args.jump
            .clone()
            .or(opt("proxyjump"))
            .or_else(|| cfg.get("proxyjump").map(str::to_string)),
    );
    let host_key = match (
        cli_mode,
        given.host_key,
        opt("stricthostkeychecking"),
        cfg.get("stricthostkeychecking"),
    ) {
        (Some(m), _, _, _) => m,
        (None, Some(m), _, _) => m,
        (None, None, Some(v), _) => HostKeyMode::from_openssh(&v)
            .ok_or_else(|| Error::usage(format!("bad StrictHostKeyChecking '{v}'")))?,
        (None, None, None, Some(v)) => HostKeyMode::from_openssh(v).unwrap_or(default_mode),
        _ => default_mode,
    };
    let mut known_hosts: Vec<PathBuf> = match opt("userknownhostsfile") {
        Some(v) => v.split_whitespace().map(expand_tilde).collect(),
        None => cfg
            .all("userknownhostsfile")
            .into_iter()
            .map(expand_tilde)
            .collect(),
    };
    if known_hosts.is_empty() {
        known_hosts = vec![
            home().join(".ssh/known_hosts"),
            home().join(".ssh/known_hosts2"),
        ];
    }
    known_hosts.retain(|p| p != Path::new("/dev/null"));
    if let Some(g) = opt("globalknownhostsfile") {
        known_hosts.extend(g.split_whitespace().map(expand_tilde));
    } else {
        known_hosts.push(PathBuf::from("/etc/ssh/ssh_known_hosts"));
    }
    // Options the arguments give, else ssh config.
    let setting = |k: &str| opt(k).or_else(|| cfg.get(k).map(str::to_string));
    let number = |k: &str| number_option(k, setting(k));
    let yes_no =
        |k: &str, default: bool| Ok::<_, Error>(yes_no_option(k, setting(k))?.unwrap_or(default));
    let connect_timeout = match (given.connect_timeout, number("connecttimeout")?) {
        (Some(t), _) => t,
        (None, Some(s)) => Duration::from_secs(s),
        (None, None) => Duration::from_secs(10),
    };
    let keepalive_interval = match number("serveraliveinterval")? {
        Some(0) => None,
        Some(s) => Some(Duration::from_secs(s)),
        None => Some(Duration::from_secs(15)),
    };
    let keepalive_max = number("serveralivecountmax")?.unwrap_or(3) as usize;
    Ok(Target {
        name: name.to_string(),
        host,
        port,
        user,
        identity_files,
        explicit_identities,
        proxy_command,
        proxy_jump,
        host_key,
        host_key_alias: none(
            opt("hostkeyalias").or_else(|| cfg.get("hostkeyalias").map(str::to_string)),
        ),
        known_hosts,
        password: given.password.clone(),
        connect_timeout,
        keepalive_interval,
        keepalive_max,
        identities_only: yes_no("identitiesonly", false)?,
        pubkey_auth: yes_no("pubkeyauthentication", true)?,
        password_auth: yes_no("passwordauthentication", true)?,
    })
}

/// One hop of a ProxyJump list: `[user@]host[:port]`.
pub fn parse_jump(hop: &str) -> (Option<String>, String, Option<u16>) {
    let (user, rest) = match hop.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, hop),
    };
    if let Some(inner) = rest.strip_prefix('[')
        && let Some((h, p)) = inner.split_once("]:")
    {
        return (user, h.to_string(), p.parse().ok());
    }
    match rest.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => {
            (user, h.to_string(), p.parse().ok())
        }
        _ => (user, rest.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_proxy_command_args() {
        let given = Given {
            host: Some("192.168.10.102".into()),
            user: Some("boxp".into()),
            ssh_args: r#"-o ProxyCommand="cloudflared access ssh --hostname %h""#.into(),
            ..Default::default()
        };
        let t = resolve("shanghai-1", &given, HostKeyMode::Strict, None).unwrap();
        assert_eq!(t.host, "192.168.10.102");
        assert_eq!(t.port, 22);
        assert_eq!(t.user, "boxp");
        assert_eq!(
            t.proxy_command.as_deref(),
            Some("cloudflared access ssh --hostname 192.168.10.102")
        );
    }

    #[test]
    fn args_jump_and_host_keys() {
        let given = Given {
            host: Some("10.0.0.5".into()),
            ssh_args: "-J admin@bastion:2200 -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=/tmp/kh -p 2222".into(),
            ..Default::default()
        };
        let t = resolve("n1", &given, HostKeyMode::Strict, None).unwrap();
        assert_eq!(t.proxy_jump.as_deref(), Some("admin@bastion:2200"));
        assert_eq!(t.host_key, HostKeyMode::AcceptNew);
        assert_eq!(t.port, 2222);
        assert_eq!(t.known_hosts[0], PathBuf::from("/tmp/kh"));
        let t = resolve("n1", &given, HostKeyMode::Strict, Some(HostKeyMode::Off)).unwrap();
        assert_eq!(t.host_key, HostKeyMode::Off, "the command line wins");
        assert!(
            resolve(
                "n1",
                &Given {
                    ssh_args: "-R 80:x:80".into(),
                    ..Default::default()
                },
                HostKeyMode::Strict,
                None
            )
            .is_err()
        );
        assert_eq!(
            parse_jump("admin@bastion:2200"),
            (Some("admin".into()), "bastion".into(), Some(2200))
        );
        assert_eq!(parse_jump("[::1]:22"), (None, "::1".into(), Some(22)));
    }

    /// What each ssh argument prov accepts does to the connection, and that everything else
    /// is refused by name.
    #[test]
    fn ssh_argument_table() {
        let with = |args: &str| {
            resolve(
                "n1",
                &Given {
                    host: Some("10.0.0.5".into()),
                    ssh_args: args.into(),
                    ..Default::default()
                },
                HostKeyMode::Strict,
                None,
            )
        };
        let plain = with("").unwrap();
        assert_eq!(plain.keepalive_interval, Some(Duration::from_secs(15)));
        assert_eq!(plain.keepalive_max, 3);
        assert!(plain.pubkey_auth && plain.password_auth && !plain.identities_only);
        assert_eq!(plain.connect_timeout, Duration::from_secs(10));
        assert_eq!(plain.host_key_alias, None);
        let aliased = with("-o HostKeyAlias=node-a").unwrap();
        assert_eq!(aliased.host_key_alias.as_deref(), Some("node-a"));
        assert_eq!(aliased.host, "10.0.0.5");
        let t = with("-o Port=2200 -o User=ops -o IdentityFile=/k/id -o IdentitiesOnly=yes -o ConnectTimeout=3 -o ServerAliveInterval=30 -o ServerAliveCountMax=5 -o PasswordAuthentication=no -o StrictHostKeyChecking=no -o UserKnownHostsFile=/tmp/kh -o ControlMaster=auto -o ControlPersist=60s -o ControlPath=/tmp/cp -T -x -a -n -q").unwrap();
        assert_eq!((t.port, t.user.as_str()), (2200, "ops"));
        assert_eq!(t.identity_files, [PathBuf::from("/k/id")]);
        assert!(t.identities_only && !t.password_auth && t.pubkey_auth);
        assert_eq!(t.connect_timeout, Duration::from_secs(3));
        assert_eq!(t.keepalive_interval, Some(Duration::from_secs(30)));
        assert_eq!(t.keepalive_max, 5);
        assert_eq!(t.host_key, HostKeyMode::AcceptNew);
        assert_eq!(t.known_hosts[0], PathBuf::from("/tmp/kh"));
        let t = with("-oStrictHostKeyChecking=yes -o ServerAliveInterval=0 -o PubkeyAuthentication=no -p 2222 -l admin -i /k/other").unwrap();
        assert_eq!(t.host_key, HostKeyMode::Strict);
        assert_eq!(t.keepalive_interval, None, "0 turns keepalives off");
        assert!(!t.pubkey_auth);
        assert_eq!((t.port, t.user.as_str()), (2222, "admin"));
        assert_eq!(t.identity_files, [PathBuf::from("/k/other")]);
        for (bad, named) in [
            ("-o ForwardAgent=yes", "ForwardAgent"),
            ("-o LocalForward=8080:localhost:80", "LocalForward"),
            ("-o Ciphers=aes128-ctr", "Ciphers"),
            ("-A", "'-A'"),
            ("-C", "'-C'"),
            ("-L 80:x:80", "'-L'"),
            ("-o ConnectTimeout=soon", "connecttimeout"),
            ("-o IdentitiesOnly=maybe", "identitiesonly"),
        ] {
            let e = with(bad).unwrap_err();
            assert_eq!(e.kind, crate::error::ErrorKind::Usage, "{bad}");
            assert!(e.message.contains(named), "{bad}: {}", e.message);
            assert!(check_ssh_args(bad).is_err(), "{bad}");
        }
        assert!(check_ssh_args("-o ProxyJump=bastion -J a@b -F /dev/null").is_ok());
    }

    #[test]
    fn ssh_config_blocks_first_value_wins() {
        let text = "Host golyat-*\n  User boxp\n  Port 2022\n  IdentityFile ~/.ssh/cluster\nHost golyat-1\n  HostName 192.168.10.101\n  User other\nHost *\n  User fallback\n  ProxyCommand nc %h %p\n  StrictHostKeyChecking accept-new\n";
        let mut cfg = ConfigValues::default();
        read_config(text, "golyat-1", Path::new("/nonexistent"), &mut cfg, 0);
        assert_eq!(cfg.get("user"), Some("boxp"));
        assert_eq!(cfg.get("port"), Some("2022"));
        assert_eq!(cfg.get("hostname"), Some("192.168.10.101"));
        assert_eq!(cfg.get("proxycommand"), Some("nc %h %p"));
        assert_eq!(
            tokens("nc %h %p %r %%", "h", 2022, "boxp", "n"),
            "nc h 2022 boxp %"
        );
    }
}
