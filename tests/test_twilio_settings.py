"""Settings resolution (config vs environment, credential pairs) and host rewriting."""

from __future__ import annotations

import pytest

from microvisor_pulumi._twilio import MissingCredentials, Settings, TwilioError, backoff_delay
from microvisor_pulumi._twilio.hosts import base_url, rebase, rewrite_host

AC_CFG, AC_ENV = "AC" + "c" * 32, "AC" + "e" * 32
SK_CFG, SK_ENV = "SK" + "c" * 32, "SK" + "e" * 32
TOKEN_CFG, TOKEN_ENV = "cfg-token-CANARY-1111", "env-token-CANARY-2222"
SECRET_CFG, SECRET_ENV = "cfg-secret-CANARY-3333", "env-secret-CANARY-4444"


def resolve(config: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Settings:
    return Settings.resolve(config or {}, env or {})


# -- credential pairs ------------------------------------------------------------------------------


def test_config_token_pair_beats_env_token_pair() -> None:
    s = resolve(
        {"twilio:accountSid": AC_CFG, "twilio:authToken": TOKEN_CFG},
        {"TWILIO_ACCOUNT_SID": AC_ENV, "TWILIO_AUTH_TOKEN": TOKEN_ENV},
    )
    assert s.basic_auth() == (AC_CFG, TOKEN_CFG)
    assert s.account_sid == AC_CFG


def test_env_pair_used_whole_when_config_pair_is_incomplete() -> None:
    # Config has a token but no SID: mixing it with the shell's SID would authenticate as the
    # wrong account (or fail confusingly), so the complete environment pair is taken as a whole.
    s = resolve(
        {"twilio:authToken": TOKEN_CFG},
        {"TWILIO_ACCOUNT_SID": AC_ENV, "TWILIO_AUTH_TOKEN": TOKEN_ENV},
    )
    assert s.basic_auth() == (AC_ENV, TOKEN_ENV)


def test_token_pair_brings_its_own_account_sid() -> None:
    s = resolve(
        {"twilio:accountSid": AC_CFG, "twilio:apiKey": SK_CFG},  # no apiSecret, no authToken
        {"TWILIO_ACCOUNT_SID": AC_ENV, "TWILIO_AUTH_TOKEN": TOKEN_ENV},
    )
    assert s.basic_auth() == (AC_ENV, TOKEN_ENV)
    assert s.account_sid == AC_ENV
    assert s.api_key is None


def test_key_pair_beats_token_pair_in_the_same_source() -> None:
    s = resolve(
        {
            "twilio:accountSid": AC_CFG,
            "twilio:authToken": TOKEN_CFG,
            "twilio:apiKey": SK_CFG,
            "twilio:apiSecret": SECRET_CFG,
        }
    )
    assert s.basic_auth() == (SK_CFG, SECRET_CFG)
    assert s.account_sid == AC_CFG
    assert s.auth_token is None


def test_config_token_pair_beats_env_key_pair() -> None:
    s = resolve(
        {"twilio:accountSid": AC_CFG, "twilio:authToken": TOKEN_CFG},
        {"TWILIO_API_KEY": SK_ENV, "TWILIO_API_SECRET": SECRET_ENV},
    )
    assert s.basic_auth() == (AC_CFG, TOKEN_CFG)
    assert s.api_key is None and s.api_secret is None


def test_env_key_pair_with_account_sid_from_config() -> None:
    s = resolve(
        {"twilio:accountSid": AC_CFG},
        {"TWILIO_API_KEY": SK_ENV, "TWILIO_API_SECRET": SECRET_ENV, "TWILIO_ACCOUNT_SID": AC_ENV},
    )
    assert s.basic_auth() == (SK_ENV, SECRET_ENV)
    assert s.account_sid == AC_CFG  # per field, config first


def test_empty_strings_count_as_unset() -> None:
    s = resolve(
        {"twilio:accountSid": "", "twilio:authToken": "", "twilio:region": ""},
        {"TWILIO_ACCOUNT_SID": AC_ENV, "TWILIO_AUTH_TOKEN": TOKEN_ENV, "TWILIO_REGION": "au1"},
    )
    assert s.basic_auth() == (AC_ENV, TOKEN_ENV)
    assert s.region == "au1"
    assert resolve({}, {"TWILIO_API_KEY": "", "TWILIO_API_SECRET": ""}).api_key is None


def test_environ_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", AC_ENV)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN_ENV)
    assert Settings.resolve({}).basic_auth() == (AC_ENV, TOKEN_ENV)


def test_missing_credentials_never_raise_in_resolve_and_name_every_setting() -> None:
    s = resolve({"twilio:accountSid": AC_CFG}, {"TWILIO_API_KEY": SK_ENV})
    with pytest.raises(MissingCredentials) as info:
        s.basic_auth()
    text = str(info.value)
    for name in (
        "twilio:accountSid",
        "twilio:authToken",
        "twilio:apiKey",
        "twilio:apiSecret",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_API_KEY",
        "TWILIO_API_SECRET",
    ):
        assert name in text
    assert isinstance(info.value, TwilioError)
    assert info.value.status is None and not info.value.retryable


def test_secrets_and_repr() -> None:
    s = resolve(
        {"twilio:accountSid": AC_CFG, "twilio:authToken": TOKEN_CFG},
        {"TWILIO_API_KEY": SK_ENV, "TWILIO_API_SECRET": SECRET_ENV},
    )
    assert s.secrets() == (TOKEN_CFG,)
    both = Settings(account_sid=AC_CFG, auth_token=TOKEN_CFG, api_key=SK_CFG, api_secret=SECRET_CFG)
    assert set(both.secrets()) == {TOKEN_CFG, SECRET_CFG}
    assert TOKEN_CFG not in repr(both) and SECRET_CFG not in repr(both)
    assert AC_CFG in repr(both)
    assert Settings().secrets() == ()


# -- other fields ------------------------------------------------------------------------------------


def test_plain_fields_config_wins_over_env() -> None:
    s = resolve(
        {"twilio:region": "au1", "twilio:connectTimeout": "2.5", "twilio:maxRetries": "7"},
        {
            "TWILIO_REGION": "ie1",
            "TWILIO_EDGE": "dublin",
            "TWILIO_CONNECT_TIMEOUT": "9",
            "TWILIO_READ_TIMEOUT": "12",
            "TWILIO_MAX_RETRIES": "1",
            "TWILIO_ENDPOINT": "http://127.0.0.1:8123/",
        },
    )
    assert (s.region, s.edge) == ("au1", "dublin")
    assert (s.connect_timeout, s.read_timeout, s.max_retries) == (2.5, 12.0, 7)
    assert s.endpoint == "http://127.0.0.1:8123"


def test_max_concurrency_from_config_then_env_default_32() -> None:
    assert resolve().max_concurrency == 32
    assert resolve({}, {"TWILIO_MAX_CONCURRENCY": "10"}).max_concurrency == 10
    assert resolve({"twilio:maxConcurrency": "1"}, {"TWILIO_MAX_CONCURRENCY": "10"}).max_concurrency == 1


def test_retry_base_delay_from_config_then_env_default_quarter_second() -> None:
    assert resolve().retry_base_delay == 0.25
    assert resolve({}, {"TWILIO_RETRY_BASE_DELAY": "1.5"}).retry_base_delay == 1.5
    assert (
        resolve({"twilio:retryBaseDelay": "0.01"}, {"TWILIO_RETRY_BASE_DELAY": "1.5"}).retry_base_delay
        == 0.01
    )
    assert resolve({"twilio:retryBaseDelay": "8"}).retry_base_delay == 8.0


def test_backoff_doubles_from_the_base_with_equal_jitter_up_to_the_cap() -> None:
    assert backoff_delay(0, 1.0) == 0.0
    for attempt, step in ((1, 0.25), (2, 0.5), (3, 1.0), (6, 8.0), (9, 8.0)):
        delays = [backoff_delay(attempt, 0.25) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays), (attempt, min(delays), max(delays))
        assert max(delays) - min(delays) > step / 10  # jittered, not fixed


def test_defaults() -> None:
    s = resolve()
    assert (s.connect_timeout, s.read_timeout, s.max_retries, s.retry_max_seconds) == (5.0, 30.0, 4, 60.0)
    assert (s.region, s.edge, s.endpoint) == (None, None, None)


@pytest.mark.parametrize(
    ("config", "env", "named"),
    [
        ({"twilio:connectTimeout": "soon"}, {}, "twilio:connectTimeout"),
        ({"twilio:readTimeout": "0"}, {}, "twilio:readTimeout"),
        ({}, {"TWILIO_READ_TIMEOUT": "-3"}, "TWILIO_READ_TIMEOUT"),
        ({"twilio:maxRetries": "2.5"}, {}, "twilio:maxRetries"),
        ({}, {"TWILIO_MAX_RETRIES": "-1"}, "TWILIO_MAX_RETRIES"),
        ({"twilio:maxConcurrency": "0"}, {}, "twilio:maxConcurrency"),
        ({"twilio:retryBaseDelay": "0"}, {}, "twilio:retryBaseDelay"),
        ({"twilio:retryBaseDelay": "8.5"}, {}, "twilio:retryBaseDelay"),
        ({}, {"TWILIO_RETRY_BASE_DELAY": "soon"}, "TWILIO_RETRY_BASE_DELAY"),
        ({}, {"TWILIO_MAX_CONCURRENCY": "many"}, "TWILIO_MAX_CONCURRENCY"),
        ({"twilio:connectTimeout": "nan"}, {}, "twilio:connectTimeout"),
        ({"twilio:endpoint": "localhost:8080"}, {}, "twilio:endpoint"),
        ({"twilio:endpoint": "http://localhost:8080/v1"}, {}, "twilio:endpoint"),
        ({"twilio:edge": "x@evil.example#"}, {}, "twilio:edge"),
        ({}, {"TWILIO_REGION": "evil.example/"}, "TWILIO_REGION"),
        ({"twilio:region": "au1.evil.example"}, {}, "twilio:region"),
    ],
)
def test_bad_values_name_the_key(config: dict[str, str], env: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        resolve(config, env)


# -- hosts -----------------------------------------------------------------------------------------

# (url, region, edge, expected): the notes' table plus twilio-python's get_hostname cases.
HOST_TABLE = [
    ("https://api.twilio.com", None, None, "https://api.twilio.com"),
    ("https://api.twilio.com", "au1", "sydney", "https://api.sydney.au1.twilio.com"),
    ("https://api.twilio.com", None, "sydney", "https://api.sydney.us1.twilio.com"),
    ("https://api.twilio.com", "au1", None, "https://api.au1.twilio.com"),
    # 4 pieces: the URL carries a region
    ("https://api.ie1.twilio.com", None, None, "https://api.ie1.twilio.com"),
    ("https://api.ie1.twilio.com", None, "dublin", "https://api.dublin.ie1.twilio.com"),
    ("https://api.ie1.twilio.com", "au1", None, "https://api.au1.twilio.com"),
    ("https://api.ie1.twilio.com", "au1", "sydney", "https://api.sydney.au1.twilio.com"),
    # 5 pieces: the URL carries edge and region
    ("https://api.dublin.ie1.twilio.com", "au1", None, "https://api.dublin.au1.twilio.com"),
    ("https://api.dublin.ie1.twilio.com", None, "sydney", "https://api.sydney.ie1.twilio.com"),
    ("https://api.dublin.ie1.twilio.com", "au1", "sydney", "https://api.sydney.au1.twilio.com"),
    # path and query survive
    (
        "https://api.twilio.com/2010-04-01/Accounts?x=1",
        "au1",
        None,
        "https://api.au1.twilio.com/2010-04-01/Accounts?x=1",
    ),
]


@pytest.mark.parametrize(("url", "region", "edge", "expected"), HOST_TABLE)
def test_rewrite_host_table(url: str, region: str | None, edge: str | None, expected: str) -> None:
    assert rewrite_host(url, region, edge) == expected


@pytest.mark.parametrize(
    ("product", "region", "edge", "expected"),
    [
        ("microvisor", None, None, "https://microvisor.twilio.com"),
        ("api", None, None, "https://api.twilio.com"),
        ("iam", None, None, "https://iam.twilio.com"),
        ("microvisor", "au1", "sydney", "https://microvisor.sydney.au1.twilio.com"),
        ("api", None, "sydney", "https://api.sydney.us1.twilio.com"),
        ("iam", "ie1", None, "https://iam.ie1.twilio.com"),
    ],
)
def test_base_url_per_product(product: str, region: str | None, edge: str | None, expected: str) -> None:
    assert base_url(product, Settings(region=region, edge=edge)) == expected


@pytest.mark.parametrize("product", ["microvisor", "api", "iam"])
def test_endpoint_override_replaces_host_and_ignores_region_edge(product: str) -> None:
    s = Settings(region="au1", edge="sydney", endpoint="http://127.0.0.1:8123/")
    assert base_url(product, s) == "http://127.0.0.1:8123"


def test_unknown_product() -> None:
    with pytest.raises(ValueError, match="unknown Twilio product"):
        base_url("video", Settings())


def test_rebase_keeps_path_and_query_only() -> None:
    nxt = "https://microvisor.twilio.com/v1/Configs?PageSize=2&Page=1&PageToken=PT1"
    assert (
        rebase(nxt, "http://127.0.0.1:9") == "http://127.0.0.1:9/v1/Configs?PageSize=2&Page=1&PageToken=PT1"
    )
    assert rebase("/2010-04-01/Accounts/AC1/Keys.json?Page=2", "https://api.au1.twilio.com") == (
        "https://api.au1.twilio.com/2010-04-01/Accounts/AC1/Keys.json?Page=2"
    )


# -- clear-text endpoints --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8123",
        "http://127.9.8.7:80",
        "http://localhost:4010",
        "http://LOCALHOST",
        "http://[::1]:8080",
        "https://twilio-proxy.example.com",
        "https://10.0.0.5:8443",
    ],
)
def test_endpoint_plain_http_only_to_this_machine_or_https_anywhere(endpoint: str) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either
        assert resolve({"twilio:endpoint": endpoint}).endpoint == endpoint.rstrip("/")


