"""Make build/collections/ansible_collections/cageforge/nexcage show this checkout to Ansible.

A directory of links to each top-level entry, not one link to the checkout: the
checkout holds build/ itself, and a link to it makes a loop that tree walks
(ansible-playbook, ansible-lint) follow ever deeper.
"""

import os
import sys

SKIP = {"build", "collections", ".git", ".venv", ".cache"}


def link_collection(top):
    dest = os.path.join(top, "build", "collections", "ansible_collections", "cageforge", "nexcage")
    if os.path.islink(dest):
        os.unlink(dest)
    os.makedirs(dest, exist_ok=True)
    wanted = {name for name in os.listdir(top) if name not in SKIP}
    for name in os.listdir(dest):
        if name not in wanted:
            os.unlink(os.path.join(dest, name))
    for name in wanted:
        link = os.path.join(dest, name)
        if not os.path.islink(link):
            os.symlink(os.path.join(top, name), link)
    return os.path.dirname(os.path.dirname(os.path.dirname(dest)))


if __name__ == "__main__":
    link_collection(
        os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    )
