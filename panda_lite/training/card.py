"""Model cards: `model_cards/template.md` rendered with a checkpoint's facts.

The template's YAML front matter holds what every card shares (license, library, pipeline
tag, tags); `render_card` adds the per-checkpoint `datasets` and, for fine-tunes,
`base_model`, as the Hugging Face Hub expects them.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

TEMPLATE = Path(__file__).parent / "model_card_template.md"  # a link to model_cards/template.md
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def render_card(
    values: dict, datasets: list[str], base_model: str | None = None, template: str | Path = TEMPLATE
) -> str:
    """Fills every `{{key}}` of the template from `values` and completes the front matter.

    Raises:
        ValueError naming the placeholders `values` does not provide.
    """
    text = Path(template).read_text()
    _, front, body = text.split("---\n", 2)
    metadata = yaml.safe_load(front)
    metadata["datasets"] = list(datasets)
    if base_model is not None:
        metadata["base_model"] = base_model
    missing = sorted({m.group(1) for m in PLACEHOLDER.finditer(body)} - set(values))
    if missing:
        raise ValueError(f"model card template {template} needs values for {missing}")
    body = PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), body)
    return "---\n" + yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True) + "---\n" + body
