"""REDIS_URL forms: one server, several (shards), Sentinel masters; bad input is refused by name."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from project.redis_config import RedisServer, parse_redis_urls, single_server
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_one_plain_server_is_passed_to_redis_py_as_given():
    (server,) = parse_redis_urls("redis://127.0.0.1:6380/2?socket_timeout=30")
    assert not server.is_sentinel
    assert server.layer_host(socket_timeout=15) == {
        "address": "redis://127.0.0.1:6380/2?socket_timeout=30",
        "socket_timeout": 15,
    }


def test_several_servers_are_comma_separated_in_order():
    servers = parse_redis_urls("redis://127.0.0.1:6380/0, redis://127.0.0.1:6381/0")
    assert [server.url for server in servers] == [
        "redis://127.0.0.1:6380/0",
        "redis://127.0.0.1:6381/0",
    ]


def test_a_sentinel_url_names_its_sentinels_master_and_database():
    (server,) = parse_redis_urls(
        "redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2,[::1]:26380/mymaster/3"
        "?socket_timeout=7&sentinel_password=sp"
    )
    assert server.is_sentinel
    assert server.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26379), ("::1", 26380))
    assert (server.master_name, server.db, server.password) == ("mymaster", 3, "s3cret")
    host = server.layer_host(socket_timeout=15)
    assert host["master_name"] == "mymaster"
    assert host["sentinels"] == [["10.0.0.1", 26379], ["10.0.0.2", 26379], ["::1", 26380]]
    assert host["sentinel_kwargs"]["password"] == "sp"
    assert (host["db"], host["password"], host["socket_timeout"]) == (3, "s3cret", 7.0)
    assert "s3cret" not in server.describe()


def test_sentinel_masters_can_be_shards_too():
    servers = parse_redis_urls(
        "redis+sentinel://a:26379,b:26379/one,redis+sentinel://a:26379,b:26379/two/1"
    )
    assert [(s.master_name, s.db, s.sentinels) for s in servers] == [
        ("one", 0, (("a", 26379), ("b", 26379))),
        ("two", 1, (("a", 26379), ("b", 26379))),
    ]


def test_an_empty_variable_means_no_redis():
    assert parse_redis_urls("  ") == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("localhost:6379", "unknown scheme"),
        ("http://127.0.0.1:6379/0", "unknown scheme 'http'"),
        ("redis://127.0.0.1:port/0", "port is not a number"),
        ("redis://:6379/0", "no host"),
        ("redis://127.0.0.1:6379/zero", "database 'zero' is not a number"),
        ("redis://127.0.0.1:6379/0?socket_timeout=soon", "socket_timeout"),
        ("redis://127.0.0.1:6379/0,,redis://127.0.0.1:6380/0", "empty entry"),
        ("redis://127.0.0.1:6379/0,127.0.0.1:6380", "unknown scheme"),
        ("redis://127.0.0.1:6379/0,redis://127.0.0.1:6379/0", "named twice"),
        ("redis+sentinel://127.0.0.1:26379", "no master name"),
        ("redis+sentinel://127.0.0.1:26379/", "no master name"),
        ("redis+sentinel://127.0.0.1:x/mymaster", "Sentinel port"),
        ("redis+sentinel://127.0.0.1:26379/my master", "unexpected characters"),
        ("redis+sentinel://127.0.0.1:26379/mymaster/db0", "database 'db0'"),
        ("redis+sentinel://127.0.0.1:26379/mymaster/0/1", "master_name/db"),
        ("redis+sentinel://127.0.0.1:26379/mymaster?ssl=1", "unknown option 'ssl'"),
        ("redis+sentinel://127.0.0.1:26379/mymaster?socket_timeout=x", "socket_timeout"),
        ("redis+sentinel://:26379/mymaster", "has no host"),
    ],
)
def test_malformed_urls_are_refused_with_the_variable_and_the_problem(value, problem):
    with pytest.raises(ImproperlyConfigured) as refused:
        parse_redis_urls(value, "REDIS_URL")
    assert str(refused.value).startswith("REDIS_URL is malformed")
    assert problem in str(refused.value)


def test_a_password_is_not_repeated_in_the_error():
    with pytest.raises(ImproperlyConfigured) as refused:
        parse_redis_urls("redis://:hunter2@127.0.0.1:6379/zero", "REDIS_URL")
    assert "hunter2" not in str(refused.value)


def test_presence_and_cache_take_one_server_defaulting_to_the_first():
    first = RedisServer(url="redis://a:6379/0")
    assert single_server("", "PRESENCE_REDIS_URL", first) is first
    assert single_server("redis://b:6379/1", "CACHE_REDIS_URL", first).url == "redis://b:6379/1"
    with pytest.raises(ImproperlyConfigured, match="PRESENCE_REDIS_URL names 2 servers"):
        single_server("redis://a:1/0,redis://b:1/0", "PRESENCE_REDIS_URL", first)


# Settings, as a replica loads them
# ------------------------------------------------------------------------------

PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'layer': settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'], "
    "'worker': settings.CHANNEL_LAYERS['worker']['CONFIG']['hosts'], "
    "'cache': settings.CACHES['default'], 'presence': settings.PRESENCE_REDIS.url}))"
)


def load_settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("REDIS_URL")}
    clean.update({"DJANGO_SETTINGS_MODULE": "project.settings", **env})
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True
    )


@pytest.mark.parametrize("layer", ["pubsub", "core"])
def test_several_servers_give_the_layers_one_host_each_and_the_rest_the_first(layer):
    result = load_settings(
        REDIS_URL="redis://127.0.0.1:6380/0,redis://127.0.0.1:6381/0", CHANNEL_LAYER=layer
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    for hosts in (config["layer"], config["worker"]):
        assert [host["address"] for host in hosts] == [
            "redis://127.0.0.1:6380/0",
            "redis://127.0.0.1:6381/0",
        ]
    assert config["presence"] == "redis://127.0.0.1:6380/0"
    assert config["cache"]["LOCATION"] == ["redis://127.0.0.1:6380/0"]


def test_presence_and_cache_can_be_placed_on_their_own_servers():
    result = load_settings(
        REDIS_URL="redis://127.0.0.1:6380/0,redis://127.0.0.1:6381/0",
        PRESENCE_REDIS_URL="redis://127.0.0.1:6390/0",
        CACHE_REDIS_URL="redis+sentinel://127.0.0.1:26379/cache",
    )
    config = json.loads(result.stdout)
    assert config["presence"] == "redis://127.0.0.1:6390/0"
    assert config["cache"]["LOCATION"] == ["redis+sentinel://127.0.0.1:26379/cache"]
    assert config["cache"]["OPTIONS"] == {"pool_class": "chat.redis_client.SentinelCachePool"}


def test_a_sentinel_url_gives_both_layers_sentinel_hosts():
    result = load_settings(REDIS_URL="redis+sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster")
    config = json.loads(result.stdout)
    for hosts in (config["layer"], config["worker"]):
        assert [(host["master_name"], host["sentinels"]) for host in hosts] == [
            ("mymaster", [["127.0.0.1", 26379], ["127.0.0.1", 26380]])
        ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_URL": "redis//127.0.0.1:6379"}, "REDIS_URL is malformed"),
        ({"REDIS_URL": "redis+sentinel://127.0.0.1:26379"}, "REDIS_URL is malformed"),
        (
            {"REDIS_URL": "redis://127.0.0.1:6379/0", "CACHE_REDIS_URL": "redis:/x"},
            "CACHE_REDIS_URL is malformed",
        ),
        ({"REDIS_URL": "redis://127.0.0.1:6379/0", "CHANNEL_LAYER": "kafka"}, "CHANNEL_LAYER"),
    ],
)
def test_a_replica_with_a_malformed_url_does_not_load_its_settings(env, message):
    result = load_settings(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_an_unreachable_sentinel_stops_the_start_up_naming_the_variable(settings):
    from project.health import check_redis_at_startup

    closed = free_port()
    server = parse_redis_urls(f"redis+sentinel://127.0.0.1:{closed}/mymaster")[0]
    settings.REDIS_SERVERS = [server]
    settings.PRESENCE_REDIS = settings.CACHE_REDIS = server
    with pytest.raises(ImproperlyConfigured) as refused:
        check_redis_at_startup(wait_secs=0)
    assert str(refused.value).startswith("REDIS_URL: no Sentinel answers")
    assert f"127.0.0.1:{closed}" in str(refused.value)


def test_make_cluster_checks_every_server_and_sentinel_before_starting():
    import importlib.util

    spec = importlib.util.spec_from_file_location("cluster", ROOT / "deploy" / "cluster.py")
    cluster = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cluster)
    up, closed = os.environ["REDIS_URL"], free_port()
    assert cluster.redis_problems({"REDIS_URL": f"{up},{up[:-2]}/14"}) == []
    problems = cluster.redis_problems(
        {
            "REDIS_URL": f"{up},redis://127.0.0.1:{closed}/0",
            "PRESENCE_REDIS_URL": f"redis+sentinel://127.0.0.1:{closed}/chat",
            "CACHE_REDIS_URL": "redis:/nowhere",
        }
    )
    assert problems[0] == f"REDIS_URL: Redis is not reachable at redis://127.0.0.1:{closed}/0"
    assert problems[1].startswith("PRESENCE_REDIS_URL: no Sentinel is reachable")
    assert problems[2].startswith("CACHE_REDIS_URL is malformed")
