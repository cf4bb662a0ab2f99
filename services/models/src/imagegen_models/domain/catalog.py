"""The reference catalog teams generate with and fine-tune from.

Seeded idempotently by `imagegen-models migrate`: rows are upserted by id, so editing an entry here
and migrating again updates it. One model per category for now; the full 50 arrive with the
models issue.
"""

from dataclasses import dataclass, field
from typing import Any

CATEGORIES = ("fashion", "fitness", "beauty", "lifestyle", "business")

FLUX_LORA = "fal-ai/flux-lora"


@dataclass(frozen=True)
class ReferenceModel:
    id: int
    name: str
    category: str
    description: str
    tags: tuple[str, ...]
    complexity_hundredths: int
    provider_endpoint: str = FLUX_LORA
    default_parameters: dict[str, Any] = field(default_factory=dict)


REFERENCE_MODELS = (
    ReferenceModel(
        id=1,
        name="Editorial Fashion",
        category="fashion",
        description="Full-body fashion photography with studio and street lighting.",
        tags=("fashion", "editorial", "full-body", "apparel"),
        complexity_hundredths=150,
        default_parameters={"guidance_scale": 3.5},
    ),
    ReferenceModel(
        id=2,
        name="Athletic Action",
        category="fitness",
        description="Athletes in motion, gyms and outdoor training with crisp detail.",
        tags=("fitness", "sport", "motion", "gym"),
        complexity_hundredths=130,
        default_parameters={"guidance_scale": 3.5},
    ),
    ReferenceModel(
        id=3,
        name="Beauty Close-up",
        category="beauty",
        description="Skin, make-up and hair close-ups with soft beauty lighting.",
        tags=("beauty", "portrait", "close-up", "cosmetics"),
        complexity_hundredths=140,
        default_parameters={"guidance_scale": 4.0},
    ),
    ReferenceModel(
        id=4,
        name="Everyday Lifestyle",
        category="lifestyle",
        description="Natural scenes of people at home, travelling and socialising.",
        tags=("lifestyle", "candid", "natural-light"),
        complexity_hundredths=100,
        default_parameters={"guidance_scale": 3.0},
    ),
    ReferenceModel(
        id=5,
        name="Corporate Portrait",
        category="business",
        description="Professional headshots and office scenes for teams and brands.",
        tags=("business", "headshot", "office", "corporate"),
        complexity_hundredths=110,
        default_parameters={"guidance_scale": 3.5},
    ),
)
