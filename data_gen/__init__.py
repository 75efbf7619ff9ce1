"""data_gen: evolutionary discovery of chaotic systems and the synthetic training corpus.

Pipeline: dysts founders (founders.py) and generated sources (sources/, fresh.py) -> ensemble
integration (integrate.py) -> attractor tests (attractor_tests.py) -> mutation and skew products
(evolve.py, systems.py) -> descriptors and near-duplicates (descriptors.py) -> Parquet
shards (corpus.py: the contract every reader shares), orchestrated by generate.py and the
``panda-lite-generate`` CLI (cli.py); toy.py writes a small corpus in the same format. Uses
only numpy, scipy, dysts, datasets and panda_lite's file helpers (no torch, no training code).
"""

from panda_lite import __version__

__all__ = ["__version__"]
