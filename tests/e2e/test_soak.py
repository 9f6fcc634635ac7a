"""The soak run's checks, on a short run (`make soak` runs an hour): the producers hold their
rate, every acknowledged job finishes, and once the results have expired Redis holds what it
held before (keys and memory), the processes' RSS is flat and keys per job do not grow. The
run must also have shown load: a peak above the baseline, keys per job counted."""

from pathlib import Path

import pytest

from jobs.testing.plugin import KitEnvironment
from tests.chaos.soak import Soak, SoakRun
from tests.support.report import report

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.mark.skipif(
    KitEnvironment().test_redis_url is not None,
    reason="the soak runs a Valkey of its own (its memory is measured from empty)",
)
async def test_a_short_soak_comes_back_to_its_baseline(tmp_path: Path) -> None:
    config = SoakRun(soak_seconds=25, soak_rate=20, soak_ttl_s=3, soak_sample_s=1)
    soak = Soak(config, tmp_path)
    await soak.run()
    figures = soak.figures
    report("soak, 25 s", **{k: v for k, v in figures.items() if k != "rss"})
    assert soak.failures == []
    assert figures["jobs_final"] == figures["jobs_acknowledged"] >= 450
    assert figures["redis_memory_peak"] > figures["redis_memory_baseline"]
    assert figures["keys_per_job_first_quarter"] > 0.5
    assert figures["keys_final"] <= figures["keys_baseline"] + 3
    assert set(figures["rss"]) == {"web", "worker-0", "worker-1"}
