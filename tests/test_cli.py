"""The `crisis` command, run as users run it: a subprocess with CRISIS_* variables."""
from __future__ import annotations

import json
import subprocess
import sys

from crisis.config import ROOT, Config
from tests.live import process_env


def crisis(config: Config, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crisis", *args], env=process_env(config), cwd=ROOT,
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_it_creates_a_community_and_prints_its_token_as_json(config: Config) -> None:
    out = crisis(config, "community", "create", "lantern", "--name", "Lantern", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["slug"] == "lantern" and data["token"].startswith("cri_")


def test_it_refuses_a_duplicate_community(config: Config) -> None:
    crisis(config, "community", "create", "lantern")
    out = crisis(config, "community", "create", "lantern")
    assert out.returncode != 0 and "already exists" in out.stderr


def test_it_issues_and_revokes_ingest_tokens(config: Config) -> None:
    crisis(config, "community", "create", "lantern")
    issued = json.loads(crisis(config, "token", "create", "lantern", "--json").stdout)
    out = crisis(config, "token", "revoke", str(issued["id"]))
    assert out.returncode == 0 and "revoked" in out.stdout


def test_it_creates_users_with_a_password_from_stdin(config: Config) -> None:
    crisis(config, "community", "create", "lantern")
    out = crisis(config, "user", "create", "Ann@Example.test", "--community", "lantern", "--role", "manager",
                 stdin="a long password\n")
    assert out.returncode == 0, out.stderr
    assert "password" not in out.stdout  # given, so not printed
    token = json.loads(crisis(config, "user", "token", "ann@example.test", "--json").stdout)
    assert token["token"].startswith("crp_")


def test_it_generates_and_prints_a_password_when_none_is_given(config: Config) -> None:
    crisis(config, "community", "create", "lantern")
    out = crisis(config, "user", "create", "bob@example.test", "--community", "lantern", "--role", "responder",
                 stdin="")
    assert out.returncode == 0 and "password (shown once)" in out.stdout


def test_it_rejects_an_unknown_role(config: Config) -> None:
    crisis(config, "community", "create", "lantern")
    out = crisis(config, "user", "create", "c@example.test", "--community", "lantern", "--role", "king")
    assert out.returncode == 2 and "king" in out.stderr


def test_it_stops_with_a_message_naming_a_bad_variable(config: Config) -> None:
    env = process_env(config, CRISIS_SWEEP_INTERVAL="often")
    out = subprocess.run([sys.executable, "-m", "crisis", "community", "create", "x"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "CRISIS_SWEEP_INTERVAL" in out.stderr


def test_it_upgrades_the_database(config: Config, tmp_path: object) -> None:
    from dataclasses import replace

    fresh = replace(config, database_url=f"sqlite:///{config.var_dir / 'fresh.db'}")
    out = crisis(fresh, "db", "upgrade")
    assert out.returncode == 0 and "head" in out.stdout


def test_rules_sync_gives_a_community_the_default_rules_once_and_validate_names_bad_fields(
        config: Config, tmp_path: object) -> None:
    crisis(config, "community", "create", "lantern")
    first = json.loads(crisis(config, "rules", "sync", "--json").stdout)
    assert first["created"] == ["lantern v1 (default)"]
    again = json.loads(crisis(config, "rules", "sync", "--json").stdout)
    assert again["created"] == [] and again["unchanged"] == ["lantern v1 (default)"]
    bad_dir = tmp_path / "rules"  # type: ignore[operator]
    bad_dir.mkdir()
    (bad_dir / "lantern.yaml").write_text("rules:\n  - id: x\n    title: X\n    ladder: [{penalty: mute}]\n")
    out = crisis(config, "rules", "validate", "--dir", str(bad_dir))
    assert out.returncode == 1 and "rules[0].ladder[0].duration: a mute needs a duration" in out.stderr
