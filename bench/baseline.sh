# The shell baseline of the benchmark: what playbooks/worker.yml does to a fresh host, as one
# plain POSIX script with no engine around it (no state checks, no idempotence, no diffs).
# bench/shell.sh pipes it into `sudo sh -s` over one SSH session per host, after lines setting
# NODE_IP and URL. The result must pass the same state checker as every engine.
set -eu
export DEBIAN_FRONTEND=noninteractive
K8S="$URL/core:/stable:/v1.32/deb/"
CRIO="$URL/isv:/cri-o:/stable:/v1.32/deb/"

# sshd hardening: an early drop-in plus the main file, validated.
cat > /etc/ssh/sshd_config.d/00-hardening.conf <<'CONF'
# Managed by prov (playbooks/worker.yml): read before other drop-ins.
PermitRootLogin no
PasswordAuthentication no
PubkeyAuthentication yes
KbdInteractiveAuthentication no
ChallengeResponseAuthentication no
CONF
sed -i -E -e 's/^#?PermitRootLogin .*/PermitRootLogin no/' \
    -e 's/^#?PasswordAuthentication .*/PasswordAuthentication no/' \
    -e 's/^#?PubkeyAuthentication .*/PubkeyAuthentication yes/' \
    -e 's/^#?KbdInteractiveAuthentication .*/KbdInteractiveAuthentication no/' /etc/ssh/sshd_config
sshd -t

# The admin user, passwordless sudo, keys from the keys endpoint.
id boxp >/dev/null 2>&1 || useradd -m -s /bin/bash -G sudo boxp
echo 'boxp ALL=(ALL:ALL) NOPASSWD: ALL' > /etc/sudoers.d/boxp.tmp
visudo -cf /etc/sudoers.d/boxp.tmp >/dev/null
chmod 440 /etc/sudoers.d/boxp.tmp && mv /etc/sudoers.d/boxp.tmp /etc/sudoers.d/boxp
install -d -m 700 -o boxp -g boxp /home/boxp/.ssh
curl -fsS "$URL/boxp.keys" > /home/boxp/.ssh/authorized_keys
chown boxp:boxp /home/boxp/.ssh/authorized_keys && chmod 600 /home/boxp/.ssh/authorized_keys

# Static address with netplan, validated.
install -d /etc/netplan
cat > /etc/netplan/01-prov.yaml <<CONF
network:
  version: 2
  renderer: networkd
  ethernets:
    primary:
      match:
        name: "e*"
      dhcp4: false
      dhcp6: false
      addresses:
        - $NODE_IP/24
      routes:
        - to: default
          via: 192.168.10.1
      nameservers:
        addresses:
          - 8.8.8.8
          - 8.8.4.4
CONF
chmod 600 /etc/netplan/01-prov.yaml
netplan generate

# Repositories: keyrings de-armored, deb822 sources with Signed-By and Architectures.
install -d -m 755 /etc/apt/keyrings
curl -fsSL "${K8S}Release.key" | gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
curl -fsSL "${CRIO}Release.key" | gpg --batch --yes --dearmor -o /etc/apt/keyrings/cri-o-apt-keyring.gpg
printf 'Types: deb\nURIs: %s\nSuites: /\nArchitectures: amd64\nSigned-By: /etc/apt/keyrings/kubernetes-apt-keyring.gpg\n' "$K8S" \
    > /etc/apt/sources.list.d/kubernetes.sources
printf 'Types: deb\nURIs: %s\nSuites: /\nArchitectures: amd64\nSigned-By: /etc/apt/keyrings/cri-o-apt-keyring.gpg\n' "$CRIO" \
    > /etc/apt/sources.list.d/cri-o.sources
apt-get update -qq
apt-get install -y -qq kubelet=1.32.0-1.1 kubeadm=1.32.0-1.1 kubectl=1.32.0-1.1 cri-o >/dev/null
apt-mark hold kubelet kubeadm kubectl cri-o >/dev/null

# Kernel modules, kernel parameters, no swap, kubelet settings, units at boot.
echo overlay > /etc/modules-load.d/overlay.conf
echo br_netfilter > /etc/modules-load.d/br_netfilter.conf
printf 'net.ipv4.ip_forward=1\nnet.bridge.bridge-nf-call-iptables=1\nnet.bridge.bridge-nf-call-ip6tables=1\n' \
    > /etc/sysctl.d/99-kubernetes-cri.conf
sed -i -E 's/^([^#[:space:]][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]].*)$/# \1/' /etc/fstab
echo "KUBELET_EXTRA_ARGS=\"--node-ip=$NODE_IP --cluster-dns=10.96.0.10 --cluster-domain=cluster.local\"" > /etc/default/kubelet
systemctl enable kubelet crio >/dev/null 2>&1
