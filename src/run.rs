//! The commands: from parsed command-line arguments to a finished run and its exit code.
//!
//! Configuration is resolved in two stages (as ripgrep does): clap's raw flags, then
//! [`RunOptions`] with ansible.cfg and environment variables applied. `apply`/`check` load the
//! inventory and playbook (any parse error is exit 5), handle the listing modes
//! (`--syntax-check`, `--list-hosts`, `--list-tasks`, `--list-tags`), then run the engine.
//! `drift` is the `check` run with its JSON document captured and turned into a drift report
//! ([`crate::drift`]).

use std::path::PathBuf;
use std::sync::Arc;

use crate::cli::{ApplyArgs, Cli, Command, InventoryArgs, VaultArgs};
use crate::config::Config;
use crate::engine::{Cancel, Engine, RunOptions};
use crate::error::{Error, ErrorKind, Result};
use crate::inventory::Inventory;
use crate::playbook::{Action, Playbook, Task};
use crate::report::{Format, Reporter};
use crate::vars::VarMap;
use crate::vault::{DEFAULT_LABEL, Secret};

/// Parse `-e` values: `k=v k2=v2`, `@file`, or a JSON/YAML mapping.
pub fn parse_extra_vars(items: &[String]) -> Result<VarMap> {
    let mut out = VarMap::new();
    for item in items {
        let item = item.trim();
        if let Some(file) = item.strip_prefix('@') {
            // Missing or not decryptable: exit 1, does not parse: 4, as ansible-playbook.
            out.extend(crate::vars::load_var_file(std::path::Path::new(file))?);
        } else if item.starts_with('{') || item.starts_with('[') {
            let node = crate::yaml::parse_str(item, "--extra-vars")
                .map_err(|e| Error::usage(format!("bad --extra-vars: {}", e.message)))?;
            let map = node
                .as_map()
                .ok_or_else(|| Error::usage("--extra-vars must be a mapping"))?;
            for (k, v) in map {
                out.insert(k.key_string()?, v.to_value());
            }
        } else if !item.is_empty() {
            // Split as Ansible splits `k=v`: quotes and {{ }} keep their spaces.
            let words = crate::shlex::split_keep_quotes(item)
                .map_err(|e| Error::usage(format!("bad --extra-vars: {e}")))?;
            for w in words {
                let (k, v) = w.split_once('=').ok_or_else(|| {
                    Error::usage(format!("bad --extra-vars '{w}': expected key=value"))
                })?;
                out.insert(
                    k.to_string(),
                    minijinja::Value::from(crate::shlex::unquote(v)),
                );
            }
        }
    }
    Ok(out)
}

