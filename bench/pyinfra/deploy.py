"""The worker playbook (playbooks/worker.yml) as a pyinfra 3 deploy, for benchmarks against prov.

Same end state as `prov apply playbooks/worker.yml` (roles user_management,
network_configuration and kubernetes_components, then the SSH hardening tasks and the handlers).
The role templates are used as they are, from ../../roles/*/templates/.

    pyinfra -y INVENTORY.py bench/pyinfra/deploy.py                       # SSH hosts
    pyinfra -y @chroot/ROOT bench/pyinfra/deploy.py --data node_ip=192.168.10.101 \
        --data kubernetes_apt_base_url=URL --data crio_apt_base_url=URL \
        --data user_management_github_keys_url=URL/boxp.keys                # an image root

pyinfra mounts nothing: a chroot needs /proc, /dev, /sys and /run prepared (as prov does).

Host data (defaults = the role defaults and inventory/production values): node_ip (required),
node_name (default: the host name), is_chroot (default: detected like Ansible's
ansible_is_chroot), kubernetes_apt_base_url, crio_apt_base_url, user_management_github_keys_url,
kubernetes_version, kubernetes_package_version, crio_version, crio_package_version,
cluster_dns, cluster_domain, network_gateway, network_dns_servers (a JSON list with --data),
network_prefix, ... (every name in the roles' defaults/main.yml can be overridden).

Live-only actions (netplan apply, sysctl -p, swapoff, modprobe, service restarts) are skipped
when the target is a chroot. Fetches (signing keys, GitHub keys) happen on the controller, as
prov does; the keys are de-armored here and uploaded with files.put, so a keyring is written
only when it is missing or different.
"""

import base64
import hashlib
import io
import re
import urllib.request
from pathlib import Path

from pyinfra import host
from pyinfra.api import DeployError, FactBase
from pyinfra.facts.files import Directory, File
from pyinfra.facts.server import Arch, Users
from pyinfra.operations import apt, files, server, systemd
from pyinfra.operations.util import any_changed

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"


# --- Facts -----------------------------------------------------------------------------------


class IsChroot(FactBase):
    """True when / is not PID 1's root (Ansible's ansible_is_chroot, same fallbacks)."""

    command = (
        'if [ -n "${debian_chroot:-}" ]; then echo true; '
        "elif p=$(stat -c %d:%i /proc/1/root/ 2>/dev/null); then "
        '[ "$(stat -c %d:%i /)" = "$p" ] && echo false || echo true; '
        "else case $(stat -f -c %T / 2>/dev/null) in btrfs) i=256;; xfs) i=128;; *) i=2;; esac; "
        '[ "$(stat -c %i /)" = "$i" ] && echo false || echo true; fi'
    )

    def process(self, output):
        return output[0].strip() == "true"


class HeldPackages(FactBase):
    """Packages whose dpkg selection is hold."""

    command = "apt-mark showhold"
    default = list

    def process(self, output):
        return [line.strip() for line in output if line.strip()]


class UnitFileState(FactBase):
    """`systemctl is-enabled UNIT` (works offline, in a chroot too); empty if no such unit."""

    def command(self, unit):
        return f"systemctl is-enabled {unit} 2>/dev/null || true"

    def process(self, output):
        return output[0].strip() if output else ""


class ActiveSwaps(FactBase):
    """Active swap areas (/proc/swaps without its header)."""

    command = "tail -n +2 /proc/swaps 2>/dev/null || true"
    default = list

    def process(self, output):
        return [line for line in output if line.strip()]


# --- Variables (role defaults, then inventory values, then host data) -------------------------


def var(name, default=None):
    value = host.data.get(name)
    return default if value is None else value


node_ip = var("node_ip")
if not node_ip:
    raise DeployError(f"{host.name}: node_ip is not set (--data node_ip=... or inventory data)")
node_name = var("node_name", host.name)  # carried like the playbook's play var; no role uses it
cluster_dns = var("cluster_dns", "10.96.0.10")
cluster_domain = var("cluster_domain", "cluster.local")

is_chroot = host.data.get("is_chroot")
if is_chroot is None:
    is_chroot = host.get_fact(IsChroot)
is_chroot = str(is_chroot).lower() in ("true", "1", "yes")

# user_management (role vars in the playbook: use GitHub keys of boxp)
um_username = var("user_management_username", "boxp")
um_shell = var("user_management_shell", "/bin/bash")
um_groups = var("user_management_groups", ["sudo"])
um_passwordless_sudo = var("user_management_passwordless_sudo", True)
um_use_github_keys = var("user_management_use_github_keys", True)
um_github_username = var("user_management_github_username", "boxp")
um_github_keys_url = var(
    "user_management_github_keys_url", f"https://github.com/{um_github_username}.keys"
)
um_keys_exclusive = var("user_management_authorized_keys_exclusive", False)

