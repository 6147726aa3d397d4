"""The posting rate limit: 3 a second sustained, bursts of 10, shared through Redis."""

import time

from chat import ratelimit


def test_a_burst_is_allowed_then_refused(settings):
    settings.CHAT_RATE_LIMIT_BURST = 10
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0.001
    results = [ratelimit.take_post_token(1) for _ in range(12)]
    assert results == [True] * 10 + [False] * 2


def test_tokens_come_back_over_time(settings):
    settings.CHAT_RATE_LIMIT_BURST = 1
    settings.CHAT_RATE_LIMIT_PER_SECOND = 20
    assert ratelimit.take_post_token(2)
    time.sleep(0.2)
    assert ratelimit.take_post_token(2)


def test_users_have_separate_buckets(settings):
    settings.CHAT_RATE_LIMIT_BURST = 1
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0.001
    assert ratelimit.take_post_token(3)
    assert not ratelimit.take_post_token(3)
    assert ratelimit.take_post_token(4)


def test_the_embedded_bucket_follows_the_same_rules(settings):
    settings.REDIS_URL = ""
    settings.CHAT_RATE_LIMIT_BURST = 2
    settings.CHAT_RATE_LIMIT_PER_SECOND = 0.001
    assert [ratelimit.take_post_token(5) for _ in range(3)] == [True, True, False]


def test_it_can_be_switched_off(settings):
    settings.CHAT_RATE_LIMIT_ENABLED = False
    assert all(ratelimit.take_post_token(6) for _ in range(50))
