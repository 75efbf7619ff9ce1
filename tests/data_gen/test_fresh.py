"""Generated sources inside the generator: fresh founders, their rows, rebuilds and the split."""

import json

import numpy as np
import pytest

from data_gen.corpus import load_split, trajectory_array
from data_gen.evolve import Candidate, EvolveConfig, Survivor, integrate_system, mutate, rng_for
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
