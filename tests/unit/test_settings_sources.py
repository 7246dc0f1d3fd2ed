"""Where the worker's settings come from (pydantic-settings): exactly the LEADSLA_* names of
``env_name``, from the mapping given to ``from_env``, and never behind the caller's back."""

from __future__ import annotations

import pytest

from leadsla.settings import Settings, SettingsError, env_name


def test_only_the_exact_variable_names_are_read() -> None:
    # Given variables that look like ours but are not spelled as env_name() spells them
    environ = {
        "leadsla_partitions": "7",
        "Leadsla_Partitions": "8",
        "LEADSLA_partitions": "9",
        "LEADSLA_POLICY_PATH": "/not/this.toml",
    }
    # When the settings are read from them
    settings = Settings.from_env(environ)
    # Then none of them counts
    assert (settings.partitions, settings.policy_path) == (4, None)
    # and the right spellings do
    assert env_name("policy_path") == "LEADSLA_POLICY"
    exact = Settings.from_env({"LEADSLA_PARTITIONS": "7", "LEADSLA_POLICY": "/p.toml"})
    assert (exact.partitions, exact.policy_path) == (7, "/p.toml")


def test_a_given_mapping_replaces_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a process environment with our variables
    monkeypatch.setenv("LEADSLA_PARTITIONS", "9")
    monkeypatch.setenv("LEADSLA_POLICY", "/env.toml")
    # When settings are read from an empty mapping, or built by hand
    from_mapping = Settings.from_env({})
    by_hand = Settings(app_id="by-hand")
    # Then the process environment is not read
    assert (from_mapping.partitions, from_mapping.policy_path) == (4, None)
    assert (by_hand.partitions, by_hand.policy_path, by_hand.app_id) == (4, None, "by-hand")
    # and without a mapping, from_env reads it
    assert (Settings.from_env().partitions, Settings.from_env().policy_path) == (9, "/env.toml")


def test_empty_variables_are_unset_and_overrides_win() -> None:
    # Given empty variables (the topic prefix's empty value is its default anyway)
    environ = {"LEADSLA_APP_ID": "", "LEADSLA_METRICS_PORT": "", "LEADSLA_TOPIC_PREFIX": ""}
    settings = Settings.from_env(environ)
    assert (settings.app_id, settings.metrics_port, settings.topic_prefix) == ("lead-sla", None, "")
    # When an override names a field a variable also sets, even to a value it could not parse
    overridden = Settings.from_env({"LEADSLA_PARTITIONS": "many"}, partitions=2)
    # Then the override wins
    assert overridden.partitions == 2


def test_an_override_that_is_no_field_is_refused() -> None:
    with pytest.raises(SettingsError, match="LEADSLA_NONSENSE: Extra inputs are not permitted"):
        Settings.from_env({}, nonsense=1)
    # pydantic-settings' own constructor options are not settings either
    with pytest.raises(SettingsError, match="LEADSLA__ENV_PREFIX: Extra inputs are not permitted"):
        Settings.from_env({"X_PARTITIONS": "3"}, _env_prefix="X_")


def test_settings_are_frozen() -> None:
    settings = Settings.from_env({})
    with pytest.raises(ValueError, match="frozen"):
        settings.partitions = 3  # type: ignore[misc]
