//! The state `playbooks/worker.yml` leaves on a node, checked by reading the node's root from
//! outside: the SSH tests and the benchmark (which scores an engine only when every node is
//! right) use the same checker.

use super::Root;

/// The section separator of the one inspection script run inside the root.
const SEP: &str = "=====";

/// Everything that is wrong with a worker node's root (empty when it is a correct worker).
/// `node_ip` is the node's inventory address, `keys` the body of the keys endpoint.
pub fn worker_problems(root: &Root, node_ip: &str, keys: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut expect = |ok: bool, what: String| {
        if !ok {
            bad.push(what);
        }
    };
    // One process inside the root answers every question that needs its tools.
    let out = root.sh(&format!(
        "sshd -T 2>&1; echo {SEP}; visudo -c >/dev/null 2>&1 && echo valid; echo {SEP}; \
         id boxp 2>&1; echo {SEP}; \
         dpkg-query -W -f '${{Package}}=${{Version}}\\n' kubelet kubeadm kubectl cri-o 2>&1; \
         echo {SEP}; apt-mark showhold"
    ));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let parts: Vec<&str> = text.split(&format!("{SEP}\n")).collect();
    if parts.len() != 5 {
        return vec![format!("cannot inspect the root: {text}")];
    }
    let sshd: Vec<&str> = parts[0].lines().collect();
    for want in [
        "permitrootlogin no",
        "passwordauthentication no",
        "pubkeyauthentication yes",
        "kbdinteractiveauthentication no",
    ] {
        expect(sshd.contains(&want), format!("sshd -T lacks '{want}'"));
    }
    expect(
        parts[1].trim() == "valid",
        "sudoers do not pass visudo -c".into(),
    );
    expect(
        parts[2].contains("(sudo)"),
        format!("boxp is not in group sudo: {}", parts[2].trim()),
    );
    let read = |rel: &str| std::fs::read_to_string(root.file(rel)).unwrap_or_default();
    let mode = |rel: &str| {
        std::fs::symlink_metadata(root.file(rel))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
            .unwrap_or(0)
    };
    expect(
        read("etc/sudoers.d/boxp") == "boxp ALL=(ALL:ALL) NOPASSWD: ALL\n",
        "etc/sudoers.d/boxp".into(),
    );
    // Key by key (Ansible's authorized_key writes `type blob ` with a trailing space when a
    // key has no comment; sshd reads both the same).
    let lines = |t: &str| -> Vec<String> { t.lines().map(|l| l.trim_end().to_string()).collect() };
    let authorized = read("home/boxp/.ssh/authorized_keys");
    expect(
        lines(&authorized) == lines(keys) && authorized.ends_with('\n'),
        format!("authorized_keys differ from the keys endpoint: {authorized:?}"),
    );
    expect(
        mode("home/boxp/.ssh/authorized_keys") == 0o600 && mode("home/boxp/.ssh") == 0o700,
        "modes of ~boxp/.ssh".into(),
    );
    let netplan = read("etc/netplan/01-prov.yaml");
    expect(
        netplan.contains(&format!("- {node_ip}/24")) && netplan.contains("via: 192.168.10.1"),
        format!("netplan file lacks {node_ip}/24 or the gateway"),
    );
    expect(
        mode("etc/netplan/01-prov.yaml") == 0o600,
        "netplan file mode".into(),
    );
    for (file, keyring) in [
        ("kubernetes.sources", "kubernetes-apt-keyring.gpg"),
        ("cri-o.sources", "cri-o-apt-keyring.gpg"),
    ] {
        let src = read(&format!("etc/apt/sources.list.d/{file}"));
        expect(
            src.contains("Architectures: amd64\n")
                && src.contains(&format!("Signed-By: /etc/apt/keyrings/{keyring}\n")),
            format!("{file} lacks Architectures or Signed-By"),
        );
        let key =
            std::fs::read(root.file(&format!("etc/apt/keyrings/{keyring}"))).unwrap_or_default();
        expect(
            !key.is_empty() && !key.starts_with(b"-----BEGIN"),
            format!("{keyring} is missing or still armored"),
        );
    }
    let versions: Vec<&str> = parts[3].lines().collect();
    for pkg in ["kubelet", "kubeadm", "kubectl"] {
        expect(
            versions.contains(&format!("{pkg}=1.32.0-1.1").as_str()),
            format!("{pkg} is not 1.32.0-1.1: {versions:?}"),
        );
    }
    expect(
        versions.iter().any(|v| v.starts_with("cri-o=1.32.")),
        format!("cri-o 1.32 is not installed: {versions:?}"),
    );
    let held: Vec<&str> = parts[4].lines().collect();
    expect(
        held == ["cri-o", "kubeadm", "kubectl", "kubelet"],
        format!("held packages: {held:?}"),
    );
    let modules = format!(
        "{}{}",
        read("etc/modules-load.d/overlay.conf"),
        read("etc/modules-load.d/br_netfilter.conf")
    );
    expect(
        modules == "overlay\nbr_netfilter\n",
        format!("modules-load.d: {modules:?}"),
    );
    let sysctl = read("etc/sysctl.d/99-kubernetes-cri.conf");
    for key in [
        "net.ipv4.ip_forward",
        "net.bridge.bridge-nf-call-iptables",
        "net.bridge.bridge-nf-call-ip6tables",
    ] {
        expect(
            sysctl
                .lines()
                .any(|l| l.replace(' ', "") == format!("{key}=1")),
            format!("sysctl file lacks {key}=1"),
        );
    }
    expect(
        read("etc/fstab").contains("\n# /swap.img none swap sw 0 0"),
        "the swap line of /etc/fstab is not commented".into(),
    );
    expect(
        read("etc/default/kubelet").contains(&format!("--node-ip={node_ip}")),
        "etc/default/kubelet lacks the node IP".into(),
    );
    for unit in ["kubelet.service", "crio.service"] {
        expect(
            root.exists(&format!(
                "etc/systemd/system/multi-user.target.wants/{unit}"
            )),
            format!("{unit} is not enabled"),
        );
    }
    bad
}