fn split_tags(items: &[String]) -> Vec<String> {
    items
        .iter()
        .flat_map(|t| t.split(','))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Ask for a password (`prompt` on stderr) on the terminal, never echoed, or read it from
/// stdin without one, as Ansible's getpass does. Never logged.
fn ask_password(prompt: &str, what: &str) -> Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    // Echo off before the prompt shows, so that nothing typed after it is ever echoed.
    let tty = std::io::stdin().is_terminal();
    if tty {
        let _ = std::process::Command::new("stty").arg("-echo").status();
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let r = std::io::stdin().lock().read_line(&mut line);
    if tty {
        let _ = std::process::Command::new("stty").arg("echo").status();
        eprintln!();
    }
    r.map_err(|e| Error::usage(format!("cannot read the {what} password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `-k` and `-K` as ansible-playbook asks them: the SSH password first, then the become
/// password, which defaults to the SSH password when left empty.
fn ask_passwords(args: &ApplyArgs) -> Result<(Option<String>, Option<String>)> {
    let ssh = if args.target.ask_pass {
        Some(ask_password("SSH password: ", "SSH")?)
    } else {
        None
    };
    let become_ = match (&ssh, args.target.ask_become_pass) {
        (_, false) => None,
        (None, true) => Some(ask_password("BECOME password: ", "become")?),
        (Some(ssh), true) => {
            let pw = ask_password("BECOME password[defaults to SSH password]: ", "become")?;
            Some(if pw.is_empty() { ssh.clone() } else { pw })
        }
    };
    Ok((ssh, become_))
}

/// `--ssh-common-args`/`--ssh-extra-args` that prov's connections cannot honour are a usage
/// error before anything runs.
fn check_ssh_args(args: &ApplyArgs) -> Result<()> {
    for (flag, value) in [
        ("--ssh-common-args", &args.target.ssh_common_args),
        ("--ssh-extra-args", &args.target.ssh_extra_args),
    ] {
        if let Some(v) = value {
            crate::transport::ssh::config::check_ssh_args(v)
                .map_err(|e| Error::usage(format!("{flag}: {}", e.message)))?;
        }
    }
    Ok(())
}

/// Read the vault secrets as ansible-playbook does and install them for the YAML loader: the
/// identities of ansible.cfg's `vault_identity_list`, then `--vault-id`s, then the password
/// files (`--vault-password-file`s, then ansible.cfg's `vault_password_file`) labelled
/// `default`, then `--ask-vault-pass`. A source that cannot be read is a warning when another
/// gives a secret, else the error.
fn install_vault_secrets(args: &VaultArgs, cfg: &Config) -> Result<()> {
    let mut ids: Vec<(Option<String>, String)> = cfg
        .vault_identity_list
        .iter()
        .chain(&args.ids)
        .map(|id| match id.split_once('@') {
            Some((label, source)) => (Some(label.to_string()), source.to_string()),
            None => (None, id.clone()),
        })
        .collect();
    let files = args.password_files.iter().chain(&cfg.vault_password_file);
    ids.extend(files.map(|f| (Some(DEFAULT_LABEL.to_string()), f.display().to_string())));
    let mut secrets = Vec::new();
    let mut failed = None;
    for (label, source) in ids {
        let label = label.unwrap_or_else(|| DEFAULT_LABEL.to_string());
        let password = if source == "prompt" {
            Ok(ask_vault_password(&format!("Vault password ({label}): "))?)
        } else {
            read_vault_password_file(std::path::Path::new(&source), &label)
        };
        match password {
            Ok(p) => secrets.push(Secret::new(label, p)),
            Err(e) => {
                eprintln!("[WARNING]: Error getting vault password file ({label}): {e}");
                failed = Some(e);
            }
        }
    }
    if let (Some(e), true) = (failed, secrets.is_empty()) {
        return Err(e);
    }
    if args.ask {
        let p = ask_vault_password("Vault password: ")?;
        secrets.push(Secret::new(DEFAULT_LABEL, p));
    }
    crate::vault::install(secrets);
    Ok(())
}

/// A vault password asked for (whitespace-trimmed; an empty one is an error, as in Ansible).
fn ask_vault_password(prompt: &str) -> Result<Vec<u8>> {
    let password = ask_password(prompt, "vault")?;
    match password.trim() {
        "" => Err(Error::runtime("Invalid vault password was provided")),
        p => Ok(p.as_bytes().to_vec()),
    }
}

/// A vault password from a file (its text, whitespace-trimmed) or an executable (its output,
/// line breaks trimmed; a `*-client` script is asked for `--vault-id LABEL`), as Ansible reads it.
fn read_vault_password_file(path: &std::path::Path, label: &str) -> Result<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    let shown = path.display();
    let meta = std::fs::metadata(path)
        .map_err(|_| Error::runtime(format!("The vault password file {shown} was not found")))?;
    if meta.is_dir() {
        return Err(Error::runtime(format!(
            "The vault password file provided '{shown}' can not be a directory"
        )));
    }
    let (password, from) = if meta.permissions().mode() & 0o111 != 0 {
        let mut cmd = std::process::Command::new(std::path::absolute(path).unwrap_or_default());
        let stem = path.file_stem().map(|s| s.to_string_lossy());
        let stem = stem.as_deref().unwrap_or_default();
        if stem
            .rsplit_once('.')
            .map_or(stem, |(s, _)| s)
            .ends_with("-client")
        {
            cmd.args(["--vault-id", label]);
        }
        let out = cmd
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| Error::runtime(format!("Problem running vault password script {shown} ({e}). If this is not a script, remove the executable bit from the file.")))?;
        if !out.status.success() {
            return Err(Error::runtime(format!(
                "Vault password script {shown} returned non-zero ({})",
                out.status.code().unwrap_or(-1)
            )));
        }
        let end = |b: &u8| !matches!(b, b'\r' | b'\n');
        (trim_by(&out.stdout, end), "script")
    } else {
        let data = std::fs::read(path).map_err(|e| {
            Error::runtime(format!("Could not read vault password file '{shown}': {e}"))
        })?;
        (trim_by(&data, |b| !b.is_ascii_whitespace()), "file")
    };
    if password.is_empty() {
        return Err(Error::runtime(format!(
            "Invalid vault password was provided from {from} ({shown})"
        )));
    }
    Ok(password)
}

/// The bytes between the first and the last byte that `keep` accepts.
fn trim_by(data: &[u8], keep: impl Fn(&u8) -> bool) -> Vec<u8> {
    let start = data.iter().position(&keep).unwrap_or(data.len());
    let end = data.iter().rposition(&keep).map_or(start, |i| i + 1);
    data[start..end].to_vec()
}

/// Resolve options: command line over environment over ansible.cfg.
pub fn options(args: &ApplyArgs, cfg: &Config, check_cmd: bool) -> Result<RunOptions> {
    let inventory = cfg.inventory_sources(&args.target.inventory);
    check_ssh_args(args)?;
    let (ssh_password, become_password) = ask_passwords(args)?;
    install_vault_secrets(&args.target.vault, cfg)?;
    Ok(with_connect(
        RunOptions {
            check: args.check || check_cmd,
            diff: args.diff || check_cmd,
            forks: args.target.forks.or(cfg.forks).unwrap_or(50).max(1),
            limit: args.target.limit.clone(),
            tags: split_tags(&args.target.tags),
            skip_tags: split_tags(&args.target.skip_tags),
            extra_vars: parse_extra_vars(&args.target.extra_vars)?,
            connection: args.target.connection.clone(),
            chroot: args.chroot.clone(),
            become_: args.target.become_ || cfg.become_.unwrap_or(false),
            become_user: args.target.become_user.clone().or(cfg.become_user.clone()),
            become_method: cfg.become_method.clone(),
            become_password,
            verbosity: args.verbose,
            gathering_explicit: cfg.gathering_explicit,
            inventory_sources: inventory,
            roles_path: cfg.roles_path.clone(),
            start_at_task: args.start_at_task.clone(),
            step: args.step,
            ssh_password,
            ssh_common_args: args.target.ssh_common_args.clone(),
            ssh_extra_args: args.target.ssh_extra_args.clone(),
            persist: args.target.persist,
            journal: None,
            ..Default::default()
        },
        &args.target.connect,
        cfg,
    ))
}

/// How to log in: the command line's `-u`, `--private-key`, `-T` and `--host-key-checking`
/// over ansible.cfg's (for runs, `history` and `rollback` alike).
pub fn with_connect(opts: RunOptions, c: &crate::cli::ConnectArgs, cfg: &Config) -> RunOptions {
    RunOptions {
        remote_user: c.user.clone().or(cfg.remote_user.clone()),
        private_key: c.private_key.clone().or(cfg.private_key_file.clone()),
        timeout: c.timeout.or(cfg.timeout),
        host_key_checking: c.host_key_checking.map(|m| m.mode()),
        host_key_default: cfg.host_key_default(),
        ..opts
    }
}

/// Load the inventory for a run. Without one, the run has a single implicit host
/// (`localhost`, local connection), as ansible-playbook does.
pub fn load_inventory(sources: &[String]) -> Result<Inventory> {
    let mut inv = Inventory::load(sources)?;
    inv.ensure_implicit_localhost();
    Ok(inv)
}

/// ansible-playbook's guard against a `--limit` that leaves nothing to do (a typo in CI would
/// otherwise pass): with hosts in the inventory, a limit that selects none of `all` is an
/// error (exit 1), even for a play whose pattern names the implicit `localhost`. An empty
/// inventory, where only the implicit `localhost` exists, is exempt, as in Ansible.
fn check_limit(inv: &Inventory, listed_hosts: bool, limit: Option<&str>) -> Result<()> {
    let Some(limit) = limit else {
        return Ok(());
    };
    if !listed_hosts {
        return Ok(());
    }
    let all: std::collections::HashSet<String> = crate::inventory::pattern::select(inv, "all")?
        .into_iter()
        .collect();
    if crate::inventory::pattern::select(inv, limit)?
        .iter()
        .any(|h| all.contains(h))
    {
        return Ok(());
    }
    Err(Error::runtime(
        "Specified inventory, host pattern and/or --limit leaves us with no hosts to target.",
    ))
}

fn validate_chroot(opts: &RunOptions, inv: &Inventory, playbook: &Playbook) -> Result<()> {
    let Some(dir) = &opts.chroot else {
        return Ok(());
    };
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "--chroot {}: not a directory",
            dir.display()
        )));
    }
    if let Some(c) = &opts.connection
        && c != "chroot"
    {
        return Err(Error::usage(format!(
            "--chroot cannot be combined with --connection {c}"
        )));
    }
    let mut selected: Vec<String> = Vec::new();
    let real_hosts = inv.hosts.len() > 1 || !inv.hosts.contains_key("localhost");
    for play in &playbook.plays {
        let ctx = crate::vars::Context::new(vec![crate::vars::Layer::raw(
            "extra vars",
            opts.extra_vars.clone(),
        )]);
        let pattern = crate::template::render_text(&play.hosts, &ctx)?;
        let mut names = crate::inventory::pattern::select(inv, &pattern)?;
        if let Some(limit) = &opts.limit {
            let allowed: std::collections::HashSet<String> =
                crate::inventory::pattern::select(inv, limit)?
                    .into_iter()
                    .collect();
            names.retain(|n| allowed.contains(n));
        }
        for n in names {
            if !selected.contains(&n) {
                selected.push(n);
            }
        }
    }
    if selected.len() > 1 {
        return Err(Error::usage(format!(
            "--chroot provisions exactly one host, but {} are selected ({}); narrow it with --limit",
            selected.len(),
            selected.join(", ")
        )));
    }
    if selected.is_empty() && real_hosts {
        return Err(Error::usage(
            "--chroot: no host selected; pick one with --limit",
        ));
    }
    Ok(())
}

