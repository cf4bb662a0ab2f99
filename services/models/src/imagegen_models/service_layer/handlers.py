"""Reference catalog use cases, and what every use case of this service is given."""

import logging
from dataclasses import asdict, dataclass

from imagegen_platform.errors import InvalidArgument, NotFound
from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_models.adapters.peers import Peers, SignedUrl
from imagegen_models.adapters.tables import reference_model
from imagegen_models.domain.catalog import CATEGORIES, REFERENCE_MODELS, ReferenceModel

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Models:
    """The service's dependencies: one engine per process, and the clients of its peers."""

    engine: AsyncEngine
    peers: Peers


@dataclass(frozen=True)
class CatalogEntry:
    model: ReferenceModel
    # A fresh URL of the model's preview; None until the preview is stored, or when storage failed.
    preview: SignedUrl | None


def cursor_id(page_token: str) -> int | None:
    """The id a listing continues from; pages carry ids as their opaque tokens."""
    if not page_token:
        return None
    if not page_token.isdigit():
        raise InvalidArgument("invalid_cursor", "the cursor is not one this API handed out")
    return int(page_token)


def page_size_or_default(page_size: int) -> int:
    if not 0 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument("invalid_page_size", f"limit must be between 1 and {MAX_PAGE_SIZE}")
    return page_size or DEFAULT_PAGE_SIZE


def reference_model_from_row(row: Row) -> ReferenceModel:
    return ReferenceModel(
        id=row.id,
        name=row.name,
        category=row.category,
        description=row.description,
        tags=tuple(row.tags),
        complexity_hundredths=row.complexity_hundredths,
        provider_endpoint=row.provider_endpoint,
        default_parameters=row.default_parameters,
        training_endpoint=row.training_endpoint,
    )


async def _catalog_entries(models: Models, rows: list[Row]) -> list[CatalogEntry]:
    """The rows' models with their previews, signed in one call. Previews only decorate the
    catalog, so a storage failure leaves them out instead of failing the read."""
    file_ids = [row.preview_file_id for row in rows if row.preview_file_id]
    signed: dict[str, SignedUrl] = {}
    if file_ids:
        try:
            signed = await models.peers.sign_previews(file_ids)
        except Exception:
            log.warning("signing catalog previews failed; answering without them", exc_info=True)
    return [CatalogEntry(reference_model_from_row(row), signed.get(row.preview_file_id)) for row in rows]


async def seed_catalog(engine: AsyncEngine) -> None:
    """Upsert every catalog entry by id, so seeding twice changes nothing."""
    rows = [{**asdict(model), "tags": list(model.tags)} for model in REFERENCE_MODELS]
    statement = pg_insert(reference_model).values(rows)
    async with engine.begin() as connection:
        await connection.execute(
            statement.on_conflict_do_update(
                index_elements=[reference_model.c.id],
                set_={column: statement.excluded[column] for column in rows[0] if column != "id"}
                | {"updated_at": func.now()},
            )
        )


async def _reference_model_row(engine: AsyncEngine, model_id: int) -> Row:
    async with engine.connect() as connection:
        row = (
            await connection.execute(select(reference_model).where(reference_model.c.id == model_id))
        ).one_or_none()
    if row is None:
        raise NotFound("reference_model_not_found", f"reference model {model_id} does not exist")
    return row


async def get_reference_model(engine: AsyncEngine, model_id: int) -> ReferenceModel:
    return reference_model_from_row(await _reference_model_row(engine, model_id))


async def get_catalog_entry(models: Models, model_id: int) -> CatalogEntry:
    """One catalog model with its preview."""
    (entry,) = await _catalog_entries(models, [await _reference_model_row(models.engine, model_id)])
    return entry


async def list_reference_models(
    models: Models, *, category: str, page_size: int, after_id: int, query_text: str = ""
) -> tuple[list[CatalogEntry], int | None]:
    """One page in id order, with previews, and the id to continue after (None on the last page)."""
    if category and category not in CATEGORIES:
        raise InvalidArgument(
            "invalid_category",
            f"category must be one of {', '.join(CATEGORIES)}",
            {"category": category},
        )
    page_size = page_size_or_default(page_size)
    query = select(reference_model).where(reference_model.c.id > after_id)
    if category:
        query = query.where(reference_model.c.category == category)
    if query_text.strip():
        # A scan of the catalog's few dozen rows; array_to_string is not immutable, so no index.
        document = func.to_tsvector(
            literal_column("'english'"),
            reference_model.c.name
            + " "
            + reference_model.c.description
            + " "
            + func.array_to_string(reference_model.c.tags, " "),
        )
        query = query.where(
            document.bool_op("@@")(func.websearch_to_tsquery(literal_column("'english'"), query_text))
        )
    query = query.order_by(reference_model.c.id).limit(page_size + 1)
    async with models.engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    page = list(rows[:page_size])
    return await _catalog_entries(models, page), (page[-1].id if len(rows) > page_size else None)
