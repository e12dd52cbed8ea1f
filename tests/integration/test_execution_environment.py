"""The execution environment definition renders a valid build context (``ansible-builder create``).

Building the image needs the base image registry, package mirrors, PyPI and Galaxy, none reachable here;
``ansible-builder create`` only validates the definition (schema version 3) and writes the build context, offline.
The collection tarball is built from this checkout (``ansible-galaxy collection build``) next to a copy of
execution-environment.yml in a temporary directory, as a user would build it at the repository root.

Checked on the rendered context:
- the Containerfile: its stages, the pinned ansible-core/ansible-runner (consistent with requirements.txt and
  meta/runtime.yml), the galaxy stage installing the collection tarball after its dependencies, every COPY source
  present in the context;
- _build/requirements.yml names galaxy.yml's dependencies; _build/collections holds exactly the tarball of this
  version, carrying meta/execution-environment.yml, requirements.txt and bindep.txt as they are in the repository;
- the galaxy stage's own install command, run here with the context's files (Galaxy's part stood in for by
  ansible.posix and community.general from the dev venv's ``ansible`` package), installs the collection offline;
  ``ansible-builder introspect`` on the result - what the builder stage runs - yields the collection's Python
  packages and the ssh client for an RPM image;
- bindep.txt's Debian names are installed on this (Debian) machine, which runs the playbooks in the tests.

Run: ``pytest tests/integration -m integration`` (not collected by ``pytest tests/unit``).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
DEFINITION = os.path.join(ROOT, "execution-environment.yml")


def _yaml(path):
    with open(path) as handle:
        return yaml.safe_load(handle)


def _read(path):
    with open(path) as handle:
        return handle.read()


def _tool(name):
    path = os.path.join(BIN, name)
    assert os.access(path, os.X_OK), "%s is not in the venv (requirements-dev.txt)" % name
    return path


def _clean_env(home):
    """No ANSIBLE_* from the developer's shell or tools/test (ANSIBLE_COLLECTIONS_PATH would find the checkout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(HOME=home, PATH=BIN + os.pathsep + env.get("PATH", "/usr/bin:/bin"))
    return env


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    assert proc.returncode == 0, "%s failed (%d):\n%s\n%s" % (cmd, proc.returncode, proc.stdout, proc.stderr)
    return proc


@pytest.fixture(scope="module")
def galaxy():
    return _yaml(os.path.join(ROOT, "galaxy.yml"))


@pytest.fixture(scope="module")
def definition():
    return _yaml(DEFINITION)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """tarball + definition in a directory, then `ansible-builder create`: returns (workdir, context, output)."""
    work = tmp_path_factory.mktemp("ee")
    home = str(tmp_path_factory.mktemp("home"))
    _run([_tool("ansible-galaxy"), "collection", "build", "--force", "--output-path", str(work)], cwd=ROOT,
         env=_clean_env(home))
    shutil.copy(DEFINITION, str(work / "execution-environment.yml"))
    context = work / "context"
    proc = _run([_tool("ansible-builder"), "create", "-f", str(work / "execution-environment.yml"),
                 "-c", str(context), "-v", "3"], cwd=str(work), env=_clean_env(home))
    return work, context, proc.stdout + proc.stderr


def _stages(containerfile):
    """stage name -> its lines."""
    stages, current = {}, None
    for line in containerfile.splitlines():
        match = re.match(r"FROM \S+ AS (\w+)$", line)
        if match:
            current = match.group(1)
            stages[current] = []
        elif current:
            stages[current].append(line)
    return stages


def test_create_renders_without_warnings(build):
    _, context, output = build
    assert (context / "Containerfile").is_file()
    assert "No matches" not in output and "does not exist" not in output, output


def test_containerfile_stages_and_pins(build, definition):
    _, context, _ = build
    text = _read(str(context / "Containerfile"))
    deps = definition["dependencies"]
    assert 'ARG EE_BASE_IMAGE="%s"' % definition["images"]["base_image"]["name"] in text
    assert 'ARG PYCMD="%s"' % deps["python_interpreter"]["python_path"] in text
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', text, re.M).group(1).split()
    assert refs == [deps["ansible_core"]["package_pip"], deps["ansible_runner"]["package_pip"]]
    stages = _stages(text)
    assert list(stages) == ["base", "galaxy", "builder", "final"]
    galaxy_stage = "\n".join(stages["galaxy"])
    requirements_install = galaxy_stage.index("-r requirements.yml --collections-path")
    own_install = galaxy_stage.index("ansible-galaxy collection install --offline")
    assert requirements_install < own_install, "the tarball is installed after its dependencies"
    assert "COPY _build /build" in galaxy_stage
    builder_stage = "\n".join(stages["builder"])
    assert "COPY --from=galaxy /usr/share/ansible /usr/share/ansible" in builder_stage
    assert "introspect.py introspect" in builder_stage
    final_stage = "\n".join(stages["final"])
    assert "COPY --from=galaxy /usr/share/ansible /usr/share/ansible" in final_stage
    assert "install-from-bindep" in final_stage


def test_every_copy_source_is_in_the_context(build):
    _, context, _ = build
    sources = re.findall(r"^COPY (?!--from)(\S+) \S+$", _read(str(context / "Containerfile")), re.M)
    assert sources
    missing = [s for s in sources if not (context / s).exists()]
    assert not missing, missing