fn walk_tasks<'a>(tasks: &'a [Arc<Task>], out: &mut Vec<&'a Task>) {
    for t in tasks {
        match &t.action {
            Action::Block {
                block,
                rescue,
                always,
            } => {
                walk_tasks(block, out);
                walk_tasks(rescue, out);
                walk_tasks(always, out);
            }
            _ => out.push(t),
        }
    }
}

fn listing(
    args: &ApplyArgs,
    opts: &RunOptions,
    inv: &Inventory,
    playbook: &Playbook,
) -> Result<()> {
    let engine = Engine::new(
        opts.clone(),
        inv.clone(),
        Reporter::new(args.format, 0, false),
        Arc::new(Cancel::default()),
    );
    for (i, play) in playbook.plays.iter().enumerate() {
        println!("\nplay #{} ({}): {}", i + 1, play.hosts, play.name);
        if args.list_hosts {
            let hosts = engine.shared.play_hosts(play)?;
            println!("  pattern: ['{}']", play.hosts);
            println!("  hosts ({}):", hosts.len());
            for h in hosts {
                println!("    {}", engine.shared.host_name(h));
            }
        }
        let mut tasks = Vec::new();
        walk_tasks(&play.pre_tasks, &mut tasks);
        for r in &play.roles {
            walk_tasks(&r.tasks, &mut tasks);
        }
        walk_tasks(&play.tasks, &mut tasks);
        walk_tasks(&play.post_tasks, &mut tasks);
        let selected: Vec<&Task> = tasks
            .into_iter()
            .filter(|t| crate::engine::tags_match(&t.d.tags, &opts.tags, &opts.skip_tags))
            .collect();
        if args.list_tasks {
            println!("  tasks:");
            for t in &selected {
                println!("    {}\tTAGS: [{}]", t.display_name(), t.d.tags.join(", "));
            }
        }
        if args.list_tags {
            let mut tags: Vec<String> = selected
                .iter()
                .flat_map(|t| t.d.tags.iter().cloned())
                .collect();
            tags.sort();
            tags.dedup();
            println!("  TASK TAGS: [{}]", tags.join(", "));
        }
    }
    Ok(())
}

