"""data_gen: evolutionary discovery of chaotic systems and the synthetic training corpus.

Pipeline: dysts founders (founders.py) -> ensemble integration (integrate.py) -> attractor
tests (attractor_tests.py) -> mutation and skew products (evolve.py, systems.py) -> Parquet
shards (corpus.py), orchestrated by generate.py and the ``panda-lite-generate`` CLI (cli.py).
Imports nothing from panda_lite or the training code.
"""

from importlib import metadata

try:
    __version__ = metadata.version("panda-lite")
except metadata.PackageNotFoundError:  # running from a source checkout without installing
    __version__ = "0.1.0"
