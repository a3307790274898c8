//! Command-line definitions (clap). Flags follow ansible-playbook so habits carry over.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "prov",
    version,
    about = "Run Ansible-format playbooks natively: local, chroot and SSH targets, with a truthful dry run"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply a playbook.
    Apply(ApplyArgs),
    /// Dry run: `apply --check --diff`.
    // -C and -D are implied: accepted, but not listed in `prov check --help`.
    #[command(mut_arg("check", |a| a.hide(true)), mut_arg("diff", |a| a.hide(true)))]
    Check(ApplyArgs),
    /// Drift report: `prov check` across the inventory, only what differs, by host and role.
    ///
    /// Exit 0: every host in sync; 2: a host drifted or a task failed; 4: a host unreachable
    /// (wins over drift).
    Drift(DriftArgs),
    /// The prov agent, which keeps SSH connections open between runs (`--persist`).
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Show the inventory (like ansible-inventory).
    Inventory(InventoryArgs),
    /// List the runs in a target's journal (newest last).
    History(HistoryArgs),
    /// Put back the files a run changed, from the target's journal.
    Rollback(RollbackArgs),
    /// Worker images: build a node's USB-bootable disk image.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Print a shell completion script on stdout (e.g. `prov completions bash >
    /// /etc/bash_completion.d/prov`).
    Completions(CompletionsArgs),
    /// Print the man page prov(1) on stdout (`prov man | man -l -`), or write one page per
    /// command into a directory.
    Man(ManArgs),
}

#[derive(Subcommand, Debug)]
pub enum AgentCommand {
    /// Start the agent (if none runs); runs with --persist start it themselves.
    Start {
        /// Exit after this long without a run (e.g. 30s, 10m, 2h).
        #[arg(long = "idle", value_name = "DURATION", default_value = "10m", value_parser = crate::transport::agent::parse_duration)]
        idle: std::time::Duration,
    },
    /// Close every connection, stop the agent and remove its socket.
    Stop,
    /// Is an agent running, and which connections does it hold?
    Status,
    /// Be the agent (what `start` runs, detached).
    #[command(hide = true)]
    Serve {
        #[arg(long = "idle", value_name = "DURATION", default_value = "10m", value_parser = crate::transport::agent::parse_duration)]
        idle: std::time::Duration,
    },
}

