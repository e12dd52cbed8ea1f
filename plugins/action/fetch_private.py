# -*- coding: utf-8 -*-
# Copyright: kubesmith maintainers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Action plugin ``kubesmith.cluster.fetch_private``: ansible.builtin.fetch for secrets (documented in
plugins/modules/fetch_private.py). The directory on the controller must be private (made 0700 when missing, refused
when open to others), then the builtin fetch runs and the copy is made 0600. Decisions in module_utils/private_dir.py.
"""

from __future__ import absolute_import, annotations, division, print_function

import os

from ansible.plugins.action.fetch import ActionModule as FetchAction
from ansible_collections.kubesmith.cluster.plugins.module_utils import private_dir

# What fetch_private takes (documented in plugins/modules/fetch_private.py): fetch's options for one file.
ARGUMENT_SPEC = dict(
    src=dict(type="str", required=True),
    dest=dict(type="str", required=True),
    flat=dict(type="bool", required=True),
    fail_on_missing=dict(type="bool", default=True),
    validate_checksum=dict(type="bool", default=True),
)


class ActionModule(FetchAction):
    def run(self, tmp=None, task_vars=None):
        self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)  # unknown or missing options fail here, by name
        args = self._task.args
        dest = os.path.expanduser(str(args.get("dest") or ""))
        if not args.get("flat"):
            return {"failed": True, "msg": "fetch_private copies one file to one place: use flat: true"}
        directory = dest if dest.endswith("/") else os.path.dirname(dest)
        created, error = private_dir.prepare(os.path.abspath(directory) if directory else "", self._task.check_mode)
        if error:
            return {"failed": True, "msg": "refusing to copy a secret to the controller: %s" % error}
        result = super().run(tmp, task_vars)
        copy = result.get("dest")
        loose = copy and os.path.isfile(copy) and os.stat(copy).st_mode & 0o777 != private_dir.PRIVATE_FILE_MODE
        if not result.get("failed") and loose:
            os.chmod(copy, private_dir.PRIVATE_FILE_MODE)
            result["changed"] = True
        result["changed"] = bool(result.get("changed")) or created
        return result
