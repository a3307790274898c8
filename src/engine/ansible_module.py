# Build one Ansible module invocation the way ansible-core does (prov's fallback for modules it
# does not implement). Run on the controller by a Python that has ansible-core; reads a JSON
# request on stdin and prints one JSON answer:
#   request: {"module", "args", "check", "diff", "no_log", "verbosity", "library": [dirs],
#             "python": target interpreter}
#   answer:  {"fqcn", "path", "style", "payload": base64 of the AnsiballZ script}
#            or {"error": message}
# The payload carries the module, its module_utils and the arguments; the target runs it with
# its Python reading the script on stdin (Ansible's pipelining).
import base64
import json
import sys


def main():
    req = json.load(sys.stdin)
    try:
        from ansible import __version__
        from ansible.executor.module_common import modify_module
        from ansible.parsing.dataloader import DataLoader
        from ansible.plugins.loader import init_plugin_loader, module_loader
        from ansible.template import Templar
    except Exception as e:  # noqa: BLE001 - any import failure means "no usable ansible-core"
        return {"error": "ansible-core cannot be imported: %s" % e}
    init_plugin_loader()
    for d in req.get("library") or []:
        module_loader.add_directory(d)
    found = module_loader.find_plugin_with_context(req["module"], mod_type=".py")
    if not found.resolved:
        return {"error": "Ansible does not know a module named '%s' either (not in ansible-core, "
                "an installed collection or a library/ directory)" % req["module"]}
    args = dict(req.get("args") or {})
    args.update({
        "_ansible_check_mode": bool(req.get("check")),
        "_ansible_no_log": bool(req.get("no_log")),
        "_ansible_debug": False,
        "_ansible_diff": bool(req.get("diff")),
        "_ansible_verbosity": int(req.get("verbosity") or 0),
        "_ansible_version": __version__,
        "_ansible_module_name": found.resolved_fqcn,
        "_ansible_syslog_facility": "LOG_USER",
        "_ansible_selinux_special_fs": ["fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"],
        "_ansible_socket": None,
        "_ansible_shell_executable": "/bin/sh",
        "_ansible_keep_remote_files": False,
        "_ansible_tmpdir": None,
        "_ansible_remote_tmp": "~/.ansible/tmp",
        "_ansible_ignore_unknown_opts": False,
        "_ansible_target_log_info": None,
        "_ansible_tracebacks_for": [],
    })
    task_vars = {"ansible_python_interpreter": req.get("python") or "/usr/bin/python3"}
    built = modify_module(
        module_name=found.resolved_fqcn,
        module_path=found.plugin_resolved_path,
        module_args=args,
        templar=Templar(loader=DataLoader(), variables=task_vars),
        task_vars=task_vars,
        module_compression="ZIP_DEFLATED",
        environment={},
    )
    if built.module_style != "new":
        return {"error": "module %s is an '%s' style module; prov runs Ansible's Python modules "
                "(AnsiballZ) only" % (found.resolved_fqcn, built.module_style)}
    return {
        "fqcn": found.resolved_fqcn,
        "path": found.plugin_resolved_path,
        "style": built.module_style,
        "payload": base64.b64encode(built.b_module_data).decode("ascii"),
    }


if __name__ == "__main__":
    # Whatever ansible-core prints while building goes to stderr; stdout is the answer alone.
    answer_to = sys.stdout
    sys.stdout = sys.stderr
    try:
        answer = main()
    except Exception as e:  # noqa: BLE001 - reported to prov as the task's error
        answer = {"error": "building the module failed: %s: %s" % (type(e).__name__, e)}
    json.dump(answer, answer_to)
