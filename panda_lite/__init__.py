"""panda_lite: a pretrained patched-attention forecaster for chaotic dynamical systems.

    from panda_lite import PandaLitePipeline
    pipe = PandaLitePipeline.from_pretrained("panda-lite-mini-preview")
    forecast = pipe.predict(context, prediction_length=256)    # context (T, C) -> (256, C)

Names are imported on first use, so `import panda_lite` (and the CLI's `--help`) stays
instant. Importing the model module registers the "panda_lite" model type with
transformers' Auto classes, so after `from panda_lite import PandaLiteModel` (or the
pipeline) `AutoModel.from_pretrained(folder)` works without `trust_remote_code`.
"""

from importlib import metadata

from ._lazy import lazy_exports

try:
    __version__ = metadata.version("panda-lite")
except metadata.PackageNotFoundError:  # a source checkout that was never installed
    __version__ = "0+unknown"

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "PandaLiteConfig": "configuration_panda_lite",
        "PandaLiteModel": "modeling_panda_lite",
        "PandaLiteForPretraining": "modeling_panda_lite",
        "PandaLiteOutput": "modeling_panda_lite",
        "PandaLitePreTrainedModel": "modeling_panda_lite",
        "PandaLitePretrainingOutput": "modeling_panda_lite",
        "PandaLitePipeline": "pipeline",
        "PipelineConfig": "pipeline",
        "list_bundled_checkpoints": "locate",
    },
)

__all__ = [
    "PandaLiteConfig",
    "PandaLiteForPretraining",
    "PandaLiteModel",
    "PandaLiteOutput",
    "PandaLitePreTrainedModel",
    "PandaLitePretrainingOutput",
    "PandaLitePipeline",
    "PipelineConfig",
    "list_bundled_checkpoints",
    "__version__",
]
