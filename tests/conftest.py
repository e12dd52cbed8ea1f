"""Make the checkout importable as ``ansible_collections.kubesmith.cluster``.

The collection lives at the repository root; ``.collections`` holds a symlink
``ansible_collections/kubesmith/cluster -> ../../..`` so that Python and
Ansible resolve the FQCN to this working tree (no install step while developing).

It also puts ``tests/`` on ``sys.path``: the helpers both tiers share are imported as ``support`` (tests/support).
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".collections")
_link = os.path.join(COLLECTIONS, "ansible_collections", "kubesmith", "cluster")
if not os.path.islink(_link):
    os.makedirs(os.path.dirname(_link), exist_ok=True)
    os.symlink("../../..", _link)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
TESTS = os.path.dirname(os.path.abspath(__file__))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
