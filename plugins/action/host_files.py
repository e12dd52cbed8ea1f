# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Action plugin ``kubesmith.cluster.host_files``: render the templates on the controller, then one module call.

Documented in ``plugins/modules/host_files.py``. ``files[].template`` is rendered with the
``ansible.builtin.template`` lookup (the role's ``templates/``, the task's variables plus ``files[].vars``), so a
file comes out byte for byte as the ``template`` module would write it. The decisions are in
``module_utils/host/files.py``, on the host.
"""

from __future__ import absolute_import, annotations, division, print_function

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import lookup_loader

MODULE = "kubesmith.cluster.host_files"
HIDDEN = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def _quoted_mode(entry):
    mode = entry.get("mode")
    if mode is not None and not isinstance(mode, str):
        raise AnsibleActionFail("%s: mode %r is a number - quote it (mode: '0644'): YAML reads an unquoted 0644 as 420"
                                % (entry.get("path"), mode))
    return entry


def render_files(files, render):
    """files with each ``template`` replaced by its rendered ``content`` (``render(name, vars) -> text``)."""
    if not isinstance(files, list):
        raise AnsibleActionFail("files must be a list, got %s" % type(files).__name__)
    out = []
    for entry in files:
        if not isinstance(entry, dict) or not entry.get("path"):
            raise AnsibleActionFail("every item of files needs a path: %r" % (entry,))
        entry = dict(entry)
        template = entry.pop("template", None)
        variables = entry.pop("vars", None) or {}
        if template is not None:
            if entry.get("content") is not None:
                raise AnsibleActionFail("%s: give content or template, not both" % entry["path"])
            entry["content"] = render(template, variables)
        elif variables:
            raise AnsibleActionFail("%s: vars are for a template" % entry["path"])
        out.append(_quoted_mode(entry))
    return out


def directory_entries(directories):
    """directories as the module takes them: a plain path stands for {path: it} (mode 0755, root)."""
    if not isinstance(directories, list):
        raise AnsibleActionFail("directories must be a list, got %s" % type(directories).__name__)
    return [{"path": d} if isinstance(d, str) else _quoted_mode(d) for d in directories]


def hide_secrets(invocation, secret_paths):
    """The module arguments echoed back, with the content of secret files replaced."""
    args = (invocation or {}).get("module_args") or {}
    for entry in args.get("files") or []:
        if isinstance(entry, dict) and entry.get("path") in secret_paths and entry.get("content") is not None:
            entry["content"] = HIDDEN


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        lookup = lookup_loader.get("ansible.builtin.template", loader=self._loader, templar=self._templar)

        def render(name, variables):
            return lookup.run([name], variables=task_vars, template_vars=variables)[0]

        args["directories"] = directory_entries(args.get("directories") or [])
        args["files"] = render_files(args.get("files") or [], render)
        secret_paths = {f["path"] for f in args["files"] if f.get("secret")}
        result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
        if secret_paths:
            hide_secrets(result.get("invocation"), secret_paths)
        return result
