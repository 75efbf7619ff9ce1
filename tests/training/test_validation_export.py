"""The validation systems that training holds out, exported as an evaluation split."""

import json

from data_gen.corpus import load_split, shard_paths
from panda_lite.training.corpus import export_validation, is_validation_system


def test_export_writes_exactly_the_held_out_systems_as_a_loadable_split(corpus, tmp_path):
    fraction = 0.3
    train = load_split(corpus, "train")
    expected = [r for r in train if is_validation_system(r["system_id"], fraction)]
    assert 0 < len(expected) < len(train)  # the fixture holds both kinds at this fraction

    assert export_validation(corpus, tmp_path, fraction) == len(expected)
    val = load_split(tmp_path, "val")  # a complete shard (manifest written after it) of the corpus schema
    assert [(r["system_id"], r["ic_index"]) for r in val] == [(r["system_id"], r["ic_index"]) for r in expected]
    assert all(a["trajectory"] == b["trajectory"] for a, b in zip(val, expected))  # lists of lists
    manifest = json.loads(shard_paths(tmp_path, "val", 0, 1)[1].read_text())
    assert manifest["systems"] == sorted({r["system_id"] for r in expected})
    assert manifest["validation_fraction"] == fraction