/// The targets of `prov history` and `prov rollback`.
#[derive(Args, Debug)]
pub struct JournalTarget {
    /// The target is this directory (a root filesystem), as with `prov apply --chroot`.
    #[arg(long = "chroot", value_name = "DIR", conflicts_with_all = ["inventory", "limit"])]
    pub chroot: Option<PathBuf>,
    /// The targets are this inventory's hosts, reached as `prov apply` reaches them (repeatable;
    /// without it and without --chroot, this machine).
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<String>,
    /// Only the hosts matching this pattern.
    #[arg(short = 'l', long = "limit")]
    pub limit: Option<String>,
    /// Read and restore the journal as root (sudo), as a run with --become wrote it.
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    /// Variables that say how to reach the hosts (ansible_host, ansible_port...), as
    /// `prov apply -e` takes them (repeatable).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// How to log in over SSH (`apply`, `check`, `drift`, `history`, `rollback`).
#[derive(Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Connect as this user.
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// SSH private key file.
    #[arg(long = "private-key", visible_alias = "key-file")]
    pub private_key: Option<PathBuf>,
    /// Connection timeout in seconds.
    #[arg(short = 'T', long = "timeout")]
    pub timeout: Option<u64>,
    /// Host key verification for SSH (default: ansible.cfg's host_key_checking, else strict).
    #[arg(long = "host-key-checking", value_enum)]
    pub host_key_checking: Option<HostKeyChecking>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub target: JournalTarget,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// The run to roll back (as `prov history` lists it).
    #[arg(value_name = "RUN_ID")]
    pub run: String,
    #[command(flatten)]
    pub target: JournalTarget,
    /// Don't change anything; report what would be put back.
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Show the content that would come back.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write prov.1 and one page per command (prov-apply.1, prov-image-build.1, ...) into DIR
    /// instead (created if missing; e.g. /usr/local/share/man/man1).
    #[arg(long = "dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Build NODE.img (raw GPT, boots with BIOS and UEFI) and NODE.manifest.json (needs root).
    Build(ImageBuildArgs),
    /// Boot an image in QEMU as a USB stick (UEFI and BIOS at once) and check it over SSH.
    Test(ImageTestArgs),
    /// Compress an image into IMG.xz (or IMG.zst) and write IMG.xz.sha256 (sha256sum format).
    Compress(ImageCompressArgs),
    /// Check a file against the sha256 in FILE.sha256 beside it.
    Verify(ImageVerifyArgs),
    /// Build, boot-test, compress, upload and mark good, node by node; one summary at the end.
    Pipeline(ImagePipelineArgs),
    /// Publish DIR/NODE.img.xz (with its .sha256 and NODE.manifest.json) to s3://BUCKET/PREFIX/.
    Upload(ImageUploadArgs),
    /// List the published builds: node, build date, commit, size, sha256, known-good mark.
    List(ImageListArgs),
    /// Download a published image (the latest build by default) and verify its sha256.
    Fetch(ImageFetchArgs),
    /// Mark a published build known-good (the latest build by default).
    MarkGood(ImageMarkGoodArgs),
    /// Delete builds older than a limit, never the newest known-good build of a node.
    Prune(ImagePruneArgs),
    /// Copy the running (USB) system onto an internal disk that then boots with BIOS and UEFI
    /// (`install-to-disk` on the image; needs root).
    Install(ImageInstallArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ImageInstallArgs {
    /// The disk to install on (/dev/sdb, /dev/disk/by-id/…); without it, prov lists the disks
    /// and asks.
    #[arg(long = "target", value_name = "DEVICE")]
    pub target: Option<PathBuf>,
    /// Do not ask for confirmation (with --target: everything on it is destroyed).
    #[arg(long = "yes", requires = "target")]
    pub yes: bool,
    /// Let --target be a regular file (a disk image of its size).
    #[arg(long = "allow-file")]
    pub allow_file: bool,
    /// No questions: install on the only eligible disk, refused when there are none or several
    /// (what the image's first boot runs with prov.install=auto).
    #[arg(long = "auto", conflicts_with_all = ["target", "yes"])]
    pub auto: bool,
    /// The tree to copy.
    #[arg(long = "source", default_value = "/")]
    pub source: PathBuf,
    /// The log file (appended to).
    #[arg(long = "log", default_value = "/var/log/prov-install.log")]
    pub log: PathBuf,
    /// Where sysfs, /proc, /dev and udev's database are read (tests give synthetic trees).
    #[arg(long = "system-root", default_value = "/", hide = true)]
    pub system_root: PathBuf,
}

/// Where the published images are and how to reach the S3 service (all `prov image` storage
/// commands). Credentials come from the standard AWS chain: environment, profile, web identity.
#[derive(Args, Debug, Clone)]
pub struct S3Args {
    /// The images' location: s3://BUCKET/PREFIX/.
    #[arg(value_name = "S3_URL")]
    pub url: String,
    /// A custom S3 endpoint (path-style requests); default $AWS_ENDPOINT_URL_S3,
    /// $AWS_ENDPOINT_URL, then AWS.
    #[arg(long = "endpoint-url")]
    pub endpoint_url: Option<String>,
    /// The region (default from the AWS environment or profile, else us-east-1).
    #[arg(long = "region")]
    pub region: Option<String>,
    /// Seconds a request may take (connecting: at most 10); part transfers get more by size.
    #[arg(long = "timeout", default_value = "30")]
    pub timeout: u64,
    /// Output format (json: one document on stdout, no progress).
    #[arg(long = "format", value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Args, Debug, Clone)]
pub struct ImageUploadArgs {
    /// The compressed image, DIR/NODE.img.xz or DIR/NODE.img.zst.
    pub image: PathBuf,
    #[command(flatten)]
    pub s3: S3Args,
    /// Part size of the multipart upload in MiB (5 to 512).
    #[arg(
        long = "part-size",
        env = "PROV_S3_PART_SIZE_MIB",
        default_value = "32"
    )]
    pub part_size_mib: u64,
    /// Parts uploaded at once.
    #[arg(long = "parallel", default_value = "4")]
    pub parallel: usize,
}

#[derive(Args, Debug, Clone)]
pub struct ImageListArgs {
    /// Only this node's builds.
    #[arg(long = "node")]
    pub node: Option<String>,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Args, Debug, Clone)]
pub struct ImageFetchArgs {
    /// The node whose image to fetch.
    #[arg(long = "node")]
    pub node: String,
    /// The latest build of this git commit (a prefix of at least 7 hex digits).
    #[arg(long = "commit", conflicts_with = "latest_good")]
    pub commit: Option<String>,
    /// The latest build marked known-good.
    #[arg(long = "latest-good")]
    pub latest_good: bool,
    /// Where NODE.img.xz, its .sha256 and NODE.manifest.json go.
    #[arg(short = 'o', long = "output", default_value = ".")]
    pub output: PathBuf,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Args, Debug, Clone)]
