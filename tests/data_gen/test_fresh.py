"""Generated sources inside the generator: fresh founders, their rows, rebuilds and the split."""

import json

import numpy as np
import pytest

from data_gen import fresh
from data_gen.corpus import load_split, trajectory_array
from data_gen.evolve import FRESH_TRAJECTORIES, Candidate, EvolveConfig, Survivor, integrate_system, mutate, rng_for
from data_gen.generate import RunConfig, _check_split, generate
from data_gen.sources import SOURCE_NAMES, get_source, is_held_out_family
from data_gen.systems import founders_of, is_held_out, observe

TINY = EvolveConfig(
    generations=1,
    n_points=2048,
    ppp_range=(32.0, 32.0),
    num_ics=2,
    attractor_pool=16,
    rtol=1e-6,
    atol=1e-8,
    fresh_batch=64,
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("fresh")
    runs = {}
    for split in ("train", "test"):
        run = RunConfig(out=str(out), num_systems=3, seed=3, split=split, sources=("polynomial",), evolve=TINY)
        runs[split] = generate(run, progress=False)
    return out, runs


def test_fresh_systems_are_written_with_their_source_statistics(corpus):
    out, runs = corpus
    summary = runs["train"]
    assert summary["fresh_systems"] + summary["evolved_systems"] == 3
    stats = summary["sources"]["polynomial"]
    assert stats["accepted"] == summary["fresh_systems"] > 0 and stats["screened"] >= stats["accepted"]
    assert summary["systems_by_source"] == {"polynomial": 3}
    rows = load_split(out, "train")
    assert set(json.loads(rows[0]["descriptors"])) >= {"correlation_dimension", "spectral_entropy", "lyapunov"}


def test_every_row_rebuilds_bit_for_bit_from_its_genealogy(corpus):
    out, _ = corpus
    rows = load_split(out, "train").with_format("arrow")[:]
    for i in range(len(rows)):
        lineage = json.loads(rows["genealogy"][i].as_py())
        spec = json.loads(json.dumps(lineage["spec"]))
        ppp = rows["points_per_period"][i].as_py()
        sol = integrate_system(spec, np.asarray([lineage["initial_condition"]]), ppp, 0, TINY)
        rebuilt = observe(spec, sol.trajectories[0]).astype(np.float32)
        np.testing.assert_array_equal(rebuilt, trajectory_array(rows["trajectory"], i))


def test_the_split_holds_for_generated_families(corpus):
    out, _ = corpus
    for split in ("train", "test"):
        for founders in load_split(out, split)["founders"]:
            assert all(is_held_out(f) == (split == "test") for f in founders)


def test_same_seed_same_corpus(corpus, tmp_path):
    out, _ = corpus
    run = RunConfig(out=str(tmp_path), num_systems=3, seed=3, split="train", sources=("polynomial",), evolve=TINY)
    generate(run, progress=False)
    for name in ("shard-00000-of-00001.parquet",):
        assert (tmp_path / "train" / name).read_bytes() == (out / "train" / name).read_bytes()


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_held_out_families_stay_held_out_whatever_they_are_bred_with(name):
    """Every source has families on both sides of the split; a mutant keeps its parent's family,
    and a skew product with a held-out half is refused by the train split (and vice versa)."""
    source = get_source(name)
    rng = np.random.default_rng(0)
    specs = [spec for _ in range(16) for spec in source.sample_batch(rng, 25)]
    held = [s for s in specs if is_held_out_family(s["name"])]
    kept = [s for s in specs if not is_held_out_family(s["name"])]
    assert held and kept, "a source with no family on one side of the split cannot be evaluated honestly"
    pool = np.stack([source.initial_state(held[0], np.random.default_rng(k)) for k in range(4)])
    parent = Survivor(Candidate(held[0], 0, "founder", []), 32.0, {}, 0.1, [1.0] * source.dimension(held[0]), pool)
    child, _ = mutate(parent, rng_for(0, 0, 1, 0), 1, 0.25)
    assert founders_of(child.spec) == [held[0]["name"]] and is_held_out(held[0]["name"])
    skew = {"system_id": "x->y", "founders": sorted([held[0]["name"], "Chen"])}
    with pytest.raises(RuntimeError, match="would contain"):
        _check_split("train", [skew])
    with pytest.raises(RuntimeError, match="would contain"):
        _check_split("test", [{"system_id": "y", "founders": [kept[0]["name"]]}])


def test_batches_are_sized_from_the_hit_rate():
    # prior only: 6 / (0.25 x 0.9) = 26.7 draws; the shard's own counts pull the rate (32 prior
    # draws at 0.25 and 8 of 32 screened: still 0.25; 0 of 32: 0.125); MIN_BATCH and the cap bound it
    assert fresh.batch_size(0.25, 0, 0, 6, 0.9, 512) == 27
    assert fresh.batch_size(0.25, 8, 32, 6, 0.9, 512) == 27
    assert fresh.batch_size(0.25, 0, 32, 6, 0.9, 512) == 54
    assert fresh.batch_size(0.9, 0, 0, 1, 1.0, 512) == fresh.MIN_BATCH
    assert fresh.batch_size(0.0, 0, 0, 100, 0.1, 512) == 512


@pytest.mark.parametrize(("n", "state", "samples"), [(1, 4, 4096), (1000, 64, 4096), (513, 3, 2**20), (7, 1, 1)])
def test_chunks_cover_every_member_within_the_memory_budget(n, state, samples):
    parts = fresh.chunks(n, state, samples)
    sizes = [p.stop - p.start for p in parts]
    assert parts[0].start == 0 and parts[-1].stop == n and all(a.stop == b.start for a, b in zip(parts, parts[1:]))
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    assert max(sizes) == 1 or max(sizes) * state * samples * 8 <= fresh.ENSEMBLE_BYTES


@pytest.fixture(scope="module")
def forced_draws():
    """A shard's forced draws with a hit rate prior 25x too low: batches of ``fresh_batch`` draws
    for a share of one system, so the batch that fills it has survivors beyond the share."""
    source = type(get_source("forced"))
    small = EvolveConfig(n_points=1024, ppp_range=(32.0, 32.0), num_ics=3, attractor_pool=16, fresh_batch=24)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(source, "hit_rate", 0.01)
        runs = [fresh.draw_founders("forced", 0, 1, "train", 5, 0, small) for _ in range(2)]
    return runs, small


def test_every_survivor_of_a_batch_is_kept_deterministically(forced_draws):
    (survivors, stats), (again, _) = forced_draws[0]
    # batches of 24 draws until one has a survivor; all of that batch's survivors are kept
    assert stats.asked == 1 and stats.draws % 24 == 0 and stats.accepted == len(survivors) > 1
    assert stats.screened == stats.accepted + sum(stats.rejections.values())
    assert "surplus" not in stats.rejections
    assert [json.dumps(s.to_json()) for s in survivors] == [json.dumps(s.to_json()) for s in again]


def test_saved_trajectories_do_not_depend_on_the_chunks(forced_draws, monkeypatch):
    (survivors, _), _ = forced_draws[0]
    cfg = forced_draws[1]
    rngs = lambda: [rng_for(5, 0, FRESH_TRAJECTORIES, k) for k in range(len(survivors))]  # noqa: E731
    whole = fresh.sample_batch_trajectories(survivors, rngs(), cfg)
    monkeypatch.setattr(fresh, "ENSEMBLE_BYTES", 2 * 8 * 4 * cfg.n_points)  # two members per chunk
    chunked = fresh.sample_batch_trajectories(survivors, rngs(), cfg)
    for (a, a0, a_status), (b, b0, b_status) in zip(whole, chunked):
        assert a_status == b_status and a.dtype == np.float32 and len(a) == cfg.num_ics
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a0, b0)


def test_shards_are_larger_by_default_with_generated_sources():
    dysts_only = RunConfig(out="x", num_systems=1100)
    generated = RunConfig(out="x", num_systems=1100, sources=("dysts", "forced"))
    assert (dysts_only.shards, generated.shards) == (69, 3)
    assert RunConfig(out="x", num_systems=1100, sources=("forced",), num_shards=5).shards == 5
