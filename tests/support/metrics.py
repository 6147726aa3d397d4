"""A replica's Prometheus metrics, as a scraper sees them (GET /metrics)."""

import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(base_url: str) -> dict[str, float]:
    """Every sample of the replica's /metrics by name (labels summed), e.g. 'chat_x_total'."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name] = samples.get(sample.name, 0.0) + sample.value
    return samples
