"""The clients' configs: one check list for the settings both API versions share."""

from __future__ import annotations

import pytest

from sonar_bdc.errors import ConfigError
from sonar_bdc.sonar.v1 import SonarConfig
from sonar_bdc.sonar.v2 import GraphQLConfig

URL = "https://sonar.example.com"


def v1(**over: object) -> SonarConfig:
    return SonarConfig(URL, "admin", "secret", **over)  # type: ignore[arg-type]


def v2(**over: object) -> GraphQLConfig:
    return GraphQLConfig(URL, "token", **over)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"timeout": 0}, "SONAR_TIMEOUT must be more than 0 seconds"),
        ({"max_retries": -1}, "--max-retries must be 0 or more"),
        ({"initial_backoff": -1}, "--initial-backoff must be 0 or more"),
        ({"max_backoff": -1}, "the maximum backoff must be 0 or more"),
        ({"rate_limit": 0}, "--rate-limit must be more than 0"),
        ({"base_url": "ftp://sonar.example.com"}, "SONAR_PROTOCOL must be http or https"),
    ],
)
def test_both_versions_refuse_a_shared_setting_in_the_same_words(
    over: dict[str, object], message: str
) -> None:
    url = over.pop("base_url", URL)
    for build in (
        lambda: SonarConfig(url, "admin", "secret", **over),  # type: ignore[arg-type]
        lambda: GraphQLConfig(url, "token", **over),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigError, match=f"^{message}"):
            build()


def test_each_version_adds_its_own_checks() -> None:
    with pytest.raises(ConfigError, match="--report-layout must be auto, A or B"):
        v1(report_layout="C")
    with pytest.raises(ConfigError, match="connection pool size"):
        v1(pool_size=0)
    with pytest.raises(ConfigError, match="SONAR_TOKEN is empty"):
        GraphQLConfig(URL, " ")
    with pytest.raises(ConfigError, match="-w/--workers must be at least 1"):
        v2(workers=0)


def test_credentials_follow_the_address_by_position_and_stay_out_of_repr() -> None:
    config = v1(timeout=5.0)
    assert (config.base_url, config.username, config.password, config.timeout) == (
        URL, "admin", "secret", 5.0,
    )  # fmt: skip
    assert "secret" not in repr(config) and "token" not in repr(v2())
    assert v2(rate_limit=2.5).rate_limit == 2.5 and SonarConfig(URL + "/", "a", "b").base_url == URL