async fn apply(args: ApplyArgs, check_cmd: bool, cancel: Arc<Cancel>) -> Result<i32> {
    Ok(apply_run(args, check_cmd, cancel, None).await?.0)
}

/// A run's exit code and its first failed task and host, if one failed.
/// With `capture`, the report is a JSON one writing there instead of on stdout.
pub(crate) async fn apply_run(
    args: ApplyArgs,
    check_cmd: bool,
    cancel: Arc<Cancel>,
    capture: Option<Box<dyn std::io::Write + Send>>,
) -> Result<(i32, Option<(String, String)>)> {
    let cfg = Config::load()?;
    crate::template::allow_broken_conditionals(cfg.allow_broken_conditionals.unwrap_or(false));
    // Every playbook must exist before anything runs (or a password is asked), as in Ansible
    // (exit 1, its words).
    for path in &args.playbooks {
        if !path.exists() {
            return Err(Error::new(
                ErrorKind::Missing,
                format!("the playbook: {} could not be found", path.display()),
            ));
        }
        if !path.is_file() {
            return Err(Error::new(
                ErrorKind::Missing,
                format!(
                    "the playbook: {} does not appear to be a file",
                    path.display()
                ),
            ));
        }
    }
    let opts = options(&args, &cfg, check_cmd)?;
    let mut inv = Inventory::load(&opts.inventory_sources)?;
    let listed_hosts = !inv.hosts.is_empty();
    inv.ensure_implicit_localhost();
    check_limit(&inv, listed_hosts, opts.limit.as_deref())?;
    let mut playbooks: Vec<(PathBuf, Playbook)> = Vec::new();
    for path in &args.playbooks {
        let playbook = crate::playbook::parse::load_playbook(
            path,
            &opts.roles_path,
            &crate::modules::CATALOG,
        )?;
        // group_vars/ and host_vars/ beside the playbook(s) beat those beside the inventory.
        for play in &playbook.plays {
            inv.load_vars_dirs(&play.dir)?;
        }
        playbooks.push((path.clone(), playbook));
    }
    if let Some(c) = &opts.connection
        && !matches!(c.as_str(), "local" | "chroot" | "ssh" | "smart")
    {
        return Err(Error::usage(format!(
            "--connection {c}: use local, chroot or ssh"
        )));
    }
    if args.syntax_check {
        for (path, _) in &playbooks {
            println!("\nplaybook: {}", path.display());
        }
        return Ok((0, None));
    }
    if args.list_hosts || args.list_tasks || args.list_tags {
        for (path, playbook) in &playbooks {
            println!("\nplaybook: {}", path.display());
            listing(&args, &opts, &inv, playbook)?;
        }
        return Ok((0, None));
    }
    let playbooks: Vec<Playbook> = playbooks.into_iter().map(|(_, p)| p).collect();
    let every_play = Playbook {
        plays: playbooks.iter().flat_map(|p| p.plays.clone()).collect(),
    };
    validate_chroot(&opts, &inv, &every_play)?;
    let mut opts = opts;
    if !opts.check && !args.no_journal {
        opts.journal = Some(Arc::new(crate::engine::journal::RunLog::start(
            &args.playbooks,
        )));
    }
    let reporter = match capture {
        Some(out) => Reporter::with_output(Format::Json, args.verbose, opts.diff, false, out),
        None => Reporter::new(args.format, args.verbose, opts.diff),
    };
    let engine = Engine::new(opts, inv, reporter, cancel);
    let outcome = engine.run(&playbooks).await?;
    if let Some(pattern) = engine.shared.start_at_missed() {
        // ansible-playbook's words; the exit code stays that of the run.
        eprintln!(
            "[ERROR]: No matching task \"{pattern}\" found. Note: --start-at-task can only follow static includes."
        );
    }
    Ok((outcome.exit_code(), engine.shared.reporter.first_failure()))
}

