"""Finding plugins: the built-in ``plugins/`` directory, other directories, entry points.

:func:`get_plugin_manager` registers every module of each plugin directory (loaded by file
path: ``plugins/`` is not an installed package; the module's stem is its plugin id), then
every entry point of the ``annoserver`` group (the entry-point name is the plugin id).
:func:`model_kinds` collects what the plugins register.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import pluggy

from annoserver.inference import hookspecs
from annoserver.inference.errors import PluginError
from annoserver.inference.kinds import ModelKind

ENTRY_POINT_GROUP = "annoserver"
BUILTIN_PLUGINS_DIR = Path(__file__).resolve().parents[2] / "plugins"


def _load_module(path: Path) -> ModuleType:
    name = f"annoserver_plugins.{path.parent.name}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot load plugin module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise PluginError(f"plugin {path} failed to import: {error}") from error
    return module


def _register(manager: pluggy.PluginManager, plugin: object, name: str) -> None:
    try:
        manager.register(plugin, name=name)
    except (ValueError, pluggy.PluginValidationError) as error:  # taken name, bad hookimpl
        raise PluginError(f"plugin {name!r}: {error}") from error


def get_plugin_manager(plugin_dirs: Iterable[str | Path] | None = None,
                       load_entry_points: bool = True) -> pluggy.PluginManager:
    """Return a plugin manager with the built-in and third-party plugins registered.

    Args:
        plugin_dirs: directories whose ``*.py`` modules (not starting with ``_``) are
            plugins; default: the top-level ``plugins/`` directory.
        load_entry_points: also register the ``annoserver`` entry-point group; tests pass
            ``False`` so they never load whatever happens to be installed.

    Raises:
        PluginError: when a plugin fails to import or its id is taken.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    dirs = [BUILTIN_PLUGINS_DIR] if plugin_dirs is None else [Path(d) for d in plugin_dirs]
    for directory in dirs:
        for path in sorted(Path(directory).glob("*.py")):
            if not path.name.startswith("_"):
                _register(manager, _load_module(path), path.stem)
    if load_entry_points:
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                plugin = entry_point.load()
            except Exception as error:
                raise PluginError(f"plugin {entry_point.name!r} ({entry_point.value}) failed "
                                  f"to load: {error}") from error
            _register(manager, plugin, entry_point.name)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as error:
        raise PluginError(f"unknown hook: {error}") from error
    return manager


def model_kinds(manager: pluggy.PluginManager) -> dict[str, type[ModelKind]]:
    """Collect the model kinds every plugin registers, by kind name.

    Raises:
        PluginError: when two plugins register the same kind, or a registration is not a
            :class:`ModelKind` subclass.
    """
    kinds: dict[str, type[ModelKind]] = {}
    for registered in manager.hook.register_model_kinds():
        for kind in registered or ():
            if not (isinstance(kind, type) and issubclass(kind, ModelKind)):
                raise PluginError(f"register_model_kinds returned {kind!r}, not a ModelKind")
            other = kinds.setdefault(kind.name, kind)
            if other is not kind:
                raise PluginError(f"kind {kind.name!r} is registered by both "
                                  f"{other.__module__} and {kind.__module__}")
    return kinds
