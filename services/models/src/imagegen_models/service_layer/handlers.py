"""Reference catalog use cases."""

from dataclasses import asdict

from imagegen_platform.errors import InvalidArgument, NotFound
from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from imagegen_models.adapters.tables import reference_model
from imagegen_models.domain.catalog import CATEGORIES, REFERENCE_MODELS, ReferenceModel

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def _to_model(row) -> ReferenceModel:
    return ReferenceModel(
        id=row.id,
        name=row.name,
        category=row.category,
        description=row.description,
        tags=tuple(row.tags),
        complexity_hundredths=row.complexity_hundredths,
        provider_endpoint=row.provider_endpoint,
        default_parameters=row.default_parameters,
    )


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


async def get_reference_model(engine: AsyncEngine, model_id: int) -> ReferenceModel:
    async with engine.connect() as connection:
        row = (
            await connection.execute(select(reference_model).where(reference_model.c.id == model_id))
        ).one_or_none()
    if row is None:
        raise NotFound("reference_model_not_found", f"reference model {model_id} does not exist")
    return _to_model(row)


async def list_reference_models(
    engine: AsyncEngine, *, category: str, page_size: int, after_id: int, query_text: str = ""
) -> tuple[list[ReferenceModel], int | None]:
    """One page in id order, and the id to continue after (None on the last page)."""
    if category and category not in CATEGORIES:
        raise InvalidArgument(
            "invalid_category",
            f"category must be one of {', '.join(CATEGORIES)}",
            {"category": category},
        )
    if not 0 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument("invalid_page_size", f"limit must be between 1 and {MAX_PAGE_SIZE}")
    page_size = page_size or DEFAULT_PAGE_SIZE
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
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    models = [_to_model(row) for row in rows[:page_size]]
    return models, (models[-1].id if len(rows) > page_size else None)
