"""A clean exit of the app leaves no result folders of its session behind (issue 16's cache)."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")


def test_a_clean_exit_removes_the_sessions_result_folders(qtbot, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    from app import result_cache
    from ui import application

    folder = result_cache.new_result_folder()
    folder.mkdir(parents=True)
    (folder / "result.json").write_text("{}")
    app = QApplication.instance()
    monkeypatch.setattr(application, "create_application", lambda: app)
    monkeypatch.setattr(app, "exec", lambda: 0)  # the user quits at once
    windows: list[object] = []
    real_window = application.MainWindow

    def window(settings):  # type: ignore[no-untyped-def]
        w = real_window(settings)
        w.ask_on_close = False
        windows.append(w)
        return w

    monkeypatch.setattr(application, "MainWindow", window)
    assert application.run_gui(None, open_sample=False) == 0
    assert not folder.exists() and not folder.parent.exists()
    for w in windows:
        w.close()  # type: ignore[attr-defined]
