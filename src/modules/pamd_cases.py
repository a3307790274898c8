"""Regenerate pamd_cases.json: run community.general's pamd module (from the test fixtures'
Ansible venv) on each file and arguments, and record what it returned and the file it wrote.

    ~/.cache/prov-test/ansible-12.3.0/bin/python src/modules/pamd_cases.py > src/modules/pamd_cases.json

The "# Updated by Ansible - <time>" mark is recorded as "# Updated by Ansible - TIME".
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import ansible_collections.community.general.plugins.modules.pamd as pamd

COMMON_AUTH = """#
# /etc/pam.d/common-auth - authentication settings common to all services
#
auth\t[success=1 default=ignore]\tpam_unix.so nullok
# here's the fallback if no module succeeds
auth\trequisite\t\t\tpam_deny.so
auth\trequired\t\t\tpam_permit.so
"""

SSHD = """# PAM configuration for the Secure Shell service

# Standard Un*x authentication.
@include common-auth

account    required     pam_nologin.so
@include common-account
session [success=ok ignore=ignore module_unknown=ignore default=bad]        pam_selinux.so close
session    required     pam_loginuid.so
session    optional     pam_keyinit.so force revoke
session    required     pam_env.so user_readenv=1 envfile=/etc/default/locale
-session   optional     pam_systemd.so
password   required     pam_unix.so obscure sha512 minlen=8
"""

UPDATED = """auth required pam_env.so
# Updated by Ansible - 2020-01-01T00:00:00
auth sufficient pam_unix.so try_first_pass
"""

ARGS_BRACKET = """session required pam_env.so readenv=1 [envfile=/etc/default/locale lang=C] user_readenv=0
auth required pam_faillock.so preauth silent audit deny=3 unlock_time=600
"""

CASES = [
    # updated
    (COMMON_AUTH, dict(type="auth", control="required", module_path="pam_permit.so", new_control="sufficient")),
    (COMMON_AUTH, dict(type="auth", control="required", module_path="pam_permit.so", new_control="required")),
    (COMMON_AUTH, dict(type="auth", control="[success=1 default=ignore]", module_path="pam_unix.so", new_control="[success=2 default=ignore]")),
    (COMMON_AUTH, dict(type="auth", control="[success=1 default=ignore]", module_path="pam_unix.so", module_arguments=["nullok", "try_first_pass"])),
    (COMMON_AUTH, dict(type="auth", control="[success=1 default=ignore]", module_path="pam_unix.so", module_arguments=["nullok"])),
    (COMMON_AUTH, dict(type="auth", control="[success=1 default=ignore]", module_path="pam_unix.so", module_arguments=[])),
    (COMMON_AUTH, dict(type="auth", control="requisite", module_path="pam_deny.so", new_type="account", new_module_path="pam_nologin.so")),
    (COMMON_AUTH, dict(type="auth", control="optional", module_path="pam_deny.so", new_control="required")),
    (COMMON_AUTH, dict(type="auth", control="[success=1 default=ignore]", module_path="pam_unix.so", new_control="[success = 1 default = ignore]")),
    (SSHD, dict(type="session", control="[success=ok ignore=ignore module_unknown=ignore default=bad]", module_path="pam_selinux.so", new_control="[success=ok ignore=ignore module_unknown=ignore default=die]")),
    (SSHD, dict(type="-session", control="optional", module_path="pam_systemd.so", module_arguments=["[foo bar] baz"])),
    (UPDATED, dict(type="auth", control="sufficient", module_path="pam_unix.so", new_control="requisite")),
    # before
    (COMMON_AUTH, dict(state="before", type="auth", control="required", module_path="pam_permit.so", new_type="auth", new_control="optional", new_module_path="pam_faildelay.so", module_arguments=["delay=2000000"])),
    (COMMON_AUTH, dict(state="before", type="auth", control="required", module_path="pam_permit.so", new_type="auth", new_control="requisite", new_module_path="pam_deny.so")),
    (COMMON_AUTH, dict(state="before", type="auth", control="[success=1 default=ignore]", module_path="pam_unix.so", new_type="auth", new_control="required", new_module_path="pam_faillock.so", module_arguments="preauth")),
    (SSHD, dict(state="before", type="account", control="required", module_path="pam_nologin.so", new_type="account", new_control="required", new_module_path="pam_access.so")),
    ("auth required pam_env.so\n", dict(state="before", type="auth", control="required", module_path="pam_env.so", new_type="auth", new_control="required", new_module_path="pam_faildelay.so")),
    (COMMON_AUTH, dict(state="before", type="auth", control="required", module_path="pam_nothere.so", new_type="auth", new_control="required", new_module_path="pam_x.so")),
    (COMMON_AUTH, dict(state="before", type="auth", control="required", module_path="pam_permit.so", new_type="auth", new_control="required")),
    # after
    (COMMON_AUTH, dict(state="after", type="auth", control="requisite", module_path="pam_deny.so", new_type="auth", new_control="optional", new_module_path="pam_cap.so")),
    (COMMON_AUTH, dict(state="after", type="auth", control="requisite", module_path="pam_deny.so", new_type="auth", new_control="required", new_module_path="pam_permit.so")),
    (COMMON_AUTH, dict(state="after", type="auth", control="required", module_path="pam_permit.so", new_type="auth", new_control="optional", new_module_path="pam_cap.so")),
    (COMMON_AUTH + "# trailing comment\n\n", dict(state="after", type="auth", control="required", module_path="pam_permit.so", new_type="auth", new_control="optional", new_module_path="pam_cap.so")),
    (SSHD, dict(state="after", type="session", control="required", module_path="pam_loginuid.so", new_type="session", new_control="[success=ok default=ignore]", new_module_path="pam_motd.so", module_arguments=["motd=/run/motd.dynamic", "noupdate"])),
    # args_present
    (SSHD, dict(state="args_present", type="session", control="required", module_path="pam_env.so", module_arguments=["user_readenv=0"])),
    (SSHD, dict(state="args_present", type="session", control="required", module_path="pam_env.so", module_arguments=["user_readenv=1"])),
    (SSHD, dict(state="args_present", type="password", control="required", module_path="pam_unix.so", module_arguments=["rounds=5000"])),
    (SSHD, dict(state="args_present", type="password", control="required", module_path="pam_unix.so", module_arguments=["minlen=12", "use_authtok"])),
    (SSHD, dict(state="args_present", type="password", control="required", module_path="pam_unix.so", module_arguments=["sha512"])),
    (SSHD, dict(state="args_present", type="password", control="required", module_path="pam_unix.so", module_arguments=["[foo=bar]"])),
    (ARGS_BRACKET, dict(state="args_present", type="session", control="required", module_path="pam_env.so", module_arguments=["readenv=0"])),
    (ARGS_BRACKET, dict(state="args_present", type="auth", control="required", module_path="pam_faillock.so", module_arguments="deny=5")),
    (SSHD, dict(state="args_present", type="password", control="required", module_path="pam_unix.so", module_arguments=["a=b=c"])),
    # args_absent
    (SSHD, dict(state="args_absent", type="password", control="required", module_path="pam_unix.so", module_arguments=["obscure"])),
    (SSHD, dict(state="args_absent", type="password", control="required", module_path="pam_unix.so", module_arguments=["nothere", "minlen=6"])),
    (SSHD, dict(state="args_absent", type="session", control="optional", module_path="pam_keyinit.so", module_arguments=["force", "revoke"])),
    (ARGS_BRACKET, dict(state="args_absent", type="session", control="required", module_path="pam_env.so", module_arguments=["[envfile=/etc/default/locale lang=C]"])),
    # absent
    (COMMON_AUTH, dict(state="absent", type="auth", control="requisite", module_path="pam_deny.so")),
    (COMMON_AUTH, dict(state="absent", type="auth", control="required", module_path="pam_nothere.so")),
    ("auth required pam_env.so\nauth required pam_unix.so\n", dict(state="absent", type="auth", control="required", module_path="pam_env.so")),
    ("auth required pam_env.so\n", dict(state="absent", type="auth", control="required", module_path="pam_env.so")),
    ("auth required pam_env.so\nauth required pam_env.so debug\nauth required pam_unix.so\n", dict(state="absent", type="auth", control="required", module_path="pam_env.so")),
    (SSHD, dict(state="absent", type="-session", control="optional", module_path="pam_systemd.so")),
    # validation and odd files
    ("  # indented comment\nauth required pam_env.so\n", dict(type="auth", control="required", module_path="pam_env.so", new_control="optional")),
    ("auth bogus pam_env.so\n", dict(type="auth", control="bogus", module_path="pam_env.so", module_arguments=["x"])),
    ("auth [success=foo] pam_env.so\n", dict(type="auth", control="required", module_path="pam_env.so")),
    ("auth [success=-1] pam_env.so\n", dict(type="auth", control="required", module_path="pam_env.so")),
    ("auth [whatever=ok] pam_env.so\n", dict(type="auth", control="required", module_path="pam_env.so")),
    ("auth [success=1  default=ignore] pam_env.so\n", dict(type="auth", control="required", module_path="pam_env.so")),
    ("this is not pam\n", dict(type="auth", control="required", module_path="pam_env.so")),
    ("xxauth   required    pam_env.so   a   b\r\nauth required pam_unix.so\n", dict(type="auth", control="required", module_path="pam_unix.so", new_control="sufficient")),
    ("", dict(state="before", type="auth", control="required", module_path="pam_env.so", new_type="auth", new_control="required", new_module_path="pam_x.so")),
    (None, dict(type="auth", control="required", module_path="pam_env.so")),
    ("auth required pam_env.so\n", dict(state="args_present", type="auth", control="required", module_path="pam_env.so")),
    ("auth required pam_env.so\n", dict(state="after", type="auth", control="required", module_path="pam_env.so", new_type="auth")),
]


def main():
    py = sys.executable
    # A copy outside the collection's modules directory, whose pkgutil.py would shadow Python's.
    tmp = tempfile.mkdtemp()
    src = os.path.join(tmp, "pamd.py")
    with open(pamd.__file__) as a, open(src, "w") as b:
        b.write(a.read())
    out = []
    for text, args in CASES:
        with tempfile.TemporaryDirectory() as d:
            f = os.path.join(d, "svc")
            if text is not None:
                with open(f, "w", newline="") as fh:
                    fh.write(text)
            margs = dict(args, name="svc", path=d)
            with open(os.path.join(d, "args.json"), "w") as fh:
                json.dump({"ANSIBLE_MODULE_ARGS": margs}, fh)
            p = subprocess.run([py, src, os.path.join(d, "args.json")], capture_output=True, text=True)
            case = {"input": text, "args": args}
            try:
                res = json.loads(p.stdout)
            except ValueError:
                # A crash: Python's exception, as Ansible reports it (MODULE FAILURE).
                case.update(failed=True, crash=p.stderr.strip().splitlines()[-1])
                out.append(case)
                continue
            case["failed"] = bool(res.get("failed"))
            if case["failed"]:
                case["msg"] = res["msg"].replace(d, "DIR")
            else:
                case["changed"] = res["changed"]
                case["change_count"] = res["change_count"]
                with open(f, newline="") as fh:
                    after = fh.read()
                case["after"] = re.sub(r"(?m)^# Updated by Ansible - \S+$", "# Updated by Ansible - TIME", after)
            out.append(case)
    print("[")
    print(",\n".join(json.dumps(c) for c in out))
    print("]")


main()
