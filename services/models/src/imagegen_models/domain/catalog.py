"""The reference catalog teams generate with and fine-tune from.

Seeded idempotently by `imagegen-models migrate`: rows are upserted by id, so editing an entry here
and migrating again updates it. Ten models in each of the five categories.
"""

from dataclasses import dataclass, field
from typing import Any

CATEGORIES = ("fashion", "fitness", "beauty", "lifestyle", "business")

FLUX_LORA = "fal-ai/flux-lora"
FLUX_LORA_FAST_TRAINING = "fal-ai/flux-lora-fast-training"

# The input through which each trainer continues from starting weights (a parent version's LoRA);
# "" for a trainer that accepts none, which trains every refinement from the reference model again.
STARTING_WEIGHTS_PARAMETERS = {FLUX_LORA_FAST_TRAINING: ""}


def starting_weights_parameter(training_endpoint: str) -> str:
    """The trainer's input for starting weights; "" when it takes none (or is not one we know)."""
    return STARTING_WEIGHTS_PARAMETERS.get(training_endpoint, "")


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
    # The provider app that fine-tunes this model into a team's custom model.
    training_endpoint: str = FLUX_LORA_FAST_TRAINING


def _model(
    model_id: int,
    category: str,
    name: str,
    complexity: int,
    description: str,
    tags: str,
    guidance: float = 3.5,
) -> ReferenceModel:
    return ReferenceModel(
        id=model_id,
        name=name,
        category=category,
        description=description,
        tags=tuple(tags.split()),
        complexity_hundredths=complexity,
        default_parameters={"guidance_scale": guidance},
    )