# network_configuration
network = {
    "network_ip_address": var("network_ip_address", node_ip),
    "network_prefix": var("network_prefix", 24),
    "network_gateway": var("network_gateway", "192.168.10.1"),
    "network_dns_servers": var("network_dns_servers", ["8.8.8.8", "8.8.4.4"]),
    "network_interface_name_match": var("network_interface_name_match", "e*"),
    "network_interface_macaddress": var("network_interface_macaddress", ""),
    "network_renderer": var("network_renderer", "networkd"),
}
network_netplan_file = var("network_netplan_file", "/etc/netplan/01-prov.yaml")
network_remove_cloud_init_config = var("network_remove_cloud_init_config", False)
network_cloud_init_files = var("network_cloud_init_files", ["/etc/netplan/50-cloud-init.yaml"])
network_netplan_validate = var(
    "network_netplan_validate",
    "sh -c 'd=$(mktemp -d) && mkdir -p \"$d/etc/netplan\" && cp \"$0\" "
    '"$d/etc/netplan/01-prov.yaml" && chmod 600 "$d/etc/netplan/01-prov.yaml" '
    "&& netplan generate --root-dir \"$d\"; r=$?; rm -rf \"$d\"; exit $r' %s",
)

# kubernetes_components
kubernetes_version = var("kubernetes_version", "1.32")
kubernetes_package_version = var("kubernetes_package_version", "1.32.0-1.1")
crio_version = var("crio_version", "1.32")
crio_package_version = var("crio_package_version", "")
kubernetes_apt_base_url = var("kubernetes_apt_base_url", "https://pkgs.k8s.io")
crio_apt_base_url = var("crio_apt_base_url", "https://download.opensuse.org/repositories")
architecture = host.get_fact(Arch)  # ansible_architecture
k8s_repo_default = f"{kubernetes_apt_base_url}/core:/stable:/v{kubernetes_version}/deb/"
crio_repo_default = f"{crio_apt_base_url}/isv:/cri-o:/stable:/v{crio_version}/deb/"
if architecture == "x86_64":
    kubernetes_apt_repository = var("kubernetes_apt_repository_x86_64", k8s_repo_default)
    crio_apt_repository = var("crio_apt_repository_x86_64", crio_repo_default)
else:
    kubernetes_apt_repository = var("kubernetes_apt_repository_arm64", k8s_repo_default)
    crio_apt_repository = var("crio_apt_repository_arm64", crio_repo_default)
kubernetes_apt_repository = var("kubernetes_apt_repository", kubernetes_apt_repository)
crio_apt_repository = var("crio_apt_repository", crio_apt_repository)
deb_architecture = var(
    "kubernetes_deb_architecture",
    {"x86_64": "amd64", "aarch64": "arm64"}.get(architecture, architecture),
)
kubernetes_apt_key_url = var("kubernetes_apt_key_url", f"{kubernetes_apt_repository}Release.key")
crio_apt_key_url = var("crio_apt_key_url", f"{crio_apt_repository}Release.key")
kubernetes_apt_key_fingerprint = var("kubernetes_apt_key_fingerprint", "")
crio_apt_key_fingerprint = var("crio_apt_key_fingerprint", "")
kubernetes_keyring = var("kubernetes_keyring", "/etc/apt/keyrings/kubernetes-apt-keyring.gpg")
crio_keyring = var("crio_keyring", "/etc/apt/keyrings/cri-o-apt-keyring.gpg")
kubernetes_apt_cache_valid_time = var("kubernetes_apt_cache_valid_time", 3600)
kubernetes_packages = var("kubernetes_packages", ["kubelet", "kubeadm", "kubectl"])
kubernetes_kernel_modules = var("kubernetes_kernel_modules", ["overlay", "br_netfilter"])
kubernetes_sysctl_file = var("kubernetes_sysctl_file", "/etc/sysctl.d/99-kubernetes-cri.conf")
kubernetes_sysctl = var(
    "kubernetes_sysctl",
    {
        "net.ipv4.ip_forward": 1,
        "net.bridge.bridge-nf-call-iptables": 1,
        "net.bridge.bridge-nf-call-ip6tables": 1,
    },
)
kubelet = {
    "kubelet_node_ip": var("kubelet_node_ip", node_ip),
    "kubelet_cluster_dns": var("kubelet_cluster_dns", cluster_dns),
    "kubelet_cluster_domain": var("kubelet_cluster_domain", cluster_domain),
    "kubelet_extra_args": var("kubelet_extra_args", ""),
}


