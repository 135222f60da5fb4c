from __future__ import annotations

import importlib.metadata
import textwrap
from pathlib import Path

import pytest

from annoserver.inference import PluginError, Runtime, Text, get_plugin_manager, model_kinds
from annoserver.inference import plugins as plugins_module
from annoserver.inference.plugins import BUILTIN_PLUGINS_DIR
from tests.inference.conftest import header
from tests.inference.onnx_factory import linear_model, write_model

FAKE_DIR = Path(__file__).parent / "fake_plugins"
BUILTIN = {"classifier", "detector", "embedding", "faces", "superres", "text-lines",
           "recognizer", "watermark"}


def test_builtin_plugins_register_their_kinds(plugin_manager):
    kinds = model_kinds(plugin_manager)
    assert set(kinds) == BUILTIN
    # Plugin ids are module names (text_lines.py registers the kind "text-lines" and the
    # "recognizer" built on its text-line detection).
    plugin_ids = {name.replace("_", "-") for name, _ in plugin_manager.list_name_plugin()}
    assert plugin_ids == BUILTIN - {"recognizer"}
    assert all(kind.name == name for name, kind in kinds.items())


def test_a_plugin_directory_adds_a_kind(tmp_path, weights, images):
    manager = get_plugin_manager([BUILTIN_PLUGINS_DIR, FAKE_DIR], load_entry_points=False)
    assert manager.has_plugin("fake_kind")
    assert set(model_kinds(manager)) == BUILTIN | {"fake-caption"}
    write_model(tmp_path / "captioner", linear_model({"logits": weights["logits"]}),
                header("fake-caption"))
    runtime = Runtime(tmp_path, manager)
    assert runtime.infer("captioner", images[:2]) == [Text("3 numbers", 1.0)] * 2
    runtime.close()


def _fake_entry_point(monkeypatch, seen):
    entry_point = importlib.metadata.EntryPoint(
        name="thirdparty", value="tests.inference.fake_plugins.fake_kind", group="annoserver")

    def entry_points(group):
        seen.append(group)
        return [entry_point]

    monkeypatch.setattr(plugins_module, "entry_points", entry_points)


def test_entry_points_are_registered_under_their_name(monkeypatch):
    seen = []
    _fake_entry_point(monkeypatch, seen)
    manager = get_plugin_manager([], load_entry_points=True)
    assert seen == ["annoserver"]
    assert manager.has_plugin("thirdparty")
    assert set(model_kinds(manager)) == {"fake-caption"}


def test_load_entry_points_false_never_looks(monkeypatch):
    seen = []
    _fake_entry_point(monkeypatch, seen)
    manager = get_plugin_manager([BUILTIN_PLUGINS_DIR], load_entry_points=False)
    assert seen == [] and not manager.has_plugin("thirdparty")


def _plugin_file(directory, name, body):
    directory.mkdir(exist_ok=True)
    (directory / f"{name}.py").write_text(textwrap.dedent(body))
    return directory


def test_duplicate_kinds_are_refused(tmp_path):
    directory = _plugin_file(tmp_path / "dup", "another_classifier", """
        from annoserver.inference import ModelKind, hookimpl

        class Other(ModelKind):
            name = "classifier"

        @hookimpl
        def register_model_kinds():
            return [Other]
    """)
    manager = get_plugin_manager([BUILTIN_PLUGINS_DIR, directory], load_entry_points=False)
    with pytest.raises(PluginError, match="'classifier' is registered by both"):
        model_kinds(manager)


def test_broken_plugins_are_reported(tmp_path):
    broken = _plugin_file(tmp_path / "broken", "broken", "import not_a_module_anywhere\n")
    with pytest.raises(PluginError, match="broken.py failed to import"):
        get_plugin_manager([broken], load_entry_points=False)
    typo = _plugin_file(tmp_path / "typo", "typo", """
        from annoserver.inference import hookimpl

        @hookimpl
        def register_model_kind():
            return []
    """)
    with pytest.raises(PluginError, match="unknown hook"):
        get_plugin_manager([typo], load_entry_points=False)
    wrong = _plugin_file(tmp_path / "wrong", "wrong", """
        from annoserver.inference import hookimpl

        @hookimpl
        def register_model_kinds():
            return [object]
    """)
    with pytest.raises(PluginError, match="not a ModelKind"):
        model_kinds(get_plugin_manager([wrong], load_entry_points=False))


def test_private_modules_are_skipped(tmp_path):
    _plugin_file(tmp_path, "_helpers", "raise RuntimeError('never imported')\n")
    assert get_plugin_manager([tmp_path], load_entry_points=False).list_name_plugin() == []
