"""AWX survey specs (extensions/awx/surveys/<playbook>.json) are valid and ask only for documented variables.

The checks follow what AWX's API accepts when a spec is POSTed to /api/v2/job_templates/<id>/survey_spec/
(name, description, a non-empty spec; each question with type, question_name, variable and required; a known
type; a default of the question's type; integer min/max; choices for the choice types with defaults among them;
unique variables) plus the house rules:

- the file is named after a playbook that exists, and every playbook a job template runs has one (etcd.yml and
  kubernetes.yml are parts of site.yml, summary.yml takes no input);
- every variable is documented - an option of some role's meta/argument_specs.yml, or named in the playbook's
  header comment - and its survey type fits the documented type (a bool is a true/false choice, an int an integer);
- an optional question has no default: AWX sends survey defaults as extra vars, which outrank the inventory, so an
  unanswered question must send nothing and leave the inventory's value in force;
- a password question never carries a default (no secrets in the repository).
"""

import glob
import json
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SURVEY_DIR = os.path.join(ROOT, "extensions", "awx", "surveys")
PLAYBOOK_DIR = os.path.join(ROOT, "playbooks")
# etcd.yml and kubernetes.yml: parts of site.yml (a job template may still run them with site.yml's inputs);
# summary.yml: the read-only report every playbook ends with; scale.yml: the inventory says what to add (the job
# template's limit narrows it) - neither has inputs (AWX refuses an empty survey).
NO_SURVEY_NEEDED = {"artifacts", "etcd", "kubernetes", "scale", "summary", "validate"}  # listings, no input

# AWX JobTemplateSurveySpec.ALLOWED_TYPES: question type -> Python type of its default
AWX_TYPES = {
    "text": str,
    "textarea": str,
    "password": str,
    "multiplechoice": str,
    "multiselect": str,
    "integer": int,
    "float": float,
}
# argument_specs type -> survey types that produce a value the role accepts
COMPATIBLE = {
    "int": {"integer"},
    "float": {"float", "integer"},
    "bool": {"multiplechoice"},
    "str": {"text", "textarea", "multiplechoice", "password"},
    "path": {"text", "textarea", "multiplechoice"},
    "list": {"text", "textarea", "multiselect"},  # a text answer is split on commas by the list type
    "raw": {"text", "textarea", "multiplechoice", "integer"},
}
BOOL_CHOICES = {"true", "false"}
VARIABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _survey_files():
    return sorted(glob.glob(os.path.join(SURVEY_DIR, "*.json")))


def _name(path):
    return os.path.splitext(os.path.basename(path))[0]


def _load(path):
    with open(path) as handle:
        return json.load(handle)


def _choices(question):
    choices = question["choices"]
    return [c for c in choices.splitlines() if c.strip()] if isinstance(choices, str) else list(choices)


def _argument_specs():
    """variable -> set of documented types, over every entry point of every role."""
    documented = {}
    for path in glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")):
        with open(path) as handle:
            specs = yaml.safe_load(handle)["argument_specs"]
        for entry_point in specs.values():
            for option, spec in (entry_point.get("options") or {}).items():
                documented.setdefault(option, set()).add(spec.get("type", "str"))
    return documented


def _header_comment(playbook):
    """The comment block at the top of a playbook (before its first play)."""
    lines = []
    with open(os.path.join(PLAYBOOK_DIR, playbook + ".yml")) as handle:
        for line in handle:
            stripped = line.strip()
            if stripped == "---" and not lines:
                continue
            if not stripped.startswith("#"):
                break
            lines.append(stripped.lstrip("#"))
    return "\n".join(lines)


SURVEYS = _survey_files()
ARGUMENT_SPECS = _argument_specs()


def test_surveys_exist():
    assert SURVEYS, "no survey in %s" % SURVEY_DIR


def test_every_job_template_playbook_has_a_survey():
    playbooks = {_name(p) for p in glob.glob(os.path.join(PLAYBOOK_DIR, "*.yml"))}
    missing = sorted(playbooks - NO_SURVEY_NEEDED - {_name(s) for s in SURVEYS})
    assert not missing, "add extensions/awx/surveys/<playbook>.json for: %s" % ", ".join(missing)


@pytest.mark.parametrize("path", SURVEYS, ids=_name)
def test_survey_names_an_existing_playbook(path):
    assert os.path.isfile(os.path.join(PLAYBOOK_DIR, _name(path) + ".yml")), (
        "%s: no playbooks/%s.yml" % (path, _name(path))
    )