/// Ctrl-C, SIGTERM and SIGHUP all stop the run the same way: no new work starts, the write in
/// progress finishes or is abandoned whole, chroot preparation is undone, the recap is printed
/// and prov exits with [`crate::error::signal_exit_code`]. A second signal exits at once.
fn watch_signals(cancel: Arc<Cancel>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let watch = |kind: SignalKind| {
        signal(kind).map_err(|e| Error::runtime(format!("cannot watch signals: {e}")))
    };
    let mut int = watch(SignalKind::interrupt())?;
    let mut term = watch(SignalKind::terminate())?;
    let mut hup = watch(SignalKind::hangup())?;
    tokio::spawn(async move {
        let mut first = true;
        loop {
            let number = tokio::select! {
                Some(()) = int.recv() => libc::SIGINT,
                Some(()) = term.recv() => libc::SIGTERM,
                Some(()) = hup.recv() => libc::SIGHUP,
                else => return,
            };
            if !first {
                std::process::exit(crate::error::signal_exit_code(number));
            }
            first = false;
            let what = match number {
                libc::SIGTERM => "terminated (SIGTERM)",
                libc::SIGHUP => "hung up (SIGHUP)",
                _ => "interrupted",
            };
            {
                // The live line of the running task steps aside for the message.
                let _message = crate::transport::tty::Prompt::begin();
                eprintln!("\n[prov] {what}: stopping after cleanup (a second signal forces)");
            }
            cancel.cancel_by(number);
        }
    });
    Ok(())
}