# (name, complexity in hundredths, description, tags) per category; ids follow this order, so an
# entry's id never changes: add new models at the end of the list.
_CATALOG = {
    "fashion": [
        (
            "Editorial Fashion",
            150,
            "Full-body fashion photography with studio and street lighting.",
            "editorial full-body apparel",
        ),
        (
            "Streetwear Lookbook",
            130,
            "Urban outfits photographed on city streets in natural light.",
            "streetwear urban lookbook",
        ),
        (
            "Haute Couture Runway",
            180,
            "Runway shots of couture gowns with dramatic stage lighting.",
            "runway couture gown",
        ),
        (
            "Denim Catalog",
            110,
            "Clean catalog shots of jeans and denim jackets on plain backdrops.",
            "denim catalog ecommerce",
        ),
        (
            "Knitwear Close-up",
            120,
            "Texture-rich close-ups of sweaters, scarves and knitted fabrics.",
            "knitwear texture fabric",
        ),
        (
            "Swimwear Beach",
            140,
            "Swimwear on sunny beaches and poolsides with warm tones.",
            "swimwear beach summer",
        ),
        (
            "Footwear Product",
            110,
            "Sneakers, boots and heels as product shots with crisp shadows.",
            "footwear shoes product",
        ),
        (
            "Accessories Flat Lay",
            100,
            "Bags, belts and jewellery arranged as overhead flat lays.",
            "accessories flatlay jewelry",
        ),
        (
            "Vintage Fashion Film",
            160,
            "Retro outfits with film grain and faded 1970s colour.",
            "vintage retro film",
        ),
        (
            "Menswear Tailoring",
            130,
            "Suits and tailored menswear in studio portraits.",
            "menswear suit tailoring",
        ),
    ],
    "fitness": [
        (
            "Athletic Action",
            130,
            "Athletes in motion, gyms and outdoor training with crisp detail.",
            "sport motion gym",
        ),
        ("Yoga Studio", 110, "Yoga poses in calm studios with soft daylight.", "yoga studio wellness"),
        (
            "CrossFit Box",
            140,
            "High-intensity workouts with barbells, ropes and chalk dust.",
            "crossfit barbell intensity",
        ),
        ("Trail Running", 130, "Runners on mountain trails at sunrise and dusk.", "running trail outdoor"),
        ("Cycling Road", 140, "Road cyclists in motion with panning blur.", "cycling road bike"),
        (
            "Swimming Pool",
            150,
            "Swimmers mid-stroke with water splashes and underwater light.",
            "swimming pool water",
        ),
        ("Boxing Gym", 130, "Boxers training with gloves, bags and gritty lighting.", "boxing gym gloves"),
        ("Home Workout", 100, "Bodyweight training at home with everyday props.", "home workout bodyweight"),
        (
            "Pilates Reformer",
            110,
            "Pilates sessions on reformers in bright studios.",
            "pilates reformer studio",
        ),
        (
            "Team Sports Stadium",
            160,
            "Football and basketball players in stadium light.",
            "teamsports stadium ball",
        ),
    ],
    "beauty": [
        (
            "Beauty Close-up",
            140,
            "Skin, make-up and hair close-ups with soft beauty lighting.",
            "portrait close-up cosmetics",
            4.0,
        ),
        (
            "Skincare Product",
            110,
            "Serums, creams and bottles with glossy reflections.",
            "skincare product bottle",
            4.0,
        ),
        (
            "Bold Makeup Editorial",
            160,
            "Graphic eye looks and bold lip colour for editorials.",
            "makeup editorial color",
            4.0,
        ),
        (
            "Natural Glow Portrait",
            120,
            "Minimal make-up portraits with dewy skin and daylight.",
            "natural glow portrait",
            4.0,
        ),
        ("Hair Salon", 130, "Cuts, colours and styling in salon settings.", "hair salon styling", 4.0),
        ("Nail Art Macro", 120, "Macro shots of manicures and nail designs.", "nails macro manicure", 4.0),
        (
            "Fragrance Still Life",
            130,
            "Perfume bottles in still lifes with flowers and light.",
            "fragrance perfume stilllife",
            4.0,
        ),
        (
            "Spa Wellness",
            100,
            "Spa treatments, towels and candles in warm calm tones.",
            "spa wellness relax",
            4.0,
        ),
        ("Men's Grooming", 110, "Beard care, shaving and grooming products.", "grooming beard men", 4.0),
        (
            "Lipstick Swatch",
            100,
            "Colour swatches and lipsticks on clean backgrounds.",
            "lipstick swatch color",
            4.0,
        ),
    ],
    "lifestyle": [
        (
            "Everyday Lifestyle",
            100,
            "Natural scenes of people at home, travelling and socialising.",
            "candid natural-light",
            3.0,
        ),
        ("Coffee Shop", 100, "Cafes, baristas and friends over coffee.", "coffee cafe friends", 3.0),
        (
            "Travel Destinations",
            140,
            "Travellers at landmarks, markets and coastlines.",
            "travel destination landmark",
            3.0,
        ),
        (
            "Family Moments",
            110,
            "Families at home and outdoors in warm candid light.",
            "family home candid",
            3.0,
        ),
        ("Cozy Interior", 120, "Living rooms, reading nooks and soft textiles.", "interior cozy home", 3.0),
        ("Food and Dining", 130, "Plated dishes and shared meals at the table.", "food dining table", 3.0),
        ("Pets at Home", 110, "Dogs and cats with their owners around the house.", "pets dog cat", 3.0),
        (
            "Outdoor Adventure",
            150,
            "Hiking, camping and climbing in wide landscapes.",
            "outdoor hiking camping",
            3.0,
        ),
        ("Urban Nightlife", 140, "City nights, neon signs and evening crowds.", "nightlife city neon", 3.0),
        (
            "Garden and Plants",
            110,
            "Gardens, houseplants and people tending them.",
            "garden plants green",
            3.0,
        ),
    ],
    "business": [
        (
            "Corporate Portrait",
            110,
            "Professional headshots and office scenes for teams and brands.",
            "headshot office corporate",
        ),
        ("Startup Office", 110, "Open-plan offices, whiteboards and teams at work.", "startup office team"),
        (
            "Conference Stage",
            140,
            "Speakers on stage with audiences and screens.",
            "conference speaker stage",
        ),
        ("Remote Work", 100, "People working from laptops at home and in cafes.", "remote laptop work"),
        ("Handshake Deal", 100, "Meetings, handshakes and negotiations.", "meeting handshake deal"),
        (
            "Industrial Workplace",
            150,
            "Factories, warehouses and workers in safety gear.",
            "industrial factory warehouse",
        ),
        (
            "Healthcare Professional",
            130,
            "Doctors and nurses in clinics and hospitals.",
            "healthcare doctor clinic",
        ),
        ("Retail Storefront", 120, "Shop fronts, counters and staff serving customers.", "retail store shop"),
        (
            "Finance Dashboard",
            120,
            "Analysts with charts, screens and trading floors.",
            "finance charts analyst",
        ),
        (
            "Architecture Exterior",
            160,
            "Office buildings and modern architecture exteriors.",
            "architecture building exterior",
        ),
    ],
}

REFERENCE_MODELS = tuple(
    _model(model_id, category, *entry)
    for model_id, (category, entry) in enumerate(
        ((category, entry) for category in CATEGORIES for entry in _CATALOG[category]), start=1
    )
)
