"""The model endpoints the emulator serves, by endpoint id."""

from imagegen_fal_emulator.apps.base import App, InputError, Job, JsonObject, OutputSink
from imagegen_fal_emulator.apps.flux_lora import FluxLoraApp
from imagegen_fal_emulator.apps.lora_training import LoraTrainingApp


def default_apps() -> dict[str, App]:
    apps: list[App] = [FluxLoraApp(), LoraTrainingApp()]
    return {app.endpoint_id: app for app in apps}


__all__ = ["App", "InputError", "Job", "JsonObject", "OutputSink", "default_apps"]
