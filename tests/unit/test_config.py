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


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["service"].update(timezone="Mars/Olympus"), "service.timezone: unknown timezone 'Mars/Olympus'"),
    (lambda d: d["deadlines"][0].update(due="soon"), 'deadline "plan".due: '),
    (lambda d: d["cities"][0].update(email=["a@b.cn"]), '长沙市: unknown key "email" (did you mean "emails"?)'),
    (lambda d: d["cities"][1].update(colour="red"), '株洲市: unknown key "colour"'),
    (lambda d: d.update(remindrs={}), 'unknown key "remindrs" (did you mean "reminders"?)'),
    (lambda d: d["cities"][2].pop("name"), '[[cities]] number 3: missing key "name"'),
    (lambda d: d.pop("campaign"), "missing [campaign]"),
    (lambda d: d["cities"][1].update(name="长沙市"), "cities: 长沙市 is listed more than once"),
    (lambda d: d["deadlines"][2].update(id="plan"), 'deadlines: id "plan" is used by more than one'),
    (lambda d: d.update(mailbox={"kind": "imap", "user": "u"}), 'mailbox: kind = "imap" needs host'),
    (lambda d: d.update(smtp={"kind": "smtp"}), 'smtp: kind = "smtp" needs host'),
])
def test_a_wrong_config_fails_naming_the_city_deadline_or_key_in_plain_words(mutate, message):
    data = config_data()
    mutate(data)
    with pytest.raises(ConfigError) as err:
        config_from_dict(data, environ={})
    assert message in str(err.value)
    for pydantic_wording in ("Value error", "(top level)", "extra_forbidden", "Field required", "cities.0"):
        assert pydantic_wording not in str(err.value)


def test_every_error_line_names_the_file(tmp_path: Path):
    path = tmp_path / "service.toml"
    text = DEFAULT_TOML.read_text(encoding="utf-8").replace('name = "长沙市"\n', 'name = "长沙市"\nemail = ["x@y.cn"]\n')
    path.write_text(text.replace("[campaign]\n", "[campaign]\nnmae = 1\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(err.value).splitlines() == [
        f'{path}: campaign: unknown key "nmae" (did you mean "name"?)',
        f'{path}: 长沙市: unknown key "email" (did you mean "emails"?)']


def test_a_file_saved_as_gbk_says_so_with_the_line_and_suggests_utf8(tmp_path: Path):
    path = tmp_path / "service.toml"
    path.write_bytes(DEFAULT_TOML.read_text(encoding="utf-8").encode("gb18030"))
    first_chinese_line = next(i for i, line in enumerate(DEFAULT_TOML.read_text(encoding="utf-8").splitlines(), 1)
                              if not line.isascii())
    with pytest.raises(ConfigError) as err:
        load_config(path, environ={})
    assert str(err.value).startswith(f"{path}: not UTF-8 (it looks like GBK/GB18030): byte 0x")
    assert f"at line {first_chinese_line}," in str(err.value) and "save the file as UTF-8" in str(err.value)


def test_a_utf8_file_with_a_bom_is_read(tmp_path: Path):
    path = tmp_path / "service.toml"
    path.write_bytes(b"\xef\xbb\xbf" + DEFAULT_TOML.read_bytes())
    assert load_config(path, environ={}).cities[0].name == "长沙市"


def test_the_database_follows_the_data_dir_unless_a_url_is_set_on_purpose():
    shipped = config_from_dict(config_data(), environ={})
    assert shipped.service.database_url == "sqlite:///var/service.db"
    moved = config_from_dict(config_data(), environ={"SERVICE_DATA_DIR": "/srv/x"})
    assert str(moved.data_dir) == "/srv/x" and moved.service.database_url == "sqlite:////srv/x/service.db"
    pinned = config_data()
    pinned["service"]["database_url"] = "postgresql+psycopg://u@db/reports"
    assert config_from_dict(pinned, environ={"SERVICE_DATA_DIR": "/srv/x"}).service.database_url == \
        "postgresql+psycopg://u@db/reports"
    assert "database_url =" not in DEFAULT_TOML.read_text(encoding="utf-8").replace("# database_url =", "")


def test_the_letters_signature_has_no_name_by_default():
    from service.config import RemindersSection
    assert RemindersSection().contact_name == "" and RemindersSection().contact_phone == ""


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


def test_the_database_password_comes_from_a_secret_file_into_the_url(tmp_path: Path):
    secret = tmp_path / "postgres_password"
    secret.write_text("p@ss/word:1\n")
    config = config_from_dict(config_data(), environ={
        "SERVICE_DATABASE_URL": "postgresql+psycopg://reportmail@postgres:5432/reportmail",
        "SERVICE_DATABASE_PASSWORD_FILE": str(secret)})
    assert config.service.database_url == "postgresql+psycopg://reportmail:p%40ss%2Fword%3A1@postgres:5432/reportmail"
    from sqlalchemy.engine import make_url
    assert make_url(config.service.database_url).password == "p@ss/word:1"
