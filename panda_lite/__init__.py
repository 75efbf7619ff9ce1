"""panda_lite: a pretrained patched-attention forecaster for chaotic dynamical systems.

Importing the package registers the "panda_lite" model type with transformers' Auto
classes, so `AutoModel.from_pretrained(folder)` works without `trust_remote_code`.
"""

from transformers import AutoConfig, AutoModel

from .configuration_panda_lite import PandaLiteConfig
from .modeling_panda_lite import (
    PandaLiteForPretraining,
    PandaLiteModel,
    PandaLiteOutput,
    PandaLitePreTrainedModel,
    PandaLitePretrainingOutput,
)
from .pipeline import PandaLitePipeline, list_bundled_checkpoints

__version__ = "0.1.0"

AutoConfig.register(PandaLiteConfig.model_type, PandaLiteConfig, exist_ok=True)
AutoModel.register(PandaLiteConfig, PandaLiteModel, exist_ok=True)

__all__ = [
    "PandaLiteConfig",
    "PandaLiteModel",
    "PandaLiteForPretraining",
    "PandaLitePretrainingOutput",
    "PandaLiteOutput",
    "PandaLitePreTrainedModel",
    "PandaLitePipeline",
    "list_bundled_checkpoints",
    "__version__",
]