fn inventory_cmd(args: InventoryArgs) -> Result<i32> {
    let cfg = Config::load()?;
    install_vault_secrets(&args.vault, &cfg)?;
    let sources = cfg.inventory_sources(&args.inventory);
    let inv = Inventory::load(&sources)?;
    // A set: `--list` and `--graph` ask it once per group member (linear in the inventory).
    let allowed: indexmap::IndexSet<String> = match &args.limit {
        Some(l) => crate::inventory::pattern::select(&inv, l)?
            .into_iter()
            .collect(),
        None => inv.hosts.keys().cloned().collect(),
    };
    let to_json = |m: &VarMap| crate::vars::to_json(&crate::vars::map_to_value(m));
    if let Some(h) = &args.host {
        if !inv.hosts.contains_key(h) {
            return Err(Error::usage(format!("host '{h}' is not in the inventory")));
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&inv.host_vars(h))).unwrap_or_default()
        );
        return Ok(0);
    }
    if args.graph {
        fn graph(
            inv: &Inventory,
            g: &str,
            depth: usize,
            allowed: &indexmap::IndexSet<String>,
            out: &mut String,
        ) {
            out.push_str(&format!("{}@{g}:\n", "  |".repeat(depth)));
            let grp = &inv.groups[g];
            for c in &grp.children {
                graph(inv, c, depth + 1, allowed, out);
            }
            let hosts: Vec<&String> = if g == "all" {
                Vec::new()
            } else {
                grp.hosts
                    .iter()
                    .filter(|h| allowed.contains(h.as_str()))
                    .collect()
            };
            for h in hosts {
                out.push_str(&format!("{}--{h}\n", "  |".repeat(depth + 1)));
            }
        }
        let mut out = String::new();
        graph(&inv, "all", 0, &allowed, &mut out);
        print!("{out}");
        return Ok(0);
    }
    if !args.list {
        return Err(Error::usage(
            "prov inventory needs --list, --graph or --host NAME",
        ));
    }
    let mut root = serde_json::Map::new();
    let mut hostvars = serde_json::Map::new();
    for h in &allowed {
        hostvars.insert(h.clone(), to_json(&inv.host_vars(h)));
    }
    root.insert("_meta".into(), serde_json::json!({"hostvars": hostvars}));
    for (name, g) in &inv.groups {
        let mut entry = serde_json::Map::new();
        let hosts: Vec<&String> = g
            .hosts
            .iter()
            .filter(|h| allowed.contains(h.as_str()))
            .collect();
        if !hosts.is_empty() && name != "all" {
            entry.insert("hosts".into(), serde_json::json!(hosts));
        }
        if !g.children.is_empty() {
            entry.insert(
                "children".into(),
                serde_json::json!(g.children.iter().collect::<Vec<_>>()),
            );
        }
        if !entry.is_empty() {
            root.insert(name.clone(), serde_json::Value::Object(entry));
        }
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::Value::Object(root)).unwrap_or_default()
    );
    Ok(0)
}