pub struct ImageMarkGoodArgs {
    /// The node whose build to mark.
    #[arg(long = "node")]
    pub node: String,
    /// The latest build of this git commit (default: the latest build).
    #[arg(long = "commit", conflicts_with = "build")]
    pub commit: Option<String>,
    /// Exactly this build (its id, as `prov image list --format json` and upload print it).
    #[arg(long = "build", value_name = "BUILD_ID")]
    pub build: Option<String>,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Args, Debug, Clone)]
pub struct ImagePruneArgs {
    /// Delete builds older than this: 90d, 12h, 30m, 2w.
    #[arg(long = "older-than")]
    pub older_than: String,
    /// Only say what would be deleted.
    #[arg(long = "check")]
    pub check: bool,
    /// Only this node's builds (a CI job prunes the node it built).
    #[arg(long = "node")]
    pub node: Option<String>,
    #[command(flatten)]
    pub s3: S3Args,
}

#[derive(Args, Debug, Clone)]
pub struct ImagePipelineArgs {
    /// Nodes: `all` (the inventory's --group) or names, comma-separated.
    #[arg(long = "node", value_delimiter = ',', required = true)]
    pub node: Vec<String>,
    /// The inventory group `all` means.
    #[arg(long = "group", default_value = "workers")]
    pub group: String,
    #[command(flatten)]
    pub inputs: ImageInputs,
    #[command(flatten)]
    pub boot: BootCheckArgs,
    #[command(flatten)]
    pub compression: CompressionArgs,
    /// Publish to s3://BUCKET/PREFIX/ and mark known-good; without it the pipeline stops after
    /// compressing.
    #[arg(long = "upload", value_name = "S3_URL")]
    pub upload: Option<String>,
    /// A custom S3 endpoint (path-style requests).
    #[arg(long = "endpoint-url")]
    pub endpoint_url: Option<String>,
    /// The S3 region.
    #[arg(long = "region")]
    pub region: Option<String>,
    /// Output: text prints each build's task lines and the Markdown summary; json one JSON
    /// document per build's provisioning run, then the summary (an array of nodes).
    #[arg(long = "format", value_enum, default_value = "text")]
    pub format: Format,
}

#[derive(Args, Debug, Clone)]
pub struct ImageCompressArgs {
    /// The image (sparse holes are read as zeros, never copied).
    pub image: PathBuf,
    #[command(flatten)]
    pub compression: CompressionArgs,
    /// Output: text prints the file, json prints {file, sha256, size, image_size}.
    #[arg(long = "format", value_enum, default_value = "text")]
    pub format: Format,
}

/// How the boot test runs (`image test` and `image pipeline`).
#[derive(Args, Debug, Clone)]
pub struct BootCheckArgs {
    /// Firmwares to boot with (comma-separated).
    #[arg(long = "firmware", value_delimiter = ',', default_value = "uefi,bios")]
    pub firmware: Vec<String>,
    /// The key whose public half the image got from the keys URL.
    #[arg(long = "private-key", visible_alias = "key-file")]
    pub private_key: PathBuf,
    /// The playbook that must have nothing left to change on the booted image.
    #[arg(long = "playbook", default_value = "playbooks/worker.yml")]
    pub playbook: PathBuf,
    /// Seconds to wait for SSH after power-on.
    #[arg(long = "timeout", default_value = "600")]
    pub timeout: u64,
}

/// How to compress (`image compress` and `image pipeline`).
#[derive(Args, Debug, Clone)]
pub struct CompressionArgs {
    /// xz (the default; liblzma's multithreaded encoder).
    #[arg(long = "xz", conflicts_with = "zstd")]
    pub xz: bool,
    /// zstd instead of xz.
    #[arg(long = "zstd")]
    pub zstd: bool,
    /// Compression level (xz 0-9, default 3; zstd 1-22, default 9).
    #[arg(long = "level")]
    pub level: Option<u32>,
    /// Compression threads (0: one per core).
    #[arg(long = "threads", default_value = "0")]
    pub threads: u32,
}