CFG = ("twilio:endpoint", "twilio:allowInsecureEndpoint")
ENV = ("TWILIO_ENDPOINT", "TWILIO_ALLOW_INSECURE_ENDPOINT")


@pytest.mark.parametrize(
    ("config", "env", "named", "opt_in"),
    [
        ({"twilio:endpoint": "http://twilio-proxy.example.com"}, {}, *CFG),
        ({}, {"TWILIO_ENDPOINT": "http://10.0.0.5:8080"}, *ENV),
        ({"twilio:endpoint": "http://[2001:db8::1]:80"}, {}, *CFG),
        # A name that merely starts like a loopback one is not loopback.
        ({"twilio:endpoint": "http://localhost.example.com"}, {}, *CFG),
        ({"twilio:endpoint": "http://127.0.0.1.example.com"}, {}, *CFG),
        (
            {"twilio:endpoint": "http://10.1.1.1", "twilio:allowInsecureEndpoint": "false"},
            {"TWILIO_ALLOW_INSECURE_ENDPOINT": "true"},  # config wins, as for every setting
            *CFG,
        ),
    ],
)
def test_endpoint_plain_http_to_another_machine_is_refused(
    config: dict[str, str], env: dict[str, str], named: str, opt_in: str
) -> None:
    with pytest.raises(ValueError, match="clear text") as err:
        resolve(config, env)
    assert named in str(err.value) and f"set {opt_in}=true" in str(err.value)
    assert "https://" in str(err.value)


