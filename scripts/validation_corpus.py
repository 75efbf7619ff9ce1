"""Writes the validation systems that training holds out of a corpus as an evaluation corpus:

python scripts/validation_corpus.py CORPUS OUT [--fraction 0.05]
panda-lite evaluate --corpus OUT --split val --checkpoint CKPT --out EVAL
"""

import argparse

from panda_lite.training.corpus import export_validation

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("corpus", help="data_gen corpus root (reads CORPUS/train)")
parser.add_argument("out", help="output root (writes OUT/val)")
parser.add_argument("--fraction", type=float, default=0.05, help="data.validation_fraction of the runs (0.05)")
args = parser.parse_args()
print(f"{export_validation(args.corpus, args.out, args.fraction)} trajectories -> {args.out}/val")