/// Does this command need a private mount namespace (a chroot run as root)?
pub fn wants_private_mounts(cli: &Cli) -> bool {
    match &cli.command {
        Command::Apply(a) | Command::Check(a) => {
            (a.chroot.is_some() || a.target.connection.as_deref() == Some("chroot"))
                && !a.syntax_check
                && !a.list_hosts
                && !a.list_tasks
                && !a.list_tags
        }
        Command::Drift(a) => a.target.connection.as_deref() == Some("chroot"),
        Command::Inventory(_) | Command::Completions(_) | Command::Man(_) | Command::Agent(_) => {
            false
        }
        Command::History(a) => a.target.chroot.is_some(),
        Command::Rollback(a) => a.target.chroot.is_some(),
        Command::Image(
            crate::cli::ImageCommand::Build(_) | crate::cli::ImageCommand::Pipeline(_),
        ) => true,
        Command::Image(_) => false,
    }
}

/// Run a command; returns the process exit code.
pub async fn main(cli: Cli) -> Result<i32> {
    let check = matches!(cli.command, Command::Check(_));
    match cli.command {
        Command::Apply(a) | Command::Check(a) => {
            // From here on INT, TERM and HUP stop the run cleanly (they were held back since
            // start-up, so even one that arrived before this point is handled, not fatal).
            let cancel = Arc::new(Cancel::default());
            watch_signals(cancel.clone())?;
            release_signals();
            apply(a, check, cancel).await
        }
        Command::Drift(a) => {
            let cancel = Arc::new(Cancel::default());
            watch_signals(cancel.clone())?;
            release_signals();
            crate::drift::run(a, cancel).await
        }
        Command::Agent(a) => crate::agent_cmd::run(a, release_signals).await,
        Command::Inventory(a) => {
            release_signals();
            inventory_cmd(a)
        }
        Command::History(a) => {
            release_signals();
            crate::history::history(a).await
        }
        Command::Rollback(a) => {
            // A signal waits until the rollback is done: each path is put back whole.
            let done = crate::history::rollback(a).await;
            release_signals();
            done
        }
        Command::Completions(a) => {
            release_signals();
            crate::cli_docs::completions(&a)
        }
        Command::Man(a) => {
            // A signal waits until the pages are written.
            let done = crate::cli_docs::man(&a);
            release_signals();
            done
        }
        Command::Image(crate::cli::ImageCommand::Build(a)) => {
            let cancel = Arc::new(Cancel::default());
            watch_signals(cancel.clone())?;
            release_signals();
            let image = crate::image::build(a, cancel.clone()).await;
            match image {
                Ok(path) => {
                    println!("{}", path.display());
                    Ok(0)
                }
                Err(_) if cancel.is_cancelled() => {
                    eprintln!("[prov image] interrupted: no image was written");
                    Ok(crate::error::signal_exit_code(
                        cancel.signal().unwrap_or(libc::SIGINT),
                    ))
                }
                Err(e) => Err(e),
            }
        }
        Command::Image(crate::cli::ImageCommand::Compress(a)) => {
            let cancel = Arc::new(Cancel::default());
            watch_signals(cancel.clone())?;
            release_signals();
            match crate::image::compress_cmd(&a, cancel.clone()).await {
                Err(_) if cancel.is_cancelled() => {
                    eprintln!("[prov image] interrupted: no compressed image was written");
                    Ok(crate::error::signal_exit_code(
                        cancel.signal().unwrap_or(libc::SIGINT),
                    ))
                }
                other => other.map(|()| 0),
            }
        }
        Command::Image(crate::cli::ImageCommand::Pipeline(a)) => {
            let cancel = Arc::new(Cancel::default());
            watch_signals(cancel.clone())?;
            release_signals();
            match crate::image::pipeline::pipeline(a, cancel.clone()).await {
                Err(_) if cancel.is_cancelled() => {
                    eprintln!("[prov image] pipeline interrupted");
                    Ok(crate::error::signal_exit_code(
                        cancel.signal().unwrap_or(libc::SIGINT),
                    ))
                }
                other => other,
            }
        }
        Command::Image(crate::cli::ImageCommand::Install(a)) => {
            let cancel = Arc::new(Cancel::default());
            watch_signals(cancel.clone())?;
            release_signals();
            // On a thread of its own: it waits for its children and for the terminal.
            tokio::task::spawn_blocking(move || crate::image::install::install(&a, cancel))
                .await
                .map_err(|e| Error::runtime(format!("install thread: {e}")))?
        }
        Command::Image(crate::cli::ImageCommand::Verify(a)) => {
            release_signals();
            let sha = crate::image::compress::verify(&a.file)?;
            println!("{}: OK ({sha})", a.file.display());
            Ok(0)
        }
        Command::Image(crate::cli::ImageCommand::Test(a)) => {
            // A signal drops the test, and with it the VMs (QEMU is killed on drop).
            let cancel = Arc::new(Cancel::default());
            watch_signals(cancel.clone())?;
            release_signals();
            tokio::select! {
                lines = crate::image::boot::test(a) => {
                    for line in lines? {
                        println!("{line}");
                    }
                    Ok(0)
                }
                _ = cancel.cancelled() => {
                    eprintln!("[prov image] boot test interrupted; the VMs are stopped");
                    Ok(crate::error::signal_exit_code(cancel.signal().unwrap_or(libc::SIGINT)))
                }
            }
        }
        Command::Image(cmd) => {
            let cancel = Arc::new(Cancel::default());
            watch_signals(cancel.clone())?;
            release_signals();
            image_store(cmd, cancel).await
        }
    }
}

