"""Dispatch by plan tier, least-recently-served team and request priority.

Revision ID: 20261124_0003
Revises: 20261124_0002
"""

from imagegen_platform.db import execute_ddl

revision = "20261124_0003"
down_revision = "20261124_0002"


def upgrade() -> None:
    execute_ddl(
        """
        ALTER TABLE generation.job ADD COLUMN priority integer NOT NULL DEFAULT 0
            CHECK (priority BETWEEN -10 AND 10);
        -- The request that created the job, so the worker's log lines about it carry its id.
        ALTER TABLE generation.job ADD COLUMN request_id text;
        DROP INDEX generation.ix_job_team_id_queued;
        CREATE INDEX ix_job_team_id_queued ON generation.job (team_id, priority DESC, created_at, id)
            WHERE status = 'queued';
        -- Recent run times of each type estimate when queued jobs start.
        CREATE INDEX ix_job_type_completed ON generation.job (type, finished_at DESC)
            WHERE status = 'completed';
        -- One row per team with work: the dispatcher locks it to start the team's next job, so the
        -- team's running count never passes its plan's limit however many workers dispatch.
        CREATE TABLE generation.team_schedule (
            team_id text PRIMARY KEY,
            -- 3 enterprise, 2 pro, 1 basic, 0 free: higher tiers are served first.
            plan_rank integer NOT NULL DEFAULT 0,
            max_concurrent integer NOT NULL DEFAULT 0,
            running integer NOT NULL DEFAULT 0 CHECK (running >= 0),
            queued integer NOT NULL DEFAULT 0 CHECK (queued >= 0),
            -- Among teams of a tier, the one served longest ago goes first.
            last_started_at timestamptz,
            -- The plan is read from credits again once this is older than the dispatcher allows.
            limits_checked_at timestamptz NOT NULL DEFAULT '-infinity'
        );
        CREATE INDEX ix_team_schedule_waiting ON generation.team_schedule
            (plan_rank DESC, last_started_at NULLS FIRST) WHERE queued > 0;
        INSERT INTO generation.team_schedule (team_id, running, queued, last_started_at)
        SELECT team_id,
               count(*) FILTER (WHERE status = 'running'),
               count(*) FILTER (WHERE status = 'queued'),
               max(started_at)
        FROM generation.job GROUP BY team_id
        """
    )
