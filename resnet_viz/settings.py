"""Settings declared once: each field of a view's settings dataclass (and of `NetConfig`, `TrainConfig`) carries
what its widget, its link name, its command-line flag and its help need, in `dataclasses.field(metadata=...)`.

    grid: int = setting(15, "Grid points per axis", options=(5, 7, ..., 51), key="ls_grid",
                        help="Odd, so that θ* is the centre point. Li et al. use 51.")

The page draws the widget from it (`ui.settings`), the link names it by its `key`, the command line gets a flag
`--grid` with the same default, choices and help (`cli.add_settings`), and a preset or a link may only use a
value it declares (`check`). Nothing here imports Streamlit or argparse: this is the declaration only.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import MISSING, dataclass
from typing import Any, Callable, Sequence

WIDGETS = ("number", "slider", "select_slider", "select", "radio", "checkbox", "multiselect", "text", "none")


def setting(default: Any = MISSING, label: str = "", *, help: str = "", options: Sequence | None = None,
            min: float | None = None, max: float | None = None, step: float | None = None,
            widget: str | None = None, key: str | None = None, flag: str | None = None, cli: bool = True,
            labels: Callable[[Any], str] | dict | None = None, parse: Callable[[str], Any] | None = None,
            show: Callable[[Any], str] | None = None, group: str = "", default_factory: Callable | None = None) -> Any:
    """A dataclass field with its declaration: `label` and `help` (widget and flag), `options` (the values a
    widget offers and a flag accepts) or limits `min`/`max`/`step`, the widget kind (default from the type and
    options), the widget's session and link `key`, the CLI `flag` (default `--field-name`; `cli=False`: none),
    `labels` (how an option is shown), `parse`/`show` (a value as text, for a text box or a flag), and a
    `group` a form may draw apart (e.g. "more": in an expander)."""
    if widget is not None and widget not in WIDGETS:
        raise ValueError(f"widget must be one of {WIDGETS}, got {widget!r}")
    meta = dict(label=label, help=help, options=tuple(options) if options is not None else None, min=min, max=max,
                step=step, widget=widget, key=key, flag=flag, cli=cli, labels=labels, parse=parse, show=show,
                group=group)
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True)
class Spec:
    """One declared field, read back: what a widget, a link and a flag need."""

    name: str
    default: Any
    label: str
    help: str
    options: tuple | None
    min: float | None
    max: float | None
    step: float | None
    widget: str
    key: str | None
    flag: str | None
    kind: type
    labels: Callable[[Any], str] | dict | None
    parse: Callable[[str], Any] | None
    show: Callable[[Any], str] | None
    group: str = ""

    def label_of(self, value) -> str:
        """How `value` is shown in the widget (its option label)."""
        if self.labels is None:
            return str(value)
        return self.labels.get(value, str(value)) if isinstance(self.labels, dict) else self.labels(value)


def _kind(default, annotation) -> type:
    if default is not None:
        return type(default)
    text = str(annotation)  # "int | None" (annotations are strings under `from __future__ import annotations`)
    return int if "int" in text else float if "float" in text else str


def specs(cls: type) -> list[Spec]:
    """The declared fields of the dataclass `cls` (those made with `setting`), in order."""
    out = []
    for f in dataclasses.fields(cls):
        m = f.metadata
        if "label" not in m:
            continue
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        kind = _kind(default, f.type)
        widget = m["widget"] or (
            "checkbox" if kind is bool else "multiselect" if kind is tuple and m["options"] else
            "text" if kind is tuple else "select_slider" if m["options"] and kind in (int, float) else
            "radio" if m["options"] else "number")
        flag = None if not m["cli"] else (m["flag"] or "--" + f.name.replace("_", "-"))
        out.append(Spec(f.name, default, m["label"], m["help"], m["options"], m["min"], m["max"], m["step"], widget,
                        m["key"], flag, kind, m["labels"], m["parse"], m["show"], m.get("group", "")))
    return out


def spec(cls: type, name: str) -> Spec:
    """The declaration of field `name` of `cls`."""
    for s in specs(cls):
        if s.name == name:
            return s
    raise KeyError(f"{cls.__name__} declares no setting {name!r}")


def check(cls: type, name: str, value) -> None:
    """ConfigError with one line when `value` is not one `cls.name` declares (outside its options or limits):
    what a page, a flag or a preset may set."""
    from .models import ConfigError  # (models declares its fields with `setting`: imported here, not above)

    s = spec(cls, name)
    values = value if isinstance(value, tuple) and s.kind is tuple else (value,)
    for v in values:
        if s.options is not None and v not in s.options:
            raise ConfigError(f"{s.label}: {v!r} is not one of {', '.join(map(str, s.options))}")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            if not math.isfinite(v):
                raise ConfigError(f"{s.label} must be a finite number, got {v!r}")
            if s.min is not None and v < s.min or s.max is not None and v > s.max:
                raise ConfigError(f"{s.label} must be from {s.min:g} to {s.max:g}, got {v!r}")


def check_all(settings) -> None:
    """`check` every declared field of the settings object `settings`."""
    for s in specs(type(settings)):
        check(type(settings), s.name, getattr(settings, s.name))


def keys(cls: type) -> dict[str, str]:
    """Field name -> widget (session and link) key, for the fields a page shows."""
    return {s.name: s.key for s in specs(cls) if s.key and s.widget != "none"}
