from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from crisis import playbooks
from crisis.clock import FixedClock
from crisis.playbooks import PlaybookError, load_text

RAID = (playbooks.PLAYBOOK_DIR / "raid.yaml").read_text()


def copy_playbooks(tmp_path: Path) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    for path in playbooks.PLAYBOOK_DIR.glob("*.yaml"):
        (directory / path.name).write_text(path.read_text())
    return directory


def test_it_validates_the_shipped_playbooks() -> None:
    good, bad = playbooks.load_dir()
    assert bad == []
    assert {spec["name"] for _p, spec, _t in good} == {"raid", "complaint_spike", "dispute", "default", "alert"}


def test_it_reports_every_problem_with_its_field() -> None:
    broken = RAID.replace("due: 5m", "due: five minutes").replace("owner: cleaner", "owner: janitor", 1)
    broken = broken.replace("{schedule: secondary}", "{pager: secondary}")
    with pytest.raises(PlaybookError) as caught:
        load_text(broken, "raid.yaml")
    assert caught.value.problems == [
        "steps[0].due: 'five minutes' is not a duration (use 30s, 15m, 2h or 1d)",
        "steps[1].owner: 'janitor' is not declared under roles (cleaner, commander, liaison)",
        "escalation.levels[1].notify[0]: unknown target 'pager' (use one of user, schedule, role, channel, "
        "channel_purpose, incident_role)",
    ]
    assert str(caught.value).startswith("raid.yaml: ")


def test_it_points_at_the_line_of_bad_yaml() -> None:
    with pytest.raises(PlaybookError, match=r"line 3, column \d+: not valid YAML"):
        load_text("name: raid\nsteps: [a, b\ntitle: x\n", "raid.yaml")


def test_it_hashes_content_not_formatting() -> None:
    reformatted = "# a comment\n" + RAID.replace("applies_to:\n  kinds: [raid, spam_wave, join_surge]",
                                                 "applies_to:\n  kinds:\n    - raid\n    - spam_wave\n    - join_surge")
    assert playbooks.content_hash(load_text(reformatted, "r")) == playbooks.content_hash(load_text(RAID, "r"))


def test_it_refuses_a_changed_file_whose_version_did_not_move(session: Session, clock: FixedClock,
                                                              tmp_path: Path) -> None:
    directory = copy_playbooks(tmp_path)
    report, bad = playbooks.sync(session, clock=clock, directory=directory)
    assert bad == [] and sorted(report.created) == ["alert v1", "complaint_spike v1", "default v1", "dispute v2",
                                                    "raid v2"]
    (directory / "raid.yaml").write_text(RAID.replace("due: 5m", "due: 3m"))
    report, _ = playbooks.sync(session, clock=clock, directory=directory)
    assert report.refused == ["raid.yaml: raid: the file changed but its version is still 2; "
                              "set version: 3 to publish the change"]
    assert playbooks.latest(session, "raid").spec["steps"][0]["due"] == "5m"  # type: ignore[union-attr]
    (directory / "raid.yaml").write_text(RAID.replace("due: 5m", "due: 3m").replace("version: 2", "version: 3"))
    report, _ = playbooks.sync(session, clock=clock, directory=directory)
    assert report.created == ["raid v3"] and report.refused == []
    v2 = playbooks.get_version(session, "raid", 2)
    assert v2 is not None and v2.spec["steps"][0]["due"] == "5m"  # stored versions never change


def test_it_refuses_a_file_behind_the_stored_versions(session: Session, clock: FixedClock, tmp_path: Path) -> None:
    directory = copy_playbooks(tmp_path)
    playbooks.sync(session, clock=clock, directory=directory)
    spec = playbooks.latest(session, "raid").spec  # type: ignore[union-attr]
    playbooks.create_version(session, "raid", {**spec, "title": "Raid (API edit)"}, clock=clock, user_id=None)
    (directory / "raid.yaml").write_text(RAID.replace("title: Raid response", "title: Raid, edited in git"))
    report, _ = playbooks.sync(session, clock=clock, directory=directory)
    assert report.refused == ["raid.yaml: raid: the file changed but its version is still 2; "
                              "set version: 4 to publish the change"]


def test_it_makes_api_edits_version_n_plus_one(session: Session, clock: FixedClock) -> None:
    playbooks.sync(session, clock=clock)
    spec = playbooks.latest(session, "dispute").spec  # type: ignore[union-attr]
    row = playbooks.create_version(session, "dispute", {**spec, "version": 99}, clock=clock, user_id=None)
    assert row.version == 3 and row.origin == "api"
    diff = playbooks.diff(playbooks.get_version(session, "dispute", 2), row)  # type: ignore[arg-type]
    assert diff["diff"] == "" and diff["sections_changed"] == []


def test_it_picks_the_playbook_naming_the_kind_over_the_default(session: Session, clock: FixedClock) -> None:
    playbooks.sync(session, clock=clock)
    assert playbooks.select_for(session, "raid", "sev1").name == "raid"  # type: ignore[union-attr]
    assert playbooks.select_for(session, "spam_wave", "sev3").name == "raid"  # type: ignore[union-attr]
    assert playbooks.select_for(session, "mass_leave", "sev3").name == "default"  # type: ignore[union-attr]


def test_it_runs_validate_and_sync_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                config: object) -> None:
    from crisis.cli.main import cli

    directory = copy_playbooks(tmp_path)
    monkeypatch.setenv("CRISIS_DATABASE_URL", config.database_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("CRISIS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("CRISIS_SECRET_KEY", "test-secret-key-0123456789")
    runner = CliRunner()
    result = runner.invoke(cli, ["playbooks", "validate", "--dir", str(directory)])
    assert result.exit_code == 0 and "ok      raid v2 (7 steps, 3 escalation levels)" in result.output
    result = runner.invoke(cli, ["playbooks", "sync", "--dir", str(directory)])
    assert result.exit_code == 0 and "stored    raid v2" in result.output
    (directory / "dispute.yaml").write_text("name: dispute\nversion: 1\n")
    result = runner.invoke(cli, ["playbooks", "validate", "--dir", str(directory)])
    assert result.exit_code == 1 and "invalid dispute.yaml: title: is required" in result.output
