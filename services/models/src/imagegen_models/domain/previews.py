"""Catalog previews: a small PNG per reference model, drawn from its category and name.

Rendering is deterministic (same model, same Pillow: same bytes), so the bytes' hash can key the
upload and a restarted or second replica stores nothing twice.
"""

import textwrap
from io import BytesIO

from PIL import Image, ImageDraw, ImageFont

from imagegen_models.domain.catalog import ReferenceModel

PREVIEW_SIZE = 256
CATEGORY_COLOURS = {
    "fashion": (150, 40, 80),
    "fitness": (30, 120, 80),
    "beauty": (190, 90, 130),
    "lifestyle": (200, 120, 30),
    "business": (40, 70, 130),
}
_TEXT_COLOUR = (255, 255, 255)


def preview_owner_id(reference_model_id: int) -> str:
    """The storage owner of a reference model's preview."""
    return f"reference-model-{reference_model_id}"


def render_preview(model: ReferenceModel) -> bytes:
    """A PREVIEW_SIZE square PNG: the category's colour, the model's name centred, the category below."""
    image = Image.new("RGB", (PREVIEW_SIZE, PREVIEW_SIZE), CATEGORY_COLOURS[model.category])
    draw = ImageDraw.Draw(image)
    name_font = ImageFont.load_default(size=26)
    label_font = ImageFont.load_default(size=16)
    centre = PREVIEW_SIZE / 2
    lines = textwrap.wrap(model.name, width=14)
    line_height = 32
    top = centre - line_height * len(lines) / 2
    for number, line in enumerate(lines):
        draw.text(
            (centre, top + line_height * (number + 0.5)), line, font=name_font, fill=_TEXT_COLOUR, anchor="mm"
        )
    draw.text((centre, PREVIEW_SIZE - 24), model.category, font=label_font, fill=_TEXT_COLOUR, anchor="mm")
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
