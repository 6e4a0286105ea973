"""Settings: environment over file over defaults, and the documentation keeps up."""

from __future__ import annotations

from pathlib import Path

import pytest

from signalement.settings import Settings

DOC = Path(__file__).parents[2] / "docs" / "configuration.md"


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.is_sqlite
    assert settings.effective_queue_backend == "database"
    assert settings.effective_blob_dir == Path("data/blobs")
    assert settings.base_url == "http://127.0.0.1:8000"


def test_environment_wins_over_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "signalement.toml"
    config.write_text('port = 9000\nmax_message_bytes = 2048\ndatabase_url = "postgresql+psycopg://db/x"\n')
    monkeypatch.setenv("SIGNALEMENT_CONFIG_FILE", str(config))
    monkeypatch.setenv("SIGNALEMENT_PORT", "9100")
    settings = Settings()
    assert settings.port == 9100
    assert settings.max_message_bytes == 2048
    assert settings.effective_queue_backend == "procrastinate"


def test_generated_secret_is_stable_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = settings.server_secret()
    assert len(first) == 64 and Settings(data_dir=tmp_path).server_secret() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_every_setting_is_documented() -> None:
    doc = DOC.read_text()
    missing = [name for name in Settings.model_fields if f"SIGNALEMENT_{name.upper()}" not in doc]
    assert missing == []
