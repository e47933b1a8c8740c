"""The plugin manager, and the core's one way to call hooks.

:func:`build_plugin_manager` is called by :func:`trainer.create_app`; it adds the hook
specifications from :mod:`trainer.hookspecs`, loads the ``trainer.plugins`` entry-point group
(built-in and third-party plugins alike) and leaves out every plugin named in
``DISABLED_PLUGINS``; :func:`init_app` then registers the extra plugins of the ``PLUGINS``
config key. The manager lives on ``app.extensions["trainer.plugins"]``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy
from flask import Flask, current_app

from trainer import hookspecs

ENTRY_POINT_GROUP = "trainer.plugins"
EXTENSION_KEY = "trainer.plugins"


@dataclass(order=True)
class NavItem:
    """An item of the main navigation."""

    order: int
    text: str = field(compare=False)
    href: str = field(compare=False)

    def __init__(self, text: str, href: str, order: int = 50):
        self.text, self.href, self.order = text, href, order


@dataclass(order=True)
class Panel:
    """A panel a plugin adds to a core page. ``html`` must already be safe markup."""

    order: int
    title: str = field(compare=False)
    html: str = field(compare=False)

    def __init__(self, title: str, html: str, order: int = 50):
        self.title, self.html, self.order = title, html, order


@dataclass(order=True)
class ReportSection:
    """A section of the reports page: headline figures, and a link to the full report."""

    order: int
    title: str = field(compare=False)
    html: str = field(compare=False)
    url: str | None = field(compare=False, default=None)

    def __init__(self, title: str, html: str, url: str | None = None, order: int = 50):
        self.title, self.html, self.url, self.order = title, html, url, order


def build_plugin_manager(disabled: list[str] | tuple[str, ...] = ()) -> pluggy.PluginManager:
    """Return a manager with the specs, the entry-point plugins, and none of ``disabled``."""
    manager = pluggy.PluginManager("trainer")
    manager.add_hookspecs(hookspecs)
    # Historic: plugins registered from now on add their own specs as they arrive.
    manager.hook.trainer_addhooks.call_historic(kwargs={"plugin_manager": manager})
    for name in disabled:
        manager.set_blocked(name)
    manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return manager


def register_plugins(manager: pluggy.PluginManager, plugins: Iterable[Any] | str) -> None:
    """Register ``plugins``: plugin objects or dotted module names (a string: comma separated).

    A plugin already loaded (say through its entry point) is left as it is; one whose name
    (its module's dotted name) is in ``DISABLED_PLUGINS`` is not registered.
    """
    if isinstance(plugins, str):
        plugins = [name.strip() for name in plugins.split(",") if name.strip()]
    for plugin in plugins:
        if isinstance(plugin, str):
            plugin = importlib.import_module(plugin)
        if not manager.is_registered(plugin):
            manager.register(plugin)


def init_app(app: Flask) -> pluggy.PluginManager:
    """Build the manager for ``app`` and keep it on ``app.extensions``.

    Called before any blueprint is registered, so plugins of the ``PLUGINS`` config key take
    part in ``trainer_blueprints`` like entry-point plugins do.
    """
    manager = build_plugin_manager(app.config["DISABLED_PLUGINS"])
    register_plugins(manager, app.config.get("PLUGINS") or ())
    app.extensions[EXTENSION_KEY] = manager
    return manager


def plugin_manager(app: Flask | None = None) -> pluggy.PluginManager:
    """The plugin manager of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION_KEY]


def call(hook_name: str, **kwargs: Any) -> Any:
    """Call the hook ``hook_name`` of the current app's plugins with keyword arguments.

    Returns the list of non-``None`` results, or for ``firstresult`` hooks the first one.
    """
    return getattr(plugin_manager().hook, hook_name)(**kwargs)


def plugin_summaries(app: Flask | None = None) -> list[dict[str, Any]]:
    """Describe each loaded plugin: its name, where it comes from and the hooks it implements."""
    manager = plugin_manager(app)
    distributions = {id(plugin): dist for plugin, dist in manager.list_plugin_distinfo()}
    summaries = []
    for name, plugin in sorted(manager.list_name_plugin(), key=lambda pair: pair[0]):
        if plugin is None or plugin is hookspecs:
            continue
        dist = distributions.get(id(plugin))
        hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])
        summaries.append(
            {
                "name": name,
                "module": getattr(plugin, "__name__", type(plugin).__name__),
                "distribution": f"{dist.project_name} {dist.version}" if dist else None,
                "hooks": hooks,
            }
        )
    return summaries


def blocked_plugins(app: Flask | None = None) -> list[str]:
    """Names of plugins disabled through ``DISABLED_PLUGINS``."""
    manager = plugin_manager(app)
    return sorted(name for name, plugin in manager.list_name_plugin() if plugin is None)