def test_pins_agree_with_the_collection_requirements(definition):
    deps = definition["dependencies"]
    core = Requirement(deps["ansible_core"]["package_pip"])
    runner = Requirement(deps["ansible_runner"]["package_pip"])
    pinned = {r.name: next(iter(r.specifier)).version for r in (core, runner)}
    assert all(len(r.specifier) == 1 and next(iter(r.specifier)).operator == "==" for r in (core, runner)), (
        "pin exact versions: the image is what AWX runs"
    )
    requirements = {}
    for line in _read(os.path.join(ROOT, "requirements.txt")).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            requirements[requirement.name] = requirement.specifier
    assert requirements["ansible-core"].contains(pinned["ansible-core"])
    assert requirements["ansible-runner"].contains(pinned["ansible-runner"])
    requires_ansible = SpecifierSet(_yaml(os.path.join(ROOT, "meta", "runtime.yml"))["requires_ansible"])
    assert requires_ansible.contains(pinned["ansible-core"])


def test_galaxy_requirements_are_the_collection_dependencies(build, galaxy):
    _, context, _ = build
    rendered = _yaml(str(context / "_build" / "requirements.yml"))
    assert {c["name"]: c["version"] for c in rendered["collections"]} == galaxy["dependencies"]


def test_context_holds_this_collection_with_its_dependency_files(build, galaxy):
    _, context, _ = build
    tarballs = sorted(os.listdir(str(context / "_build" / "collections")))
    expected = "%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"])
    assert tarballs == [expected]
    with tarfile.open(str(context / "_build" / "collections" / expected)) as tar:
        info = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
        assert (info["namespace"], info["name"], info["version"]) == (
            galaxy["namespace"], galaxy["name"], galaxy["version"]
        )
        meta = yaml.safe_load(tar.extractfile("meta/execution-environment.yml"))
        assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
        for name in ("meta/execution-environment.yml", "requirements.txt", "bindep.txt"):
            assert tar.extractfile(name).read().decode() == _read(os.path.join(ROOT, name)), name


def _append_galaxy_command(context):
    """The RUN line of additional_build_steps.append_galaxy, as rendered in the Containerfile."""
    galaxy_stage = _stages(_read(str(context / "Containerfile")))["galaxy"]
    prefix = "RUN ansible-galaxy collection install --offline"
    runs = [line[len("RUN "):] for line in galaxy_stage if line.startswith(prefix)]
    assert len(runs) == 1, galaxy_stage
    return runs[0]


def test_galaxy_stage_installs_the_collection_offline_and_introspection_finds_its_needs(build, tmp_path):
    _, context, _ = build
    # The image's /usr/share/ansible/collections after `-r requirements.yml`: the dependencies, from the dev
    # venv's `ansible` package (Galaxy is not reachable here).
    collections = tmp_path / "collections"
    import ansible_collections  # the `ansible` package's collections (requirements-dev.txt)

    for namespace, name in (("ansible", "posix"), ("community", "general")):
        shipped = [p for p in ansible_collections.__path__ if os.path.isfile(os.path.join(p, namespace, name,
                                                                                           "MANIFEST.json"))]
        assert shipped, "%s.%s not in the dev venv (the ansible package, requirements-dev.txt)" % (namespace, name)
        shutil.copytree(os.path.join(shipped[0], namespace, name),
                        str(collections / "ansible_collections" / namespace / name), symlinks=True)
    command = _append_galaxy_command(context)
    command = command.replace("/usr/share/ansible/collections", str(collections))
    command = command.replace("/build/", str(context / "_build") + "/")
    home = tmp_path / "home"
    home.mkdir()
    _run(["/bin/sh", "-ec", command], cwd=str(tmp_path), env=_clean_env(str(home)))
    installed = collections / "ansible_collections" / "kubesmith" / "cluster"
    assert (installed / "MANIFEST.json").is_file(), "the galaxy stage command did not install kubesmith.cluster"

    proc = _run([_tool("ansible-builder"), "introspect", "--sanitize", str(collections)], env=_clean_env(str(home)))
    found = yaml.safe_load(proc.stdout)
    ours = "# from collection kubesmith.cluster"
    python = [line.split("#")[0].strip() for line in found["python"] if line.endswith(ours)]
    names = {Requirement(line).name.lower() for line in python}
    assert {"cryptography", "netaddr", "jinja2"} <= names, found
    assert "ansible-core" not in names  # the definition's ansible_core installs it
    system = [line.split("#")[0].strip() for line in found["system"] if line.endswith(ours)]
    from bindep.depends import Depends

    rpm = {rule[0] for rule in Depends("\n".join(system) + "\n").active_rules(["platform:rpm", "platform:redhat"])}
    assert {"openssh-clients", "ca-certificates"} <= rpm, system


def test_bindep_names_are_installed_on_this_debian_controller(tmp_path):
    from bindep.depends import Depends

    profiles = Depends(_read(os.path.join(ROOT, "bindep.txt"))).platform_profiles()
    if "platform:dpkg" not in profiles:
        pytest.skip("not a dpkg platform: the [platform:dpkg] names are checked on Debian (CI)")
    proc = subprocess.run([_tool("bindep"), "-b", "-f", os.path.join(ROOT, "bindep.txt")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, "missing on this controller: %s %s" % (proc.stdout, proc.stderr)