/// What a node had before a dry run of four drifted items; compare after the run.
pub fn drift(root: &Root) {
    std::fs::write(
        root.file("etc/sysctl.d/99-kubernetes-cri.conf"),
        "net.ipv4.ip_forward=0\nnet.bridge.bridge-nf-call-iptables=1\nnet.bridge.bridge-nf-call-ip6tables=1\n",
    )
    .unwrap();
    std::fs::write(
        root.file("etc/default/kubelet"),
        "KUBELET_EXTRA_ARGS=\"--node-ip=10.0.0.1\"\n",
    )
    .unwrap();
    let out = root.sh("echo kubelet install | dpkg --set-selections");
    assert!(out.status.success());
    std::fs::remove_file(root.file("etc/modules-load.d/overlay.conf")).unwrap();
}

/// The four drifted items are still as [`drift`] left them (a dry run changed nothing).
pub fn still_drifted(root: &Root) -> Vec<String> {
    let mut bad = Vec::new();
    let read = |rel: &str| std::fs::read_to_string(root.file(rel)).unwrap_or_default();
    if !read("etc/sysctl.d/99-kubernetes-cri.conf").starts_with("net.ipv4.ip_forward=0\n") {
        bad.push("the drifted sysctl file was changed".into());
    }
    if read("etc/default/kubelet") != "KUBELET_EXTRA_ARGS=\"--node-ip=10.0.0.1\"\n" {
        bad.push("the drifted kubelet defaults were changed".into());
    }
    if root.exists("etc/modules-load.d/overlay.conf") {
        bad.push("the removed modules-load file was recreated".into());
    }
    let held = root.sh("apt-mark showhold");
    if String::from_utf8_lossy(&held.stdout)
        .lines()
        .any(|l| l == "kubelet")
    {
        bad.push("kubelet was held again".into());
    }
    bad
}