# --- Controller-side fetches (prov and Ansible's url lookups fetch on the controller) ----------


def fetch(url):
    """GET url once per run (the deploy file runs once per host)."""
    cache = getattr(host.state, "worker_deploy_fetches", None)
    if cache is None:
        cache = host.state.worker_deploy_fetches = {}
    if url not in cache:
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                cache[url] = r.read()
        except Exception as e:  # urllib.error.HTTPError, URLError, timeouts
            raise DeployError(f"Failed to download {url}: {e}") from e
    return cache[url]


def dearmor(data, url):
    """Binary OpenPGP data of an ASCII-armored key (what `gpg --dearmor` writes)."""
    text = data.decode("ascii", "replace")
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in text:
        if data[:1] and data[0] & 0x80:  # already binary
            return data
        raise DeployError(f"{url}: not an OpenPGP public key")
    body = text.split("-----BEGIN PGP PUBLIC KEY BLOCK-----", 1)[1]
    body = body.split("-----END PGP PUBLIC KEY BLOCK-----", 1)[0]
    lines = body.strip("\r\n").splitlines()
    if "" in [line.strip() for line in lines]:  # armor headers end at the first blank line
        lines = lines[[line.strip() for line in lines].index("") + 1 :]
    b64 = "".join(line.strip() for line in lines if line.strip() and not line.startswith("="))
    return base64.b64decode(b64)


def fingerprints(binary):
    """Fingerprints (upper-case hex) of the primary keys and subkeys in binary OpenPGP data."""
    out, i = [], 0
    while i < len(binary):
        ctb = binary[i]
        if ctb & 0x40:  # new format
            tag, i = ctb & 0x3F, i + 1
            first = binary[i]
            if first < 192:
                length, i = first, i + 1
            elif first < 224:
                length, i = ((first - 192) << 8) + binary[i + 1] + 192, i + 2
            else:
                length, i = int.from_bytes(binary[i + 1 : i + 5], "big"), i + 5
        else:  # old format
            tag, ltype, i = (ctb >> 2) & 0x0F, ctb & 3, i + 1
            n = {0: 1, 1: 2, 2: 4}[ltype]
            length, i = int.from_bytes(binary[i : i + n], "big"), i + n
        body = binary[i : i + length]
        i += length
        if tag in (6, 14) and body:
            if body[0] == 4:
                fpr = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest()
            else:  # v5 / v6
                prefix = b"\x9a" if body[0] == 5 else b"\x9b"
                fpr = hashlib.sha256(prefix + len(body).to_bytes(4, "big") + body).hexdigest()
            out.append(fpr.upper())
    return out


def signing_key(url, key_id):
    binary = dearmor(fetch(url), url)
    if key_id:
        want = key_id.replace(" ", "").upper().removeprefix("0X")
        if not any(f.endswith(want) for f in fingerprints(binary)):
            raise DeployError(f"{url}: the key does not match id {key_id}")
    return io.BytesIO(binary)


def github_keys(url):
    """The keys at url, refusing an empty answer or one that is not a list of public keys."""
    text = fetch(url).decode("utf-8", "replace")
    keys = [line.strip() for line in text.splitlines() if line.strip()]
    key_re = re.compile(r"^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+ [A-Za-z0-9+/=]+( .*)?$")
    if not keys or not all(key_re.match(k) for k in keys):
        raise DeployError(f"{url}: not a list of SSH public keys (authorized_keys left as is)")
    return keys


# --- Role user_management --------------------------------------------------------------------

server.user(
    name="Create the admin user",
    user=um_username,
    shell=um_shell,
    groups=um_groups,
    append=True,
    create_home=True,
    ensure_home=False,  # like Ansible's create_home: an existing home is left as it is
)

if um_passwordless_sudo:
    sudoers = files.put(
        name="Passwordless sudo for the admin user",
        src=io.StringIO(f"{um_username} ALL=(ALL:ALL) NOPASSWD: ALL\n"),
        dest=f"/etc/sudoers.d/{um_username}",
        user="root",
        group="root",
        mode="440",
    )
    # Ansible validates before writing (validate: visudo -cf %s); pyinfra has no validate:
    # check after writing and take a bad file away again so sudo keeps working.
    server.shell(
        name="Validate the sudoers drop-in",
        commands=[
            f"visudo -cf /etc/sudoers.d/{um_username} "
            f"|| {{ rm -f /etc/sudoers.d/{um_username}; exit 1; }}"
        ],
        _if=sudoers.did_change,
    )