@pytest.mark.parametrize(
    ("config", "env"),
    [
        ({"twilio:endpoint": "http://10.0.0.5:8080", "twilio:allowInsecureEndpoint": "true"}, {}),
        ({"twilio:endpoint": "http://10.0.0.5:8080"}, {"TWILIO_ALLOW_INSECURE_ENDPOINT": "1"}),
        ({}, {"TWILIO_ENDPOINT": "http://10.0.0.5:8080", "TWILIO_ALLOW_INSECURE_ENDPOINT": "yes"}),
    ],
)
def test_endpoint_plain_http_to_another_machine_on_explicit_opt_in_warns(
    config: dict[str, str], env: dict[str, str]
) -> None:
    from microvisor_pulumi._twilio.settings import InsecureEndpointWarning

    with pytest.warns(InsecureEndpointWarning, match="unencrypted"):
        s = resolve({**config, "twilio:authToken": "tok-secret", "twilio:accountSid": "AC1"}, env)
    assert s.endpoint == "http://10.0.0.5:8080" and s.allow_insecure_endpoint


def test_allow_insecure_endpoint_is_true_or_false_and_a_config_key() -> None:
    from microvisor_pulumi._twilio import CONFIG_KEYS

    assert "twilio:allowInsecureEndpoint" in CONFIG_KEYS  # so the provider and lookups read it too
    assert resolve({"twilio:allowInsecureEndpoint": "off"}).allow_insecure_endpoint is False
    with pytest.raises(ValueError, match="twilio:allowInsecureEndpoint must be true or false"):
        resolve({"twilio:allowInsecureEndpoint": "sure"})