#[derive(Args, Debug, Clone)]
pub struct ImageVerifyArgs {
    /// The file (its FILE.sha256 beside it holds the expected hash).
    pub file: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct ImageTestArgs {
    /// The image (its NODE.manifest.json beside it names the node).
    pub image: PathBuf,
    #[command(flatten)]
    pub boot: BootCheckArgs,
    /// The admin user to log in as (default: the node's ansible_user).
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Inventory (default from ansible.cfg), for the node's variables and the check run.
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<String>,
    /// Extra variables for the check run (the build's -e).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// The netplan file that holds the node's static address.
    #[arg(long = "netplan-file", default_value = "/etc/netplan/01-prov.yaml")]
    pub netplan_file: String,
    /// Test the installer instead: boot the image with an empty internal disk, run
    /// `install-to-disk` onto it, then boot that disk alone with each firmware and check it
    /// (same checks, plus its hostname and a root filesystem UUID of its own).
    #[arg(long = "install")]
    pub install: bool,
}

/// What an image is built from and where it goes (`image build` and `image pipeline`).
#[derive(Args, Debug, Clone)]
pub struct ImageInputs {
    /// Inventory file, directory or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<String>,
    /// The image definition.
    #[arg(long = "definition", default_value = "images/worker.yml")]
    pub definition: PathBuf,
    /// Where NODE.img, NODE.manifest.json (and the pipeline's files and logs) go.
    #[arg(short = 'o', long = "output", default_value = ".")]
    pub output: PathBuf,
    /// Extra variables for the playbook (as apply's -e; also the boot test's check run).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// Keep the bootstrapped base here (keyed by definition, mirror and day) and reuse it.
    #[arg(long = "cache", value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ImageBuildArgs {
    /// The inventory host to build the image for.
    #[arg(long = "node")]
    pub node: String,
    #[command(flatten)]
    pub inputs: ImageInputs,
    /// Output format of the provisioning run (json also silences the step lines).
    #[arg(long = "format", value_enum, default_value = "text")]
    pub format: Format,
}

pub use crate::report::Format;

pub use crate::drift::DriftFormat;

/// `prov drift`: the flags of `prov check` that choose hosts, connect and decrypt.
#[derive(Args, Debug, Clone)]
pub struct DriftArgs {
    /// The playbook to compare the hosts with.
    #[arg(value_name = "PLAYBOOK", default_value = "playbooks/worker.yml")]
    pub playbook: PathBuf,
    /// The report's format: text, JSON, or Markdown (for $GITHUB_STEP_SUMMARY or an issue).
    #[arg(long = "format", value_enum, default_value = "text")]
    pub format: DriftFormat,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl DriftArgs {
    /// The `prov check` run the report is made of (its format is JSON, the report's source).
    pub fn check_args(&self) -> ApplyArgs {
        ApplyArgs {
            playbooks: vec![self.playbook.clone()],
            target: self.target.clone(),
            check: true,
            diff: true,
            verbose: 0,
            chroot: None,
            syntax_check: false,
            // A drift report is a dry run: it changes nothing, so it has nothing to journal.
            no_journal: true,
            list_hosts: false,
            list_tasks: false,
            list_tags: false,
            format: Format::Json,
            start_at_task: None,
            step: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HostKeyChecking {
    Strict,
    AcceptNew,
    Off,
}

impl HostKeyChecking {
    pub fn mode(self) -> crate::transport::ssh::config::HostKeyMode {
        use crate::transport::ssh::config::HostKeyMode;
        match self {
            HostKeyChecking::Strict => HostKeyMode::Strict,
            HostKeyChecking::AcceptNew => HostKeyMode::AcceptNew,
            HostKeyChecking::Off => HostKeyMode::Off,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct ApplyArgs {
    /// The playbooks to run, in order (a host that fails stops the ones after).
    #[arg(required = true, value_name = "PLAYBOOK")]
    pub playbooks: Vec<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Don't change anything; report what would change.
    #[arg(short = 'C', long = "check")]
    pub check: bool,
    /// Show differences of changed files and settings.
    #[arg(short = 'D', long = "diff")]
    pub diff: bool,
    /// More output (repeat for more).
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Provision a directory as the root filesystem of the one selected host.
    #[arg(long = "chroot", value_name = "DIR")]
    pub chroot: Option<PathBuf>,
    /// Only check the playbook's syntax.
    #[arg(long = "syntax-check")]
    pub syntax_check: bool,
    /// Keep no journal of this run (`prov rollback` cannot undo it); PROV_NO_JOURNAL=1 makes
    /// it the default.
    #[arg(
        long = "no-journal",
        env = "PROV_NO_JOURNAL",
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub no_journal: bool,
    /// List the hosts each play would run on.
    #[arg(long = "list-hosts")]
    pub list_hosts: bool,
    /// List the tasks each play would run.
    #[arg(long = "list-tasks")]
    pub list_tasks: bool,
    /// List the tags of the playbook.
    #[arg(long = "list-tags")]
    pub list_tags: bool,
    /// Output format.
    #[arg(long = "format", value_enum, default_value = "text")]
    pub format: Format,
    /// before it do not run.
    #[arg(long = "start-at-task", value_name = "TASK")]
    pub start_at_task: Option<String>,
    /// Ask before each task: (N)o/(y)es/(c)ontinue (the answer is read from stdin).
    #[arg(long = "step")]
    pub step: bool,
}

/// The hosts a run reaches and how: inventory, selection, variables, connection, become and
/// vault secrets (shared by `apply`, `check` and `drift`).
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Inventory file, directory or comma-separated host list (repeatable).
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<String>,
    /// Limit the run to hosts matching this pattern.
    #[arg(short = 'l', long = "limit")]
    pub limit: Option<String>,
    /// Only run tasks with these tags (comma-separated, repeatable).
    #[arg(short = 't', long = "tags")]
    pub tags: Vec<String>,
    /// Skip tasks with these tags.
    #[arg(long = "skip-tags")]
    pub skip_tags: Vec<String>,
    /// Extra variables: `k=v k2=v2`, `@file.yml`, or JSON/YAML (repeatable).
    #[arg(short = 'e', long = "extra-vars")]
    pub extra_vars: Vec<String>,
    /// How many hosts to work on at once.
    #[arg(short = 'f', long = "forks")]
    pub forks: Option<usize>,
    /// Connection type: local, chroot or ssh.
    #[arg(short = 'c', long = "connection")]
    pub connection: Option<String>,
    /// Run operations with become (sudo).
    #[arg(short = 'b', long = "become")]
    pub become_: bool,
    /// The user to become.
    #[arg(long = "become-user")]
    pub become_user: Option<String>,
    /// Ask for the become (sudo) password.
    #[arg(short = 'K', long = "ask-become-pass")]
    pub ask_become_pass: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Ask for the SSH password (terminal, or stdin without one) for password authentication.
    #[arg(short = 'k', long = "ask-pass")]
    pub ask_pass: bool,
    /// `-p`, `-l`, `-i`, `-J`, `-F`; anything prov cannot honour is an error.
    #[arg(
        long = "ssh-common-args",
        value_name = "ARGS",
        allow_hyphen_values = true
    )]
    pub ssh_common_args: Option<String>,
    /// More ssh arguments, as --ssh-common-args.
    #[arg(
        long = "ssh-extra-args",
        value_name = "ARGS",
        allow_hyphen_values = true
    )]
    pub ssh_extra_args: Option<String>,
    /// Keep SSH connections open for DURATION (e.g. 10m) after the run, in the prov agent
    /// (started if none runs), and use those it already holds: later runs skip the login.
    #[arg(long = "persist", value_name = "DURATION", value_parser = crate::transport::agent::parse_duration)]
    pub persist: Option<std::time::Duration>,
    #[command(flatten)]
    pub vault: VaultArgs,
}

/// Where the Ansible Vault passwords come from (as ansible-playbook's flags).
#[derive(Args, Debug, Clone, Default)]
pub struct VaultArgs {
    /// A vault password file, or an executable that prints the password (repeatable).
    #[arg(
        long = "vault-password-file",
        visible_alias = "vault-pass-file",
        value_name = "FILE"
    )]
    pub password_files: Vec<PathBuf>,
    /// Ask for the vault password (on the terminal, or a line of stdin without one).
    #[arg(
        short = 'J',
        long = "ask-vault-pass",
        visible_alias = "ask-vault-password"
    )]
    pub ask: bool,
    /// A vault identity: `[label@]SOURCE`, SOURCE a file, an executable or `prompt` (repeatable).
    #[arg(long = "vault-id", value_name = "ID")]
    pub ids: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InventoryArgs {
    /// Inventory file, directory or comma-separated host list (repeatable); default from
    /// ansible.cfg.
    #[arg(short = 'i', long = "inventory")]
    pub inventory: Vec<String>,
    /// Print every host and group as JSON.
    #[arg(long = "list")]
    pub list: bool,
    /// Print the group tree.
    #[arg(long = "graph")]
    pub graph: bool,
    /// Print one host's variables as JSON.
    #[arg(long = "host")]
    pub host: Option<String>,
    /// Limit to hosts matching a pattern.
    #[arg(short = 'l', long = "limit")]
    pub limit: Option<String>,
    /// Keep SSH connections open for DURATION (e.g. 10m) after the run, in the prov agent
    /// (started if none runs), and use those it already holds: later runs skip the login.
    #[arg(long = "persist", value_name = "DURATION", value_parser = crate::transport::agent::parse_duration)]
    pub persist: Option<std::time::Duration>,
    #[command(flatten)]
    pub vault: VaultArgs,
}
