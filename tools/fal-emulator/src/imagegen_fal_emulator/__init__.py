"""Local fal.ai emulator for development and tests; speaks fal's real HTTP protocol.

Point an unmodified fal-client at it with `client_env(...)` (set before importing fal_client).
"""

from imagegen_fal_emulator.cli import serve
from imagegen_fal_emulator.server import create_app
from imagegen_fal_emulator.settings import EmulatorSettings, client_env, rest_url

__all__ = ["EmulatorSettings", "client_env", "create_app", "rest_url", "serve"]
