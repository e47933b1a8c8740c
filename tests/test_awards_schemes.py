"""Schemes are data: the shipped files load, and a bad file stops the application at start-up
with the file, the line and the reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from awards.scheme_files import SchemeError, load_schemes
from awards.schemes import SHIPPED_DIRECTORY

SHIPPED_TEXT = (SHIPPED_DIRECTORY / "inclusion_kite_mark.toml").read_text("utf-8")


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, "utf-8")
    return path


def _problems(directory: Path) -> list[tuple[str, int, str]]:
    with pytest.raises(SchemeError) as caught:
        load_schemes([directory])
    return caught.value.problems


def _line_of(text: str, fragment: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if fragment in line)


def _changed_line(before: str, after: str) -> int:
    return next(number for number, (old, new) in
                enumerate(zip(before.splitlines(), after.splitlines(), strict=True), 1)
                if old != new)


def test_the_two_shipped_schemes_load_with_their_criteria():
    schemes = load_schemes([SHIPPED_DIRECTORY])
    assert set(schemes) == {"inclusion_kite_mark", "communication_award"}
    kite_mark = schemes["inclusion_kite_mark"]
    assert kite_mark.name == "Inclusion kite-mark"
    assert [c.key for c in kite_mark.criteria] == [
        "universal_provision", "targeted_provision", "families", "ethos",
        "what_makes_you_special"]
    assert [o.label for o in kite_mark.outcomes] == [
        "Awarded for 2 years", "Awarded for 1 year with action points",
        "Not yet — please resubmit"]
    assert [o.award_months for o in kite_mark.outcomes] == [24, 12, 0]
    assert kite_mark.parent_carer_required and kite_mark.minimum_assessors == 2
    assert [level.label for level in kite_mark.scale] == ["Not yet met", "Met", "Exceeded"]
    communication = schemes["communication_award"]
    assert [c.title for c in communication.criteria] == [
        "Positive relationships", "Practitioners' knowledge and skills",
        "The communication environment", "Working in partnership with parents"]


def test_yearly_windows_come_back_each_year_and_may_run_over_new_year():
    kite_mark = load_schemes([SHIPPED_DIRECTORY])["inclusion_kite_mark"]
    assert kite_mark.window_on(date(2031, 1, 15)) == (date(2030, 9, 1), date(2031, 3, 31))
    assert kite_mark.window_on(date(2031, 6, 1)) is None
    assert kite_mark.next_window(date(2031, 6, 1)) == (date(2031, 9, 1), date(2032, 3, 31))


def test_an_unknown_topic_is_named_with_its_line(tmp_path):
    text = SHIPPED_TEXT.replace('topics = ["senco_role"]', 'topics = ["sencos"]')
    _write(tmp_path, "kite.toml", text)
    [(file, line, reason)] = _problems(tmp_path)
    assert file.endswith("kite.toml")
    assert line == _line_of(text, 'topics = ["sencos"]')
    assert "'sencos' is not a training topic" in reason


def test_a_missing_key_is_reported_at_its_table(tmp_path):
    text = SHIPPED_TEXT.replace('title = "Communication and partnership with families"\n', "")
    _write(tmp_path, "kite.toml", text)
    [(_file, line, reason)] = _problems(tmp_path)
    assert reason == "criteria[3].title is missing"
    # The third [[criteria]] header.
    headers = [n for n, row in enumerate(text.splitlines(), 1) if row.startswith("[[criteria]]")]
    assert line == headers[2]


def test_toml_syntax_errors_give_the_parsers_line(tmp_path):
    _write(tmp_path, "broken.toml", 'name = "x"\ndescription = "y"\n[[criteria]\n')
    [(_file, line, reason)] = _problems(tmp_path)
    assert line == 3 and reason.startswith("not valid TOML")


def test_a_rule_about_all_outcomes_is_reported_at_the_first(tmp_path):
    text = SHIPPED_TEXT.replace("award_months = 0", "award_months = 12")
    _write(tmp_path, "kite.toml", text)
    [(_file, line, reason)] = _problems(tmp_path)
    assert "at least one outcome must make no award" in reason
    assert line == _line_of(text, "[[outcomes]]")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("minimum_assessors = 2", "minimum_assessors = 0",
     "panel.minimum_assessors must be a whole number of at least 1"),
    ("parent_carer_required = true", 'parent_carer_required = "yes"',
     "panel.parent_carer_required must be true or false"),
    ("opens = 2026-09-01", 'opens = "1 September"', "windows[1].opens must be a date"),
    ('key = "ethos"', 'key = "families"', "criterion key 'families' is used twice"),
    ('key = "one_year"', 'key = "two_years"', "outcome key 'two_years' is used twice"),
    ('key = "ethos"', 'key = "Ethos!"', "must be lower-case letters"),
    ("value = 2", "value = 1", "scale value 1 is used twice"),
    ('name = "Inclusion kite-mark"', 'nmae = "Inclusion kite-mark"', "unknown key 'nmae'"),
])
def test_each_kind_of_mistake_is_refused_with_a_reason(tmp_path, old, new, expected):
    text = SHIPPED_TEXT.replace(old, new, 1)
    assert text != SHIPPED_TEXT
    _write(tmp_path, "kite.toml", text)
    problems = _problems(tmp_path)
    assert any(expected in reason for _file, _line, reason in problems), problems
    changed_line = _changed_line(SHIPPED_TEXT, text)
    assert any(line == changed_line for _file, line, _reason in problems), problems


def test_a_window_closing_before_it_opens_is_refused(tmp_path):
    text = SHIPPED_TEXT.replace("closes = 2027-03-31\nevery_year = true",
                                "closes = 2026-08-01")
    _write(tmp_path, "kite.toml", text)
    [(_file, line, reason)] = _problems(tmp_path)
    assert reason == "the window must close on or after it opens"
    assert line == _line_of(text, "closes = 2026-08-01")


def test_every_bad_file_is_reported_and_none_loaded(tmp_path):
    _write(tmp_path, "good.toml", SHIPPED_TEXT)
    _write(tmp_path, "bad_one.toml", SHIPPED_TEXT.replace('label = "Met"', "label = 3"))
    _write(tmp_path, "Bad-Name.toml", SHIPPED_TEXT)
    problems = _problems(tmp_path)
    files = {Path(file).name for file, _line, _reason in problems}
    assert files == {"bad_one.toml", "Bad-Name.toml"}


def test_the_application_refuses_to_start_with_an_invalid_scheme(tmp_path, app_factory):
    schemes = tmp_path / "schemes"
    schemes.mkdir()
    _write(schemes, "broken.toml", SHIPPED_TEXT.replace("award_months = 24",
                                                        "award_months = -1"))
    with pytest.raises(SchemeError) as caught:
        app_factory(AWARDS_SCHEME_DIRS=[str(schemes)])
    message = str(caught.value)
    assert "broken.toml, line" in message
    assert "award_months must be a whole number of at least 0" in message


def test_adding_a_scheme_is_adding_a_file(tmp_path, app_factory, client):
    schemes = tmp_path / "schemes"
    schemes.mkdir()
    _write(schemes, "makaton_award.toml",
           SHIPPED_TEXT.replace('name = "Inclusion kite-mark"', 'name = "Makaton award"'))
    app = app_factory(AWARDS_SCHEME_DIRS=[str(schemes)])
    response = app.test_client().get("/awards/schemes/makaton_award")
    assert response.status_code == 200
    assert "Makaton award" in response.get_data(as_text=True)
