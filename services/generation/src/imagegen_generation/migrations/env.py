from alembic import context
from imagegen_platform.db import run_migrations_online

run_migrations_online(context.config)