/// The S3 commands (`prov image upload`, `list`, `fetch`, `mark-good`, `prune`).
#[cfg(feature = "s3")]
async fn image_store(cmd: crate::cli::ImageCommand, cancel: Arc<Cancel>) -> Result<i32> {
    crate::image::store::command(cmd, cancel).await
}

#[cfg(not(feature = "s3"))]
async fn image_store(_: crate::cli::ImageCommand, _: Arc<Cancel>) -> Result<i32> {
    Err(Error::usage(
        "this prov was built without S3 support (cargo feature `s3`)",
    ))
}

/// `prov apply` as another command runs it (the image build's provisioning step): the same
/// code path, with the caller's signal handling.
pub async fn apply_in_process(
    args: ApplyArgs,
    cancel: Arc<Cancel>,
) -> Result<(i32, Option<(String, String)>)> {
    apply_run(args, false, cancel, None).await
}

/// The signals a run handles (Ctrl-C, SIGTERM, SIGHUP).
fn held_signals() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset only write the set they are given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Hold back INT, TERM and HUP until [`main`] has decided how to handle them: called first
/// thing, before any thread starts (threads inherit the mask; child processes get an empty
/// one from std). A signal that arrives meanwhile waits instead of killing prov mid-start.
pub fn hold_signals() {
    let set = held_signals();
    // SAFETY: a valid set; changes only this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// Let held signals through on this thread (the one that runs [`main`]): pending ones are
/// delivered now, to prov's handlers or with their default action.
fn release_signals() {
    let set = held_signals();
    // SAFETY: a valid set; changes only this thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::Value;

    #[test]
    fn extra_vars_forms() {
        let v = parse_extra_vars(&[
            "node_name=golyat-1 node_ip=192.168.10.101".into(),
            r#"{"n": 3, "l": [1]}"#.into(),
        ])
        .unwrap();
        assert_eq!(v["node_name"], Value::from("golyat-1"));
        assert_eq!(v["node_ip"], Value::from("192.168.10.101"));
        assert_eq!(v["n"], Value::from(3));
        assert_eq!(v["l"].len(), Some(1));
        assert!(parse_extra_vars(&["novalue".into()]).is_err());
        let v = parse_extra_vars(&["url=http://x/v{{ version }}/deb/ q='a b'".into()]).unwrap();
        assert_eq!(v["url"], Value::from("http://x/v{{ version }}/deb/"));
        assert_eq!(v["q"], Value::from("a b"));
    }
}
