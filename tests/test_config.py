"""Configuration is parsed strictly, and a bad value names the variable."""
from __future__ import annotations

from pathlib import Path

import pytest

from crisis.config import Config, ConfigError


def test_it_defaults_to_a_sqlite_file_under_var(tmp_path: Path) -> None:
    cfg = Config.from_env({"CRISIS_VAR_DIR": str(tmp_path)})
    assert cfg.database_url == f"sqlite:///{tmp_path / 'crisis.db'}"
    assert cfg.redis_url == ""


def test_it_maps_postgresql_urls_to_psycopg3() -> None:
    cfg = Config.from_env({"CRISIS_DATABASE_URL": "postgres://u:p@db/crisis"})
    assert cfg.database_url == "postgresql+psycopg://u:p@db/crisis"


@pytest.mark.parametrize("name, value", [
    ("CRISIS_DATABASE_URL", "mysql://x"),
    ("CRISIS_REDIS_URL", "http://x"),
    ("CRISIS_BASE_URL", "ftp://x"),
    ("CRISIS_SWEEP_INTERVAL", "soon"),
    ("CRISIS_SYNC_JOBS", "maybe"),
    ("CRISIS_SECRET_KEY", "short"),
    ("CRISIS_DATABSE_URL", "sqlite://"),
])
def test_it_names_the_variable_with_a_bad_value(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


def test_it_reads_secrets_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("s" * 32 + "\n")
    assert Config.from_env({"CRISIS_SECRET_KEY_FILE": str(secret)}).secret_key == "s" * 32


def test_it_generates_the_secret_key_once_and_keeps_it(tmp_path: Path) -> None:
    first = Config.from_env({"CRISIS_VAR_DIR": str(tmp_path)}).with_secret().secret_key
    second = Config.from_env({"CRISIS_VAR_DIR": str(tmp_path)}).with_secret().secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_importing_the_package_has_no_side_effects(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "import crisis, crisis.models, crisis.api, crisis.jobs, crisis.cli.main; print('ok')"
    env = {"CRISIS_VAR_DIR": str(tmp_path / "never"), "PATH": "/usr/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
    assert not (tmp_path / "never").exists()
