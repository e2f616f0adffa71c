"""Config: the shipped file, env overrides, secrets, errors naming key and reason."""
from __future__ import annotations

from pathlib import Path

import pytest

from service.config import config_from_dict, load_config
from service.errors import ConfigError
from tests.conftest import DEFAULT_TOML, config_data


def test_the_shipped_config_describes_the_2022_campaign():
    config = load_config(DEFAULT_TOML, environ={})
    assert [d.id for d in config.deadlines] == ["plan", "progress", "summary"]
    assert [c.name for c in config.cities][:3] == ["长沙市", "株洲市", "湘潭市"]
    assert len(config.cities) == 14 and sum(len(c.counties) for c in config.cities) == 122
    assert config.deadline("plan").required is False
    assert config.service.timezone == "Asia/Shanghai"


def test_a_minimal_file_with_only_the_contract_keys_is_complete(tmp_path: Path):
    path = tmp_path / "min.toml"
    path.write_text('''
[service]
timezone = "Asia/Shanghai"
data_dir = "var"
database_url = "sqlite:///var/service.db"
[campaign]
name = "2022湖南网上年货节"
[[deadlines]]
id = "plan"
title = "分会场活动实施计划报备"
due = 2021-12-31
required = false
keywords = ["实施计划", "报备"]
[[cities]]
name = "长沙市"
aliases = ["长沙"]
emails = ["cs@example.org"]
''', encoding="utf-8")
    config = load_config(path, environ={})
    assert config.mailbox.kind == "folder" and config.smtp.kind == "outbox"


def test_env_overrides_data_dir_and_database_url():
    config = config_from_dict(config_data(), environ={"SERVICE_DATA_DIR": "/tmp/x",
                                                      "SERVICE_DATABASE_URL": "sqlite:///tmp/y.db"})
    assert str(config.data_dir) == "/tmp/x" and config.service.database_url == "sqlite:///tmp/y.db"


def test_service_config_env_chooses_the_file(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text(DEFAULT_TOML.read_text(encoding="utf-8").replace("name = \"2022湖南网上年货节\"", "name = \"测试活动\""),
                    encoding="utf-8")
    assert load_config(None, environ={"SERVICE_CONFIG": str(path)}).campaign.name == "测试活动"


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d["service"].update(timezone="Mars/Olympus"), "service.timezone"),
    (lambda d: d["deadlines"][0].update(due="soon"), "deadlines.0.due"),
    (lambda d: d["cities"][0].update(colour="red"), "cities.0.colour"),
    (lambda d: d.pop("campaign"), "campaign"),
])
def test_a_wrong_config_fails_naming_the_key(mutate, key):
    data = config_data()
    mutate(data)
    with pytest.raises(ConfigError) as err:
        config_from_dict(data, environ={})
    assert key in str(err.value)


def test_a_password_in_the_file_is_refused_and_env_secrets_are_secret():
    data = config_data()
    data["mailbox"] = {"kind": "imap", "host": "imap.163.com", "password": "hunter2"}
    with pytest.raises(ConfigError, match="mailbox.password"):
        config_from_dict(data, environ={})
    data["mailbox"].pop("password")
    config = config_from_dict(data, environ={"SERVICE_IMAP_PASSWORD": "s3cret-code"})
    assert config.mailbox.password.get_secret_value() == "s3cret-code"
    assert "s3cret-code" not in repr(config) and "s3cret-code" not in str(config.mailbox)


def test_a_secret_file_is_read(tmp_path: Path):
    secret = tmp_path / "imap.secret"
    secret.write_text("code-from-file\n")
    data = config_data()
    data["mailbox"] = {"kind": "imap", "host": "h", "password_file": str(secret)}
    assert config_from_dict(data, environ={}).mailbox.password.get_secret_value() == "code-from-file"