@pytest.mark.parametrize("path", SURVEYS, ids=_name)
def test_survey_is_what_awx_accepts(path):
    survey = _load(path)
    assert set(survey) >= {"name", "description", "spec"}
    assert isinstance(survey["name"], str) and survey["name"].strip()
    assert isinstance(survey["description"], str)
    assert isinstance(survey["spec"], list) and survey["spec"], "'spec' doesn't contain any items"
    seen = set()
    for index, question in enumerate(survey["spec"]):
        where = "%s question %d" % (_name(path), index)
        assert isinstance(question, dict), where
        for field, kind in (("type", str), ("question_name", str), ("variable", str), ("required", bool)):
            assert isinstance(question.get(field), kind), "%s: '%s' missing or not a %s" % (where, field, kind.__name__)
        assert question["question_name"].strip(), where
        assert isinstance(question.get("question_description", ""), str), where
        variable = question["variable"]
        assert VARIABLE_RE.match(variable) and not variable.startswith("ansible_"), (
            "%s: %r is not a variable name a playbook can use" % (where, variable)
        )
        assert variable not in seen, "%s: variable %s duplicated" % (where, variable)
        seen.add(variable)
        qtype = question["type"]
        assert qtype in AWX_TYPES, "%s: type %r is not one of %s" % (where, qtype, ", ".join(AWX_TYPES))
        if question.get("default") not in (None, ""):
            assert isinstance(question["default"], AWX_TYPES[qtype]) and not isinstance(question["default"], bool), (
                "%s: default %r is not a %s" % (where, question["default"], qtype)
            )
        for limit in ("min", "max"):
            if question.get(limit) is not None:
                assert isinstance(question[limit], int) and not isinstance(question[limit], bool), (where, limit)
        if question.get("min") is not None and question.get("max") is not None:
            assert question["min"] <= question["max"], where
        if qtype in ("multiplechoice", "multiselect"):
            assert "choices" in question, "%s: a %s question must list choices" % (where, qtype)
            choices = _choices(question)
            assert choices and len(choices) == len(set(choices)), "%s: choices empty or repeated" % where
            assert all(isinstance(c, str) and c.strip() for c in choices), where
            if question.get("default") not in (None, ""):
                defaults = question["default"]
                defaults = defaults.splitlines() if isinstance(defaults, str) else list(defaults)
                if qtype == "multiplechoice":
                    assert len(defaults) == 1, "%s: a single-choice question has one default" % where
                assert set(defaults) <= set(choices), "%s: default %r not among %r" % (where, defaults, choices)
        else:
            assert "choices" not in question or not question["choices"], "%s: choices on a %s question" % (where, qtype)


@pytest.mark.parametrize("path", SURVEYS, ids=_name)
def test_optional_questions_and_passwords_carry_no_default(path):
    for question in _load(path)["spec"]:
        where = "%s: %s" % (_name(path), question["variable"])
        if question["type"] == "password":
            assert question.get("default") in (None, ""), "%s: a password question carries a default" % where
        if not question["required"]:
            assert "default" not in question, (
                "%s: optional with a default - AWX would send it as an extra var over the inventory's value" % where
            )


@pytest.mark.parametrize("path", SURVEYS, ids=_name)
def test_survey_variables_are_documented(path):
    header = _header_comment(_name(path))
    for question in _load(path)["spec"]:
        variable = question["variable"]
        where = "%s: %s" % (_name(path), variable)
        if variable in ARGUMENT_SPECS:
            allowed = set().union(*(COMPATIBLE.get(t, set()) for t in ARGUMENT_SPECS[variable]))
            assert question["type"] in allowed, "%s: a %s question for a %s option" % (
                where, question["type"], "/".join(sorted(ARGUMENT_SPECS[variable]))
            )
            if ARGUMENT_SPECS[variable] == {"bool"}:
                assert set(_choices(question)) == BOOL_CHOICES, "%s: a bool is answered true or false" % where
        else:
            assert re.search(r"\b%s\b" % re.escape(variable), header), (
                "%s: not an option of any role's meta/argument_specs.yml nor named in the header comment of "
                "playbooks/%s.yml" % (where, _name(path))
            )


def test_checks_catch_a_bad_survey(tmp_path, monkeypatch):
    """The validation above fails on the mistakes it is meant to catch (it is not vacuous)."""
    bad = {
        "name": "bad",
        "description": "",
        "spec": [
            {"question_name": "q", "variable": "addons_apply_dry_run", "type": "multiplechoice", "required": False,
             "choices": ["yes", "no"], "default": "maybe"},
        ],
    }
    path = tmp_path / "backup.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(AssertionError, match="default"):
        test_survey_is_what_awx_accepts(str(path))
    with pytest.raises(AssertionError, match="optional with a default"):
        test_optional_questions_and_passwords_carry_no_default(str(path))
    with pytest.raises(AssertionError, match="true or false"):
        test_survey_variables_are_documented(str(path))
    bad["spec"][0].update(variable="no_such_variable", type="text", choices=None)
    del bad["spec"][0]["default"]
    path.write_text(json.dumps(bad))
    with pytest.raises(AssertionError, match="not an option of any role"):
        test_survey_variables_are_documented(str(path))