if um_use_github_keys:
    keys = github_keys(um_github_keys_url)
    existing_user = host.get_fact(Users).get(um_username)
    home = existing_user["home"] if existing_user else f"/home/{um_username}"
    keys_file = host.get_fact(File, path=f"{home}/.ssh/authorized_keys")
    if keys_file and int(keys_file["size"]) > 0:
        server.user_authorized_keys(
            name="Authorized keys from GitHub",
            user=um_username,
            public_keys=keys,
            delete_keys=um_keys_exclusive,
            authorized_key_directory=f"{home}/.ssh",
        )
    else:
        # user_authorized_keys appends with files.line(ensure_newline=True), which starts a new
        # (empty) authorized_keys with a blank line: write a new file whole instead.
        files.directory(
            name="Authorized keys directory",
            path=f"{home}/.ssh",
            user=um_username,
            group=um_username,
            mode="700",
        )
        files.put(
            name="Authorized keys from GitHub",
            src=io.StringIO("".join(f"{k}\n" for k in keys)),
            dest=f"{home}/.ssh/authorized_keys",
            user=um_username,
            group=um_username,
            mode="600",
        )

# --- Role network_configuration --------------------------------------------------------------

netplan_file = files.template(
    name="Static address with netplan",
    src=str(ROLES / "network_configuration/templates/netplan.yaml.j2"),
    dest=network_netplan_file,
    user="root",
    group="root",
    mode="600",
    jinja_env_kwargs={"trim_blocks": True},  # Ansible's template defaults
    ansible_managed="Ansible managed",
    **network,
)
netplan_changes = [netplan_file]
if host.get_fact(File, path="/usr/sbin/netplan") is not None:  # a symlink counts (stat)
    server.shell(
        name="Validate the netplan file",
        commands=[network_netplan_validate.replace("%s", network_netplan_file)],
        _if=netplan_file.did_change,
    )
if network_remove_cloud_init_config:
    for path in network_cloud_init_files:
        netplan_changes.append(
            files.file(name=f"Remove conflicting cloud-init netplan file {path}", path=path,
                       present=False)
        )

# --- Role kubernetes_components ---------------------------------------------------------------

files.directory(name="Keyring directory", path="/etc/apt/keyrings", mode="755")

files.put(
    name="Kubernetes signing key",
    src=signing_key(kubernetes_apt_key_url, kubernetes_apt_key_fingerprint),
    dest=kubernetes_keyring,
    mode="644",
)
files.put(
    name="CRI-O signing key",
    src=signing_key(crio_apt_key_url, crio_apt_key_fingerprint),
    dest=crio_keyring,
    mode="644",
)


def deb822(name, uri, keyring):
    # Ansible's deb822_repository writes X-Repolib-Name first (apt.sources_file does not).
    return io.StringIO(
        f"X-Repolib-Name: {name}\nTypes: deb\nURIs: {uri}\nSuites: /\n"
        f"Architectures: {deb_architecture}\nSigned-By: {keyring}\n"
    )


repos = [
    files.put(
        name="Kubernetes repository",
        src=deb822("kubernetes", kubernetes_apt_repository, kubernetes_keyring),
        dest="/etc/apt/sources.list.d/kubernetes.sources",
        mode="644",
    ),
    files.put(
        name="CRI-O repository",
        src=deb822("cri-o", crio_apt_repository, crio_keyring),
        dest="/etc/apt/sources.list.d/cri-o.sources",
        mode="644",
    ),
]

update = apt.update(name="Update the package lists", cache_time=kubernetes_apt_cache_valid_time)
# prov (like Ansible's apt_repository) refreshes lists that are younger than cache_valid_time
# when a source changed since: the new repositories would be missing from them.
apt.update(
    name="Update the package lists (a repository changed)",
    _if=[any_changed(*repos), update.did_not_change],
)

k8s_packages = [f"{p}={kubernetes_package_version}" for p in kubernetes_packages]
k8s_packages.append(f"cri-o={crio_package_version}" if crio_package_version else "cri-o")
apt.packages(
    name="Kubernetes and CRI-O packages",
    packages=k8s_packages,
    extra_install_args="--allow-change-held-packages",
)

held = host.get_fact(HeldPackages)
not_held = [p for p in kubernetes_packages + ["cri-o"] if p not in held]
if not_held:
    server.shell(name="Hold the versions", commands=["apt-mark hold " + " ".join(not_held)])

for module in kubernetes_kernel_modules:
    files.put(
        name=f"Kernel module {module} at boot",
        src=io.StringIO(f"{module}\n"),
        dest=f"/etc/modules-load.d/{module}.conf",
        user="root",
        group="root",
        mode="644",
    )
for module in kubernetes_kernel_modules:
    # Only on a live node (in a chroot it would load into the build machine's kernel).
    # server.modprobe reads /proc/modules, where a built-in module never shows: /sys/module
    # (loaded or built in) decides, as in community.general.modprobe.
    sys_module = f"/sys/module/{module.replace('-', '_')}"
    if not is_chroot and not host.get_fact(Directory, path=sys_module):
        server.modprobe(name=f"Kernel module {module} now", module=module)

# server.sysctl(persist=True) writes "key = value"; the playbook's sysctl module "key=value".
sysctl_lines = [
    files.line(
        name=f"Kernel parameter {key}",
        path=kubernetes_sysctl_file,
        line=r"^[[:space:]]*" + key.replace(".", r"\.") + r"[[:space:]]*=",
        replace=f"{key}={value}",
    )
    for key, value in kubernetes_sysctl.items()
]
if not is_chroot:
    server.shell(
        name="Reload kernel parameters",
        commands=[f"sysctl -p {kubernetes_sysctl_file}"],
        _if=any_changed(*sysctl_lines),
    )

files.replace(
    name="No swap at boot",
    path="/etc/fstab",
    text=r"^([^#[:space:]][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]].*)$",
    replace=r"# \1",
    extended_regex=True,
)
if not is_chroot and host.get_fact(ActiveSwaps):
    server.shell(name="No swap now", commands=["swapoff -a"])

kubelet_settings = files.template(
    name="kubelet settings",
    src=str(ROLES / "kubernetes_components/templates/kubelet.j2"),
    dest="/etc/default/kubelet",
    user="root",
    group="root",
    mode="644",
    jinja_env_kwargs={"trim_blocks": True},
    ansible_managed="Ansible managed",
    **kubelet,
)

for unit in ("crio", "kubelet"):
    if not is_chroot:
        systemd.service(name=f"{unit} starts at boot", service=unit, running=None, enabled=True)
    elif host.get_fact(UnitFileState, unit=f"{unit}.service") != "enabled":
        # systemd.service reads `systemctl show`, which needs a running systemd: in a chroot
        # enable the unit offline (only the [Install] symlinks), as Ansible's systemd module does.
        server.shell(name=f"{unit} starts at boot", commands=[f"systemctl enable {unit}.service"])

# --- Play tasks: SSH server ------------------------------------------------------------------

apt.update(name="Update the package lists (OpenSSH server)", cache_time=3600)
apt.packages(name="Install OpenSSH server", packages=["openssh-server"])

# sshd keeps the first value it reads, and sshd_config includes sshd_config.d/*.conf first
# (cloud-init leaves PasswordAuthentication yes in 50-cloud-init.conf): an early drop-in wins.
ssh_changes = [
    files.put(
        name="Harden SSH before other drop-ins",
        src=io.StringIO(
            "# Managed by prov (playbooks/worker.yml): read before other drop-ins.\n"
            "PermitRootLogin no\n"
            "PasswordAuthentication no\n"
            "PubkeyAuthentication yes\n"
            "KbdInteractiveAuthentication no\n"
            "ChallengeResponseAuthentication no\n"
        ),
        dest="/etc/ssh/sshd_config.d/00-hardening.conf",
        user="root",
        group="root",
        mode="644",
    )
]
for keyword, value in (
    ("PermitRootLogin", "no"),
    ("PasswordAuthentication", "no"),
    ("PubkeyAuthentication", "yes"),
    ("KbdInteractiveAuthentication", "no"),
    ("ChallengeResponseAuthentication", "no"),
):
    ssh_changes.append(
        files.line(
            name=f"Configure SSH server: {keyword} {value}",
            path="/etc/ssh/sshd_config",
            line=f"^#?{keyword}",
            replace=f"{keyword} {value}",
            extended_regex=True,
            ensure_newline=True,
        )
    )
# The playbook validates each write (validate: sshd -t -f %s); pyinfra checks afterwards.
server.shell(
    name="Validate the SSH server configuration",
    commands=["sshd -t"],
    _if=any_changed(*ssh_changes),
)

# --- Handlers (only on a running system: a chroot gets the files, the booted node applies) ----

if not is_chroot:
    server.shell(name="Apply netplan", commands=["netplan apply"], _if=any_changed(*netplan_changes))
    systemd.service(
        name="Restart kubelet",
        service="kubelet",
        running=True,
        restarted=True,
        _if=kubelet_settings.did_change,
    )
    systemd.service(
        name="Restart SSH service",
        service="ssh",
        running=True,
        restarted=True,
        _if=any_changed(*ssh_changes),
    )
